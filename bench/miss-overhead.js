// Scenario 3, miss overhead: what caching costs when it never pays off. The routes of scenarios 1
// and 2 with every request a miss, beside the same work with no cache at all:
//  - the 10 KB route under cache.cached() (memory store; Redis + L1), every request a new query
//    string, so each one runs the handler and stores its response, vs bare Koa (autocannon, child
//    process, rotating rounds as in response.js);
//  - the 50-product page with every fragment a miss (a vary value that changes on every render), so
//    each fragment is rendered and stored, vs the same page without {% cache %} (in-process,
//    lib.interleave).
// Entries live 2 s, so the stores hold a bounded number of them. BENCH_QUICK=1: a smoke run.
const fs = require('node:fs');
const path = require('node:path');
const { Cache, createEnvironment } = require('../dist');
const { addFilters, plainEnvironment, products, renderWith, views } = require('./fragments');
const { quick, REDIS_URL, interleave, loadRounds, median, ratioPerRound, round, runMain, serveApp, startChild, table, withServerCpu, writeResult } = require('./lib');

const BODY_BYTES = 10 * 1024;
const ROUNDS = quick ? 1 : 10;
const CONNECTIONS = 16;
const ENTRY_SECONDS = 2;
const ROUTES = { '/bare': 'bare Koa', '/memory': 'cached(): memory', '/redis-l1': 'cached(): Redis + L1' };

function serve() {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const { htmlPage } = require('./lib');
  const page = htmlPage(BODY_BYTES);
  const send = (ctx) => {
    ctx.type = 'html';
    ctx.body = page;
  };
  const caches = {
    memory: new Cache(),
    'redis-l1': new Cache({ store: REDIS_URL, keyPrefix: `kfc-bench-miss-${process.pid}`, operationTimeoutMs: 1000 }),
  };
  const router = new Router();
  router.get('/bare', send);
  for (const [name, cache] of Object.entries(caches)) {
    cache.on('error', (err) => console.error(`${name}: ${err.message}`));
    router.get(`/${name}`, cache.cached({ timeout: ENTRY_SECONDS }), send);
  }
  const app = new Koa().use(router.routes());
  serveApp(app, {
    counts: () => Object.values(caches).map((cache) => cache.stats().byKind.response),
    async close() {
      for (const cache of Object.values(caches)) {
        await cache.clear();
        await cache.close();
      }
    },
  });
}

/** autocannon options for `route` with a query string no request has used before. */
let requestNumber = 0;
const everyRequestNew = (url, route) => ({
  url,
  requests: [{ setupRequest: (request) => ({ ...request, path: `${route}?n=${++requestNumber}` }) }],
});

async function responseMisses() {
  const server = await startChild(__filename, ['serve']);
  try {
    const base = `http://127.0.0.1:${server.ready.port}`;
    const targets = Object.fromEntries(Object.entries(ROUTES).map(([route, name]) => [name, everyRequestNew(base + route, route)]));
    const before = await server.ask('counts');
    const samples = await loadRounds(targets, { rounds: ROUNDS, connections: CONNECTIONS, warmup: !quick, measure: withServerCpu(server) });
    const after = await server.ask('counts');
    if (after.some((counts, i) => counts.hits !== before[i].hits)) throw new Error('a request that should have missed was a hit');
    return Object.values(ROUTES).map((name) => ({
      page: `10 KB route, ${name}`,
      'per second': Math.round(median(samples[name].map((s) => s.rate))),
      '÷ no cache': round(ratioPerRound(samples, name, ROUTES['/bare']), 3),
      'µs CPU each': round(median(samples[name].map((s) => s.cpuPerRequest)), 1),
    }));
  } finally {
    await server.stop();
  }
}

/** The 50-fragment page with every fragment a miss on `cache`, vs the page without the tag. */
async function fragmentMisses(label, cache, options) {
  const dir = views();
  const cached = fs.readFileSync(path.join(dir, 'cached.njk'), 'utf8');
  // The render number as a vary value: every fragment of every render is a new key.
  fs.writeFileSync(path.join(dir, 'misses.njk'), cached.replace('{% cache 300, "product", p.id %}', `{% cache ${ENTRY_SECONDS}, "product", p.id, render %}`));
  const env = addFilters(createEnvironment({ cache, views: dir }));
  let render = 0;
  const context = { products, currency: 'EUR' };
  const misses = () => renderWith(env, 'misses.njk', { ...context, render: ++render })();
  const uncached = renderWith(plainEnvironment(dir), 'uncached.njk', context);
  if ((await misses()) !== (await uncached())) throw new Error('the page of misses differs from the uncached page');
  const hitsBefore = cache.stats().byKind.fragment.hits;
  const rate = await interleave({ misses, uncached }, options);
  if (cache.stats().byKind.fragment.hits !== hitsBefore) throw new Error('a fragment that should have missed was a hit');
  return [
    { page: `${products.length}-fragment page, no cache`, 'per second': Math.round(rate.uncached), '÷ no cache': 1, 'µs CPU each': round(1e6 / rate.uncached, 1) },
    {
      page: `${products.length}-fragment page, ${label}`,
      'per second': Math.round(rate.misses),
      '÷ no cache': round(rate.ratio('misses', 'uncached'), 3),
      'µs CPU each': round(1e6 / rate.misses, 1),
    },
  ];
}

async function main() {
  const rows = await responseMisses();
  rows.push(...(await fragmentMisses('cached: memory', new Cache())));
  const redis = new Cache({ store: REDIS_URL, keyPrefix: `kfc-bench-miss-fragments-${process.pid}`, operationTimeoutMs: 1000 });
  try {
    // 50 misses a page on Redis are 50 × 4 sequential round trips: far fewer renders per round.
    rows.push(...(await fragmentMisses('cached: Redis + L1', redis, { rounds: quick ? 1 : 7, iterations: quick ? 2 : 20, warmup: 2 })).slice(1));
  } finally {
    await redis.clear();
    await redis.close();
  }
  const targets = rows
    .filter((row) => row['÷ no cache'] !== 1)
    .map((row) => ({ target: `${row.page}: within 5 % of no cache`, measured: row['÷ no cache'], met: row['÷ no cache'] >= 0.95 }));
  console.log('\nMiss overhead: every request or fragment a miss, vs no cache (higher is better)\n');
  console.log(table(rows));
  console.log(`\n${table(targets)}`);
  console.log(`\nwrote ${writeResult('miss-overhead', { bodyBytes: BODY_BYTES, connections: CONNECTIONS, rounds: ROUNDS, entrySeconds: ENTRY_SECONDS, rows, targets })}`);
}

if (process.argv[2] === 'serve') serve();
else runMain(module, main);
