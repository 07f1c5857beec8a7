// The Store contract suite that store authors run (koa-fragment-cache/testing), on every store of
// the library and on a store written here against the public interface only.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import KeyvRedis, { Keyv } from '@keyv/redis';
import { keyvStore, memoryStore, redisClusterStore, redisSentinelStore, redisStore, type Store, type StoreCapabilities } from '../../src';
import { systemClock, type Clock } from '../../src/core/clock';
import { createStore, type StoreOption } from '../../src/store/create-store';
import { runStoreContract } from '../../src/testing';
import { manualClock } from '../support/clock';
import { clusterNodes, redisUrl, sentinelSetup } from '../support/stores';

jest.setTimeout(30000);

const runner = { describe, test, beforeEach, afterEach };
/** Over the network, on a machine running other suites too: room for a few round trips before an entry expires. */
const overNetwork = { ttlMs: 200 };

/** The store a cache with `keyPrefix: namespace` builds from `option`. */
function built(option: StoreOption, namespace: string, clock: Clock = systemClock): Store {
  return createStore({ store: option, keyPrefix: namespace, maxBytes: undefined, l1: undefined, clock, onError: () => undefined, onRemoteChange: () => undefined });
}

/**
 * A store written as a user would, against the public types only: namespaces of one backend Map,
 * expiry on the clock it is given. Local, it declares synchronous access; shared, it declares none.
 */
class MapStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly #entries: Map<string, { data: string; expiresAt: number }>;
  readonly #clock: Clock;

  constructor(backend: Map<string, Map<string, { data: string; expiresAt: number }>>, namespace: string, readonly local: boolean, clock: Clock) {
    this.#entries = backend.get(namespace) ?? new Map();
    backend.set(namespace, this.#entries);
    this.#clock = clock;
    this.capabilities = local ? { sync: this, memoryUsage: () => this.#usage() } : {};
  }

  getNow(key: string): string | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#clock.now()) this.#entries.delete(key);
    return this.#entries.get(key)?.data;
  }
  setNow(key: string, data: string, ttlMs: number, onlyIfAbsent: boolean): boolean {
    if (onlyIfAbsent && this.getNow(key) !== undefined) return false;
    this.#entries.set(key, { data, expiresAt: ttlMs === 0 ? Infinity : this.#clock.now() + ttlMs });
    return true;
  }
  async get(key: string) {
    return this.getNow(key);
  }
  async getMany(keys: readonly string[]) {
    return keys.map((key) => this.getNow(key));
  }
  async set(key: string, data: string, ttlMs: number) {
    return this.setNow(key, data, ttlMs, false);
  }
  async add(key: string, data: string, ttlMs: number) {
    return this.setNow(key, data, ttlMs, true);
  }
  async delete(key: string) {
    return this.getNow(key) !== undefined && this.#entries.delete(key);
  }
  async has(key: string) {
    return this.getNow(key) !== undefined;
  }
  async increment(key: string, delta: number, ttlMs: number) {
    const current = this.getNow(key);
    const number = current === undefined ? 0 : Number(current.slice(1));
    if (current !== undefined && (current[0] !== 'j' || !Number.isSafeInteger(number))) throw new TypeError(`${key} is not an integer`);
    const entry = this.#entries.get(key);
    if (entry) entry.data = `j${number + delta}`;
    else this.setNow(key, `j${delta}`, ttlMs, false);
    return number + delta;
  }
  async clear() {
    this.#entries.clear();
  }
  async close() {}

  #usage() {
    let bytes = 0;
    for (const [key, { data }] of this.#entries) bytes += (key.length + data.length) * 2;
    return { entries: this.#entries.size, bytes };
  }
}

test('koa-fragment-cache/testing loads Node built-ins only: no test framework, no dependency', () => {
  const script = `require(${JSON.stringify(path.join(__dirname, '../../dist/testing.js'))}); console.log(JSON.stringify(Object.keys(require.cache)))`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', script]).toString()) as string[];
  expect(loaded.filter((file) => file.includes('node_modules'))).toEqual([]);
  expect(loaded.length).toBeGreaterThan(1);
});

describe.each([true, false])('a Map store written against the public types (local: %s)', (local) => {
  const backend = new Map();
  const clock = manualClock();
  runStoreContract('the Map store', (namespace) => new MapStore(backend, namespace, local, clock), runner, { wait: (ms) => clock.pass(ms) });
});

describe('the memory store', () => {
  const clock = manualClock();
  runStoreContract('memoryStore() in a cache', (namespace) => built(memoryStore(), namespace, clock), runner, { wait: (ms) => clock.pass(ms) });
  runStoreContract("memoryStore() on its own (the system clock, a cache's defaults)", () => memoryStore({ maxBytes: 1024 * 1024 }), runner);
});

describe('keyv stores', () => {
  // Keyv's clear() of a Map empties it whatever the namespace: one Map per namespace.
  runStoreContract('a keyv adapter (a Map)', (namespace) => built(keyvStore(new Map()), namespace), runner);
  runStoreContract('a Keyv instance (over a Map)', (namespace) => built(keyvStore(new Keyv({ namespace })), namespace), runner);
});

(redisUrl ? describe : describe.skip)('Redis stores on one server', () => {
  const adapters: KeyvRedis<string>[] = [];
  const keyvOverRedis = (namespace: string) => {
    const adapter = new KeyvRedis<string>(redisUrl!);
    adapters.push(adapter);
    return new Keyv<string>(adapter, { namespace });
  };
  afterAll(() => Promise.all(adapters.map((adapter) => adapter.disconnect().catch(() => undefined))));

  runStoreContract('redisStore() without L1', (namespace) => built(redisStore(redisUrl!, { l1: false }), namespace), runner, overNetwork);
  runStoreContract('redisStore() with its L1 (the tiered store)', (namespace) => built(redisStore(redisUrl!), namespace), runner, overNetwork);
  runStoreContract('a Keyv over @keyv/redis without L1', (namespace) => built(keyvStore(keyvOverRedis(namespace), { l1: false }), namespace), runner, overNetwork);
  runStoreContract('a Keyv over @keyv/redis with L1', (namespace) => built(keyvStore(keyvOverRedis(namespace)), namespace), runner, overNetwork);

  test('the first tier fences increments only in front of a store that fences them', async () => {
    const stores = [built(redisStore(redisUrl!), 'kfc-fences'), built(keyvStore(keyvOverRedis('kfc-fences')), 'kfc-fences')];
    expect(stores.map((store) => [store.capabilities?.l1 !== undefined, store.capabilities?.fencedIncrements !== undefined])).toEqual([
      [true, true],
      [true, false],
    ]);
    await Promise.all(stores.map((store) => store.close()));
  });
});

(clusterNodes ? describe : describe.skip)('Redis Cluster', () => {
  runStoreContract('redisClusterStore() with its L1', (namespace) => built(redisClusterStore(clusterNodes!), namespace), runner, overNetwork);
});

(sentinelSetup ? describe : describe.skip)('Redis Sentinel', () => {
  runStoreContract('redisSentinelStore() with its L1', (namespace) => built(redisSentinelStore(sentinelSetup!), namespace), runner, overNetwork);
});
