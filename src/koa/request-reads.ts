import type { IncomingHttpHeaders } from 'node:http';
import type { Context } from 'koa';
import { watchJarReads, type JarReader } from './early-reads';

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
 * Per miss: one Proxy and its handler (this object); the cookie jar is watched through
 * early-reads.ts, so a route that reads no cookie makes no jar.
 */
export function watchReads(ctx: Context): () => RequestReads {
  const { req } = ctx;
  const headers = req.headers;
  const folded = ctx.app.proxy ? FOLDED_BY_PROXY : undefined;
  const jar = watchJarReads(ctx, (outer) => new Watch(folded, outer));
  const watch = (jar?.reader as Watch | undefined) ?? new Watch(folded, undefined);
  req.headers = new Proxy(headers, watch);
  const unwrap = jar ? undefined : wrapJar(ctx, watch);
  return () => {
    req.headers = headers;
    jar?.stop();
    unwrap?.();
    return watch.reads;
  };
}

/** Never added to: what a route that read no header or cookie read. */
const NONE: ReadonlySet<string> = new Set();

/** The Proxy handler on `req.headers` of one computation, and the reader of its cookie jar. */
class Watch implements ProxyHandler<IncomingHttpHeaders>, JarReader {
  readonly reads: RequestReads = { headers: NONE as Set<string>, cookies: NONE as Set<string>, cookieHeader: false, allHeaders: false };
  inJar = 0;

  constructor(
    readonly folded: ReadonlySet<string> | undefined,
    readonly outer: JarReader | undefined,
  ) {}

  get(target: IncomingHttpHeaders, name: string | symbol, receiver: unknown): unknown {
    this.note(name);
    return Reflect.get(target, name, receiver);
  }

  has(target: IncomingHttpHeaders, name: string | symbol): boolean {
    this.note(name);
    return Reflect.has(target, name);
  }

  ownKeys(target: IncomingHttpHeaders): ArrayLike<string | symbol> {
    this.reads.allHeaders = true;
    return Reflect.ownKeys(target);
  }

  jarRead(name: string): void {
    if (this.reads.cookies === NONE) this.reads.cookies = new Set();
    this.reads.cookies.add(name);
  }

  note(name: string | symbol): void {
    if (typeof name !== 'string') return;
    if (name === 'cookie') {
      if (this.inJar === 0) this.reads.cookieHeader = true;
    } else if (!ACCOUNTED_FOR.has(name) && !this.folded?.has(name)) {
      if (this.reads.headers === NONE) this.reads.headers = new Set();
      this.reads.headers.add(name);
    }
  }
}

/** A jar early-reads.ts does not watch (the first request of an app): its `get` wrapped while the route runs. */
function wrapJar(ctx: Context, watch: Watch): () => void {
  const cookies = ctx.cookies;
  const ownGet = Object.prototype.hasOwnProperty.call(cookies, 'get') ? cookies.get : undefined;
  const get = cookies.get;
  cookies.get = function watchedGet(this: typeof cookies, name: string, options?: object) {
    watch.jarRead(name);
    watch.inJar++;
    try {
      return get.call(this, name, options as never);
    } finally {
      watch.inJar--;
    }
  } as typeof cookies.get;
  return () => {
    if (ownGet) cookies.get = ownGet;
    else delete (cookies as { get?: unknown }).get;
  };
}
