#!/usr/bin/env node
// Throwaway Redis Cluster and Redis Sentinel topologies on 127.0.0.1, for tests, benchmarks and CI.
// Every node runs `redis-server` with its own config file in its own temp dir, without persistence.
// As a module (jest) the processes belong to the caller: a small watchdog process kills them and
// removes their dirs when the caller exits, however it exits. As a CLI (`start`) they outlive the
// command; `stop` ends them. See redis-topology.d.ts for the API and docs/dev/redis-topologies.md.
'use strict';

const { spawn, execFile, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const HOST = '127.0.0.1';
const DIR_PREFIX = 'kfc-redis-topology-';
const DEFAULT_PORTS = {
  cluster: [7000, 7001, 7002, 7003, 7004, 7005],
  sentinel: [6390, 6391, 26390, 26391, 26392],
};
const STATE_FILE = (kind) => path.join(os.tmpdir(), `${DIR_PREFIX}${kind}.json`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// A minimal RESP client: one connection per command, enough for setup, health checks and kills.

class ReplyError extends Error {}

function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(String(arg))}\r\n${arg}\r\n`;
  return out;
}

/** Parses one reply at `at`; returns { value, end } or undefined when more bytes are needed. */
function parse(buf, at) {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, eol);
  if (type === '+') return { value: line, end: eol + 2 };
  if (type === '-') return { value: new ReplyError(line), end: eol + 2 };
  if (type === ':') return { value: Number(line), end: eol + 2 };
  if (type === '$') {
    const len = Number(line);
    if (len < 0) return { value: null, end: eol + 2 };
    if (buf.length < eol + 2 + len + 2) return undefined;
    return { value: buf.toString('utf8', eol + 2, eol + 2 + len), end: eol + 2 + len + 2 };
  }
  if (type === '*') {
    const count = Number(line);
    if (count < 0) return { value: null, end: eol + 2 };
    const items = [];
    let end = eol + 2;
    for (let i = 0; i < count; i++) {
      const item = parse(buf, end);
      if (!item) return undefined;
      items.push(item.value);
      end = item.end;
    }
    return { value: items, end };
  }
  throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
}

/** Sends one command to 127.0.0.1:`port`; rejects on connection errors, error replies and timeouts. */
function command(port, args, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => done(new Error(`${args[0]} to port ${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error(`port ${port} closed the connection without a reply to ${args[0]}`)));
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (data) => {
      buf = Buffer.concat([buf, data]);
      let reply;
      try {
        reply = parse(buf, 0);
      } catch (err) {
        return done(err);
      }
      if (reply) done(reply.value instanceof ReplyError ? reply.value : null, reply.value);
    });
  });
}

const tryCommand = (port, args, timeoutMs) => command(port, args, timeoutMs).catch(() => undefined);

/** `INFO`-style text as an object. */
function fields(text) {
  const out = {};
  for (const line of String(text || '').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** A flat [k1, v1, k2, v2] array as an object. */
function pairs(list) {
  const out = {};
  for (let i = 0; Array.isArray(list) && i + 1 < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

async function until(check, withinMs, what, everyMs = 50) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`redis-topology: ${what} not within ${withinMs} ms`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Ports.

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free ports (and their cluster bus ports, +10000, when `bus`), from a random
 * base so that parallel jest workers rarely pick the same block.
 */
async function freePorts(count, { bus = false } = {}) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 9000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const wanted = bus ? [...ports, ...ports.map((p) => p + 10000)] : ports;
    let free = true;
    for (const port of wanted) if (!(free = await portFree(port))) break;
    if (free) return ports;
  }
  throw new Error(`redis-topology: no block of ${count} free ports found`);
}

// ---------------------------------------------------------------------------------------------
// The watchdog: one per process using this module, reading "+pid N" / "-pid N" / "+dir D" / "-dir D"
// lines on stdin. When that pipe closes (the caller exited, crashed or was SIGKILLed) it SIGKILLs the
// pids and removes the dirs.

const WATCHDOG = `
const fs = require('node:fs');
const sets = { pid: new Set(), dir: new Set() };
let buf = '';
const cleanup = () => {
  for (const pid of sets.pid) { try { process.kill(Number(pid), 'SIGCONT'); process.kill(Number(pid), 'SIGKILL'); } catch {} }
  for (const dir of sets.dir) { try { fs.rmSync(dir, { recursive: true, force: true }); } catch {} }
  process.exit(0);
};
process.stdin.setEncoding('utf8');
process.stdin.on('data', (data) => {
  buf += data;
  for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) {
    const line = buf.slice(0, i);
    const set = sets[line.slice(1, 4)];
    if (set) line[0] === '+' ? set.add(line.slice(5)) : set.delete(line.slice(5));
  }
});
process.stdin.on('end', cleanup);
process.stdin.on('close', cleanup);
process.stdin.on('error', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, cleanup);
`;

let watchdog;
function watch(op, what, value) {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.on('error', () => undefined);
    watchdog.stdin.on('error', () => undefined);
    watchdog.unref();
    watchdog.stdin.unref?.();
  }
  watchdog.stdin.write(`${op}${what} ${value}\n`);
}

// Belt and braces for ordinary exits (the watchdog also covers crashes and signals).
const owned = new Set();
process.on('exit', () => {
  for (const node of owned) node.killNow();
});

// ---------------------------------------------------------------------------------------------
// One redis-server (or sentinel) process with its config file in its own temp dir.

class Node {
  constructor(port, conf, { sentinel = false, detached = false } = {}) {
    this.port = port;
    this.sentinel = sentinel;
    this.detached = detached;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${DIR_PREFIX}${port}-`));
    this.conf = path.join(this.dir, sentinel ? 'sentinel.conf' : 'redis.conf');
    const common = [`port ${port}`, `bind ${HOST}`, `dir ${this.dir}`, 'daemonize no', `logfile ${path.join(this.dir, 'log')}`];
    // repl-ping-replica-period 1: CLUSTER SLOTS hides a replica until its offset is non-zero, which
    // otherwise, with no writes, takes the default 10 s ping period.
    const data = ['save ""', 'appendonly no', 'repl-diskless-sync-delay 0', 'repl-ping-replica-period 1', 'protected-mode no', 'enable-debug-command local'];
    fs.writeFileSync(this.conf, [...common, ...(sentinel ? [] : data), ...conf, ''].join('\n'));
    if (!detached) watch('+', 'dir', this.dir);
    this.child = undefined;
  }

  get running() {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  /** Spawns the process and resolves once it answers PING; rejects if it exits first. */
  async start() {
    if (this.running) return;
    const args = [this.conf, ...(this.sentinel ? ['--sentinel'] : [])];
    const child = spawn('redis-server', args, { stdio: 'ignore', detached: this.detached });
    this.child = child;
    child.once('error', () => undefined);
    child.unref();
    if (this.detached) this.pid = child.pid;
    else {
      watch('+', 'pid', child.pid);
      owned.add(this);
      child.once('exit', () => (watch('-', 'pid', child.pid), owned.delete(this)));
    }
    const deadline = Date.now() + 5000;
    while (!(await tryCommand(this.port, ['PING'], 300))) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        const log = fs.existsSync(path.join(this.dir, 'log')) ? fs.readFileSync(path.join(this.dir, 'log'), 'utf8') : '';
        const err = new Error(`redis-topology: redis-server on port ${this.port} exited at start: ${log.trim().split('\n').pop() || 'no log'}`);
        err.portInUse = /address already in use/i.test(log);
        throw err;
      }
      if (Date.now() > deadline) throw new Error(`redis-topology: redis-server on port ${this.port} did not answer within 5000 ms`);
      await sleep(20);
    }
    // Something else may have answered on that port: ours reports our config file.
    if (fields(await tryCommand(this.port, ['INFO', 'server'])).config_file !== this.conf) {
      await this.kill();
      const err = new Error(`redis-topology: port ${this.port} is taken by another server`);
      err.portInUse = true;
      throw err;
    }
  }

  signal(name) {
    if (this.running) this.child.kill(name);
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill() {
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.ref(); // running nodes do not hold the caller's process open; waiting for one to go does
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Synchronous, for exit handlers. */
  killNow() {
    try {
      this.child?.kill('SIGCONT');
      this.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  async destroy() {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (!this.detached) watch('-', 'dir', this.dir);
  }
}

/** A set of nodes addressed by port. */
class Processes {
  constructor() {
    this.byPort = new Map();
  }
  add(node) {
    this.byPort.set(node.port, node);
    return node;
  }
  get(port) {
    const node = this.byPort.get(Number(port));
    if (!node) throw new Error(`redis-topology: no node on port ${port} in this topology`);
    return node;
  }
  get running() {
    return [...this.byPort.values()].filter((n) => n.running).map((n) => n.port);
  }
  async stop() {
    await Promise.all([...this.byPort.values()].map((n) => n.destroy()));
  }
  /** What the CLI's `stop` needs to end detached processes later. */
  state() {
    return [...this.byPort.values()].map((n) => ({ port: n.port, pid: n.pid, dir: n.dir }));
  }
}

function checkRedisServer() {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-topology: redis-server is not installed');
}

/** Starts via `build(ports)`; with automatic ports, retries on a port another process grabbed meanwhile. */
async function withPorts(options, count, bus, build) {
  checkRedisServer();
  for (let attempt = 1; ; attempt++) {
    const ports = options.ports || (await freePorts(count, { bus }));
    if (ports.length !== count) throw new Error(`redis-topology: ${count} ports needed, ${ports.length} given`);
    const processes = new Processes();
    try {
      return await build(ports, processes);
    } catch (err) {
      await processes.stop();
      if (!err.portInUse || options.ports || attempt >= 3) throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster.

async function clusterSlots(ports) {
  for (const port of ports) {
    const slots = await tryCommand(port, ['CLUSTER', 'SLOTS']);
    if (Array.isArray(slots)) return slots.map(([from, to, master, ...replicas]) => ({ from, to, master: master[1], replicas: replicas.map((r) => r[1]) }));
  }
  throw new Error('redis-topology: no cluster node answers CLUSTER SLOTS');
}

/**
 * Converged: every given (running) node says cluster_state:ok with all 16384 slots ok and knows
 * `known` nodes; all of them report the same slots -> master -> replicas map; every master in it is
 * one of them and every other one of them is a replica in it, in sync with its master.
 */
async function clusterHealthy(ports, known) {
  let agreed;
  for (const port of ports) {
    const info = fields(await tryCommand(port, ['CLUSTER', 'INFO']));
    if (info.cluster_state !== 'ok' || info.cluster_slots_ok !== '16384' || Number(info.cluster_known_nodes) !== known) return false;
    const slots = await tryCommand(port, ['CLUSTER', 'SLOTS']);
    if (!Array.isArray(slots)) return false;
    const view = JSON.stringify(
      slots.map(([from, to, master, ...replicas]) => [from, to, master[1], replicas.map((r) => r[1]).sort()]).sort((a, b) => a[0] - b[0]),
    );
    if (agreed !== undefined && view !== agreed) return false;
    agreed = view;
    const repl = fields(await tryCommand(port, ['INFO', 'replication']));
    if (repl.role === 'slave' && repl.master_link_status !== 'up') return false;
  }
  const shards = JSON.parse(agreed || '[]');
  const masters = new Set(shards.map((s) => s[2]));
  const replicas = new Set(shards.flatMap((s) => s[3]));
  return ports.every((p) => masters.has(p) !== replicas.has(p)) && [...masters, ...replicas].every((p) => ports.includes(p));
}

function redisCli(args, timeoutMs) {
  return new Promise((resolve) => {
    execFile('redis-cli', args, { timeout: timeoutMs }, (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}`.trim() }));
  });
}

async function createClusterFrom(ports, replicas) {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const created = await redisCli(['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], 20000);
    if (created.ok && /All 16384 slots covered/.test(created.output)) return;
    last = created.output;
    // A half-made cluster refuses a second create: forget it on every node and try again.
    await Promise.all(ports.map((p) => tryCommand(p, ['CLUSTER', 'RESET', 'HARD'])));
    await sleep(200);
  }
  throw new Error(`redis-topology: redis-cli --cluster create failed:\n${last}`);
}

/** kill (SIGKILL, resolves once gone), pause (SIGSTOP: a hung node) and resume (SIGCONT) by port. */
function nodeSignals(processes) {
  return {
    async kill(port) {
      await processes.get(port).kill();
    },
    pause(port) {
      processes.get(port).signal('SIGSTOP');
    },
    resume(port) {
      processes.get(port).signal('SIGCONT');
    },
  };
}

function clusterHandle(ports, processes, replicas, ownedProcesses) {
  const running = () => (ownedProcesses ? processes.running : ports);
  const handle = {
    kind: 'cluster',
    ports,
    nodes: ports.map((p) => `redis://${HOST}:${p}`),
    rootNodes: ports.map((p) => ({ url: `redis://${HOST}:${p}` })),
    replicas,
    async masters() {
      return [...new Set((await clusterSlots(running())).map((s) => s.master))].sort((a, b) => a - b);
    },
    async replicasOf(masterPort) {
      const slots = await clusterSlots(running());
      return slots.find((s) => s.master === masterPort)?.replicas ?? [];
    },
    async masterFor(key) {
      const slot = await command(running()[0], ['CLUSTER', 'KEYSLOT', key]);
      return (await clusterSlots(running())).find((s) => slot >= s.from && slot <= s.to).master;
    },
    async waitForOk(withinMs = 10000) {
      await until(() => clusterHealthy(running(), ports.length), withinMs, 'cluster_state:ok on every running node', 100);
    },
    ...nodeSignals(processes),
    async restart(port, { withinMs = 10000 } = {}) {
      await processes.get(port).start();
      await handle.waitForOk(withinMs);
    },
    async stop() {
      await processes.stop();
    },
  };
  return handle;
}

/**
 * 3 masters (+ `replicas` replicas each, default 1), `cluster-node-timeout` `nodeTimeoutMs`
 * (default 1000). Resolves once every node says cluster_state:ok and the replicas are in sync.
 */
async function startCluster(options = {}) {
  const replicas = options.replicas ?? 1;
  const count = 3 * (1 + replicas);
  return withPorts(options, count, true, async (ports, processes) => {
    const conf = [
      'cluster-enabled yes',
      'cluster-config-file nodes.conf',
      `cluster-node-timeout ${options.nodeTimeoutMs ?? 1000}`,
      `cluster-require-full-coverage ${options.requireFullCoverage === false ? 'no' : 'yes'}`,
    ];
    for (const port of ports) processes.add(new Node(port, conf, { detached: options.detached }));
    await Promise.all(ports.map((p) => processes.get(p).start()));
    await createClusterFrom(ports, replicas);
    const handle = clusterHandle(ports, processes, replicas, true);
    await handle.waitForOk(options.withinMs ?? 15000);
    handle.state = () => processes.state();
    return handle;
  });
}

// ---------------------------------------------------------------------------------------------
// Redis Sentinel.

async function askSentinels(ports, args) {
  for (const port of ports) {
    const reply = await tryCommand(port, args, 500);
    if (reply !== undefined) return reply;
  }
  return undefined;
}

async function sentinelHealthy(dataPorts, sentinelPorts, name) {
  for (const port of sentinelPorts) {
    const master = pairs(await tryCommand(port, ['SENTINEL', 'MASTER', name]));
    if (master.flags !== 'master' || !dataPorts.includes(Number(master.port))) return false;
    if (Number(master['num-slaves']) < dataPorts.length - 1 || Number(master['num-other-sentinels']) !== sentinelPorts.length - 1) return false;
  }
  return true;
}

function sentinelHandle(ports, processes, name, ownedProcesses) {
  const [primaryPort, replicaPort, ...sentinelPorts] = ports;
  const dataPorts = [primaryPort, replicaPort];
  const running = (list) => (ownedProcesses ? list.filter((p) => processes.running.includes(p)) : list);
  const handle = {
    kind: 'sentinel',
    name,
    ports,
    dataPorts,
    sentinelPorts,
    sentinels: sentinelPorts.map((port) => ({ host: HOST, port })),
    /** The primary as the sentinels report it now (possibly a dead one, until they fail over). */
    async primary() {
      const addr = await askSentinels(running(sentinelPorts), ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]);
      if (!Array.isArray(addr)) throw new Error('redis-topology: no sentinel knows the primary');
      return { host: addr[0], port: Number(addr[1]), url: `redis://${addr[0]}:${addr[1]}` };
    },
    /** Resolves the new primary once sentinels report one other than `not` and it says role master. */
    async waitForPrimary({ not, withinMs = 10000 } = {}) {
      return until(
        async () => {
          const primary = await handle.primary().catch(() => undefined);
          if (!primary || primary.port === not) return undefined;
          const role = await tryCommand(primary.port, ['ROLE'], 300);
          return Array.isArray(role) && role[0] === 'master' ? primary : undefined;
        },
        withinMs,
        `a primary other than ${not}`,
        100,
      );
    },
    /** SIGKILLs the current primary; resolves its port. */
    async killPrimary() {
      const { port } = await handle.primary();
      await processes.get(port).kill();
      return port;
    },
    ...nodeSignals(processes),
    /** Starts a killed node again from its config file (which sentinels rewrite on the live nodes). */
    async restart(port) {
      await processes.get(port).start();
    },
    async waitForHealthy(withinMs = 15000) {
      await until(() => sentinelHealthy(dataPorts, running(sentinelPorts), name), withinMs, 'sentinels agreeing on primary, replica and each other', 100);
    },
    async stop() {
      await processes.stop();
    },
  };
  return handle;
}

/**
 * A primary, one replica and three sentinels (quorum 2) monitoring it as `name` (default
 * 'mymaster'), with `down-after-milliseconds` `downAfterMs` (1000) and `failover-timeout`
 * `failoverTimeoutMs` (3000). Ports: [primary, replica, sentinel, sentinel, sentinel].
 */
async function startSentinel(options = {}) {
  const name = options.name ?? 'mymaster';
  return withPorts(options, 5, false, async (ports, processes) => {
    const [primaryPort, replicaPort, ...sentinelPorts] = ports;
    const detached = options.detached;
    const primary = processes.add(new Node(primaryPort, [], { detached }));
    const replica = processes.add(new Node(replicaPort, [`replicaof ${HOST} ${primaryPort}`], { detached }));
    await Promise.all([primary.start(), replica.start()]);
    // Sentinels find replicas in the primary's INFO, which they re-read only every 10 s: so the
    // replica must be attached before they start.
    await until(async () => fields(await tryCommand(replicaPort, ['INFO', 'replication'])).master_link_status === 'up', 10000, 'replica in sync');
    const conf = [
      `sentinel monitor ${name} ${HOST} ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 3000}`,
      `sentinel parallel-syncs ${name} 1`,
    ];
    const sentinels = sentinelPorts.map((port) => processes.add(new Node(port, conf, { sentinel: true, detached })));
    await Promise.all(sentinels.map((s) => s.start()));
    const handle = sentinelHandle(ports, processes, name, true);
    await handle.waitForHealthy(options.withinMs ?? 15000);
    handle.state = () => processes.state();
    return handle;
  });
}

// ---------------------------------------------------------------------------------------------
// Already running topologies (started by the CLI), for reuse.

/** A handle on a cluster already answering healthy on `ports`, or undefined. Its kill/restart throw. */
async function existingCluster(ports = DEFAULT_PORTS.cluster) {
  if (!(await clusterHealthy(ports, ports.length).catch(() => false))) return undefined;
  const masters = new Set((await clusterSlots(ports)).map((s) => s.master));
  return clusterHandle(ports, new Processes(), ports.length / masters.size - 1, false);
}

/** A handle on a sentinel setup already answering healthy on `ports`, or undefined. */
async function existingSentinel(ports = DEFAULT_PORTS.sentinel, name = 'mymaster') {
  const [p, r, ...s] = ports;
  if (!(await sentinelHealthy([p, r], s, name).catch(() => false))) return undefined;
  return sentinelHandle(ports, new Processes(), name, false);
}

async function describe(handle) {
  if (handle.kind === 'cluster') return { nodes: handle.nodes, masters: await handle.masters(), replicasPerMaster: handle.replicas };
  return { name: handle.name, sentinels: handle.sentinels, primary: (await handle.primary()).url, dataNodes: handle.dataPorts.map((p) => `redis://${HOST}:${p}`) };
}

// ---------------------------------------------------------------------------------------------
// For jest's globalSetup.

/**
 * Makes shared, non-destructive topologies available to every test file through environment
 * variables: reuses the CLI's on the default ports when they answer healthy, else starts its own on
 * free ports (killed when this process exits). Without redis-server: a visible notice and empty
 * variables, or an error under CI=true.
 */
async function setupTopologies(kinds = ['cluster', 'sentinel']) {
  const env = process.env;
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    if (env.CI === 'true') throw new Error('CI=true but redis-server is not installed: Redis topology tests must run in CI');
    process.stderr.write('\n*** redis-server not installed: Redis Cluster and Sentinel suites are SKIPPED ***\n\n');
    env.KFC_TEST_REDIS_CLUSTER_NODES = '';
    env.KFC_TEST_REDIS_SENTINELS = '';
    env.KFC_TEST_REDIS_SENTINEL_NAME = '';
    return { async stop() {} };
  }
  const started = [];
  const own = async (existing, start) => (await existing()) || started[started.push(await start()) - 1];
  // Both at once: about 2.5 s instead of 4.5.
  const [cluster, sentinel] = await Promise.allSettled([
    kinds.includes('cluster') ? own(existingCluster, startCluster) : undefined,
    kinds.includes('sentinel') ? own(existingSentinel, startSentinel) : undefined,
  ]);
  const failed = [cluster, sentinel].find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((t) => t.stop()));
    throw failed.reason;
  }
  if (cluster.value) env.KFC_TEST_REDIS_CLUSTER_NODES = cluster.value.nodes.join(',');
  if (sentinel.value) {
    env.KFC_TEST_REDIS_SENTINELS = sentinel.value.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    env.KFC_TEST_REDIS_SENTINEL_NAME = sentinel.value.name;
  }
  return {
    async stop() {
      await Promise.all(started.map((t) => t.stop()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CLI: node scripts/redis-topology.js start|stop|status cluster|sentinel|all

/** The dir of the node on `port` if it is one of ours (its config file lives in a dir this script made). */
async function ourDir(port) {
  const info = fields(await tryCommand(port, ['INFO', 'server'], 500));
  const dir = info.config_file && path.dirname(info.config_file);
  return dir && path.basename(dir).startsWith(DIR_PREFIX) ? dir : undefined;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function cliStart(kind) {
  const existing = kind === 'cluster' ? await existingCluster() : await existingSentinel();
  if (existing) return { ...(await describe(existing)), reused: true };
  const busy = [];
  for (const port of DEFAULT_PORTS[kind]) if (await tryCommand(port, ['PING'], 300)) busy.push(port);
  if (busy.length) throw new Error(`redis-topology: ports ${busy.join(', ')} answer but not as a healthy ${kind}; run "stop ${kind}" if they are ours`);
  const startedAt = Date.now();
  const options = { ports: DEFAULT_PORTS[kind], detached: true };
  const handle = kind === 'cluster' ? await startCluster(options) : await startSentinel(options);
  fs.writeFileSync(STATE_FILE(kind), JSON.stringify({ kind, nodes: handle.state() }, null, 2));
  return { ...(await describe(handle)), startedInMs: Date.now() - startedAt };
}

async function cliStop(kind) {
  const stopped = [];
  const file = STATE_FILE(kind);
  if (fs.existsSync(file)) {
    const { nodes } = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const { port, pid, dir } of nodes) {
      // redis-server rewrites its command line, but works in its dir: so that pid is still ours.
      let cwd = '';
      try {
        cwd = pidAlive(pid) ? fs.readlinkSync(`/proc/${pid}/cwd`) : '';
      } catch {
        // not ours to inspect: then not ours to kill
      }
      if (cwd === dir) {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
        stopped.push(port);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
    fs.rmSync(file, { force: true });
  }
  // Ours without a state file (e.g. /tmp was cleaned): ask them to shut down.
  for (const port of DEFAULT_PORTS[kind]) {
    const dir = !stopped.includes(port) && (await ourDir(port));
    if (dir) {
      await tryCommand(port, ['SHUTDOWN', 'NOSAVE', 'NOW', 'FORCE'], 500);
      stopped.push(port);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  await until(async () => !(await Promise.all(stopped.map((p) => tryCommand(p, ['PING'], 200)))).some(Boolean), 5000, `ports ${stopped} closed`);
  return { stopped };
}

async function cli(argv) {
  const [action, which = 'all'] = argv;
  const kinds = which === 'all' ? ['cluster', 'sentinel'] : [which];
  if (!['start', 'stop', 'status'].includes(action) || !kinds.every((k) => k in DEFAULT_PORTS)) {
    process.stderr.write('usage: node scripts/redis-topology.js start|stop|status cluster|sentinel|all\n');
    return 2;
  }
  const out = {};
  for (const kind of kinds) {
    if (action === 'start') out[kind] = await cliStart(kind);
    else if (action === 'stop') out[kind] = await cliStop(kind);
    else {
      const existing = kind === 'cluster' ? await existingCluster() : await existingSentinel();
      out[kind] = existing ? await describe(existing) : null;
    }
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}

module.exports = {
  DEFAULT_PORTS,
  startCluster,
  startSentinel,
  existingCluster,
  existingSentinel,
  setupTopologies,
  freePorts,
  command,
};

if (require.main === module) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${String(err?.message).startsWith('redis-topology:') ? err.message : err?.stack || err}\n`);
      process.exit(1);
    },
  );
}
