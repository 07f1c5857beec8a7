import type { Context } from 'koa';
import { etagOf, type StoredResponse } from './stored-entry';

/** What the cache-status header says about an answer. */
export type CacheStatus = 'MISS' | 'HIT' | 'STALE' | 'BYPASS';

/**
 * Answers the request from a stored response: its status, headers and bytes, its ETag, its `Age`,
 * and a 304 when the request is conditional and its validators match. Synchronous, and on the hot
 * path: headers go straight to `res` (Koa's `ctx.set` adds only a check that nothing was sent yet).
 * `validators` false (a body with holes, which differs per request): no ETag, no 304.
 */
export function serveStored(
  ctx: Context,
  response: StoredResponse,
  status: CacheStatus,
  cacheStatusHeader: string | false,
  now: number,
  validators = true,
): void {
  const { res } = ctx;
  ctx.status = response.status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (validators) res.setHeader('ETag', etagOf(response));
  res.setHeader('Age', ageText(now - response.storedAt));
  if (cacheStatusHeader) res.setHeader(cacheStatusHeader, status);
  ctx.body = response.body;
  if (!validators) return;
  // `ctx.fresh` copies every response header; most requests are not conditional at all.
  const { headers } = ctx.req;
  if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) && ctx.fresh) ctx.status = 304;
}

/** `Age` texts of the first hour, made once: most hits are younger, and need no string made for them. */
const AGES = Array.from({ length: 3600 }, (_, seconds) => String(seconds));

function ageText(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return AGES[seconds] ?? String(seconds);
}
