import type { Context } from 'koa';
import { NOT_REPLAYED, type StoredResponse } from './stored-entry';

export type HeaderSnapshot = Readonly<Record<string, unknown>>;

const NONE: readonly string[] = [];

/** The response headers as they are before the route runs (set by middleware around it). */
export function snapshotHeaders(ctx: Context): HeaderSnapshot {
  return ctx.res.getHeaders(); // a copy already
}

/**
 * The response on `ctx` as it will be stored: the headers the route set (not those other
 * middleware had set before it ran; Content-Type always), minus hop-by-hop ones, the headers
 * named by `Connection` and `cacheStatusHeader`; and the ETag the route set, if any.
 */
export function captureResponse(
  ctx: Context,
  body: Buffer | string,
  before: HeaderSnapshot,
  freshMs: number,
  cacheStatusHeader: string | false,
  storedAt: number,
): StoredResponse {
  const headers = ctx.res.getHeaders();
  const connection = headers.connection === undefined ? NONE : String(headers.connection).split(',').map((name) => name.trim().toLowerCase());
  const status = cacheStatusHeader && cacheStatusHeader.toLowerCase();
  const replayed: StoredResponse['headers'] = [];
  // getHeaders() gives an object of its own, without a prototype: every key is a header.
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || NOT_REPLAYED.has(name) || name === status || connection.includes(name)) continue;
    if (name !== 'content-type' && name in before && String(before[name]) === String(value)) continue;
    replayed.push([name, Array.isArray(value) ? value : String(value)]);
  }
  return {
    status: ctx.status,
    headers: replayed,
    body,
    // Hashed only when first served: a miss that is never hit costs no hash.
    etag: typeof headers.etag === 'string' ? headers.etag : undefined,
    storedAt,
    freshUntil: freshMs === 0 ? 0 : storedAt + freshMs,
  };
}
