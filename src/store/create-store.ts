import type { Clock } from '../core/clock';
import { timeoutToMs, type Timeout } from '../core/timeout';
import { builtFrom } from './factory-store';
import { MemoryStore } from './memory';
import { isKeyv, isRedisSource, type RedisClientLike, type RedisClusterConfig, type RedisSentinelConfig } from './shapes';
import { checkCapabilities, isStore, type Store } from './store';
import { TieredStore, type SharedStore } from './tiered';
import type { Invalidation } from './invalidation-bus';

/** A Keyv instance or a keyv store adapter, recognised by shape (it may come from another copy of keyv). */
export interface KeyvLike {
  get(key: string): unknown;
  set(key: string, value: unknown, ttl?: number): unknown;
  delete(key: string): unknown;
  clear(): unknown;
}

export type StoreOption = 'memory' | (string & {}) | RedisClusterConfig | RedisSentinelConfig | RedisClientLike | Store | KeyvLike;

export interface StoreSettings {
  store: StoreOption | undefined;
  keyPrefix: string;
  maxBytes: number | undefined;
  l1: false | { maxBytes?: number; timeoutMs: number } | undefined;
  clock: Clock;
  /** The cache's deadline of one store call (the longest a Redis write waits for a replica); default 50. */
  operationTimeoutMs?: number;
  onError: (err: unknown) => void;
  /** Told of the keys other processes changed (`'all'` after lost messages or a clear). */
  onRemoteChange: (keys: Invalidation) => void;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const DEFAULT_L1_MAX_BYTES = 32 * 1024 * 1024;

const USAGE =
  "store must be 'memory', a redis:// or rediss:// URL, { cluster: [urls] }, { sentinel: { name, nodes } }, a node-redis client, cluster or sentinel, a Store (see the Store interface), a keyv adapter or a Keyv";

/**
 * The store `CacheOptions.store` names: the memory store, Redis (one server, a cluster, a primary
 * behind sentinels; with an in-process first tier unless `l1: false`), a `Store` of the user's, or
 * anything keyv can drive. The Redis client and keyv are loaded only here, and only for a store
 * that needs them.
 */
export function createStore(settings: StoreSettings): Store {
  const built = builtFrom(settings.store, settings);
  if (built) return built;
  const { store = 'memory', maxBytes, l1, clock, onError } = settings;
  if (store === 'memory') return new MemoryStore(maxBytes ?? DEFAULT_MAX_BYTES, clock);
  if (maxBytes !== undefined) throw new TypeError('maxBytes applies to the memory store only');
  if (typeof store === 'string' && !/^rediss?:\/\//.test(store)) throw new TypeError(`${USAGE}; got ${JSON.stringify(store)}`);
  if (isStore(store)) {
    if (l1) throw new TypeError('an in-process tier (l1) needs a Redis store, whose pub/sub keeps it coherent');
    checkCapabilities(store);
    return store;
  }
  let shared: SharedStore;
  if (isRedisSource(store)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional peers, loaded only for a shared store
    const { createTopology, separatorOf } = require('./redis/config') as typeof import('./redis/config');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
    const { RedisStore } = require('./redis-store') as typeof import('./redis-store');
    shared = new RedisStore(createTopology(store, onError), settings.keyPrefix + separatorOf(store), onError, clock, settings.operationTimeoutMs);
  } else if (isKeyvLike(store)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional peers, loaded only for a shared store
    const { KeyvStore } = require('./keyv') as typeof import('./keyv');
    const topologyFor = (client: unknown) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
      const { createTopology } = require('./redis/config') as typeof import('./redis/config');
      return createTopology(client, onError);
    };
    shared = new KeyvStore(store as never, settings.keyPrefix, onError, clock, topologyFor);
  } else {
    throw new TypeError(USAGE);
  }
  const redisBacked = isRedisSource(store) || (isKeyv(store) && (shared as { redisBacked?: boolean }).redisBacked === true);
  const tier = l1 ?? (redisBacked ? { timeoutMs: 60_000 } : false);
  if (!tier) return shared;
  if (!shared.pubsub) {
    shared.close().catch(() => undefined);
    throw new TypeError('an in-process tier (l1) needs a Redis store, whose pub/sub keeps it coherent');
  }
  return new TieredStore(
    shared,
    new MemoryStore(tier.maxBytes ?? DEFAULT_L1_MAX_BYTES, clock),
    tier.timeoutMs || Infinity,
    `${settings.keyPrefix}::invalidations`,
    onError,
    settings.onRemoteChange,
    clock,
  );
}

/** The `l1` option (`CacheOptions.l1`, or a Redis factory's) as settings. */
export function l1Settings(l1: false | { maxBytes?: number; timeout?: Timeout } | undefined): StoreSettings['l1'] {
  return l1 && { maxBytes: l1.maxBytes, timeoutMs: timeoutToMs(l1.timeout, 60_000, 'l1.timeout') };
}

export function isKeyvLike(value: unknown): value is KeyvLike {
  const keyv = value as Partial<Record<keyof KeyvLike, unknown>> | null;
  return typeof keyv === 'object' && keyv !== null && (['get', 'set', 'delete', 'clear'] as const).every((method) => typeof keyv[method] === 'function');
}
