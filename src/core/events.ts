import type { EventEmitter } from 'node:events';
import type { Clock } from './clock';
import type { CacheKind, Outcome, OutcomeEvent } from './outcomes';
import { Stats, type CacheStats } from './stats';

/** One call to a shared store (Redis): for latency metrics. */
export interface StoreCallEvent {
  operation: string;
  seconds: number;
  ok: boolean;
}

/** Every event a `Cache` emits, with its argument: `cache.on('hit', (e) => …)` knows `e`. */
export interface CacheEvents {
  hit: [OutcomeEvent];
  miss: [OutcomeEvent];
  stale: [OutcomeEvent];
  /** A computation outlasted its soft timeout: the caller got the stale copy, the computation goes on. */
  softTimeout: [OutcomeEvent];
  /** A caller stopped waiting for a computation (its hard timeout). */
  hardTimeout: [OutcomeEvent];
  set: [OutcomeEvent];
  refresh: [OutcomeEvent];
  hole: [OutcomeEvent];
  /** Computed without the cache: what it read could not be keyed safely (`reason` names the path). */
  bypass: [OutcomeEvent & { reason: string }];
  delete: [{ key: string }];
  invalidate: [{ tags: readonly string[] }];
  /** This process waits for another computing `key` (the cross-process lock). */
  lockWait: [{ key: string }];
  storeCall: [StoreCallEvent];
  error: [CacheStoreError];
}

/** Why a store call did not give an answer: the cache reports these through its `'error'` event. */
export class CacheStoreError extends Error {
  constructor(
    readonly operation: string,
    readonly key: string | undefined,
    override readonly cause: unknown,
  ) {
    super(`cache ${operation}${key === undefined ? '' : ` of ${JSON.stringify(key)}`} failed: ${errorMessage(cause)}`);
    this.name = 'CacheStoreError';
  }
}

/** Identical error reports within this window are counted, not repeated. */
const ERROR_REPORT_INTERVAL_MS = 1000;
/** Distinct messages remembered for that; past it the memory starts over. */
const MAX_REMEMBERED_ERRORS = 100;
/** Bypass warnings given once each (per name and reason); past this many, no more are given. */
const MAX_BYPASS_WARNINGS = 1000;

/**
 * How the parts of the cache tell what happened: counted outcomes (`stats()`), events for whoever
 * listens (nothing is built when nobody does), and failures, rate-limited.
 */
export class Instrumentation {
  readonly #emitter: EventEmitter<CacheEvents>;
  readonly #clock: Clock;
  readonly #stats: Stats;
  readonly #lastReport = new Map<string, { at: number; suppressed: number }>();
  readonly #warned = new Set<string>();

  constructor(emitter: EventEmitter<CacheEvents>, clock: Clock) {
    this.#emitter = emitter;
    this.#clock = clock;
    this.#stats = new Stats(clock);
  }

  /** Counts an outcome for `stats()` and emits it when anyone listens. */
  record(outcome: Outcome, kind: CacheKind, key: string, name?: string): void {
    this.#stats.count(outcome, kind, name);
    if (this.#emitter.listenerCount(outcome) > 0) this.#emitter.emit(outcome, { key, kind, name });
  }

  /**
   * Counts a bypass (in `stats()`, with its reason), emits `'bypass'`, and warns once per name and
   * reason on stderr, so that a page kept out of the cache by a value nobody meant to key is seen.
   */
  bypass(kind: CacheKind, key: string, name: string, reason: string): void {
    this.#stats.bypassed(kind, name, reason);
    if (this.#emitter.listenerCount('bypass') > 0) this.#emitter.emit('bypass', { key, kind, name, reason });
    const warning = `${kind} ${name}: ${reason}`;
    if (this.#warned.has(warning) || this.#warned.size >= MAX_BYPASS_WARNINGS) return;
    this.#warned.add(warning);
    console.warn(
      `[koa-fragment-cache] ${kind} ${JSON.stringify(name)} is not cached while ${reason}: each such request is computed without the cache ` +
        '(counted in stats(); warned once). A value that is the same for every visitor can be declared with sharedState.',
    );
  }

  /** `name` learned to vary by these paths of request state (shown in `stats()`). */
  learned(kind: CacheKind, name: string, paths: readonly string[]): void {
    this.#stats.learned(kind, name, paths);
  }

  /** Emits an event only when someone listens, building its argument only then. */
  emit<K extends Exclude<keyof CacheEvents, 'error'>>(event: K, argument: () => CacheEvents[K][0]): void {
    if (this.#emitter.listenerCount(event) > 0) (this.#emitter.emit as (e: K, a: unknown) => void)(event, argument());
  }

  /**
   * Reports a failure as an `'error'` event (or on stderr when nobody listens), at most once a
   * second for the same message; the next report says how many were suppressed meanwhile.
   */
  report(operation: string, key: string | undefined, cause: unknown): void {
    const err = cause instanceof CacheStoreError ? cause : new CacheStoreError(operation, key, cause);
    const now = this.#clock.now();
    const message = errorMessage(cause);
    const last = this.#lastReport.get(message);
    if (last && now - last.at < ERROR_REPORT_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    if (last && last.suppressed > 0) err.message += ` (${last.suppressed} similar errors suppressed)`;
    if (this.#lastReport.size >= MAX_REMEMBERED_ERRORS) this.#lastReport.clear();
    this.#lastReport.set(message, { at: now, suppressed: 0 });
    if (this.#emitter.listenerCount('error') > 0) this.#emitter.emit('error', err);
    else console.error(`[koa-fragment-cache] ${err.message}`);
  }

  stats(): CacheStats {
    return this.#stats.snapshot();
  }

  resetStats(): void {
    this.#stats.reset();
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
