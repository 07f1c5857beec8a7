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
