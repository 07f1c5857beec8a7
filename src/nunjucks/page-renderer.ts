import { StateTracker } from '../core/state-reads';
import type { DigestEnvironment } from './digests';
import { newScope, type ScopedFrame } from './fragment-scope';
import type { Parsed } from './fragment-runtime';
import type { RenderableTemplate } from './holes';
import { ownCopy, type NunjucksCopy } from './nunjucks-copy';
import { REQUEST_STATE, TemplateState } from './template-state';

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

/** Which of a page's variables come from `ctx.state`, and the request's tracking of it (`cached()`'s while it computes). */
export interface PageState {
  names: ReadonlySet<string>;
  tracker: StateTracker | undefined;
  /** `invalidationMark()` when the request began (see `TemplateState.began`). */
  began: number;
}

type Done<T> = (err: unknown, result?: T) => void;

/**
 * Pages for `views()` (src/koa/views.ts), with the templates, holes and digests of one extension:
 * renders a template as a page, and gives `cached()` hits of a stored page what they need of the
 * Environment — its holes filled, its template's digest as the running templates give it.
 */
export class PageRenderer {
  readonly #parsed: Pick<Parsed, 'holes' | 'digests'>;
  readonly #sharedState: readonly string[];
  /** The nunjucks copy the extension was added with (its Frame class is the one a page renders with). */
  readonly #copy: () => NunjucksCopy;

  constructor(parsed: Pick<Parsed, 'holes' | 'digests'>, sharedState: readonly string[], copy: () => NunjucksCopy) {
    this.#parsed = parsed;
    this.#sharedState = sharedState;
    this.#copy = copy;
  }

  /**
   * Renders template `name` of `env` as a page, collecting the tags of the fragments rendered into
   * it and, when `storing` (`cached()` will store the response), leaving its holes as placeholders
   * in the stored version while this response gets them filled — from `holeVariables` (the
   * request's `ctx.state`), as they will be on every hit, where the route's locals are not known.
   * What the templates look up of the request state (`state`) is learned.
   */
  render(env: DigestEnvironment, name: string, variables: Record<string, unknown>, state: PageState, holeVariables: object, storing: boolean, done: Done<RenderedPage>): void {
    const tracker = state.tracker ?? new StateTracker();
    tracker.share(this.#sharedState);
    variables[REQUEST_STATE] = new TemplateState(tracker, state.names, state.began);
    const scope = newScope(undefined, false, false, storing);
    const copy = this.#copy();
    const frame = new (env instanceof copy.Environment ? copy : ownCopy()).runtime.Frame() as ScopedFrame;
    frame.kfcScope = scope;
    env.getTemplate(name, false, null, false, (err, template) => {
      if (err) return done(err);
      (template as unknown as RenderableTemplate).render(variables, frame, (renderErr: unknown, html?: string) => {
        if (renderErr) return done(renderErr);
        this.#parsed.digests.ofTemplate(env, name, (digestErr, digest) => {
          if (digestErr) return done(digestErr);
          const page = { html: html!, tags: Object.keys(scope.tags), digest: digest! };
          if (scope.holes.size === 0) return done(null, page);
          const holes = [...scope.holes];
          this.fill(env, html!, holes, holeVariables, (fillErr, filled) => done(fillErr, { ...page, html: filled!, stored: { html: html!, holes } }));
        });
      });
    });
  }

  /** For `cached()` hits of a page with holes: fills them with `variables` (the request's `ctx.state`). */
  fill(env: object, html: string, holes: readonly string[], variables: object, done: Done<string>): void {
    this.#parsed.holes.fill(html, holes, env, variables, undefined, 'response', done);
  }

  /** For `cached()` hits of a page: the digest of template `name` as the running templates give it. */
  templateDigest(env: DigestEnvironment, name: string, done: Done<string>): void {
    this.#parsed.digests.ofTemplate(env, name, done);
  }
}
