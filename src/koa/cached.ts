import type { Middleware } from 'koa';
import type { CachedOptions } from './cached-options';
import { ResponseCache } from './response-cache';
import type { StoredResponses } from './stored-entry';

/**
 * Koa middleware caching whole responses of a route or router; see docs/responses.md and
 * response-cache.ts.
 *
 * - A hit found in process memory is answered synchronously; only GET requests store, HEAD ones are
 *   answered from GET entries.
 * - The key is the path and query (or `makeCacheKey`), the host, the protocol, every request fact
 *   the route read while computing (headers, cookies, paths of `ctx.state`) and every cookie read
 *   before `cached()` ran (early-reads.ts): a response that depended on Alice's cookie or on her
 *   `ctx.state.user.name` is only ever served to requests with that cookie value or that name.
 * - Concurrent misses of one key run the route once; the others take its response only if it may
 *   be shared with them, and otherwise run the route themselves, one at a time per key.
 * - Store failures are reported through the cache's `'error'` event and never fail a request.
 */
export function cached(responses: StoredResponses, options: CachedOptions = {}): Middleware {
  const cache = new ResponseCache(responses, options);
  return function cachedResponse(ctx, next) {
    return cache.handle(ctx, next);
  };
}
