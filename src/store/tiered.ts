import type { Clock } from '../core/clock';
import { ChangeLog } from '../core/change-log';
import { InvalidationBus, type Invalidation } from './invalidation-bus';
import type { MemoryStore } from './memory';
import type { Stored } from './redis/format';
import type { PubSub } from './pubsub';
import type { FencedIncrements, Store, StoreCapabilities } from './store';

/** A store shared between processes that a first tier can sit in front of. */
export interface SharedStore extends Store {
  /** Values with the absolute time (ms since the epoch) each expires at; `expiresAt` absent = never. */
  getManyWithExpiry(keys: readonly string[]): Promise<(Stored | undefined)[]>;
  /** The processes' message channel (Redis pub/sub); absent when other processes cannot be heard. */
  readonly pubsub?: PubSub;
  /**
   * True when the channel and the data live on one server for good (a single Redis): while the
   * channel is lost nobody can write, so the first tier keeps serving what it holds. Otherwise
   * (a cluster, a failover) losing the channel drops the first tier.
   */
  readonly sharedFate: boolean;
}

/**
 * A shared store (L2, Redis) with an in-process first tier (L1) in front: hits are answered from
 * process memory synchronously; misses read L2 and fill L1 for at most `l1TtlMs` and never past
 * the entry's own expiry. Every write and delete is announced on the invalidation bus once L2 has
 * it, and every other process drops those keys from its L1 within milliseconds.
 *
 * Invariants:
 * - L1 is filled only while the bus is subscribed: a change announced while it is not could be
 *   missed. When the subscription is made again, L1 is dropped (`'all'`); when it is lost, L1 is
 *   dropped too unless the store's data shares the bus' fate (one server: nobody writes meanwhile);
 * - a key being changed here is dropped from L1 before L2 is written, so this process never serves
 *   the old value again, even when the write fails (Redis away);
 * - a read or write fills L1 only if nothing changed its key after it started: every change takes
 *   a number from one counter, and a late reply (after a timeout, a pause) with an older number
 *   than the key's last change is not kept;
 * - other processes are told after L2 holds the change, so they cannot re-read the old value.
 */
export class TieredStore implements Store, FencedIncrements {
  readonly local = false;
  /** L1 for synchronous hits; increments fenced when L2 fences them. */
  readonly capabilities: StoreCapabilities;
  private readonly bus: InvalidationBus;
  /** Numbers the changes seen in this process (own writes and other processes' announcements). */
  private changes = 0;
  /** When each key last changed here; forgotten changes make reads that began before them skip filling L1. */
  private readonly changedAt = new ChangeLog();
  private listening = false;
  private attempted = false;
  /** L2's first connection attempt and the bus' first subscription attempt, both bounded. */
  private readonly firstAttempt: Promise<void>;

  constructor(
    private readonly l2: SharedStore,
    private readonly l1: MemoryStore,
    private readonly l1TtlMs: number,
    channel: string,
    onError: (err: unknown) => void,
    /** Told of the keys other processes changed (`'all'` after lost messages or a clear). */
    private readonly onRemoteChange: (keys: Invalidation) => void,
    private readonly clock: Clock,
  ) {
    if (!l2.pubsub) throw new TypeError('an in-process tier (l1) needs a Redis store, whose pub/sub keeps it coherent');
    this.capabilities = {
      l1,
      ...(l2.capabilities?.fencedIncrements ? { fencedIncrements: this } : {}),
      memoryUsage: () => ({ entries: l1.size, bytes: l1.bytes }),
    };
    this.bus = new InvalidationBus(l2.pubsub, channel, (keys) => this.remoteChange(keys), (listening) => this.busState(listening), onError);
    this.firstAttempt = Promise.all([l2.connecting, this.bus.firstAttempt]).then(() => {
      this.attempted = true;
    });
  }

  /** Until L2 and the bus made their first attempts: the cache's first calls wait for both (L1 could not be filled before). */
  get connecting(): Promise<void> | undefined {
    return this.attempted ? undefined : this.firstAttempt;
  }

  /** Whether the bus is subscribed now (L1 is filled only then). */
  get coherent(): boolean {
    return this.listening;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.getMany([key]))[0];
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (!this.attempted) await this.firstAttempt;
    const found = keys.map((key) => this.l1.getNow(key));
    const missing = keys.filter((_, i) => found[i] === undefined);
    if (missing.length === 0) return found;
    const mark = this.changes;
    const rows = await this.l2.getManyWithExpiry(missing);
    let next = 0;
    return found.map((data, i) => {
      if (data !== undefined) return data;
      const row = rows[next++];
      if (row === undefined) return undefined;
      if (!this.changedAfter(keys[i], mark)) this.fill(keys[i], row.data, row.expiresAt);
      return row.data;
    });
  }

  async set(key: string, data: string, ttlMs: number): Promise<boolean> {
    return this.write(key, data, ttlMs, () => this.l2.set(key, data, ttlMs));
  }

  async add(key: string, data: string, ttlMs: number): Promise<boolean> {
    return this.write(key, data, ttlMs, () => this.l2.add(key, data, ttlMs));
  }

  async delete(key: string): Promise<boolean> {
    if (!this.attempted) await this.firstAttempt;
    this.forget(key);
    try {
      return await this.l2.delete(key);
    } finally {
      this.bus.publish(key);
    }
  }

  async has(key: string): Promise<boolean> {
    return this.l1.getNow(key) !== undefined || this.l2.has(key);
  }

  async increment(key: string, delta: number, ttlMs: number, op?: string): Promise<number> {
    if (!this.attempted) await this.firstAttempt;
    this.forget(key);
    try {
      return await this.l2.increment(key, delta, ttlMs, op);
    } finally {
      this.bus.publish(key);
    }
  }

  async cancelIncrement(key: string, delta: number, op: string): Promise<void> {
    this.forget(key);
    try {
      await this.l2.capabilities!.fencedIncrements!.cancelIncrement(key, delta, op);
    } finally {
      this.bus.publish(key);
    }
  }

  async clear(): Promise<void> {
    if (!this.attempted) await this.firstAttempt;
    this.forgetAll();
    try {
      await this.l2.clear();
    } finally {
      this.bus.publishAll();
    }
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.l2.close();
  }

  whenChanged(key: string, ms: number): Promise<boolean> {
    return this.bus.changed(key, ms);
  }

  /** Drops `key` here, writes L2, keeps the value in L1 if nothing changed it meanwhile, tells the others. */
  private async write(key: string, data: string, ttlMs: number, writeL2: () => Promise<boolean>): Promise<boolean> {
    if (!this.attempted) await this.firstAttempt;
    const mark = this.forget(key);
    try {
      const stored = await writeL2();
      if (stored && !this.changedAfter(key, mark)) this.fill(key, data, ttlMs > 0 ? this.clock.now() + ttlMs : undefined);
      return stored;
    } finally {
      this.bus.publish(key);
    }
  }

  private busState(listening: boolean): void {
    this.listening = listening;
    if (!listening && !this.l2.sharedFate) this.remoteChange('all');
  }

  private fill(key: string, data: string, expiresAt: number | undefined): void {
    if (!this.listening) return;
    const ttlMs = expiresAt === undefined ? this.l1TtlMs : Math.min(this.l1TtlMs, expiresAt - this.clock.now());
    if (ttlMs === Infinity) this.l1.write(key, data, 0);
    else if (ttlMs > 0) this.l1.write(key, data, ttlMs);
  }

  private remoteChange(keys: Invalidation): void {
    if (keys === 'all') this.forgetAll();
    else for (const key of keys) this.forget(key);
    this.onRemoteChange(keys);
  }

  /** Drops `key` from L1 and numbers the change; returns its number. */
  private forget(key: string): number {
    this.l1.drop(key);
    const number = ++this.changes;
    this.changedAt.changed(key, number);
    return number;
  }

  private forgetAll(): void {
    this.l1.dropAll();
    this.changedAt.changedAll(++this.changes);
  }

  private changedAfter(key: string, mark: number): boolean {
    return this.changedAt.changedAfter(key, mark);
  }
}
