import { performance } from 'node:perf_hooks';
import Koa, { type Middleware } from 'koa';
import serve from 'koa-static';
import { Cache, createEnvironment, views } from '../index';
import { Catalog } from './catalog';
import { appPaths } from './paths';
import { createRouter, renderNotFound } from './routes';
import { installTemplateHelpers } from './template-helpers';

export interface CreateAppOptions {
  /** Where fragments are stored. Default: `Cache.fromEnv(process.env)`. */
  cache?: Cache;
  /** The live catalog file. Default `<repo>/data/catalog.json`; created from the seed when missing. */
  dataFile?: string;
  /** Simulated cost of loading product records, in milliseconds. Default 150. */
  latencyMs?: number;
}

/** The demo app, carrying the cache and catalog it was built on. */
export interface CatalogApp extends Koa {
  readonly cache: Cache;
  readonly catalog: Catalog;
}

/**
 * The demo product catalog as a Koa app that is not listening yet (`listen()` it, or hand
 * `callback()` to a test client). The app itself carries `app.cache` and `app.catalog`, so tests
 * can look at fragments and data directly. The cache is not closed by the app: whoever runs it
 * calls `app.cache.close()` when done.
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
  });
  installTemplateHelpers(env, { cache, catalog });
  const router = createRouter({ cache, catalog });

  const app = Object.assign(new Koa(), { cache, catalog });
  app.use(nameTheWorker);
  app.use(startRequestClock);
  app.use(serve(appPaths.public));
  app.use(views(env));
  app.use(notFoundPage);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/** Says which process answered: with WORKERS > 1, clients (and tests) can tell the workers apart. */
const nameTheWorker: Middleware = async (ctx, next) => {
  ctx.set('X-Worker', String(process.pid));
  await next();
};

/** Remembers when the request began, for the footer's "rendered in … ms". */
const startRequestClock: Middleware = async (ctx, next) => {
  ctx.state.requestStartedAt = performance.now();
  await next();
};

/** Gives a page to requests nothing answered (unknown paths); other statuses pass through. */
const notFoundPage: Middleware = async (ctx, next) => {
  await next();
  if (ctx.status === 404 && ctx.body == null) await renderNotFound(ctx, `Nothing lives at ${ctx.path}.`);
};
