import type { Entry } from '../codec';
import { InvalidationBus, type Invalidation } from './invalidation-bus';
import type { KeyvStore } from './keyv';
import type { MemoryStore } from './memory';
import type { Store } from './store';

/** How long a key counts as "just changed" for reads that were under way (see `getMany`). */
const RECENT_CHANGE_MS = 5_000;

/**
 * A shared store (L2, Redis) with an in-process first tier (L1) in front: hits are answered from
 * process memory synchronously; misses read L2 and fill L1 for at most `l1TtlMs` and never past
 * the entry's own expiry. Every write and delete is announced on the invalidation bus, and every
 * other process drops those keys from its L1 within milliseconds.
 *
 * Invariants: L1 holds only values L2 had (a write that L2 refused is dropped from L1); a read from
 * L2 that started before a change of its key was announced does not fill L1 with the old value.
 */
export class TieredStore implements Store {
  readonly local = false;
  private readonly bus: InvalidationBus;
  private readonly changedAt = new Map<string, number>();
  private clearedAt = 0;
  private prunedAt = 0;

  constructor(
    private readonly l2: KeyvStore,
    private readonly l1: MemoryStore,
    private readonly l1TtlMs: number,
    channel: string,
    onError: (err: unknown) => void,
  ) {
    if (!l2.redis) throw new TypeError('an in-process tier (l1) needs a Redis store, whose pub/sub keeps it coherent');
    this.bus = new InvalidationBus(l2.redis, channel, (keys) => this.forget(keys), onError);
  }

  peek(key: string): Entry | undefined {
    return this.l1.peek(key);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.getMany([key]))[0];
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    const found = keys.map((key) => this.l1.read(key));
    const missing = keys.filter((_, i) => found[i] === undefined);
    if (missing.length === 0) return found;
    const startedAt = Date.now();
    const rows = await this.l2.getManyWithExpiry(missing);
    let next = 0;
    return found.map((data, i) => {
      if (data !== undefined) return data;
      const row = rows[next++];
      if (row === undefined) return undefined;
      if (!this.changedSince(keys[i], startedAt)) this.fill(keys[i], row.data, row.expiresAt);
      return row.data;
    });
  }

  async set(key: string, data: string, ttlMs: number): Promise<boolean> {
    return this.written(key, data, ttlMs, await this.l2.set(key, data, ttlMs));
  }

  async add(key: string, data: string, ttlMs: number): Promise<boolean> {
    const stored = await this.l2.add(key, data, ttlMs);
    return stored ? this.written(key, data, ttlMs, true) : false;
  }

  async delete(key: string): Promise<boolean> {
    this.changed(key);
    return this.l2.delete(key);
  }

  async has(key: string): Promise<boolean> {
    return this.l1.read(key) !== undefined || this.l2.has(key);
  }

  async increment(key: string, delta: number, ttlMs: number): Promise<number> {
    this.changed(key);
    return this.l2.increment(key, delta, ttlMs);
  }

  async clear(): Promise<void> {
    this.forget('all');
    this.bus.publishAll();
    await this.l2.clear();
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.l2.close();
  }

  whenChanged(key: string, ms: number): Promise<boolean> {
    return this.bus.changed(key, ms);
  }

  private written(key: string, data: string, ttlMs: number, stored: boolean): boolean {
    this.changed(key);
    if (stored) this.fill(key, data, ttlMs > 0 ? Date.now() + ttlMs : undefined);
    return stored;
  }

  private fill(key: string, data: string, expiresAt: number | undefined): void {
    const ttlMs = expiresAt === undefined ? this.l1TtlMs : Math.min(this.l1TtlMs, expiresAt - Date.now());
    if (ttlMs === Infinity) this.l1.write(key, data, 0);
    else if (ttlMs > 0) this.l1.write(key, data, ttlMs);
  }

  /** Drops `key` here and tells the other processes to drop it. */
  private changed(key: string): void {
    this.forgetKey(key);
    this.bus.publish(key);
  }

  private forget(keys: Invalidation): void {
    if (keys === 'all') {
      this.l1.dropAll();
      this.clearedAt = Date.now();
      return;
    }
    for (const key of keys) this.forgetKey(key);
  }

  private forgetKey(key: string): void {
    this.l1.drop(key);
    const now = Date.now();
    this.changedAt.set(key, now);
    if (this.changedAt.size > 10_000 && now - this.prunedAt > 1000) {
      this.prunedAt = now;
      for (const [k, at] of this.changedAt) if (now - at > RECENT_CHANGE_MS) this.changedAt.delete(k);
    }
  }

  private changedSince(key: string, since: number): boolean {
    return this.clearedAt >= since || (this.changedAt.get(key) ?? 0) >= since;
  }
}
