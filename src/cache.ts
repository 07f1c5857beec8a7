import { EventEmitter } from 'node:events';
import type Koa from 'koa';
import {
  checkedCallback,
  checkedKey,
  checkedKeyPrefix,
  checkedOperationTimeoutMs,
  entryTerms,
  lockTerms,
  type CacheOptions,
  type GetOrSetOptions,
  type InvalidateOptions,
  type SetOptions,
} from './cache-options';
import { systemClock } from './core/clock';
import { dependOnTags } from './core/dependencies';
import { Engine } from './core/engine';
import { Instrumentation, type CacheEvents } from './core/events';
import type { MemoryUse } from './core/memory-accounts';
import { register } from './core/registry';
import type { CacheStats } from './core/stats';
import { validateTags } from './core/tags';
import { timeoutToMs, type Timeout } from './core/timeout';
import { computeTagged, staleTerms, valueOrCompute } from './core/value-computation';
import { attachDebugLog } from './log';
import { createStore, l1Settings } from './store/create-store';
import { storeFromEnv } from './store/env';
import { deleteMemoized, MemoizedFunctions, type MemoizedCallable } from './functions/delete-memoized';
import { memoize, type Memoized, type MemoizeOptions } from './functions/memoize';
import { memoizedMethod, type MemoizedDecorator } from './functions/memoized-method';
import { Refreshing, type RefreshingOptions } from './functions/refreshing';
import { CacheWaitTimeout } from './core/wait-timeout';
import { WriteBehind, type WriteBehindOptions } from './functions/write-behind';
import { cached } from './koa/cached';
import { watchKoaRequests } from './koa/early-reads';
import type { CachedOptions } from './koa/cached-options';
import { deleteCached, type DeleteCachedOptions } from './koa/delete-cached';
import { schedulePeriodicRefresh, type PeriodicRefresh, type PeriodicRefreshOptions } from './koa/periodic-refresh';
import { StoredResponses } from './koa/stored-entry';

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
    // Koa's requests are watched from their start: cookies read before cached(), and what another
    // renderer's ctx.render copies of ctx.state into fragments (koa/foreign-render.ts).
    watchKoaRequests();
    this.defaultTimeoutMs = timeoutToMs(options.defaultTimeout, 300_000, 'defaultTimeout');
    this.keyPrefix = checkedKeyPrefix(options.keyPrefix);
    const operationTimeoutMs = checkedOperationTimeoutMs(options.operationTimeoutMs);
    const clock = options.clock ?? systemClock;
    const events = new Instrumentation(this, clock);
    const store = createStore({
      store: options.store,
      keyPrefix: this.keyPrefix,
      maxBytes: options.maxBytes,
      l1: l1Settings(options.l1),
      clock,
      operationTimeoutMs,
      onError: (err) => events.report('store', undefined, err),
      onRemoteChange: (keys) => this.#engine.changedElsewhere(keys),
    });
    this.#engine = new Engine({
      store,
      events,
      clock,
      defaultTimeoutMs: this.defaultTimeoutMs,
      operationTimeoutMs,
      lock: lockTerms(options.lock),
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
    const { ttlMs, tags } = entryTerms(key, timeout, this.defaultTimeoutMs);
    return this.#engine.set(key, value, ttlMs, tags);
  }

  /** Stores `value` only when `key` is absent; resolves whether it stored. */
  async add(key: string, value: unknown, timeout?: Timeout | SetOptions): Promise<boolean> {
    const { ttlMs, tags } = entryTerms(key, timeout, this.defaultTimeoutMs);
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
    const { ttlMs, tags } = entryTerms(key, options, this.defaultTimeoutMs);
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
      compute: () => computeTagged(engine, tags, ttlMs, compute),
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
}
