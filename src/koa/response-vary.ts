import type { Context } from 'koa';
import type { Dependencies } from '../core/dependencies';
import type { CachedConfig } from './cached-options';
import { cookieVary, PROTOCOL } from './request-facts';
import type { RequestReads } from './request-reads';
import { responseVary } from './storability';
import type { VaryIndex } from './stored-entry';

/**
 * What the response just computed varies by (see request-facts.ts): the host (unless shared across
 * hosts) and protocol, the route's `varyHeaders` and `varyCookies`, the response's `Vary`, the
 * cookies read before the cache ran (`early`), and what the route read — its headers, cookies and
 * paths of `ctx.state`, or every cookie but `ignoreCookies` when it read the whole Cookie header.
 * Undefined when it cannot be told (every header was read): not stored.
 */
export function varyOf(ctx: Context, reads: RequestReads, config: CachedConfig, early: readonly string[], dependencies: Dependencies): string[] | undefined {
  if (reads.allHeaders) return undefined;
  const names = config.shareAcrossHosts ? [PROTOCOL] : [PROTOCOL, 'host'];
  for (const name of early) add(names, name);
  for (const name of dependencies.reads.values.keys()) add(names, name);
  let wholeCookie = reads.cookieHeader;
  const header = (name: string) => (name === 'cookie' ? (wholeCookie = true) : add(names, name));
  config.varyHeaders.forEach(header);
  responseVary(ctx).forEach(header);
  reads.headers.forEach(header);
  const cookie = (name: string) => config.ignoreCookies.has(name) || add(names, cookieVary(name));
  reads.cookies.forEach(cookie);
  config.varyCookies.forEach(cookie);
  // The whole Cookie header mattered: the declared cookies if any, else every cookie not ignored.
  if (wholeCookie && config.varyCookies.length === 0) add(names, 'cookie');
  return sortedOnce(names);
}

function add(names: string[], name: string): void {
  if (!names.includes(name)) names.push(name);
}

/** The last vary list made: a route's misses mostly vary by the same names, and get the same array. */
let last: string[] = [];

function sortedOnce(names: string[]): string[] {
  names.sort();
  if (names.length === last.length && names.every((name, i) => name === last[i])) return last;
  return (last = names);
}

/** Whether `index` varies by every cookie read before the cache ran (the whole Cookie header covers them all). */
export function covers(index: VaryIndex, early: readonly string[]): boolean {
  return early.length === 0 || index.vary.includes('cookie') || early.every((name) => index.vary.includes(name));
}
