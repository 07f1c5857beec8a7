import type { FencedIncrements, Store } from '../store/store';
import type { Clock } from './clock';
import type { Entry, TagVersions } from './codec';
import { Computations, type Computation } from './compute';
import { EntryReads } from './entry-reads';
import { EntryWrites } from './entry-writes';
import type { Instrumentation } from './events';
import { ComputeLock, type WaitOptions } from './lock';
import { storeCalls, type StoreCall } from './store-call';
import { TagVersionStore } from './tag-versions';
import { MemoryAccounts } from './memory-accounts';
import { PendingRemovals } from './pending';
import { InvalidationLog, invalidationMark } from './invalidation-log';
import { isTagKey, newTagVersion, tagKey } from './tags';

export interface EngineOptions {
  store: Store;
  events: Instrumentation;
  clock: Clock;
  defaultTimeoutMs: number;
  /** A call on a shared store that takes longer has failed. */
  operationTimeoutMs: number;
  /** The cross-process lock of shared stores: how long it holds at most, how long others wait. */
  lock: { ageMs: number; waitMs: number } | false;
  /** Called after each `invalidateTags` in this process (to purge a CDN); its failures are reported. */
  onInvalidate?: (tags: readonly string[]) => unknown;
}

/**
 * What every feature of the library stores through: the fragment tag, the response middleware,
 * memoize and the value helpers are written against this, never against `Cache`.
 *
 * Invariants:
 * - a failing or slow store never makes a call throw or hang: reads answer as a miss and writes
 *   as "not stored" within `operationTimeoutMs`, and the failure is reported. Only programming
 *   errors reject: a value that cannot be stored, incrementing a non-integer;
 * - an entry written under tag versions is a miss once any of them moved on (or is gone);
 * - a delete or tag invalidation the store refused is treated as done in this process until a
 *   retry lands, so this process never serves what it removed;
 * - concurrent computations of one key share one run (`coalesce`); on a shared store one process
 *   in the deployment computes while the others wait for it (the lock).
 */
export class Engine {
  /** Entries in this process, read and written synchronously (`peek`): no second lookup, no deadline. */
  readonly local: boolean;
  readonly defaultTimeoutMs: number;
  readonly events: Instrumentation;
  readonly clock: Clock;
  /** What the cache's parts hold in process memory, for `memoryUsage()`. */
  readonly memory = new MemoryAccounts();
  /** Read by tests that count store calls; features go through the methods. */
  readonly store: Store;
  readonly #call: StoreCall;
  readonly #lock: ComputeLock | undefined;
  readonly #computations = new Computations(this);
  readonly #versions: TagVersionStore;
  readonly #onInvalidate?: (tags: readonly string[]) => unknown;
  readonly #inFlight = new Map<string, Promise<unknown>>();
  readonly #invalidationLog = new InvalidationLog();
  readonly #pending: PendingRemovals;
  readonly #reads: EntryReads;
  readonly #writes: EntryWrites;
  readonly #fenced: FencedIncrements | undefined;

  constructor(options: EngineOptions) {
    this.store = options.store;
    const { sync, fencedIncrements } = options.store.capabilities ?? {};
    // Features read and write a local store synchronously when it declares so; one that does not is served as a shared one.
    this.local = options.store.local && sync !== undefined;
    this.#fenced = fencedIncrements;
    this.events = options.events;
    this.clock = options.clock;
    this.defaultTimeoutMs = options.defaultTimeoutMs;
    this.#call = storeCalls(this.store, this.local, options.operationTimeoutMs, this.events);
    // No other process shares a local store's entries: nobody to lock out.
    this.#lock = options.store.local || !options.lock ? undefined : new ComputeLock(this.store, this.clock, this.events, this.#call, options.lock);
    this.#onInvalidate = options.onInvalidate;
    this.#pending = new PendingRemovals({
      deleteKey: async (key) => (await this.#call('delete', key, () => this.store.delete(key), undefined)) !== undefined,
      invalidateTag: (tag) => this.#writeTagVersion(tag),
      cancelIncrement: async (key, delta, op) => (await this.#call('inc', key, () => this.#fenced!.cancelIncrement(key, delta, op).then(() => true), false)) === true,
      giveUp: (what) => this.events.report('retry', what, new Error('too many removals pending while the store fails; gave up the oldest')),
    });
    this.#reads = new EntryReads(this.store, this.#call, this.#pending, this.events);
    this.#versions = new TagVersionStore(this.store, this.#call, this.#reads);
    this.#writes = new EntryWrites(this.store, this.#call, this.local, this.#pending, this.#versions);
  }

  /** The entry under `key` if process memory can answer synchronously, else undefined (which then says nothing). */
  peek(key: string, acceptStale = false): Entry | undefined {
    return this.#reads.peek(key, acceptStale);
  }

  get(key: string, acceptStale = false): Promise<Entry | undefined> {
    return this.#reads.get(key, acceptStale);
  }

  /**
   * Entries in the order of `keys`, with tagged entries whose tags moved on counted as misses
   * (or, `acceptStale`, marked `stale` when they were invalidated in stale mode).
   */
  read(keys: readonly string[], acceptStale = false): Promise<(Entry | undefined)[]> {
    return this.#reads.read(keys, acceptStale);
  }

  /**
   * Stores `value` under the current versions of `tags` (taken after encoding, so an unstorable
   * value is refused before the store is touched); resolves whether it was stored.
   */
  set(key: string, value: unknown, ttlMs: number, tags?: readonly string[]): Promise<boolean> {
    return this.#writes.set(key, value, ttlMs, tags);
  }

  /**
   * Stores an entry under the tag versions it records, e.g. ones taken by `tagVersions()` before
   * computing the value: an invalidation that lands while it is computed then makes it a miss.
   * Only `Computations` (compute.ts) writes entries, so every computed entry is counted alike.
   */
  write(key: string, entry: Entry, ttlMs: number): Promise<boolean> {
    return this.#writes.write(key, entry, ttlMs);
  }

  /** Stores `value` only when `key` is absent; resolves whether it stored. */
  add(key: string, value: unknown, ttlMs: number, tags?: readonly string[]): Promise<boolean> {
    return this.#writes.add(key, value, ttlMs, tags);
  }

  /**
   * Resolves whether there was an entry to delete. If the store fails, this process treats the key
   * as a miss and retries the delete until it lands.
   */
  async delete(key: string): Promise<boolean> {
    this.events.emit('delete', () => ({ key }));
    this.#inFlight.delete(key); // a computation started before the delete serves only its own waiters
    const deleted = await this.#call('delete', key, () => this.store.delete(key), undefined);
    if (deleted === undefined) this.#pending.keyFailed(key);
    else this.#pending.keySettled(key);
    return deleted === true;
  }

  has(key: string): Promise<boolean> {
    return this.#call('has', key, () => this.store.has(key), false);
  }

  /**
   * Adds `delta` to the integer under `key`; undefined when the store failed. A failed increment
   * may still reach the store (a timeout): on a store that fences increments it is cancelled — undone
   * if it landed — before this process increments `key` again, which fails until the cancel lands.
   */
  async increment(key: string, delta: number): Promise<number | undefined> {
    if (!this.#fenced) return this.#call('inc', key, () => this.store.increment(key, delta, this.defaultTimeoutMs), undefined, true);
    if (!(await this.#pending.incrementSettled(key))) return undefined;
    const op = newTagVersion();
    const result = await this.#call('inc', key, () => this.store.increment(key, delta, this.defaultTimeoutMs, op), undefined, true);
    if (result === undefined) this.#pending.incrementFailed(key, delta, op);
    return result;
  }

  async clear(): Promise<void> {
    await this.#call('clear', undefined, () => this.store.clear(), undefined);
  }

  /** Tries once more to write pending deletes and invalidations, then closes the store. */
  async close(): Promise<void> {
    await this.#pending.flush();
    this.#pending.stop();
    await this.store.close();
  }

  /**
   * Makes every entry carrying any of `tags` a miss, in every process sharing the store: one write
   * per tag. If the store fails, this process treats those entries as misses and retries. Then
   * `onInvalidate` runs (and is waited for); what it throws is reported, never thrown here.
   */
  async invalidateTags(tags: readonly string[], stale = false): Promise<void> {
    this.events.emit('invalidate', () => ({ tags }));
    this.#tagsInvalidated(tags.map(tagKey));
    await Promise.all(tags.map(async (tag) => (await this.#writeTagVersion(tag, stale)) || this.#pending.tagFailed(tag)));
    if (!this.#onInvalidate) return;
    try {
      await this.#onInvalidate(tags);
    } catch (err) {
      this.report('onInvalidate', undefined, err);
    }
  }

  /**
   * Whether any of `tags` was invalidated, here or (as heard) elsewhere, since `mark`
   * (`invalidationMark()`, taken when a request began): a value computed from data loaded before
   * may be stale however new the versions it was stored under. Don't store it.
   */
  invalidatedSince(tags: readonly string[], mark: number): boolean {
    return mark < invalidationMark() && this.#invalidationLog.since(tags.map(tagKey), mark);
  }

  /** The current versions of `tags`, created when missing (see `TagVersionStore.current`); undefined if the store failed. */
  tagVersions(tags: readonly string[], entryTtlMs: number): Promise<TagVersions | undefined> {
    return this.#versions.current(tags, entryTtlMs);
  }

  /** `tagVersions` from process memory, without waiting; undefined when it cannot give them all. */
  tagVersionsNow(tags: readonly string[], entryTtlMs: number): TagVersions | undefined {
    return this.#versions.currentNow(tags, entryTtlMs);
  }

  /** `write` without waiting, on a store that lives in this process; false when it has no synchronous writes. */
  writeNow(key: string, entry: Entry, ttlMs: number): boolean {
    return this.#writes.writeNow(key, entry, ttlMs);
  }

  /**
   * The stored result of `computation` or else a computed one, written and counted: the one path
   * every cached thing is computed by (see `Computations`).
   */
  getOrCompute<R>(computation: Computation<R>): Promise<R> {
    return this.#computations.getOrCompute(computation);
  }

  /** `getOrCompute` on this stack, for callers that must not wait (see `Computations.computeNow`). */
  computeNow<R>(computation: Computation<R>): R | Promise<R> {
    return this.#computations.computeNow(computation);
  }

  /** `getOrCompute` without joining a running computation of the key, or being joined. */
  computeAlone<R>(computation: Computation<R>): Promise<R> {
    return this.#computations.computeAlone(computation);
  }

  /** Whether a computation of `key` is running in this process (new callers would join it). */
  computing(key: string): boolean {
    return this.#inFlight.has(key);
  }

  /**
   * The value for `key`, found by `lookup` (a store read; `undefined` = miss) or else made by
   * `compute` (which stores it), once for all concurrent callers in this process. On a shared
   * store a miss also takes the key's lock while `compute` runs, so that other processes wait
   * and then find the value with `lookup`. A delete or a tag invalidation detaches a running
   * computation: callers arriving after it start a fresh one.
   */
  coalesce<T>(key: string, compute: () => Promise<T>, lookup?: () => Promise<T | undefined>, then?: WaitOptions<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    const stale = running && then?.stale?.();
    if (running) return stale === undefined ? (running as Promise<T>) : Promise.resolve(stale);
    const promise = (this.#lock ? this.#lock.lookupOrCompute(key, compute, lookup, then) : lookupOrCompute(compute, then?.looked ? undefined : lookup)).finally(() => {
      if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, promise);
    return promise;
  }

  /** Another process changed these keys: computations of them started before are detached. */
  changedElsewhere(keys: readonly string[] | 'all'): void {
    if (keys === 'all') this.#tagsInvalidated('all');
    else if (keys.some(isTagKey)) this.#tagsInvalidated(keys.filter(isTagKey));
    else for (const key of keys) this.#inFlight.delete(key);
  }

  /** Reports a failure through the cache's `'error'` event (rate-limited). */
  report(operation: string, key: string | undefined, cause: unknown): void {
    this.events.report(operation, key, cause);
  }

  async #writeTagVersion(tag: string, stale = false): Promise<boolean> {
    const written = await this.#versions.moveOn(tag, stale);
    if (written) this.#pending.tagSettled(tag);
    return written;
  }

  #tagsInvalidated(tagKeys: readonly string[] | 'all'): void {
    this.#invalidationLog.invalidated(tagKeys);
    this.#inFlight.clear();
  }
}

async function lookupOrCompute<T>(compute: () => Promise<T>, lookup?: () => Promise<T | undefined>): Promise<T> {
  return (await lookup?.()) ?? compute();
}
