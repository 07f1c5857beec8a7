// The first calls of a new cache wait for its first connection attempt (bounded by the store, apart
// from operationTimeoutMs) on every topology; calls after it, while Redis is down, still fail at
// once. Before, a Cluster or Sentinel cache's first call failed: connecting takes longer than 50 ms.
import net from 'node:net';
import { Cache } from '../../src';
import { startOwnRedis } from '../support/redis-server';
import { canStartRedis, redisTopologies, uniquePrefix } from '../support/stores';

jest.setTimeout(30000);

/** Resolves `promise` and how long it took. */
async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - start };
}

const double = (cache: Cache, runs: { count: number }) =>
  cache.memoize(
    async (n: number) => {
      runs.count++;
      return n * 2;
    },
    { name: 'double', timeout: 60 },
  );

(redisTopologies.length > 0 ? describe : describe.skip).each(redisTopologies)('the first call of a new cache on $name', ({ store }) => {
  it('succeeds for set, get and a memoized call, within the default operationTimeoutMs', async () => {
    const keyPrefix = uniquePrefix('first-calls');
    const errors: string[] = [];
    const made: Cache[] = [];
    const fresh = () => {
      const cache = new Cache({ store, keyPrefix, operationTimeoutMs: 50 });
      cache.on('error', (err) => errors.push(err.message));
      made.push(cache);
      return cache;
    };
    try {
      expect(await fresh().set('k', 1, 60)).toBe(true);
      expect(await fresh().get('k')).toBe(1);
      const runs = { count: 0 };
      expect(await double(fresh(), runs)(3)).toBe(6);
      expect(await double(fresh(), runs)(3)).toBe(6); // read what the first one stored
      expect(runs.count).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await made[0].clear();
      await Promise.all(made.map((cache) => cache.close()));
    }
  });
});

(canStartRedis ? describe : describe.skip)('calls after the first connection attempt', () => {
  it('fail within operationTimeoutMs while Redis is hung or down, not after the connect deadline', async () => {
    const own = await startOwnRedis();
    const cache = new Cache({ store: own.url, keyPrefix: uniquePrefix('first-calls'), operationTimeoutMs: 50 });
    cache.on('error', () => undefined);
    const runs = { count: 0 };
    const calls = [() => cache.set('k', 2), () => cache.get('other'), () => double(cache, runs)(runs.count)];
    try {
      expect(await cache.set('k', 1)).toBe(true);
      own.pause(); // hung: the connection stays open, nothing answers
      for (const call of calls) expect((await timed(call())).ms).toBeLessThan(500);
      await own.stop(); // gone: the connection is lost, and reconnects in the background
      for (const call of calls) expect((await timed(call())).ms).toBeLessThan(500);
      expect(await cache.set('k', 3)).toBe(false);
    } finally {
      await cache.close();
      await own.stop();
    }
  });

  it('of a cache whose server accepts connections and never answers: the first waits out the connect deadline, the next fail at once', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const cache = new Cache({ store: `redis://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, operationTimeoutMs: 50 });
    cache.on('error', () => undefined);
    try {
      const first = await timed(cache.set('k', 1));
      expect(first.value).toBe(false);
      expect(first.ms).toBeGreaterThan(500); // waited for the connection, not 50 ms
      expect(first.ms).toBeLessThan(3000); // …within the store's bound (1 s per connection)
      expect((await timed(cache.set('k', 1))).ms).toBeLessThan(500);
      expect((await timed(cache.get('k'))).ms).toBeLessThan(500);
    } finally {
      await cache.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
