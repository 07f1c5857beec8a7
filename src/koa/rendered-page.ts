import type { Context } from 'koa';
import type { StateTracker } from '../core/state-reads';
import type { RenderedPage } from '../nunjucks/page-renderer';

/**
 * What `views()` and `cached()` tell each other about a page, on the request's context (under
 * symbols: nothing a route or template sees):
 * - `cached()` marks a request whose response it may store (holes then stay placeholders in the
 *   stored version), and hands over the tracking of `ctx.state` (what the route wrote is not
 *   request state; `ctx.state` itself is wrapped while it computes);
 * - `ctx.render` leaves the page it rendered: its stored version, its fragments' tags, its digest;
 * - `views()` gives `cached()` hits what they need of the Environment: filling the holes of a stored
 *   page from `ctx.state`, and the digest of a template as the running templates give it.
 */
export const STORING = Symbol('koa-fragment-cache: storing');
export const PAGE = Symbol('koa-fragment-cache: page');
export const PAGE_SERVICES = Symbol('koa-fragment-cache: page services');
export const TRACKER = Symbol('koa-fragment-cache: state tracker');

export interface PageOnContext extends RenderedPage {
  /** The template rendered. */
  name: string;
}

export interface PageServices {
  fill(ctx: Context, html: string, holes: readonly string[], done: (err: unknown, html?: string) => void): void;
  digest(name: string, done: (err: unknown, digest?: string) => void): void;
}

interface Marked {
  [STORING]?: boolean;
  [TRACKER]?: StateTracker;
  [PAGE]?: PageOnContext;
  [PAGE_SERVICES]?: PageServices;
}

export function marks(ctx: Context): Marked {
  return ctx as unknown as Marked;
}
