import { CANCEL_INCREMENT_SCRIPT, escapeGlob, envelope, INCREMENT_SCRIPT, markerKey, openEnvelope, type Stored } from './redis/format';
import type { Clock } from '../core/clock';
import type { Topology } from './redis/topology';
import { NotANumberError, type StoreCapabilities } from './store';
import type { SharedStore } from './tiered';

/** Keys per SCAN step (and per UNLINK) while clearing. */
const CLEAR_BATCH = 1000;
/** How long an increment's marker lives: longer than any cancel of it is retried for. */
const MARKER_TTL_MS = 10 * 60_000;

/**
 * The Redis store, on node-redis connections of its own, for one server, a primary behind
 * sentinels, or a cluster (see `Topology`: where each command goes, and how failovers are
 * followed). Entries are keyv's envelopes under `<keyPrefix>::<key>` (see format.ts), so data is
 * shared with the Keyv-based store of earlier versions.
 *
 * - multi-key reads are one MGET per cluster slot, all sent at once (pipelined per node);
 * - `add` is SET NX, `increment` a Lua script on its one key, `clear` SCAN + UNLINK of this
 *   prefix's keys on every master;
 * - a read of several slots of which some fail answers those as misses (and reports why);
 * - writes resolve true only on Redis' OK: a failure, a closed store, a missing connection reject;
 * - where the primary (or the key's cluster master) has replicas, a write (set, add, delete,
 *   increment and its cancel; not the lock's) counts as done only once a replica confirmed it
 *   (`WAIT 1`, see `Replicas`) within the cache's `operationTimeoutMs`, else it rejects: Redis
 *   replicates asynchronously, and a failover would lose what only the old primary had. Not on
 *   a `createSentinel()` client the app gave (its connections are its own: a WAIT there may not
 *   follow the write on one connection).
 */
export class RedisStore implements SharedStore {
  readonly local = false;
  readonly capabilities: StoreCapabilities = { fencedIncrements: this };
  private closed = false;
  private connected = false;
  private readonly firstAttempt: Promise<void>;

  constructor(
    private readonly topology: Topology,
    /** `<keyPrefix><separator>`: what every key of this cache starts with. */
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void,
    /** The cache's clock: the expiry written in each envelope, and read back. */
    private readonly clock: Clock,
    /** The cache's `operationTimeoutMs`: how long a write waits for a replica to confirm it, at most. */
    private readonly confirmMs = 50,
  ) {
    this.firstAttempt = topology.firstAttempt.then(() => {
      this.connected = true;
    });
  }

  /** The first connection attempt while it lasts (see `Store.connecting`; the topology bounds it). */
  get connecting(): Promise<void> | undefined {
    return this.connected ? undefined : this.firstAttempt;
  }

  get pubsub() {
    return this.topology.pubsub;
  }

  get sharedFate(): boolean {
    return this.topology.sharedFate;
  }

  get kind(): Topology['kind'] {
    return this.topology.kind;
  }

  async get(key: string): Promise<string | undefined> {
    await this.ready();
    const raw = this.prefix + key;
    return this.open(await this.topology.run(raw, (client) => client.get(raw)))?.data;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return (await this.getManyWithExpiry(keys)).map((row) => row?.data);
  }

  async getManyWithExpiry(keys: readonly string[]): Promise<(Stored | undefined)[]> {
    await this.ready();
    if (keys.length === 0) return [];
    const raws = keys.map((key) => this.prefix + key);
    const rows = new Array<Stored | undefined>(keys.length);
    const groups = this.topology.groups(raws);
    const failures: unknown[] = [];
    await Promise.all(
      groups.map(async (group) => {
        try {
          const first = raws[group[0]];
          const values =
            group.length === 1
              ? [await this.topology.run(first, (client) => client.get(first))]
              : await this.topology.run(first, (client) => client.mGet(group.map((i) => raws[i])));
          group.forEach((index, j) => (rows[index] = this.open(values[j])));
        } catch (err) {
          failures.push(err);
        }
      }),
    );
    if (failures.length === groups.length) throw failures[0];
    for (const err of failures) this.onError(err); // those keys answer as misses
    return rows;
  }

  async set(key: string, data: string, ttlMs: number): Promise<boolean> {
    await this.ready();
    const raw = this.prefix + key;
    const value = envelope(data, ttlMs, this.clock.now());
    const reply = await this.topology.run(raw, (client) => (ttlMs > 0 ? client.set(raw, value, { PX: ttlMs }) : client.set(raw, value)), this.confirmMs);
    return reply === 'OK';
  }

  async add(key: string, data: string, ttlMs: number): Promise<boolean> {
    await this.ready();
    const raw = this.prefix + key;
    const value = envelope(data, ttlMs, this.clock.now());
    const reply = await this.topology.run(raw, (client) => client.set(raw, value, ttlMs > 0 ? { NX: true, PX: ttlMs } : { NX: true }), this.confirmFor(key));
    return reply === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    await this.ready();
    const raw = this.prefix + key;
    return (await this.topology.run(raw, (client) => client.unlink(raw), this.confirmFor(key))) > 0;
  }

  async has(key: string): Promise<boolean> {
    await this.ready();
    const raw = this.prefix + key;
    return this.open(await this.topology.run(raw, (client) => client.get(raw))) !== undefined;
  }

  async increment(key: string, delta: number, ttlMs: number, op?: string): Promise<number> {
    await this.ready();
    const raw = this.prefix + key;
    const marker = op === undefined ? undefined : markerKey(raw, op);
    const keys = marker ? [raw, marker] : [raw];
    try {
      const result = await this.topology.run(raw, (client) => client.eval(INCREMENT_SCRIPT, { keys, arguments: [String(delta), String(ttlMs), String(MARKER_TTL_MS)] }), this.confirmMs);
      return Number(result);
    } catch (err) {
      if (err instanceof Error && err.message.includes('NOTANUMBER')) throw new NotANumberError(key);
      throw err;
    }
  }

  async cancelIncrement(key: string, delta: number, op: string): Promise<void> {
    await this.ready();
    const raw = this.prefix + key;
    const marker = markerKey(raw, op);
    if (marker) await this.topology.run(raw, (client) => client.eval(CANCEL_INCREMENT_SCRIPT, { keys: [raw, marker], arguments: [String(delta), String(MARKER_TTL_MS)] }), this.confirmMs);
  }

  /** SCAN + UNLINK of `<keyPrefix>::*` on every master: this cache's keys, and nothing else. */
  async clear(): Promise<void> {
    await this.ready();
    const match = `${escapeGlob(this.prefix)}*`;
    await this.topology.eachMaster(async (client) => {
      let cursor = '0';
      do {
        const reply = await client.scan(cursor, { MATCH: match, COUNT: CLEAR_BATCH, TYPE: 'string' });
        cursor = String(reply.cursor);
        const keys = reply.keys.map(String);
        if (keys.length > 0) {
          await Promise.all(
            this.topology.groups(keys).map((group) => {
              const slotKeys = group.map((i) => keys[i]);
              return this.topology.run(slotKeys[0], (c) => c.unlink(slotKeys));
            }),
          );
        }
      } while (cursor !== '0');
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.topology.close();
  }

  /**
   * How long a write of `key` waits for a replica. The stampede lock's keys (`lock:<key>`,
   * core/lock.ts) are written without: a lock lost in a failover costs a second computation, and
   * one reported failed after it landed would keep the others waiting (its late release needs the
   * add to resolve).
   */
  private confirmFor(key: string): number | undefined {
    return key.startsWith('lock:') ? undefined : this.confirmMs;
  }

  /** Waits out the first connection attempt; refuses work once closed (it would reconnect). */
  private async ready(): Promise<void> {
    if (!this.connected) await this.firstAttempt;
    if (this.closed) throw new Error('the cache has been closed');
  }

  private open(raw: unknown): Stored | undefined {
    return openEnvelope(raw as string | null | undefined, this.clock.now(), (foreign) =>
      this.onError(new Error(`a value under this cache's prefix that it did not write (read as a miss): ${JSON.stringify(foreign.slice(0, 40))}`)),
    );
  }
}
