// Writes confirmed by a replica (src/store/redis/replication.ts): on a primary with a replica, a
// set, delete or increment counts as done only once `WAIT 1` confirmed it, so that a failover
// cannot lose what the cache reported done; on a primary without replicas nothing waits. On a
// primary and a replica of the test's own (two redis-servers, no sentinels).
import { createClient } from '@keyv/redis';
import { Cache } from '../../../src';
import { command } from '../../../scripts/redis-topology';
import { canStartRedis, eventually, sleep, uniquePrefix } from '../../support/stores';
import { startOwnRedis, type OwnRedis } from '../../support/redis-server';

jest.setTimeout(30000);
const describeRedis = canStartRedis ? describe : describe.skip;

const calls = async (port: number, name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(String(await command(port, ['INFO', 'commandstats'])))?.[1] ?? 0);
const waits = (port: number) => calls(port, 'wait');
const online = async (primary: number) => /slave0:.*state=online/.test(String(await command(primary, ['INFO', 'replication'])));

describeRedis('writes confirmed by a replica', () => {
  let primary: OwnRedis;
  let replica: OwnRedis;
  const caches: Cache[] = [];
  const errors: string[] = [];

  /** The replica following the primary, online and caught up (a write of its own confirmed). */
  const attach = async () => {
    await command(replica.port, ['REPLICAOF', '127.0.0.1', primary.port]);
    await eventually(() => online(primary.port), true, 10000);
    const client = createClient({ url: primary.url });
    await client.connect();
    try {
      await eventually(async () => (await client.set('caught-up', '1')) === 'OK' && Number(await client.sendCommand(['WAIT', '1', '1000'])) === 1, true, 10000);
    } finally {
      client.destroy();
    }
  };
  const cacheOn = (port: number, operationTimeoutMs = 200, user = '') => {
    const cache = new Cache({ store: `redis://${user}127.0.0.1:${port}`, keyPrefix: uniquePrefix('replicas'), l1: false, operationTimeoutMs });
    cache.on('error', (err) => errors.push(err.message));
    caches.push(cache);
    return cache;
  };

  beforeAll(async () => {
    [primary, replica] = await Promise.all([startOwnRedis(), startOwnRedis()]);
    await command(primary.port, ['CONFIG', 'SET', 'repl-diskless-sync-delay', '0']);
  });
  beforeEach(async () => {
    errors.length = 0;
    replica.resume();
    await attach();
  });
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(async () => {
    await Promise.all([primary?.stop(), replica?.stop()]);
  });

  test('Redis: WAIT cannot confirm from inside a script or a transaction (so it follows the write on its connection)', async () => {
    await expect(command(primary.port, ['EVAL', "redis.call('SET', 'w', '1') return redis.call('WAIT', 1, 100)", '0'])).rejects.toThrow(/not allowed from script/);
    replica.pause(); // from now on no replica can confirm anything
    const client = createClient({ url: primary.url });
    await client.connect();
    try {
      const started = performance.now();
      const reply = await client.multi().set('inside', '1').addCommand(['WAIT', '1', '500']).exec();
      // Answered at once (Redis 7.0: 0 or 1, for some earlier offset), never after 'inside'
      // reached a replica: no replica has it. Outside, WAIT waits for 'inside', in vain.
      expect(reply[0]).toBe('OK');
      expect([0, 1]).toContain(reply[1]);
      expect(performance.now() - started).toBeLessThan(400);
      expect(await client.sendCommand(['WAIT', '1', '100'])).toBe(0);
    } finally {
      replica.resume();
      client.destroy();
    }
  });

  test('on a primary with a replica, writes are confirmed (the writes of one tick share a WAIT) and reads are not', async () => {
    const cache = cacheOn(primary.port);
    await cache.get('warm-up');
    const before = await waits(primary.port);
    expect([await Promise.all([cache.set('a', 1, 60), cache.set('b', 2, 60), cache.inc('n')]), errors]).toEqual([[true, true, 1], []]);
    expect([await cache.inc('n'), errors]).toEqual([2, []]);
    expect(await cache.delete('a')).toBe(true);
    const afterWrites = await waits(primary.port);
    expect(afterWrites - before).toBeGreaterThanOrEqual(3); // the three writes of the first tick may share one
    expect(afterWrites - before).toBeLessThanOrEqual(5);
    expect(await cache.get('b')).toBe(2);
    expect(await waits(primary.port)).toBe(afterWrites);
    // A miss: lookup, lock, compute, store, unlock. Only the entry waits: a lock lost in a failover costs a second computation.
    expect(await cache.getOrSet('computed', async () => 'value', { timeout: 60 })).toBe('value');
    expect(await waits(primary.port)).toBe(afterWrites + 1);
    expect(await command(replica.port, ['DBSIZE'])).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });

  test('on a primary without replicas, nothing waits', async () => {
    const alone = await startOwnRedis();
    try {
      const cache = cacheOn(alone.port);
      expect(await cache.set('a', 1, 60)).toBe(true);
      expect(await cache.inc('n')).toBe(1);
      expect(await waits(alone.port)).toBe(0);
    } finally {
      await alone.stop();
    }
  });

  test('one WAIT at a time on a connection: while the replica does not answer, a read behind many writes waits for one WAIT at most', async () => {
    const cache = cacheOn(primary.port, 1000);
    expect(await cache.set('k', 1, 60)).toBe(true);
    replica.pause();
    const writes: Promise<boolean>[] = [];
    for (let i = 0; i < 10; i++) {
      writes.push(cache.set(`w${i}`, i, 60)); // each in a tick of its own
      await sleep(10);
    }
    const started = performance.now();
    expect(await cache.get('k')).toBe(1);
    const waited = performance.now() - started;
    expect(await Promise.all(writes)).toEqual(new Array(10).fill(false));
    // One WAIT of 50 ms (Redis ends it up to 100 ms late), not ten in a row behind each other.
    expect(waited).toBeLessThan(300);
  });

  test('a user refused INFO or WAIT (ACL): its writes go on unconfirmed, and that is reported', async () => {
    for (const refused of ['info', 'wait']) {
      const user = `no-${refused}`;
      await command(primary.port, ['ACL', 'SETUSER', user, 'on', '>secret', '~*', '&*', '+@all', `-${refused}`]);
      try {
        const cache = cacheOn(primary.port, 200, `${user}:secret@`);
        await eventually(async () => (await cache.set('k', refused, 60)) === true, true, 5000); // refused WAIT: the first write was not confirmed
        const before = await waits(primary.port);
        expect([await cache.set('k', 2, 60), await cache.inc('n')]).toEqual([true, 1]);
        expect(await waits(primary.port)).toBe(before);
        expect(errors.filter((message) => /are not confirmed by a replica .*NOPERM/.test(message))).toHaveLength(1);
        errors.length = 0;
      } finally {
        await command(primary.port, ['ACL', 'DELUSER', user]);
      }
    }
  });

  test('a replica promoted away from under the primary: writes there fail unsent (a failover would lose them) until it follows the primary again', async () => {
    const cache = cacheOn(primary.port);
    expect([await cache.inc('n'), errors]).toEqual([1, []]);
    expect(await cache.set('k', 'before', 60)).toBe(true);
    await command(replica.port, ['REPLICAOF', 'NO', 'ONE']);
    // The first writes after the promotion wait out WAIT's timeout, until the replicas are read again.
    await eventually(async () => (await cache.set('k', 'during', 60)) === false && errors.some((message) => /a replica of redis .* was promoted/.test(message)));
    expect(await cache.inc('n')).toBeUndefined();
    const [waited, sets] = [await waits(primary.port), await calls(primary.port, 'set')];
    expect(await cache.set('k', 'during', 60)).toBe(false);
    expect([await waits(primary.port), await calls(primary.port, 'set')]).toEqual([waited, sets]); // not sent
    await attach();
    await eventually(async () => (await cache.set('k', 'after', 60)) === true, true, 5000);
    // The increments reported failed were cancelled: counted once each that was reported applied.
    await eventually(async () => (await cache.inc('n')) === 2, true, 5000);
    expect(await cache.get('k')).toBe('after');
  });

  test('a replica that stops answering: writes fail until it is known gone (about a second), then go on unconfirmed, and are confirmed again once it is back', async () => {
    const cache = cacheOn(primary.port);
    expect(await cache.set('k', 1, 60)).toBe(true);
    replica.pause();
    expect(await cache.set('k', 2, 60)).toBe(false); // WAIT timed out: reported failed
    // Meanwhile reads are not held behind WAITs: after a write went unconfirmed, writes fail at
    // once (unsent) until the replicas are read again, at most every 250 ms.
    const reads: number[] = [];
    const until = performance.now() + 1000;
    const writer = async () => {
      while (performance.now() < until) {
        await cache.set('busy', 1, 60);
        await new Promise((resolve) => setImmediate(resolve)); // a failure answered at once must not starve I/O
      }
    };
    const reader = async () => {
      while (performance.now() < until) {
        const started = performance.now();
        await cache.get('k');
        reads.push(performance.now() - started);
      }
    };
    await Promise.all([writer(), writer(), reader(), reader()]);
    expect(reads.filter((ms) => ms >= 40).length).toBeLessThan(reads.length / 4);
    await eventually(async () => (await cache.set('k', 3, 60)) === true, true, 8000); // its lag over 2 s, then 1 s unreachable
    const before = await waits(primary.port);
    expect(await cache.set('k', 4, 60)).toBe(true);
    expect(await waits(primary.port)).toBe(before); // written without waiting
    replica.resume();
    await eventually(() => online(primary.port), true, 10000);
    await eventually(async () => {
      const n = await waits(primary.port);
      return (await cache.set('k', 5, 60)) && (await waits(primary.port)) > n;
    }, true, 5000);
  });
});
