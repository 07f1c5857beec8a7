import { EventEmitter } from 'node:events';
import type Koa from 'koa';
import { systemClock, type Clock } from './core/clock';
import { dependOnTags, expectTags } from './core/dependencies';
import { Engine } from './core/engine';
import { Instrumentation, type CacheEvents } from './core/events';
import type { MemoryUse } from './core/memory-accounts';
import { register } from './core/registry';
import type { CacheStats } from './core/stats';
import { validateTags } from './core/tags';
import { timeoutToMs, type Timeout } from './core/timeout';
import { staleTerms, valueOrCompute, type StaleOptions } from './core/value-computation';
import { attachDebugLog } from './log';
import { createStore, l1Settings, type StoreOption } from './store/create-store';
import { storeFromEnv } from './store/env';
import { deleteMemoized, MemoizedFunctions, type MemoizedCallable } from './functions/delete-memoized';
import { memoize, type Memoized, type MemoizeOptions } from './functions/memoize';
import { memoizedMethod, type MemoizedDecorator } from './functions/memoized-method';
import { Refreshing, type RefreshingOptions } from './functions/refreshing';
import { CacheWaitTimeout } from './functions/wait-timeout';
import { WriteBehind, type WriteBehindOptions } from './functions/write-behind';
import { cached } from './koa/cached';
import type { CachedOptions } from './koa/cached-options';
import { deleteCached, type DeleteCachedOptions } from './koa/delete-cached';
import { schedulePeriodicRefresh, type PeriodicRefresh, type PeriodicRefreshOptions } from './koa/periodic-refresh';
import { StoredResponses } from './koa/stored-entry';

export interface CacheOptions {
  /**
   * Where entries live. `'memory'` (default): an LRU in this process. Shared between processes:
   *
   * - one Redis server: a `redis://` or `rediss://` URL (database number and password in the URL
   *   as usual). If that server turns out to be a replica (it was demoted) its primary is
   *   followed; if it is gone, a replica of it that was promoted;
   * - Redis Cluster: `{ cluster: ['redis://host1:7000', 'redis://host2:7000'] }` (any nodes;
   *   credentials and TLS of the first URL apply to all). Keys are spread over the slots; reads of
   *   several keys go out as one MGET per slot; failovers and resharding are followed;
   * - Redis Sentinel: `{ sentinel: { name: 'mymaster', nodes: ['host1:26379', 'host2:26379'] } }`
   *   (plus `username`, `password`, `database`, `tls` for the primary);
   * - a node-redis client, cluster or sentinel you made (`createClient`/`createCluster`/
   *   `createSentinel` of `@keyv/redis` or `redis`), connected or not: a client or cluster is read
   *   as configuration (the cache opens connections of its own with its options, and closes them
   *   on `close()`), a sentinel client is used as it is;
   * - a `Store` of your own, a keyv store adapter, or a Keyv instance (a `@keyv/redis` adapter is
   *   served as the Redis client it wraps).
   *
   * With Redis, install `@keyv/redis` (it brings node-redis). Environment variables: see `fromEnv`.
   * docs/dev/redis-topologies.md says what each topology costs in a failover.
   */
  store?: StoreOption;
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
   * across processes over Redis pub/sub. On by default (32 MiB; an entry is kept at most `timeout`,
   * default 60 seconds, `0` = as long as the entry lives); `false` turns it off.
   */
  l1?: false | { maxBytes?: number; timeout?: Timeout };
  /**
   * Shared stores only: a miss takes a lock in the store so that one process in the deployment
   * computes the value while the others wait for it. `timeout`: how long a lock holds if its owner
   * never releases it (it died), default 10 seconds; `waitMs`: how long the others wait before
   * computing it themselves, default 5000. `false` turns it off.
   */
  lock?: false | { timeout?: Timeout; waitMs?: number };
  /** What tells the time (ms since the epoch); tests pass one they advance. Default `Date.now`. */
  clock?: Clock;
  /**
   * Called after every `invalidateTags` in the process that invalidated, with its tags: the place to
   * purge a CDN by surrogate key (see `cached({ surrogateKeys: true })`). `invalidateTags` waits for
   * it; what it throws or rejects with is reported through `'error'`, never thrown to the caller.
   */
  onInvalidate?: (tags: readonly string[]) => unknown;
}

export interface SetOptions {
  timeout?: Timeout;
  /** The entry becomes a miss once any of these tags is invalidated (see `invalidateTags`). */
  tags?: readonly string[];
}

/** `getOrSet`'s options: a lifetime and tags, and what to answer while the origin is slow or failing. */
export interface GetOrSetOptions extends SetOptions, StaleOptions {}

export interface InvalidateOptions {
  /**
   * Keep the entries carrying the tags servable as stale: the next caller of each recomputes it
   * while the others get the stale copy at once (Next.js' `revalidateTag(tag, 'max')`). Entries
   * that cannot answer stale (no caller at hand to recompute them) are misses as before.
   */
  stale?: boolean;
}

const DEFAULT_OPERATION_TIMEOUT_MS = 50;

/**
 * The cache: one object for the whole app, backed by the memory store or by Redis. Its methods are
 * the friendly face of the engine every feature stores through (src/core/engine.ts): values
 * (`get`/`set`/`getOrSet`…), tags, responses (`cached()`), functions (`memoize()`…) and events
 * (`cache.on('hit', …)`, see `CacheEvents`).
 *
 * A failing or slow store never makes a call throw or hang: reads answer as a miss and writes as
 * "not stored", and the failure is emitted as `'error'` (rate-limited; logged to stderr when nobody
 * listens). Only programming errors reject: a value that cannot be stored, a bad timeout.
 */
export class Cache extends EventEmitter<CacheEvents> {
  /** The default lifetime of an entry, in milliseconds. */
  readonly defaultTimeoutMs: number;
  readonly keyPrefix: string;
  readonly #engine: Engine;
  readonly #memoized = new MemoizedFunctions();
  #responses?: StoredResponses;

  constructor(options: CacheOptions = {}) {
    super();
    this.defaultTimeoutMs = timeoutToMs(options.defaultTimeout, 300_000, 'defaultTimeout');
    this.keyPrefix = options.keyPrefix ?? 'kfc';
    if (typeof this.keyPrefix !== 'string' || this.keyPrefix === '') {
      throw new TypeError(`keyPrefix must be a non-empty string, got ${JSON.stringify(options.keyPrefix)}`);
    }
    const operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    if (!(operationTimeoutMs > 0 && operationTimeoutMs < 2 ** 31)) {
      throw new RangeError(`operationTimeoutMs must be > 0, got ${String(options.operationTimeoutMs)}`);
    }
    const clock = options.clock ?? systemClock;
    const events = new Instrumentation(this, clock);
    const store = createStore({
      store: options.store,
      keyPrefix: this.keyPrefix,
      maxBytes: options.maxBytes,
      l1: l1Settings(options.l1),
      clock,
      onError: (err) => events.report('store', undefined, err),
      onRemoteChange: (keys) => this.#engine.changedElsewhere(keys),
    });
    const lock = options.lock ?? {};
    this.#engine = new Engine({
      store,
      events,
      clock,
      defaultTimeoutMs: this.defaultTimeoutMs,
      operationTimeoutMs,
      lock: lock && { ageMs: timeoutToMs(lock.timeout, 10_000, 'lock.timeout') || 10_000, waitMs: lockWaitMs(lock.waitMs) },
      onInvalidate: checkedCallback(options.onInvalidate, 'onInvalidate'),
    });
    const memoryUsage = store.capabilities?.memoryUsage?.bind(store.capabilities);
    if (memoryUsage) this.#engine.memory.register(store.local ? 'store' : 'l1', memoryUsage);
    register(this, this.#engine);
    attachDebugLog(this);
  }

  /**
   * A cache configured from environment variables: the store — `CACHE_URL` (`memory` or a
   * `redis://` URL), `CACHE_CLUSTER_NODES` (Redis Cluster: comma-separated node URLs), or
   * `CACHE_SENTINELS` (comma-separated `host:port`) with `CACHE_SENTINEL_NAME` (Sentinel), plus
   * `CACHE_REDIS_USERNAME` / `CACHE_REDIS_PASSWORD` where the URLs carry no credentials and
   * `CACHE_REDIS_TLS=true` for a primary found through sentinels —, `CACHE_DEFAULT_TIMEOUT`
   * (seconds or a duration string) and `CACHE_KEY_PREFIX`. See `storeFromEnv`.
   */
  static fromEnv(env: Record<string, string | undefined> = process.env, options: CacheOptions = {}): Cache {
    const store = storeFromEnv(env);
    return new Cache({
      ...options,
      ...(store !== undefined ? { store } : {}),
      ...(env.CACHE_DEFAULT_TIMEOUT ? { defaultTimeout: env.CACHE_DEFAULT_TIMEOUT } : {}),
      ...(env.CACHE_KEY_PREFIX ? { keyPrefix: env.CACHE_KEY_PREFIX } : {}),
    });
  }

  /** True when entries live in this process only (every worker has its own). */
  get isLocal(): boolean {
    return this.#engine.local;
  }

  /**
   * The value under `key` if it can be answered synchronously from process memory, else
   * `undefined` (which then says nothing: the entry may still be in a shared store).
   */
  peek<T = unknown>(key: string): T | undefined {
    return this.#engine.peek(key)?.value as T | undefined;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.#engine.get(checkedKey(key)))?.value as T | undefined;
  }

  /** Values in the order of `keys`; `undefined` for each miss. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return (await this.#engine.read(keys.map(checkedKey))).map((entry) => entry?.value as T | undefined);
  }

  /** Stores `value`; resolves whether it was stored. `timeout` in seconds, `0` = never expires. */
  async set(key: string, value: unknown, timeout?: Timeout | SetOptions): Promise<boolean> {
    const { ttlMs, tags } = this.#terms(key, timeout);
    return this.#engine.set(key, value, ttlMs, tags);
  }

  /** Stores `value` only when `key` is absent; resolves whether it stored. */
  async add(key: string, value: unknown, timeout?: Timeout | SetOptions): Promise<boolean> {
    const { ttlMs, tags } = this.#terms(key, timeout);
    return this.#engine.add(key, value, ttlMs, tags);
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
    return this.#engine.delete(checkedKey(key));
  }

  /** Resolves how many of `keys` had an entry. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    const results = await Promise.all(keys.map((key) => this.delete(key)));
    return results.filter(Boolean).length;
  }

  async has(key: string): Promise<boolean> {
    return this.#engine.has(checkedKey(key));
  }

  /**
   * Adds `delta` to the integer under `key` (absent counts as 0 and is stored with the default
   * timeout; an existing entry keeps its expiry). Atomic on the memory store and on Redis.
   * Resolves the new value, or `undefined` when the store failed.
   */
  async inc(key: string, delta = 1): Promise<number | undefined> {
    if (!Number.isSafeInteger(delta)) throw new TypeError(`delta for key ${JSON.stringify(key)} must be an integer, got ${delta}`);
    return this.#engine.increment(checkedKey(key), delta);
  }

  async dec(key: string, delta = 1): Promise<number | undefined> {
    return this.inc(key, -delta);
  }

  /**
   * The cached value of `key`, or else the result of `compute()`, stored with `timeout`.
   * Concurrent calls for one key share one `compute()` (across processes on Redis, through the
   * lock). A rejected or `undefined` result is not stored.
   */
  async getOrSet<T>(key: string, compute: () => T | Promise<T>, options: GetOrSetOptions = {}): Promise<T> {
    const engine = this.#engine;
    const { ttlMs, tags } = this.#terms(key, options);
    const what = `getOrSet ${JSON.stringify(key)}`;
    const result = await valueOrCompute<T>(engine, {
      kind: 'value',
      name: key,
      key,
      computeKey: key,
      ttlMs,
      ...staleTerms(options, what),
      timeoutError: (waitedMs) => new CacheWaitTimeout(key, waitedMs, what),
      unbox: (value) => ({ value: value as T }),
      compute: async () => {
        // Tag versions are taken before computing, so that an invalidation landing meanwhile wins.
        const versions = tags && (await engine.tagVersions(tags, ttlMs));
        return { value: await compute(), tags: versions };
      },
      box: (computed) => (computed.value === undefined || (tags && !computed.tags) ? undefined : { value: computed.value, tags: computed.tags }),
    });
    // A response computing with this value depends on its tags too (core/dependencies.ts).
    dependOnTags(result.tags);
    return result.value;
  }

  /**
   * Makes every entry carrying any of `tags` a miss, in every process sharing the store:
   * one write per tag, whatever the number of entries. If the store fails, this process treats
   * those entries as misses and retries the writes in the background until they land. With
   * `{ stale: true }` they stay servable as stale until recomputed, one caller per key.
   */
  async invalidateTags(tags: readonly string[], options: InvalidateOptions = {}): Promise<void> {
    return this.#engine.invalidateTags(validateTags(tags, 'invalidateTags'), options.stale === true);
  }

  /** Removes every entry of this cache (of its `keyPrefix` on a shared store), and nothing else. */
  clear(): Promise<void> {
    return this.#engine.clear();
  }

  /** Tries once more to write pending deletes and invalidations, then closes the connection the cache opened. */
  close(): Promise<void> {
    return this.#engine.close();
  }

  /** Hits, misses, stale serves and sets per kind and per name, with hit ratios. */
  stats(): CacheStats {
    return this.#engine.events.stats();
  }

  resetStats(): void {
    this.#engine.events.resetStats();
  }

  /**
   * What this cache holds in process memory, in total and by part (`store` or `l1`: entries of
   * every kind, tag versions included, expired ones until dropped; `responses`: decoded stored
   * responses; `fragmentKeys`: built fragment keys). Each part is bounded on its own. `undefined`
   * when nothing is kept in process memory. Cheap: no store is walked.
   */
  memoryUsage(): (MemoryUse & { parts: Record<string, MemoryUse> }) | undefined {
    return this.#engine.memory.usage();
  }

  /** Koa middleware caching whole responses of a route or router: see `cached()` in src/koa/cached.ts. */
  cached(options?: CachedOptions): Koa.Middleware {
    return cached(this.#storedResponses(), options);
  }

  /** Removes the response `cached()` stored for `path` (and `query`, `host`); resolves whether there was one. */
  deleteCached(path: string, options?: DeleteCachedOptions): Promise<boolean> {
    return deleteCached(this.#storedResponses(), path, options);
  }

  /** Replays `GET path` through `app` every `interval` seconds to keep a cached route warm; `stop()` ends it. */
  schedulePeriodicRefresh(app: Koa, path: string, options: PeriodicRefreshOptions): PeriodicRefresh {
    return schedulePeriodicRefresh(this.#storedResponses(), app, path, options);
  }

  /** `fn`, cached by its arguments: see docs/functions.md. */
  memoize<A extends unknown[], R>(fn: (...args: A) => R, options?: NoInfer<MemoizeOptions<A>>): Memoized<A, R> {
    return memoize(this.#engine, this.#memoized, fn, options);
  }

  /** Decorator for async methods and getters, cached per instance (by its `cacheKey()`). */
  memoized(options?: MemoizeOptions<any[]>): MemoizedDecorator {
    return memoizedMethod(this.#engine, this.#memoized, options);
  }

  /** Deletes every result of a memoized function or method, or with `args` the result of that call. */
  deleteMemoized(fn: MemoizedCallable, ...args: unknown[]): Promise<boolean> {
    return deleteMemoized(this.#memoized, fn, args);
  }

  /** The value of `fn()` under `key`, recomputed every `interval` by one process at a time. */
  refreshing<T>(key: string, fn: () => T | Promise<T>, options: RefreshingOptions): Refreshing<Awaited<T>> {
    return new Refreshing<Awaited<T>>(this.#engine, key, fn as () => Promise<Awaited<T>>, options);
  }

  /** Buffered writes through this cache; call `start()` on what it returns. */
  writeBehind(options?: WriteBehindOptions): WriteBehind {
    return new WriteBehind(this.#engine, options);
  }

  /** The response entries of `cached()`, made on first use (they then count in `memoryUsage()`). */
  #storedResponses(): StoredResponses {
    return (this.#responses ??= new StoredResponses(this.#engine));
  }

  /** `timeout` (seconds, a duration string, or `SetOptions`) as milliseconds and checked tags. */
  #terms(key: string, timeout: Timeout | SetOptions): { ttlMs: number; tags?: readonly string[] } {
    checkedKey(key);
    const options = timeout !== null && typeof timeout === 'object' ? timeout : { timeout };
    const ttlMs = timeoutToMs(options.timeout, this.defaultTimeoutMs, `timeout of key ${JSON.stringify(key)}`);
    if (options.tags) expectTags();
    return { ttlMs, tags: options.tags && validateTags(options.tags, `key ${JSON.stringify(key)}`) };
  }
}

function checkedKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new TypeError(`cache key must be a non-empty string, got ${String(key)}`);
  return key;
}

function checkedCallback<F>(callback: F | undefined, option: string): F | undefined {
  if (callback !== undefined && typeof callback !== 'function') throw new TypeError(`${option} must be a function, got ${typeof callback}`);
  return callback;
}

function lockWaitMs(waitMs: unknown): number {
  if (waitMs === undefined) return 5000;
  if (typeof waitMs !== 'number' || !(waitMs > 0 && waitMs < 2 ** 31)) {
    throw new RangeError(`lock.waitMs must be a number of milliseconds > 0, got ${String(waitMs)}`);
  }
  return waitMs;
}
