import type { Context, Middleware, Next } from 'koa';
import { digestIfLong } from '../core/keys';
import { timeoutToMs } from '../core/timeout';
import { unwrapCachedResponse } from './cached-response';
import { resolveCachedOptions, type CachedOptions } from './cached-options';
import { captureResponse, snapshotHeaders } from './capture';
import { RefreshQueue } from './refresh-queue';
import { isReplay, replay } from './replay';
import { bodyBytes } from './response-body';
import { baseKey, normaliseQuery, variantKey } from './response-key';
import { serveStored, type CacheStatus } from './serve';
import { bypassesCache, isStorableResponse, responseVary } from './storability';
import { encodeResponse, encodeVaryIndex, isVaryIndex, newVaryIndex, type StoredResponse, type StoredResponses, type VaryIndex } from './stored-entry';

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
 * Koa middleware caching whole responses of a route or router; see "Response caching" in README.md.
 * A hit found in process memory is answered synchronously; concurrent misses of one key run the
 * route once; store failures are reported through the cache's `'error'` event and never fail a
 * request.
 */
export function cached(responses: StoredResponses, options: CachedOptions = {}): Middleware {
  const { engine } = responses;
  const config = resolveCachedOptions(engine, options);
  const refreshes = new RefreshQueue(config.refreshConcurrency);
  const setCacheStatus = (ctx: Context, status: CacheStatus) => {
    if (config.cacheStatusHeader) ctx.set(config.cacheStatusHeader, status);
  };
  /** Counts what a client's request got; the cache's own replays are counted as refreshes instead. */
  const count = (ctx: Context, status: Exclude<CacheStatus, 'BYPASS'>, key: string) => {
    if (!isReplay(ctx.req)) engine.events.record(OUTCOME[status], 'response', key, routeName(ctx));
  };
  const answer = (ctx: Context, key: string, response: StoredResponse, status: Exclude<CacheStatus, 'BYPASS'>, now?: number) => {
    count(ctx, status, key);
    serveStored(ctx, response, status, config.cacheStatusHeader, now);
  };

  function keyOf(ctx: Context): string {
    const prefix = checkedString(config.keyPrefix(ctx), 'keyPrefix');
    if (!config.makeCacheKey) return baseKey(prefix, ctx.path, config.queryString ? normaliseQuery(ctx.querystring) : '');
    // GET and HEAD share entries; any other method the route stores gets keys of its own.
    const method = ctx.method === 'GET' || ctx.method === 'HEAD' ? '' : `${ctx.method} `;
    return digestIfLong(prefix + method + checkedString(config.makeCacheKey(ctx), 'makeCacheKey'));
  }

  /** What process memory can answer synchronously: everything on the memory store, the L1 tier on Redis. */
  function findInMemory(ctx: Context, base: string): Found {
    const index = responses.decode(base, engine.peek(base)?.value);
    if (!isVaryIndex(index)) return { base, key: base };
    const key = variantKey(base, index, requestHeader(ctx));
    return { base, key, index, response: asResponse(responses.decode(key, engine.peek(key)?.value)) };
  }

  async function findShared(ctx: Context, base: string): Promise<Found> {
    const index = responses.decode(base, (await engine.get(base))?.value);
    if (!isVaryIndex(index)) return { base, key: base };
    const key = variantKey(base, index, requestHeader(ctx));
    return { base, key, index, response: asResponse(responses.decode(key, (await engine.get(key))?.value)) };
  }

  /** Runs the route on `ctx` and stores its response if it may be shared. */
  async function computeAndStore(ctx: Context, next: Next, found: Found): Promise<Computed> {
    const invalidationsBefore = engine.invalidations;
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
    const storeMs = freshMs === 0 ? 0 : freshMs + Math.max(config.staleWhileRevalidateMs, config.staleIfErrorMs);
    // Its tags were only known once it was made: if a tag invalidation landed meanwhile, it may
    // show data from before it, so it is served but not stored.
    if (declared?.tags && engine.invalidations !== invalidationsBefore) return { kind: 'cacheable', response, index, variantKey: key };
    // The variant before the index: whoever finds the index finds the variant.
    if (await engine.set(key, encodeResponse(response), storeMs, declared?.tags)) {
      engine.events.record('set', 'response', key, routeName(ctx));
    }
    await engine.set(found.base, encodeVaryIndex(index), storeMs);
    return { kind: 'cacheable', response, index, variantKey: key };
  }

  /**
   * Runs the route once for all concurrent misses of the key (in this process; with Redis, in every
   * process taking the cache's lock); falls back to `fallback` on failure.
   */
  async function answerMiss(ctx: Context, next: Next, found: Found, recompute: boolean, fallback: StoredResponse | undefined): Promise<void> {
    let ran = false;
    const compute = (): Promise<Computed> => {
      ran = true;
      return computeAndStore(ctx, next, found);
    };
    // On a shared store another process may have stored it meanwhile (or while we waited for its lock).
    const lookup =
      recompute || engine.local
        ? undefined
        : async (): Promise<Computed | undefined> => {
            const again = await findShared(ctx, found.base);
            if (!again.response || !isFresh(again.response, Date.now())) return undefined;
            return { kind: 'cacheable', response: again.response, index: again.index!, variantKey: again.key };
          };
    let computed: Computed;
    try {
      computed = await engine.coalesce(found.key, compute, lookup);
      // A waiter may not take a response meant for another variant, or one that was not shareable.
      const usable =
        computed.kind === 'cacheable'
          ? variantKey(found.base, computed.index, requestHeader(ctx)) === computed.variantKey
          : computed.serverError && fallback !== undefined;
      if (!ran && !usable) computed = await compute();
    } catch (err) {
      if (!fallback) throw err;
      ctx.app.emit('error', err, ctx);
      return answer(ctx, found.key, fallback, 'STALE');
    }
    if (computed.kind === 'cacheable') return answer(ctx, found.key, computed.response, 'MISS');
    if (computed.serverError && fallback) return answer(ctx, found.key, fallback, 'STALE');
    count(ctx, 'MISS', found.key);
    setCacheStatus(ctx, 'MISS');
  }

  /** Replays this request through the app in the background; the replay recomputes and stores. */
  function refreshInBackground(ctx: Context, found: Found): void {
    const headers: Record<string, string> = { host: ctx.host };
    for (const name of found.index!.vary) {
      const value = ctx.get(name);
      if (name !== 'host' && value !== '') headers[name] = value;
    }
    const { app, originalUrl } = ctx;
    const name = routeName(ctx);
    refreshes.schedule(found.key, () => {
      engine.events.record('refresh', 'response', found.key, name);
      return replay(engine, app, originalUrl, headers, 'refresh');
    });
  }

  return async function cachedResponse(ctx, next) {
    if (bypassesCache(ctx, config)) {
      setCacheStatus(ctx, 'BYPASS');
      unwrapCachedResponse(ctx, await next());
      return;
    }
    const base = keyOf(ctx);
    let found = findInMemory(ctx, base);
    if (!found.response && !engine.local) found = await findShared(ctx, base);
    const recompute = isReplay(ctx.req) || config.forcedUpdate?.(ctx) === true;
    let fallback: StoredResponse | undefined;
    if (found.response && !recompute) {
      const { response } = found;
      const now = Date.now();
      if (isFresh(response, now)) {
        if (response.freshUntil !== 0 && now >= response.freshUntil - config.refreshMarginMs) refreshInBackground(ctx, found);
        return answer(ctx, found.key, response, 'HIT', now);
      }
      if (now < response.freshUntil + config.staleWhileRevalidateMs) {
        refreshInBackground(ctx, found);
        return answer(ctx, found.key, response, 'STALE', now);
      }
      if (now < response.freshUntil + config.staleIfErrorMs) fallback = response;
    }
    await answerMiss(ctx, next, found, recompute, fallback);
  };
}

const OUTCOME = { HIT: 'hit', STALE: 'stale', MISS: 'miss' } as const;

function isFresh(response: StoredResponse, now: number): boolean {
  return response.freshUntil === 0 || now < response.freshUntil;
}

/** The route pattern @koa/router matched (`/products/:id`), which names the counts in `cache.stats()`. */
function routeName(ctx: Context): string | undefined {
  const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof route === 'string' ? route : undefined;
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

function asResponse(entry: ReturnType<StoredResponses['decode']>): StoredResponse | undefined {
  return entry === undefined || isVaryIndex(entry) ? undefined : entry;
}

function checkedString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${option} must return a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}
