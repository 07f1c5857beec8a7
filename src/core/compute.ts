import { UnstorableValueError, type Entry, type TagVersions } from './codec';
import type { Instrumentation } from './events';
import type { WaitOptions } from './lock';
import type { CacheKind } from './outcomes';
import { traceComputation, tracing } from './tracing';

/**
 * What storing a result writes, in order: whoever finds a later entry finds the ones before it;
 * each for the computation's `ttlMs`, or its own (a lifetime only known once computed).
 */
export type Writes = readonly (readonly [key: string, entry: Entry, ttlMs?: number])[];

/**
 * One computation of a cached thing (a fragment, a response, a memoized call, a `getOrSet` value),
 * as `Engine.getOrCompute` and `Engine.computeNow` run it.
 */
export interface Computation<R> {
  readonly kind: CacheKind;
  readonly name?: string;
  /** What concurrent computations share, and what the cross-process lock holds. */
  readonly key: string;
  readonly ttlMs: number;
  /**
   * Tags known before computing: their versions are taken first, so that an invalidation landing
   * while it computes makes the result a miss. When the store cannot give them, nothing is stored.
   */
  readonly tags?: readonly string[];
  /** A stored result on a shared store, read again after another process's lock; undefined: a miss. */
  readonly lookup?: () => Promise<R | undefined>;
  readonly compute: (versions: TagVersions | undefined) => R | Promise<R>;
  /** The entries that store `result`; undefined stores nothing (it cannot be keyed, its tags are unknown…). */
  readonly entries: (result: R, versions: TagVersions | undefined) => Writes | undefined | Promise<Writes | undefined>;
  /** The caller read the store just before: the lookup runs only after waiting for another process's lock. */
  readonly looked?: boolean;
  /**
   * A stale result at hand (kept past its freshness, or its tags invalidated with `stale`): answered
   * at once instead of waiting for another computation of the key (here or behind another process's
   * lock), past `softTimeoutMs`, past `hardTimeoutMs`, and when computing fails if `staleIfError`.
   */
  readonly stale?: () => R | undefined;
  readonly staleIfError?: boolean;
  /** With a stale result at hand, how long a computation may take before the stale one is answered. */
  readonly softTimeoutMs?: number;
  /** How long the caller waits at most: then the stale result, or else the error `timeoutError` makes. */
  readonly hardTimeoutMs?: number;
  readonly timeoutError?: (waitedMs: number) => Error;
  /** The start of the TypeError thrown when the result cannot be encoded, naming the caller's function. */
  readonly unstorable?: string;
  /** Runs once every entry is stored. */
  readonly stored?: (result: R) => unknown;
}

const EXPIRED = Symbol('expired');

/** The parts of the engine a computation uses (the engine implements it). */
export interface ComputeEngine {
  readonly local: boolean;
  readonly events: Instrumentation;
  coalesce<T>(key: string, compute: () => Promise<T>, lookup?: () => Promise<T | undefined>, then?: WaitOptions<T>): Promise<T>;
  report(operation: string, key: string | undefined, cause: unknown): void;
  tagVersions(tags: readonly string[], entryTtlMs: number): Promise<TagVersions | undefined>;
  tagVersionsNow(tags: readonly string[], entryTtlMs: number): TagVersions | undefined;
  write(key: string, entry: Entry, ttlMs: number): Promise<boolean>;
  writeNow(key: string, entry: Entry, ttlMs: number): boolean;
}

/**
 * Read, coalesce with the lock, compute under tag versions, write, count: the one path every
 * cached thing is computed and stored by. No other code writes a computed entry.
 */
export class Computations {
  readonly #engine: ComputeEngine;

  constructor(engine: ComputeEngine) {
    this.#engine = engine;
  }

  /** The stored result (`lookup`) or else a computed one, once for all concurrent callers (see `Engine.coalesce`). */
  getOrCompute<R>(c: Computation<R>): Promise<R> {
    if (tracing(c)) return traceComputation(c, (traced) => this.getOrCompute(traced)); // koa-fragment-cache:compute
    const work = this.#engine.coalesce(c.key, () => this.#computeAndStore(c), c.lookup, c);
    if (c.stale === undefined && c.hardTimeoutMs === undefined) return work;
    return this.#withinTimeouts(c, c.staleIfError ? work.catch((err) => this.#staleOr(c, err)) : work);
  }

  /**
   * `work`, or past the soft timeout (with a stale result at hand) that stale result, or past the
   * hard timeout the stale result or else the caller's timeout error. `work` goes on and stores.
   */
  async #withinTimeouts<R>(c: Computation<R>, work: Promise<R>): Promise<R> {
    const soft = c.softTimeoutMs !== undefined && c.stale!() !== undefined ? c.softTimeoutMs : Infinity;
    const waitMs = Math.min(soft, c.hardTimeoutMs ?? Infinity);
    if (waitMs === Infinity) return work;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<typeof EXPIRED>((resolve) => (timer = setTimeout(resolve, waitMs, EXPIRED)));
    const first = await Promise.race([work, expired]).finally(() => clearTimeout(timer));
    if (first !== EXPIRED) return first;
    work.catch((err: unknown) => this.#engine.report('compute', c.key, err));
    this.#engine.events.record(waitMs === soft ? 'softTimeout' : 'hardTimeout', c.kind, c.key, c.name);
    const stale = c.stale?.();
    if (stale !== undefined) return stale;
    throw c.timeoutError?.(waitMs) ?? new Error(`${c.kind} ${c.name ?? c.key} gave no result within ${waitMs} ms`);
  }

  #staleOr<R>(c: Computation<R>, err: unknown): R {
    const stale = c.stale?.();
    if (stale === undefined) throw err;
    this.#engine.report('compute', c.key, err);
    return stale;
  }

  /**
   * Computes on this stack, for callers that must not wait (nunjucks where it cannot, or the memory
   * store where nothing needs waiting for): tag versions from process memory, the result returned
   * as it is when `compute` finishes at once, and stored at once in process memory or in the
   * background on a shared store. A result that waits is shared with concurrent callers.
   */
  computeNow<R>(c: Computation<R>): R | Promise<R> {
    if (tracing(c)) return traceComputation(c, (traced) => this.computeNow(traced)); // nested ones nest: start/end on this stack
    const engine = this.#engine;
    const versions = c.tags && engine.tagVersionsNow(c.tags, c.ttlMs);
    // On a shared store, created in the background so that a later computation can store.
    if (c.tags && !versions) void engine.tagVersions(c.tags, c.ttlMs);
    const result = c.compute(versions);
    if (result instanceof Promise) {
      return engine.coalesce(c.key, async () => {
        const value = await result;
        await this.#store(c, value, versions);
        return value;
      });
    }
    const writes = !c.tags || versions ? c.entries(result, versions) : undefined;
    if (writes instanceof Promise || !writes) {
      if (writes) void writes.then((late) => late && this.#write(c, result, late));
      return result;
    }
    if (engine.local) {
      if (writes.every(([key, entry, ttlMs = c.ttlMs]) => engine.writeNow(key, entry, ttlMs))) this.#counted(c, result, writes);
    } else void this.#write(c, result, writes);
    return result;
  }

  /** Computes and stores without joining a running computation of the key, or being joined. */
  computeAlone<R>(c: Computation<R>): Promise<R> {
    if (tracing(c)) return traceComputation(c, (traced) => this.computeAlone(traced));
    return this.#computeAndStore(c);
  }

  async #computeAndStore<R>(c: Computation<R>): Promise<R> {
    const versions = c.tags && (await this.#engine.tagVersions(c.tags, c.ttlMs));
    const result = await c.compute(versions);
    const storing = this.#store(c, result, versions);
    if (storing) await storing;
    return result;
  }

  /** Stores `result`; undefined when there is nothing to write (its entries, when at hand, waited for by nobody). */
  #store<R>(c: Computation<R>, result: R, versions: TagVersions | undefined): Promise<void> | undefined {
    if (c.tags && !versions) return undefined;
    const writes = c.entries(result, versions);
    if (writes instanceof Promise) return writes.then((late) => (late ? this.#write(c, result, late) : undefined));
    return writes ? this.#write(c, result, writes) : undefined;
  }

  async #write<R>(c: Computation<R>, result: R, writes: Writes): Promise<void> {
    try {
      for (const [key, entry, ttlMs = c.ttlMs] of writes) if (!(await this.#engine.write(key, entry, ttlMs))) return;
    } catch (err) {
      if (c.unstorable && err instanceof UnstorableValueError) throw new TypeError(`${c.unstorable}: ${err.message}`, { cause: err });
      throw err;
    }
    await this.#counted(c, result, writes);
  }

  #counted<R>(c: Computation<R>, result: R, writes: Writes): unknown {
    if (writes.length === 0) return undefined;
    this.#engine.events.record('set', c.kind, writes[0]![0], c.name);
    return c.stored?.(result);
  }
}
