import { addressOf, atAddress, CONNECT_TIMEOUT_MS, destroy, RedisNode, replyText, within, type NodeOptions } from './node';
import { ManagedSubscription, type PubSub } from './subscription';
import { callerError, notSent, oneGroup, type Commands, type Topology } from './topology';

/** How often the topology is looked at while the primary is in trouble (errors, disconnected, stalled). */
export const LOCATE_INTERVAL_MS = 250;
/** The longest one question to one server may take while locating the primary. */
export const PROBE_MS = 500;

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
 * A deployment with one primary at a time (one server, or a primary and replicas behind
 * sentinels): every command goes to the primary. When it fails — disconnected, stalled, a
 * READONLY reply (the server was demoted) — `locate()` is asked where the primary is now, every
 * LOCATE_INTERVAL_MS while the trouble lasts, and commands and the subscription move there.
 */
export abstract class PrimaryTopology implements Topology {
  abstract readonly kind: 'server' | 'sentinel';
  abstract readonly sharedFate: boolean;
  readonly pubsub: PubSub;
  firstAttempt: Promise<void> = Promise.resolve();
  private node?: RedisNode;
  private locating?: Promise<void>;
  private lastLocate = -Infinity;
  private readonly subscriptions: ManagedSubscription[] = [];
  private readonly watchdog: NodeJS.Timeout;
  private closed = false;

  constructor(protected readonly onError: (err: unknown) => void) {
    this.watchdog = setInterval(() => {
      if (!this.node || this.node.check(performance.now())) this.locateSoon();
    }, LOCATE_INTERVAL_MS);
    this.watchdog.unref();
    const subscriptions = this.subscriptions;
    this.pubsub = {
      get firstAttempt() {
        return Promise.all(subscriptions.map((s) => s.firstAttempt)).then(() => undefined);
      },
      publish: (channel, message) => this.run('', (client) => client.publish(channel, message)).then(() => undefined),
      subscribe: (channel, onMessage, onState) => {
        const target = async (afterLoss: boolean) => {
          if (!this.node) await this.firstAttempt; // (a known primary is subscribed on while the data connection opens)
          if (afterLoss) await this.locateIfDue().catch(() => undefined); // the primary may have moved
          return this.node?.options;
        };
        this.subscriptions.push(new ManagedSubscription(target, channel, 'plain', onMessage, onState, onError));
      },
      close: async () => {
        await Promise.all(this.subscriptions.map((s) => s.close()));
      },
    };
  }

  /**
   * Where the primary is now, asked of the deployment (a connection to it, if one was opened to
   * check it); undefined, or a rejection saying why, when that cannot be told now.
   */
  protected abstract locate(current: RedisNode | undefined): Promise<NodeOptions | RedisNode | undefined>;

  /**
   * Starts with `options` as the primary if it is known (then the check of where the primary
   * really is runs meanwhile: a replica answers READONLY, which is followed too), else once the
   * primary has been located.
   */
  protected start(options: NodeOptions | undefined): void {
    if (options) this.node = new RedisNode(options, this.onError);
    const located = (async () => {
      await this.node?.firstAttempt;
      await within(this.locate_(), 2 * CONNECT_TIMEOUT_MS, 'locating the primary').catch(this.onError);
    })();
    this.firstAttempt = this.node ? this.node.firstAttempt : located;
  }

  async run<T>(_key: string, command: (client: Commands) => Promise<T>): Promise<T> {
    await this.firstAttempt;
    if (this.closed) throw new Error('the cache has been closed');
    const node = this.node;
    if (!node) {
      this.locateSoon();
      throw new Error('no Redis primary is known (yet)');
    }
    try {
      return await node.run(command);
    } catch (err) {
      if (callerError(err)) throw err;
      if (err instanceof Error && err.message.startsWith('READONLY')) {
        // Demoted: the command did nothing. Find the primary, and try there once.
        await this.locate_();
        if (this.node && this.node !== node) return this.node.run(command);
      } else if (notSent(err)) {
        // Never sent: if the primary moved (and was not looked for just now), send it there.
        await this.locateIfDue().catch(() => undefined);
        if (this.node && this.node !== node) return this.node.run(command);
      } else this.locateSoon();
      throw err;
    }
  }

  groups(keys: readonly string[]): number[][] {
    return oneGroup(keys);
  }

  eachMaster(command: (client: Commands) => Promise<void>): Promise<void> {
    return this.run('', command);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await this.pubsub.close();
    await this.node?.close();
    await this.closeExtra();
  }

  /** Closes what a subclass opened. */
  protected async closeExtra(): Promise<void> {}

  /** Looks at the topology again, at most every LOCATE_INTERVAL_MS. */
  protected locateSoon(): void {
    this.locateIfDue().catch(this.onError);
  }

  /** The look in progress, or a new one unless one ended less than LOCATE_INTERVAL_MS ago. */
  private locateIfDue(): Promise<void> {
    if (this.locating) return this.locating;
    if (this.closed || performance.now() - this.lastLocate < LOCATE_INTERVAL_MS) return Promise.resolve();
    return this.locate_();
  }

  /** One look at the topology at a time; moves to the primary found. */
  protected locate_(): Promise<void> {
    return (this.locating ??= (async () => {
      try {
        const found = await this.locate(this.node);
        const address = found instanceof RedisNode ? found.address : found && addressOf(found);
        if (found && !this.closed && address !== this.node?.address) this.moveTo(found);
        else if (found instanceof RedisNode) found.close().catch(() => undefined);
      } finally {
        this.lastLocate = performance.now();
        this.locating = undefined;
      }
    })());
  }

  private moveTo(found: NodeOptions | RedisNode): void {
    const old = this.node;
    this.node = found instanceof RedisNode ? found : new RedisNode(found, this.onError);
    for (const subscription of this.subscriptions) subscription.retarget();
    old?.close().catch(() => undefined);
  }
}

/**
 * One Redis server named by a URL (or a client's options). If it turns out to be a replica
 * (READONLY, or ROLE at start: the old primary came back demoted), commands follow it to its
 * primary; if it is gone, a replica it had that now says it is a primary is followed. A host name
 * is resolved again on every reconnection, so a DNS name moved to a new server is followed too.
 */
export class ServerTopology extends PrimaryTopology {
  readonly kind = 'server' as const;
  readonly sharedFate = true;
  private replicas: { host: string; port: number }[] = [];

  constructor(private readonly home: NodeOptions, onError: (err: unknown) => void) {
    super(onError);
    this.start(home);
  }

  protected async locate(current: RedisNode | undefined): Promise<NodeOptions | undefined> {
    const candidates = current && current.address !== addressOf(this.home) ? [current.options, this.home] : [this.home];
    for (const options of candidates) {
      const role = await this.roleOf(options, current);
      if (role?.master) {
        this.replicas = role.replicas;
        return options;
      }
      if (role?.primary) {
        const primary = atAddress(this.home, role.primary.host, role.primary.port);
        const itsRole = await this.roleOf(primary, current);
        if (itsRole?.master) {
          this.replicas = itsRole.replicas;
          return primary;
        }
      }
    }
    // Nobody we know answers as the primary: one of its replicas may have been promoted.
    for (const replica of this.replicas) {
      const options = atAddress(this.home, replica.host, replica.port);
      const role = await this.roleOf(options, current);
      if (role?.master) {
        this.replicas = role.replicas;
        return options;
      }
    }
    return undefined;
  }

  private async roleOf(options: NodeOptions, current: RedisNode | undefined): Promise<Role | undefined> {
    try {
      const useCurrent = current?.ready && current.address === addressOf(options) && !current.stalled(performance.now());
      const reply = useCurrent ? await within(current.client.sendCommand(['ROLE']), PROBE_MS, 'ROLE') : await probe(options, ['ROLE']);
      return readRole(reply);
    } catch {
      return undefined;
    }
  }
}
