import type { Context } from 'koa';
import { rawOf, type StateTracker } from '../core/state-reads';

/**
 * While a response computes, `ctx.state` and `ctx.session` (koa-session's, or any middleware's
 * `session` accessor) are wrapped by `tracker`: what the route reads of them is learned, what it
 * writes is not request state. Returns what puts them back.
 */
export function trackRequestState(ctx: Context, tracker: StateTracker): () => void {
  const state = ctx.state as object;
  ctx.state = tracker.wrap(state, ['state'], undefined);
  // Most apps have no session: `in` finds that without a descriptor made per level.
  const session = 'session' in ctx ? findAccessor(ctx, 'session') : undefined;
  if (session?.get) {
    Object.defineProperty(ctx, 'session', {
      get() {
        const value: unknown = session.get!.call(ctx);
        return typeof value === 'object' && value !== null ? tracker.wrap(value, ['session'], undefined) : value;
      },
      set(value: unknown) {
        tracker.written.add('session');
        session.set?.call(ctx, rawOf(value));
      },
      configurable: true,
    });
  }
  return () => {
    // A route that replaced ctx.state keeps its own.
    if (rawOf(ctx.state) === state) ctx.state = state;
    if (session?.get) delete (ctx as { session?: unknown }).session;
  };
}

/** The descriptor of `name` on `from` or the first of its prototypes that has one. */
export function findAccessor(from: object, name: string): PropertyDescriptor | undefined {
  for (let at: object | null = from; at; at = Object.getPrototypeOf(at) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(at, name);
    if (descriptor) return descriptor;
  }
  return undefined;
}
