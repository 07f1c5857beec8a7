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

/** Whether `index` varies by every cookie read before the cache ran (the whole Cookie header covers them all). */
export function covers(index: VaryIndex, early: readonly string[]): boolean {
  return early.length === 0 || index.vary.includes('cookie') || early.every((name) => index.vary.includes(name));
}
