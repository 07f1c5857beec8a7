import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Cache, type CacheOptions } from '../../src';

/** The Redis URL when one answered in global setup, else undefined (Redis suites skip). */
export const redisUrl = process.env.KFC_TEST_REDIS_URL || undefined;

/** The shared Redis Cluster's nodes (global setup), or undefined when none could be started. */
export const clusterNodes = process.env.KFC_TEST_REDIS_CLUSTER_NODES ? process.env.KFC_TEST_REDIS_CLUSTER_NODES.split(',') : undefined;

/** The shared Sentinel setup (global setup): sentinels as host:port and the primary's name, or undefined. */
export const sentinelSetup = process.env.KFC_TEST_REDIS_SENTINELS
  ? { name: process.env.KFC_TEST_REDIS_SENTINEL_NAME || 'mymaster', nodes: process.env.KFC_TEST_REDIS_SENTINELS.split(',') }
  : undefined;

/**
 * The `store` option of each Redis topology that answers: one server, a cluster, a primary behind
 * sentinels. Suites about what every Redis deployment must do run on each.
 */
export const redisTopologies: { name: 'server' | 'cluster' | 'sentinel'; store: CacheOptions['store'] }[] = [
  ...(redisUrl ? [{ name: 'server' as const, store: redisUrl }] : []),
  ...(clusterNodes ? [{ name: 'cluster' as const, store: { cluster: clusterNodes } }] : []),
  ...(sentinelSetup ? [{ name: 'sentinel' as const, store: { sentinel: sentinelSetup } }] : []),
];

/** A key prefix no other test uses, so suites can share one Redis. */
export function uniquePrefix(label: string): string {
  return `kfc-test-${label}-${randomUUID().slice(0, 8)}`;
}

export type StoreKind = 'memory' | 'redis' | 'cluster' | 'sentinel';

/** The `store` option of each kind that answers ('redis': one server). */
const storeOfKind: Record<StoreKind, CacheOptions['store'] | undefined> = {
  memory: 'memory',
  redis: redisUrl,
  cluster: clusterNodes && { cluster: clusterNodes },
  sentinel: sentinelSetup && { sentinel: sentinelSetup },
};

/**
 * The stores a behaviour must hold on: memory always, Redis when one answers. The suites written
 * on `storeKinds` run on a Redis Cluster and a primary behind sentinels too with
 * `KFC_TEST_STORE_KINDS=memory,redis,cluster,sentinel` (any subset; not in CI by default: it
 * adds ~5 minutes there, see docs/dev/redis-topologies.md; the topology suites, test/store-*.test.ts and
 * test/topology-*.test.ts, cover what differs on each).
 */
export const storeKinds: StoreKind[] = (['memory', 'redis', 'cluster', 'sentinel'] as const).filter(
  (kind) => storeOfKind[kind] !== undefined && (process.env.KFC_TEST_STORE_KINDS ?? 'memory,redis').split(',').includes(kind),
);

/**
 * Makes caches of one kind and closes (and clears) them after the suite. Redis caches get a
 * generous operation timeout: these tests check behaviour, not latency.
 */
export function cacheFactory(kind: StoreKind, label: string): { make: (options?: CacheOptions) => Cache; closeAll: () => Promise<void> } {
  const made: Cache[] = [];
  return {
    make(options = {}) {
      const cache = new Cache(
        kind === 'memory'
          ? options
          : { store: storeOfKind[kind], keyPrefix: uniquePrefix(label), operationTimeoutMs: 2000, ...options },
      );
      made.push(cache);
      return cache;
    },
    async closeAll() {
      for (const cache of made.splice(0)) {
        await cache.clear();
        await cache.close();
      }
    },
  };
}

/** The one `sleep` and `eventually` of the tests live in ./wait; exported here too, where suites import them. */
export { eventually, sleep } from './wait';

/** Whether a redis-server binary can be started by tests (fault tests run their own). */
export const canStartRedis = (() => {
  const found = spawnSync('redis-server', ['--version']).status === 0;
  if (!found && process.env.CI === 'true') throw new Error('CI=true but redis-server is not installed');
  if (!found) process.stderr.write('*** redis-server not installed: Redis fault tests are SKIPPED ***\n');
  return found;
})();

/**
 * The child of `startTopologyProcess`: a Cache (compiled library) on any store option, and a Koa
 * app with one `cache.cached()` route, driven over IPC: { id, op, args } → { id, result | error }.
 * ops: any Cache method, 'peek', 'stampede' (n concurrent getOrSet of one key whose compute counts
 * its runs with `inc` in a second cache on the same store and takes `ms`), 'port'.
 */
const TOPOLOGY_PROCESS_MAIN = `
const { Cache } = require(process.env.KFC_DIST);
const Koa = require('koa');
const Router = require('@koa/router');
const options = JSON.parse(process.env.CACHE_OPTIONS);
const cache = new Cache(options);
const counter = new Cache({ ...options, keyPrefix: options.keyPrefix + '-counter', l1: false });
cache.on('error', () => {});
counter.on('error', () => {});
const app = new Koa();
const router = new Router();
router.get('/page', cache.cached({ timeout: 60 }), async (ctx) => {
  ctx.body = 'page run ' + (await counter.inc('page-runs')) + ' by ' + process.pid;
});
app.use(router.routes());
const server = app.listen(0, '127.0.0.1');
const ops = {
  async stampede(key, n, ms) {
    const compute = async () => {
      await counter.inc('stampede-runs:' + key);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return 'computed by ' + process.pid;
    };
    return Promise.all(Array.from({ length: n }, () => cache.getOrSet(key, compute, { timeout: 60 })));
  },
  runs: (name) => counter.get(name),
  peek: (key) => cache.peek(key),
  port: () => server.address().port,
};
process.on('message', async ({ id, op, args }) => {
  try {
    const result = await (ops[op] ? ops[op](...args) : cache[op](...args));
    process.send({ id, result: result === undefined ? null : result, undefined: result === undefined });
  } catch (err) {
    process.send({ id, error: err.message });
  }
});
process.on('disconnect', async () => {
  server.close();
  await Promise.all([cache.close(), counter.close()]);
  process.exit(0);
});
server.once('listening', () => process.send({ ready: true }));
`;

/** The Host header `startTopologyProcess`'s `get` sends (cached responses are keyed by it). */
export const SHARED_HOST = 'shared.test';

/** A Cache in a process of its own on any store option (see TOPOLOGY_PROCESS_MAIN); each call a round trip over IPC. */
export async function startTopologyProcess(options: CacheOptions): Promise<{
  pid: number;
  call<T = unknown>(op: string, ...args: unknown[]): Promise<T>;
  get(path: string): Promise<{ status: number; text: string; cache: string | null }>;
  close(): Promise<void>;
}> {
  const { spawn } = await import('node:child_process');
  const path = await import('node:path');
  const child = spawn(process.execPath, ['-e', TOPOLOGY_PROCESS_MAIN], {
    env: { ...process.env, CACHE_OPTIONS: JSON.stringify(options), KFC_DIST: path.join(__dirname, '../../dist') },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the cache process exited (${code}) before it was ready`)));
    child.on('message', (message: { ready?: boolean; id?: number; result?: unknown; error?: string; undefined?: boolean }) => {
      if (message.ready) return resolve();
      const waiter = pending.get(message.id!);
      pending.delete(message.id!);
      if (message.error !== undefined) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.undefined ? undefined : message.result);
    });
  });
  const call = <T>(op: string, ...args: unknown[]) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, args });
    });
  const port = await call<number>('port');
  return {
    pid: child.pid!,
    call,
    async get(urlPath) {
      const http = await import('node:http');
      return new Promise((resolve, reject) => {
        // One Host for every process: it is part of a cached response's key.
        const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host: SHARED_HOST } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, text, cache: (res.headers['x-cache'] as string | undefined) ?? null }));
        });
        req.on('error', reject);
      });
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
