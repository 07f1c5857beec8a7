// Scenario 4, stampede: 500 concurrent requests for one cold key whose handler takes 200 ms, on one
// process (memory store; Redis + L1) and on four processes sharing Redis (each its own Koa app and
// Cache, one keyPrefix, requests spread round-robin over their ports). The handler counts its runs
// with INCR in Redis, outside the cache, so the count does not depend on what it measures. Reports
// handler runs per cold key (target: 1) and client-side latency, beside the latency of the same
// burst once the key is warm (the cost of 500 new connections on this machine). Every trial uses a
// new key. BENCH_QUICK=1: one trial.
const http = require('node:http');
const { createClient } = require('@keyv/redis');
const { quick, REDIS_URL, median, percentile, round, runMain, serveApp, sleep, startChild, table, writeResult } = require('./lib');

const REQUESTS = 500;
const HANDLER_MS = 200;
const TRIALS = quick ? 1 : 5;
const CONFIGS = [
  { name: '1 process, memory', processes: 1, store: 'memory' },
  { name: '1 process, Redis + L1', processes: 1, store: REDIS_URL },
  { name: '4 processes, Redis + L1', processes: 4, store: REDIS_URL },
];

function serve() {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const { Cache } = require('../dist');
  const { htmlPage } = require('./lib');
  const { STAMPEDE_STORE: store, STAMPEDE_PREFIX: prefix } = process.env;
  const page = htmlPage(10 * 1024);
  const counter = createClient({ url: REDIS_URL });
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
  const app = new Koa().use(router.routes());
  serveApp(app, {
    async before() {
      await counter.connect();
    },
    storeErrors: () => storeErrors,
    async close() {
      await cache.clear();
      await cache.close();
      await counter.close();
    },
  });
}

/**
 * One GET on a connection of its own; resolves its status and milliseconds. One Host for every
 * process, as behind a load balancer: the host is part of a response's key.
 */
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

async function stampede(config, counter) {
  const prefix = `kfc-bench-stampede-${process.pid}-${CONFIGS.indexOf(config)}`;
  const env = { STAMPEDE_STORE: config.store, STAMPEDE_PREFIX: prefix };
  const servers = [];
  try {
    for (let i = 0; i < config.processes; i++) servers.push(await startChild(__filename, ['serve'], { env }));
    const trials = [];
    for (let trial = 1; trial <= TRIALS; trial++) {
      const urls = servers.map((server) => `http://127.0.0.1:${server.ready.port}/cold/${trial}`);
      const burst = () => Promise.all(Array.from({ length: REQUESTS }, (_, i) => timedGet(urls[i % urls.length])));
      const answers = await burst();
      // The same burst on the now warm key: what 500 new connections cost this machine anyway.
      const warm = (await burst()).map((answer) => answer.ms);
      const ms = answers.map((answer) => answer.ms);
      trials.push({
        runs: Number(await counter.get(`${prefix}:runs:${trial}`)),
        errors: answers.filter((answer) => answer.status !== 200).length,
        p50Ms: percentile(ms, 50),
        p99Ms: percentile(ms, 99),
        maxMs: Math.max(...ms),
        warmP50Ms: percentile(warm, 50),
        warmP99Ms: percentile(warm, 99),
      });
    }
    await counter.del(Array.from({ length: TRIALS }, (_, i) => `${prefix}:runs:${i + 1}`));
    const storeErrors = (await Promise.all(servers.map((server) => server.ask('storeErrors')))).reduce((a, b) => a + b, 0);
    return { trials, storeErrors };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

async function main() {
  const counter = createClient({ url: REDIS_URL });
  await counter.connect();
  const results = {};
  try {
    for (const config of CONFIGS) results[config.name] = await stampede(config, counter);
  } finally {
    await counter.close();
  }
  const rows = CONFIGS.map(({ name }) => {
    const { trials, storeErrors } = results[name];
    return {
      setup: name,
      'handler runs per cold key': trials.map((t) => t.runs).join(', '),
      'failed requests': trials.reduce((sum, t) => sum + t.errors, 0),
      'store error reports': storeErrors,
      'p50 ms': round(median(trials.map((t) => t.p50Ms))),
      'p99 ms': round(median(trials.map((t) => t.p99Ms))),
      'max ms': round(Math.max(...trials.map((t) => t.maxMs))),
      'warm p50 / p99 ms': `${round(median(trials.map((t) => t.warmP50Ms)))} / ${round(median(trials.map((t) => t.warmP99Ms)))}`,
    };
  });
  const targets = CONFIGS.map(({ name }) => {
    const worst = Math.max(...results[name].trials.map((t) => t.runs));
    return { target: `${name}: 1 handler run per cold key`, measured: worst, met: worst === 1 };
  });
  console.log(`\nStampede: ${REQUESTS} concurrent requests for a cold key, ${HANDLER_MS} ms handler, ${TRIALS} trial(s) (latencies: median over trials)\n`);
  console.log(table(rows));
  console.log(`\n${table(targets)}`);
  console.log(`\nwrote ${writeResult('stampede', { requests: REQUESTS, handlerMs: HANDLER_MS, trials: TRIALS, rows, targets, results })}`);
}

if (process.argv[2] === 'serve') serve();
else runMain(module, main);
