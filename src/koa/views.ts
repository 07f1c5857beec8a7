import type { Context, Middleware } from 'koa';
import type nunjucks from 'nunjucks';
import { isCacheExtension, type CacheExtension } from '../nunjucks/extension';
import { invalidationMark } from '../core/invalidation-log';
import { rawOf } from '../core/state-reads';
import { offerPages, PageRecording, type PageServices } from './page-link';
import { ownRender } from './foreign-render';

declare module 'koa' {
  interface ExtendableContext {
    /**
     * Renders template `name` with `ctx.state` merged with `locals`, sets the HTML response and
     * resolves the HTML. Template errors reject (Koa answers 500), naming the template.
     */
    render(name: string, locals?: Record<string, unknown>): Promise<string>;
  }
}

/**
 * Koa middleware that adds `ctx.render(name, locals)` backed by a nunjucks environment. With the
 * cache extension on it, and placed before `cache.cached()`, pages it renders tell `cached()` their
 * fragments' tags (`surrogateKeys`), their template digest (a deploy makes them misses) and their
 * `{% nocache %}` holes (filled from `ctx.state` on every hit).
 */
export function views(env: nunjucks.Environment): Middleware {
  let pages: PageServices | undefined;
  return async function render(ctx, next) {
    // Before the handler loads what it renders: fragments are not stored under tags invalidated since.
    const began = invalidationMark();
    ctx.render = ownRender((name: string, locals?: Record<string, unknown>) => renderTemplate(env, ctx, began, name, locals));
    const extension = cacheExtensionOf(env);
    if (extension) offerPages(ctx, (pages ??= pageServices(env, extension)));
    await next();
  };
}

function renderTemplate(env: nunjucks.Environment, ctx: Context, began: number, name: string, locals: Record<string, unknown> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(Object.assign(err, { template: name, message: `rendering template "${name}" failed: ${err.message}` }));
    const extension = cacheExtensionOf(env);
    if (!extension) {
      // Copied through cached()'s tracking when it computes: every variable counts as read.
      env.render(name, { ...ctx.state, ...locals }, (err, html) => (err ? fail(err) : resolve(respond(ctx, html ?? ''))));
      return;
    }
    // The state as it is: what the templates look up of it is learned at each lookup (template-state.ts).
    const state = rawOf(ctx.state) as Record<string, unknown>;
    const names = new Set(Object.keys(state).filter((key) => !(key in locals)));
    const recording = PageRecording.of(ctx);
    const tracking = { names, tracker: recording?.tracker, began };
    extension.pages.render(env as never, name, { ...state, ...locals }, tracking, state, recording !== undefined, (err, page) => {
      if (err) return fail(err as Error);
      recording?.rendered({ ...page!, name });
      resolve(respond(ctx, page!.html));
    });
  });
}

function respond(ctx: Context, html: string): string {
  ctx.type = 'html';
  ctx.body = html;
  return html;
}

function cacheExtensionOf(env: nunjucks.Environment): CacheExtension | undefined {
  return (env as unknown as { extensionsList: unknown[] }).extensionsList.find(isCacheExtension);
}

function pageServices(env: nunjucks.Environment, extension: CacheExtension): PageServices {
  return {
    fill: (ctx, html, holes) => settled<string>((done) => extension.pages.fill(env, html, holes, ctx.state, done)),
    digest: (name) => settled<string>((done) => extension.pages.templateDigest(env as never, name, done)),
  };
}

/**
 * The outcome of a callback-style call: the value itself when it called back at once (keeping a hit
 * synchronous), else a promise of it.
 */
function settled<T>(start: (done: (err: unknown, value?: T) => void) => void): T | Promise<T> {
  let outcome: { err: unknown; value?: T } | undefined;
  let later: ((err: unknown, value?: T) => void) | undefined;
  start((err, value) => (later ? later(err, value) : (outcome ??= { err, value })));
  if (outcome) {
    if (outcome.err) throw outcome.err;
    return outcome.value as T;
  }
  return new Promise<T>((resolve, reject) => (later = (err, value) => (err ? reject(err) : resolve(value as T))));
}
