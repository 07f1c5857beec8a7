import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { ABSENT_STATE, isStateName, learnRead, pathValue, type StateReads, type StateTracker } from '../core/state-reads';
import { scopeOf, type ScopedFrame } from './fragment-scope';

/**
 * Request state in templates. `views()` renders a page with `ctx.state`'s values as they are (no
 * copy through a Proxy: nunjucks copies the render context, which would read everything), and
 * this rides along under `REQUEST_STATE`: every Context nunjucks copies from the page's variables
 * (includes, imports) carries it. What a template looks up of it is learned at the lookup
 * (hooks.ts wraps nunjucks' `contextOrFrameLookup`), for the fragment whose body looked it up.
 */
export const REQUEST_STATE = 'kfc:request-state';

export class TemplateState {
  /**
   * `tracker`: the request's (which paths the route wrote); `names`: the page's variables that come
   * from `ctx.state`; `began`: `invalidationMark()` when the request began, before its handler loaded
   * what the page shows (a fragment is not stored under a tag invalidated since: invalidation-log.ts).
   */
  constructor(
    readonly tracker: StateTracker,
    readonly names: ReadonlySet<string>,
    readonly began?: number,
  ) {}

  /** The views of the contexts filters and global functions were given, one per Context. */
  readonly #views = new WeakMap<TemplateContext, TemplateContext>();

  /** A variable the template looks up (not found in its frame). */
  lookup(context: TemplateContext, frame: ScopedFrame, name: string): unknown {
    return this.#seen(context.ctx, name, context.lookup(name), fragmentReads(frame));
  }

  /**
   * What a filter or global function gets as `this`: the Context, whose variables it reads (`this.ctx.locale`,
   * `this.lookup('user')`) as the template would, learned the same way (for the fragment rendering
   * on this stack, and the response computing).
   */
  contextView(context: TemplateContext): TemplateContext {
    let view = this.#views.get(context);
    if (view) return view;
    const variables = new Proxy(context.ctx, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key);
        return typeof key === 'string' ? this.#seen(target, key, value, undefined) : value;
      },
      has: (target, key) => {
        if (typeof key === 'string') this.#seen(target, key, Reflect.get(target, key), undefined);
        return Reflect.has(target, key);
      },
      ownKeys: (target) => {
        for (const name of this.names) this.#seen(target, name, target[name], undefined);
        return Reflect.ownKeys(target);
      },
    });
    view = new Proxy(context, { get: (target, key, receiver) => (key === 'ctx' ? variables : Reflect.get(target, key, receiver)) });
    this.#views.set(context, view);
    return view;
  }

  /**
   * `value`, the template's variable `name`, as read: one from `ctx.state` is learned. One that is
   * neither in `ctx.state` nor a local this time is a read too: another visitor's state may have
   * it (a guest's page is not Alice's). Global helpers (functions) are taken to be no request state.
   */
  #seen(variables: Record<string, unknown>, name: string, value: unknown, bound: StateReads | undefined): unknown {
    if (this.names.has(name)) return this.tracker.read(value, ['state', name], bound);
    if (typeof value !== 'function' && !(name in variables)) this.tracker.read(undefined, ['state', name], bound);
    return value;
  }
}

export interface TemplateContext {
  ctx: Record<string, unknown>;
  lookup(name: string): unknown;
}

/**
 * A template's first-level value of a learned path, as `ctx.state` gives it: a name that is not
 * among the render's variables is absent from the state, whatever global shares its name.
 */
export function stateVariable(context: TemplateContext): (name: string) => unknown {
  return (name) => (name in context.ctx ? context.ctx[name] : undefined);
}

/**
 * The request state of a render by another renderer than `views()` (koa-nunjucks-2, koa-views):
 * it copies `ctx.state` into the variables, where only the names say what came from it (see
 * koa/foreign-render.ts). Set only while such a render runs.
 */
const foreignRender = new AsyncLocalStorage<TemplateState>();

/** Runs `render` (another renderer's `ctx.render`) with the request state its templates copied. */
export function renderingWith<T>(state: TemplateState, render: () => T): T {
  return foreignRender.run(state, render);
}

export function stateOf(context: TemplateContext): TemplateState | undefined {
  const state = context.ctx[REQUEST_STATE];
  return state instanceof TemplateState ? state : foreignRender.getStore();
}

/** The variables without the request state: what a `{% nocache %}` hole renders with (it never varies its fragment). */
export function withoutState(variables: Record<string, unknown>): Record<string, unknown> {
  if (!(REQUEST_STATE in variables)) return variables;
  const { [REQUEST_STATE]: _, ...rest } = variables;
  return rest;
}

/** What the fragment whose body renders at `frame` has read of request state, if one is. */
export function fragmentReads(frame: ScopedFrame | undefined): StateReads | undefined {
  const scope = scopeOf(frame);
  return scope?.fragment ? scope.reads : undefined;
}

/** The request state a fragment's HTML is for: the names its key holds, this request's values of them, and so the variant's key. */
export interface Learned {
  names: readonly string[];
  values: readonly string[];
  variant: string;
}

/**
 * Where a fragment that learned to vary by request state keeps this request's variant: a key of
 * its own per value of `names` (the fragment's key holds the names). The values are read from the
 * template's variables, and learned by whatever encloses the fragment as if the body had run: a
 * hit depends on what its HTML depended on.
 */
export function learnedState(key: string, names: readonly string[], context: TemplateContext, frame: ScopedFrame): Learned {
  const state = stateOf(context);
  const bound = fragmentReads(frame);
  const values = names.map((name) => {
    const value = pathValue(stateVariable(context), name);
    learnRead(name, value, bound, state?.tracker);
    return value;
  });
  return { names, values, variant: variantOf(key, names, values) };
}

/**
 * Whether HTML rendered or found for another request that waited on the same key serves this one:
 * it read no request state, or the same values of it as this request has.
 */
export function servesToo({ reads, learned }: { reads?: StateReads; learned?: Learned }, context: TemplateContext): boolean {
  if (reads?.unkeyable) return false;
  const first = stateVariable(context);
  const same = (name: string, value: string) => pathValue(first, name) === value;
  if (reads) for (const [name, value] of reads.values) if (!same(name, value)) return false;
  return !learned || learned.names.every((name, i) => same(name, learned.values[i]));
}

/** The key of a fragment's variant; paths that hold nothing are left out (as in response-key.ts's `variantKey`). */
export function variantOf(key: string, names: readonly string[], values: readonly string[]): string {
  const held = names.flatMap((name, i) => (values[i] === ABSENT_STATE ? [] : [[name, values[i]]]));
  return `${key}~${createHash('sha256').update(JSON.stringify(held)).digest('base64url').slice(0, 22)}`;
}

/** The learned names a fragment's key holds instead of HTML, if it holds them. */
export function learnedNames(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((name) => typeof name === 'string' && isStateName(name)) ? (value as string[]) : undefined;
}
