/**
 * A slow or failing origin (issue 23): soft and hard timeouts with a grace period, and
 * `invalidateTags(tags, { stale: true })`, for getOrSet and memoize, on memory and Redis.
 */
import { Cache, CacheWaitTimeout } from '../../src';
import { manualClock } from '../support/clock';
import { cacheFactory, storeKinds, uniquePrefix, redisUrl } from '../support/stores';
import { sleep } from '../support/wait';

/** A function whose calls are counted, each taking `ms` and answering `value()`. */
function origin<T>(value: () => T, ms = 0) {
  const calls = { count: 0 };
  const fn = async () => {
    calls.count++;
    if (ms > 0) await sleep(ms);
    return value();
  };
  return Object.assign(fn, { calls });
}

describe.each(storeKinds)('a slow origin on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'slow-origin');
  afterAll(() => caches.closeAll());

  it('past softTimeoutMs the stale copy (kept for grace) is answered at once, and the computation stores its result', async () => {
    const clock = manualClock();
    const cache = caches.make({ clock });
    let version = 1;
    const load = origin(() => `v${version}`, 300);
    const options = { timeout: 10, grace: '1h', softTimeoutMs: 50 };
    expect(await cache.getOrSet('page', load, options)).toBe('v1');
    clock.advance(11_000); // expired, still within grace
    version = 2;
    const started = Date.now();
    expect(await cache.getOrSet('page', load, options)).toBe('v1');
    expect(Date.now() - started).toBeLessThan(250);
    expect(cache.stats().byKind.value).toMatchObject({ stale: 1, softTimeouts: 1 });
    await sleep(400); // the computation finished in the background and stored
    expect(await cache.getOrSet('page', load, options)).toBe('v2');
    expect(load.calls.count).toBe(2);
  });

  it('without a stale copy the soft timeout does not apply: the caller waits for the computation', async () => {
    const cache = caches.make();
    const load = origin(() => 'fresh', 150);
    expect(await cache.getOrSet('cold', load, { grace: '1h', softTimeoutMs: 20 })).toBe('fresh');
    expect(cache.stats().byKind.value.softTimeouts).toBe(0);
  });

  it('past hardTimeoutMs without a stale copy the caller gets an error naming the key; the value still lands', async () => {
    const cache = caches.make();
    const load = origin(() => 'late', 200);
    const failed = cache.getOrSet('report', load, { hardTimeoutMs: 50 });
    await expect(failed).rejects.toThrow(CacheWaitTimeout);
    await expect(failed).rejects.toThrow(/getOrSet "report" gave no value within 50 ms/);
    expect(cache.stats().byKind.value.hardTimeouts).toBe(1);
    await sleep(300);
    expect(await cache.get('report')).toBe('late');
  });

  it('with a grace period a failing computation answers the stale copy (and reports the failure)', async () => {
    const clock = manualClock();
    const cache = caches.make({ clock });
    const errors: Error[] = [];
    cache.on('error', (err) => errors.push(err));
    const options = { timeout: 10, grace: '1h' };
    expect(await cache.getOrSet('rates', async () => 1.1, options)).toBe(1.1);
    clock.advance(11_000);
    expect(await cache.getOrSet('rates', async () => Promise.reject(new Error('origin down')), options)).toBe(1.1);
    expect(errors.map((err) => String(err.cause ?? err.message))).toEqual([expect.stringContaining('origin down')]);
    if (kind !== 'memory') return; // Redis counts the grace period on its own clock
    // Past the grace period the failure reaches the caller.
    await clock.pass(3_600_000);
    await expect(cache.getOrSet('rates', async () => Promise.reject(new Error('still down')), options)).rejects.toThrow('still down');
  });

  it('memoize: a soft timeout answers the stale copy, a hard timeout a CacheWaitTimeout naming the function', async () => {
    const clock = manualClock();
    const cache = caches.make({ clock });
    let price = 10;
    const quote = cache.memoize(async (sku: string) => {
      await sleep(200);
      return `${sku}:${price}`;
    }, { name: 'quote', timeout: 5, grace: '10m', softTimeoutMs: 40, hardTimeoutMs: 1000 });
    expect(await quote('a')).toBe('a:10');
    clock.advance(6_000);
    price = 11;
    expect(await quote('a')).toBe('a:10');
    await sleep(300);
    expect(await quote('a')).toBe('a:11');
    const strict = cache.memoize(async () => sleep(200).then(() => 'x'), { name: 'strict', hardTimeoutMs: 30 });
    await expect(strict()).rejects.toThrow(/memoized strict gave no value within 30 ms/);
    expect(cache.stats().byKind.memoized).toMatchObject({ softTimeouts: 1, hardTimeouts: 1, stale: 1 });
  });

  it('refuses bad timeouts, naming the option and the call', async () => {
    const cache = caches.make();
    await expect(cache.getOrSet('k', async () => 1, { softTimeoutMs: -1 })).rejects.toThrow(/softTimeoutMs of getOrSet "k"/);
    expect(() => cache.memoize(async () => 1, { name: 'f', hardTimeoutMs: 0 })).toThrow(/hardTimeoutMs of memoized f/);
    await expect(cache.getOrSet('k', async () => 1, { grace: 'soon' })).rejects.toThrow(/grace of getOrSet "k"/);
  });
});

describe.each(storeKinds)('invalidateTags(tags, { stale: true }) on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'stale-invalidate');
  afterAll(() => caches.closeAll());

  it('one caller per key recomputes while the others get the stale copy at once', async () => {
    const cache = caches.make();
    let version = 1;
    const load = origin(() => `v${version}`, 200);
    const options = { tags: ['products'] };
    expect(await cache.getOrSet('list', load, options)).toBe('v1');
    version = 2;
    await cache.invalidateTags(['products'], { stale: true });
    const started = Date.now();
    const first = cache.getOrSet('list', load, options);
    await sleep(20);
    const others = await Promise.all(Array.from({ length: 5 }, () => cache.getOrSet('list', load, options)));
    expect(others).toEqual(Array(5).fill('v1'));
    expect(Date.now() - started).toBeLessThan(150);
    expect(await first).toBe('v2');
    expect(await cache.getOrSet('list', load, options)).toBe('v2');
    expect(load.calls.count).toBe(2);
    expect(cache.stats().byKind.value.stale).toBe(5);
  });

  it('plain invalidateTags keeps its meaning: every caller waits for the new value', async () => {
    const cache = caches.make();
    let version = 1;
    const load = origin(() => `v${version}`, 50);
    await cache.getOrSet('plain', load, { tags: ['t'] });
    version = 2;
    await cache.invalidateTags(['t']);
    const results = await Promise.all(Array.from({ length: 3 }, () => cache.getOrSet('plain', load, { tags: ['t'] })));
    expect(results).toEqual(['v2', 'v2', 'v2']);
    expect(await cache.get('plain')).toBe('v2');
  });

  it('get() of an entry invalidated in stale mode is a miss; memoized results stay servable as stale', async () => {
    const cache = caches.make();
    await cache.set('k', 'old', { tags: ['x'] });
    await cache.invalidateTags(['x'], { stale: true });
    expect(await cache.get('k')).toBeUndefined();
    let n = 0;
    const fn = cache.memoize(async () => {
      await sleep(100);
      return ++n;
    }, { name: 'counter', tags: () => ['x'] });
    expect(await fn()).toBe(1);
    await cache.invalidateTags(['x'], { stale: true });
    const recompute = fn();
    await sleep(10);
    expect(await fn()).toBe(1);
    expect(await recompute).toBe(2);
  });
});

(redisUrl ? describe : describe.skip)('stale invalidation across processes (two caches on one Redis)', () => {
  it('the second process answers the stale copy instead of waiting for the first one\'s lock', async () => {
    const keyPrefix = uniquePrefix('stale-across');
    const a = new Cache({ store: redisUrl!, keyPrefix, operationTimeoutMs: 2000 });
    const b = new Cache({ store: redisUrl!, keyPrefix, operationTimeoutMs: 2000 });
    try {
      let version = 1;
      const load = origin(() => `v${version}`, 300);
      expect(await a.getOrSet('home', load, { tags: ['home'] })).toBe('v1');
      version = 2;
      await a.invalidateTags(['home'], { stale: true });
      const recomputing = a.getOrSet('home', load, { tags: ['home'] });
      await sleep(50);
      const started = Date.now();
      expect(await b.getOrSet('home', load, { tags: ['home'] })).toBe('v1');
      expect(Date.now() - started).toBeLessThan(200);
      expect(await recomputing).toBe('v2');
      await sleep(100); // b's in-process tier hears of a's write on the invalidation bus
      expect(await b.getOrSet('home', load, { tags: ['home'] })).toBe('v2');
      expect(load.calls.count).toBe(2);
    } finally {
      await a.clear();
      await a.close();
      await b.close();
    }
  });
});
