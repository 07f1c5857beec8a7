import { systemClock } from '../core/clock';
import type { Timeout } from '../core/timeout';
import { createStore, isKeyvLike, l1Settings, type KeyvLike, type StoreSettings } from './create-store';
import { FactoryStore } from './factory-store';
import { isClusterClient, isKeyv, isRedisAdapter, isSentinelClient, isServerClient, type RedisClientLike, type RedisClusterConfig, type RedisSentinelConfig } from './shapes';
import type { Store } from './store';

export interface MemoryStoreOptions {
  /** The bound on what entries may occupy, in bytes (LRU eviction). Default 64 MiB. */
  maxBytes?: number;
}

export interface RedisStoreOptions {
  /**
   * The in-process first tier in front of Redis, kept coherent over pub/sub. On by default (32
   * MiB; an entry is kept at most `timeout`, default 60 seconds, `0` = as long as the entry
   * lives); `false` turns it off.
   */
  l1?: false | { maxBytes?: number; timeout?: Timeout };
}

export interface RedisClusterStoreOptions extends RedisStoreOptions {
  /** How every connection to a node authenticates and encrypts: see `RedisClusterConfig.defaults`. */
  defaults?: RedisClusterConfig['defaults'];
}

/** A store used on its own, outside a cache, has a cache's defaults; failures in the background (a lost subscription) go unreported. */
const ON_ITS_OWN: StoreSettings = {
  store: undefined,
  keyPrefix: 'kfc',
  maxBytes: undefined,
  l1: undefined,
  clock: systemClock,
  onError: () => undefined,
  onRemoteChange: () => undefined,
};

/** The embedded store: an LRU in this process, bounded by bytes. What `store: 'memory'` (the default) names. */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  return made('memoryStore()', true, { store: 'memory', maxBytes: options.maxBytes, l1: undefined });
}

/**
 * One Redis server, by `redis://` or `rediss://` URL, or a node-redis client, cluster or sentinel
 * client you made (read as `CacheOptions.store` reads it). With an in-process first tier unless
 * `l1: false`.
 */
export function redisStore(source: string | RedisClientLike, options: RedisStoreOptions = {}): Store {
  const client = isServerClient(source) || isClusterClient(source) || isSentinelClient(source) || (isRedisAdapter(source) && !isKeyv(source));
  if (!(typeof source === 'string' ? /^rediss?:\/\//.test(source) : client)) {
    throw new TypeError(`redisStore() takes a redis:// or rediss:// URL or a node-redis client, got ${typeof source === 'string' ? JSON.stringify(source) : typeof source}`);
  }
  return made('redisStore()', false, { store: source, maxBytes: undefined, l1: l1Settings(options.l1) });
}

/** Redis Cluster, by some of its nodes (`redis://host:port` URLs; the others are discovered). */
export function redisClusterStore(nodes: readonly string[], options: RedisClusterStoreOptions = {}): Store {
  const cluster: RedisClusterConfig = { cluster: nodes, ...(options.defaults ? { defaults: options.defaults } : {}) };
  return made('redisClusterStore()', false, { store: cluster, maxBytes: undefined, l1: l1Settings(options.l1) });
}

/** A primary and its replicas behind Redis Sentinel: `{ name, nodes, username?, password?, … }`. */
export function redisSentinelStore(sentinel: RedisSentinelConfig['sentinel'], options: RedisStoreOptions = {}): Store {
  return made('redisSentinelStore()', false, { store: { sentinel }, maxBytes: undefined, l1: l1Settings(options.l1) });
}

/**
 * A Keyv instance or a keyv store adapter. A Keyv over `@keyv/redis` gets the in-process first tier
 * (unless `l1: false`); other adapters cannot keep one coherent, and refuse `l1`.
 */
export function keyvStore(keyv: KeyvLike, options: RedisStoreOptions = {}): Store {
  if (!isKeyvLike(keyv)) throw new TypeError('keyvStore() takes a Keyv instance or a keyv store adapter');
  return made('keyvStore()', false, { store: keyv, maxBytes: undefined, l1: l1Settings(options.l1) });
}

/** A store built with the settings of the cache that takes it, or with `ON_ITS_OWN`; the factory's own options win. */
function made(factory: string, local: boolean, own: Pick<StoreSettings, 'store' | 'maxBytes' | 'l1'>): Store {
  return new FactoryStore<StoreSettings>(factory, local, (settings = ON_ITS_OWN) => {
    for (const option of ['maxBytes', 'l1'] as const) {
      if (settings[option] !== undefined) throw new TypeError(`the cache's ${option} option does not apply to a store made by ${factory}: give it to the factory`);
    }
    return createStore({ ...settings, ...own });
  });
}
