import type { Context } from 'koa';
import { cookieValue, cookieVary } from './request-facts';
import { watchRenders } from './foreign-render';
import { findAccessor } from './tracked-state';

/**
 * Which cookies each request had read before `cached()` ran, when what was derived from them cannot
 * be seen. An authentication or session middleware placed before the cache reads the session
 * cookie and keeps what it derived: in `ctx.state` or `ctx.session`, where the route's reads of it
 * are learned path by path (tracked-state.ts), or somewhere the cache cannot see (`ctx.user`, a
 * closure). In that last case — nothing was written to `ctx.state` after the first cookie read and
 * no session was opened — the response varies by those cookies (as Django's session adds `Vary:
 * Cookie`), so Alice's page is only ever served to Alice's cookie; cookies nobody read
 * (analytics) never split an entry.
 *
 * The watch starts when Koa creates the request's context: `Application.prototype.createContext` of
 * the Koa this library resolves is wrapped once `cached()` is first used, and that of any other
 * Koa copy an app is made from on the app itself at its first request. It records reads through
 * `ctx.cookies.get` by name, and any other read of the Cookie header as "every cookie".
 */
const EARLY = Symbol('koa-fragment-cache: early reads');
/** On a watched `createContext`'s owner (Koa's prototype, or an app) and on each watched `app.context`. */
const WATCHING = Symbol('koa-fragment-cache: watching');
/** On an `app.context` whose `ctx.cookies` jars note the names read through them. */
const JAR_WATCHED = Symbol('koa-fragment-cache: jar watched');
/** On a context while a response computes: who else wants to know of the jar's reads (request-reads.ts). */
const JAR_READERS = Symbol('koa-fragment-cache: jar readers');

interface EarlyReads {
  ctx: Context;
  cookies?: Set<string>;
  /** The Cookie header was read other than through `ctx.cookies.get`. */
  header: boolean;
  /** Inside `ctx.cookies.get` (which reads the header itself). */
  inJar: number;
  /** `ctx.state`'s entries when a cookie was first read: what was derived from it lands in changes to them. */
  stateAtFirstRead?: Map<string, unknown>;
}

/** A context watched from its start holds its reads, or null while nothing was read. */
interface Watched {
  [EARLY]?: EarlyReads | null;
}

interface Marked {
  [WATCHING]?: true;
  [JAR_WATCHED]?: true;
}

/** Told of every cookie read through the request's jar while it watches (innermost first, then `outer`). */
export interface JarReader {
  readonly outer: JarReader | undefined;
  /** Inside `ctx.cookies.get` (which reads the Cookie header itself). */
  inJar: number;
  jarRead(name: string): void;
}

interface Readers {
  [JAR_READERS]?: JarReader;
}

/**
 * Tells `reader` of the cookies read through `ctx.cookies` from now on, without making the jar
 * (a route that reads no cookie costs no jar); `stop()` ends it. Undefined when this context's jars
 * are not watched (an app's first request): the caller wraps the jar itself.
 */
export function watchJarReads(ctx: Context, reader: (outer: JarReader | undefined) => JarReader): { reader: JarReader; stop(): void } | undefined {
  const watched = ctx as Context & Watched & Marked & Readers;
  if (watched[EARLY] === undefined || !watched[JAR_WATCHED]) return undefined;
  const outer = watched[JAR_READERS];
  const own = reader(outer);
  watched[JAR_READERS] = own;
  return {
    reader: own,
    stop: () => {
      if (watched[JAR_READERS] === own) watched[JAR_READERS] = outer;
    },
  };
}

type CreateContext = (this: object, req: { headers: Record<string, unknown> }, res: unknown) => Context;

/** Watches every request of the Koa copy this library resolves, from now on. */
export function watchKoaRequests(): void {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- koa is a peer dependency, loaded only to be watched
    const Koa = require('koa') as { prototype: { createContext: CreateContext } };
    wrapCreateContext(Koa.prototype);
  } catch {
    // No koa next to this library: apps are watched from their first request on (watchApp).
  }
}

/** Watches the app of `ctx` from its next request on, if nothing does yet. */
export function watchApp(ctx: Context): void {
  if (!(ctx.app as Marked)[WATCHING]) wrapCreateContext(ctx.app as unknown as { createContext: CreateContext });
}

/**
 * The vary names of the cookies read before now whose use the cache cannot see (`cookie:<name>`, or
 * `cookie` for the whole header), without `ignored` and those the request does not carry (what was
 * derived from their absence is the same for every request without them; one that carries them
 * asks for a variant that varies by them); undefined when this request was not watched from its start.
 */
export function cookiesReadSoFar(ctx: Context, ignored: ReadonlySet<string>): string[] | undefined {
  const reads = (ctx as Watched)[EARLY];
  if (reads === undefined) return undefined;
  if (!reads?.stateAtFirstRead || derivedStateSeen(ctx, reads.stateAtFirstRead)) return NONE;
  if (reads.header) return ['cookie'];
  const header = ctx.req.headers.cookie;
  return [...reads.cookies!].filter((name) => !ignored.has(name) && cookieValue(header, name) !== undefined).map(cookieVary);
}

/**
 * Whether what earlier middleware derived from the request is where the cache tracks it: something
 * was written to `ctx.state` (since `before`, when given), or a session was opened (koa-session
 * keeps it under a symbol of the context).
 */
export function derivedStateSeen(ctx: Context, before?: Map<string, unknown>): boolean {
  const state = ctx.state as Record<string, unknown>;
  const keys = Object.keys(state);
  const changed = before ? keys.length !== before.size || keys.some((key) => before.get(key) !== state[key]) : keys.length > 0;
  return changed || Object.getOwnPropertySymbols(ctx).some((symbol) => /session/i.test(symbol.description ?? ''));
}

/** Notes the first cookie read: `ctx.state` as it was then. */
function firstRead(reads: EarlyReads): void {
  reads.stateAtFirstRead ??= new Map(Object.entries(reads.ctx.state as object));
}

const NONE: string[] = [];

/** Wraps `owner.createContext` (Koa's prototype, or one app): every context it makes is watched. Per request: a mark, nothing allocated unless the request has cookies. */
function wrapCreateContext(owner: { createContext: CreateContext } & Marked): void {
  if (Object.prototype.hasOwnProperty.call(owner, WATCHING)) return;
  owner[WATCHING] = true;
  const create = owner.createContext;
  owner.createContext = function watchedContext(req, res) {
    const ctx = create.call(this, req, res) as Context & Watched;
    const proto = Object.getPrototypeOf(ctx) as object & Marked;
    if (!Object.prototype.hasOwnProperty.call(proto, WATCHING)) {
      watchJar(proto);
      watchRenders(proto);
    }
    ctx[EARLY] = null;
    if (req.headers.cookie !== undefined) watchCookieHeader(req.headers, readsOf(ctx));
    return ctx;
  };
}

function readsOf(ctx: Context & Watched): EarlyReads {
  return (ctx[EARLY] ??= { ctx, header: false, inJar: 0 });
}

/** An accessor on the request's Cookie header noting reads that are not the jar's. */
function watchCookieHeader(headers: Record<string, unknown>, reads: EarlyReads): void {
  let value = headers.cookie;
  Object.defineProperty(headers, 'cookie', {
    get() {
      if (reads.inJar === 0) {
        reads.header = true;
        firstRead(reads);
      }
      return value;
    },
    set(changed) {
      value = changed;
    },
    enumerable: true,
    configurable: true,
  });
}

/** `ctx.cookies` of every context made from `proto` (an app's `app.context`) notes the names read through it. */
function watchJar(proto: object & Marked): void {
  proto[WATCHING] = true;
  const descriptor = findAccessor(proto, 'cookies');
  if (!descriptor?.get) return;
  proto[JAR_WATCHED] = true;
  const { get, set } = descriptor;
  Object.defineProperty(proto, 'cookies', {
    get(this: Context & Watched) {
      const jar = get.call(this) as { get: (name: string, options?: unknown) => unknown; [EARLY]?: true };
      if (this[EARLY] !== undefined && !jar[EARLY]) {
        jar[EARLY] = true;
        const read = jar.get;
        const reads = readsOf(this);
        jar.get = function watchedGet(name, options) {
          (reads.cookies ??= new Set()).add(name);
          firstRead(reads);
          const readers = (reads.ctx as Readers)[JAR_READERS];
          for (let reader = readers; reader; reader = reader.outer) {
            reader.jarRead(name);
            reader.inJar++;
          }
          reads.inJar++;
          try {
            return read.call(this, name, options);
          } finally {
            reads.inJar--;
            for (let reader = readers; reader; reader = reader.outer) reader.inJar--;
          }
        };
      }
      return jar;
    },
    set(this: Context, jar: unknown) {
      set?.call(this, jar);
    },
    configurable: true,
  });
}

