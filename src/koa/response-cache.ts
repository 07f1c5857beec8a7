import type { Context, Next } from 'koa';
import type { Writes } from '../core/compute';
import type { Engine } from '../core/engine';
import { traceRefresh } from '../core/tracing';
import { CacheWaitTimeout, settlesWithin } from '../core/wait-timeout';
import { ABSENT_STATE, pathText } from '../core/state-reads';
import { unwrapCachedResponse } from './cached-response';
import { resolveCachedOptions, type CachedConfig, type CachedOptions } from './cached-options';
import { computeEntry, writesOf, type Computed, type Miss } from './compute-entry';
import { cookiesReadSoFar, derivedStateSeen, watchApp, watchKoaRequests } from './early-reads';
import { pagesOf } from './page-link';
import { RefreshQueue } from './refresh-queue';
import { applyReplayFacts, isReplay, replay, replayStored } from './replay';
import { factsOf, hasCookies, varyValue } from './request-facts';
import { requestKey, variantKey } from './response-key';
import { ResponseLookup, type Found } from './response-lookup';
import { covers } from './response-vary';
import { serveStored, type CacheStatus } from './serve';
import { bypassesCache } from './storability';
import { isFresh, withVariant, type StoredResponse, type StoredResponses } from './stored-entry';

/**
 * The response cache of one `cached()` middleware (see cached.ts), step by step: `handle` looks the
 * request up, serves a fresh (or stale) stored response, or else misses: the route runs once for
 * the concurrent misses of a key (`#miss`), and its response is stored (`#store`) if it may be
 * shared. A hit found in process memory is answered on the request's stack.
 */
export class ResponseCache {
  readonly #engine: Engine;
  readonly #config: CachedConfig;
  readonly #refreshes: RefreshQueue;
  readonly #lookups: ResponseLookup;
  /** Requests answered past the hard timeout, whose route went on: their responses are not stored. */
  readonly #abandoned = new WeakSet<Context>();
  /** What every computation of this route is handed, made once. */
  readonly #entriesOf = (computed: Computed) => this.#entries(computed);
  readonly #storedOf = (computed: Computed) => this.#stored(computed as Computed & { kind: 'cacheable' });

  constructor(responses: StoredResponses, options: CachedOptions) {
    this.#engine = responses.engine;
    this.#config = resolveCachedOptions(this.#engine, options);
    this.#refreshes = new RefreshQueue(this.#config.refreshConcurrency, this.#engine.clock);
    this.#lookups = new ResponseLookup(responses, (ctx) => this.#valuesOf(ctx));
    watchKoaRequests();
  }

  /**
   * Answers one request: the lookup, then `#serve` a fresh or stale response (`#refresh`ing it in
   * the background), else `#miss`. A hit found in process memory is answered on this stack, with no
   * promise made (unless the page's template must be looked at).
   */
  handle(ctx: Context, next: Next): void | Promise<void> {
    const config = this.#config;
    if (bypassesCache(ctx, config)) return this.#pass(ctx, next);
    watchApp(ctx);
    // Cookies read before the cache ran split the entry; unknown when the app was not watched yet.
    const readBefore = cookiesReadSoFar(ctx, config.ignoreCookies);
    if (!readBefore && hasCookies(ctx, config.ignoreCookies) && !derivedStateSeen(ctx)) return this.#pass(ctx, next, requestKey(ctx, config));
    const early = readBefore ?? NONE;
    const replayed = isReplay(ctx.req);
    if (replayed) applyReplayFacts(ctx);
    const found = this.#lookups.find(ctx, requestKey(ctx, config), early);
    if (found instanceof Promise) return found.then((read) => this.#answer(ctx, next, read, early, replayed));
    return this.#answer(ctx, next, found, early, replayed);
  }

  /** Runs the app on without the cache: bypassed, or (`key`) its cookies may have been read before the cache watched this app. */
  async #pass(ctx: Context, next: Next, key?: string): Promise<void> {
    if (key === undefined) this.#setStatus(ctx, 'BYPASS');
    unwrapCachedResponse(ctx, await next());
    if (key !== undefined) this.#bypassed(ctx, key, 'its cookies may have been read before the cache watched this app (its first request)');
  }

  #answer(ctx: Context, next: Next, found: Found, early: readonly string[], replayed: boolean): void | Promise<void> {
    const recompute = replayed || this.#config.forcedUpdate?.(ctx) === true;
    // Synchronous unless the page's template must be looked at: a hit stays on this stack.
    const usable = found.response !== undefined && !recompute && this.#servable(ctx, found.response);
    if (usable instanceof Promise) return usable.then((ok) => this.#decide(ctx, next, found, early, recompute, ok));
    return this.#decide(ctx, next, found, early, recompute, usable);
  }

  #decide(ctx: Context, next: Next, found: Found, early: readonly string[], recompute: boolean, usable: boolean): void | Promise<void> {
    const config = this.#config;
    let fallback: StoredResponse | undefined;
    if (found.response && usable) {
      const { response } = found;
      const now = this.#engine.clock.now();
      if (found.invalidated) {
        void this.#refresh(ctx, found);
        return this.#serve(ctx, found.key, response, 'STALE', now);
      }
      if (isFresh(response, now)) {
        if (response.freshUntil !== 0 && now >= response.freshUntil - config.refreshMarginMs) this.#refresh(ctx, found);
        return this.#serve(ctx, found.key, response, 'HIT', now);
      }
      if (now < response.freshUntil + config.staleWhileRevalidateMs) {
        this.#refresh(ctx, found);
        return this.#serve(ctx, found.key, response, 'STALE', now);
      }
      if (now < response.freshUntil + config.staleIfErrorMs) fallback = response;
      if (fallback && config.softTimeoutMs !== undefined && ctx.method === 'GET') return this.#refreshWithin(ctx, found, fallback, config.softTimeoutMs, early);
    }
    // Only GET stores: a HEAD response (often without a body) must never become the GET entry.
    if (ctx.method === 'HEAD') return this.#head(ctx, next, found.key);
    return this.#miss({ ctx, next, early, recompute, fallback }, found);
  }

  async #head(ctx: Context, next: Next, key: string): Promise<void> {
    unwrapCachedResponse(ctx, await next());
    this.#count(ctx, 'MISS', key);
    this.#setStatus(ctx, 'MISS');
  }

  /** Whether a stored response may answer this request: what it needs of views() is there, and its template has not changed. */
  #servable(ctx: Context, response: StoredResponse): boolean | Promise<boolean> {
    if (!response.holes && !response.template) return true;
    const pages = pagesOf(ctx);
    if (!pages) return false;
    if (!response.template) return true;
    const { name, digest } = response.template;
    const current = pages.digest(name);
    return current instanceof Promise ? current.then((now) => now === digest, () => false) : current === digest;
  }

  /** Answers from a stored response. One with `{% nocache %}` holes gets them filled for this request (from its `ctx.state`, by views()). */
  #serve(ctx: Context, key: string, response: StoredResponse, status: Exclude<CacheStatus, 'BYPASS'>, now = this.#engine.clock.now()): void | Promise<void> {
    this.#count(ctx, status, key);
    if (!response.holes) return serveStored(ctx, response, status, this.#config.cacheStatusHeader, now);
    serveStored(ctx, response, status, this.#config.cacheStatusHeader, now, false);
    const filled = pagesOf(ctx)!.fill(ctx, response.body.toString(), response.holes);
    if (!(filled instanceof Promise)) return void (ctx.body = filled);
    return filled.then((html) => void (ctx.body = html));
  }

  /**
   * Runs the route once for all concurrent misses of the key (in this process; with Redis, in every
   * process taking the cache's lock). A request that waited takes the response only if it may be
   * shared with it (stored, of its variant); otherwise it misses again, joining or running the next
   * computation of its own variant: per key, the route runs one request at a time, so an outage
   * does not multiply load.
   */
  async #miss(miss: Miss, found: Found): Promise<void> {
    const { ctx, early, fallback } = miss;
    const name = routeName(ctx);
    let computed: Computed;
    try {
      computed = await this.#engine.getOrCompute<Computed>({
        kind: 'response',
        name,
        key: found.key,
        ttlMs: 0, // each entry carries its own lifetime, known once the route ran
        // On a shared store another process may have stored it meanwhile (or while we waited for its
        // lock); a recomputation reads only what was stored while it waited.
        lookup: this.#engine.local ? undefined : () => this.#readFresh(ctx, found.base, early),
        looked: miss.recompute,
        compute: () => this.#compute(miss, found),
        entries: this.#entriesOf,
        stored: this.#storedOf,
        hardTimeoutMs: this.#config.hardTimeoutMs,
        timeoutError:
          this.#config.hardTimeoutMs === undefined
            ? undefined
            : (waitedMs) => {
                // This request answers without the route's response: what the route makes of ctx later is not stored.
                this.#abandoned.add(ctx);
                return Object.assign(new CacheWaitTimeout(name ?? ctx.path, waitedMs, `route ${name ?? ctx.path}`), { status: 504, expose: false });
              },
      });
    } catch (err) {
      if (!(err instanceof CacheWaitTimeout) || !fallback) throw err;
      return this.#serve(ctx, found.key, fallback, 'STALE');
    }
    if (computed.by === ctx) return this.#answerComputed(ctx, found.key, computed, fallback);
    if (computed.kind === 'cacheable') {
      const mine = variantKey(found.base, computed.index, this.#valuesOf(ctx), false);
      if (mine === computed.variantKey && covers(computed.index, early)) return this.#serve(ctx, found.key, computed.response, 'MISS');
      // Another variant (it read facts this request has other values of): this one's own computation.
      return this.#miss(miss, { base: found.base, key: mine, index: computed.index });
    }
    // Another request's failure is its own.
    if (computed.kind === 'uncacheable' && computed.serverError && fallback) return this.#serve(ctx, found.key, fallback, 'STALE');
    return this.#miss(miss, found);
  }

  async #readFresh(ctx: Context, base: string, early: readonly string[]): Promise<Computed | undefined> {
    const found = await this.#lookups.read(ctx, base, early);
    if (!found.response || !isFresh(found.response, this.#engine.clock.now())) return undefined;
    return { kind: 'cacheable', response: found.response, index: found.index!, variantKey: found.key };
  }

  /** Answers the request the route just ran for: its response is on `ctx` already, holes filled. */
  #answerComputed(ctx: Context, key: string, computed: Computed, fallback: StoredResponse | undefined): void | Promise<void> {
    if (computed.kind === 'failed') {
      if (!fallback) throw computed.error;
      ctx.app.emit('error', computed.error, ctx);
      return this.#serve(ctx, key, fallback, 'STALE');
    }
    if (computed.kind === 'uncacheable') {
      if (computed.serverError && fallback) return this.#serve(ctx, key, fallback, 'STALE');
      if (computed.bypass) return this.#bypassed(ctx, key, computed.bypass);
    }
    this.#count(ctx, 'MISS', key);
    this.#setStatus(ctx, 'MISS');
  }

  /** Runs the route for this request and stores its response if it may be shared. A failure is this request's outcome, never another's. */
  async #compute({ ctx, next, early }: Miss, found: Found): Promise<Computed> {
    try {
      const computed = await computeEntry(ctx, next, found, early, this.#config, this.#engine);
      if (computed.kind === 'uncacheable') return { ...computed, by: ctx };
      const { entry } = computed;
      // Its tags were only known once it was made: one that may show data from before an invalidation is served, not stored.
      const index = withVariant(entry.index, factsOf(ctx, entry.index.vary, false));
      return { kind: 'cacheable', by: ctx, response: entry.response, index: computed.tagsUnknown ? entry.index : index, variantKey: entry.key, entry: computed.tagsUnknown ? undefined : entry };
    } catch (error) {
      return { kind: 'failed', by: ctx, error };
    }
  }

  /**
   * What storing a computed response writes (`engine.getOrCompute` writes it). The variant first,
   * under the tag versions it depends on (those the route declared, current now, and those of
   * everything it read, at the versions it read them), then the vary index naming it: whoever finds
   * the index finds the variant.
   */
  #entries(computed: Computed): Writes | undefined | Promise<Writes | undefined> {
    if (computed.kind !== 'cacheable' || !computed.entry || this.#abandoned.has(computed.by!)) return undefined;
    const { declaredTags, storeMs } = computed.entry;
    if (!declaredTags) return writesOf(computed.entry, computed.index, undefined);
    return this.#engine.tagVersions(declaredTags, storeMs).then((own) => own && writesOf(computed.entry!, computed.index, own));
  }

  #stored(computed: Computed & { kind: 'cacheable' }): void {
    const ctx = computed.by as Context;
    // A path this request lacked (a global's name, a guest's `user`) split nothing: not shown as a variation.
    const held = [...computed.entry!.dependencies.reads.values].filter(([, value]) => value !== ABSENT_STATE);
    if (held.length > 0) this.#engine.events.learned('response', routeName(ctx) ?? ctx.path, held.map(([name]) => pathText(name)));
    replayStored(ctx.req);
  }

  /**
   * The soft timeout: with a stale response at hand, the route recomputes it in the background
   * (one refresh per key); this request waits for it at most `softMs`, then gets the stale one.
   */
  async #refreshWithin(ctx: Context, found: Found, stale: StoredResponse, softMs: number, early: readonly string[]): Promise<void> {
    const refreshed = this.#refresh(ctx, found);
    if (refreshed && (await settlesWithin(refreshed, softMs))) {
      const again = await this.#lookups.find(ctx, found.base, early);
      if (again.response && isFresh(again.response, this.#engine.clock.now())) return this.#serve(ctx, again.key, again.response, 'MISS');
    } else if (refreshed) this.#engine.events.record('softTimeout', 'response', found.key, routeName(ctx));
    return this.#serve(ctx, found.key, stale, 'STALE');
  }

  /** Replays this request through the app in the background; the replay recomputes and stores. */
  #refresh(ctx: Context, found: Found): Promise<boolean> | undefined {
    const facts = factsOf(ctx, found.index!.vary, true)!;
    const { app, originalUrl } = ctx;
    const name = routeName(ctx);
    // Traced on koa-fragment-cache:refresh, as a child of this request's trace.
    return this.#refreshes.schedule(found.key, traceRefresh('response', name, found.key, () => {
      this.#engine.events.record('refresh', 'response', found.key, name);
      return replay(this.#engine, app, originalUrl, facts, 'refresh');
    }));
  }

  #valuesOf(ctx: Context): (name: string) => string {
    return (name) => varyValue(ctx, name, this.#config.ignoreCookies);
  }

  /** Counts (and warns once of) a response computed without the cache, and says so in its status header. */
  #bypassed(ctx: Context, key: string, reason: string): void {
    this.#engine.events.bypass('response', key, routeName(ctx) ?? ctx.path, reason);
    this.#setStatus(ctx, 'BYPASS');
  }

  /** Counts what a client's request got; the cache's own replays are counted as refreshes instead. */
  #count(ctx: Context, status: Exclude<CacheStatus, 'BYPASS'>, key: string): void {
    if (!isReplay(ctx.req)) this.#engine.events.record(OUTCOME[status], 'response', key, routeName(ctx));
  }

  #setStatus(ctx: Context, status: CacheStatus): void {
    if (this.#config.cacheStatusHeader) ctx.set(this.#config.cacheStatusHeader, status);
  }
}

const NONE: readonly string[] = [];


const OUTCOME = { HIT: 'hit', STALE: 'stale', MISS: 'miss' } as const;

/** The route pattern @koa/router matched (`/products/:id`), which names the counts in `cache.stats()`. */
function routeName(ctx: Context): string | undefined {
  const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof route === 'string' ? route : undefined;
}
