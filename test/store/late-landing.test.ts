/**
 * A write the cache reported failed never shows up afterwards, even when it reaches Redis late (it
 * timed out on its way to a hung server): failed sets are deleted until a delete lands, failed
 * increments are cancelled (undone if they landed) before the key is incremented again.
 */
import { Cache } from '../../src';
import { canStartRedis, eventually, uniquePrefix } from '../support/stores';
import { startOwnRedis, type OwnRedis } from '../support/redis-server';

(canStartRedis ? describe : describe.skip)('writes reported failed on a hung Redis', () => {
  let redis: OwnRedis;
  let cache: Cache;
  let reader: Cache;
  beforeEach(async () => {
    redis = await startOwnRedis();
    const keyPrefix = uniquePrefix('late');
    cache = new Cache({ store: redis.url, keyPrefix, operationTimeoutMs: 50 });
    reader = new Cache({ store: redis.url, keyPrefix, operationTimeoutMs: 1000 });
    for (const c of [cache, reader]) c.on('error', () => undefined);
    expect(await cache.set('k', 'before', 60)).toBe(true);
    expect(await cache.inc('n')).toBe(1);
  });
  afterEach(async () => {
    redis.resume();
    await Promise.all([cache.close(), reader.close()]);
    await redis.stop();
  });

  it('a set that timed out, applied when the server resumes, is deleted', async () => {
    redis.pause();
    expect(await cache.set('k', 'late', 60)).toBe(false);
    expect(await cache.get('k')).toBeUndefined(); // this process never serves what it may have lost
    redis.resume();
    expect(await eventually(() => reader.get('k'), undefined, 5000)).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 'after', 60)).toBe(true);
    expect(await reader.get('k')).toBe('after');
  });

  it('an increment that timed out, applied when the server resumes, is undone before the next', async () => {
    redis.pause();
    expect(await cache.inc('n')).toBeUndefined();
    expect(await cache.inc('n')).toBeUndefined(); // not sent: the first is not settled yet
    redis.resume();
    expect(await eventually(() => cache.inc('n'), 2, 5000)).toBe(2);
    expect(await reader.get('n')).toBe(2);
    expect(await cache.inc('n', 10)).toBe(12);
  });
});
