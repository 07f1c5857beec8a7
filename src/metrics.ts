import type { Middleware } from 'koa';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Cache } from './cache';
import type { CacheEvents } from './core/events';
import { KINDS, OUTCOMES } from './core/outcomes';

export interface CacheMetricsOptions {
  /** Where the metrics are registered. Default: a registry of their own (`metrics.registry`). */
  registry?: Registry;
  /** What every metric name starts with. Default `'kfc_'`. */
  prefix?: string;
}

export interface CacheMetrics {
  readonly registry: Registry;
  /** Stops counting: detaches from the cache and removes these metrics from the registry. */
  stop(): void;
}

/** A healthy store call takes well under a millisecond; past `operationTimeoutMs` (50 ms by default) it failed. */
const STORE_CALL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];


/**
 * Prometheus metrics of `cache`, fed by its events (listeners cost only while attached):
 * `<prefix>cache_events_total{kind,outcome}`, `<prefix>store_call_seconds{operation,ok}` (shared
 * stores only), `<prefix>cache_errors_total{operation}`, and read at scrape time from
 * `cache.stats()` and `cache.memoryUsage()`: `<prefix>cache_hit_ratio{kind}`,
 * `<prefix>memory_entries`, `<prefix>memory_bytes`. Serve them with `metricsMiddleware(registry)`.
 */
export function cacheMetrics(cache: Cache, { registry = new Registry(), prefix = 'kfc_' }: CacheMetricsOptions = {}): CacheMetrics {
  const registers = [registry];
  const events = new Counter({
    name: `${prefix}cache_events_total`,
    help: 'Cache outcomes by kind: hit, miss, stale (served past freshness), set (stored), refresh (recomputed in the background).',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const storeCalls = new Histogram({
    name: `${prefix}store_call_seconds`,
    help: 'Latency of calls to the shared store (Redis), by operation and whether it answered in time.',
    labelNames: ['operation', 'ok'] as const,
    buckets: STORE_CALL_BUCKETS,
    registers,
  });
  const errors = new Counter({
    name: `${prefix}cache_errors_total`,
    help: 'Store failures reported by the cache (identical ones within a second are reported once).',
    labelNames: ['operation'] as const,
    registers,
  });
  new Gauge({
    name: `${prefix}cache_hit_ratio`,
    help: '(hits + stale) / reads by kind since the cache started counting; 0 before any read.',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const { byKind } = cache.stats();
      for (const kind of KINDS) this.set({ kind }, byKind[kind].hitRatio);
    },
  });
  if (cache.memoryUsage()) {
    new Gauge({
      name: `${prefix}memory_entries`,
      help: 'Entries held in process memory (the memory store, or the first tier in front of Redis), of every kind.',
      registers,
      collect() {
        this.set(cache.memoryUsage()?.entries ?? 0);
      },
    });
    new Gauge({
      name: `${prefix}memory_bytes`,
      help: 'Bytes those entries are accounted at (text at 2 bytes a character, plus a per-entry overhead).',
      registers,
      collect() {
        this.set(cache.memoryUsage()?.bytes ?? 0);
      },
    });
  }

  // Every series exists from the start at 0, so that rate() sees the first event of each.
  for (const kind of KINDS) for (const outcome of OUTCOMES) events.inc({ kind, outcome }, 0);
  const stops: (() => void)[] = [];
  const listen = <K extends keyof CacheEvents>(event: K, listener: (...args: CacheEvents[K]) => void) => {
    cache.on(event, listener as never);
    stops.push(() => cache.off(event, listener as never));
  };
  for (const outcome of OUTCOMES) listen(outcome, ({ kind }) => events.inc({ kind, outcome }));
  listen('storeCall', ({ operation, seconds, ok }) => storeCalls.observe({ operation, ok: String(ok) }, seconds));
  listen('error', (err) => {
    errors.inc({ operation: err.operation });
    // A cache with no other 'error' listener logs its errors itself; counting them must not silence that.
    if (cache.listenerCount('error') === 1) console.error(`[koa-fragment-cache] ${err.message}`);
  });

  return {
    registry,
    stop() {
      for (const stop of stops) stop();
      for (const name of ['cache_events_total', 'store_call_seconds', 'cache_errors_total', 'cache_hit_ratio', 'memory_entries', 'memory_bytes']) {
        registry.removeSingleMetric(prefix + name);
      }
    },
  };
}

/** Koa middleware answering with `registry`'s metrics in the Prometheus text format. */
export function metricsMiddleware(registry: Registry): Middleware {
  return async (ctx) => {
    const text = await registry.metrics();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = registry.contentType;
    ctx.body = text;
  };
}
