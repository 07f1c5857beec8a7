// Faults under load: a private redis-server is paused (SIGSTOP, then SIGCONT) and later killed
// (SIGKILL, then restarted empty) while two cached routes on it are loaded side by side: Redis + L1
// and Redis alone, both with the default operationTimeoutMs (50 ms). The load is our own loop of
// keep-alive GETs over 50 keys whose handler takes 5 ms (it reads every answer's X-Cache, and wrk's
// numbers are per run, not per moment). Reports per route: answers, failures, latency before and
// during each fault, and the recovery time after the restart (until the hit ratio is back to 90 %
// of its level before the faults, in 50 ms windows).
'use strict';

const http = require('node:http');
const { percentile, round, sleep } = require('../lib/common');

const WORKERS_PER_ROUTE = 8;
const KEYS = 50;
const HANDLER_MS = 5;
const BUCKET_MS = 250;
const RECOVERY_WINDOW_MS = 50;
const ROUTES = { '/l1': 'Redis + L1', '/l2': 'Redis alone' };

function serve() {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const { Cache } = require('../../dist');
  const { htmlPage } = require('../lib/content');
  const { serveApp } = require('../lib/child');
  const page = htmlPage();
  const url = process.env.FAULTS_REDIS_URL;
  const caches = { l1: new Cache({ store: url, keyPrefix: 'faults-l1' }), l2: new Cache({ store: url, keyPrefix: 'faults-l2', l1: false }) };
  const router = new Router();
  for (const [name, cache] of Object.entries(caches)) {
    cache.on('error', () => undefined); // expected during the faults; the answers tell the story
    router.get(`/${name}/:n`, cache.cached({ timeout: 60 }), async (ctx) => {
      await sleep(HANDLER_MS);
      ctx.type = 'html';
      ctx.body = page;
    });
  }
  serveApp(new Koa().use(router.routes()), { close: () => Promise.all(Object.values(caches).map((cache) => cache.close())) });
}

/** GETs `base + route/<random key>` back to back until `until`, logging each answer. */
async function worker(agent, base, route, startedAt, until, log) {
  while (performance.now() < until) {
    const at = performance.now();
    const answer = await new Promise((resolve) => {
      const request = http.get(`${base}${route}/${Math.floor(Math.random() * KEYS)}`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, cache: res.headers['x-cache'] }));
      });
      request.setTimeout(10_000, () => request.destroy(new Error('timed out')));
      request.on('error', () => resolve({ status: 0 }));
    });
    log.push({ at: at - startedAt, ms: performance.now() - at, ...answer });
  }
}

/** Runs the fault timeline against `redis`; resolves when each step happened (ms from the start). */
async function faults(redis, timeline, startedAt) {
  const since = () => performance.now() - startedAt;
  const until = (seconds) => sleep(Math.max(0, seconds * 1000 - since()));
  const at = {};
  await until(timeline.pause);
  redis.pause();
  at.pause = since();
  await until(timeline.resume);
  redis.resume();
  at.resume = since();
  await until(timeline.kill);
  await redis.stop();
  at.kill = since();
  await until(timeline.restart);
  await redis.start(); // resolves once it answers PING: the restart counts from there
  at.restart = since();
  return at;
}

/** Per-bucket p99 and hit ratio, and the summary row of one route. */
function summarize(name, log, at, timeline) {
  const within = (from, to) => log.filter((r) => r.at >= from && r.at < to);
  const p99 = (rows) => round(percentile(rows.map((r) => r.ms), 99), 1);
  const hitRatio = (rows) => (rows.length === 0 ? undefined : rows.filter((r) => r.cache === 'HIT').length / rows.length);
  const buckets = [];
  for (let from = 0; from < timeline.end * 1000; from += BUCKET_MS) {
    const rows = within(from, from + BUCKET_MS);
    buckets.push({ at: from, requests: rows.length, p99Ms: p99(rows), hitRatio: round(hitRatio(rows), 3), failed: rows.filter((r) => r.status !== 200).length });
  }
  const steady = within(1000 * Math.min(1, timeline.pause / 2), at.pause);
  const level = hitRatio(steady);
  const windows = [];
  for (let from = at.restart; from < timeline.end * 1000; from += RECOVERY_WINDOW_MS) windows.push(within(from, from + RECOVERY_WINDOW_MS));
  const lastLow = windows.findLastIndex((rows) => rows.length > 0 && hitRatio(rows) < 0.9 * level);
  const filled = windows.findLastIndex((rows) => rows.length > 0);
  const recovery = lastLow === -1 ? 0 : lastLow === filled ? undefined : ((lastLow + 1) * RECOVERY_WINDOW_MS) / 1000;
  const firstHit = log.find((r) => r.at >= at.restart && r.cache === 'HIT');
  const failed = log.filter((r) => r.status !== 200).length;
  return {
    buckets,
    row: {
      route: name,
      requests: log.length,
      failed,
      'hit ratio before': round(level, 3),
      'p99 ms before': p99(steady),
      'p99 ms paused': p99(within(at.pause, at.resume)),
      'p99 ms down': p99(within(at.kill, at.restart)),
      'hit ratio down': round(hitRatio(within(at.kill, at.restart)), 3),
      'first HIT after restart, s': firstHit ? round((firstHit.at - at.restart) / 1000, 2) : 'none',
      'recovery s': recovery === undefined ? 'not recovered' : round(recovery, 2),
    },
  };
}

async function run({ quick }) {
  const { startChild, startRedis } = require('../lib/child');
  const timeline = quick ? { pause: 1, resume: 2, kill: 3, restart: 4, end: 6 } : { pause: 4, resume: 6, kill: 10, restart: 13, end: 20 };
  const redis = await startRedis();
  let server;
  try {
    server = await startChild(__filename, ['serve'], { env: { FAULTS_REDIS_URL: redis.url }, profile: 'faults.server' });
    const base = `http://127.0.0.1:${server.ready.port}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS_PER_ROUTE * Object.keys(ROUTES).length });
    const logs = Object.fromEntries(Object.keys(ROUTES).map((route) => [route, []]));
    const startedAt = performance.now();
    const until = startedAt + timeline.end * 1000;
    const load = Object.keys(ROUTES).flatMap((route) => Array.from({ length: WORKERS_PER_ROUTE }, () => worker(agent, base, route, startedAt, until, logs[route])));
    const [at] = await Promise.all([faults(redis, timeline, startedAt), ...load]);
    agent.destroy();
    const summaries = Object.entries(ROUTES).map(([route, name]) => summarize(name, logs[route], at, timeline));
    const tableRows = summaries.map((s) => s.row);
    const events = Object.fromEntries(Object.entries(at).map(([step, ms]) => [step, round(ms / 1000, 2)]));
    const bands = [
      { from: events.pause, to: events.resume, label: 'paused' },
      { from: events.kill, to: events.restart, label: 'killed' },
    ];
    const series = (pick) => summaries.map((s) => ({ name: s.row.route, points: s.buckets.map((b) => ({ x: b.at / 1000, y: pick(b) })) }));
    return {
      settings: { timeline, workersPerRoute: WORKERS_PER_ROUTE, keys: KEYS, handlerMs: HANDLER_MS, bucketMs: BUCKET_MS },
      tables: [
        {
          caption: `Redis paused ${events.pause}–${events.resume} s, killed at ${events.kill} s, answering again at ${events.restart} s, end ${timeline.end} s; ${WORKERS_PER_ROUTE} keep-alive clients per route`,
          rows: tableRows,
        },
      ],
      rows: tableRows.map((row) => ({ measure: `faults, ${row.route}: every request answered while Redis is paused and killed`, goal: '0 failed', value: `${row.failed} failed of ${row.requests}`, met: row.failed === 0 })),
      charts: [
        { name: 'faults-latency', type: 'line', title: `p99 latency per ${BUCKET_MS} ms while Redis is paused and killed`, xLabel: 'seconds', yLabel: 'p99 ms', bands, series: series((b) => b.p99Ms) },
        { name: 'faults-hits', type: 'line', title: `Hit ratio per ${BUCKET_MS} ms`, xLabel: 'seconds', yLabel: 'hit ratio', yMax: 1.05, bands, series: series((b) => b.hitRatio) },
      ],
      events,
      buckets: Object.fromEntries(summaries.map((s) => [s.row.route, s.buckets])),
    };
  } finally {
    await server?.stop();
    await redis.stop();
  }
}

module.exports = { title: 'Faults', order: 80, kind: 'custom', about: 'Every request answered while Redis is paused and killed under load.', run };

if (require.main === module && process.argv[2] === 'serve') serve();
