import type { Context } from 'koa';
import { isStateName, stateValue } from '../core/state-reads';

/**
 * The names a stored response varies by, each naming one fact of the request:
 * - a request header, lower-case (`accept-language`);
 * - `host`: the host as Koa derives it (`ctx.host`: X-Forwarded-Host when `app.proxy`);
 * - `:protocol`: the protocol as Koa derives it (`ctx.protocol`: X-Forwarded-Proto when `app.proxy`);
 * - `cookie:<name>`: that cookie's value;
 * - `cookie`: every cookie but the route's `ignoreCookies`, in a canonical order;
 * - `state:<path>`: what `ctx.state` holds at that path (see core/state-reads.ts).
 */
export const PROTOCOL = ':protocol';
const COOKIE_PREFIX = 'cookie:';

/** A vary name as the decoder accepts it (names come back from the store). */
export const VARY_NAME = /^(?::protocol|cookie:[^\s;,=]+|(?:state|session):[\w.!~*'()%{}-]+|[!#$%&'*+.^_`|~0-9a-z-]+)$/;

export function cookieVary(name: string): string {
  return COOKIE_PREFIX + name;
}

/** The request's value of a vary name. */
export function varyValue(ctx: Context, name: string, ignoredCookies: ReadonlySet<string>): string {
  if (name === 'host') return requestHost(ctx).toLowerCase();
  if (name === PROTOCOL) return ctx.protocol;
  const header = ctx.req.headers.cookie;
  if (name.startsWith(COOKIE_PREFIX)) return cookieValue(header, name.slice(COOKIE_PREFIX.length)) ?? '';
  if (name === 'cookie') return canonicalCookies(header, ignoredCookies);
  if (isStateName(name)) return stateValue(name.startsWith('session:') ? (ctx as { session?: unknown }).session : ctx.state, name);
  return ctx.get(name);
}

/** `ctx.host`, read straight from the Host header when nothing else can apply (it is on every hit). */
function requestHost(ctx: Context): string {
  const direct = !ctx.app.proxy && ctx.req.httpVersionMajor < 2 && ctx.req.headers.host;
  return direct && !direct.includes(',') ? direct : ctx.host;
}

/** What the request carries as cookies, minus `ignored`. */
export function hasCookies(ctx: Context, ignored: ReadonlySet<string>): boolean {
  return canonicalCookies(ctx.req.headers.cookie, ignored) !== '';
}

/** A cookie's raw value as the `cookies` package (`ctx.cookies`) reads it, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trimStart() === name) {
      const value = pair.slice(eq + 1);
      return value.startsWith('"') ? value.slice(1, -1) : value;
    }
  }
  return undefined;
}

/** The Cookie header's pairs without the ignored ones, sorted, so that their order does not matter. */
function canonicalCookies(header: string | undefined, ignored: ReadonlySet<string>): string {
  if (!header) return '';
  return header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && !ignored.has(pair.slice(0, Math.max(0, pair.indexOf('=')))))
    .sort()
    .join('; ');
}

/**
 * How to ask the app for a stored variant again (a background refresh, a periodic one): the
 * request's protocol, host, and the values of every header the variant varies by.
 */
export interface RequestFacts {
  protocol: string;
  headers: Record<string, string>;
}

/**
 * The facts to replay this request's variant with. A variant that varies by cookies or request
 * state is one visitor's: `withCookies` (a refresh on that visitor's behalf, while their request is
 * here) carries their cookies (and for state, their whole request); without it (remembered for
 * later) there are no facts.
 */
export function factsOf(ctx: Context, vary: readonly string[], withCookies: boolean): RequestFacts | undefined {
  // What earlier middleware derived state from is not known: the replay carries the whole request.
  if (vary.some(isStateName)) return withCookies ? { protocol: ctx.protocol, headers: wholeRequest(ctx) } : undefined;
  const headers: Record<string, string> = { host: ctx.host };
  for (const name of vary) {
    if (name === 'cookie' || name.startsWith(COOKIE_PREFIX)) {
      if (!withCookies) return undefined;
      if (ctx.req.headers.cookie) headers.cookie = ctx.req.headers.cookie;
    } else if (name !== 'host' && name !== PROTOCOL) {
      const value = ctx.get(name);
      if (value !== '') headers[name] = value;
    }
  }
  return { protocol: ctx.protocol, headers };
}

function wholeRequest(ctx: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.req.headers)) if (typeof value === 'string') headers[name] = value;
  headers.host = ctx.host;
  return headers;
}
