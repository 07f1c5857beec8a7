import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { NOT_REPLAYED, type StoredResponse } from './stored-entry';

export type HeaderSnapshot = Readonly<Record<string, unknown>>;

/** The response headers as they are before the route runs (set by middleware around it). */
export function snapshotHeaders(ctx: Context): HeaderSnapshot {
  return { ...ctx.res.getHeaders() };
}

/**
 * The response on `ctx` as it will be stored: the headers the route set (not those other
 * middleware had set before it ran; Content-Type always), minus hop-by-hop ones, the headers
 * named by `Connection` and `cacheStatusHeader`; and its ETag, computed when the route set none.
 */
export function captureResponse(
  ctx: Context,
  body: Buffer,
  before: HeaderSnapshot,
  freshMs: number,
  cacheStatusHeader: string | false,
  storedAt: number,
): StoredResponse {
  const headers = ctx.res.getHeaders();
  const excluded = new Set(NOT_REPLAYED);
  for (const name of String(headers.connection ?? '').split(',')) excluded.add(name.trim().toLowerCase());
  if (cacheStatusHeader) excluded.add(cacheStatusHeader.toLowerCase());
  const replayed: StoredResponse['headers'] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || excluded.has(name)) continue;
    if (name !== 'content-type' && name in before && String(before[name]) === String(value)) continue;
    replayed.push([name, Array.isArray(value) ? value : String(value)]);
  }
  const digest = createHash('sha1').update(body).digest('base64url');
  return {
    status: ctx.status,
    headers: replayed,
    body,
    etag: typeof headers.etag === 'string' ? headers.etag : `"${digest}"`,
    digest,
    storedAt,
    freshUntil: freshMs === 0 ? 0 : storedAt + freshMs,
  };
}
