// One load process of the chaos suite (scenario.js forks two per row): a Cache of the built
// library (run.js' copy of dist/) on the row's store, a Koa app with a cached() route, and workers
// that call set/delete, get, inc, a memoized function and the page at a steady pace, recording
// every call: when it started (ms since the epoch, comparable across processes), how long it took,
// what it wrote and what it answered. Each worker owns its keys, so that every read can be judged
// against that worker's own writes (checks.js). Driven over IPC: { id, op, args } → { id, result }.
'use strict';

const http = require('node:http');
const Koa = require('koa');
const Router = require('@koa/router');
const { Cache } = require(process.env.KFC_CHAOS_LIBRARY);

const config = JSON.parse(process.env.CHAOS_LOAD);
// Per worker. Prime, so that deletes (every 4th write) land on every key in turn; many, so that a
// key written just before a fault is often not written again before it is read after recovery.
const KEYS = 101;
const MEMO_ARGS = 30;
const PAGES = 20;
/** Cached pages are keyed by Host too: the same one from both processes, so they share entries. */
const HOST = 'chaos.test';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const options = {
  store: config.store,
  keyPrefix: config.keyPrefix,
  operationTimeoutMs: config.operationTimeoutMs,
  lock: { waitMs: config.lockWaitMs },
};
/** The library's own Redis store, or (`--client=ioredis`) a thin one over ioredis for each cache. */
const withStore = (more = {}) => {
  if (config.client !== 'ioredis') return { ...options, ...more };
  const { IoredisStore } = require('./ioredis-store');
  return { ...options, ...more, store: new IoredisStore(config.store, config.keyPrefix) };
};
const cache = new Cache(withStore());
/** Closed while the fault lasts: close() must stay bounded then too. */
const spare = new Cache(withStore());
cache.on('error', () => undefined);
spare.on('error', () => undefined);

const log = [];
/** When this process's event loop did not run (a busy machine): excuses that much of a slow call. */
const stalls = [];
let tick = now();
setInterval(() => {
  const at = now();
  if (at - tick > 30) stalls.push({ at: tick + 10, ms: at - tick - 10 });
  tick = at;
}, 10).unref();
let phase = 'load';
let running = false;
let workers = [];

/** Runs `call`, recording { kind, key, at, ms, phase, ...describe(result) } or what it threw. */
async function recorded(kind, key, call, describe) {
  const at = now();
  let entry;
  try {
    entry = describe(await call());
  } catch (err) {
    entry = { thrown: String(err?.message ?? err) };
  }
  log.push({ kind, key, at, ms: now() - at, phase, ...entry });
}

const memo = cache.memoize(
  async (arg) => {
    await sleep(config.computeMs);
    return `m${arg}`;
  },
  { name: 'chaos-memo', timeout: 1 },
);

const app = new Koa();
const router = new Router();
router.get('/page/:n', cache.cached({ timeout: 2 }), async (ctx) => {
  await sleep(config.computeMs);
  ctx.body = `page ${ctx.params.n}`;
});
app.use(router.routes());
const server = app.listen(0, '127.0.0.1');
const agent = new http.Agent({ keepAlive: true });

function page(n) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: server.address().port, path: `/page/${n}`, headers: { host: HOST }, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
  });
}

const keysOf = (w) => Array.from({ length: KEYS }, (_, i) => `${config.name}${w}:${i}`);
const counterOf = (w) => `${config.name}${w}:count`;
const pick = (n) => Math.floor(Math.random() * n);

async function worker(w) {
  const keys = keysOf(w);
  for (let i = 0; running; i++) {
    const key = keys[i % KEYS];
    if (i % 4 === 3) await recorded('del', key, () => cache.delete(key), (ok) => ({ ok }));
    else {
      const v = `${key}#${i}`;
      await recorded('set', key, () => cache.set(key, v, 300), (ok) => ({ v, ok }));
    }
    const other = keys[pick(KEYS)];
    await recorded('get', other, () => cache.get(other), (r) => ({ r: r ?? null }));
    await recorded('inc', counterOf(w), () => cache.inc(counterOf(w)), (r) => ({ r: r ?? null }));
    const arg = pick(MEMO_ARGS);
    await recorded('memo', `m${arg}`, () => memo(arg), (r) => ({ ok: r === `m${arg}` }));
    const n = pick(PAGES);
    await recorded('page', `/page/${n}`, () => page(n), ({ status, text }) => ({ ok: status === 200 && text === `page ${n}`, status }));
    await sleep(config.paceMs);
  }
}

let spareClosing = false;
let spareWriting;
async function spareWrites() {
  for (let i = 0; running && !spareClosing; i++) {
    await recorded('spare', 'spare', () => spare.set('spare', i), (ok) => ({ ok }));
    await sleep(100);
  }
}

const closes = {};
async function timedClose(name, target) {
  const started = now();
  await target.close();
  closes[name] = now() - started;
}

/** Every key this process wrote, read again through a cache of its own without L1. */
async function readBack(label) {
  const reader = new Cache(withStore({ l1: false, operationTimeoutMs: 1000 }));
  let errors = 0;
  reader.on('error', () => errors++);
  const keys = Array.from({ length: config.workers }, (_, w) => keysOf(w)).flat();
  const counters = Array.from({ length: config.workers }, (_, w) => counterOf(w));
  // A read that failed answers as a miss, which says nothing: read again until none failed.
  for (let attempt = 0; attempt < 5; attempt++) {
    errors = 0;
    const at = now();
    const values = await reader.getMany([...keys, ...counters]);
    if (errors > 0) continue;
    keys.forEach((key, i) => log.push({ kind: 'get', key, at, ms: 0, phase: label, r: values[i] ?? null }));
    counters.forEach((key, i) => log.push({ kind: 'counter', key, at, ms: 0, phase: label, r: values[keys.length + i] ?? null }));
    break;
  }
  await reader.close();
  return errors === 0;
}

/** Retries `call` (recorded) until `done(result)`, at most 20 times: after recovery it should take one. */
async function until(kind, key, call, describe, done) {
  for (let tries = 0; tries < 20; tries++) {
    let result;
    await recorded(kind, key, async () => (result = await call()), describe);
    if (done(result)) return;
    await sleep(100);
  }
}

/** After recovery: a write every key must show from now on (a delete for every other key), and one more inc. */
async function fence() {
  phase = 'fence';
  for (let w = 0; w < config.workers; w++) {
    for (const [i, key] of keysOf(w).entries()) {
      const v = `${key}#fence`;
      if (i % 2) await recorded('del', key, () => cache.delete(key), (ok) => ({ ok }));
      else await until('set', key, () => cache.set(key, v, 300), (ok) => ({ v, ok }), (ok) => ok);
    }
    const counter = counterOf(w);
    await until('inc', counter, () => cache.inc(counter), (r) => ({ r: r ?? null }), (r) => r !== undefined);
  }
}

const ops = {
  async start() {
    // Every key holds an acknowledged value before the fault: a set acknowledged and then lost
    // brings an older value back (judged), where on a key never written it would read as a miss.
    await Promise.all(
      Array.from({ length: config.workers }, async (_, w) => {
        for (const key of keysOf(w)) {
          const v = `${key}#start`;
          await recorded('set', key, () => cache.set(key, v, 300), (ok) => ({ v, ok }));
        }
      }),
    );
    running = true;
    workers = Array.from({ length: config.workers }, (_, w) => worker(w));
    spareWriting = spareWrites();
  },
  async stop() {
    running = false;
    await Promise.all([...workers, spareWriting]);
  },
  async closeSpare() {
    spareClosing = true;
    await timedClose('spareDuringFault', spare);
  },
  readBack,
  fence,
  log: () => ({ records: log, stalls }),
  async close() {
    server.close();
    agent.destroy();
    await timedClose('final', cache);
    if (!closes.spareDuringFault) await timedClose('spare', spare);
    return closes;
  },
  // The L1 probe (scenario.js) reads and writes through these.
  set: (key, value) => cache.set(key, value, 300),
  get: (key) => cache.get(key),
  peek: (key) => cache.peek(key),
};

/** A reply, unless the driver is gone (it stopped this row after a failure): then nobody waits for it. */
const reply = (message) => process.connected && process.send(message, (err) => err && undefined);
process.on('message', async ({ id, op, args }) => {
  try {
    const result = await ops[op](...args);
    reply({ id, result: result ?? null });
  } catch (err) {
    reply({ id, error: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));

// Ready once listening and connected: the first calls of a new cache wait for its first connection.
server.once('listening', async () => {
  await Promise.all([cache.get('warm-up'), spare.get('warm-up')]);
  process.send({ ready: true });
});
