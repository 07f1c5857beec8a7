import type { Entry, TagVersions } from './codec';
import { collectDependencies, mergeTags, newDependencies } from './dependencies';
import type { Engine } from './engine';
import type { CacheKind } from './outcomes';
import { timeoutToMs, type Timeout } from './timeout';

/** The options `getOrSet` and `memoize` share for a slow or failing origin (FusionCache's, BentoCache's). */
export interface StaleOptions {
  /**
   * Seconds (or a duration string) a result is kept past its timeout as a stale copy: answered when
   * computing it again fails, or takes longer than `softTimeoutMs`. Default 0: none kept.
   */
  grace?: Timeout;
  /** With a stale copy at hand, how long a computation may take before the stale copy is answered (it goes on and stores). */
  softTimeoutMs?: number;
  /** How long a caller waits at most: then the stale copy, or else a `CacheWaitTimeout`-like error naming the value. */
  hardTimeoutMs?: number;
}

/** A stored value of `getOrSet` or `memoize` and what it depended on. */
export interface Computed<V> {
  value: V;
  tags?: TagVersions;
  /** Answered from a stale copy (see `StaleOptions`, and `invalidateTags(tags, { stale: true })`). */
  stale?: true;
}

export interface ValueComputation<V> {
  kind: CacheKind;
  name: string;
  /** Where the value is stored. */
  key: string;
  /** What concurrent computations share (a forced update does not join a read). */
  computeKey: string;
  ttlMs: number;
  graceMs: number;
  softTimeoutMs?: number;
  hardTimeoutMs?: number;
  timeoutError: (waitedMs: number) => Error;
  unstorable?: string;
  /** Recompute without reading (a forced update). */
  forced?: boolean;
  /** The value an entry holds, undefined when it holds none (not one of ours). */
  unbox: (stored: unknown) => { value: V } | undefined;
  compute: () => Promise<Computed<V>>;
  /** The entry storing a computed value; undefined stores nothing. */
  box: (computed: Computed<V>) => Entry | undefined;
  stored?: () => unknown;
}

/**
 * Computes a value under the versions of its `declared` tags (taken before computing, so that an
 * invalidation landing meanwhile wins) and of every tagged value it read (a memoized function
 * calling a tagged one): invalidating those makes it a miss too. `tags` is undefined when the
 * declared ones could not be versioned: the value is then not stored.
 */
export async function computeTagged<V>(engine: Engine, declared: readonly string[] | undefined, ttlMs: number, compute: () => V | Promise<V>): Promise<Computed<V>> {
  const own = declared && (await engine.tagVersions(declared, ttlMs));
  const read = newDependencies();
  const value = await collectDependencies(read, async () => compute());
  if (declared && !own) return { value };
  const tags = { ...own };
  mergeTags(tags, read.tags);
  return { value, tags: Object.keys(tags).length > 0 ? tags : undefined };
}

/** Checks the stale options once, naming the call at fault; resolves them to milliseconds. */
export function staleTerms(options: StaleOptions, what: string): { graceMs: number; softTimeoutMs?: number; hardTimeoutMs?: number } {
  for (const option of ['softTimeoutMs', 'hardTimeoutMs'] as const) {
    const ms = options[option];
    if (ms !== undefined && !(typeof ms === 'number' && ms > 0 && ms < 2 ** 31)) {
      throw new RangeError(`${option} of ${what} must be a number of milliseconds > 0, got ${String(ms)}`);
    }
  }
  return { graceMs: timeoutToMs(options.grace, 0, `grace of ${what}`), softTimeoutMs: options.softTimeoutMs, hardTimeoutMs: options.hardTimeoutMs };
}

/**
 * The value under `c.key`, fresh from process memory or the store, or else computed through
 * `engine.getOrCompute`; a stale copy (kept for `graceMs`, or its tags invalidated in stale mode)
 * is answered while another caller computes, past the soft or hard timeout, and on failure.
 * Counts hits, misses and stale answers.
 */
export async function valueOrCompute<V>(engine: Engine, c: ValueComputation<V>): Promise<Computed<V>> {
  const { kind, name, key } = c;
  let stale: Computed<V> | undefined;
  // A fresh value, or undefined after keeping a stale one aside.
  const take = (entry: Entry | undefined): Computed<V> | undefined => {
    const found = entry && c.unbox(entry.value);
    if (!found) return undefined;
    const expired = c.graceMs > 0 && entry.storedAt !== undefined && c.ttlMs > 0 && engine.clock.now() >= entry.storedAt + c.ttlMs;
    if (!entry.stale && !expired) {
      engine.events.record('hit', kind, key, name);
      return { value: found.value, tags: entry.tags };
    }
    stale = { value: found.value, tags: entry.tags, stale: true };
    return undefined;
  };
  if (!c.forced) {
    const hit = take(engine.peek(key, true)) ?? (engine.local || stale ? undefined : take(await engine.get(key, true)));
    if (hit) return hit;
  }
  const result = await engine.getOrCompute<Computed<V>>({
    kind,
    name,
    key: c.computeKey,
    ttlMs: c.ttlMs === 0 ? 0 : c.ttlMs + c.graceMs,
    looked: true,
    lookup: c.forced || engine.local ? undefined : async () => take(await engine.get(key, true)),
    stale: () => stale,
    staleIfError: c.graceMs > 0,
    softTimeoutMs: c.softTimeoutMs,
    hardTimeoutMs: c.hardTimeoutMs,
    timeoutError: c.timeoutError,
    unstorable: c.unstorable,
    compute: () => {
      engine.events.record('miss', kind, key, name);
      return c.compute();
    },
    entries: (computed) => {
      const entry = c.box(computed);
      if (!entry) return undefined;
      // With a grace period the entry outlives its freshness: when it was stored tells which it is.
      return [[key, c.graceMs > 0 ? { ...entry, storedAt: engine.clock.now() } : entry]];
    },
    stored: c.stored,
  });
  if (result.stale) engine.events.record('stale', kind, key, name);
  return result;
}
