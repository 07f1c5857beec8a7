import createDebug from 'debug';
import type { EventEmitter } from 'node:events';
import type { CacheEvents } from './core/events';
import { KINDS, OUTCOMES } from './core/outcomes';

const NAMESPACE = 'koa-fragment-cache';

/**
 * `DEBUG=koa-fragment-cache:*` logs one line per decision (hit, miss, stale, set, refresh, delete,
 * invalidate, lock wait, error), by kind: `koa-fragment-cache:fragment`, `:response`, `:memoized`,
 * `:value`, `:store`. Keys and names only, never cached content. Attached through the cache's
 * events, and only when a namespace is enabled, so it costs nothing otherwise.
 */
export function attachDebugLog(cache: EventEmitter<CacheEvents>): void {
  const byKind = Object.fromEntries(KINDS.map((kind) => [kind, createDebug(`${NAMESPACE}:${kind}`)]));
  const store = createDebug(`${NAMESPACE}:store`);
  if (!KINDS.some((kind) => byKind[kind].enabled) && !store.enabled) return;
  for (const outcome of OUTCOMES) {
    cache.on(outcome, ({ key, kind, name }) => byKind[kind](`${outcome} ${name ?? ''} ${key}`.replace(/\s+/g, ' ')));
  }
  cache.on('delete', ({ key }) => store(`delete ${key}`));
  cache.on('invalidate', ({ tags }) => store(`invalidate tags ${tags.join(', ')}`));
  cache.on('lockWait', ({ key }) => store(`waiting for another process computing ${key}`));
  if (store.enabled) cache.on('error', (err) => store(`error ${err.message}`));
}
