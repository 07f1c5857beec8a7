/**
 * koa-fragment-cache: the whole public API. Durations are seconds (or strings like '5m') everywhere;
 * names ending in `Ms` are the only milliseconds.
 */
export { Cache, CacheStoreError, type CacheOptions, type SetOptions } from './cache';
export { UnstorableValueError } from './codec';
export { makeTemplateFragmentKey } from './keys';
export { CacheExtension } from './nunjucks/extension';
export { createEnvironment, type EnvironmentOptions } from './nunjucks/environment';
export { views } from './koa/views';
export type { Timeout } from './timeout';
export type { CacheKind, CacheStats, Counts } from './stats';
export type { Memoized, MemoizeOptions } from './functions/memoize';
export { CacheWaitTimeout } from './functions/wait-timeout';
export type { Refreshing, RefreshingOptions } from './functions/refreshing';
export type { WriteBehind, WriteBehindOptions, PushOptions } from './functions/write-behind';
export { CachedResponse, type CachedResponseOptions } from './koa/cached-response';
export type { CachedOptions } from './koa/cached-options';
export type { DeleteCachedOptions } from './koa/delete-cached';
export type { PeriodicRefresh, PeriodicRefreshOptions } from './koa/periodic-refresh';
export type { QueryInput } from './koa/response-key';
export { cacheMetrics, metricsMiddleware, type CacheMetrics, type CacheMetricsOptions } from './metrics';
