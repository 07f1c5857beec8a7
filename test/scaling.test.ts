import { Cache, createEnvironment, makeTemplateFragmentKey } from '../src';
import { startCacheProcess, type CacheProcess } from './support/cache-process';
import { startOwnRedis } from './support/redis-server';
import { manualClock } from './support/clock';
import { cacheFactory, canStartRedis, eventually, redisUrl, uniquePrefix } from './support/stores';
import { renderString } from './support/templates';

const describeRedis = redisUrl ? describe : describe.skip;

describeRedis('the in-process tier (L1) in front of Redis', () => {
  const { make, closeAll } = cacheFactory('redis', 'l1');
  afterAll(closeAll);

  it('is on by default: after one read, hits are answered synchronously from process memory', async () => {
    const cache = make();
    await cache.set('k', { v: 1 });
    expect(cache.peek('k')).toEqual({ v: 1 }); // the writer keeps what it wrote
    const reader = make({ keyPrefix: cache.keyPrefix });
    expect(reader.peek('k')).toBeUndefined();
    expect(await reader.get('k')).toEqual({ v: 1 });
    expect(reader.peek('k')).toEqual({ v: 1 });
  });

  it('never keeps an entry past its own expiry, nor past the l1 ttl', async () => {
    // The L1 is a memory store: its expiry follows the cache's clock (Redis keeps 'long' for real).
    const clock = manualClock();
    const cache = make({ l1: { timeout: 0.3 }, clock });
    await cache.set('short', 'x', 0.2);
    await cache.set('long', 'y', 60);
    await clock.pass(250);
    expect(cache.peek('short')).toBeUndefined();
    expect(cache.peek('long')).toBe('y');
    await clock.pass(100);
    expect(cache.peek('long')).toBeUndefined();
    expect(await cache.get('long')).toBe('y'); // still in Redis
  });

  it('can be turned off, and refuses a store that cannot keep it coherent', () => {
    expect(make({ l1: false }).isLocal).toBe(false);
    expect(() => new Cache({ store: new Map() as never, l1: {} })).toThrow(/l1\) needs a Redis store/);
  });
});

// Values, tags, the stampede lock and cached() across processes: test/store/redis/topology-processes.test.ts,
// on one server and on every other topology.
describeRedis('another process sharing one Redis', () => {
  let other: CacheProcess;
  let prefix: string;
  beforeEach(async () => {
    prefix = uniquePrefix('procs');
    other = await startCacheProcess({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
  });
  afterEach(async () => {
    await other.call('clear');
    await other.close();
  });

  it("sees a 'del' fragment rendered in this process in its L1 within 100 ms", async () => {
    const local = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    const env = createEnvironment({ cache: local, views: __dirname });
    await renderString(env, '{% cache 60, "box", 1 %}{{ v }}{% endcache %}', { v: 'old' });
    const key = makeTemplateFragmentKey('box', [1]);
    expect(await other.call('get', key)).toBe('old');
    await renderString(env, '{% cache "del", "box", 1 %}{{ v }}{% endcache %}', { v: 'new' });
    expect(await eventually(() => other.call('peek', key), undefined, 100)).toBeUndefined();
    await local.close();
  });
});

describeRedis('the stampede lock', () => {
  it('gives up waiting after lock.wait and computes anyway', async () => {
    const prefix = uniquePrefix('lock-wait');
    const waiter = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000, lock: { timeout: 30, waitMs: 200 } });
    await waiter.add('lock:stuck', Date.now() + 30_000, 30);
    const started = Date.now();
    expect(await waiter.getOrSet('stuck', async () => 'mine')).toBe('mine');
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    await waiter.clear();
    await waiter.close();
  });
});

(canStartRedis ? describe : describe.skip)('L1 while Redis is away', () => {
  it('keeps answering hits from process memory, and drops L1 when Redis comes back', async () => {
    const redis = await startOwnRedis();
    const cache = new Cache({ store: redis.url, operationTimeoutMs: 100 });
    cache.on('error', () => undefined);
    const other = new Cache({ store: redis.url, operationTimeoutMs: 100, l1: false });
    other.on('error', () => undefined);
    try {
      await cache.set('k', 'v1');
      redis.pause();
      expect(cache.peek('k')).toBe('v1');
      const started = Date.now();
      expect(await cache.get('k')).toBe('v1');
      expect(Date.now() - started).toBeLessThan(50);
      redis.resume();
      await redis.stop();
      await redis.start(); // a restart: messages sent meanwhile were lost
      expect(await eventually(() => other.set('k', 'v2'), true, 5000)).toBe(true);
      expect(await eventually(() => cache.peek('k'), undefined, 5000)).toBeUndefined();
      expect(await cache.get('k')).toBe('v2');
    } finally {
      redis.resume();
      await cache.close();
      await other.close();
      await redis.stop();
    }
  });
});
