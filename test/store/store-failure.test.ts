import { Cache, CacheStoreError, createEnvironment } from '../../src';
import { freePort, startOwnRedis, type OwnRedis } from '../support/redis-server';
import { canStartRedis, eventually, sleep } from '../support/stores';

/** Resolves `promise` and how long it took. */
async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - start };
}

describe('a store that is not there', () => {
  let cache: Cache;
  const errors: CacheStoreError[] = [];
  beforeAll(async () => {
    cache = new Cache({ store: `redis://127.0.0.1:${await freePort()}`, operationTimeoutMs: 100 });
    cache.on('error', (err: CacheStoreError) => errors.push(err));
  });
  afterAll(() => cache.close());

  it('answers reads as misses and writes as not stored, quickly, and reports why', async () => {
    const read = await timed(cache.get('k'));
    expect(read.value).toBeUndefined();
    expect(read.ms).toBeLessThan(1000);
    expect(await cache.set('k', 'v')).toBe(false);
    expect(await cache.add('k', 'v')).toBe(false);
    expect(await cache.has('k')).toBe(false);
    expect(await cache.delete('k')).toBe(false);
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined]);
    expect(await cache.inc('n')).toBeUndefined();
    await expect(cache.clear()).resolves.toBeUndefined();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toBeInstanceOf(CacheStoreError);
  });

  it('still refuses programming errors loudly', async () => {
    await expect(cache.set('k', () => 1)).rejects.toThrow(/key "k"/);
    await expect(cache.set('k', 'v', -1)).rejects.toThrow(RangeError);
  });

  it('renders templates uncached instead of failing the page', async () => {
    const env = createEnvironment({ cache, views: __dirname });
    const html = await new Promise<string>((resolve, reject) =>
      env.renderString('{% cache 60, "f" %}fresh {{ n }}{% endcache %}', { n: 1 }, (err, out) => (err ? reject(err) : resolve(out!))),
    );
    expect(html).toBe('fresh 1');
  });

  it('logs to stderr at a bounded rate when nobody listens for errors, and never crashes', async () => {
    const quiet = new Cache({ store: `redis://127.0.0.1:${await freePort()}`, operationTimeoutMs: 50 });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => quiet.get(`k${i}`)));
      expect(logged.mock.calls.length).toBeGreaterThan(0);
      expect(logged.mock.calls.length).toBeLessThan(10);
      expect(String(logged.mock.calls[0][0])).toMatch(/^\[koa-fragment-cache\] cache/);
    } finally {
      logged.mockRestore();
      await quiet.close();
    }
  });
});

(canStartRedis ? describe : describe.skip)('a Redis that stops answering and comes back', () => {
  let redis: OwnRedis;
  let cache: Cache;
  const errors: Error[] = [];
  beforeAll(async () => {
    redis = await startOwnRedis();
    cache = new Cache({ store: redis.url, operationTimeoutMs: 100, l1: false });
    cache.on('error', (err: Error) => errors.push(err));
  });
  afterAll(async () => {
    redis.resume();
    await cache.close();
    await redis.stop();
  });

  it('answers within the operation timeout while Redis is paused, then recovers by itself', async () => {
    expect(await cache.set('k', 'before')).toBe(true);
    redis.pause();
    try {
      const read = await timed(cache.get('k'));
      expect(read.value).toBeUndefined();
      expect(read.ms).toBeGreaterThanOrEqual(90);
      expect(read.ms).toBeLessThan(1000);
      const write = await timed(cache.set('k', 'during'));
      expect(write.value).toBe(false);
      expect(write.ms).toBeLessThan(1000);
      expect(errors.some((e) => /operationTimeoutMs/.test(e.message))).toBe(true);
    } finally {
      redis.resume();
    }
    await sleep(100);
    // The write reported failed reached Redis when it resumed: it is deleted, never served.
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 'after')).toBe(true);
    expect(await cache.get('k')).toBe('after');
  });

  it('fails fast while Redis is down, and reconnects when it restarts', async () => {
    await redis.stop();
    await sleep(100);
    const read = await timed(cache.get('k'));
    expect(read.value).toBeUndefined();
    expect(read.ms).toBeLessThan(1000);
    await redis.start();
    let stored = false;
    for (let i = 0; i < 60 && !stored; i++) {
      stored = await cache.set('k', 'back');
      if (!stored) await sleep(100);
    }
    expect(stored).toBe(true);
    expect(await cache.get('k')).toBe('back');
  });
});

(canStartRedis ? describe : describe.skip)('removals made while Redis is away', () => {
  it('are never lost: this process treats them as done at once, and they are retried until Redis takes them', async () => {
    const redis = await startOwnRedis();
    const cache = new Cache({ store: redis.url, operationTimeoutMs: 100 });
    const observer = new Cache({ store: redis.url, operationTimeoutMs: 1000, l1: false });
    cache.on('error', () => undefined);
    try {
      await cache.set('card', 'old card', { tags: ['product:1'] });
      await cache.set('page', 'old page');
      expect(cache.peek('card')).toBe('old card');
      redis.pause();
      await cache.invalidateTags(['product:1']);
      await cache.delete('page');
      // Redis still holds both, but this process already answers as if the removals had landed.
      expect(cache.peek('card')).toBeUndefined();
      expect(cache.peek('page')).toBeUndefined();
      redis.resume();
      expect(await cache.get('card')).toBeUndefined();
      expect(await cache.get('page')).toBeUndefined();
      // The retries land: every process now sees them.
      expect(await eventually(() => observer.get('card'), undefined, 3000)).toBeUndefined();
      expect(await eventually(() => observer.get('page'), undefined, 3000)).toBeUndefined();
      await cache.set('page', 'new page');
      expect(await cache.get('page')).toBe('new page');
    } finally {
      redis.resume();
      await cache.close();
      await observer.close();
      await redis.stop();
    }
  });
});
