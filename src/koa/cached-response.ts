import type { Context } from 'koa';
import { validateTags } from '../core/tags';
import { timeoutToMs, type Timeout } from '../core/timeout';

export interface CachedResponseOptions {
  /** Seconds (or '5m') this response stays fresh, overriding the middleware's; `0` = never expires. */
  timeout?: Timeout;
  status?: number;
  headers?: Readonly<Record<string, string | string[]>>;
  /** Content type (`'html'`, `'json'`, a MIME type); by default Koa's inference from the body. */
  type?: string;
  /** The entry becomes a miss once any of these tags is invalidated (`cache.invalidateTags`). */
  tags?: readonly string[];
}

/**
 * A response with its own caching terms. A handler under `cache.cached()` may return one or
 * assign one to `ctx.body`: `return new CachedResponse(html, { timeout: onSale ? 10 : 300 })`.
 * The body is anything Koa accepts as a body.
 */
export class CachedResponse {
  readonly timeout: Timeout;
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string | string[]>>;
  readonly type?: string;
  readonly tags?: readonly string[];

  constructor(
    readonly body: unknown,
    options: CachedResponseOptions = {},
  ) {
    timeoutToMs(options.timeout, 0, 'timeout of CachedResponse'); // refuses a bad timeout here, where it was written
    const { status, type, tags } = options;
    if (status !== undefined && !(Number.isInteger(status) && status >= 100 && status <= 599)) {
      throw new RangeError(`status of CachedResponse must be an HTTP status code, got ${String(status)}`);
    }
    if (type !== undefined && typeof type !== 'string') throw new TypeError(`type of CachedResponse must be a string, got ${typeof type}`);
    if (tags !== undefined) validateTags(tags, 'CachedResponse');
    this.timeout = options.timeout;
    this.status = status;
    this.headers = options.headers;
    this.type = type;
    this.tags = tags;
  }
}

/**
 * Puts the handler's `CachedResponse` (returned, or assigned to `ctx.body`) on `ctx` as a plain
 * response, and returns it for its caching terms; undefined when the handler used none.
 */
export function unwrapCachedResponse(ctx: Context, returned: unknown): CachedResponse | undefined {
  const assigned = ctx.body instanceof CachedResponse ? ctx.body : undefined;
  const response = returned instanceof CachedResponse ? returned : assigned;
  if (!response) return undefined;
  // Assigning the wrapper made Koa type the response as JSON; let the real body decide.
  if (assigned) ctx.remove('Content-Type');
  ctx.body = response.body;
  if (response.type !== undefined) ctx.type = response.type;
  if (response.status !== undefined) ctx.status = response.status;
  if (response.headers) ctx.set(response.headers as Record<string, string | string[]>);
  return response;
}
