// Soak (opt-in: `npm run soak`; 3 s in the smoke run): the demo app under mixed traffic for
// SOAK_SECONDS (default 600): catalog pages (fragment hits), product pages (response hits), product
// pages with a new query string each time (misses that fill the store until it evicts),
// stale-while-revalidate prices, 'del' fragments, unknown paths, and edits through the real form
// (CSRF token and cookie, then a POST that invalidates the product's tag). The app runs in a child
// process on its own copy of the catalog; its RSS and the cache's stats are sampled every
// SOAK_SAMPLE_SECONDS (default 10). Reports errors, RSS at the start, end and peak, the trend of RSS
// and of the live heap (after a full GC) once the store is full, and the hit ratios.
// SOAK_CACHE_URL: soak on Redis instead of memory; SOAK_MAX_BYTES: the store's (or L1's) bound,
// default 16 MiB (full within the first minute, so that most of the soak is the steady state).
'use strict';

const http = require('node:http');
const path = require('node:path');
const { quick, median, round, sleep } = require('../lib/common');

const SECONDS = Number(process.env.SOAK_SECONDS) || (quick ? 3 : 600);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS) || (SECONDS < 60 ? 1 : 10);
const WORKERS = 8;
/**
 * The store's bound: small enough that the misses fill it within the first minute, so that most of
 * the soak is the steady state (store full, evicting) in which RSS must stay flat. With the default
 * 64 MiB it takes 5–6 minutes to fill (SOAK_MAX_BYTES=67108864 to soak that way).
 */
const DEFAULT_MAX_BYTES = 16 * 2 ** 20;
const PRODUCT_IDS = require('../../data/catalog.seed.json').map((product) => product.id);

function serve() {
  const fs = require('node:fs');
  const os = require('node:os');
  // One compile for both: the app checks `instanceof CachedResponse` against the Cache's own copy.
  const { Cache } = require('../../demo-dist');
  const { createApp } = require('../../demo-dist/app/app');
  const { serveApp } = require('../lib/child');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-soak-'));
  const url = process.env.SOAK_CACHE_URL;
  const maxBytes = Number(process.env.SOAK_MAX_BYTES) || DEFAULT_MAX_BYTES;
  const cache = new Cache(url ? { store: url, keyPrefix: `kfc-soak-${process.pid}`, ...(maxBytes && { l1: { maxBytes } }) } : { maxBytes });
  cache.on('error', (err) => console.error(`soak: ${err.message}`));
  // A slow "database" as in the demo, a little faster so that a soak sees more requests.
  const app = createApp({ cache, dataFile: path.join(dir, 'catalog.json'), latencyMs: 20, livePricesMs: 100, statsSampleSeconds: 60 });
  app.on('error', (err) => console.error(`soak app: ${err.stack}`));
  serveApp(app, {
    sample() {
      // A full collection first (the child runs with --expose-gc), so heapUsed is what is live.
      global.gc();
      const { rss, heapUsed, external } = process.memoryUsage();
      return { rss, heapUsed, external, stats: cache.stats(), memory: cache.memoryUsage() };
    },
    async close() {
      await app.close();
      if (url) await cache.clear();
      await cache.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** One request; resolves status, headers and body (bodies only when asked for). */
function request(agent, base, { method = 'GET', path: url, headers = {}, body, keepBody = false }) {
  return new Promise((resolve) => {
    const req = http.request(`${base}${url}`, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => keepBody && chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ status: 0, error: err.message }));
    req.end(body);
  });
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** An edit through the form, as a browser makes it: the page sets the CSRF cookie its form carries. */
async function edit(agent, base) {
  const id = pick(PRODUCT_IDS);
  const form = await request(agent, base, { path: `/products/${id}/edit`, keepBody: true });
  if (form.status !== 200) return [form];
  const token = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1];
  const cookie = [form.headers['set-cookie'] ?? []].flat().map((c) => c.split(';')[0]).join('; ');
  const fields = new URLSearchParams({ _csrf: token ?? '', name: `Product ${id}`, price: (10 + Math.random() * 90).toFixed(2), category: 'Soak', description: `Edited at ${Date.now()}` });
  const saved = await request(agent, base, {
    method: 'POST',
    path: `/products/${id}/edit`,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: fields.toString(),
  });
  return [form, { ...saved, ok: saved.status === 303 }];
}

/** The traffic mix: weight, and a request (or two) with the statuses that count as answered. */
const MIX = [
  [50, 'catalog page', (agent, base) => request(agent, base, { path: '/' })],
  [22, 'product page', (agent, base) => request(agent, base, { path: `/products/${pick(PRODUCT_IDS)}` })],
  [10, 'product page, new query', (agent, base) => request(agent, base, { path: `/products/${pick(PRODUCT_IDS)}?ref=${Math.random().toString(36).slice(2)}` })],
  [6, 'live prices', (agent, base) => request(agent, base, { path: '/live-prices' })],
  [4, "'del' fragment", (agent, base) => request(agent, base, { path: Math.random() < 0.5 ? '/demo/del' : '/demo/del?fresh=1' })],
  [3, 'unknown path', async (agent, base) => ({ ...(await request(agent, base, { path: '/no-such-page' })), expect: 404 })],
  [5, 'edit', edit],
];
const TOTAL_WEIGHT = MIX.reduce((sum, [weight]) => sum + weight, 0);

function choose() {
  let n = Math.random() * TOTAL_WEIGHT;
  for (const entry of MIX) if ((n -= entry[0]) < 0) return entry;
  return MIX[0];
}

async function worker(agent, base, until, counts) {
  while (performance.now() < until) {
    const [, kind, run] = choose();
    const answers = [await run(agent, base)].flat();
    for (const answer of answers) {
      const ok = answer.ok ?? answer.status === (answer.expect ?? 200);
      counts.requests++;
      counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
      if (!ok) {
        counts.errors++;
        if (counts.errorSamples.length < 10) counts.errorSamples.push(`${kind}: ${answer.status} ${answer.error ?? ''}`.trim());
      }
    }
  }
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function run() {
  const { startChild } = require('../lib/child');
  const server = await startChild(__filename, ['serve'], { execArgv: ['--expose-gc'], profile: 'soak.server' });
  try {
    const base = `http://127.0.0.1:${server.ready.port}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS });
    const counts = { requests: 0, errors: 0, byKind: {}, errorSamples: [] };
    const startedAt = performance.now();
    const until = startedAt + SECONDS * 1000;
    const samples = [];
    const sample = async () => {
      const { rss, heapUsed, external, stats, memory } = await server.ask('sample');
      samples.push({
        seconds: round((performance.now() - startedAt) / 1000, 1),
        rssMiB: round(rss / 2 ** 20, 1),
        heapMiB: round(heapUsed / 2 ** 20, 1),
        externalMiB: round(external / 2 ** 20, 1),
        cacheMiB: memory ? round(memory.bytes / 2 ** 20, 1) : undefined,
        requests: counts.requests,
        errors: counts.errors,
        fragmentHitRatio: round(stats.byKind.fragment.hitRatio, 3),
        responseHitRatio: round(stats.byKind.response.hitRatio, 3),
      });
    };
    const sampling = (async () => {
      await sample();
      while (performance.now() + SAMPLE_SECONDS * 1000 <= until) {
        await sleep(startedAt + samples.length * SAMPLE_SECONDS * 1000 - performance.now());
        await sample();
      }
    })();
    await Promise.all(Array.from({ length: WORKERS }, () => worker(agent, base, until, counts)));
    await sampling;
    await sample();
    agent.destroy();
    const { stats } = await server.ask('sample');

    // Steady state: once the store has filled up to its bound (it then evicts), and no earlier than
    // half-way. Before that, RSS grows with the store by design.
    const rss = samples.map((s) => s.rssMiB);
    const fullAt = samples.find((s) => (s.cacheMiB ?? 0) >= 0.99 * Math.max(...samples.map((x) => x.cacheMiB ?? 0)))?.seconds ?? 0;
    const steadyFrom = Math.max(fullAt, SECONDS / 2);
    const steady = samples.filter((s) => s.seconds >= steadyFrom);
    const trendOf = (pick) => (steady.length > 1 ? slope(steady.map((s) => ({ x: s.seconds / 60, y: pick(s) }))) : 0);
    const trend = trendOf((s) => s.rssMiB);
    const heapTrend = trendOf((s) => s.heapMiB);
    const reads = ['fragment', 'response'].map((kind) => stats.byKind[kind]);
    const overall = reads.reduce((s, k) => s + k.hits + k.stale, 0) / reads.reduce((s, k) => s + k.hits + k.stale + k.misses, 0);
    const row = {
      seconds: SECONDS,
      requests: counts.requests,
      'req/s': Math.round(counts.requests / SECONDS),
      errors: counts.errors,
      'RSS MiB start': rss[0],
      'RSS MiB end': rss.at(-1),
      'RSS MiB max': Math.max(...rss),
      'steady from s': steadyFrom,
      'RSS MiB/min, steady': round(trend, 2),
      'live heap MiB/min, steady': round(heapTrend, 2),
      'hit ratio': round(overall, 3),
      'fragment hit ratio': round(stats.byKind.fragment.hitRatio, 3),
      'response hit ratio': round(stats.byKind.response.hitRatio, 3),
    };
    // "Flat": in the steady state RSS grows by less than 5 % of its median per 10 minutes. Less
    // than 2 minutes of steady state: no verdict.
    const flat = trend * 10 < 0.05 * median(steady.map((s) => s.rssMiB));
    const targets = [
      { measure: 'soak: errors (network errors, unexpected statuses)', goal: '0', value: String(counts.errors), met: counts.errors === 0 },
      { measure: 'soak: RSS in the steady state (store full)', goal: '< 5 % growth per 10 min', value: `${round(trend, 2)} MiB/min`, met: SECONDS - steadyFrom >= 120 ? flat : undefined },
    ];
    const store = `${process.env.SOAK_CACHE_URL ? 'Redis + L1' : 'memory'}, ${(Number(process.env.SOAK_MAX_BYTES) || DEFAULT_MAX_BYTES) / 2 ** 20} MiB`;
    const mix = Object.entries(counts.byKind).map(([request, count]) => `${request} ${count}`).join(', ');
    return {
      settings: { seconds: SECONDS, sampleSeconds: SAMPLE_SECONDS, workers: WORKERS, store },
      tables: [
        { caption: `The demo app (store: ${store}) under ${WORKERS} clients for ${SECONDS} s; samples every ${SAMPLE_SECONDS} s. Requests: ${mix}.`, rows: [row] },
        ...(counts.errorSamples.length ? [{ caption: 'First errors', rows: counts.errorSamples.map((error) => ({ error })) }] : []),
      ],
      rows: targets,
      charts: [
        {
          name: 'soak',
          type: 'line',
          title: `Soak, ${SECONDS} s: the app's RSS, live heap (after a full GC) and store size`,
          xLabel: 'seconds',
          yLabel: 'MiB',
          series: [
            { name: 'RSS MiB', points: samples.map((s) => ({ x: s.seconds, y: s.rssMiB })) },
            { name: 'live heap MiB', points: samples.map((s) => ({ x: s.seconds, y: s.heapMiB })) },
            { name: 'store MiB', dashed: true, points: samples.map((s) => ({ x: s.seconds, y: s.cacheMiB })) },
          ],
        },
      ],
      mix: counts.byKind,
      errorSamples: counts.errorSamples,
      samples,
      stats,
    };
  } finally {
    await server.stop();
  }
}

module.exports = {
  title: 'Soak',
  order: 90,
  optIn: true,
  kind: 'custom',
  limitSeconds: SECONDS + 300,
  about: 'The demo app under mixed traffic: zero errors, and RSS flat once the store is full.',
  run,
};

if (require.main === module && process.argv[2] === 'serve') serve();
