/**
 * A store of the user's own, written against the public `Store` interface only (what the api report
 * shows): every feature works on it, whether it says it is local or shared.
 */
import nunjucks from 'nunjucks';
import { Cache, CacheExtension, type Store } from '../src';
import { closeApps, counting, startApp } from './support/apps';
import { renderString } from './support/templates';

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
