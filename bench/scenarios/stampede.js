// Stampede: 500 concurrent requests (each on a connection of its own, one Host as behind a load
// balancer) for one cold key whose handler takes 200 ms, on one process (memory store; Redis + L1)
// and on four processes sharing Redis (requests spread round-robin). The handler counts its runs
// with INCR in Redis, outside the cache. Each trial a new key; then the same burst on the warm key
// (what 500 new connections cost this machine anyway). wrk cannot send a one-shot burst, so this
// scenario has its own client.
'use strict';

const http = require('node:http');
const { median, percentile, round, sleep } = require('../lib/common');

const REQUESTS = 500;
const HANDLER_MS = 200;

function serve() {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const { createClient } = require('@keyv/redis');
  const { Cache } = require('../../dist');
  const { htmlPage } = require('../lib/content');
  const { serveApp } = require('../lib/child');
  const { STAMPEDE_STORE: store, STAMPEDE_PREFIX: prefix, BENCH_REDIS_URL: redisUrl } = process.env;
  const page = htmlPage();
  const counter = createClient({ url: redisUrl });
  const cache = new Cache({ store, ...(store === 'memory' ? {} : { keyPrefix: prefix }) });
  // Store failures reported (e.g. calls past operationTimeoutMs while the burst holds the event
  // loop); the cache reports one per message per second, so this is a lower bound.
  let storeErrors = 0;
  cache.on('error', () => storeErrors++);
  const router = new Router();
  router.get('/cold/:trial', cache.cached({ timeout: 60 }), async (ctx) => {
    await counter.incr(`${prefix}:runs:${ctx.params.trial}`);
    await sleep(HANDLER_MS);
    ctx.type = 'html';
    ctx.body = page;
  });
  serveApp(new Koa().use(router.routes()), {
    before: () => counter.connect(),
    storeErrors: () => storeErrors,
    async close() {
      await cache.clear();
      await cache.close();
      await counter.close();
    },
  });
}

/** One GET on a connection of its own; resolves its status and milliseconds. */
function timedGet(url) {
  const started = performance.now();
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, headers: { host: 'shop.example' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
    });
    request.setTimeout(30_000, () => request.destroy(new Error('timed out')));
    request.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
  });
}

async function stampede(config, index, { redisUrl, trials, counter }) {
  const { startChild } = require('../lib/child');
  const prefix = `kfc-bench-stampede-${process.pid}-${index}`;
  const env = { STAMPEDE_STORE: config.store === 'redis' ? redisUrl : 'memory', STAMPEDE_PREFIX: prefix, BENCH_REDIS_URL: redisUrl };
  const servers = [];
  try {
    const started = await Promise.allSettled(Array.from({ length: config.processes }, (_, i) => startChild(__filename, ['serve'], { env, profile: `stampede.${index}.${i}` })));
    for (const outcome of started) if (outcome.status === 'fulfilled') servers.push(outcome.value);
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const results = [];
    for (let trial = 1; trial <= trials; trial++) {
      const urls = servers.map((server) => `http://127.0.0.1:${server.ready.port}/cold/${trial}`);
      const burst = () => Promise.all(Array.from({ length: REQUESTS }, (_, i) => timedGet(urls[i % urls.length])));
      const answers = await burst();
      const warm = (await burst()).map((answer) => answer.ms);
      const ms = answers.map((answer) => answer.ms);
      results.push({
        runs: Number(await counter.get(`${prefix}:runs:${trial}`)),
        errors: answers.filter((answer) => answer.status !== 200).length,
        p50Ms: percentile(ms, 50),
        p99Ms: percentile(ms, 99),
        maxMs: Math.max(...ms),
        warmP50Ms: percentile(warm, 50),
        warmP99Ms: percentile(warm, 99),
      });
    }
    await counter.del(Array.from({ length: trials }, (_, i) => `${prefix}:runs:${i + 1}`));
    const storeErrors = (await Promise.all(servers.map((server) => server.ask('storeErrors')))).reduce((a, b) => a + b, 0);
    return { trials: results, storeErrors };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

const CONFIGS = [
  { name: '1 process, memory', processes: 1, store: 'memory' },
  { name: '1 process, Redis + L1', processes: 1, store: 'redis' },
  { name: '4 processes, Redis + L1', processes: 4, store: 'redis' },
];

async function run({ quick, redisUrl }) {
  const { createClient } = require('@keyv/redis');
  const trials = quick ? 1 : 3;
  const counter = createClient({ url: redisUrl });
  await counter.connect();
  const results = {};
  try {
    for (const [i, config] of CONFIGS.entries()) results[config.name] = await stampede(config, i, { redisUrl, trials, counter });
  } finally {
    await counter.close();
  }
  const tableRows = CONFIGS.map(({ name }) => {
    const { trials: t, storeErrors } = results[name];
    return {
      setup: name,
      'handler runs per cold key': t.map((x) => x.runs).join(', '),
      'failed requests': t.reduce((sum, x) => sum + x.errors, 0),
      'store error reports': storeErrors,
      'p50 ms': round(median(t.map((x) => x.p50Ms))),
      'p99 ms': round(median(t.map((x) => x.p99Ms))),
      'max ms': round(Math.max(...t.map((x) => x.maxMs))),
      'warm p50 / p99 ms': `${round(median(t.map((x) => x.warmP50Ms)))} / ${round(median(t.map((x) => x.warmP99Ms)))}`,
    };
  });
  const rows = CONFIGS.map(({ name }) => {
    const worst = Math.max(...results[name].trials.map((t) => t.runs));
    const failed = results[name].trials.reduce((sum, t) => sum + t.errors, 0);
    return { measure: `stampede, ${name}: ${REQUESTS} concurrent requests for a cold key`, goal: '1 handler run per cold key, 0 failed', value: `${worst} (worst of ${trials}), ${failed} failed`, met: worst === 1 && failed === 0 };
  });
  return {
    settings: { requests: REQUESTS, handlerMs: HANDLER_MS, trials },
    tables: [{ caption: `${REQUESTS} concurrent requests for a cold key, ${HANDLER_MS} ms handler, ${trials} trial(s); latencies: median over trials`, rows: tableRows }],
    rows,
    results,
  };
}

module.exports = { title: 'Stampede', order: 70, kind: 'custom', about: 'One handler run per cold key under a burst, in one and in four processes.', run };

if (require.main === module && process.argv[2] === 'serve') serve();
