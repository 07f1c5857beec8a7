import Router from '@koa/router';
import type { Context } from 'koa';
import type { Registry } from 'prom-client';
import { makeTemplateFragmentKey, type Cache } from '../index';
import { metricsMiddleware } from '../metrics';
import { adminAccess, logIn } from './admin-access';
import { csrfToken, readOwnForm } from './csrf';
import { dashboardModel } from './dashboard-model';
import type { StatsHistory } from './stats-history';

export interface DashboardRouterOptions {
  cache: Cache;
  history: StatsHistory;
  registry: Registry;
  /** See `adminAccess`; undefined: this machine only. */
  adminToken: string | undefined;
}

/** The cache dashboard at `/_cache` with its forms, and `/metrics`; both behind `adminAccess`. */
export function createDashboardRouter({ cache, history, registry, adminToken }: DashboardRouterOptions): Router {
  const router = new Router();
  const admin = adminAccess(adminToken);

  router.get('/metrics', admin, metricsMiddleware(registry));

  router.get('/_cache', admin, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    await ctx.render('dashboard.njk', { ...dashboardModel(cache, history), notice: noticeOf(ctx), csrfToken: csrfToken(ctx) });
  });

  // The key the {% cache %} tag stores a named fragment under, computed the way a handler would.
  router.post('/_cache/fragments/delete', admin, async (ctx) => {
    const fields = await readOwnForm(ctx);
    const name = fields.get('name')?.trim() ?? '';
    if (name === '') ctx.throw(400, 'Give the name of the fragment to delete.');
    const vary = (fields.get('vary') ?? '').split(/\r?\n/).map((value) => value.trim()).filter((value) => value !== '');
    const key = makeTemplateFragmentKey(name, vary);
    backToDashboard(ctx, (await cache.delete(key)) ? { deleted: key } : { absent: key });
  });

  // "Keep serving stale while recomputing": the tagged entries stay servable as stale, and one
  // refresh (or render) per entry recomputes them, instead of every visitor waiting for it.
  router.post('/_cache/tags/invalidate', admin, async (ctx) => {
    const fields = await readOwnForm(ctx);
    const tag = fields.get('tag')?.trim() ?? '';
    if (tag === '') ctx.throw(400, 'Give the tag to invalidate.');
    const stale = fields.get('stale') === 'on';
    await (stale ? cache.invalidateTags([tag], { stale: true }) : cache.invalidateTags([tag]));
    backToDashboard(ctx, stale ? { invalidated: tag, stale: '1' } : { invalidated: tag });
  });

  if (adminToken !== undefined) {
    router.post('/_cache/login', async (ctx) => {
      const fields = await readOwnForm(ctx);
      if (logIn(ctx, adminToken, fields.get('token') ?? '')) return backToDashboard(ctx, {});
      ctx.status = 401;
      await ctx.render('login.njk', { csrfToken: csrfToken(ctx), error: 'That is not the admin token.' });
    });
  }

  return router;
}

type Outcome = { deleted: string } | { absent: string } | { invalidated: string; stale?: '1' } | Record<string, never>;

/** Post/redirect/get: reloading the dashboard afterwards does not post the form again. */
function backToDashboard(ctx: Context, outcome: Outcome): void {
  const query = new URLSearchParams(outcome).toString();
  ctx.status = 303;
  ctx.redirect(query === '' ? '/_cache' : `/_cache?${query}`);
}

/** What the last form did, as the redirect told it. */
function noticeOf(ctx: Context): { text: string; code: string } | undefined {
  const said = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined);
  const deleted = said('deleted');
  if (deleted !== undefined) return { text: 'Deleted the fragment stored under', code: deleted };
  const absent = said('absent');
  if (absent !== undefined) return { text: 'Nothing was stored under', code: absent };
  const invalidated = said('invalidated');
  if (invalidated !== undefined) {
    return said('stale') === '1' ? { text: 'Invalidated, served stale while recomputed, the tag', code: invalidated } : { text: 'Invalidated the tag', code: invalidated };
  }
  return undefined;
}
