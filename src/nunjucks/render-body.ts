import type { Entry, TagVersions } from '../core/codec';
import { collectingTags, type Dependencies } from '../core/dependencies';
import { renderingNow, type StateReads } from '../core/state-reads';
import type { Learned } from './template-state';
import { enterScope, newScope, type Scope, type ScopedFrame } from './fragment-scope';

/** nunjucks' callback to an async tag: what it renders next runs inside it. */
export type Callback = (err: Error | null, html?: unknown) => void;
/** A tag's body as nunjucks compiles it: renders into `cb` (synchronously when nothing in it waits). */
export type Body = (cb: (err: Error | null, html: string) => void) => string;

/** The `runtime` of the nunjucks copy rendering the template (see `KfcRuntime`). */
export interface Runtime {
  SafeString: new (html: string) => unknown;
  /** Turns a message into that copy's TemplateError placed at a line and column. */
  handleError(message: string, lineno: number, colno: number): Error;
}

/** Places an error at the template's current line and column, as nunjucks' own handler does (see `KfcPlace`). */
export type Place = (err: unknown) => Error;

/** A fragment as rendered or found, with whether its dependencies are all known. */
export interface Rendered {
  entry: Entry;
  rendered: boolean;
  untracked: boolean;
  /** The run of the tag that rendered or found it: it serves that one as it is (others that waited check). */
  by?: object;
  /** What a body just rendered read of request state: its entry is stored per value of it. */
  reads?: StateReads;
  /** The request state a variant found in the store is for. */
  learned?: Learned;
}

/**
 * Hits answered synchronously continue the render on the same stack; past this many nested ones
 * (nunjucks' own `asyncEach` recurses once per item), the next continues in a microtask so that a
 * page of thousands of fragments cannot overflow the stack.
 */
const MAX_SYNC_DEPTH = 32;
let syncDepth = 0;

/** Whether a delivery on this stack may be deferred to a microtask (it is nested too deep). */
export function tooDeep(): boolean {
  return syncDepth >= MAX_SYNC_DEPTH;
}

/**
 * Renders the body with a scope of its own on `frame`, calling `done` with its full output, the tag
 * versions of `own` and of every fragment inside, and the holes inside: synchronously when nothing
 * in it waits. A template error the body throws (nunjucks throws the synchronous ones) is left to
 * propagate, to reach nunjucks as it would without the tag — unless `place` is given (the body runs
 * outside the render's stack): then it is placed at the template's current line and passed on.
 */
export function renderBody(
  body: Body,
  frame: ScopedFrame,
  own: TagVersions | undefined,
  untracked: boolean,
  done: (err: unknown, rendered?: Rendered) => void,
  place?: Place,
): void {
  const scope = newScope(own, untracked, true);
  const leave = once(enterScope(frame, scope));
  // Reads made on this stack while the body runs are its own (see renderingNow), until it finishes.
  renderingNow.push(scope.reads);
  const rendering = once(() => renderingNow.splice(renderingNow.lastIndexOf(scope.reads), 1));
  // The tags of the memoized and getOrSet values the body reads, wherever it awaits them, are its own too.
  const dependencies: Dependencies = { tags: scope.tags, reads: scope.reads };
  const finish = (err: Error | null, html: string) => {
    dependencies.done = true;
    rendering();
    leave();
    if (err) done(err);
    else done(null, renderedFrom(html, scope));
  };
  try {
    collectingTags(dependencies, () => body(finish));
  } catch (err) {
    dependencies.done = true;
    leave();
    if (!place) throw err;
    done(place(err));
  } finally {
    rendering();
  }
}

/** Starts rendering the body on this stack: its outcome if it finished at once, else a promise of it. */
export function startRender(
  body: Body,
  frame: ScopedFrame,
  own: TagVersions | undefined,
  untracked: boolean,
): { rendered?: Rendered; error?: unknown } | Promise<Rendered> {
  let outcome: { rendered?: Rendered; error?: unknown } | undefined;
  let later: { resolve: (rendered: Rendered) => void; reject: (err: unknown) => void } | undefined;
  renderBody(body, frame, own, untracked, (error, rendered) => {
    if (!later) outcome ??= { error, rendered };
    else if (error) later.reject(error);
    else later.resolve(rendered!);
  });
  return outcome ?? new Promise<Rendered>((resolve, reject) => (later = { resolve, reject }));
}

function renderedFrom(html: string, scope: Scope): Rendered {
  // nunjucks builds the output by concatenation: V8 keeps it as a rope of hundreds of pieces.
  // Converting it to a number makes V8 flatten it once, before it is stored and served many times.
  Number(html);
  const tags = Object.keys(scope.tags).length > 0 ? scope.tags : undefined;
  const holes = scope.holes.size > 0 ? [...scope.holes] : undefined;
  return { entry: { value: html, tags, holes }, rendered: true, untracked: scope.untracked, reads: scope.reads };
}

/** Hands the HTML to nunjucks on the render's own stack: what follows the tag runs inside `cb`, its errors reach nunjucks' handler. */
export function deliverNow(runtime: Runtime, cb: Callback, html: string): void {
  syncDepth++;
  try {
    cb(null, new runtime.SafeString(html));
  } finally {
    syncDepth--;
  }
}

/**
 * Hands the result to nunjucks from a later turn. If what follows the tag throws, the error is
 * placed at the template's current line (as nunjucks' own handler would) and goes back through `cb`,
 * so the render callback sees it, not the process.
 */
export function deliverLater(runtime: Runtime, place: Place, cb: Callback, err: unknown, html?: string): void {
  try {
    if (err) cb(err as Error);
    else cb(null, new runtime.SafeString(html!));
  } catch (thrown) {
    if (err) throw thrown;
    cb(place(thrown));
  }
}

function once(run: () => void): () => void {
  let ran = false;
  return () => {
    if (!ran) run();
    ran = true;
  };
}

/** `renderBody` of a fragment as a promise, for renders that wait (on a shared store, or joined). */
export function renderLater({ body, frame, place }: { body: Body; frame: ScopedFrame; place: Place }, own: TagVersions | undefined, untracked: boolean): Promise<Rendered> {
  return new Promise<Rendered>((resolve, reject) => renderBody(body, frame, own, untracked, (err, result) => (err ? reject(err) : resolve(result!)), place));
}
