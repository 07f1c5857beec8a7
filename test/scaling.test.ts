import { createClient } from '@keyv/redis';
import { Cache, createEnvironment, makeTemplateFragmentKey } from '../src';
import { startCacheProcess, type CacheProcess } from './support/cache-process';
import { startOwnRedis } from './support/redis-server';
import { manualClock } from './support/clock';
import { canStartRedis, eventually, redisUrl, sleep, uniquePrefix } from './support/stores';
import { renderString } from './support/templates';

const describeRedis = redisUrl ? describe : describe.skip;

describeRedis('the in-process tier (L1) in front of Redis', () => {
  const made: Cache[] = [];
  const make = (options: object = {}) => {
    const cache = new Cache({ store: redisUrl, keyPrefix: uniquePrefix('l1'), operationTimeoutMs: 2000, ...options });
    made.push(cache);
    return cache;
  };
  afterAll(async () => {
    for (const cache of made) {
      await cache.clear();
      await cache.close();
    }
  });

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

describeRedis('several processes sharing one Redis', () => {
  let processes: CacheProcess[] = [];
  let prefix: string;
  beforeEach(async () => {
    prefix = uniquePrefix('procs');
    processes = await Promise.all([1, 2, 3].map(() => startCacheProcess({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 })));
  });
  afterEach(async () => {
    await processes[0].call('clear');
    await Promise.all(processes.map((p) => p.close()));
  });

  it('share values, and see a change made in one in their L1 within 100 ms', async () => {
    const [a, b, c] = processes;
    await a.call('set', 'shared', 'v1');
    await sleep(50); // a's own announcement of this write, which would drop b's copy, has landed
    expect(await b.call('get', 'shared')).toBe('v1');
    expect(await c.call('get', 'shared')).toBe('v1');
    expect(await b.call('peek', 'shared')).toBe('v1'); // now in b's process memory

    await a.call('set', 'shared', 'v2'); // overwrite
    expect(await eventually(() => b.call('peek', 'shared'), undefined, 100)).toBeUndefined();
    expect(await b.call('get', 'shared')).toBe('v2');

    await c.call('delete', 'shared');
    expect(await eventually(() => b.call('peek', 'shared'), undefined, 100)).toBeUndefined();
    expect(await eventually(() => a.call('peek', 'shared'), undefined, 100)).toBeUndefined();
  });

  it('see a tag invalidation in one in their L1 within 100 ms', async () => {
    const [a, b] = processes;
    await a.call('set', 'tagged', 'v', { tags: ['product:1'] });
    await sleep(50); // a's own announcements of this write (entry and tag version) have landed
    expect(await b.call('get', 'tagged')).toBe('v');
    expect(await b.call('peek', 'tagged')).toBe('v');
    await a.call('invalidateTags', ['product:1']);
    expect(await eventually(() => b.call('peek', 'tagged'), undefined, 100)).toBeUndefined();
    expect(await b.call('get', 'tagged')).toBeUndefined();
  });

  it("see a 'del' fragment rendered in this process in their L1 within 100 ms", async () => {
    const local = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    const env = createEnvironment({ cache: local, views: __dirname });
    await renderString(env, '{% cache 60, "box", 1 %}{{ v }}{% endcache %}', { v: 'old' });
    const key = makeTemplateFragmentKey('box', [1]);
    expect(await processes[0].call('get', key)).toBe('old');
    await renderString(env, '{% cache "del", "box", 1 %}{{ v }}{% endcache %}', { v: 'new' });
    expect(await eventually(() => processes[0].call('peek', key), undefined, 100)).toBeUndefined();
    await local.close();
  });

  it('run the computation of a cold key hammered concurrently from 4 processes once', async () => {
    const fourth = await startCacheProcess({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    processes.push(fourth);
    const counterKey = `${prefix}-runs`;
    const results = await Promise.all(processes.map((p) => p.call<string[]>('stampede', 'cold', 50, 200, counterKey)));
    const redis = createClient({ url: redisUrl });
    await redis.connect();
    expect(await redis.get(counterKey)).toBe('1');
    await redis.del(counterKey);
    await redis.close();
    expect(new Set(results.flat()).size).toBe(1); // all 200 callers got the one value
  });
});

describeRedis('the stampede lock', () => {
  it('is taken over when its owner died: the waiter computes once the lock has aged out', async () => {
    const prefix = uniquePrefix('lock');
    const waiter = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000, lock: { timeout: 0.3, waitMs: 5000 } });
    // A process that took the lock and died: the lock is there, nobody will release it.
    await waiter.add('lock:orphan', Date.now() + 300, 0.3); // as a lock's owner writes it: when it expires
    let runs = 0;
    const started = Date.now();
    expect(await waiter.getOrSet('orphan', async () => (runs++, 'value'))).toBe('value');
    expect(runs).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(2000);
    await waiter.clear();
    await waiter.close();
  });

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
