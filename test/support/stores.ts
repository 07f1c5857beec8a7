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

export type StoreKind = 'memory' | 'redis';

/** The stores a behaviour must hold on: memory always, Redis when one answers. */
export const storeKinds: StoreKind[] = redisUrl ? ['memory', 'redis'] : ['memory'];

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
          : { store: redisUrl, keyPrefix: uniquePrefix(label), operationTimeoutMs: 2000, ...options },
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

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until it returns `expected` or `withinMs` passes; resolves the last value read. */
export async function eventually<T>(read: () => Promise<T> | T, expected: T, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await sleep(5);
    value = await read();
  }
  return value;
}

/** Whether a redis-server binary can be started by tests (fault tests run their own). */
export const canStartRedis = (() => {
  const found = spawnSync('redis-server', ['--version']).status === 0;
  if (!found && process.env.CI === 'true') throw new Error('CI=true but redis-server is not installed');
  if (!found) process.stderr.write('*** redis-server not installed: Redis fault tests are SKIPPED ***\n');
  return found;
})();
