import type { Context, Middleware } from 'koa';
import type nunjucks from 'nunjucks';

declare module 'koa' {
  interface ExtendableContext {
    /**
     * Renders template `name` with `ctx.state` merged with `locals`, sets the HTML response and
     * resolves the HTML. Template errors reject (Koa answers 500), naming the template.
     */
    render(name: string, locals?: Record<string, unknown>): Promise<string>;
  }
}

/** Koa middleware that adds `ctx.render(name, locals)` backed by a nunjucks environment. */
export function views(env: nunjucks.Environment): Middleware {
  return async function render(ctx, next) {
    ctx.render = (name, locals) => renderTemplate(env, ctx, name, locals);
    await next();
  };
}

function renderTemplate(
  env: nunjucks.Environment,
  ctx: Context,
  name: string,
  locals: Record<string, unknown> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    env.render(name, { ...ctx.state, ...locals }, (err, html) => {
      if (err) {
        reject(Object.assign(err, { template: name, message: `rendering template "${name}" failed: ${err.message}` }));
        return;
      }
      ctx.type = 'html';
      ctx.body = html ?? '';
      resolve(html ?? '');
    });
  });
}
