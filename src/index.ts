/**
 * koa-fragment-cache: the whole public API (Prometheus metrics: `koa-fragment-cache/metrics`).
 * Lifetimes are seconds (or strings like '5m') everywhere; names ending in `Ms` are the only
 * milliseconds.
 */
export { Cache } from './cache';
export type { CacheOptions, GetOrSetOptions, InvalidateOptions, SetOptions } from './cache-options';
export type { StaleOptions } from './core/value-computation';
export { CacheStoreError, type CacheEvents, type StoreCallEvent } from './core/events';
export { KINDS, OUTCOMES, type CacheKind, type Outcome, type OutcomeEvent } from './core/outcomes';
export type { CacheStats, Counts, NamedCounts } from './core/stats';
export type { MemoryUse } from './core/memory-accounts';
export type { Clock } from './core/clock';
export type { Timeout } from './core/timeout';
export { UnstorableValueError } from './core/codec';
export { makeTemplateFragmentKey } from './core/keys';
export type { FencedIncrements, Store, StoreCapabilities, SyncAccess, SyncReads } from './store/store';
export {
  keyvStore,
  memoryStore,
  redisClusterStore,
  redisSentinelStore,
  redisStore,
  type MemoryStoreOptions,
  type RedisClusterStoreOptions,
  type RedisStoreOptions,
} from './store/factories';
export type { KeyvLike, StoreOption } from './store/create-store';
export type { RedisClientLike, RedisClusterConfig, RedisSentinelConfig } from './store/shapes';
export { CacheExtension, type CacheExtensionOptions } from './nunjucks/extension';
export { createEnvironment, type EnvironmentOptions } from './nunjucks/environment';
export { views } from './koa/views';
export { CachedResponse, type CachedResponseOptions } from './koa/cached-response';
export type { CachedOptions } from './koa/cached-options';
export type { DeleteCachedOptions } from './koa/delete-cached';
export type { PeriodicRefresh, PeriodicRefreshOptions } from './koa/periodic-refresh';
export type { QueryInput, QueryValue } from './koa/response-key';
export type { Memoized, MemoizeOptions } from './functions/memoize';
export type { MemoizedDecorator } from './functions/memoized-method';
export type { MemoizedCallable } from './functions/delete-memoized';
export { CacheWaitTimeout } from './core/wait-timeout';
export type { Refreshing, RefreshingOptions } from './functions/refreshing';
export { WriteBehindFullError, type WriteBehind, type WriteBehindOptions, type PushOptions } from './functions/write-behind';
export { TRACING_CHANNELS, type ComputeOutcome, type ComputeTrace, type LockTrace, type RefreshTrace, type Settled, type StoreTrace } from './core/tracing';
