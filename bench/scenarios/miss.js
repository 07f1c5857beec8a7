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
      why:
        'learning two paths of `ctx.state` adds about 27 µs to a miss: GC more than doubles (the visitor object, its tracking proxies and the recorded reads, per request) and the proxies cost about 5 µs (profile: [docs/performance.md](docs/performance.md#why-the-miss-goals-are-not-met))',
    },
    {
      measure: 'misses, every request a new URL: `cached()` on the memory store vs koa-cash 5 on lru-cache',
      subject: 'cached',
      baseline: 'koa-cash',
      goal: 0.9,
      short: 'miss ÷ koa-cash 5 miss',
      why: "koa-cash's miss stores a reference to the route's body and watches nothing (about 10 µs over the route); ours tracks what the route reads, keys and encodes the entry and writes the variant and the index (about 47 µs, with their effect on writev; profile: [docs/performance.md](docs/performance.md#why-the-miss-goals-are-not-met))",
    },
    { measure: 'miss overhead: every request a new URL, `cached()` vs the same route uncached', subject: 'cached', baseline: 'uncached', goal: 0.8, short: 'miss (new URL) ÷ uncached route', why: "a miss adds about 25 µs of its own (read tracking, key and vary index, capture and encoding, two LRU writes with eviction, GC) and about as much again in writev and node's and Koa's code, which cost more per request at any lower request rate (the route slowed by a busy loop shows the same); 0.8× leaves about 6 µs for the miss's own work (profiles: [docs/performance.md](docs/performance.md#why-the-miss-goals-are-not-met))" },
  ],
};
