// Shared by the bench scripts: interleaved timing rounds, HTTP load rounds, servers in child
// processes, a private redis-server, medians and percentiles, result files.
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { fork } = require('node:child_process');
const { freePort, startOwnRedis } = require('../scripts/own-redis');

const quick = process.env.BENCH_QUICK === '1';
/** Redis for the scenarios that need one; `npm run bench` points it at a private redis-server. */
const REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';

/** Median of a list of numbers. */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The p-th percentile (0–100, nearest rank) of a list of numbers; undefined for an empty list. */
function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `value` rounded to `digits` decimals, as a number (for tables and JSON). */
function round(value, digits = 0) {
  return value === undefined ? undefined : +value.toFixed(digits);
}

/**
 * Runs every variant `iterations` times per round, alternating variants round by round, so drift
 * on a shared machine hits them all alike. Resolves the median operations/second of each, and
 * (`ratios`) the median over rounds of each variant's rate ÷ every other's in the same round, which
 * cancels drift between rounds too.
 */
async function interleave(variants, { rounds = quick ? 3 : 15, iterations = quick ? 50 : 400, warmup = 20 } = {}) {
  const names = Object.keys(variants);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (const run of Object.values(variants)) for (let i = 0; i < warmup; i++) await run();
  for (let round = 0; round < rounds; round++) {
    const order = Object.entries(variants);
    if (round % 2) order.reverse();
    for (const [name, run] of order) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await run();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      samples[name].push(iterations / seconds);
    }
  }
  const rate = Object.fromEntries(names.map((name) => [name, median(samples[name])]));
  const ratio = (a, b) => median(samples[a].map((s, i) => s / samples[b][i]));
  // Not enumerable: callers iterate the rates by variant name.
  return Object.defineProperties(rate, { ratio: { value: ratio }, samples: { value: samples } });
}

/** One autocannon run; throws when any request failed, so a broken route cannot look fast. */
async function load(url, { connections = 16, seconds = 1, requests, allowErrors = false } = {}) {
  const autocannon = require('autocannon');
  const result = await autocannon({ url, connections, duration: seconds, requests });
  if (!allowErrors && (result.errors || result.timeouts || result.non2xx)) {
    throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  }
  return { rate: result.requests.average, total: result.requests.total, p50Ms: result.latency.p50, p99Ms: result.latency.p99 };
}

/**
 * HTTP load on each of `targets` ({ name: url or autocannon options }) in turn, `rounds` times,
 * rotating the order every round so drift on a shared machine hits them alike. `measure(name, run)`
 * may wrap each run (e.g. to read the server's CPU time around it). Resolves the samples per name.
 */
async function loadRounds(targets, { rounds, seconds = 1, connections = 16, warmup = true, measure = (_, run) => run() } = {}) {
  const names = Object.keys(targets);
  const runOne = (name) => {
    const target = typeof targets[name] === 'string' ? { url: targets[name] } : targets[name];
    return measure(name, () => load(target.url, { connections, seconds, ...target }));
  };
  if (warmup) for (const name of names) await runOne(name);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      samples[name].push(await runOne(name));
    }
  }
  return samples;
}

/** Median over rounds of `pick(sample) ÷ pick(baseline's sample in the same round)`. */
function ratioPerRound(samples, name, baseline, pick = (s) => s.rate) {
  return median(samples[name].map((s, round) => pick(s) / pick(samples[baseline][round])));
}

/**
 * What must happen even when a scenario is interrupted (SIGINT, SIGTERM): servers and redis-servers
 * it started are stopped, so none outlives the bench. Each entry is synchronous (kills).
 */
const cleanups = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const cleanup of cleanups) cleanup();
    process.exit(130);
  });
}

/**
 * A `measure` hook for loadRounds that also reports the server child's CPU microseconds per request
 * (user + system), which a busy machine blurs less than requests/second.
 */
function withServerCpu(server) {
  const cpu = async () => {
    const { user, system } = await server.ask('cpu');
    return user + system;
  };
  return async (_, run) => {
    const before = await cpu();
    const result = await run();
    return { ...result, cpuPerRequest: ((await cpu()) - before) / result.total };
  };
}

/**
 * A server in a child process (so a load generator in this one does not compete with it for the
 * event loop). The child runs `file` with `args` and answers `ask(type, payload)` through
 * `serveChild` below. `stop()` asks it to close (its 'close' handler) and kills it if it lingers.
 */
async function startChild(file, args = [], { env, execArgv = [] } = {}) {
  // BENCH_CPU_PROF=<dir>: every server child writes a V8 CPU profile there when it exits.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
  const child = fork(file, args, {
    env: { ...process.env, ...env },
    execArgv: [...process.execArgv, ...execArgv, ...profile],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const pending = new Map();
  child.on('message', (message) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`${path.basename(file)}: ${message.error}`));
    else waiter.resolve(message.result);
  });
  const kill = () => child.kill('SIGKILL');
  cleanups.add(kill);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  exited.then((code) => {
    cleanups.delete(kill);
    for (const waiter of pending.values()) waiter.reject(new Error(`${path.basename(file)} exited (${code})`));
    pending.clear();
  });
  const ask = (type, payload) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || !child.connected) return reject(new Error(`${path.basename(file)} is not running`));
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      child.send({ id, type, payload });
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await ask('close').catch(() => undefined);
    await exited;
    clearTimeout(timer);
  };
  const ready = await ask('ready');
  return { child, ask, stop, ready };
}

/**
 * The child side of `startChild`: `handlers` answer the parent's requests by type. `ready` must
 * resolve what the parent needs (ports); `close` releases everything, then the process exits.
 * The process also exits when the parent goes away, so no server outlives a crashed bench.
 */
function serveChild(handlers) {
  const all = { cpu: () => process.cpuUsage(), memory: () => process.memoryUsage(), ...handlers };
  const close = async () => {
    await all.close?.();
    process.exit(0);
  };
  process.on('message', async ({ id, type, payload }) => {
    try {
      const result = type === 'close' ? undefined : await all[type](payload);
      process.send({ id, result });
      if (type === 'close') await close();
    } catch (err) {
      process.send({ id, error: err instanceof Error ? err.stack : String(err) });
    }
  });
  process.on('disconnect', () => close().catch(() => process.exit(1)));
}

/**
 * `serveChild` for a Koa app: `ready` runs `before`, listens on 127.0.0.1 and answers the port;
 * `close` stops listening, then runs the handlers' own `close`.
 */
function serveApp(app, { before, close, ...handlers }) {
  let server;
  serveChild({
    ...handlers,
    async ready() {
      await before?.();
      ({ server } = await listen(app));
      return { port: server.address().port };
    },
    async close() {
      server?.close();
      await close?.();
    },
  });
}

/** `bytes` of HTML (ASCII, so bytes = characters): the body the response scenarios serve. */
function htmlPage(bytes) {
  return Buffer.from('<!doctype html><main>'.padEnd(bytes - 7, '<p>cached page text</p>') + '</main>');
}

/** The port `app` (a Koa app) listens on, on 127.0.0.1; the server is returned too for closing. */
function listen(app) {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port }));
    server.once('error', reject);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Our own redis-server (scripts/own-redis.js), killed with the other children if the run dies. */
async function startRedis() {
  const redis = await startOwnRedis();
  cleanups.add(redis.kill);
  return redis;
}

function machine() {
  return {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((n) => round(n, 2)),
  };
}

/** Where results go: bench/results, or BENCH_RESULTS_DIR (the CI smoke run keeps its own). */
function resultsDir() {
  return process.env.BENCH_RESULTS_DIR || path.join(__dirname, 'results');
}

function writeResult(name, result) {
  const dir = resultsDir();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ scenario: name, at: new Date().toISOString(), quick, machine: machine(), ...result }, null, 2));
  return file;
}

function table(rows) {
  const widths = Object.keys(rows[0]).map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  return [line(Object.keys(rows[0])), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(Object.values(r)))].join('\n');
}

/** Runs `main` when the file is run directly; failures set the exit code instead of vanishing. */
function runMain(module, main) {
  if (require.main !== module) return;
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}

module.exports = {
  quick,
  REDIS_URL,
  median,
  percentile,
  round,
  interleave,
  load,
  loadRounds,
  ratioPerRound,
  withServerCpu,
  startChild,
  serveApp,
  serveChild,
  htmlPage,
  listen,
  freePort,
  startRedis,
  sleep,
  machine,
  resultsDir,
  writeResult,
  table,
  runMain,
};
