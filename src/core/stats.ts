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
  /** Requests or renders computed without the cache: what they read could not be keyed safely. */
  bypasses: number;
  /** Computations slower than their soft timeout, answered with a stale copy while they went on. */
  softTimeouts: number;
  /** Computations their callers stopped waiting for (the hard timeout). */
  hardTimeouts: number;
  /** (hits + stale) / (hits + stale + misses); 0 before any read. */
  hitRatio: number;
}

export interface CacheStats {
  /** Counts since the cache was made (or since `resetStats()`). */
  byKind: Record<CacheKind, Counts>;
  /** Counts per fragment name, route, memoized function or value key. */
  byName: Record<string, NamedCounts>;
  /** When counting started (ms since the epoch). */
  since: number;
}

export interface NamedCounts extends Counts {
  kind: CacheKind;
  /** Why it was bypassed, with how often (see `Counts.bypasses`). */
  bypassReasons?: Record<string, number>;
  /** The paths of request state (`ctx.state`) it learned to vary by: why it is kept per visitor. */
  varies?: string[];
}

/** Names beyond this many are counted under `(other)`, so a route per URL cannot grow it forever. */
const MAX_NAMES = 1000;
/** Bypass reasons and learned paths kept per name. */
const MAX_DETAILS = 32;

type Tally = [hits: number, misses: number, stale: number, sets: number, refreshes: number, holes: number, bypasses: number, softTimeouts: number, hardTimeouts: number];
type Slot = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
const SLOT: Record<Outcome | 'bypass', Slot> = { hit: 0, miss: 1, stale: 2, set: 3, refresh: 4, hole: 5, bypass: 6, softTimeout: 7, hardTimeout: 8 };
const zero = (): Tally => [0, 0, 0, 0, 0, 0, 0, 0, 0];

interface Named {
  kind: CacheKind;
  tally: Tally;
  reasons?: Map<string, number>;
  varies?: Set<string>;
}

/** Counters behind `cache.stats()`: a few array increments per event. */
export class Stats {
  private byKind = new Map<CacheKind, Tally>();
  private byName = new Map<string, Named>();
  private since: number;

  constructor(private readonly clock: Clock) {
    this.since = clock.now();
  }

  count(outcome: Outcome | 'bypass', kind: CacheKind, name: string | undefined): void {
    let kindTally = this.byKind.get(kind);
    if (!kindTally) this.byKind.set(kind, (kindTally = zero()));
    kindTally[SLOT[outcome]]++;
    if (name !== undefined) this.named(kind, name).tally[SLOT[outcome]]++;
  }

  /** A bypass of `name`, and why. */
  bypassed(kind: CacheKind, name: string, reason: string): void {
    this.count('bypass', kind, name);
    const named = this.named(kind, name);
    named.reasons ??= new Map();
    if (named.reasons.has(reason) || named.reasons.size < MAX_DETAILS) named.reasons.set(reason, (named.reasons.get(reason) ?? 0) + 1);
  }

  /** `name` is stored per value of these paths of request state. */
  learned(kind: CacheKind, name: string, paths: readonly string[]): void {
    const named = this.named(kind, name);
    named.varies ??= new Set();
    for (const path of paths) if (named.varies.size < MAX_DETAILS) named.varies.add(path);
  }

  private named(kind: CacheKind, name: string): Named {
    let named = this.byName.get(name);
    if (!named) {
      if (this.byName.size >= MAX_NAMES) name = '(other)';
      named = this.byName.get(name) ?? { kind, tally: zero() };
      this.byName.set(name, named);
    }
    return named;
  }

  snapshot(): CacheStats {
    return {
      byKind: Object.fromEntries(KINDS.map((kind) => [kind, counts(this.byKind.get(kind) ?? zero())])) as Record<CacheKind, Counts>,
      byName: Object.fromEntries([...this.byName].map(([name, named]) => [name, namedCounts(named)])),
      since: this.since,
    };
  }

  reset(): void {
    this.byKind = new Map();
    this.byName = new Map();
    this.since = this.clock.now();
  }
}

function counts([hits, misses, stale, sets, refreshes, holes, bypasses, softTimeouts, hardTimeouts]: Tally): Counts {
  const reads = hits + misses + stale;
  return { hits, misses, stale, sets, refreshes, holes, bypasses, softTimeouts, hardTimeouts, hitRatio: reads === 0 ? 0 : (hits + stale) / reads };
}

function namedCounts({ kind, tally, reasons, varies }: Named): NamedCounts {
  const named: NamedCounts = { kind, ...counts(tally) };
  if (reasons) named.bypassReasons = Object.fromEntries(reasons);
  if (varies) named.varies = [...varies];
  return named;
}
