// The Koa apps of the HTTP scenarios: one @koa/router route, GET /page, sending the 10 KB page.
'use strict';

const { htmlPage } = require('./content');

/** A Koa app whose only route, GET /page, runs `middleware` and then sends the 10 KB string. */
function pageApp(...middleware) {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const page = htmlPage();
  const router = new Router();
  router.get('/page', ...middleware, (ctx) => {
    ctx.type = 'html';
    ctx.body = page;
  });
  return new Koa().use(router.routes());
}

/** pageApp behind cache.cached(options) on `cache`; the probe counts its response hits and misses. */
function cachedApp(cache, options = {}) {
  cache.on('error', (err) => console.error(`cache: ${err.message}`));
  return {
    app: pageApp(cache.cached({ timeout: 3600, ...options })),
    probe: () => {
      const { hits, misses, stale } = cache.stats().byKind.response;
      return { hits: hits + stale, misses };
    },
    async close() {
      await cache.clear();
      await cache.close();
    },
  };
}

/**
 * The same route with cache.cached(options) in front of the whole app (`app.use`, before routing):
 * a hit is answered before the router runs, as a reverse proxy in front of the app would.
 */
function frontCachedApp(cache, options = {}) {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const page = htmlPage();
  const router = new Router();
  router.get('/page', (ctx) => {
    ctx.type = 'html';
    ctx.body = page;
  });
  cache.on('error', (err) => console.error(`cache: ${err.message}`));
  return {
    app: new Koa().use(cache.cached({ timeout: 3600, ...options })).use(router.routes()),
    probe: () => {
      const { hits, misses, stale } = cache.stats().byKind.response;
      return { hits: hits + stale, misses };
    },
  };
}

module.exports = { pageApp, cachedApp, frontCachedApp };
