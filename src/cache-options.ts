import type { Clock } from './core/clock';
import { expectTags } from './core/dependencies';
import type { EngineOptions } from './core/engine';
import { validateTags } from './core/tags';
import { timeoutToMs, type Timeout } from './core/timeout';
import type { StaleOptions } from './core/value-computation';
import type { StoreOption } from './store/create-store';

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

/** `invalidateTags`' options. */
export interface InvalidateOptions {
  /**
   * Keep the entries carrying the tags servable as stale: the next caller of each recomputes it
   * while the others get the stale copy at once (Next.js' `revalidateTag(tag, 'max')`). Entries
   * that cannot answer stale (no caller at hand to recompute them) are misses as before.
   */
  stale?: boolean;
}

const DEFAULT_OPERATION_TIMEOUT_MS = 50;

export function checkedKeyPrefix(keyPrefix: string | undefined): string {
  const checked = keyPrefix ?? 'kfc';
  if (typeof checked !== 'string' || checked === '') throw new TypeError(`keyPrefix must be a non-empty string, got ${JSON.stringify(keyPrefix)}`);
  return checked;
}

export function checkedOperationTimeoutMs(operationTimeoutMs: number | undefined): number {
  const checked = operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  if (!(checked > 0 && checked < 2 ** 31)) throw new RangeError(`operationTimeoutMs must be > 0, got ${String(operationTimeoutMs)}`);
  return checked;
}

/** The `lock` option as the engine takes it: milliseconds, defaults filled in. */
export function lockTerms(option: CacheOptions['lock']): EngineOptions['lock'] {
  const lock = option ?? {};
  return lock && { ageMs: timeoutToMs(lock.timeout, 10_000, 'lock.timeout') || 10_000, waitMs: lockWaitMs(lock.waitMs) };
}

function lockWaitMs(waitMs: unknown): number {
  if (waitMs === undefined) return 5000;
  if (typeof waitMs !== 'number' || !(waitMs > 0 && waitMs < 2 ** 31)) {
    throw new RangeError(`lock.waitMs must be a number of milliseconds > 0, got ${String(waitMs)}`);
  }
  return waitMs;
}

export function checkedCallback<F>(callback: F | undefined, option: string): F | undefined {
  if (callback !== undefined && typeof callback !== 'function') throw new TypeError(`${option} must be a function, got ${typeof callback}`);
  return callback;
}

export function checkedKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new TypeError(`cache key must be a non-empty string, got ${String(key)}`);
  return key;
}

/** `timeout` (seconds, a duration string, or `SetOptions`) of an entry under `key` as milliseconds and checked tags. */
export function entryTerms(key: string, timeout: Timeout | SetOptions, defaultTimeoutMs: number): { ttlMs: number; tags?: readonly string[] } {
  checkedKey(key);
  const options = timeout !== null && typeof timeout === 'object' ? timeout : { timeout };
  const ttlMs = timeoutToMs(options.timeout, defaultTimeoutMs, `timeout of key ${JSON.stringify(key)}`);
  if (options.tags) expectTags();
  return { ttlMs, tags: options.tags && validateTags(options.tags, `key ${JSON.stringify(key)}`) };
}
