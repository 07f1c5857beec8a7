import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter } from 'keyv';
import type { Keyv } from '@keyv/redis';
import type Koa from 'koa';
import { decodeEntry, encode, encodeEntry, withHeader, type Entry, type TagVersions } from './codec';
import { attachDebugLog } from './log';
import { PendingRemovals } from './pending';
import { KeyvStore } from './store/keyv';
import { MemoryStore } from './store/memory';
import { Stats, type CacheKind, type CacheStats, type Outcome } from './stats';
import type { Store } from './store/store';
import { TieredStore } from './store/tiered';
import { isTagKey, newTagVersion, tagKey, validateTags, versionsCurrent } from './tags';
import { timeoutToMs, type Timeout } from './timeout';
import { deleteMemoized, type MemoizedCallable } from './functions/delete-memoized';
import { memoize, type Memoized, type MemoizeOptions } from './functions/memoize';
import { memoizedMethod } from './functions/memoized-method';
import { Refreshing, type RefreshingOptions } from './functions/refreshing';
import { WriteBehind, type WriteBehindOptions } from './functions/write-behind';
import { cached } from './koa/cached';
import type { CachedOptions } from './koa/cached-options';
import { deleteCached, type DeleteCachedOptions } from './koa/delete-cached';
import { schedulePeriodicRefresh, type PeriodicRefresh, type PeriodicRefreshOptions } from './koa/periodic-refresh';

export interface CacheOptions {
  /**
   * `'memory'` (default): an LRU in this process. A `redis://` or `rediss://` URL (database number
   * and password in the URL as usual), a keyv store adapter, or a ready Keyv instance: shared.
   */
  store?: 'memory' | string | KeyvStoreAdapter | Keyv;
  /** Seconds (or a duration string) an entry lives when a call names no timeout. Default 300. */
  defaultTimeout?: Timeout;
  /** Namespace of this cache's keys in a shared store; `clear()` removes only these. Default `'kfc'`. */
  keyPrefix?: string;
  /** Memory store only: the bound on what entries may occupy, in bytes (LRU eviction). Default 64 MiB. */
  maxBytes?: number;
  /** Shared stores only: the longest a store call may take before it counts as failed. Default 50. */
  operationTimeoutMs?: number;
  /**
   * Redis only: an in-process first tier that answers hits from process memory, kept coherent
   * across processes over Redis pub/sub. On by default (32 MiB, entries kept at most 60 s);
   * `false` turns it off.
   */
  l1?: false | { maxBytes?: number; ttl?: Timeout };
  /**
   * Shared stores only: a miss takes a Redis lock so that one process in the deployment computes
   * the value while the others wait for it. `age`: how long a lock holds if its owner never
   * releases it (it died); `wait`: how long others wait before computing it themselves.
   * Default `{ age: 10, wait: 5 }` (seconds); `false` turns it off.
   */
  lock?: false | { age?: Timeout; wait?: Timeout };
}

export interface SetOptions {
  timeout?: Timeout;
  /** The entry becomes a miss once any of these tags is invalidated (see `invalidateTags`). */
  tags?: readonly string[];
}

/** Why a store call did not give an answer: the cache reports these through its `'error'` event. */
export class CacheStoreError extends Error {
  constructor(
    readonly operation: string,
    readonly key: string | undefined,
    override readonly cause: unknown,
  ) {
    super(`cache ${operation}${key === undefined ? '' : ` of ${JSON.stringify(key)}`} failed: ${errorMessage(cause)}`);
    this.name = 'CacheStoreError';
  }
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const DEFAULT_L1_MAX_BYTES = 32 * 1024 * 1024;
/** How often a process waiting for another's lock checks whether the lock is gone. */
const LOCK_POLL_MS = 50;
const LOCK_VALUE = encode('lock', 1);
const DEFAULT_OPERATION_TIMEOUT_MS = 50;
/** Identical error reports within this window are counted, not repeated. */
const ERROR_REPORT_INTERVAL_MS = 1000;

/**
 * The cache every feature of this library stores through.
 *
 * Invariants: a failing or slow store never makes a call throw or hang — reads answer as a miss
 * and writes as "not stored" within `operationTimeoutMs`, and the failure is emitted as `'error'`
 * (rate-limited; logged to stderr when nobody listens). Only programming errors reject: a value
 * that cannot be stored, a bad timeout.
 */
export class Cache extends EventEmitter {
  readonly defaultTimeoutMs: number;
  readonly keyPrefix: string;
  private readonly store: Store;
  private readonly operationTimeoutMs: number;
  private readonly lockAgeMs: number;
  private readonly lockWaitMs: number;
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly lastReport = new Map<string, { at: number; suppressed: number }>();
  private readonly counters = new Stats();
  private invalidationCount = 0;
  private readonly pending = new PendingRemovals({
    deleteKey: async (key) => (await this.call('delete', key, () => this.store.delete(key), undefined)) !== undefined,
    invalidateTag: (tag) => this.writeTagVersion(tag),
    giveUp: (what) => this.report('retry', what, new Error('too many removals pending while the store fails; gave up the oldest')),
  });

  constructor(options: CacheOptions = {}) {
    super();
    this.defaultTimeoutMs = timeoutToMs(options.defaultTimeout, 300_000, 'defaultTimeout');
    this.keyPrefix = options.keyPrefix ?? 'kfc';
    if (typeof this.keyPrefix !== 'string' || this.keyPrefix === '') {
      throw new TypeError(`keyPrefix must be a non-empty string, got ${JSON.stringify(options.keyPrefix)}`);
    }
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    if (!(this.operationTimeoutMs > 0)) {
      throw new RangeError(`operationTimeoutMs must be > 0, got ${String(options.operationTimeoutMs)}`);
    }
    const store = options.store ?? 'memory';
    if (store === 'memory') {
      this.store = new MemoryStore(options.maxBytes ?? DEFAULT_MAX_BYTES);
    } else if (typeof store === 'string' && !/^rediss?:\/\//.test(store)) {
      throw new TypeError(`store must be 'memory', a redis:// or rediss:// URL, a keyv adapter or a Keyv; got ${JSON.stringify(store)}`);
    } else {
      if (options.maxBytes !== undefined) throw new TypeError('maxBytes applies to the memory store only');
      const onError = (err: unknown) => this.report('store', undefined, err);
      const shared = new KeyvStore(store, this.keyPrefix, onError);
      const l1 = options.l1 ?? (shared.redis ? {} : false);
      this.store = l1
        ? new TieredStore(
            shared,
            new MemoryStore(l1.maxBytes ?? DEFAULT_L1_MAX_BYTES),
            timeoutToMs(l1.ttl, 60_000, 'l1.ttl') || Infinity,
            `${this.keyPrefix}::invalidations`,
            onError,
            (keys) => this.changedElsewhere(keys),
          )
        : shared;
    }
    attachDebugLog(this);
    const lock = this.store.local ? false : (options.lock ?? {});
    this.lockAgeMs = lock ? timeoutToMs(lock.age, 10_000, 'lock.age') : 0;
    this.lockWaitMs = lock ? timeoutToMs(lock.wait, 5_000, 'lock.wait') : 0;
  }

  /**
   * A cache configured from environment variables: `CACHE_URL` (`memory` or a `redis://` URL),
   * `CACHE_DEFAULT_TIMEOUT` (seconds or a duration string) and `CACHE_KEY_PREFIX`.
   */
  static fromEnv(env: Record<string, string | undefined> = process.env, options: CacheOptions = {}): Cache {
    return new Cache({
      ...options,
      ...(env.CACHE_URL ? { store: env.CACHE_URL } : {}),
      ...(env.CACHE_DEFAULT_TIMEOUT ? { defaultTimeout: env.CACHE_DEFAULT_TIMEOUT } : {}),
      ...(env.CACHE_KEY_PREFIX ? { keyPrefix: env.CACHE_KEY_PREFIX } : {}),
    });
  }

  /** True when entries live in this process only (every worker has its own). */
  get isLocal(): boolean {
    return this.store.local;
  }

  /**
   * The value under `key` if it can be answered synchronously from process memory, else
   * `undefined` (which then says nothing: the entry may still be in a shared store).
   */
  peek<T = unknown>(key: string): T | undefined {
    return this.peekEntry(key)?.value as T | undefined;
  }

  /** `peek`, with the tag versions the entry was written under. */
  peekEntry(key: string): Entry | undefined {
    const entry = this.store.peek?.(key);
    if (entry === undefined || this.pending.covers(key, entry.tags)) return undefined;
    if (!entry.tags) return entry;
    return versionsCurrent(entry.tags, (tag) => this.store.peek!(tagKey(tag))?.value) ? entry : undefined;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.getEntry(key))?.value as T | undefined;
  }

  /** `get`, with the tag versions the entry was written under. */
  async getEntry(key: string): Promise<Entry | undefined> {
    return (await this.getEntries([key]))[0];
  }

  /** Values in the order of `keys`; `undefined` for each miss. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return (await this.getEntries(keys)).map((entry) => entry?.value as T | undefined);
  }

  /** Stores `value`; resolves whether it was stored. `timeout` in seconds, `0` = never expires. */
  async set(key: string, value: unknown, timeout?: Timeout | SetOptions): Promise<boolean> {
    const { data, ttlMs } = await this.prepare(key, value, timeout);
    return data !== undefined && this.stored(key, await this.call('set', key, () => this.store.set(key, data, ttlMs), false));
  }

  /**
   * Stores an entry under the tag versions it records, e.g. ones taken by `tagVersions()` before
   * computing the value: an invalidation that lands while it is computed then makes it a miss.
   */
  async setEntry(key: string, entry: Entry, timeout?: Timeout): Promise<boolean> {
    const ttlMs = this.ttlOf(key, timeout);
    const data = encodeEntry(key, entry);
    return this.stored(key, await this.call('set', key, () => this.store.set(key, data, ttlMs), false));
  }

  /** Stores `value` only when `key` is absent; resolves whether it stored. */
  async add(key: string, value: unknown, timeout?: Timeout | SetOptions): Promise<boolean> {
    const { data, ttlMs } = await this.prepare(key, value, timeout);
    return data !== undefined && this.stored(key, await this.call('add', key, () => this.store.add(key, data, ttlMs), false));
  }

  /**
   * Makes every entry carrying any of `tags` a miss, in every process sharing the store:
   * one write per tag, whatever the number of entries. If the store fails, this process treats
   * those entries as misses and retries the writes in the background until they land.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    validateTags(tags, 'invalidateTags');
    if (this.listenerCount('invalidate') > 0) this.emit('invalidate', { tags });
    this.tagsInvalidated();
    await Promise.all(tags.map(async (tag) => (await this.writeTagVersion(tag)) || this.pending.tagFailed(tag)));
  }

  private async writeTagVersion(tag: string): Promise<boolean> {
    const written = await this.call('invalidateTags', tagKey(tag), () => this.store.set(tagKey(tag), encode(tag, newTagVersion()), 0), false);
    if (written) this.pending.tagSettled(tag);
    return written;
  }

  /**
   * How many tag invalidations this process has made or heard of. A value computed while this
   * number changed may be stale if its tags were only known after computing it: don't store it.
   */
  get invalidations(): number {
    return this.invalidationCount;
  }

  /** The current version of each tag, creating the missing ones. Resolves undefined if the store failed. */
  async tagVersions(tags: readonly string[]): Promise<TagVersions | undefined> {
    const keys = tags.map(tagKey);
    const current = await this.call('tagVersions', undefined, () => this.store.getMany(keys), undefined);
    if (!current) return undefined;
    const versions: TagVersions = {};
    for (let i = 0; i < tags.length; i++) {
      let version = current[i] === undefined ? undefined : this.decodeOrMiss(keys[i], current[i]!)?.value;
      if (typeof version !== 'string') {
        const created = newTagVersion();
        const data = encode(keys[i], created);
        // Concurrent creators agree on whichever version was stored first.
        const stored = await this.call('tagVersions', keys[i], () => this.store.add(keys[i], data, 0), false);
        version = stored ? created : await this.get<string>(keys[i]);
        if (typeof version !== 'string') return undefined;
      }
      versions[tags[i]] = version as string;
    }
    return versions;
  }

  /** Stores every entry of `record` with one timeout; resolves whether all were stored. */
  async setMany(record: Record<string, unknown>, timeout?: Timeout | SetOptions): Promise<boolean> {
    const results = await Promise.all(Object.entries(record).map(([key, value]) => this.set(key, value, timeout)));
    return results.every(Boolean);
  }

  /**
   * Resolves whether there was an entry to delete. Emits `'delete'` with `{ key }`. If the store
   * fails, this process treats the key as a miss and retries the delete until it lands.
   */
  async delete(key: string): Promise<boolean> {
    if (this.listenerCount('delete') > 0) this.emit('delete', { key });
    this.inFlight.delete(key); // a computation started before the delete serves only its own waiters
    const deleted = await this.call('delete', key, () => this.store.delete(key), undefined);
    if (deleted === undefined) this.pending.keyFailed(key);
    else this.pending.keySettled(key);
    return deleted === true;
  }

  /** Resolves how many of `keys` had an entry. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    const results = await Promise.all(keys.map((key) => this.delete(key)));
    return results.filter(Boolean).length;
  }

  async has(key: string): Promise<boolean> {
    return this.call('has', key, () => this.store.has(key), false);
  }

  /**
   * Adds `delta` to the integer under `key` (absent counts as 0 and is stored with the default
   * timeout; an existing entry keeps its expiry). Atomic on the memory store and on Redis.
   * Resolves the new value, or `undefined` when the store failed.
   */
  async inc(key: string, delta = 1): Promise<number | undefined> {
    if (!Number.isSafeInteger(delta)) throw new TypeError(`delta for key ${JSON.stringify(key)} must be an integer, got ${delta}`);
    return this.call('inc', key, () => this.store.increment(key, delta, this.defaultTimeoutMs), undefined, true);
  }

  async dec(key: string, delta = 1): Promise<number | undefined> {
    return this.inc(key, -delta);
  }

  /**
   * The cached value of `key`, or else the result of `compute()`, stored with `timeout`.
   * Concurrent calls for one key in this process share one `compute()`. A rejected or
   * `undefined` result is not stored.
   */
  async getOrSet<T>(key: string, compute: () => T | Promise<T>, options: SetOptions = {}): Promise<T> {
    const hit = this.peekEntry(key);
    if (hit) {
      this.record('hit', 'value', key, key);
      return hit.value as T;
    }
    const lookup = async () => {
      const cached = await this.getEntry(key);
      if (cached) this.record('hit', 'value', key, key);
      return cached && { value: cached.value as T };
    };
    const computeAndStore = async () => {
      this.record('miss', 'value', key, key);
      const tags = options.tags && (await this.tagVersions(validateTags(options.tags, `key ${JSON.stringify(key)}`)));
      const value = await compute();
      if (value !== undefined && (tags || !options.tags) && (await this.setEntry(key, { value, tags }, options.timeout))) {
        this.record('set', 'value', key, key);
      }
      return { value };
    };
    // In process memory `peekEntry` has just answered; a shared store may have it.
    return (await this.coalesce(key, computeAndStore, this.store.local ? undefined : lookup)).value;
  }

  /**
   * The value for `key`, found by `lookup` (a store read; `undefined` = miss) or else made by
   * `compute` (which stores it), once for all concurrent callers in this process. On a shared
   * store a miss also takes the key's lock while `compute` runs, so that other processes wait
   * and then find the value with `lookup` (see the `lock` option). A delete or a tag invalidation
   * detaches a running computation: callers arriving after it start a fresh one.
   */
  coalesce<T>(key: string, compute: () => Promise<T>, lookup?: () => Promise<T | undefined>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running as Promise<T>;
    const promise = this.lookupOrCompute(key, compute, lookup).finally(() => {
      if (this.inFlight.get(key) === promise) this.inFlight.delete(key);
    });
    this.inFlight.set(key, promise);
    return promise;
  }

  /** Removes every entry of this cache (of its `keyPrefix` on a shared store), and nothing else. */
  async clear(): Promise<void> {
    await this.call('clear', undefined, () => this.store.clear(), undefined);
  }

  /** Closes the store's connection (if the cache opened it). */
  /** Tries once more to write pending deletes and invalidations, then closes the connection the cache opened. */
  async close(): Promise<void> {
    await this.pending.flush();
    this.pending.stop();
    await this.store.close();
  }

  /**
   * Counts an outcome for `stats()` and emits it as an event (`'hit'`, `'miss'`, `'stale'`,
   * `'set'`, `'refresh'`) with `{ key, kind, name }` when anyone listens. Called by the fragment tag, the
   * response middleware, memoize and the value helpers; `name` groups the counts (fragment name,
   * route, function).
   */
  record(outcome: Outcome, kind: CacheKind, key: string, name?: string): void {
    this.counters.count(outcome, kind, name);
    if (this.listenerCount(outcome) > 0) this.emit(outcome, { key, kind, name });
  }

  /** Hits, misses, stale serves and sets per kind and per name, with hit ratios. */
  stats(): CacheStats {
    return this.counters.snapshot();
  }

  resetStats(): void {
    this.counters.reset();
  }

  /**
   * Reports a failure as an `'error'` event (or on stderr when nobody listens), at most once a
   * second for the same message; the next report says how many were suppressed meanwhile.
   */
  report(operation: string, key: string | undefined, cause: unknown): void {
    const err = cause instanceof CacheStoreError ? cause : new CacheStoreError(operation, key, cause);
    const now = Date.now();
    const last = this.lastReport.get(errorMessage(cause));
    if (last && now - last.at < ERROR_REPORT_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    if (last && last.suppressed > 0) err.message += ` (${last.suppressed} similar errors suppressed)`;
    if (this.lastReport.size > 100) this.lastReport.clear();
    this.lastReport.set(errorMessage(cause), { at: now, suppressed: 0 });
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else console.error(`[koa-fragment-cache] ${err.message}`);
  }

  /** The encoded entry and its TTL; no data when the versions of its tags cannot be read. */
  private async prepare(key: string, value: unknown, timeout: Timeout | SetOptions): Promise<{ data?: string; ttlMs: number }> {
    const options = timeout !== null && typeof timeout === 'object' ? timeout : { timeout };
    const ttlMs = this.ttlOf(key, options.timeout);
    const data = encode(key, value); // refuses an unstorable value before the store is touched
    if (!options.tags) return { data, ttlMs };
    const tags = await this.tagVersions(validateTags(options.tags, `key ${JSON.stringify(key)}`));
    return { data: tags && withHeader(data, { tags }), ttlMs };
  }

  /**
   * `lookup`; on a miss, SET NX PX on `lock:<key>`. Whoever gets the lock runs `compute`; the
   * others wait until the owner announces the key changed, the lock is gone, or `lock.wait` runs
   * out, then `lookup` again (finding what the owner stored) or compute it themselves. A store
   * failure means no lock: `compute` runs, as without one.
   */
  private async lookupOrCompute<T>(key: string, compute: () => Promise<T>, lookup?: () => Promise<T | undefined>): Promise<T> {
    const found = await lookup?.();
    if (found !== undefined || this.lockAgeMs === 0) return found ?? compute();
    const lockKey = `lock:${key}`;
    // The lock's value is never read: whoever stored it owns it.
    const attempt = this.store.add(lockKey, LOCK_VALUE, this.lockAgeMs);
    const acquired = await this.call('lock', key, () => attempt, undefined);
    // A lock request that timed out may still land: release it then, or it would hold for lock.age.
    if (acquired === undefined) attempt.then((late) => late && this.store.delete(lockKey)).catch(() => undefined);
    if (acquired === false) {
      if (this.listenerCount('lockWait') > 0) this.emit('lockWait', { key });
      await this.waitForLock(key, lockKey);
      const stored = await lookup?.();
      if (stored !== undefined) return stored;
    }
    try {
      return await compute();
    } finally {
      if (acquired) await this.call('unlock', key, () => this.store.delete(lockKey), false);
    }
  }

  private tagsInvalidated(): void {
    this.invalidationCount++;
    this.inFlight.clear();
  }

  /** Another process changed these keys: computations of them started before are detached. */
  private changedElsewhere(keys: readonly string[] | 'all'): void {
    if (keys === 'all' || keys.some(isTagKey)) this.tagsInvalidated();
    else for (const key of keys) this.inFlight.delete(key);
  }

  private async waitForLock(key: string, lockKey: string): Promise<void> {
    const deadline = Date.now() + this.lockWaitMs;
    for (let left = this.lockWaitMs; left > 0; left = deadline - Date.now()) {
      const wait = Math.min(LOCK_POLL_MS, left);
      const changed = this.store.whenChanged ? await this.store.whenChanged(key, wait) : await sleep(wait);
      if (changed) return;
      if (!(await this.call('lock', key, () => this.store.has(lockKey), false))) return;
    }
  }

  /** A value stored under `key` supersedes a delete of it still pending. */
  private stored(key: string, stored: boolean): boolean {
    if (stored) this.pending.keySettled(key);
    return stored;
  }

  private ttlOf(key: string, timeout: Timeout): number {
    if (typeof key !== 'string' || key === '') throw new TypeError(`cache key must be a non-empty string, got ${String(key)}`);
    return timeoutToMs(timeout, this.defaultTimeoutMs, `timeout of key ${JSON.stringify(key)}`);
  }

  /** Entries in the order of `keys`, with tagged entries whose tags moved on counted as misses. */
  private async getEntries(keys: readonly string[]): Promise<(Entry | undefined)[]> {
    const data = await this.call('get', keys.length === 1 ? keys[0] : undefined, () => this.store.getMany(keys), undefined);
    if (!data) return keys.map(() => undefined);
    const entries = data.map((item, i) => {
      const entry = item === undefined ? undefined : this.decodeOrMiss(keys[i], item);
      return entry && !this.pending.covers(keys[i], entry.tags) ? entry : undefined;
    });
    const tags = [...new Set(entries.flatMap((entry) => (entry?.tags ? Object.keys(entry.tags) : [])))];
    if (tags.length === 0) return entries;
    const versions = await this.call('get', undefined, () => this.store.getMany(tags.map(tagKey)), undefined);
    const current = new Map(tags.map((tag, i) => [tag, versions?.[i] && this.decodeOrMiss(tagKey(tag), versions[i]!)?.value]));
    return entries.map((entry) => (entry?.tags && !versionsCurrent(entry.tags, (tag) => current.get(tag)) ? undefined : entry));
  }

  private decodeOrMiss(key: string, data: string): Entry | undefined {
    try {
      return decodeEntry(data);
    } catch (err) {
      this.report('decode', key, err);
      return undefined;
    }
  }

  /**
   * Runs a store call under the deadline, turning failure into `fallback` and a report.
   * `rethrowTypeErrors` lets a caller's misuse (e.g. incrementing a string) reach the caller.
   */
  private async call<T, F>(
    operation: string,
    key: string | undefined,
    run: () => Promise<T>,
    fallback: F,
    rethrowTypeErrors = false,
  ): Promise<T | F> {
    if (this.store.local) return run();
    const started = performance.now();
    let ok = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within operationTimeoutMs (${this.operationTimeoutMs} ms)`)),
        this.operationTimeoutMs,
      );
    });
    try {
      const result = await Promise.race([run(), deadline]);
      ok = true;
      return result;
    } catch (err) {
      if (rethrowTypeErrors && err instanceof TypeError) throw err;
      this.report(operation, key, err);
      return fallback;
    } finally {
      clearTimeout(timer);
      // For latency metrics: `{ operation, seconds, ok }` per call to a shared store.
      if (this.listenerCount('storeCall') > 0) this.emit('storeCall', { operation, seconds: (performance.now() - started) / 1000, ok });
    }
  }

  /** Koa middleware caching whole responses of a route or router: see `cached()` in src/koa/cached.ts. */
  cached(options?: CachedOptions): Koa.Middleware {
    return cached(this, options);
  }

  /** Removes the response `cached()` stored for `path` (and `query`, `host`); resolves whether there was one. */
  deleteCached(path: string, options?: DeleteCachedOptions): Promise<boolean> {
    return deleteCached(this, path, options);
  }

  /** Replays `GET path` through `app` every `interval` seconds to keep a cached route warm; `stop()` ends it. */
  schedulePeriodicRefresh(app: Koa, path: string, options: PeriodicRefreshOptions): PeriodicRefresh {
    return schedulePeriodicRefresh(this, app, path, options);
  }

  /** `fn`, cached by its arguments: see "Function caching" in README.md. */
  memoize<A extends unknown[], R>(fn: (...args: A) => R, options?: NoInfer<MemoizeOptions<A>>): Memoized<A, R> {
    return memoize(this, fn, options);
  }

  /** Decorator for async methods and getters, cached per instance (by its `cacheKey()`). */
  memoized(options?: MemoizeOptions<any[]>): ReturnType<typeof memoizedMethod> {
    return memoizedMethod(this, options);
  }

  /** Deletes every result of a memoized function or method, or with `args` one result. */
  deleteMemoized(fn: MemoizedCallable, ...args: unknown[]): Promise<boolean> {
    return deleteMemoized(this, fn, args);
  }

  /** The value of `fn()` under `key`, recomputed every `interval` by one process at a time. */
  refreshing<T>(key: string, fn: () => T | Promise<T>, options: RefreshingOptions): Refreshing<Awaited<T>> {
    return new Refreshing<Awaited<T>>(this, key, fn as () => Promise<Awaited<T>>, options);
  }

  /** Buffered writes through this cache; call `start()` on what it returns. */
  writeBehind(options?: WriteBehindOptions): WriteBehind {
    return new WriteBehind(this, options);
  }

  /**
   * What this process holds in memory: the memory store, or the first tier in front of Redis
   * (every kind of entry, tag versions included; expired entries count until they are dropped).
   * `undefined` when the cache keeps nothing in process memory. Cheap: no store is walked.
   */
  memoryUsage(): { entries: number; bytes: number } | undefined {
    const memory = this.store instanceof TieredStore ? this.store.l1 : this.store;
    return memory instanceof MemoryStore ? { entries: memory.size, bytes: memory.bytes } : undefined;
  }
}

function sleep(ms: number): Promise<false> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
