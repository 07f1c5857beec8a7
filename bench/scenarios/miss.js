// Miss overhead: every request a URL not requested before (wrk's Lua request hook), so every
// request to the cached subject runs the route and stores its response; beside the same route
// without the cache, and koa-cash 5 on an lru-cache, loaded the same way.
'use strict';

const { pageApp, cachedApp, cachedStateApp, koaCashApp } = require('../lib/apps');

module.exports = {
  title: 'Miss overhead',
  order: 20,
  kind: 'http',
  about: '`GET /page?kfcn=<new for each request>`, 10 KB of HTML; cached entries live 60 s on the memory store (default 64 MiB bound).',
  sameBody: true,
  subjects: {
    uncached: { label: 'route without the cache, new URL each request', newUrl: true, app: () => pageApp() },
    cached: {
      label: 'cached(), memory store, new URL each request',
      newUrl: true,
      expect: 'misses',
      app: () => {
        const { Cache } = require('../../dist');
        return cachedApp(new Cache(), { timeout: 60 });
      },
    },
    'koa-cash': { label: 'koa-cash 5, lru-cache, new URL each request', newUrl: true, expect: 'misses', app: () => koaCashApp({ maxAgeMs: 60_000 }) },
    state: {
      label: 'cached(), memory store, new URL each request, route reading ctx.state.user (auth middleware before)',
      newUrl: true,
      expect: 'misses',
      app: () => {
        const { Cache } = require('../../dist');
        return cachedStateApp(new Cache(), { timeout: 60 });
      },
    },
  },
  rows: [
    {
      measure: 'miss cost of learning request state: a route reading two paths of `ctx.state` (auth before `cached()`) vs one reading none',
      subject: 'state',
      baseline: 'cached',
      goal: 0.9,
      short: 'miss reading ctx.state ÷ miss',
      why: '',
    },
    { measure: 'misses, every request a new URL: `cached()` on the memory store vs koa-cash 5 on lru-cache', subject: 'cached', baseline: 'koa-cash', goal: 0.9, short: 'miss ÷ koa-cash 5 miss' },
    { measure: 'miss overhead: every request a new URL, `cached()` vs the same route uncached', subject: 'cached', baseline: 'uncached', goal: 0.8, short: 'miss (new URL) ÷ uncached route', why: 'a miss costs about 40 µs more server CPU than the route (table below): about 15 µs is our JS (normalised query key, header capture, entry JSON, variant and index writes with LRU eviction); the rest is in writev of the same bytes (twice as long as for the uncached route, per profile; not understood)' },
  ],
};
