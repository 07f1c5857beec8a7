import { Keyv } from 'keyv';
import { createClient } from '@keyv/redis';
import { Cache, UnstorableValueError } from '../src';
import { timeOn } from './support/clock';
import { cacheFactory, redisUrl, sleep, storeKinds, uniquePrefix } from './support/stores';

describe.each(storeKinds)('Cache on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'cache');
  const time = timeOn(kind);
  let cache: Cache;
  beforeEach(() => {
    cache = caches.make({ clock: time.clock });
  });
  afterAll(() => caches.closeAll());

  it('gets what it set, and misses as undefined', async () => {
    expect(await cache.get('absent')).toBeUndefined();
    expect(await cache.set('k', 'v')).toBe(true);
    expect(await cache.get('k')).toBe('v');
    expect(await cache.has('k')).toBe(true);
    expect(await cache.has('absent')).toBe(false);
  });

  it.each<[string, unknown]>([
    ['string', 'héllo <b>wörld</b> ✓'],
    ['string starting with a colon', ':base64:not-a-buffer'],
    ['empty string', ''],
    ['number', 42.5],
    ['zero', 0],
    ['boolean', false],
    ['null', null],
    ['array', [1, 'two', [3], { four: 4 }]],
    ['object', { a: 1, nested: { b: [true, null] }, $dollar: 'kept', $b: 'not a buffer' }],
    ['Buffer', Buffer.from([0, 1, 2, 255])],
    ['object holding a Buffer', { body: Buffer.from('bytes'), type: 'text/plain' }],
  ])('round-trips a %s exactly', async (_label, value) => {
    await cache.set('value', value);
    expect(await cache.get('value')).toEqual(value);
  });

  it('returns a copy: mutating what get() returned does not change the entry', async () => {
    await cache.set('obj', { list: [1] });
    const first = await cache.get<{ list: number[] }>('obj');
    first!.list.push(2);
    expect(await cache.get('obj')).toEqual({ list: [1] });
  });

  it.each<[string, unknown, RegExp]>([
    ['a function', () => 1, /key "bad": the value is a function/],
    ['a Date', new Date(), /key "bad": the value is a Date/],
    ['a Map', new Map(), /key "bad": the value is a Map/],
    ['NaN nested', { n: NaN }, /key "bad": the value\.n is NaN/],
    ['undefined in an array', [1, undefined], /the value\[1\] is undefined/],
    ['undefined', undefined, /the value is undefined/],
    ['a symbol', Symbol('s'), /is a symbol/],
  ])('refuses %s, naming the key, and stores nothing', async (_label, value, message) => {
    await expect(cache.set('bad', value)).rejects.toThrow(message);
    await expect(cache.set('bad', value)).rejects.toBeInstanceOf(UnstorableValueError);
    expect(await cache.has('bad')).toBe(false);
  });

  it('refuses a cycle, naming the key', async () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    await expect(cache.set('cyclic', cycle)).rejects.toThrow(/key "cyclic": the value\.self is a circular reference/);
  });

  it('expires entries after their timeout in seconds', async () => {
    await cache.set('short', 'x', 0.3);
    await cache.set('long', 'y', '1h');
    expect(await cache.get('short')).toBe('x');
    await time.pass(450);
    expect(await cache.get('short')).toBeUndefined();
    expect(await cache.get('long')).toBe('y');
  });

  it('uses the default timeout for undefined/null, and 0 means never expires', async () => {
    const quick = caches.make({ defaultTimeout: 0.3, clock: time.clock });
    await quick.set('default', 'x');
    await quick.set('null', 'x', null);
    await quick.set('forever', 'x', 0);
    await quick.set('options', 'x', { timeout: 0 });
    await time.pass(450);
    expect(await quick.get('default')).toBeUndefined();
    expect(await quick.get('null')).toBeUndefined();
    expect(await quick.get('forever')).toBe('x');
    expect(await quick.get('options')).toBe('x');
  });

  it('refuses bad timeouts with errors naming the key and value', async () => {
    await expect(cache.set('k', 'v', -1)).rejects.toThrow(new RangeError('timeout of key "k" must be a finite number of seconds >= 0, got -1'));
    await expect(cache.set('k', 'v', 'later')).rejects.toThrow(TypeError);
    expect(() => new Cache({ defaultTimeout: -5 })).toThrow(/defaultTimeout/);
  });

  it('add() stores only when absent and reports whether it did', async () => {
    expect(await cache.add('once', 1)).toBe(true);
    expect(await cache.add('once', 2)).toBe(false);
    expect(await cache.get('once')).toBe(1);
  });

  it('add() treats an expired entry as absent', async () => {
    await cache.set('gone', 1, 0.2);
    await time.pass(300);
    expect(await cache.add('gone', 2)).toBe(true);
    expect(await cache.get('gone')).toBe(2);
  });

  it('delete() and deleteMany() report what they removed', async () => {
    await cache.setMany({ a: 1, b: 2, c: 3 });
    expect(await cache.delete('a')).toBe(true);
    expect(await cache.delete('a')).toBe(false);
    expect(await cache.deleteMany(['b', 'c', 'nope'])).toBe(2);
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, undefined]);
  });

  it('getMany() answers in order, with undefined for misses', async () => {
    expect(await cache.setMany({ x: 'X', z: { zz: 1 } }, 60)).toBe(true);
    expect(await cache.getMany(['x', 'missing', 'z'])).toEqual(['X', undefined, { zz: 1 }]);
    expect(await cache.getMany([])).toEqual([]);
  });

  it('inc() and dec() count from 0, keep the entry readable, and refuse non-integers', async () => {
    expect(await cache.inc('n')).toBe(1);
    expect(await cache.inc('n', 10)).toBe(11);
    expect(await cache.dec('n', 3)).toBe(8);
    expect(await cache.dec('n')).toBe(7);
    expect(await cache.get('n')).toBe(7);
    await cache.set('text', 'seven');
    await expect(cache.inc('text')).rejects.toThrow(/cannot increment key "text": its value is not an integer/);
    await expect(cache.inc('n', 1.5)).rejects.toThrow(/delta for key "n" must be an integer/);
  });

  it('inc() keeps an existing expiry and gives new counters the default timeout', async () => {
    const quick = caches.make({ defaultTimeout: 0.3, clock: time.clock });
    await quick.set('kept', 5, 0);
    await quick.inc('kept');
    await quick.inc('fresh');
    await time.pass(450);
    expect(await quick.get('kept')).toBe(6);
    expect(await quick.get('fresh')).toBeUndefined();
  });

  it('inc() is atomic under concurrency', async () => {
    await Promise.all(Array.from({ length: 50 }, () => cache.inc('hits')));
    expect(await cache.get('hits')).toBe(50);
  });

  it('getOrSet() computes once for concurrent callers and stores the result', async () => {
    let runs = 0;
    const compute = async () => {
      runs++;
      await sleep(30);
      return { html: 'computed' };
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet('shared', compute, { timeout: 60 })));
    expect(runs).toBe(1);
    expect(results.every((r) => r.html === 'computed')).toBe(true);
    expect(await cache.getOrSet('shared', compute)).toEqual({ html: 'computed' });
    expect(runs).toBe(1);
  });

  it('getOrSet() does not store a rejection and lets the next caller retry', async () => {
    await expect(cache.getOrSet('flaky', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await cache.has('flaky')).toBe(false);
    expect(await cache.getOrSet('flaky', () => 'ok')).toBe('ok');
  });

  it('clear() empties this cache', async () => {
    await cache.setMany({ a: 1, b: 2 });
    await cache.clear();
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined]);
  });
});

describe('the memory store', () => {
  it('is bounded by maxBytes: old entries are evicted, never unbounded growth', async () => {
    const cache = new Cache({ maxBytes: 64 * 1024 });
    const value = 'x'.repeat(1000);
    for (let i = 0; i < 500; i++) await cache.set(`k${i}`, value);
    const present = (await cache.getMany(Array.from({ length: 500 }, (_, i) => `k${i}`))).filter((v) => v !== undefined);
    expect(present.length).toBeGreaterThan(10);
    expect(present.length).toBeLessThan(40); // ~2 KB each against a 64 KB bound
    expect(await cache.get('k499')).toBe(value); // the newest survive
    expect(await cache.get('k0')).toBeUndefined();
  });

  it('does not store an entry larger than the whole bound', async () => {
    const cache = new Cache({ maxBytes: 4096 });
    expect(await cache.set('huge', 'x'.repeat(10_000))).toBe(false);
    expect(await cache.has('huge')).toBe(false);
  });

  it('refuses a nonsense bound', () => {
    expect(() => new Cache({ maxBytes: 10 })).toThrow(/maxBytes must be an integer >= 1024, got 10/);
    expect(() => new Cache({ store: 'redis://x', maxBytes: 2048 })).toThrow(/maxBytes applies to the memory store only/);
  });

  it('answers hits synchronously through peek()', async () => {
    const cache = new Cache();
    await cache.set('k', { a: 1 });
    expect(cache.peek('k')).toEqual({ a: 1 });
    expect(cache.peek('absent')).toBeUndefined();
    expect(cache.isLocal).toBe(true);
  });

  it('keeps separate caches separate', async () => {
    const a = new Cache();
    const b = new Cache();
    await a.set('k', 'a');
    expect(await b.get('k')).toBeUndefined();
  });
});

describe('configuration', () => {
  it('Cache.fromEnv reads CACHE_URL, CACHE_DEFAULT_TIMEOUT and CACHE_KEY_PREFIX', async () => {
    const cache = Cache.fromEnv({ CACHE_DEFAULT_TIMEOUT: '5m', CACHE_KEY_PREFIX: 'shop' });
    expect(cache.defaultTimeoutMs).toBe(300_000);
    expect(cache.keyPrefix).toBe('shop');
    expect(cache.isLocal).toBe(true);
    expect(Cache.fromEnv({ CACHE_URL: 'memory' }).isLocal).toBe(true);
    expect(() => Cache.fromEnv({ CACHE_DEFAULT_TIMEOUT: 'later' })).toThrow(/defaultTimeout "later"/);
  });

  it('refuses an unknown store', () => {
    expect(() => new Cache({ store: 'memcached://x' })).toThrow(/store must be 'memory', a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => new Cache({ keyPrefix: '' })).toThrow(/keyPrefix/);
  });

  it('accepts a keyv adapter or a Keyv instance as the store', async () => {
    const map = new Map();
    const viaAdapter = new Cache({ store: map as never, keyPrefix: 'app' });
    await viaAdapter.set('k', { v: 1 });
    expect(await viaAdapter.get('k')).toEqual({ v: 1 });
    expect([...map.keys()]).toEqual(['app:k']);
    expect(await viaAdapter.add('k', 2)).toBe(false);
    expect(await viaAdapter.inc('count', 2)).toBe(2);

    const viaKeyv = new Cache({ store: new Keyv() });
    await viaKeyv.set('buf', Buffer.from('hi'));
    expect(await viaKeyv.get('buf')).toEqual(Buffer.from('hi'));
    expect(viaKeyv.isLocal).toBe(false);
  });
});

(redisUrl ? describe : describe.skip)('the Redis store', () => {
  const client = createClient({ url: redisUrl });
  beforeAll(() => client.connect());
  afterAll(() => client.close());

  it('keeps keys under the prefix, and clear() removes only those (never the whole database)', async () => {
    const prefix = uniquePrefix('clear');
    const cache = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    const other = new Cache({ store: redisUrl, keyPrefix: `${prefix}-other`, operationTimeoutMs: 2000 });
    await client.set(`${prefix}-foreign`, 'not ours');
    await cache.setMany({ a: 1, b: 2 });
    await other.set('a', 'other');
    expect((await client.keys(`${prefix}::*`)).sort()).toEqual([`${prefix}::a`, `${prefix}::b`]);
    await cache.clear();
    expect(await client.keys(`${prefix}::*`)).toEqual([]);
    expect(await client.get(`${prefix}-foreign`)).toBe('not ours');
    expect(await other.get('a')).toBe('other');
    await client.del(`${prefix}-foreign`);
    await other.clear();
    await Promise.all([cache.close(), other.close()]);
  });

  it('sets a Redis expiry matching the timeout, and none for 0', async () => {
    const prefix = uniquePrefix('ttl');
    const cache = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    await cache.set('minute', 'x', 60);
    await cache.set('forever', 'x', 0);
    const ttl = await client.pTTL(`${prefix}::minute`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await client.pTTL(`${prefix}::forever`)).toBe(-1);
    await cache.clear();
    await cache.close();
  });

  it('shares entries between caches with the same prefix (separate connections)', async () => {
    const prefix = uniquePrefix('shared');
    const a = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000, l1: false });
    const b = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000, l1: false });
    await a.set('k', { from: 'a' });
    expect(await b.get('k')).toEqual({ from: 'a' });
    expect(b.peek('k')).toBeUndefined(); // nothing in process memory without an L1
    await Promise.all([a.inc('n'), b.inc('n'), a.inc('n'), b.inc('n')]);
    expect(await a.get('n')).toBe(4);
    await a.clear();
    await Promise.all([a.close(), b.close()]);
  });
});
