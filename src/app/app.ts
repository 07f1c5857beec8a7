import { performance } from 'node:perf_hooks';
import Koa, { type Middleware } from 'koa';
import serve from 'koa-static';
import { Cache, createEnvironment, views } from '../index';
import { cacheMetrics } from '../metrics';
import { Catalog } from './catalog';
import { createDashboardRouter } from './dashboard-routes';
import { createDemoRouter, VISITOR_COOKIE, visitorName } from './demo-routes';
import { clientErrorPage } from './error-page';
import { appPaths } from './paths';
import { createRouter, renderNotFound } from './routes';
import { StatsHistory } from './stats-history';
import { installTemplateHelpers } from './template-helpers';

/** The sidebar's category counts are recomputed this often, in the background. */
const CATEGORY_COUNTS_INTERVAL_SECONDS = 30;
/** The dashboard's chart: a sample of the stats every 5 s, the last 10 minutes of them. */
const DEFAULT_STATS_SAMPLE_SECONDS = 5;
const STATS_SAMPLES_KEPT = 120;

export interface CreateAppOptions {
  /** Where fragments are stored. Default: `Cache.fromEnv(process.env)`. */
  cache?: Cache;
  /** The live catalog file. Default `<repo>/data/catalog.json`; created from the seed when missing. */
  dataFile?: string;
  /** Simulated cost of loading product records, in milliseconds. Default 150. */
  latencyMs?: number;
  /** How long computing /live-prices takes, in milliseconds. Default 800. */
  livePricesMs?: number;
  /**
   * What the dashboard and /metrics ask for. Default `ADMIN_TOKEN`; none (or `''`): they answer
   * requests from this machine only.
   */
  adminToken?: string;
  /** Wrap each fragment in HTML comments saying its key and HIT/MISS. Default: `CACHE_DEBUG_MARKERS=1`. */
  debugMarkers?: boolean;
  /** Seconds between the dashboard's samples of the cache's stats. Default 5. */
  statsSampleSeconds?: number;
}

/** The demo app, carrying the cache and catalog it was built on. */
export interface CatalogApp extends Koa {
  readonly cache: Cache;
  readonly catalog: Catalog;
  /**
   * Stops the app's timers, waits for the work they started, and detaches the app's metrics from
   * the cache; the cache itself stays open.
   */
  close(): Promise<void>;
}

/**
 * The demo product catalog as a Koa app that is not listening yet (`listen()` it, or hand
 * `callback()` to a test client). The app itself carries `app.cache` and `app.catalog`, so tests
 * can look at fragments and data directly. Whoever runs it calls `app.close()` and then
 * `app.cache.close()` when done (the app does not close a cache it may share).
 */
export function createApp(options: CreateAppOptions = {}): CatalogApp {
  const cache = options.cache ?? Cache.fromEnv(process.env);
  const catalog = new Catalog({
    file: options.dataFile ?? appPaths.dataFile,
    seedFile: appPaths.seedFile,
    latencyMs: options.latencyMs,
  });
  const env = createEnvironment({
    cache,
    views: appPaths.views,
    tags: { blockStart: '<%', blockEnd: '%>' }, // `{{ }}` and `{# #}` keep their usual spelling
    trimBlocks: true, // tags on lines of their own leave no blank lines in the HTML
    lstripBlocks: true,
    debugMarkers: options.debugMarkers ?? process.env.CACHE_DEBUG_MARKERS === '1',
  });
  installTemplateHelpers(env, { cache, catalog });

  const categoryCounts = cache.refreshing('category-counts', () => catalog.categoryCounts(), { interval: CATEGORY_COUNTS_INTERVAL_SECONDS });
  const history = new StatsHistory(cache, {
    intervalMs: (options.statsSampleSeconds ?? DEFAULT_STATS_SAMPLE_SECONDS) * 1000,
    capacity: STATS_SAMPLES_KEPT,
  });
  const metrics = cacheMetrics(cache);
  const adminToken = (options.adminToken ?? process.env.ADMIN_TOKEN) || undefined; // '' is no token
  const routers = [
    createRouter({ cache, catalog, categoryCounts }),
    createDemoRouter({ cache, catalog, livePricesMs: options.livePricesMs ?? 800 }),
    createDashboardRouter({ cache, history, registry: metrics.registry, adminToken }),
  ];
  const close = async () => {
    categoryCounts.stop();
    history.stop();
    // Its first computation starts with the app; a failure was already reported as an 'error'.
    await categoryCounts.get().catch(() => undefined);
    metrics.stop();
  };

  const app = Object.assign(new Koa(), { cache, catalog, close });
  app.use(nameTheWorker);
  app.use(requestLocals);
  app.use(serve(appPaths.public));
  app.use(views(env));
  app.use(notFoundPage);
  app.use(clientErrorPage);
  for (const router of routers) app.use(router.routes()).use(router.allowedMethods());
  return app;
}

/** Says which process answered: with WORKERS > 1, clients (and tests) can tell the workers apart. */
const nameTheWorker: Middleware = async (ctx, next) => {
  ctx.set('X-Worker', String(process.pid));
  await next();
};

/**
 * What every view may show about the request: when it began (the footer's "rendered in … ms"), its
 * path (the nav), and who the visitor is (the header's greeting, a `{% nocache %}` hole: cached pages
 * greet each visitor by the name they chose at /hello?name=…).
 */
const requestLocals: Middleware = async (ctx, next) => {
  ctx.state.requestStartedAt = performance.now();
  ctx.state.currentPath = ctx.path;
  ctx.state.visitor = visitorName(ctx.cookies.get(VISITOR_COOKIE)) ?? 'guest';
  await next();
};

/** Gives a page to requests nothing answered (unknown paths); other statuses pass through. */
const notFoundPage: Middleware = async (ctx, next) => {
  await next();
  if (ctx.status === 404 && ctx.body == null) await renderNotFound(ctx, `Nothing lives at ${ctx.path}.`);
};
