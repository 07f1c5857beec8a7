// How the `store` option, the store factories and the environment name stores, what is refused at
// construction, and that no form of Redis store reports a write that did not happen.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import KeyvRedis, { createClient, createCluster, createSentinel, Keyv } from '@keyv/redis';
import { Cache, keyvStore, memoryStore, redisClusterStore, redisSentinelStore, redisStore } from '../../src';
import { storeFromEnv } from '../../src/store/env';
import { freePort } from '../support/redis-server';
import { clusterNodes, redisUrl, sentinelSetup, uniquePrefix } from '../support/stores';

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
    `const { Cache } = require(${JSON.stringify(path.join(__dirname, '../../dist'))});
     new Cache().set('k', 1).then(() => console.log(JSON.stringify(Object.keys(require.cache))));`,
  ]).toString();
  expect(JSON.parse(loaded).filter((file: string) => /node_modules\/(@keyv|@redis|keyv|prom-client)\//.test(file))).toEqual([]);
});

describe('store factories', () => {
  it('memoryStore({ maxBytes }): the memory store with its own bound, checked when a cache takes it', async () => {
    const cache = new Cache({ store: memoryStore({ maxBytes: 4096 }) });
    expect(cache.isLocal).toBe(true);
    await cache.set('k', 'x'.repeat(3000));
    expect(cache.peek('k')).toBeUndefined(); // over the 4096-byte bound: not stored
    await cache.set('k', 'small');
    expect(cache.peek('k')).toBe('small');
    expect(cache.memoryUsage()?.parts.store?.entries).toBe(1);
    await cache.close();
    expect(() => new Cache({ store: memoryStore({ maxBytes: 10 }) })).toThrow(new RangeError('maxBytes must be an integer >= 1024, got 10'));
  });

  it("refuses the cache's own maxBytes and l1 beside a factory's store, and a store taken by a second cache", () => {
    expect(() => new Cache({ store: memoryStore(), maxBytes: 4096 })).toThrow("the cache's maxBytes option does not apply to a store made by memoryStore()");
    expect(() => new Cache({ store: redisStore('redis://127.0.0.1:1'), l1: false })).toThrow("the cache's l1 option does not apply to a store made by redisStore()");
    const store = memoryStore();
    new Cache({ store });
    expect(() => new Cache({ store })).toThrow(new TypeError('this memoryStore() is already in use: make one per cache'));
  });

  it('refuses what is not the store a factory makes', () => {
    expect(() => redisStore('memory')).toThrow(TypeError);
    expect(() => redisStore({ cluster: ['redis://a:7000'] } as never)).toThrow(/redisStore\(\) takes a redis:\/\/ or rediss:\/\/ URL or a node-redis client/);
    expect(() => keyvStore({} as never)).toThrow(new TypeError('keyvStore() takes a Keyv instance or a keyv store adapter'));
    expect(() => new Cache({ store: keyvStore(new Map()), keyPrefix: 'k' })).not.toThrow();
    expect(() => new Cache({ store: keyvStore(new Map(), { l1: {} }) })).toThrow(/l1\) needs a Redis store/);
  });

  it('a store used on its own, outside a cache, works with a cache\'s defaults', async () => {
    const store = memoryStore();
    expect(await store.set('k', 'sv', 0)).toBe(true);
    expect(await store.getMany(['k', 'absent'])).toEqual(['sv', undefined]);
    expect(store.capabilities?.sync?.getNow('k')).toBe('sv');
    await store.close();
  });

  (redisUrl ? it : it.skip)('redisStore(url, { l1 }): the Redis store, with or without its first tier', async () => {
    for (const [l1, parts] of [[undefined, ['l1']], [false, []]] as const) {
      const cache = new Cache({ store: redisStore(redisUrl!, l1 === undefined ? {} : { l1 }), keyPrefix: uniquePrefix('factory'), operationTimeoutMs: 2000 });
      try {
        expect(cache.isLocal).toBe(false);
        expect(await cache.set('k', 'v')).toBe(true);
        expect(await cache.get('k')).toBe('v');
        expect(Object.keys(cache.memoryUsage()?.parts ?? {})).toEqual(parts);
      } finally {
        await cache.clear();
        await cache.close();
      }
    }
  });

  (clusterNodes && sentinelSetup ? it : it.skip)('redisClusterStore(nodes) and redisSentinelStore({ name, nodes })', async () => {
    for (const store of [redisClusterStore(clusterNodes!, { l1: false }), redisSentinelStore(sentinelSetup!)]) {
      const cache = new Cache({ store, keyPrefix: uniquePrefix('factory'), operationTimeoutMs: 2000 });
      try {
        expect(await cache.set('k', 'v')).toBe(true);
        expect(await cache.getMany(['k', 'absent'])).toEqual(['v', undefined]);
      } finally {
        await cache.clear();
        await cache.close();
      }
    }
  });
});
