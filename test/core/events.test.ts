import { Cache, createEnvironment } from '../../src';
import { cacheFactory, redisUrl, storeKinds, uniquePrefix } from '../support/stores';
import { renderString } from '../support/templates';

describe.each(storeKinds)('events and stats on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'events');
  afterAll(() => caches.closeAll());

  it('counts fragment hits and misses per fragment name, and emits them with key, kind and name', async () => {
    const cache = caches.make();
    const events: unknown[] = [];
    for (const outcome of ['hit', 'miss', 'set'] as const) cache.on(outcome, (detail) => events.push({ outcome, ...detail }));
    const env = createEnvironment({ cache, views: __dirname });
    const page = '{% for i in [1, 2] %}{% cache 60, "card", i %}{{ i }}{% endcache %}{% endfor %}{% cache 60 %}anon{% endcache %}';
    await renderString(env, page);
    await renderString(env, page);
    await renderString(env, page);
    const stats = cache.stats();
    expect(stats.byKind.fragment).toMatchObject({ hits: 6, misses: 3, sets: 3, stale: 0 });
    expect(stats.byKind.fragment.hitRatio).toBeCloseTo(6 / 9);
    expect(stats.byName.card).toEqual({ kind: 'fragment', hits: 4, misses: 2, stale: 0, sets: 2, refreshes: 0, holes: 0, bypasses: 0, softTimeouts: 0, hardTimeouts: 0, hitRatio: 4 / 6 });
    expect(stats.byName['(string):1']).toMatchObject({ kind: 'fragment', hits: 2, misses: 1 });
    expect(events).toContainEqual({ outcome: 'miss', key: expect.stringMatching(/^fragment:/), kind: 'fragment', name: 'card' });
    expect(events.filter((e) => (e as { outcome: string }).outcome === 'hit')).toHaveLength(6);
  });

  it('counts getOrSet values and memoized calls under their own kinds', async () => {
    const cache = caches.make();
    await cache.getOrSet('config', () => 'x');
    await cache.getOrSet('config', () => 'x');
    const double = cache.memoize(async function double(n: number) {
      return n * 2;
    });
    await double(1);
    await double(1);
    await double(2);
    const stats = cache.stats();
    expect(stats.byKind.value).toMatchObject({ hits: 1, misses: 1, sets: 1 });
    expect(stats.byName.config).toMatchObject({ kind: 'value', hits: 1, misses: 1 });
    expect(stats.byKind.memoized).toMatchObject({ hits: 1, misses: 2, sets: 2 });
    expect(stats.byKind.response).toMatchObject({ hits: 0, misses: 0, hitRatio: 0 });
    cache.resetStats();
    expect(cache.stats().byKind.value.misses).toBe(0);
  });

  it('emits delete and invalidate', async () => {
    const cache = caches.make();
    const seen: unknown[] = [];
    cache.on('delete', (detail) => seen.push(['delete', detail]));
    cache.on('invalidate', (detail) => seen.push(['invalidate', detail]));
    await cache.delete('k');
    await cache.invalidateTags(['product:1']);
    expect(seen).toEqual([
      ['delete', { key: 'k' }],
      ['invalidate', { tags: ['product:1'] }],
    ]);
  });
});

describe('stats by name', () => {
  it('are bounded: names past the first thousand are counted as (other)', async () => {
    const cache = new Cache();
    for (let i = 0; i < 1005; i++) await cache.getOrSet(`/item/${i}`, () => i);
    const { byName } = cache.stats();
    expect(Object.keys(byName)).toHaveLength(1001);
    expect(byName['(other)'].misses).toBe(5);
  });
});

(redisUrl ? describe : describe.skip)('lockWait', () => {
  it('is emitted when another process holds the key being computed', async () => {
    const cache = new Cache({ store: redisUrl, keyPrefix: uniquePrefix('lockwait'), operationTimeoutMs: 2000, lock: { timeout: 0.2, waitMs: 1000 } });
    const waits: unknown[] = [];
    cache.on('lockWait', (detail) => waits.push(detail));
    await cache.add('lock:busy', Date.now() + 200, 0.2); // another process's lock, as it writes it
    await cache.getOrSet('busy', () => 'v');
    expect(waits).toEqual([{ key: 'busy' }]);
    await cache.clear();
    await cache.close();
  });
});

describe('debug logging (DEBUG=koa-fragment-cache:*)', () => {
  it('logs one line per decision with keys and names, never the cached content', async () => {
    const createDebug = (await import('debug')).default;
    const lines: string[] = [];
    const originalLog = createDebug.log;
    createDebug.enable('koa-fragment-cache:*');
    createDebug.log = (...args: unknown[]) => void lines.push(args.join(' '));
    try {
      const cache = new Cache();
      const env = createEnvironment({ cache, views: __dirname });
      const page = '{% cache 60, "card", 7 %}top-secret-content{% endcache %}';
      await renderString(env, page);
      await renderString(env, page);
      await cache.invalidateTags(['product:7']);
    } finally {
      createDebug.disable();
      createDebug.log = originalLog;
    }
    const decisions = lines.map((line) => line.replace(/^.*koa-fragment-cache:/, '').replace(/\s+\+\d+m?s$/, ''));
    expect(decisions).toEqual([
      expect.stringMatching(/^fragment miss card fragment:4:card\/1:7/),
      expect.stringMatching(/^fragment set card fragment:4:card\/1:7/),
      expect.stringMatching(/^fragment hit card fragment:4:card\/1:7/),
      expect.stringMatching(/^store invalidate tags product:7/),
    ]);
    expect(lines.join('\n')).not.toContain('top-secret-content');
  });
});
