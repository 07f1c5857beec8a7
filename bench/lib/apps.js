// The Koa apps of the HTTP scenarios: one @koa/router route, GET /page, sending the 10 KB page (and
// the Koa floor: the page sent by one middleware).
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

/**
 * The same page behind an authentication middleware that reads a session cookie and leaves the
 * visitor in ctx.state, as most apps have it; the route reads two paths of it (the page is the
 * same bytes for the visitor the benchmark sends).
 */
function statePageApp(...middleware) {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const page = htmlPage();
  const router = new Router();
  router.get('/page', ...middleware, (ctx) => {
    ctx.type = 'html';
    ctx.body = ctx.state.user.id === 1 && ctx.state.user.name === 'alice' ? page : '';
  });
  const app = new Koa();
  app.use(async (ctx, next) => {
    ctx.state.user = { id: ctx.cookies.get('sid') === undefined ? 1 : 2, name: 'alice', roles: ['reader'] };
    await next();
  });
  return app.use(router.routes());
}

/** statePageApp behind cache.cached(options) on `cache`, probed like cachedApp. */
function cachedStateApp(cache, options = {}) {
  return { ...cachedApp(cache, options), app: statePageApp(cache.cached({ timeout: 3600, ...options })) };
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

/**
 * The Koa floor: one middleware sending the 10 KB page as a ready Buffer, no router. Whatever a
 * Koa app answers with costs at least this; a hit answered before routing is held against it.
 */
function floorApp() {
  const Koa = require('koa');
  const body = Buffer.from(htmlPage());
  return new Koa().use((ctx) => {
    ctx.type = 'html';
    ctx.body = body;
  });
}

/**
 * pageApp behind koa-cash 5, on an lru-cache as koa-cash's README sets it up (get/set of the
 * cache), bounded like our memory store (64 MiB); the probe counts its hits and misses.
 */
function koaCashApp({ maxAgeMs = 3600_000 } = {}) {
  const koaCash = require('koa-cash');
  const { LRUCache } = require('lru-cache');
  const lru = new LRUCache({ maxSize: 64 * 2 ** 20, sizeCalculation: (value) => String(value.body).length + 200 });
  const counts = { hits: 0, misses: 0 };
  const cash = koaCash({
    maxAge: maxAgeMs,
    get: (key) => lru.get(key),
    set: (key, value) => lru.set(key, value),
  });
  const cashed = async (ctx, next) => {
    if (await ctx.cashed()) return void counts.hits++;
    counts.misses++;
    await next();
  };
  return { app: pageApp(cash, cashed), probe: () => ({ ...counts }) };
}

module.exports = { pageApp, statePageApp, cachedApp, cachedStateApp, frontCachedApp, floorApp, koaCashApp };
