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
