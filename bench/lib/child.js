// Child processes of a scenario: subject servers and helpers in processes of their own, a private
// redis-server, and the clean-up that stops all of them when the scenario ends, fails or is
// interrupted (SIGINT, SIGTERM), so that no server, wrk or redis-server outlives the bench.
'use strict';

const path = require('node:path');
const { fork } = require('node:child_process');
const { startOwnRedis } = require('../../scripts/own-redis');

/** Synchronous kills, run on SIGINT/SIGTERM. */
const cleanups = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const cleanup of cleanups) cleanup();
    process.exit(130);
  });
}

/** Kills `child` (a ChildProcess) if this process is interrupted before it exits. */
function track(child) {
  const kill = () => child.kill('SIGKILL');
  cleanups.add(kill);
  child.once('exit', () => cleanups.delete(kill));
  return child;
}

/**
 * BENCH_CPU_PROF=<dir>: the node flags that make a process write a V8 CPU profile named
 * `<name>.cpuprofile` into <dir> when it exits (normally: `stop()` below lets it).
 */
function profileFlags(name) {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}

/**
 * Runs `file` with `args` in a child process that answers `ask(type, payload)` (see `serveChild`).
 * Resolves once it answered 'ready'; `stop()` asks it to close, and kills it if it lingers.
 * `profile`: a name for its CPU profile under BENCH_CPU_PROF.
 */
async function startChild(file, args = [], { env, execArgv = [], profile } = {}) {
  const child = track(
    fork(file, args, {
      env: { ...process.env, ...env },
      execArgv: [...execArgv, ...(profile ? profileFlags(profile) : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const label = `${path.basename(file)} ${args.join(' ')}`.trim();
  let nextId = 0;
  const pending = new Map();
  child.on('message', (message) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`${label}: ${message.error}`));
    else waiter.resolve(message.result);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  exited.then((code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${label} exited (${code})`));
    pending.clear();
  });
  const ask = (type, payload) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || !child.connected) return reject(new Error(`${label} is not running`));
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      child.send({ id, type, payload });
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await ask('close').catch(() => undefined);
    await exited;
    clearTimeout(timer);
  };
  try {
    const ready = await ask('ready');
    return { child, ask, stop, ready };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/**
 * The child side of `startChild`: `handlers` answer the parent's requests by type (`ready` first;
 * `cpu` and `memory` are built in). 'close' runs the handlers' `close`, then the process exits,
 * as it does when the parent goes away, so no server outlives a crashed bench.
 */
function serveChild(handlers) {
  const all = { cpu: () => process.cpuUsage(), memory: () => process.memoryUsage(), ...handlers };
  let closing;
  const close = () => (closing ??= Promise.resolve(all.close?.()).finally(() => process.exit(0)));
  process.on('message', async ({ id, type, payload }) => {
    try {
      if (type === 'close') {
        process.send({ id });
        await close();
        return;
      }
      if (!all[type]) throw new Error(`no handler for ${JSON.stringify(type)}`);
      process.send({ id, result: await all[type](payload) });
    } catch (err) {
      process.send({ id, error: err instanceof Error ? err.stack : String(err) });
    }
  });
  process.on('disconnect', () => void close().catch(() => process.exit(1)));
}

/** Listens on 127.0.0.1 on a free port. */
function listen(app) {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port }));
    server.once('error', reject);
  });
}

/**
 * `serveChild` for a Koa app: `ready` runs `before`, listens and answers `{ port }`; `close`
 * stops listening, then runs the handlers' own `close`.
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
      server?.closeAllConnections?.();
      server?.close();
      await close?.();
    },
  });
}

/** A redis-server of our own (scripts/own-redis.js), killed with the other children if the run dies. */
async function startRedis() {
  const redis = await startOwnRedis();
  cleanups.add(redis.kill);
  return redis;
}

module.exports = { cleanups, track, profileFlags, startChild, serveChild, serveApp, listen, startRedis };
