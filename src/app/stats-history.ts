import type { Cache } from '../index';
import type { CacheKind, CacheStats } from '../index';

/** Reads of one kind, counted since the cache started counting. */
export interface ReadCounts {
  hits: number;
  misses: number;
  stale: number;
}

export interface StatsSample {
  /** When it was taken (ms since the epoch). */
  at: number;
  byKind: Record<CacheKind, ReadCounts>;
  /** `stats().since`: a different value means the counters were reset in between. */
  since: number;
}

export interface StatsHistoryOptions {
  /** Milliseconds between samples. */
  intervalMs: number;
  /** Samples kept; the oldest go first. */
  capacity: number;
}

/**
 * `cache.stats()` sampled on an interval into a bounded buffer, so that the dashboard can show how
 * the hit ratio moved. The timer never keeps the process alive; `stop()` ends it.
 */
export class StatsHistory {
  readonly intervalMs: number;
  private readonly capacity: number;
  private readonly kept: StatsSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly cache: Cache,
    { intervalMs, capacity }: StatsHistoryOptions,
  ) {
    if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
    if (!(Number.isInteger(capacity) && capacity >= 2)) throw new RangeError(`capacity must be an integer >= 2, got ${capacity}`);
    this.intervalMs = intervalMs;
    this.capacity = capacity;
    this.take(); // the baseline the first interval is measured from
    this.timer = setInterval(() => this.take(), intervalMs).unref();
  }

  /** The samples, oldest first. */
  samples(): readonly StatsSample[] {
    return this.kept;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private take(): void {
    this.kept.push(sampleOf(this.cache.stats(), Date.now()));
    // A few hundred samples at most: shifting the array is cheaper than it sounds, and simpler than indexes.
    if (this.kept.length > this.capacity) this.kept.shift();
  }
}

function sampleOf(stats: CacheStats, at: number): StatsSample {
  const byKind = {} as Record<CacheKind, ReadCounts>;
  for (const [kind, { hits, misses, stale }] of Object.entries(stats.byKind)) byKind[kind as CacheKind] = { hits, misses, stale };
  return { at, byKind, since: stats.since };
}
