// What several processes sharing one Redis deployment see, on each topology the tests can reach
// (one server, a cluster, a primary behind sentinels): values, their in-process tiers kept
// coherent within 100 ms, tags, the cross-process stampede lock, and cached() responses.
import { Cache } from '../../../src';
import { SHARED_HOST, startCacheProcess, type CacheProcess } from '../../support/cache-process';
import { eventually, redisTopologies, sleep, uniquePrefix } from '../../support/stores';

jest.setTimeout(30000);

const suite = redisTopologies.length > 0 ? describe : describe.skip;

suite.each(redisTopologies)('processes sharing Redis ($name)', ({ store }) => {
  let children: CacheProcess[] = [];
  let prefix: string;
  beforeAll(async () => {
    prefix = uniquePrefix('procs');
    children = await Promise.all([1, 2, 3, 4].map(() => startCacheProcess({ store, keyPrefix: prefix, operationTimeoutMs: 2000 })));
    // Each child's first call waits for its first connection (up to 3 s for a cluster's slot map on
    // a loaded machine): made here, so that the tests' time budgets measure coherence, not connecting.
    await Promise.all(children.map((child) => child.call('get', 'warm-up')));
  }, 20_000);
  afterAll(async () => {
    await children[0]?.call('clear');
    await Promise.all(children.map((child) => child.close()));
  });

  it('share values, and drop a value another process changed from their L1 within 100 ms', async () => {
    const [a, b, c] = children;
    // A write or read may fail under load (and answers "not stored" / a miss): coherence is about acknowledged ones.
    const acknowledged = (key: string, value: unknown, options?: object) => eventually(() => a.call('set', key, value, options), true, 2000);
    await acknowledged('shared', 'v1');
    await sleep(50); // a's own announcement of this write has landed
    // A read that times out under load answers a miss (CI full run 5: b's first read on the cluster).
    expect(await eventually(() => b.call('get', 'shared'), 'v1', 2000)).toBe('v1');
    expect(await eventually(() => c.call('get', 'shared'), 'v1', 2000)).toBe('v1');
    expect(await b.call('peek', 'shared')).toBe('v1'); // in b's process memory now

    await acknowledged('shared', 'v2');
    expect(await eventually(() => b.call('peek', 'shared'), undefined, 100)).toBeUndefined();
    expect(await eventually(() => b.call('get', 'shared'), 'v2', 1000)).toBe('v2');

    await c.call('delete', 'shared');
    expect(await eventually(() => b.call('peek', 'shared'), undefined, 100)).toBeUndefined();
    expect(await eventually(() => a.call('peek', 'shared'), undefined, 100)).toBeUndefined();
    expect(await b.call('get', 'shared')).toBeUndefined();
  });

  it('see a tag invalidation made in another process within 100 ms', async () => {
    const [a, b] = children;
    expect(await eventually(() => a.call('set', 'tagged', 'v', { tags: ['product:1', 'category:2'] }), true, 2000)).toBe(true);
    await sleep(50);
    expect(await eventually(() => b.call('get', 'tagged'), 'v', 1000)).toBe('v');
    expect(await b.call('peek', 'tagged')).toBe('v');
    await a.call('invalidateTags', ['category:2']);
    expect(await eventually(() => b.call('peek', 'tagged'), undefined, 100)).toBeUndefined();
    expect(await b.call('get', 'tagged')).toBeUndefined();
  });

  it('compute a cold key hammered from 4 processes once (the lock)', async () => {
    const results = await Promise.all(children.map((child) => child.call<string[]>('stampede', 'cold', 50, 300)));
    expect(await children[0].call('runs', 'stampede-runs:cold')).toBe(1);
    expect(new Set(results.flat()).size).toBe(1); // all 200 callers got the one value
  });

  it('share cached() responses, and a deleteCached() in one reaches the others within 100 ms', async () => {
    const [a, b] = children;
    const first = await a.get('/page');
    expect([first.status, first.cache]).toEqual([200, 'MISS']);
    await sleep(50);
    const second = await b.get('/page');
    expect([second.text, second.cache]).toEqual([first.text, 'HIT']);
    expect((await b.get('/page')).cache).toBe('HIT'); // from b's L1 now
    expect(await a.call('deleteCached', '/page', { host: SHARED_HOST })).toBe(true);
    await sleep(100);
    const third = await b.get('/page');
    expect(third.cache).toBe('MISS');
    expect(third.text).not.toBe(first.text);
  });
});

suite.each(redisTopologies)('the stampede lock ($name)', ({ store }) => {
  it('is taken over when its owner died: the waiter computes once the lock has aged out', async () => {
    const waiter = new Cache({ store, keyPrefix: uniquePrefix('lock'), operationTimeoutMs: 2000, lock: { timeout: 0.3, waitMs: 5000 } });
    try {
      await waiter.get('warm-up'); // connected, so that the lock below is written as soon as it is dated
      await waiter.add('lock:orphan', Date.now() + 300, 0.3); // as a lock's owner writes it: when it expires
      let runs = 0;
      const started = Date.now();
      expect(await waiter.getOrSet('orphan', async () => (runs++, 'value'))).toBe('value');
      expect(runs).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await waiter.clear();
      await waiter.close();
    }
  });

  it('lets a waiter in another cache find what the owner stored, without computing it', async () => {
    const prefix = uniquePrefix('lock-share');
    const owner = new Cache({ store, keyPrefix: prefix, operationTimeoutMs: 2000 });
    const waiter = new Cache({ store, keyPrefix: prefix, operationTimeoutMs: 2000 });
    try {
      let runs = 0;
      const slow = async () => {
        runs++;
        await sleep(200);
        return 'once';
      };
      const first = owner.getOrSet('slow', slow);
      await sleep(30); // the owner holds the lock
      const started = Date.now();
      const [a, b] = await Promise.all([first, waiter.getOrSet('slow', slow)]);
      expect([a, b, runs]).toEqual(['once', 'once', 1]);
      expect(Date.now() - started).toBeLessThan(1000); // woken by the owner's announcement, not lock.wait
    } finally {
      await owner.clear();
      await Promise.all([owner.close(), waiter.close()]);
    }
  });
});
