import type { Context, Middleware, Next } from 'koa';
import { collectDependencies, missedTags, newDependencies, type Dependencies } from '../core/dependencies';
import { digestIfLong } from '../core/keys';
import { isStateName, pathText, StateTracker } from '../core/state-reads';
import { timeoutToMs } from '../core/timeout';
import { unwrapCachedResponse } from './cached-response';
import { resolveCachedOptions, type CachedConfig, type CachedOptions } from './cached-options';
import { captureResponse, snapshotHeaders } from './capture';
import { cookiesReadSoFar, derivedStateSeen, watchApp, watchKoaRequests } from './early-reads';
import { RefreshQueue } from './refresh-queue';
import { marks, PAGE, PAGE_SERVICES, STORING, TRACKER, type PageServices } from './rendered-page';
import { applyReplayFacts, isReplay, replay, replayStored } from './replay';
import { cookieVary, factsOf, hasCookies, PROTOCOL, varyValue } from './request-facts';
import { watchReads, type RequestReads } from './request-reads';
import { storableBody } from './response-body';
import { trackRequestState } from './tracked-state';
import { baseKey, normaliseQuery, variantKey } from './response-key';
import { serveStored, type CacheStatus } from './serve';
import { surrogateHeaders } from './surrogate-keys';
import { bypassesCache, isStorableResponse, responseVary } from './storability';
import {
  encodeResponse,
  encodeVaryIndex,
  isVaryIndex,
  newVaryIndex,
  withVariant,
  type StoredResponse,
  type StoredResponses,
  type VaryIndex,
} from './stored-entry';

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
  | { kind: 'uncacheable'; serverError: boolean; bypass?: string };

/**
 * Koa middleware caching whole responses of a route or router; see docs/responses.md.
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
  const { engine } = responses;
  const config = resolveCachedOptions(engine, options);
  watchKoaRequests();
  const refreshes = new RefreshQueue(config.refreshConcurrency, engine.clock);
  const setCacheStatus = (ctx: Context, status: CacheStatus) => {
    if (config.cacheStatusHeader) ctx.set(config.cacheStatusHeader, status);
  };
  /** Runs the route without the cache: what it reads cannot be keyed safely (`reason`). */
  const pass = async (ctx: Context, next: Next, key: string, reason: string) => {
    unwrapCachedResponse(ctx, await next());
    bypassed(ctx, key, reason);
  };
  /** Counts (and warns once of) a response computed without the cache, and says so in its status header. */
  const bypassed = (ctx: Context, key: string, reason: string) => {
    engine.events.bypass('response', key, routeName(ctx) ?? ctx.path, reason);
    setCacheStatus(ctx, 'BYPASS');
  };
  /** Counts what a client's request got; the cache's own replays are counted as refreshes instead. */
  const count = (ctx: Context, status: Exclude<CacheStatus, 'BYPASS'>, key: string) => {
    if (!isReplay(ctx.req)) engine.events.record(OUTCOME[status], 'response', key, routeName(ctx));
  };
  /**
   * Answers from a stored response. One with `{% nocache %}` holes gets them filled for this request
   * (from its `ctx.state`, through `views()`); `live`: the route just rendered this response for
   * this very request, holes filled, and its body is served as it is.
   */
  const answer = (ctx: Context, key: string, response: StoredResponse, status: Exclude<CacheStatus, 'BYPASS'>, now?: number, live = false) => {
    count(ctx, status, key);
    // The response the route just made for this request is on ctx already: only the status header is added.
    if (live) return setCacheStatus(ctx, status);
    if (!response.holes) return serveStored(ctx, response, status, config.cacheStatusHeader, now ?? engine.clock.now());
    serveStored(ctx, response, status, config.cacheStatusHeader, now ?? engine.clock.now(), false);
    const filled = settled<string>((done) => marks(ctx)[PAGE_SERVICES]!.fill(ctx, response.body.toString(), response.holes!, done));
    if (!(filled instanceof Promise)) return void (ctx.body = filled);
    return filled.then((html) => void (ctx.body = html));
  };
  /** Whether a stored response may answer this request: what it needs of views() is there, and its template has not changed. */
  const servable = (ctx: Context, response: StoredResponse): boolean | Promise<boolean> => {
    if (!response.holes && !response.template) return true;
    const services = marks(ctx)[PAGE_SERVICES];
    if (!services) return false;
    return !response.template || templateUnchanged(services, response.template);
  };
  const valuesOf = (ctx: Context) => (name: string) => varyValue(ctx, name, config.ignoreCookies);

  function keyOf(ctx: Context): string {
    const prefix = checkedString(config.keyPrefix(ctx), 'keyPrefix');
    if (!config.makeCacheKey) return baseKey(prefix, ctx.path, config.queryString ? normaliseQuery(ctx.querystring) : '');
    // GET and HEAD share entries; any other method the route stores gets keys of its own.
    const method = ctx.method === 'GET' || ctx.method === 'HEAD' ? '' : `${ctx.method} `;
    return digestIfLong(prefix + method + checkedString(config.makeCacheKey(ctx), 'makeCacheKey'));
  }

  /** What process memory can answer synchronously: everything on the memory store, the L1 tier on Redis. */
  function findInMemory(ctx: Context, base: string, early: readonly string[]): Found {
    const index = responses.decode(base, engine.peek(base)?.value);
    if (!isVaryIndex(index)) return { base, key: base };
    const key = variantKey(base, index, valuesOf(ctx));
    if (!covers(index, early)) return { base, key, index };
    return { base, key, index, response: asResponse(responses.decode(key, engine.peek(key)?.value)) };
  }

  async function findShared(ctx: Context, base: string, early: readonly string[]): Promise<Found> {
    const index = responses.decode(base, (await engine.get(base))?.value);
    if (!isVaryIndex(index)) return { base, key: base };
    const key = variantKey(base, index, valuesOf(ctx));
    if (!covers(index, early)) return { base, key, index };
    return { base, key, index, response: asResponse(responses.decode(key, (await engine.get(key))?.value)) };
  }

  /**
   * Runs the route on `ctx`, learning what it depends on (request facts, `ctx.state` paths, the
   * tags of what it read), and stores its response if it may be shared.
   */
  async function computeAndStore(ctx: Context, next: Next, found: Found, early: readonly string[]): Promise<Computed> {
    const invalidationsBefore = engine.invalidations;
    const before = snapshotHeaders(ctx);
    // The state the index's paths had before the route could change it: the values this request looked up with.
    const stateBefore = new Map(found.index?.vary.filter(isStateName).map((name) => [name, valuesOf(ctx)(name)]));
    const dependencies = newDependencies();
    const tracker = new StateTracker(config.sharedState, dependencies.reads);
    const tagsMissedBefore = missedTags();
    const stopWatching = watchReads(ctx);
    let declared;
    let reads: RequestReads;
    const untrack = trackRequestState(ctx, tracker);
    marks(ctx)[STORING] = true;
    marks(ctx)[TRACKER] = tracker;
    try {
      declared = unwrapCachedResponse(ctx, await collectDependencies(dependencies, next));
    } finally {
      reads = stopWatching();
      marks(ctx)[STORING] = false;
      marks(ctx)[TRACKER] = undefined;
      untrack();
    }
    // A page ctx.render rendered (and nothing replaced since): its fragments' tags, holes, digest.
    const rendered = marks(ctx)[PAGE];
    const page = rendered && ctx.body === rendered.html ? rendered : undefined;
    if (config.surrogateKeys) setSurrogateKeys(ctx, [...(declared?.tags ?? []), ...(page?.tags ?? []), ...Object.keys(dependencies.tags)]);
    const unkeyable = dependencies.reads.unkeyable;
    if (unkeyable) return { kind: 'uncacheable', serverError: ctx.status >= 500, bypass: `${unkeyable.path} ${unkeyable.reason}` };
    const vary = varyOf(ctx, reads, config, early, dependencies);
    let body = vary && isStorableResponse(ctx, config.statuses) ? await storableBody(ctx, config.maxBodyBytes) : undefined;
    if (!vary || body === undefined) return { kind: 'uncacheable', serverError: ctx.status >= 500 };
    // Text is stored as it is: no bytes made of it, no base64 on the way in, nor on the way out.
    if (page?.stored) body = page.stored.html;
    // What other requests learned stays (their variants stay reachable); what this one read joins it.
    const learned = found.index ? [...new Set([...found.index.vary, ...vary])].sort() : vary;
    const known = found.index ? { ...found.index, vary: learned } : newVaryIndex(vary);
    const valueOf = (name: string) => dependencies.reads.values.get(name) ?? stateBefore.get(name) ?? valuesOf(ctx)(name);
    const key = variantKey(found.base, known, valueOf);
    const freshMs = timeoutToMs(declared?.timeout, config.timeoutMs, 'timeout of CachedResponse');
    const response = captureResponse(ctx, body, before, freshMs, config.cacheStatusHeader, engine.clock.now());
    if (page) response.template = { name: page.name, digest: page.digest };
    if (page?.stored) response.holes = page.stored.holes;
    // Its tags were only known once it was made: if a tag invalidation landed meanwhile, it may
    // show data from before it, so it is served but not stored. So is one whose tags were not all seen.
    const tagsUnknown = (declared?.tags && engine.invalidations !== invalidationsBefore) || missedTags() !== tagsMissedBefore;
    if (tagsUnknown) return { kind: 'cacheable', response, index: known, variantKey: key };
    // Kept past freshness for as long as a stale copy may still be served; freshUntil decides.
    const storeMs = freshMs === 0 ? 0 : freshMs + Math.max(config.staleWhileRevalidateMs, config.staleIfErrorMs);
    // The variant before the index: whoever finds the index finds the variant.
    if (await storeVariant(key, response, storeMs, declared?.tags, dependencies)) {
      engine.events.record('set', 'response', key, routeName(ctx));
      if (dependencies.reads.values.size > 0) engine.events.learned('response', routeName(ctx) ?? ctx.path, [...dependencies.reads.values.keys()].map(pathText));
      replayStored(ctx.req);
    }
    const index = withVariant(known, factsOf(ctx, learned, false));
    await engine.set(found.base, encodeVaryIndex(index), storeMs);
    return { kind: 'cacheable', response, index, variantKey: key };
  }

  /**
   * Runs the route once for all concurrent misses of the key (in this process; with Redis, in every
   * process taking the cache's lock). A request that waited takes the response only if it may be
   * shared with it (stored, of its variant); otherwise it joins or runs the next computation of its
   * own variant: per key, the route runs one request at a time, so an outage does not multiply
   * load. `fallback`: a stale response to serve when the route fails (staleIfError).
   */
  async function answerMiss(ctx: Context, next: Next, found: Found, recompute: boolean, fallback: StoredResponse | undefined, early: readonly string[]): Promise<void> {
    let key = found.key;
    for (;;) {
      let ran = false;
      const compute = (): Promise<Computed> => {
        ran = true;
        return computeAndStore(ctx, next, found, early);
      };
      // On a shared store another process may have stored it meanwhile (or while we waited for its lock).
      const lookup =
        recompute || engine.local
          ? undefined
          : async (): Promise<Computed | undefined> => {
              const again = await findShared(ctx, found.base, early);
              if (!again.response || !isFresh(again.response, engine.clock.now())) return undefined;
              return { kind: 'cacheable', response: again.response, index: again.index!, variantKey: again.key };
            };
      let computed: Computed;
      try {
        computed = await engine.coalesce(key, compute, lookup);
      } catch (err) {
        if (!ran) continue; // another request's failure is its own
        if (!fallback) throw err;
        ctx.app.emit('error', err, ctx);
        return answer(ctx, key, fallback, 'STALE');
      }
      if (ran) {
        if (computed.kind === 'cacheable') return answer(ctx, key, computed.response, 'MISS', undefined, true);
        if (computed.serverError && fallback) return answer(ctx, key, fallback, 'STALE');
        if (computed.bypass) return bypassed(ctx, key, computed.bypass);
        count(ctx, 'MISS', key);
        return setCacheStatus(ctx, 'MISS');
      }
      if (computed.kind === 'uncacheable') {
        if (computed.serverError && fallback) return answer(ctx, key, fallback, 'STALE');
        continue;
      }
      const mine = variantKey(found.base, computed.index, valuesOf(ctx));
      if (mine === computed.variantKey && covers(computed.index, early)) return answer(ctx, key, computed.response, 'MISS');
      // Another variant (it read facts this request has other values of): this one's own computation.
      found = { base: found.base, key: mine, index: computed.index };
      key = mine;
    }
  }

  /** Replays this request through the app in the background; the replay recomputes and stores. */
  function refreshInBackground(ctx: Context, found: Found): void {
    const facts = factsOf(ctx, found.index!.vary, true)!;
    const { app, originalUrl } = ctx;
    const name = routeName(ctx);
    refreshes.schedule(found.key, () => {
      engine.events.record('refresh', 'response', found.key, name);
      return replay(engine, app, originalUrl, facts, 'refresh');
    });
  }

  return async function cachedResponse(ctx, next) {
    if (bypassesCache(ctx, config)) {
      setCacheStatus(ctx, 'BYPASS');
      unwrapCachedResponse(ctx, await next());
      return;
    }
    watchApp(ctx);
    // Cookies read before the cache ran split the entry; unknown when the app was not watched yet.
    const readBefore = cookiesReadSoFar(ctx, config.ignoreCookies);
    if (!readBefore && hasCookies(ctx, config.ignoreCookies) && !derivedStateSeen(ctx)) {
      return pass(ctx, next, keyOf(ctx), 'its cookies may have been read before the cache watched this app (its first request)');
    }
    const early = readBefore ?? NONE;
    const replayed = isReplay(ctx.req);
    if (replayed) applyReplayFacts(ctx);
    const base = keyOf(ctx);
    let found = findInMemory(ctx, base, early);
    if (!found.response && !engine.local) found = await findShared(ctx, base, early);
    const recompute = replayed || config.forcedUpdate?.(ctx) === true;
    let fallback: StoredResponse | undefined;
    // Synchronous unless the page's template must be looked at: a hit stays on this stack.
    let usable = found.response !== undefined && !recompute && servable(ctx, found.response);
    if (usable instanceof Promise) usable = await usable;
    if (found.response && usable) {
      const { response } = found;
      const now = engine.clock.now();
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
    // Only GET stores: a HEAD response (often without a body) must never become the GET entry.
    if (ctx.method === 'HEAD') {
      unwrapCachedResponse(ctx, await next());
      count(ctx, 'MISS', found.key);
      return setCacheStatus(ctx, 'MISS');
    }
    await answerMiss(ctx, next, found, recompute, fallback, early);
  };

  /**
   * Stores a response under the tag versions it depends on: those the route declared (current
   * now) and those of everything it read (at the versions it read them).
   */
  async function storeVariant(key: string, response: StoredResponse, storeMs: number, declared: readonly string[] | undefined, dependencies: Dependencies): Promise<boolean> {
    const data = encodeResponse(response);
    if (Object.keys(dependencies.tags).length === 0) return engine.set(key, data, storeMs, declared);
    const own = declared ? await engine.tagVersions(declared, storeMs) : {};
    return own !== undefined && engine.write(key, { value: data, tags: { ...own, ...dependencies.tags } }, storeMs);
  }
}

const NONE: readonly string[] = [];

/** Whether `index` varies by every cookie read before the cache ran (the whole Cookie header covers them all). */
function covers(index: VaryIndex, early: readonly string[]): boolean {
  return early.length === 0 || index.vary.includes('cookie') || early.every((name) => index.vary.includes(name));
}

const OUTCOME = { HIT: 'hit', STALE: 'stale', MISS: 'miss' } as const;

/** Sets `Surrogate-Key` and `Cache-Tag` for `tags`, reporting the tags the CDNs' limits leave out. */
function setSurrogateKeys(ctx: Context, tags: string[]): void {
  if (tags.length === 0) return;
  const { surrogateKey, cacheTag, dropped } = surrogateHeaders(tags);
  if (surrogateKey !== '') ctx.set({ 'Surrogate-Key': surrogateKey, 'Cache-Tag': cacheTag });
  if (dropped > 0) {
    ctx.app.emit('error', new Error(`surrogateKeys: ${dropped} tag(s) left out of Surrogate-Key/Cache-Tag (longer than 1024 bytes, with whitespace or commas, or past 16 KiB)`), ctx);
  }
}

/** Whether `template`'s digest is still the one the running templates give. */
function templateUnchanged(services: PageServices, template: { name: string; digest: string }): boolean | Promise<boolean> {
  const digest = settled<string>((done) => services.digest(template.name, done));
  if (digest instanceof Promise) return digest.then((current) => current === template.digest, () => false);
  return digest === template.digest;
}

/**
 * The outcome of a callback-style call: the value itself when it called back at once (keeping a hit
 * synchronous), else a promise of it.
 */
function settled<T>(start: (done: (err: unknown, value?: T) => void) => void): T | Promise<T> {
  let outcome: { err: unknown; value?: T } | undefined;
  let later: ((err: unknown, value?: T) => void) | undefined;
  start((err, value) => (later ? later(err, value) : (outcome ??= { err, value })));
  if (outcome) {
    if (outcome.err) throw outcome.err;
    return outcome.value as T;
  }
  return new Promise<T>((resolve, reject) => (later = (err, value) => (err ? reject(err) : resolve(value as T))));
}

/**
 * What the response just computed varies by (see request-facts.ts): the host (unless shared across
 * hosts) and protocol, the route's `varyHeaders` and `varyCookies`, the response's `Vary`, the
 * cookies read before the cache ran (`early`), and what the route read — its headers, cookies and
 * paths of `ctx.state`, or every cookie but `ignoreCookies` when it read the whole Cookie header.
 * Undefined when it cannot be told (every header was read): not stored.
 */
function varyOf(ctx: Context, reads: RequestReads, config: CachedConfig, early: readonly string[], dependencies: Dependencies): string[] | undefined {
  if (reads.allHeaders) return undefined;
  const names = new Set<string>(config.shareAcrossHosts ? [PROTOCOL] : ['host', PROTOCOL]);
  for (const name of early) names.add(name);
  for (const name of dependencies.reads.values.keys()) names.add(name);
  const headers = [...config.varyHeaders, ...responseVary(ctx), ...reads.headers];
  for (const name of headers) if (name !== 'cookie') names.add(name);
  for (const cookie of [...reads.cookies, ...config.varyCookies]) if (!config.ignoreCookies.has(cookie)) names.add(cookieVary(cookie));
  // The whole Cookie header mattered: the declared cookies if any, else every cookie not ignored.
  if ((reads.cookieHeader || headers.includes('cookie')) && config.varyCookies.length === 0) names.add('cookie');
  return [...names].sort();
}

function isFresh(response: StoredResponse, now: number): boolean {
  return response.freshUntil === 0 || now < response.freshUntil;
}

/** The route pattern @koa/router matched (`/products/:id`), which names the counts in `cache.stats()`. */
function routeName(ctx: Context): string | undefined {
  const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof route === 'string' ? route : undefined;
}

function asResponse(entry: ReturnType<StoredResponses['decode']>): StoredResponse | undefined {
  return entry === undefined || isVaryIndex(entry) ? undefined : entry;
}

function checkedString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${option} must return a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}
