// Response hits: the same 10 KB string behind one @koa/router route, sent by bare Koa, by
// cache.cached() on the memory store (on the route, and before routing), by koa-cash 5 on an
// lru-cache and by cache.cached() on Redis with the in-process tier (L1); and the Koa floor, one
// middleware sending the page as a ready Buffer, which a hit before routing is held against. Every
// measured request to a cached subject is a hit.
'use strict';

const { REDIS_URL } = require('../lib/common');
const { pageApp, cachedApp, frontCachedApp, floorApp, koaCashApp } = require('../lib/apps');

module.exports = {
  title: 'Response hits',
  order: 10,
  kind: 'http',
  about: '`GET /page`, 10 KB of HTML, every request to a cached subject a hit; the Koa floor is one middleware sending the page as a ready Buffer.',
  sameBody: true,
  subjects: {
    bare: { label: 'bare Koa + router', app: () => pageApp() },
    memory: {
      label: 'cached(), memory store',
      expect: 'hits',
      app: () => {
        const { Cache } = require('../../dist');
        return cachedApp(new Cache());
      },
    },
    front: {
      label: 'cached() before routing, memory store',
      expect: 'hits',
      app: () => {
        const { Cache } = require('../../dist');
        return frontCachedApp(new Cache());
      },
    },
    'koa-cash': { label: 'koa-cash 5, lru-cache', expect: 'hits', app: () => koaCashApp() },
    floor: { label: 'Koa floor: one middleware sending a ready Buffer (no router)', app: () => floorApp() },
    'redis-l1': {
      label: 'cached(), Redis + L1',
      expect: 'hits',
      app: () => {
        const { Cache } = require('../../dist');
        return cachedApp(new Cache({ store: REDIS_URL, keyPrefix: `kfc-bench-response-${process.pid}`, operationTimeoutMs: 1000 }));
      },
    },
  },
  rows: [
    { measure: 'cached hit, memory store (`cache.cached()` on the route), vs bare Koa + router sending the same string', subject: 'memory', baseline: 'bare', goal: 1.0, short: 'hit (memory) ÷ bare Koa + router', why: 'the bare handler is one assignment, so a hit under the router skips nothing and adds its lookup and three headers (ETag, Age, X-Cache: about 4 µs busy per request); placed before routing it skips the router instead (next rows; profile: [docs/performance.md](docs/performance.md#hit-profiles))' },
    {
      measure: 'cached hit vs koa-cash 5 on lru-cache, same router',
      subject: 'memory',
      baseline: 'koa-cash',
      goal: 1.0,
      short: 'hit (memory) ÷ koa-cash 5',
      why: "koa-cash's hit sets the type and the body only (no ETag, Age or status header, no variant lookup) and costs about 2 µs less than the bare route; ours sends three headers more (profile: [docs/performance.md](docs/performance.md#hit-profiles))",
    },
    { measure: 'cached hit answered before routing (`app.use(cache.cached())`), memory store, vs bare Koa + router', subject: 'front', baseline: 'bare', goal: 1.0, short: 'hit before routing ÷ bare Koa + router', why: "around 1.0× (0.96–1.07× over five runs on 2026-12-07): the hit skips the router and the route, and adds its lookup and three headers (profile: [docs/performance.md](docs/performance.md#hit-profiles))" },
    { measure: 'cached hit answered before routing vs koa-cash 5 on lru-cache', subject: 'front', baseline: 'koa-cash', goal: 1.0, short: 'hit before routing ÷ koa-cash 5' },
    { measure: 'cached hit answered before routing (`app.use(cache.cached())`), memory store, vs the Koa floor (one middleware sending a ready 10 KB Buffer)', subject: 'front', baseline: 'floor', goal: 0.95, short: 'hit before routing ÷ Koa floor', why: "met in some runs: the hit adds about 3 µs of its own (the lookup, three headers more than the floor's two) and about as much again in node's header code and writev (profile: [docs/performance.md](docs/performance.md#hit-profiles))" },
    { measure: 'Redis + L1 hits vs memory hits', subject: 'redis-l1', baseline: 'memory', goal: 0.95, short: 'hit (Redis + L1) ÷ hit (memory)', why: 'the hit path runs the same JS (profiles: cachedResponse 2.2 % vs 2.3 % of samples), yet the server spends about 3–4 µs more CPU per request (table below) outside the profiled JS; not found' },
  ],
};
