import { Cache, CacheStoreError, type Refreshing } from '../../src';
import { cacheFactory, redisUrl, storeKinds, uniquePrefix } from '../support/stores';
import { eventually, sleep } from '../support/wait';

// Real time throughout: refreshes run on a real interval, and the election lock that lets a tick
// refresh expires on the cache's clock (a manual one left alone would keep every later tick out).
describe.each(storeKinds)('refreshing on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'refreshing');
  const handles: Refreshing<unknown>[] = [];
  let cache: Cache;
  let errors: CacheStoreError[];
  beforeEach(() => {
    cache = caches.make();
    errors = [];
    cache.on('error', (err: CacheStoreError) => errors.push(err));
  });
  afterEach(() => handles.splice(0).forEach((handle) => handle.stop()));
  afterAll(() => caches.closeAll());

  const keep = <T>(handle: Refreshing<T>): Refreshing<T> => (handles.push(handle), handle);

  it('get() waits for the first value, then answers it without recomputing', async () => {
    let runs = 0;
    const rates = keep(
      cache.refreshing('rates', async () => {
        runs++;
        await sleep(100);
        return { eur: 1.1 };
      }, { interval: 60 }),
    );
    expect(rates.lastUpdated).toBeUndefined();
    const before = Date.now();
    expect(await rates.get()).toEqual({ eur: 1.1 });
    expect(await rates.get()).toEqual({ eur: 1.1 });
    expect(runs).toBe(1);
    expect(rates.lastUpdated!.getTime()).toBeGreaterThanOrEqual(before);
    expect(rates.lastError).toBeUndefined();
  });

  it('refreshes on the interval, and stores the value under its key', async () => {
    let runs = 0;
    const counter = keep(cache.refreshing('counter', () => ++runs, { interval: 0.1 }));
    expect(await counter.get()).toBe(1);
    await eventually(() => runs >= 4);
    await sleep(20);
    expect(await counter.get()).toBe(runs);
    expect(await cache.get('counter')).toEqual({ value: runs, updatedAt: counter.lastUpdated!.getTime() });
  });

  it('keeps the last good value when a refresh fails, reports it, and recovers', async () => {
    let runs = 0;
    let failing = false;
    const price = keep(
      cache.refreshing('price', () => {
        runs++;
        if (failing) throw new Error('upstream down');
        return runs;
      }, { interval: 0.1 }),
    );
    expect(await price.get()).toBe(1);
    failing = true;
    const failedFrom = runs;
    await eventually(() => runs >= failedFrom + 2);
    expect(await price.get()).toBe(1);
    expect(price.lastError).toEqual(new Error('upstream down'));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toBeInstanceOf(CacheStoreError);
    expect(errors[0].operation).toBe('refresh');
    expect(errors[0].key).toBe('price');
    expect(errors[0].message).toMatch(/upstream down/);
    failing = false;
    const recoveredFrom = runs;
    await eventually(() => runs > recoveredFrom);
    await sleep(20);
    expect(await price.get()).toBeGreaterThan(recoveredFrom);
    expect(price.lastError).toBeUndefined();
  });

  it('rejects get() while there is no value because computing it failed, and recovers', async () => {
    let fail = true;
    const value = keep(
      cache.refreshing('first-fails', () => {
        if (fail) throw new Error('not yet');
        return 'ready';
      }, { interval: 60 }),
    );
    await expect(value.get()).rejects.toThrow('not yet');
    fail = false;
    expect(await value.get()).toBe('ready');
  });

  it('never runs two refreshes at once: a slow refresh makes ticks and refresh() join it', async () => {
    let running = 0;
    let mostAtOnce = 0;
    let runs = 0;
    const slow = keep(
      cache.refreshing('slow', async () => {
        runs++;
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await sleep(150);
        running--;
        return runs;
      }, { interval: 0.03 }),
    );
    await slow.get();
    const [a, b] = await Promise.all([slow.refresh(), slow.refresh()]);
    expect(a).toBe(b);
    await sleep(500);
    expect(mostAtOnce).toBe(1);
    expect(runs).toBeGreaterThan(2);
    expect(runs).toBeLessThan(8);
  });

  it('stops refreshing on stop(), and keeps answering the last value', async () => {
    let runs = 0;
    const ticking = keep(cache.refreshing('ticking', () => ++runs, { interval: 0.05 }));
    await eventually(() => runs >= 2);
    ticking.stop();
    await sleep(30);
    const stoppedAt = runs;
    await sleep(200);
    expect(runs).toBe(stoppedAt);
    expect(await ticking.get()).toBe(stoppedAt);
  });

  it('treats an undefined result as a failed refresh', async () => {
    const nothing = keep(cache.refreshing('nothing', () => undefined, { interval: 60 }));
    await expect(nothing.get()).rejects.toThrow(/refreshing "nothing": the function returned undefined/);
    expect(nothing.lastError).toBeInstanceOf(TypeError);
  });

  it.each<[string, object, RegExp]>([
    ['no interval', {}, /interval of refreshing "k" is required and must be > 0/],
    ['a zero interval', { interval: 0 }, /interval of refreshing "k" is required/],
    ['a bad interval', { interval: 'often' }, /interval of refreshing "k" "often" is not a duration/],
    ['a timeout shorter than the interval', { interval: 10, timeout: 5 }, /timeout of refreshing "k" must be 0 \(never expires\) or at least the interval/],
  ])('refuses %s, naming the option', (_label, options, message) => {
    expect(() => cache.refreshing('k', () => 1, options as never)).toThrow(message);
  });
});

(redisUrl ? describe : describe.skip)('refreshing shared between processes (Redis)', () => {
  const caches = cacheFactory('redis', 'refreshing-shared');
  afterAll(() => caches.closeAll());

  it('lets one process per interval refresh, and the others adopt its value', async () => {
    const keyPrefix = uniquePrefix('refreshing-shared');
    const [first, second] = [caches.make({ keyPrefix }), caches.make({ keyPrefix })];
    const interval = 0.2;
    const refreshedAt: number[] = [];
    const byProcess = { first: 0, second: 0 };
    const compute = (process: 'first' | 'second') => () => {
      refreshedAt.push(Date.now());
      return { n: refreshedAt.length, by: process, count: ++byProcess[process] };
    };
    const a = first.refreshing('shared', compute('first'), { interval });
    expect(await a.get()).toMatchObject({ n: 1 });
    const b = second.refreshing('shared', compute('second'), { interval });
    try {
      expect(await b.get()).toMatchObject({ n: 1 }); // read from the store, not computed
      await sleep(1300);
      const gaps = refreshedAt.slice(1).map((at, i) => at - refreshedAt[i]);
      // Without the election both processes would refresh every interval (about 12 times).
      expect(refreshedAt.length).toBeGreaterThanOrEqual(5);
      expect(refreshedAt.length).toBeLessThanOrEqual(8);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(interval * 1000 * 0.8);
      await sleep(interval * 1000 + 50); // one interval for the other process to adopt the latest
      const [va, vb] = await Promise.all([a.get(), b.get()]);
      expect(Math.abs(va.n - vb.n)).toBeLessThanOrEqual(1);
      expect(vb.n).toBeGreaterThan(1);
    } finally {
      a.stop();
      b.stop();
    }
  });
});
