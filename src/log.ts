import createDebug from 'debug';
import type { EventEmitter } from 'node:events';

const NAMESPACE = 'koa-fragment-cache';
const KINDS = ['fragment', 'response', 'memoized', 'value'] as const;

/**
 * `DEBUG=koa-fragment-cache:*` logs one line per decision (hit, miss, stale, set, refresh, delete,
 * invalidate, lock wait, error), by kind: `koa-fragment-cache:fragment`, `:response`, `:memoized`,
 * `:value`, `:store`. Keys and names only, never cached content. Attached through the cache's
 * events, and only when a namespace is enabled, so it costs nothing otherwise.
 */
export function attachDebugLog(cache: EventEmitter): void {
  const byKind = Object.fromEntries(KINDS.map((kind) => [kind, createDebug(`${NAMESPACE}:${kind}`)]));
  const store = createDebug(`${NAMESPACE}:store`);
  if (!KINDS.some((kind) => byKind[kind].enabled) && !store.enabled) return;
  for (const outcome of ['hit', 'miss', 'stale', 'set', 'refresh']) {
    cache.on(outcome, ({ key, kind, name }: { key: string; kind: (typeof KINDS)[number]; name?: string }) =>
      byKind[kind](`${outcome} ${name ?? ''} ${key}`.replace(/\s+/g, ' ')),
    );
  }
  cache.on('delete', ({ key }: { key: string }) => store(`delete ${key}`));
  cache.on('invalidate', ({ tags }: { tags: string[] }) => store(`invalidate tags ${tags.join(', ')}`));
  cache.on('lockWait', ({ key }: { key: string }) => store(`waiting for another process computing ${key}`));
  if (store.enabled) cache.on('error', (err: Error) => store(`error ${err.message}`));
}
