import Koa from 'koa';
import { Keyv } from 'keyv';
import { Registry } from 'prom-client';
import request from 'supertest';
import { Cache, createEnvironment, type Store } from '../src';
import { cacheMetrics, metricsMiddleware } from '../src/metrics';
import { renderString } from './support/templates';

/** The value of one series in Prometheus text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('cacheMetrics', () => {
  const stops: (() => void)[] = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
    jest.restoreAllMocks();
  });

  function metricsOf(cache: Cache, options?: Parameters<typeof cacheMetrics>[1]) {
    const metrics = cacheMetrics(cache, options);
    stops.push(() => metrics.stop());
    return metrics;
  }

  it('counts every outcome by kind, from the cache events, in step with stats()', async () => {
    const cache = new Cache();
    const { registry } = metricsOf(cache);
    const env = createEnvironment({ cache, views: __dirname });
    const page = '{% for i in [1, 2] %}{% cache 60, "card", i %}{{ i }}{% endcache %}{% endfor %}';
    for (let i = 0; i < 3; i++) await renderString(env, page);
    await cache.getOrSet('config', () => 'x');

    const text = await registry.metrics();
    const { fragment, value } = cache.stats().byKind;
    expect(fragment).toMatchObject({ hits: 4, misses: 2, sets: 2 });
    expect(sample(text, 'kfc_cache_events_total{kind="fragment",outcome="hit"}')).toBe(fragment.hits);
    expect(sample(text, 'kfc_cache_events_total{kind="fragment",outcome="miss"}')).toBe(fragment.misses);
    expect(sample(text, 'kfc_cache_events_total{kind="fragment",outcome="set"}')).toBe(fragment.sets);
    expect(sample(text, 'kfc_cache_events_total{kind="value",outcome="miss"}')).toBe(value.misses);
    expect(sample(text, 'kfc_cache_events_total{kind="response",outcome="stale"}')).toBe(0); // present before the first one
    expect(sample(text, 'kfc_cache_hit_ratio{kind="fragment"}')).toBeCloseTo(4 / 6);
    expect(text).toContain('# TYPE kfc_cache_events_total counter');
    expect(text).toContain('# TYPE kfc_cache_hit_ratio gauge');
  });

  it('reads the hit ratio and the memory in use when scraped, not when counted', async () => {
    const cache = new Cache();
    const { registry } = metricsOf(cache);
    expect(sample(await registry.metrics(), 'kfc_memory_entries')).toBe(0);

    await cache.set('a', 'x'.repeat(1000));
    await cache.getOrSet('b', () => 1);
    await cache.getOrSet('b', () => 1);
    const text = await registry.metrics();
    expect(sample(text, 'kfc_cache_hit_ratio{kind="value"}')).toBe(0.5);
    expect(sample(text, 'kfc_memory_entries')).toBe(2);
    expect(sample(text, 'kfc_memory_bytes')).toBe(cache.memoryUsage()!.bytes);
    expect(cache.memoryUsage()!.bytes).toBeGreaterThan(2000);
  });

  it('times every call to a shared store, by operation and whether it answered', async () => {
    const cache = new Cache({ store: new Keyv() });
    const { registry } = metricsOf(cache);
    await cache.set('a', 1);
    await cache.get('a');
    await cache.get('b');

    const text = await registry.metrics();
    expect(sample(text, 'kfc_store_call_seconds_count{operation="set",ok="true"}')).toBe(1);
    expect(sample(text, 'kfc_store_call_seconds_count{operation="get",ok="true"}')).toBe(2);
    expect(sample(text, 'kfc_store_call_seconds_bucket{le="+Inf",operation="get",ok="true"}')).toBe(2);
    expect(sample(text, 'kfc_store_call_seconds_sum{operation="get",ok="true"}')).toBeGreaterThan(0);
    expect(text).not.toContain('kfc_memory_entries'); // nothing of this cache lives in process memory
  });

  it('times out slow store calls as ok="false" and counts the errors they report', async () => {
    const slow = new Keyv({ store: new Map() });
    jest.spyOn(slow, 'get').mockImplementation(() => new Promise(() => {}));
    jest.spyOn(slow, 'getMany').mockImplementation(() => new Promise(() => {}));
    const cache = new Cache({ store: slow, operationTimeoutMs: 5 });
    const { registry } = metricsOf(cache);
    cache.on('error', () => {}); // the application's own listener

    expect(await cache.get('a')).toBeUndefined();
    const text = await registry.metrics();
    expect(sample(text, 'kfc_store_call_seconds_count{operation="get",ok="false"}')).toBe(1);
    expect(sample(text, 'kfc_cache_errors_total{operation="get"}')).toBe(1);
  });

  it('keeps the cache logging errors itself when counting them is its only error listener', async () => {
    const down = (message: string) => () => Promise.reject(new Error(message));
    const failing: Store = {
      local: false, get: down('store down'), getMany: down('store down'), set: down('store still down'), add: down('store still down'),
      delete: down('x'), has: down('x'), increment: down('x'), clear: down('x'), close: async () => undefined,
    };
    const cache = new Cache({ store: failing });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => {});
    const { registry } = metricsOf(cache);
    await cache.get('k');
    expect(logged).toHaveBeenCalledWith('[koa-fragment-cache] cache get of "k" failed: store down');

    cache.on('error', () => {}); // once the application listens, it decides what to log
    await cache.set('k', 'v');
    expect(logged).toHaveBeenCalledTimes(1);
    expect(sample(await registry.metrics(), 'kfc_cache_errors_total{operation="set"}')).toBe(1);
  });

  it('registers in a given registry under a given prefix, and stop() takes everything back', async () => {
    const cache = new Cache();
    const registry = new Registry();
    const metrics = metricsOf(cache, { registry, prefix: 'shop_' });
    expect(metrics.registry).toBe(registry);
    await cache.getOrSet('k', () => 1);
    expect(sample(await registry.metrics(), 'shop_cache_events_total{kind="value",outcome="miss"}')).toBe(1);
    expect(cache.listenerCount('miss')).toBe(1);

    metrics.stop();
    expect(await registry.metrics()).not.toContain('shop_');
    for (const event of ['hit', 'miss', 'stale', 'set', 'refresh', 'storeCall', 'error']) expect(cache.listenerCount(event)).toBe(0);
    metricsOf(cache, { registry, prefix: 'shop_' }); // the names are free again
  });
});

describe('metricsMiddleware', () => {
  it('answers with the registry in the Prometheus text format, never cached', async () => {
    const cache = new Cache();
    const metrics = cacheMetrics(cache);
    await cache.getOrSet('k', () => 1);
    const app = new Koa().use(metricsMiddleware(metrics.registry));

    const res = await request(app.callback()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(sample(res.text, 'kfc_cache_events_total{kind="value",outcome="miss"}')).toBe(1);
    metrics.stop();
  });
});
