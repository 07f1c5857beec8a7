import { STATUS_CODES } from 'node:http';
import type { Middleware } from 'koa';

/**
 * Renders the client errors the app throws on purpose (403 for a forged form, 400, 413, 415) as a
 * page of the site, with the reason; anything else (a 500) is left to Koa.
 */
export const clientErrorPage: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    const { status, expose, message } = err as { status?: number; expose?: boolean; message?: string };
    if (!(status !== undefined && status >= 400 && status < 500 && expose)) throw err;
    ctx.status = status;
    await ctx.render('error.njk', { title: STATUS_CODES[status] ?? 'Error', message });
  }
};
