import { Cache, CacheStoreError, UnstorableValueError, WriteBehindFullError, type WriteBehind } from '../../src';
import { startOwnRedis, type OwnRedis } from '../support/redis-server';
import { timeOn } from '../support/clock';
import { cacheFactory, canStartRedis, storeKinds } from '../support/stores';
import { eventually, sleep } from '../support/wait';

describe.each(storeKinds)('writeBehind on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'write-behind');
  const time = timeOn(kind);
  const writers: WriteBehind[] = [];
  let cache: Cache;
  beforeEach(() => {
    cache = caches.make({ clock: time.clock });
  });
  afterEach(async () => {
    for (const writer of writers.splice(0)) await writer.stop();
  });
  afterAll(() => caches.closeAll());

  const started = (options: Parameters<Cache['writeBehind']>[0] = {}) => {
    const writer = cache.writeBehind({ interval: 60, ...options }).start();
    writers.push(writer);
    return writer;
  };

  it('queues pushes until a flush, and pop() sees the queue before the store', async () => {
    const writer = started();
    writer.push('views:1', 10);
    writer.push('views:2', 20);
    expect(writer.size).toBe(2);
    expect(await cache.get('views:1')).toBeUndefined();
    expect(await writer.sync({ wait: true })).toBe(true);
    expect(writer.size).toBe(0);
    expect(await cache.getMany(['views:1', 'views:2'])).toEqual([10, 20]);
  });

  it('keeps only the last value pushed for a key', async () => {
    const writer = started();
    writer.push('k', 'first');
    writer.push('k', 'second');
    expect(writer.size).toBe(1);
    await writer.sync({ wait: true });
    expect(await cache.get('k')).toBe('second');
  });

  it('writes what was pushed, not later changes to the object', async () => {
    const writer = started();
    const cart = { items: ['apple'] };
    writer.push('cart', cart);
    cart.items.push('pear');
    expect(await writer.pop('cart')).toEqual({ items: ['apple'] });
    writer.push('cart', cart);
    cart.items.push('plum');
    await writer.sync({ wait: true });
    expect(await cache.get('cart')).toEqual({ items: ['apple', 'pear'] });
  });

  it('flushes on the interval', async () => {
    const writer = started({ interval: 0.1 });
    writer.push('ticked', 'yes');
    await eventually(async () => (await cache.get('ticked')) === 'yes', true, 2000);
    expect(writer.size).toBe(0);
  });

  it('flushes as soon as maxQueued keys are queued', async () => {
    const writer = started({ maxQueued: 3 });
    writer.push('a', 1);
    writer.push('b', 2);
    await sleep(50); // real time for a flush to run, were one started
    expect(await cache.get('a')).toBeUndefined();
    writer.push('c', 3);
    await eventually(() => writer.size === 0, true, 2000);
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([1, 2, 3]);
  });

  it('writes at once with sync: true', async () => {
    const writer = started();
    writer.push('queued', 'later');
    expect(await writer.push('now', 'written', { sync: true })).toBe(true);
    expect(await cache.get('now')).toBe('written');
    expect(await cache.get('queued')).toBeUndefined();
    expect(writer.size).toBe(1);
  });

  it('applies the timeout given to push', async () => {
    const writer = started();
    writer.push('short', 'x', { timeout: 0.2 });
    writer.push('long', 'y', { timeout: '1h' });
    await writer.sync({ wait: true });
    expect(await cache.get('short')).toBe('x');
    await time.pass(350);
    expect(await cache.get('short')).toBeUndefined();
    expect(await cache.get('long')).toBe('y');
  });

  it('take() takes a key away, from the queue or from the store', async () => {
    const writer = started();
    await cache.set('stored', 'old');
    writer.push('stored', 'new');
    expect(await writer.take('stored')).toBe('new');
    expect(writer.size).toBe(0);
    expect(await cache.get('stored')).toBeUndefined(); // the older stored value does not come back
    await cache.set('only-stored', 'there');
    expect(await writer.take('only-stored')).toBe('there');
    expect(await cache.get('only-stored')).toBeUndefined();
    expect(await writer.take('absent')).toBeUndefined();
  });

  it('pop() reads a key as it will be, the queued value before the stored one, and removes nothing (EntropyCacher)', async () => {
    const writer = started();
    await cache.set('stored', 'old');
    writer.push('stored', 'new');
    expect(await writer.pop('stored')).toBe('new');
    expect(writer.size).toBe(1);
    expect(await cache.get('stored')).toBe('old');
    await writer.sync({ wait: true });
    expect(await writer.pop('stored')).toBe('new'); // now from the store
    expect(await cache.get('stored')).toBe('new');
    expect(await writer.pop('absent')).toBeUndefined();
  });

  it('discard() drops the queue', async () => {
    const writer = started();
    writer.push('a', 1);
    writer.push('b', 2);
    expect(writer.discard()).toBe(2);
    await writer.sync({ wait: true });
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined]);
  });

  it('stop() writes what is queued, then refuses pushes with a clear error', async () => {
    const writer = cache.writeBehind({ interval: 60 }).start();
    writer.push('last', 'words');
    expect(await writer.stop()).toBe(true);
    expect(await cache.get('last')).toBe('words');
    expect(() => writer.push('late', 1)).toThrow(/writeBehind is not running: push of "late" refused/);
  });

  it('counts what waits in memoryUsage(), and nothing once written', async () => {
    const writer = started();
    const before = cache.memoryUsage()?.parts.writeBehind;
    expect(before).toEqual({ entries: 0, bytes: 0 });
    writer.push('big', 'x'.repeat(10_000));
    writer.push('big', 'y'.repeat(20_000));
    const queued = cache.memoryUsage()!.parts.writeBehind!;
    expect(queued.entries).toBe(1);
    expect(queued.bytes).toBeGreaterThanOrEqual(40_000);
    expect(queued.bytes).toBeLessThan(41_000);
    await writer.sync({ wait: true });
    expect(cache.memoryUsage()!.parts.writeBehind).toEqual({ entries: 0, bytes: 0 });
  });

  it('refuses pushes before start()', () => {
    const writer = cache.writeBehind();
    expect(() => writer.push('early', 1)).toThrow(/writeBehind is not running.*call start\(\)/);
  });

  it('refuses at push time a value the cache cannot store, naming the key', () => {
    const writer = started();
    expect(() => writer.push('when', new Date())).toThrow(UnstorableValueError);
    expect(() => writer.push('when', new Date())).toThrow(/key "when": the value is a Date/);
    expect(() => writer.push('t', 1, { timeout: -1 })).toThrow(/timeout of pushed key "t" must be/);
    expect(writer.size).toBe(0);
  });

  it.each<[string, object, RegExp]>([
    ['a zero interval', { interval: 0 }, /interval of writeBehind must be > 0/],
    ['a bad maxQueued', { maxQueued: 0 }, /maxQueued of writeBehind must be an integer >= 1, got 0/],
    ['a negative stopTimeoutMs', { stopTimeoutMs: -1 }, /stopTimeoutMs of writeBehind must be/],
    ['a capacity below maxQueued', { maxQueued: 10, capacity: 5 }, /capacity of writeBehind must be an integer >= maxQueued \(10\), got 5/],
  ])('refuses %s, naming the option', (_label, options, message) => {
    expect(() => cache.writeBehind(options)).toThrow(message);
  });
});

(canStartRedis ? describe : describe.skip)('writeBehind while Redis goes away and comes back', () => {
  let redis: OwnRedis;
  let cache: Cache;
  const errors: CacheStoreError[] = [];
  beforeAll(async () => {
    redis = await startOwnRedis();
    cache = new Cache({ store: redis.url, operationTimeoutMs: 200 });
    cache.on('error', (err: CacheStoreError) => errors.push(err));
  });
  afterAll(async () => {
    await cache.close();
    await redis.stop();
  });

  /** Until the client has reconnected to the restarted Redis. */
  const reconnected = () => eventually(async () => cache.set('ping', 1), true, 10_000);

  it('keeps failed writes queued, retries them, and loses nothing', async () => {
    const writer = cache.writeBehind({ interval: 0.1 }).start();
    try {
      expect(await cache.set('before', 1)).toBe(true);
      await redis.stop();
      for (let i = 0; i < 20; i++) writer.push(`item:${i}`, { i });
      expect(await writer.sync({ wait: true })).toBe(false);
      expect(await writer.push('urgent', 'now', { sync: true })).toBe(false);
      expect(writer.size).toBe(21);
      expect(await writer.take('item:0')).toEqual({ i: 0 }); // from the queue, the store being away
      await sleep(300); // timed flushes fail meanwhile
      expect(writer.size).toBe(20);
      expect(errors.length).toBeGreaterThan(0);

      await redis.start();
      await eventually(() => writer.size === 0, true, 15_000); // the writer's own retries get through
      const keys = [...Array.from({ length: 19 }, (_, i) => `item:${i + 1}`), 'urgent'];
      const values = await cache.getMany(keys);
      expect(values).toEqual([...Array.from({ length: 19 }, (_, i) => ({ i: i + 1 })), 'now']);
      expect(await cache.get('item:0')).toBeUndefined();
    } finally {
      await writer.stop();
    }
  });

  it('refuses new keys once capacity keys wait, and takes new values of queued ones', async () => {
    await reconnected();
    const writer = cache.writeBehind({ interval: 60, maxQueued: 2, capacity: 3 }).start();
    try {
      await redis.stop();
      for (let i = 0; i < 3; i++) writer.push(`full:${i}`, i);
      expect(await writer.sync({ wait: true })).toBe(false);
      expect(() => writer.push('full:3', 3)).toThrow(WriteBehindFullError);
      expect(() => writer.push('full:3', 3)).toThrow(/writeBehind is full: 3 keys wait to be written .*push of "full:3" refused/);
      writer.push('full:0', 'newer');
      expect(writer.size).toBe(3);
      await redis.start();
      await reconnected();
      expect(await writer.sync({ wait: true })).toBe(true);
      expect(await cache.getMany(['full:0', 'full:1', 'full:2', 'full:3'])).toEqual(['newer', 1, 2, undefined]);
      writer.push('full:3', 3);
    } finally {
      await writer.stop();
    }
  });

  it('stop() retries for stopTimeoutMs, reports what it could not write, and keeps it for a later sync', async () => {
    await reconnected();
    const writer = cache.writeBehind({ interval: 60, stopTimeoutMs: 500 }).start();
    await redis.stop();
    for (let i = 0; i < 3; i++) writer.push(`late:${i}`, i);
    errors.length = 0;
    const stopping = Date.now();
    expect(await writer.stop()).toBe(false);
    expect(Date.now() - stopping).toBeGreaterThanOrEqual(450);
    expect(Date.now() - stopping).toBeLessThan(3000);
    const report = errors.find((err) => err.operation === 'writeBehind stop');
    expect(report?.message).toMatch(/3 pushed value\(s\) could not be written within stopTimeoutMs \(500 ms\) and stay queued: "late:0", "late:1", "late:2"/);
    expect(writer.size).toBe(3);
    expect(() => writer.push('after-stop', 1)).toThrow(/not running/);

    await redis.start();
    await reconnected();
    expect(await writer.sync({ wait: true })).toBe(true);
    expect(await cache.getMany(['late:0', 'late:1', 'late:2'])).toEqual([0, 1, 2]);
  });
});
