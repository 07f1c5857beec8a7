import Router from '@koa/router';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cache } from '../index';
import type { Catalog, Product } from './catalog';

/** /live-prices stays fresh this long, then is served stale while one request recomputes it. */
const LIVE_PRICES_FRESH_SECONDS = 5;
const LIVE_PRICES_STALE_SECONDS = 60;
/**
 * Past that (a quiet minute), the last prices are still kept this long, and a visitor waits at
 * most LIVE_PRICES_SOFT_TIMEOUT_MS for new ones before getting them (the refresh goes on).
 */
const LIVE_PRICES_KEPT_SECONDS = 600;
const LIVE_PRICES_SOFT_TIMEOUT_MS = 150;
/** How long the box on /demo/del stays cached between fresh renders. */
const DEL_DEMO_SECONDS = 60;

export interface DemoRouterOptions {
  cache: Cache;
  catalog: Catalog;
  /** How long computing /live-prices takes, in milliseconds. */
  livePricesMs: number;
}

/** Pages that each show one more capability of the library: see "The demo app" in README.md. */
export function createDemoRouter({ cache, catalog, livePricesMs }: DemoRouterOptions): Router {
  const router = new Router();

  const livePrices = cache.cached({
    timeout: LIVE_PRICES_FRESH_SECONDS,
    staleWhileRevalidate: LIVE_PRICES_STALE_SECONDS,
    staleIfError: LIVE_PRICES_KEPT_SECONDS,
    softTimeoutMs: LIVE_PRICES_SOFT_TIMEOUT_MS,
  });
  router.get('/live-prices', livePrices, async (ctx) => {
    await sleep(livePricesMs); // a slow upstream price feed: what the cache hides from visitors
    const quotes = (await catalog.list()).map(quoteOf);
    await ctx.render('live-prices.njk', {
      quotes,
      freshSeconds: LIVE_PRICES_FRESH_SECONDS,
      staleSeconds: LIVE_PRICES_STALE_SECONDS,
      keptSeconds: LIVE_PRICES_KEPT_SECONDS,
      softTimeoutMs: LIVE_PRICES_SOFT_TIMEOUT_MS,
      feedMs: livePricesMs,
    });
  });

  // The greeting in every page's header is a {% nocache %} hole: set a name, and cached pages greet it.
  router.get('/hello', (ctx) => {
    const name = visitorName(typeof ctx.query.name === 'string' ? ctx.query.name : undefined);
    if (name) ctx.cookies.set(VISITOR_COOKIE, name, { httpOnly: true, sameSite: 'lax', path: '/', overwrite: true });
    else ctx.cookies.set(VISITOR_COOKIE, null, { path: '/' });
    ctx.redirect('/');
  });

  // `'del'` as the fragment's timeout: delete it and render it fresh, without storing.
  router.get('/demo/del', async (ctx) => {
    const fresh = ctx.query.fresh === '1';
    await ctx.render('del-demo.njk', { fresh, timeout: fresh ? 'del' : DEL_DEMO_SECONDS, seconds: DEL_DEMO_SECONDS });
  });

  return router;
}

/** The cookie holding the name the visitor chose (see /hello). */
export const VISITOR_COOKIE = 'visitor';

/** A visitor's chosen name, if it is one: a few letters, digits or dashes. */
export function visitorName(value: string | undefined): string | undefined {
  return value !== undefined && /^[A-Za-z0-9 -]{1,24}$/.test(value) ? value : undefined;
}

/** A made-up market price: the list price moved by up to 3 % either way. */
function quoteOf(product: Product): { product: Product; price: number; change: number } {
  const change = (Math.random() - 0.5) * 0.06;
  return { product, price: product.price * (1 + change), change };
}
