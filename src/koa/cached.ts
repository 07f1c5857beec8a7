import type { Context, Middleware, Next } from 'koa';
import type { Cache } from '../cache';
import { digestIfLong } from '../keys';
import { timeoutToMs } from '../timeout';
import { unwrapCachedResponse } from './cached-response';
import { resolveCachedOptions, type CachedOptions } from './cached-options';
import { captureResponse, snapshotHeaders } from './capture';
import { RefreshQueue } from './refresh-queue';
import { isReplay, replay } from './replay';
import { bodyBytes } from './response-body';
import { baseKey, normaliseQuery, variantKey } from './response-key';
import { serveStored, type CacheStatus } from './serve';
import { bypassesCache, isStorableResponse, responseVary } from './storability';
import { decodeStored, encodeResponse, encodeVaryIndex, isVaryIndex, newVaryIndex, type StoredResponse, type VaryIndex } from './stored-entry';

/**
 * Where this request's response lives (or would): `key` is its variant's key once the index is
 * known, else the base key. A response is only ever found through an index.
 */
interface Found {
  base: string;
  key: string;
  index?: VaryIndex;
  response?: StoredResponse;
}

/** What one run of the route gave, as shared with the requests that waited for it. */
type Computed =
  | { kind: 'cacheable'; response: StoredResponse; index: VaryIndex; variantKey: string }
  | { kind: 'uncacheable'; serverError: boolean };

/**
 * Koa middleware caching whole responses of a route or router; see docs/response-caching.md.
 * A hit on the memory store is answered synchronously; concurrent misses of one key run the route
 * once; store failures are reported through the cache's `'error'` event and never fail a request.
 */
export function cached(cache: Cache, options: CachedOptions = {}): Middleware {
  const config = resolveCachedOptions(cache, options);
  const refreshes = new RefreshQueue(config.refreshConcurrency);
  const setCacheStatus = (ctx: Context, status: CacheStatus) => {
    if (config.cacheStatusHeader) ctx.set(config.cacheStatusHeader, status);
  };
  const serve = (ctx: Context, response: StoredResponse, status: CacheStatus, now?: number) =>
    serveStored(ctx, response, status, config.cacheStatusHeader, now);

  function keyOf(ctx: Context): string {
    const prefix = checkedString(config.keyPrefix(ctx), 'keyPrefix');
    if (!config.makeCacheKey) return baseKey(prefix, ctx.path, config.queryString ? normaliseQuery(ctx.querystring) : '');
    // GET and HEAD share entries; any other method the route stores gets keys of its own.
    const method = ctx.method === 'GET' || ctx.method === 'HEAD' ? '' : `${ctx.method} `;
    return digestIfLong(prefix + method + checkedString(config.makeCacheKey(ctx), 'makeCacheKey'));
  }

  function findLocal(ctx: Context, base: string): Found {
    const index = decodeStored(cache, base, cache.peek(base));
    if (!isVaryIndex(index)) return { base, key: base };
    const key = variantKey(base, index, requestHeader(ctx));
    return { base, key, index, response: asResponse(decodeStored(cache, key, cache.peek(key))) };
  }

  async function findShared(ctx: Context, base: string): Promise<Found> {
    const index = decodeStored(cache, base, await cache.get(base));
    if (!isVaryIndex(index)) return { base, key: base };
    const key = variantKey(base, index, requestHeader(ctx));
    return { base, key, index, response: asResponse(decodeStored(cache, key, await cache.get(key))) };
  }

  /** Runs the route on `ctx` and stores its response if it may be shared. */
  async function computeAndStore(ctx: Context, next: Next, found: Found): Promise<Computed> {
    const before = snapshotHeaders(ctx);
    const declared = unwrapCachedResponse(ctx, await next());
    const body = isStorableResponse(ctx, config.statuses) ? await bodyBytes(ctx, config.maxBodyBytes) : undefined;
    if (!body) return { kind: 'uncacheable', serverError: ctx.status >= 500 };
    const vary = [...new Set([...(config.makeCacheKey ? [] : ['host']), ...config.varyHeaders, ...responseVary(ctx)])].sort();
    // Reusing the index's generation keeps the other variants reachable; new headers start afresh.
    const index = found.index && found.index.vary.join() === vary.join() ? found.index : newVaryIndex(vary);
    const key = variantKey(found.base, index, requestHeader(ctx));
    const freshMs = timeoutToMs(declared?.timeout, config.timeoutMs, 'timeout of CachedResponse');
    const response = captureResponse(ctx, body, before, freshMs, config.cacheStatusHeader);
    // Kept past freshness for as long as a stale copy may still be served; freshUntil decides.
    const storeSeconds = freshMs === 0 ? 0 : (freshMs + Math.max(config.staleWhileRevalidateMs, config.staleIfErrorMs)) / 1000;
    // The variant before the index: whoever finds the index finds the variant.
    await cache.set(key, encodeResponse(response), { timeout: storeSeconds, tags: declared?.tags });
    await cache.set(found.base, encodeVaryIndex(index), storeSeconds);
    return { kind: 'cacheable', response, index, variantKey: key };
  }

  /** Runs the route once for all concurrent misses of the key; falls back to `fallback` on failure. */
  async function answerMiss(ctx: Context, next: Next, found: Found, fallback: StoredResponse | undefined): Promise<void> {
    let ran = false;
    const compute = () => {
      ran = true;
      return computeAndStore(ctx, next, found);
    };
    let computed: Computed;
    try {
      computed = await cache.coalesce(found.key, compute);
      // A waiter may not take a response meant for another variant, or one that was not shareable.
      const usable =
        computed.kind === 'cacheable'
          ? variantKey(found.base, computed.index, requestHeader(ctx)) === computed.variantKey
          : computed.serverError && fallback !== undefined;
      if (!ran && !usable) computed = await compute();
    } catch (err) {
      if (!fallback) throw err;
      ctx.app.emit('error', err, ctx);
      return serve(ctx, fallback, 'STALE');
    }
    if (computed.kind === 'cacheable') return serve(ctx, computed.response, 'MISS');
    if (computed.serverError && fallback) return serve(ctx, fallback, 'STALE');
    setCacheStatus(ctx, 'MISS');
  }

  /** Replays this request through the app in the background; the replay recomputes and stores. */
  function refreshInBackground(ctx: Context, found: Found): void {
    const headers: Record<string, string> = { host: ctx.host };
    for (const name of found.index!.vary) {
      const value = ctx.get(name);
      if (name !== 'host' && value !== '') headers[name] = value;
    }
    refreshes.schedule(found.key, () => replay(cache, ctx.app, ctx.originalUrl, headers, 'refresh'));
  }

  return async function cachedResponse(ctx, next) {
    if (bypassesCache(ctx, config)) {
      setCacheStatus(ctx, 'BYPASS');
      unwrapCachedResponse(ctx, await next());
      return;
    }
    const base = keyOf(ctx);
    const found = cache.isLocal ? findLocal(ctx, base) : await findShared(ctx, base);
    const recompute = isReplay(ctx.req) || config.forcedUpdate?.(ctx) === true;
    let fallback: StoredResponse | undefined;
    if (found.response && !recompute) {
      const { response } = found;
      const now = Date.now();
      if (response.freshUntil === 0 || now < response.freshUntil) {
        if (response.freshUntil !== 0 && now >= response.freshUntil - config.refreshMarginMs) refreshInBackground(ctx, found);
        return serve(ctx, response, 'HIT', now);
      }
      if (now < response.freshUntil + config.staleWhileRevalidateMs) {
        refreshInBackground(ctx, found);
        return serve(ctx, response, 'STALE', now);
      }
      if (now < response.freshUntil + config.staleIfErrorMs) fallback = response;
    }
    await answerMiss(ctx, next, found, fallback);
  };
}

/** A request's value of a header the entry varies by (`host` as Koa sees it, lower-cased). */
function requestHeader(ctx: Context): (name: string) => string {
  return (name) => (name === 'host' ? requestHost(ctx).toLowerCase() : ctx.get(name));
}

/** `ctx.host`, read straight from the Host header when nothing else can apply (it is on every hit). */
function requestHost(ctx: Context): string {
  const direct = !ctx.app.proxy && ctx.req.httpVersionMajor < 2 && ctx.req.headers.host;
  return direct && !direct.includes(',') ? direct : ctx.host;
}

function asResponse(entry: ReturnType<typeof decodeStored>): StoredResponse | undefined {
  return entry === undefined || isVaryIndex(entry) ? undefined : entry;
}

function checkedString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${option} must return a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}
