/** What a cached thing is: the counters and events of `Cache` are kept per kind. */
export const KINDS = Object.freeze(['fragment', 'response', 'memoized', 'value'] as const);
export type CacheKind = (typeof KINDS)[number];

/**
 * The outcomes that are counted, each also an event: `hole` is a `{% nocache %}` hole rendered
 * into HTML served from the cache (or rendered in place); `softTimeout`, a computation that took
 * longer than its soft timeout while a stale copy was at hand (served instead); `hardTimeout`, one
 * its caller stopped waiting for.
 */
export const OUTCOMES = Object.freeze(['hit', 'miss', 'stale', 'set', 'refresh', 'hole', 'softTimeout', 'hardTimeout'] as const);
export type Outcome = (typeof OUTCOMES)[number];

/** An outcome: which entry, of what kind, under which name (fragment name, route, function). */
export interface OutcomeEvent {
  key: string;
  kind: CacheKind;
  name?: string;
}
