import type { RedisClientType } from '@keyv/redis';
import { atAddress, CONNECT_TIMEOUT_MS, destroy, RedisNode, replyText, splitAddress, within, type NodeOptions } from './node';

/** The longest one question to one server may take while locating the primary or its replicas. */
export const PROBE_MS = 500;
/**
 * The longest a WAIT waits (its timeout; below it, the cache's `operationTimeoutMs`): what is sent
 * behind it on the connection, reads too, waits as long. A healthy replica confirms in about a
 * round trip.
 */
const MAX_WAIT_MS = 50;
/** How often a primary's replicas are read again (INFO replication) while writes are confirmed; and while they are not. */
const REPLICAS_CHECK_MS = 1000;
/** After a write was not confirmed, its primary's replicas are read again at most this often. */
const RECHECK_MS = 250;
/** A replica whose last acknowledgement is older than this (seconds) is as good as gone: hung, or cut off. */
const MAX_LAG_S = 2;
/** Replicas that stopped answering must have been gone this long (two reads at least) before writes stop waiting for them. */
const GONE_MS = 1000;
/**
 * A replica promoted away from under a primary (a failover) fails the primary's writes until the
 * cache follows the new one; if nobody demotes the old one (a replica detached by hand), writes
 * there stop waiting after this long.
 */
const MOVED_AWAY_MAX_MS = 30_000;

/**
 * A reply refusing the command itself (an ACL without INFO or WAIT, a renamed command): asking
 * again will not help.
 */
const refusal = (err: unknown) => err instanceof Error && /^(NOPERM|ERR unknown command)/.test(err.message);

/**
 * A write no replica confirmed (it may have been applied on the primary, and may be lost by a
 * failover), or one not sent at all (`sent: false`) because it could not be confirmed there.
 */
export class NotConfirmedError extends Error {
  override name = 'NotConfirmedError';
  constructor(
    message: string,
    readonly sent: boolean,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

/** One command on a connection of its own (closed after), answered within PROBE_MS or rejected. */
export async function probe(options: NodeOptions, args: string[]): Promise<unknown> {
  let failure: unknown; // why it could not connect (WRONGPASS, ECONNREFUSED…), for the error it rejects with
  const node = new RedisNode(options, (err) => (failure ??= err), { reconnect: false });
  try {
    await within(node.firstAttempt, CONNECT_TIMEOUT_MS, `connecting to ${node.address}`);
    if (!node.ready) throw new Error(`cannot connect to ${node.address}: ${replyText(failure) || 'no answer'}`);
    return await within(node.client.sendCommand(args), PROBE_MS, `${args[0]} on ${node.address}`);
  } finally {
    destroy(node.client);
  }
}

export interface Role {
  master: boolean;
  /** A replica's primary. */
  primary?: { host: string; port: number };
  /** A primary's replicas. */
  replicas: { host: string; port: number }[];
}

/** ROLE's reply, read. */
export function readRole(reply: unknown): Role | undefined {
  if (!Array.isArray(reply)) return undefined;
  if (reply[0] === 'master') {
    const replicas = Array.isArray(reply[2]) ? (reply[2] as unknown[][]).map((r) => ({ host: String(r[0]), port: Number(r[1]) })) : [];
    return { master: true, replicas };
  }
  if (reply[0] === 'slave') return { master: false, primary: { host: String(reply[1]), port: Number(reply[2]) }, replicas: [] };
  return undefined;
}

/**
 * INFO replication, read: whether the server is a primary, and the replicas it has online that
 * acknowledged within MAX_LAG_S (`host:port`).
 */
export function readReplication(info: string): { master: boolean; online: string[] } {
  const online: string[] = [];
  for (const line of info.split(/\r?\n/)) {
    const match = /^slave\d+:(.*)$/.exec(line);
    if (!match) continue;
    const fields = Object.fromEntries(match[1].split(',').map((pair) => pair.split('=') as [string, string]));
    if (fields.state === 'online' && Number(fields.lag ?? 0) <= MAX_LAG_S) online.push(`${fields.ip}:${fields.port}`);
  }
  return { master: /^role:master\b/m.test(info), online };
}

/**
 * Whether writes to one primary (a primary behind sentinels or named by URL, a cluster shard's
 * master) must be confirmed by a replica before they count as done, told from its replicas.
 *
 * Redis replicates asynchronously: a write the primary acknowledged may not have reached the
 * replica that a failover promotes, and is lost with it. So on a primary with replicas online, a
 * write is followed by `WAIT 1` on the same connection (`confirmed`; its timeout within the
 * cache's `operationTimeoutMs` and MAX_WAIT_MS) and fails (`NotConfirmedError`) unless a replica
 * confirmed it; the cache then treats it as failed (a set deleted until a delete lands, an
 * increment cancelled). A primary without replicas gains nothing from waiting: no WAIT there.
 * A server that refuses INFO or WAIT to this user cannot confirm anything: its writes go on
 * unconfirmed, reported once.
 *
 * Its replicas are read (INFO replication) before the first write, every REPLICAS_CHECK_MS, and
 * after a write was not confirmed (at most every RECHECK_MS; until then writes fail at once, so
 * that WAITs never pile up on the connection while no replica answers). When none is online any
 * more, the ones it had are asked:
 * - one that is a primary now, or follows another one: a failover is under way, and what this
 *   primary takes would be lost when it is demoted; writes fail at once, unsent (`movedAway`,
 *   the topology looks for the new primary), for at most MOVED_AWAY_MAX_MS;
 * - all following this primary (resyncing: they will get what it holds): writes stop waiting;
 * - none answering for GONE_MS: gone; writes stop waiting, until a replica is online again.
 */
export class Replicas {
  /** Writes are confirmed by a replica (`WAIT 1`). */
  required = false;
  /** A replica it had is a primary now, or follows another one: writes fail unsent. */
  movedAway = false;
  /** The server refuses INFO or WAIT (ACL, renamed command): writes are never confirmed there. */
  private refused = false;
  /** Whether its replicas were read at least once (before that, writes wait for that read). */
  private known = false;
  /** The replicas last seen online, as `host:port`. */
  private replicas: string[] = [];
  /** Since when it has had none of them online. */
  private missingSince?: number;
  /**
   * Since when a write went unconfirmed, until its replicas are read again: meanwhile writes fail
   * at once, unsent, instead of sending WAITs that would hold every command on the connection
   * (reads too) while no replica answers.
   */
  private doubtSince?: number;
  private checking?: Promise<void>;
  private lastCheck = -Infinity;
  /** The WAIT that the writes sent since the last one share, not sent yet. */
  private nextWait?: Promise<unknown>;
  /** The last WAIT, while it is not answered. */
  private lastWait?: Promise<unknown>;

  constructor(private readonly node: RedisNode) {
    // Read at once, so that the first writes need not wait for it.
    node.firstAttempt.then(() => this.checkIfDue(0)).catch(() => undefined);
  }

  /** `command` on the primary; a write (given `confirmMs`) is confirmed by a replica if it has any. */
  async run<T>(command: (client: RedisClientType) => Promise<T>, confirmMs?: number): Promise<T> {
    if (confirmMs === undefined) return this.node.run(command);
    if (!this.known) {
      await this.node.firstAttempt;
      await this.checkIfDue(0).catch(() => undefined);
      if (!this.known) throw new NotConfirmedError(`the replicas of redis ${this.node.address} are not known (yet): not written`, false);
    }
    if (this.movedAway) throw new NotConfirmedError(`a replica of redis ${this.node.address} was promoted (failing over): not written there`, false);
    if (!this.required) return this.node.run(command);
    if (this.doubtSince !== undefined) {
      this.checkSoon();
      throw new NotConfirmedError(`a write to redis ${this.node.address} went unconfirmed just now: not written until its replicas are read again`, false);
    }
    try {
      return await this.confirmed(command, Math.min(confirmMs, MAX_WAIT_MS));
    } catch (err) {
      if (err instanceof NotConfirmedError && refusal(err.cause)) this.refuse(err.cause);
      else if (err instanceof NotConfirmedError) {
        this.doubtSince ??= performance.now();
        this.checkSoon();
      }
      throw err;
    }
  }

  /**
   * `command`, resolved only once a replica has what it wrote, told by a `WAIT 1 <waitMs>` sent
   * after it on the same connection (WAIT counts the writes of its own connection; it is refused
   * inside a script, and inside MULTI it answers for the writes before the transaction). Rejects
   * with `NotConfirmedError` when no replica confirmed it in time, or the WAIT failed: the write
   * may have been applied (and may be lost by a failover).
   */
  private confirmed<T>(command: (client: RedisClientType) => Promise<T>, waitMs: number): Promise<T> {
    return this.node.run(async (client) => {
      const reply = command(client);
      const confirmed = this.waitForReplica(client, waitMs).then(
        (replicas) => {
          if (Number(replicas) < 1) throw new NotConfirmedError(`no replica of redis ${this.node.address} confirmed the write within ${waitMs} ms`, true);
        },
        (err: unknown) => {
          throw new NotConfirmedError(`the replicas of redis ${this.node.address} could not be asked to confirm the write: ${replyText(err)}`, true, err);
        },
      );
      const [result] = await Promise.all([reply, confirmed]);
      return result;
    });
  }

  /**
   * The number of replicas that have the writes sent so far, from a WAIT sent once the writes of
   * this tick are (process.nextTick, from the store's promise continuations, runs after the others
   * queued meanwhile) and the WAIT before is answered: one WAIT at a time per connection, since
   * everything sent behind one waits for it, and Redis may end a WAIT up to 1000/hz ms (100 ms)
   * after its timeout. If the WAIT before was not confirmed, these cannot be either: 0, unsent.
   */
  private waitForReplica(client: RedisClientType, waitMs: number): Promise<unknown> {
    if (this.nextWait) return this.nextWait;
    const before = this.lastWait?.catch(() => 0);
    const next: Promise<unknown> = new Promise<void>((resolve) => process.nextTick(resolve))
      .then(() => before)
      .then((confirmed): Promise<unknown> | number => {
        if (this.nextWait === next) this.nextWait = undefined; // later writes need another WAIT
        return before && Number(confirmed) < 1 ? 0 : client.sendCommand(['WAIT', '1', String(waitMs)]);
      });
    this.nextWait = this.lastWait = next;
    const answered = () => {
      if (this.lastWait === next) this.lastWait = undefined;
    };
    next.then(answered, answered);
    return next;
  }

  /** Reads the replicas again unless that was done less than `intervalMs` ago (one read at a time). */
  checkIfDue(intervalMs = REPLICAS_CHECK_MS): Promise<void> {
    if (this.checking) return this.checking;
    if (this.refused || performance.now() - this.lastCheck < intervalMs || !this.node.ready) return Promise.resolve();
    return (this.checking = this.check().finally(() => {
      this.lastCheck = performance.now();
      this.checking = undefined;
    }));
  }

  private refuse(err: unknown): void {
    if (this.refused) return;
    this.refused = this.known = true;
    this.required = this.movedAway = false;
    this.doubtSince = undefined;
    this.node.onError(new Error(`writes to redis ${this.node.address} are not confirmed by a replica (a failover may lose them): ${replyText(err)}`));
  }

  private checkSoon(): void {
    this.checkIfDue(RECHECK_MS).catch(() => undefined);
  }

  private async check(): Promise<void> {
    const started = performance.now();
    const info = await within(this.node.client.sendCommand(['INFO', 'replication']), PROBE_MS, `INFO replication on ${this.node.address}`).catch((err: unknown) => {
      if (refusal(err)) this.refuse(err);
      throw err;
    });
    if (this.doubtSince !== undefined && this.doubtSince <= started) this.doubtSince = undefined;
    const { master, online } = readReplication(String(info));
    if (!master) return; // demoted: its READONLY replies send the topology on
    this.known = true;
    if (online.length > 0) {
      this.required = true;
      this.replicas = online;
      this.movedAway = false;
      this.missingSince = undefined;
      return;
    }
    if (!this.required) return;
    const now = performance.now();
    this.missingSince ??= now;
    const views = await Promise.all(
      this.replicas.map((address) => {
        const { host, port } = splitAddress(address);
        return probe(atAddress(this.node.options, host, port), ['ROLE']).then(readRole, () => undefined);
      }),
    );
    const follows = (role: Role | undefined) => role !== undefined && !role.master && `${role.primary?.host}:${role.primary?.port}` === this.node.address;
    const moved = views.some((role) => role !== undefined && !follows(role));
    const gone = now - this.missingSince >= (moved ? MOVED_AWAY_MAX_MS : GONE_MS);
    if (views.every(follows) || gone) {
      this.required = false;
      this.movedAway = false;
      this.replicas = [];
      this.missingSince = undefined;
    } else this.movedAway = moved;
  }
}

const byNode = new WeakMap<RedisNode, Replicas>();

/** The `Replicas` of a primary (made, and first read, on the first call). */
export function replicasOf(node: RedisNode): Replicas {
  let replicas = byNode.get(node);
  if (!replicas) byNode.set(node, (replicas = new Replicas(node)));
  return replicas;
}
