import type { Context } from 'koa';
import { invalidationMark } from '../core/invalidation-log';
import { rawOf, StateTracker } from '../core/state-reads';
import { renderingWith, TemplateState } from '../nunjucks/template-state';
import { PageRecording } from './page-link';

const OWN = Symbol('koa-fragment-cache: views() render');

type Render = ((this: unknown, view: any, locals?: any, ...rest: any[]) => unknown) & { [OWN]?: true };

/** Marks `views()`' own `ctx.render`: its pages carry the request state themselves. */
export function ownRender<F extends Render>(render: F): F {
  (render as Render)[OWN] = true;
  return render;
}

/**
 * Another renderer (koa-nunjucks-2, @ladjs/koa-views) copies `ctx.state` into the variables of the
 * templates it renders, where a fragment could not tell a visitor's `user` from a page's `title`:
 * without this, `{% cache 60, "greeting" %}Hi {{ user.name }}{% endcache %}` would be stored once
 * for everyone. So the `ctx.render` such a renderer assigns (per request, or once on `app.context`)
 * runs with the request's state names known (template-state.ts `renderingWith`), and a fragment
 * learns what it reads of them as under `views()`. Installed on an app's context prototype once.
 */
export function watchRenders(context: object): void {
  const assigned = Object.getOwnPropertyDescriptor(context, 'render');
  if (assigned && !assigned.configurable) return;
  const shared = typeof assigned?.value === 'function' ? (assigned.value as Render) : undefined;
  Object.defineProperty(context, 'render', {
    configurable: true,
    get(this: Context) {
      return shared && withRequestState(this, shared);
    },
    set(this: Context, render: unknown) {
      // Assigned per request by the renderer's middleware, before the handler loads what it renders.
      const value = typeof render === 'function' && !(render as Render)[OWN] ? withRequestState(this, render as Render, invalidationMark()) : render;
      Object.defineProperty(this, 'render', { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

function withRequestState(ctx: Context, render: Render, began?: number): Render {
  return function renderWithState(this: unknown, view, locals, ...rest) {
    const state = rawOf(ctx.state) as Record<string, unknown>;
    const own = typeof locals === 'object' && locals !== null ? locals : {};
    const names = new Set(Object.keys(state).filter((name) => !(name in own)));
    // While cached() computes, what the templates read joins what the response depends on.
    const tracker = PageRecording.of(ctx)?.tracker ?? new StateTracker();
    return renderingWith(new TemplateState(tracker, names, began), () => render.call(this, view, locals, ...rest));
  };
}
