/**
 * A store of the user's own, written against the public `Store` interface only (what the api report
 * shows): every feature works on it, whether it says it is local or shared.
 */
import nunjucks from 'nunjucks';
import { Cache, CacheExtension, type Store, type StoreCapabilities } from '../../src';
import { closeApps, counting, startApp } from '../support/apps';
import { renderString } from '../support/templates';

/** A Map with expiry: the whole of what a user needs to implement. */
class MapStore implements Store {
  readonly entries = new Map<string, { data: string; expiresAt: number }>();
  calls = 0;
  constructor(readonly local: boolean) {}

  #live(key: string) {
    this.calls++;
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) this.entries.delete(key);
    return this.entries.get(key);
  }
  async get(key: string) {
    return this.#live(key)?.data;
  }
  async getMany(keys: readonly string[]) {
    return keys.map((key) => this.#live(key)?.data);
  }
  async set(key: string, data: string, ttlMs: number) {
    this.calls++;
    this.entries.set(key, { data, expiresAt: ttlMs === 0 ? Infinity : Date.now() + ttlMs });
    return true;
  }
  async add(key: string, data: string, ttlMs: number) {
    return this.#live(key) ? false : this.set(key, data, ttlMs);
  }
  async delete(key: string) {
    this.calls++;
    return this.entries.delete(key);
  }
  async has(key: string) {
    return this.#live(key) !== undefined;
  }
  async increment(key: string, delta: number, ttlMs: number) {
    const entry = this.#live(key);
    const value = (entry ? Number(entry.data.slice(1)) : 0) + delta;
    if (entry) entry.data = `j${value}`;
    else await this.set(key, `j${value}`, ttlMs);
    return value;
  }
  async clear() {
    this.entries.clear();
  }
  async close() {}
}

afterEach(closeApps);

describe.each([true, false])('a store of your own (local: %s)', (local) => {
  let store: MapStore;
  let cache: Cache;
  beforeEach(() => {
    store = new MapStore(local);
    cache = new Cache({ store, l1: false });
  });
  afterEach(() => cache.close());

  it('holds values, counters and tagged entries', async () => {
    expect(await cache.set('a', { n: 1 }, { timeout: 60, tags: ['t'] })).toBe(true);
    expect(await cache.get('a')).toEqual({ n: 1 });
    expect(store.entries.size).toBeGreaterThan(0);
    expect(await cache.inc('hits', 2)).toBe(2);
    await cache.invalidateTags(['t']);
    expect(await cache.get('a')).toBeUndefined();
    let runs = 0;
    const compute = () => ++runs;
    expect(await cache.getOrSet('b', compute)).toBe(1);
    expect(await cache.getOrSet('b', compute)).toBe(1);
  });

  it('is never taken for the embedded store: the cache does not look for synchronous reads on it', () => {
    expect(cache.isLocal).toBe(false);
  });

  it(local ? 'takes no cross-process lock: no other process shares it' : 'locks a computation out of other processes', async () => {
    const keysWritten: string[] = [];
    const add = store.add.bind(store);
    store.add = (key, data, ttlMs) => (keysWritten.push(key), add(key, data, ttlMs));
    expect(await cache.getOrSet('computed', () => 'value')).toBe('value');
    expect(keysWritten.some((key) => key.startsWith('lock:'))).toBe(!local);
  });

  it('caches fragments and responses', async () => {
    const env = new nunjucks.Environment();
    env.addExtension('cache', new CacheExtension(cache));
    const template = '{% cache 60, "box" %}{{ n }}{% endcache %}';
    expect(await renderString(env, template, { n: 1 })).toBe('1');
    expect(await renderString(env, template, { n: 2 })).toBe('1');

    const route = counting();
    const { get } = await startApp((router) => router.get('/page', cache.cached({ timeout: 60 }), route.handler));
    await get('/page').expect(200, 'run 1');
    const hit = await get('/page').expect(200, 'run 1');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(route.runs()).toBe(1);
  });
});

/** The MapStore with synchronous access declared: what a store in process memory adds. */
class SyncMapStore extends MapStore {
  readonly capabilities: StoreCapabilities = { sync: this, memoryUsage: () => ({ entries: this.entries.size, bytes: 100 * this.entries.size }) };
  constructor() {
    super(true);
  }
  getNow(key: string): string | undefined {
    const entry = this.entries.get(key);
    return entry && entry.expiresAt > Date.now() ? entry.data : undefined;
  }
  setNow(key: string, data: string, ttlMs: number, onlyIfAbsent: boolean): boolean {
    if (onlyIfAbsent && this.getNow(key) !== undefined) return false;
    this.entries.set(key, { data, expiresAt: ttlMs === 0 ? Infinity : Date.now() + ttlMs });
    return true;
  }
}

describe('capabilities a store of your own declares', () => {
  it('sync: the cache reads and writes it on the caller\'s stack, and counts it in memoryUsage()', async () => {
    const store = new SyncMapStore();
    const cache = new Cache({ store });
    expect(cache.isLocal).toBe(true);
    const stored = cache.set('k', { v: 1 });
    expect(store.getNow('k')).toBeDefined(); // written before the promise settles
    expect(await stored).toBe(true);
    expect(cache.peek('k')).toEqual({ v: 1 });
    expect(cache.memoryUsage()?.parts.store).toEqual({ entries: 1, bytes: 100 });
    await cache.close();
  });

  it('l1 on a shared store: hits found there are answered synchronously', async () => {
    const store = new MapStore(false);
    const copy = new Map([['k', 'scopied']]);
    Object.assign(store, { capabilities: { l1: { getNow: (key: string) => copy.get(key) } } satisfies StoreCapabilities });
    const cache = new Cache({ store, l1: false });
    expect(cache.isLocal).toBe(false);
    expect(cache.peek('k')).toBe('copied');
    expect(cache.peek('other')).toBeUndefined();
    await cache.close();
  });

  it('a local store that declares none is served as a shared one, with one warning per process; capabilities: {} says so on purpose', () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh copy: the warning is once per process
      const fresh = require('../../src') as typeof import('../../src');
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        const declared = new MapStore(true);
        Object.assign(declared, { capabilities: {} });
        expect(new fresh.Cache({ store: declared }).isLocal).toBe(false);
        expect(warn).not.toHaveBeenCalled();
        expect(new fresh.Cache({ store: new MapStore(true) }).isLocal).toBe(false);
        expect(new fresh.Cache({ store: new MapStore(true) }).isLocal).toBe(false);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(warn.mock.calls[0]).toEqual([expect.stringMatching(/^MapStore says local: true but declares no capabilities: it is served as a shared store/), { code: 'KFC_STORE_CAPABILITIES' }]);
      } finally {
        warn.mockRestore();
      }
    });
  });

  it.each<[string, boolean, object, RegExp]>([
    ['sync on a shared store', false, { sync: { getNow: () => undefined, setNow: () => true } }, /MapStore declares capabilities.sync but is shared \(local: false\)/],
    ['sync without setNow', true, { sync: { getNow: () => undefined } }, /MapStore declares capabilities.sync without setNow/],
    ['l1 without getNow', false, { l1: {} }, /MapStore declares capabilities.l1 without getNow/],
    ['fencedIncrements without cancelIncrement', false, { fencedIncrements: {} }, /MapStore declares capabilities.fencedIncrements without cancelIncrement/],
    ['memoryUsage that is not a function', true, { memoryUsage: 3 }, /MapStore's capabilities.memoryUsage must be a function/],
  ])('refuses %s with a TypeError naming the store', (_, local, capabilities, message) => {
    const store = Object.assign(new MapStore(local), { capabilities });
    expect(() => new Cache({ store })).toThrow(TypeError);
    expect(() => new Cache({ store })).toThrow(message);
  });
});
