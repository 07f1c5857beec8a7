import type { Context } from 'koa';

/**
 * Request headers whose value the cache itself accounts for (the key, conditional requests, the
 * framing of the message): a route reading them does not make its response differ per request.
 */
const ACCOUNTED_FOR = new Set([
  'host',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'cache-control',
  'pragma',
  'connection',
  'keep-alive',
  'content-length',
  'content-type',
  'transfer-encoding',
  'te',
  'upgrade',
  'expect',
]);
/** With `app.proxy`, Koa folds these into `ctx.host` and `ctx.protocol`, which are in the key. */
const FOLDED_BY_PROXY = new Set(['x-forwarded-host', 'x-forwarded-proto']);

/** What a route read of its request while it computed a response. */
export interface RequestReads {
  /** Request headers read (lower-case), other than those the cache accounts for. */
  headers: Set<string>;
  /** Cookies read through `ctx.cookies.get` (a koa-session `ctx.session` reads its cookie so). */
  cookies: Set<string>;
  /** The whole `Cookie` header was read (not through `ctx.cookies`): which cookie mattered is unknown. */
  cookieHeader: boolean;
  /** Every header was read (the headers object was enumerated): what mattered is unknown. */
  allHeaders: boolean;
}

/**
 * Watches what the route reads of the request while it runs: every read of a request header
 * (`ctx.get`, `ctx.headers`, `ctx.request.header`, `ctx.req.headers`, and Koa's own getters built on
 * them, such as `ctx.accepts`) and every cookie read through `ctx.cookies`. `stop()` restores the
 * request and gives what was read. Installed only while a response is computed, never on a hit.
 */
export function watchReads(ctx: Context): () => RequestReads {
  const reads: RequestReads = { headers: new Set(), cookies: new Set(), cookieHeader: false, allHeaders: false };
  const { req } = ctx;
  const headers = req.headers;
  const folded = ctx.app.proxy ? FOLDED_BY_PROXY : undefined;
  let inCookies = 0;
  const note = (name: string | symbol) => {
    if (typeof name !== 'string') return;
    if (name === 'cookie') {
      if (inCookies === 0) reads.cookieHeader = true;
    } else if (!ACCOUNTED_FOR.has(name) && !folded?.has(name)) {
      reads.headers.add(name);
    }
  };
  req.headers = new Proxy(headers, {
    get(target, name, receiver) {
      note(name);
      return Reflect.get(target, name, receiver);
    },
    has(target, name) {
      note(name);
      return Reflect.has(target, name);
    },
    ownKeys(target) {
      reads.allHeaders = true;
      return Reflect.ownKeys(target);
    },
  });
  const cookies = ctx.cookies;
  const ownGet = Object.prototype.hasOwnProperty.call(cookies, 'get') ? cookies.get : undefined;
  const get = cookies.get;
  cookies.get = function watchedGet(this: typeof cookies, name: string, options?: object) {
    reads.cookies.add(name);
    inCookies++;
    try {
      return get.call(this, name, options as never);
    } finally {
      inCookies--;
    }
  } as typeof cookies.get;
  return () => {
    req.headers = headers;
    if (ownGet) cookies.get = ownGet;
    else delete (cookies as { get?: unknown }).get;
    return reads;
  };
}
