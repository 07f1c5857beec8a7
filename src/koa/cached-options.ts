import type { Context } from 'koa';
import type { Engine } from '../core/engine';
import { checkedStatePaths } from '../core/state-reads';
import { staleTerms } from '../core/value-computation';
import { timeoutToMs, type Timeout } from '../core/timeout';
import { DEFAULT_RESPONSE_KEY_PREFIX } from './response-key';

/** Options of `cache.cached()`. Durations are seconds (or strings like `'5m'`), as everywhere. */
export interface CachedOptions {
  /** How long a response stays fresh; a `CachedResponse` may override it. `0` = never expires. Default: the cache's. */
  timeout?: Timeout;
  /** Whether the query string is part of the key (normalised: parameter order does not matter). Default true. */
  queryString?: boolean;
  /** What keys start with, or a function of the request giving it. Default `'response:'`. */
  keyPrefix?: string | ((ctx: Context) => string);
  /**
   * The key (after `keyPrefix`) instead of path + query, e.g. with a hash of a POST body. The host,
   * the protocol and the request facts the route reads still split it (see `shareAcrossHosts`).
   */
  makeCacheKey?: (ctx: Context) => string;
  /**
   * Request headers that split the entry, like a `Vary` the response did not send. Headers the
   * route reads while it computes (`ctx.get`, `ctx.headers`, `ctx.accepts`…) split it anyway.
   */
  varyHeaders?: readonly string[];
  /**
   * Cookies that split the entry although nothing reads them. Cookies read while the response is
   * computed, or before `cached()` ran (an authentication or session middleware), split it anyway.
   */
  varyCookies?: readonly string[];
  /**
   * Paths of `ctx.state` that are the same for every visitor (`'site'`, `'nav.items'`): reading them
   * does not split the entry. Everything else the route and its templates read of `ctx.state` does.
   */
  sharedState?: readonly string[];
  /** Cookies that never split the entry, even when read (analytics, consent banners). */
  ignoreCookies?: readonly string[];
  /** The route answers the same for every host: the Host is not part of the key. Default false. */
  shareAcrossHosts?: boolean;
  /** Methods whose responses may be stored. Default GET and HEAD; others need `makeCacheKey`. */
  methods?: readonly string[];
  /** Statuses whose responses may be stored. Default `[200]`. */
  statuses?: readonly number[];
  /** Share responses to requests carrying `Authorization` (bypassed by default: they are usually per user). */
  allowAuthorization?: boolean;
  /** When true for a request, the cache is skipped entirely: no lookup, no store. */
  unless?: (ctx: Context) => boolean;
  /** When true for a request, the route runs and its response replaces the stored one. */
  forcedUpdate?: (ctx: Context) => boolean;
  /** Largest body stored, in bytes; larger responses (streams included) are sent, not stored. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Header saying MISS, HIT, STALE or BYPASS; `false` for none. Default `'X-Cache'`. */
  cacheStatusHeader?: string | false;
  /**
   * Responses carry `Surrogate-Key` (Fastly; space-separated) and `Cache-Tag` (Cloudflare;
   * comma-separated): the `CachedResponse` tags and those of every fragment rendered into the page
   * (through `ctx.render`), on a miss and on a hit. Purge them with `onInvalidate`. Default false.
   */
  surrogateKeys?: boolean;
  /** After expiry, serve the stale response this long while one background refresh runs. Default 0. */
  staleWhileRevalidate?: Timeout;
  /** A hit this close to expiry starts a background refresh, so a busy route never expires. Default 0. */
  refreshMargin?: Timeout;
  /** After expiry, serve the last good response this long when recomputing throws or answers 5xx. Default 0. */
  staleIfError?: Timeout;
  /** Background refreshes of this middleware that may run at once. Default 4. */
  refreshConcurrency?: number;
  /**
   * With a stale response at hand (within `staleIfError` past expiry), how long a request waits for
   * the route to recompute it: past this it gets the stale response, and the refresh goes on in the
   * background and stores its result (FusionCache's soft timeout). Default: waits.
   */
  softTimeoutMs?: number;
  /**
   * How long a request waits at most for the route: then the stale response if one is kept, else a
   * 504 error naming the route. A response that came too late is not stored. Default: waits.
   */
  hardTimeoutMs?: number;
}

/** `CachedOptions` checked, with defaults applied and durations in milliseconds. */
export interface CachedConfig {
  timeoutMs: number;
  queryString: boolean;
  keyPrefix: (ctx: Context) => string;
  makeCacheKey?: (ctx: Context) => string;
  varyHeaders: string[];
  varyCookies: string[];
  sharedState: readonly string[];
  ignoreCookies: ReadonlySet<string>;
  shareAcrossHosts: boolean;
  surrogateKeys: boolean;
  methods: ReadonlySet<string>;
  statuses: ReadonlySet<number>;
  allowAuthorization: boolean;
  unless?: (ctx: Context) => boolean;
  forcedUpdate?: (ctx: Context) => boolean;
  maxBodyBytes: number;
  cacheStatusHeader: string | false;
  staleWhileRevalidateMs: number;
  refreshMarginMs: number;
  staleIfErrorMs: number;
  refreshConcurrency: number;
  softTimeoutMs?: number;
  hardTimeoutMs?: number;
}

const OPTION_NAMES = new Set<string>([
  'timeout', 'queryString', 'keyPrefix', 'makeCacheKey', 'varyHeaders', 'varyCookies', 'sharedState', 'ignoreCookies', 'shareAcrossHosts',
  'surrogateKeys', 'methods', 'statuses', 'allowAuthorization',
  'unless', 'forcedUpdate', 'maxBodyBytes', 'cacheStatusHeader', 'staleWhileRevalidate', 'refreshMargin',
  'staleIfError', 'refreshConcurrency', 'softTimeoutMs', 'hardTimeoutMs',
] satisfies (keyof CachedOptions)[]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks `options`, throwing an error that names the offending option. */
export function resolveCachedOptions(engine: Engine, options: CachedOptions): CachedConfig {
  if (typeof options !== 'object' || options === null) throw new TypeError(`cached() options must be an object, got ${String(options)}`);
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new TypeError(`cached() has no option ${JSON.stringify(name)}`);
  }
  const prefix = options.keyPrefix ?? DEFAULT_RESPONSE_KEY_PREFIX;
  if (typeof prefix !== 'function' && (typeof prefix !== 'string' || prefix === '')) {
    throw new TypeError(`keyPrefix must be a non-empty string or a function of ctx, got ${JSON.stringify(prefix)}`);
  }
  const methods = stringList(options.methods ?? ['GET', 'HEAD'], 'methods').map((method) => method.toUpperCase());
  const makeCacheKey = optionalFunction(options.makeCacheKey, 'makeCacheKey');
  const unsafe = methods.filter((method) => method !== 'GET' && method !== 'HEAD');
  if (unsafe.length > 0 && !makeCacheKey) {
    throw new TypeError(`methods ${unsafe.join(', ')} need makeCacheKey: the URL alone does not identify such a response`);
  }
  return {
    timeoutMs: timeoutToMs(options.timeout, engine.defaultTimeoutMs, 'timeout'),
    queryString: booleanOption(options.queryString, true, 'queryString'),
    keyPrefix: typeof prefix === 'function' ? prefix : () => prefix,
    makeCacheKey,
    varyHeaders: stringList(options.varyHeaders ?? [], 'varyHeaders').map((name) => {
      if (!HEADER_NAME.test(name)) throw new TypeError(`varyHeaders: ${JSON.stringify(name)} is not a header name`);
      return name.toLowerCase();
    }),
    varyCookies: stringList(options.varyCookies ?? [], 'varyCookies').map((name) => cookieName(name, 'varyCookies')),
    sharedState: checkedStatePaths(options.sharedState, 'sharedState'),
    ignoreCookies: new Set(stringList(options.ignoreCookies ?? [], 'ignoreCookies').map((name) => cookieName(name, 'ignoreCookies'))),
    shareAcrossHosts: booleanOption(options.shareAcrossHosts, false, 'shareAcrossHosts'),
    surrogateKeys: booleanOption(options.surrogateKeys, false, 'surrogateKeys'),
    methods: new Set(methods),
    statuses: new Set(statusList(options.statuses ?? [200])),
    allowAuthorization: booleanOption(options.allowAuthorization, false, 'allowAuthorization'),
    unless: optionalFunction(options.unless, 'unless'),
    forcedUpdate: optionalFunction(options.forcedUpdate, 'forcedUpdate'),
    maxBodyBytes: count(options.maxBodyBytes ?? 1024 * 1024, 0, 'maxBodyBytes'),
    cacheStatusHeader: statusHeader(options.cacheStatusHeader ?? 'X-Cache'),
    staleWhileRevalidateMs: timeoutToMs(options.staleWhileRevalidate, 0, 'staleWhileRevalidate'),
    refreshMarginMs: timeoutToMs(options.refreshMargin, 0, 'refreshMargin'),
    staleIfErrorMs: timeoutToMs(options.staleIfError, 0, 'staleIfError'),
    refreshConcurrency: count(options.refreshConcurrency ?? 4, 1, 'refreshConcurrency'),
    softTimeoutMs: staleTerms(options, 'cached()').softTimeoutMs,
    hardTimeoutMs: options.hardTimeoutMs,
  };
}

function cookieName(name: string, option: string): string {
  if (!/^[^\s;,=]+$/.test(name)) throw new TypeError(`${option}: ${JSON.stringify(name)} is not a cookie name`);
  return name;
}

function booleanOption(value: unknown, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function optionalFunction<F>(value: F | undefined, name: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`${name} must be a function of ctx, got ${typeof value}`);
  return value;
}

function stringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`${name} must be an array of non-empty strings, got ${JSON.stringify(value)}`);
  }
  return value as string[];
}

function statusList(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((item) => !Number.isInteger(item) || item < 200 || item > 599)) {
    throw new RangeError(`statuses must be a non-empty array of HTTP status codes 200-599, got ${JSON.stringify(value)}`);
  }
  return value as number[];
}

function count(value: unknown, min: number, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  return value as number;
}

function statusHeader(value: unknown): string | false {
  if (value === false) return false;
  if (typeof value !== 'string' || !HEADER_NAME.test(value)) {
    throw new TypeError(`cacheStatusHeader must be a header name or false, got ${JSON.stringify(value)}`);
  }
  return value;
}
