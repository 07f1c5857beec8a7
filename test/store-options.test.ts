// How the `store` option and the environment name Redis deployments, what is refused at
// construction, and that no form of Redis store reports a write that did not happen.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import KeyvRedis, { createClient, createCluster, createSentinel, Keyv } from '@keyv/redis';
import { Cache } from '../src';
import { storeFromEnv } from '../src/store/env';
import { freePort } from './support/redis-server';
import { clusterNodes, sentinelSetup, uniquePrefix } from './support/stores';

jest.setTimeout(30000);

describe('storeFromEnv', () => {
  it('reads one server, a cluster, or sentinels, and credentials kept out of the URLs', () => {
    expect(storeFromEnv({})).toBeUndefined();
    expect(storeFromEnv({ CACHE_URL: 'memory' })).toBe('memory');
    expect(storeFromEnv({ CACHE_URL: 'redis://r:6379/2' })).toBe('redis://r:6379/2');
    expect(storeFromEnv({ CACHE_URL: 'rediss://r:6380', CACHE_REDIS_PASSWORD: 'p@ss' })).toBe('rediss://:p%40ss@r:6380');
    expect(storeFromEnv({ CACHE_CLUSTER_NODES: ' redis://a:7000, b:7001 ,', CACHE_REDIS_USERNAME: 'u', CACHE_REDIS_PASSWORD: 'p' })).toEqual({
      cluster: ['redis://u:p@a:7000', 'redis://u:p@b:7001'],
    });
    expect(storeFromEnv({ CACHE_CLUSTER_NODES: 'rediss://x:y@a:7000' })).toEqual({ cluster: ['rediss://x:y@a:7000'] });
    expect(storeFromEnv({ CACHE_SENTINELS: 's1:26379,s2:26379', CACHE_SENTINEL_NAME: 'mymaster', CACHE_REDIS_PASSWORD: 'p', CACHE_REDIS_TLS: 'true' })).toEqual({
      sentinel: { name: 'mymaster', nodes: ['s1:26379', 's2:26379'], password: 'p', tls: true },
    });
  });

  it('refuses two deployments at once, and sentinels without a name', () => {
    expect(() => storeFromEnv({ CACHE_URL: 'redis://r', CACHE_CLUSTER_NODES: 'redis://a:7000' })).toThrow(/CACHE_URL and CACHE_CLUSTER_NODES/);
    expect(() => storeFromEnv({ CACHE_SENTINELS: 's1:26379' })).toThrow(/CACHE_SENTINEL_NAME/);
    expect(storeFromEnv({ CACHE_URL: 'memory', CACHE_CLUSTER_NODES: 'redis://a:7000' })).toEqual({ cluster: ['redis://a:7000'] });
  });

  (clusterNodes ? it : it.skip)('gives Cache.fromEnv a working cluster store', async () => {
    const cache = Cache.fromEnv({ CACHE_CLUSTER_NODES: clusterNodes!.join(','), CACHE_KEY_PREFIX: uniquePrefix('env') }, { operationTimeoutMs: 2000 });
    try {
      expect(await cache.set('k', 'v')).toBe(true);
      expect(await cache.getMany(['k', 'other'])).toEqual(['v', undefined]);
    } finally {
      await cache.clear();
      await cache.close();
    }
  });

  (sentinelSetup ? it : it.skip)('gives Cache.fromEnv a working sentinel store', async () => {
    const env = { CACHE_SENTINELS: sentinelSetup!.nodes.join(','), CACHE_SENTINEL_NAME: sentinelSetup!.name, CACHE_KEY_PREFIX: uniquePrefix('env') };
    const cache = Cache.fromEnv(env, { operationTimeoutMs: 2000 });
    try {
      expect(await cache.set('k', 'v')).toBe(true);
      expect(await cache.get('k')).toBe('v');
    } finally {
      await cache.clear();
      await cache.close();
    }
  });
});

describe('store options refused at construction', () => {
  it.each([
    [{ cluster: [] }, /store.cluster must be a non-empty array/],
    [{ cluster: 'redis://a:7000' }, /store.cluster must be a non-empty array/],
    [{ cluster: ['http://a:7000'] }, /not a redis:\/\/ or rediss:\/\/ URL/],
    [{ cluster: ['redis://a:7000/3'] }, /database 0 only/],
    [{ sentinel: { nodes: ['s:26379'] } }, /store.sentinel.name/],
    [{ sentinel: { name: 'm', nodes: [] } }, /store.sentinel.nodes/],
    [{ nodeClient() {}, masters: [], connect() {}, sendCommand() {}, isOpen: false }, /cannot read this cluster client's rootNodes/],
  ])('%j', (store, message) => {
    expect(() => new Cache({ store: store as never })).toThrow(message);
  });

  it('an in-process tier on a store that cannot keep it coherent', () => {
    expect(() => new Cache({ store: new Map() as never, l1: {} })).toThrow(/l1\) needs a Redis store/);
  });
});

interface ClientLike {
  isOpen: boolean;
  destroy(): void;
}

describe('a Redis store that cannot reach its servers', () => {
  /** Every write answers "not stored" (never true), every read a miss, within the deadline. */
  async function expectNothingStored(store: unknown) {
    const cache = new Cache({ store: store as never, keyPrefix: uniquePrefix('dead'), operationTimeoutMs: 100 });
    cache.on('error', () => undefined);
    try {
      const started = performance.now();
      expect(await cache.set('k', 'v')).toBe(false);
      expect(await cache.add('k2', 'v')).toBe(false);
      expect(await cache.setMany({ a: 1, b: 2 })).toBe(false);
      expect(await cache.get('k')).toBeUndefined();
      expect(await cache.inc('n')).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      const closing = performance.now();
      await cache.close();
      expect(performance.now() - closing).toBeLessThan(6000);
      // The app's own clients (here: the ones keyv adapters made) are the app's to close.
      const own = store as { client?: ClientLike; store?: { client?: ClientLike } };
      for (const client of [own.client, own.store?.client]) if (client?.isOpen) client.destroy();
    }
  }

  it.each([
    ['a URL', async () => `redis://127.0.0.1:${await freePort()}`],
    ['an unconnected createClient()', async () => createClient({ url: `redis://127.0.0.1:${await freePort()}` })],
    ['a KeyvRedis adapter with throwOnConnectError: false', async () => new KeyvRedis(`redis://127.0.0.1:${await freePort()}`, { throwOnConnectError: false })],
    ['a Keyv over KeyvRedis that swallows errors', async () => new Keyv(new KeyvRedis(`redis://127.0.0.1:${await freePort()}`, { throwOnConnectError: false, throwOnErrors: false }))],
    ['{ cluster }', async () => ({ cluster: [`redis://127.0.0.1:${await freePort()}`] })],
    ['an unconnected createCluster()', async () => createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${await freePort()}` }] })],
    ['{ sentinel }', async () => ({ sentinel: { name: 'mymaster', nodes: [`127.0.0.1:${await freePort()}`] } })],
  ])('%s', async (_, make) => {
    await expectNothingStored(await make());
  });

  it('an unconnected createSentinel() (node-redis logs each failed round itself)', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await expectNothingStored(createSentinel({ name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: await freePort() }] }));
    } finally {
      log.mockRestore();
    }
  });
});

it('importing the library and using the memory store loads neither Redis nor keyv', () => {
  const loaded = execFileSync(process.execPath, [
    '-e',
    `const { Cache } = require(${JSON.stringify(path.join(__dirname, '../dist'))});
     new Cache().set('k', 1).then(() => console.log(JSON.stringify(Object.keys(require.cache))));`,
  ]).toString();
  expect(JSON.parse(loaded).filter((file: string) => /node_modules\/(@keyv|@redis|keyv|prom-client)\//.test(file))).toEqual([]);
});
