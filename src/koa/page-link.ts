import type { Context } from 'koa';
import type { StateTracker } from '../core/state-reads';
import type { RenderedPage } from '../nunjucks/page-renderer';

/**
 * How `views()` and the response cache work together on one request (docs/responses.md, "Holes in
 * pages"), and the only way they reach each other; nothing a route or template sees:
 *
 * - `views()`, in front of the cache, offers every request its Environment's `PageServices`
 *   (`offerPages`, `pagesOf`): a hit of a stored page fills its holes and checks its template's
 *   digest with them. One slot of the context, written with the same object on every request.
 * - While the route computes a response the cache may store, the cache opens a `PageRecording` of
 *   the request (`PageRecording.open`, `PageRecording.of`): `ctx.render` then leaves the page's holes
 *   as placeholders in the version to store, lets the cache's tracking of `ctx.state` see the
 *   templates' lookups, and records the page. Misses only: kept in a slot of the context.
 */

/**
 * What `views()` does for the response cache with its Environment. Each answers at once when it
 * can (a hit stays on its stack), else with a promise.
 */
export interface PageServices {
  /** The stored page's HTML with its `{% nocache %}` holes filled from this request's `ctx.state`. */
  fill(ctx: Context, html: string, holes: readonly string[]): string | Promise<string>;
  /** The digest of template `name` and those it depends on, as the running templates give it. */
  digest(name: string): string | Promise<string>;
}

/** A page `ctx.render` rendered: what it tells the cache, and the template it was rendered from. */
export interface RecordedPage extends RenderedPage {
  name: string;
}

const PAGES = Symbol('koa-fragment-cache: page services');

interface Offered {
  [PAGES]?: PageServices;
}

/** `views()` offers this request its Environment's pages. */
export function offerPages(ctx: Context, pages: PageServices): void {
  (ctx as unknown as Offered)[PAGES] = pages;
}

/** The pages of the `views()` in front of this request, if any. */
export function pagesOf(ctx: Context): PageServices | undefined {
  return (ctx as unknown as Offered)[PAGES];
}

const RECORDING = Symbol('koa-fragment-cache: page recording');

interface Recorded {
  [RECORDING]?: PageRecording;
}

/**
 * What the response cache learns of the pages rendered while the route computes a response it may
 * store. A cache nested in another (`cached()` on the app and on a route) opens its own inside the
 * outer one's: the page is recorded by both, the templates' lookups are learned by the innermost.
 */
export class PageRecording {
  readonly #ctx: Context;
  readonly #outer: PageRecording | undefined;
  #page: RecordedPage | undefined;

  private constructor(
    ctx: Context,
    /** The cache's tracking of `ctx.state`: what the templates look up of it is learned too. */
    readonly tracker: StateTracker,
  ) {
    this.#ctx = ctx;
    this.#outer = (ctx as Recorded)[RECORDING];
  }

  /** Opens the recording of `ctx` until `close()`. */
  static open(ctx: Context, tracker: StateTracker): PageRecording {
    const recording = new PageRecording(ctx, tracker);
    (ctx as Recorded)[RECORDING] = recording;
    return recording;
  }

  /** The recording open on `ctx`: the page `ctx.render` renders will be stored. */
  static of(ctx: Context): PageRecording | undefined {
    return (ctx as Recorded)[RECORDING];
  }

  close(): void {
    const ctx = this.#ctx as Recorded;
    if (ctx[RECORDING] === this) ctx[RECORDING] = this.#outer;
  }

  /** `ctx.render` rendered `page`. */
  rendered(page: RecordedPage): void {
    this.#page = page;
    this.#outer?.rendered(page);
  }

  /** The page the response is: the last one rendered, unless something replaced the body since. */
  get page(): RecordedPage | undefined {
    return this.#page && this.#ctx.body === this.#page.html ? this.#page : undefined;
  }
}
