import type { Clock } from './clock';
import { KINDS, type CacheKind, type Outcome } from './outcomes';

export interface Counts {
  hits: number;
  misses: number;
  stale: number;
  sets: number;
  /** Background recomputations (stale-while-revalidate, refreshing values). */
  refreshes: number;
  /** `{% nocache %}` holes rendered. */
  holes: number;
  /** (hits + stale) / (hits + stale + misses); 0 before any read. */
  hitRatio: number;
}

export interface CacheStats {
  /** Counts since the cache was made (or since `resetStats()`). */
  byKind: Record<CacheKind, Counts>;
  /** Counts per fragment name, route, memoized function or value key. */
  byName: Record<string, Counts & { kind: CacheKind }>;
  /** When counting started (ms since the epoch). */
  since: number;
}

/** Names beyond this many are counted under `(other)`, so a route per URL cannot grow it forever. */
const MAX_NAMES = 1000;

type Tally = [hits: number, misses: number, stale: number, sets: number, refreshes: number, holes: number];
const SLOT: Record<Outcome, 0 | 1 | 2 | 3 | 4 | 5> = { hit: 0, miss: 1, stale: 2, set: 3, refresh: 4, hole: 5 };
const zero = (): Tally => [0, 0, 0, 0, 0, 0];

/** Counters behind `cache.stats()`: a few array increments per event. */
export class Stats {
  private byKind = new Map<CacheKind, Tally>();
  private byName = new Map<string, { kind: CacheKind; tally: Tally }>();
  private since: number;

  constructor(private readonly clock: Clock) {
    this.since = clock.now();
  }

  count(outcome: Outcome, kind: CacheKind, name: string | undefined): void {
    let kindTally = this.byKind.get(kind);
    if (!kindTally) this.byKind.set(kind, (kindTally = zero()));
    kindTally[SLOT[outcome]]++;
    if (name === undefined) return;
    let named = this.byName.get(name);
    if (!named) {
      if (this.byName.size >= MAX_NAMES) name = '(other)';
      named = this.byName.get(name) ?? { kind, tally: zero() };
      this.byName.set(name, named);
    }
    named.tally[SLOT[outcome]]++;
  }

  snapshot(): CacheStats {
    return {
      byKind: Object.fromEntries(KINDS.map((kind) => [kind, counts(this.byKind.get(kind) ?? zero())])) as Record<CacheKind, Counts>,
      byName: Object.fromEntries([...this.byName].map(([name, { kind, tally }]) => [name, { kind, ...counts(tally) }])),
      since: this.since,
    };
  }

  reset(): void {
    this.byKind = new Map();
    this.byName = new Map();
    this.since = this.clock.now();
  }
}

function counts([hits, misses, stale, sets, refreshes, holes]: Tally): Counts {
  const reads = hits + misses + stale;
  return { hits, misses, stale, sets, refreshes, holes, hitRatio: reads === 0 ? 0 : (hits + stale) / reads };
}
