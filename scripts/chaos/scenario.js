// One row of the chaos suite: a topology of its own, two load processes (load.js) on it, an L1
// probe between them, one fault, then the checks (checks.js) over what everyone recorded.
//
//   start the topology → load → [prepare] → fault ... recovered → 2 s more load → stop the load
//   → read every key back → fence (a set or delete of every key, an inc of every counter)
//   → 1 s for anything late to land → read back again → close the caches → judge.
'use strict';

const { fork } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { judge } = require('./checks');

/** What the load processes run with: 3 workers each, a pause of 20 ms between rounds of 5 calls. */
const SETTINGS = { workers: 3, paceMs: 20, operationTimeoutMs: 50, lockWaitMs: 1000, computeMs: 5 };
/** A call may overrun its deadline by `marginMs` (timers on 2 busy cores); close() may take `closeMs`. */
const LIMITS = { ...SETTINGS, marginMs: 100, closeMs: 2500 };
const WARM_MS = 1000;
const OBSERVE_MS = 2000;
const SETTLE_MS = 1000;
/** The spare cache of each process is closed this long after the fault, while it lasts. */
const SPARE_CLOSE_AFTER_MS = 500;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function startLoad(config) {
  const child = fork(path.join(__dirname, 'load.js'), [], {
    env: { ...process.env, CHAOS_LOAD: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let nextId = 0;
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const err = new Error(`chaos: load process ${config.name} exited (${code})`);
      reject(err);
      for (const waiter of pending.values()) waiter.reject(err);
    });
    child.on('message', (message) => {
      if (message.ready) return resolve();
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
  });
  return {
    call: (op, ...args) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ id, op, args });
      }),
    async exit() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}

/**
 * Between two processes, every ~150 ms, taking turns: the reader reads the probe key (filling its
 * L1), the writer changes it, and 100 ms after the writer's acknowledgement the reader's L1 must
 * not hold an older value.
 */
function startProbe(a, b) {
  const key = 'l1-probe';
  const stale = [];
  const fills = [];
  let running = true;
  let acked;
  const loop = (async () => {
    for (let n = 1; running; n++) {
      const [writer, reader] = n % 2 ? [a, b] : [b, a];
      await reader.call('get', key);
      if (acked !== undefined && (await reader.call('peek', key)) === acked) fills.push(now());
      const ok = await writer.call('set', key, n);
      const ackAt = now();
      if (ok) acked = n;
      await sleep(ackAt + 100 - now());
      const seen = await reader.call('peek', key);
      if (ok && typeof seen === 'number' && seen < n) stale.push({ ackAt, seenAt: now(), seen, wanted: n });
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { stale, fills };
    },
  };
}

/** Runs `fault` on a fresh `topology`; resolves the judged row (and writes the raw record to `logFile`). */
async function runScenario(topology, fault, logFile) {
  const t = await topology.start();
  const loads = [];
  try {
    const keyPrefix = `chaos-${randomUUID().slice(0, 8)}`;
    const store = topology.store(t);
    const client = process.env.KFC_CHAOS_CLIENT;
    loads.push(...(await Promise.all(['a', 'b'].map((name) => startLoad({ ...SETTINGS, store, keyPrefix, name, client })))));
    const all = (op, ...args) => Promise.all(loads.map((load) => load.call(op, ...args)));
    await all('start');
    const probe = startProbe(...loads);
    await sleep(WARM_MS);
    await fault.prepare?.(t, keyPrefix);
    let faultAt;
    let spareClosed;
    const faulted = () => {
      faultAt = now();
      spareClosed = sleep(SPARE_CLOSE_AFTER_MS).then(() => all('closeSpare'));
      spareClosed.catch(() => undefined); // awaited below; if the fault fails first, the row reports that
    };
    const { recoveredAt, unaffected } = await fault.apply(t, faulted, keyPrefix);
    await sleep(OBSERVE_MS);
    const probed = await probe.stop();
    await spareClosed;
    await all('stop');
    const readBacks = await all('readBack', 'after');
    await all('fence');
    await sleep(SETTLE_MS);
    readBacks.push(...(await all('readBack', 'fenced')));
    const logs = await all('log');
    const closes = await all('close');
    const run = { logs: logs.map((l) => l.records), stalls: logs.map((l) => l.stalls), probe: client ? undefined : probed, faultAt, recoveredAt, readBacks, closes, limits: LIMITS };
    if (logFile) {
      fs.mkdirSync(path.dirname(logFile), { recursive: true });
      fs.writeFileSync(logFile, JSON.stringify(run));
    }
    return judge({ ...run, unaffected });
  } finally {
    await Promise.all(loads.map((load) => load.exit()));
    await t.stop();
  }
}

module.exports = { runScenario, SETTINGS, LIMITS };
