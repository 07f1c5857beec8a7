// Stale-on-invalidate: 32 connections (wrk) on a hot cached page, tagged
// (`new CachedResponse(html, { tags: ['home'] })`, origin 200 ms), whose tag is invalidated in the
// middle of the run: with `invalidateTags(['home'])` the next requests miss and wait for the one
// recomputation; with `invalidateTags(['home'], { stale: true })` they are served the stale page
// while one background refresh recomputes it. Per run: latency (p99 over the run, p99.9, the
// slowest request) and the origin's calls. Modes alternate, after an unmeasured warm-up of each.
'use strict';

const { median, round, sleep } = require('../lib/common');

const ORIGIN_MS = 200;
const MODES = { blocking: "`invalidateTags(['home'])`", stale: "`invalidateTags(['home'], { stale: true })`" };

function serve() {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const { Cache, CachedResponse } = require('../../dist');
  const { htmlPage } = require('../lib/content');
  const { serveApp } = require('../lib/child');
  const page = htmlPage();
  const cache = new Cache();
  cache.on('error', (err) => console.error(`cache: ${err.message}`));
  let calls = 0;
  const router = new Router();
  router.get('/home', cache.cached({ timeout: 3600 }), async (ctx) => {
    calls++;
    await sleep(ORIGIN_MS); // the origin
    ctx.body = new CachedResponse(page, { tags: ['home'], type: 'html' });
  });
  serveApp(new Koa().use(router.routes()), {
    invalidate: ({ stale }) => cache.invalidateTags(['home'], stale ? { stale: true } : undefined),
    counts: () => {
      const { hits, misses, stale } = cache.stats().byKind.response;
      return { calls, hits, misses, stale };
    },
    close: () => cache.close(),
  });
}

/** One wrk run of `seconds` on /home, the tag invalidated (in `mode`) half-way through. */
async function once(server, mode, seconds) {
  const { wrk } = require('../lib/wrk');
  const url = `http://127.0.0.1:${server.ready.port}/home`;
  await (await fetch(url)).arrayBuffer(); // stored and fresh before the run
  const before = await server.ask('counts');
  const load = wrk(url, { seconds });
  await sleep((seconds * 1000) / 2);
  await server.ask('invalidate', { stale: mode === 'stale' });
  const run = await load;
  // The refresh (stale mode) may still be running when wrk stops: its call counts.
  await sleep(ORIGIN_MS + 100);
  const after = await server.ask('counts');
  const delta = Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - before[key]]));
  return { mode, run, ...delta };
}

async function run({ quick }) {
  const { startChild } = require('../lib/child');
  const seconds = quick ? 1 : 4;
  const trials = quick ? 1 : 3;
  const server = await startChild(__filename, ['serve'], { profile: 'stale-invalidate.server' });
  const results = { blocking: [], stale: [] };
  try {
    // Warm-up of both paths (the first refresh of a process loads what replays requests).
    if (!quick) for (const mode of Object.keys(MODES)) await once(server, mode, 2);
    for (let i = 0; i < trials; i++) for (const mode of Object.keys(MODES)) results[mode].push(await once(server, mode, seconds));
  } finally {
    await server.stop();
  }
  const med = (mode, pick) => round(median(results[mode].map(pick)), 1);
  const summary = (mode) => ({
    invalidation: MODES[mode],
    'req/s': med(mode, (r) => r.run.rate),
    'p50 ms': med(mode, (r) => r.run.p50Ms),
    'p99 ms': med(mode, (r) => r.run.p99Ms),
    'p99.9 ms': med(mode, (r) => r.run.p999Ms),
    'max ms': med(mode, (r) => r.run.maxMs),
    'origin calls per invalidation': results[mode].map((r) => r.calls).join(', '),
    'misses (waited)': results[mode].map((r) => r.misses).join(', '),
    'stale answers': results[mode].map((r) => r.stale).join(', '),
  });
  const calls = (mode) => results[mode].map((r) => r.calls);
  return {
    settings: { originMs: ORIGIN_MS, seconds, trials, connections: 32 },
    tables: [
      {
        caption: `\`wrk -t1 -c32 -d${seconds}s\` on a cached page tagged \`home\` (origin ${ORIGIN_MS} ms), the tag invalidated after ${seconds / 2} s; latencies: median over ${trials} run(s) per mode, percentiles as wrk gives them (corrected for coordinated omission: the requests that would have arrived during a stall count too; the 32 that waited are the misses); counts: each run`,
        rows: Object.keys(MODES).map(summary),
      },
    ],
    rows: [
      ...Object.keys(MODES).map((mode) => ({
        measure: `stale-on-invalidate, ${MODES[mode]} mid-run (32 connections, origin ${ORIGIN_MS} ms): p99 / p99.9 / slowest request`,
        value: `${med(mode, (r) => r.run.p99Ms)} / ${med(mode, (r) => r.run.p999Ms)} / ${med(mode, (r) => r.run.maxMs)} ms`,
      })),
      ...Object.keys(MODES).map((mode) => ({
        measure: `stale-on-invalidate, ${MODES[mode]} mid-run under load: origin calls per invalidation`,
        goal: '1',
        value: `${Math.max(...calls(mode))} (worst of ${trials}: ${calls(mode).join(', ')})`,
        met: calls(mode).every((n) => n === 1),
      })),
    ],
    results,
  };
}

module.exports = {
  title: 'Stale-on-invalidate',
  order: 74,
  kind: 'custom',
  about: "A hot tagged page under 32 connections, its tag invalidated mid-run: waiting for the recomputation, or served stale while one refresh runs (`{ stale: true }`).",
  run,
};

if (require.main === module && process.argv[2] === 'serve') serve();
