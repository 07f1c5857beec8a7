import type { Context } from 'koa';
import type { StateTracker } from '../core/state-reads';

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

/** A page `views()` rendered: its HTML for this response, and what `cached()` stores of it. */
export interface RenderedPage {
  html: string;
  /** The page with its holes as placeholders, when holes were collected (the page will be stored). */
  stored?: { html: string; holes: string[] };
  /** The tags of every fragment rendered into it. */
  tags: string[];
  /** The digest of the page's template and those it depends on. */
  digest: string;
}

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
