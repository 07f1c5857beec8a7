import type { Store } from '../store/store';
import type { Clock } from './clock';
import { decode, decodeEntry, encode, encodeEntry, withHeader, type Entry, type TagVersions } from './codec';
import type { Instrumentation } from './events';
import { MemoryAccounts } from './memory-accounts';
import { PendingRemovals } from './pending';
import { INVALIDATED_TAG_TTL_MS, isTagKey, newTagVersion, tagKey, tagVersionTtlMs, versionsCurrent } from './tags';

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

/** How often a process waiting for another's lock checks whether the lock is gone. */
const LOCK_POLL_MS = 50;

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
  readonly #operationTimeoutMs: number;
  readonly #lock: { ageMs: number; waitMs: number } | false;
  readonly #onInvalidate?: (tags: readonly string[]) => unknown;
  readonly #inFlight = new Map<string, Promise<unknown>>();
  #invalidations = 0;
  readonly #pending: PendingRemovals;

  constructor(options: EngineOptions) {
    this.store = options.store;
    // Features read a local store synchronously (peek, setNow); a store without them is served as a shared one.
    this.local = options.store.local && typeof options.store.peek === 'function' && typeof options.store.setNow === 'function';
    this.events = options.events;
    this.clock = options.clock;
    this.defaultTimeoutMs = options.defaultTimeoutMs;
    this.#operationTimeoutMs = options.operationTimeoutMs;
    // No other process shares a local store's entries: nobody to lock out.
    this.#lock = options.store.local ? false : options.lock;
    this.#onInvalidate = options.onInvalidate;
    this.#pending = new PendingRemovals({
      deleteKey: async (key) => (await this.#call('delete', key, () => this.store.delete(key), undefined)) !== undefined,
      invalidateTag: (tag) => this.#writeTagVersion(tag),
      cancelIncrement: async (key, delta, op) => (await this.#call('inc', key, () => this.store.cancelIncrement!(key, delta, op).then(() => true), false)) === true,
      giveUp: (what) => this.events.report('retry', what, new Error('too many removals pending while the store fails; gave up the oldest')),
    });
  }

  /** The entry under `key` if process memory can answer synchronously, else undefined (which then says nothing). */
  peek(key: string): Entry | undefined {
    const entry = this.store.peek?.(key);
    if (entry === undefined || this.#pending.covers(key, entry.tags)) return undefined;
    if (!entry.tags) return entry;
    return versionsCurrent(entry.tags, (tag) => this.store.peek!(tagKey(tag))?.value) ? entry : undefined;
  }

  async get(key: string): Promise<Entry | undefined> {
    return (await this.read([key]))[0];
  }

  /** Entries in the order of `keys`, with tagged entries whose tags moved on counted as misses. */
  async read(keys: readonly string[]): Promise<(Entry | undefined)[]> {
    const data = await this.#call('get', keys.length === 1 ? keys[0] : undefined, () => this.store.getMany(keys), undefined);
    if (!data) return keys.map(() => undefined);
    const entries = data.map((item, i) => {
      const entry = item === undefined ? undefined : this.#decodeOrMiss(keys[i], item);
      return entry && !this.#pending.covers(keys[i], entry.tags) ? entry : undefined;
    });
    const tags = [...new Set(entries.flatMap((entry) => (entry?.tags ? Object.keys(entry.tags) : [])))];
    if (tags.length === 0) return entries;
    const versions = await this.#call('get', undefined, () => this.store.getMany(tags.map(tagKey)), undefined);
    const current = new Map(tags.map((tag, i) => [tag, versions?.[i] && this.#decodeOrMiss(tagKey(tag), versions[i]!)?.value]));
    return entries.map((entry) => (entry?.tags && !versionsCurrent(entry.tags, (tag) => current.get(tag)) ? undefined : entry));
  }

  /**
   * Stores `value` under the current versions of `tags` (taken after encoding, so an unstorable
   * value is refused before the store is touched); resolves whether it was stored.
   */
  async set(key: string, value: unknown, ttlMs: number, tags?: readonly string[]): Promise<boolean> {
    // In process memory without tags there is nothing to wait for.
    if (!tags && this.store.setNow) return this.#stored(key, this.store.setNow(key, encode(key, value), ttlMs, false));
    const data = await this.#encoded(key, value, ttlMs, tags);
    if (data === undefined) return false;
    await this.#supersede(key);
    return this.#written(key, await this.#call('set', key, () => this.store.set(key, data, ttlMs), false));
  }

  /**
   * Stores an entry under the tag versions it records, e.g. ones taken by `tagVersions()` before
   * computing the value: an invalidation that lands while it is computed then makes it a miss.
   */
  async write(key: string, entry: Entry, ttlMs: number): Promise<boolean> {
    const data = encodeEntry(key, entry);
    await this.#supersede(key);
    return this.#written(key, await this.#call('set', key, () => this.store.set(key, data, ttlMs), false));
  }

  /** Stores `value` only when `key` is absent; resolves whether it stored. */
  async add(key: string, value: unknown, ttlMs: number, tags?: readonly string[]): Promise<boolean> {
    const data = await this.#encoded(key, value, ttlMs, tags);
    return data !== undefined && this.#stored(key, await this.#call('add', key, () => this.store.add(key, data, ttlMs), false));
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
    if (!this.store.cancelIncrement) return this.#call('inc', key, () => this.store.increment(key, delta, this.defaultTimeoutMs), undefined, true);
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
  async invalidateTags(tags: readonly string[]): Promise<void> {
    this.events.emit('invalidate', () => ({ tags }));
    this.#tagsInvalidated();
    await Promise.all(tags.map(async (tag) => (await this.#writeTagVersion(tag)) || this.#pending.tagFailed(tag)));
    if (!this.#onInvalidate) return;
    try {
      await this.#onInvalidate(tags);
    } catch (err) {
      this.report('onInvalidate', undefined, err);
    }
  }

  /**
   * How many tag invalidations this process has made or heard of. A value computed while this
   * number changed may be stale if its tags were only known after computing it: don't store it.
   */
  get invalidations(): number {
    return this.#invalidations;
  }

  /**
   * The current version of each tag, creating the missing ones so that they outlive an entry of
   * `entryTtlMs` (see `tagVersionTtlMs`). Resolves undefined if the store failed.
   */
  async tagVersions(tags: readonly string[], entryTtlMs: number): Promise<TagVersions | undefined> {
    const keys = tags.map(tagKey);
    const current = await this.#call('tagVersions', undefined, () => this.store.getMany(keys), undefined);
    if (!current) return undefined;
    const versions: TagVersions = {};
    for (let i = 0; i < tags.length; i++) {
      let version = current[i] === undefined ? undefined : this.#decodeOrMiss(keys[i], current[i]!)?.value;
      if (typeof version !== 'string') {
        const created = newTagVersion();
        const data = encode(keys[i], created);
        // Concurrent creators agree on whichever version was stored first.
        const stored = await this.#call('tagVersions', keys[i], () => this.store.add(keys[i], data, tagVersionTtlMs(entryTtlMs)), false);
        version = stored ? created : (await this.get(keys[i]))?.value;
        if (typeof version !== 'string') return undefined;
      }
      versions[tags[i]] = version as string;
    }
    return versions;
  }

  /**
   * `tagVersions` without waiting: from process memory, creating missing versions there when the
   * store lives in this process; undefined when that cannot give them all.
   */
  tagVersionsNow(tags: readonly string[], entryTtlMs: number): TagVersions | undefined {
    const versions: TagVersions = {};
    for (const tag of tags) {
      const key = tagKey(tag);
      let version = this.peek(key)?.value;
      if (typeof version !== 'string' && this.store.setNow) {
        const created = newTagVersion();
        if (this.store.setNow(key, encode(key, created), tagVersionTtlMs(entryTtlMs), true)) version = created;
      }
      if (typeof version !== 'string') return undefined;
      versions[tag] = version;
    }
    return versions;
  }

  /** `write` without waiting, on a store that lives in this process; false when it has no synchronous writes. */
  writeNow(key: string, entry: Entry, ttlMs: number): boolean {
    const stored = this.store.setNow?.(key, encodeEntry(key, entry), ttlMs, false) ?? false;
    return this.#stored(key, stored);
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
  coalesce<T>(key: string, compute: () => Promise<T>, lookup?: () => Promise<T | undefined>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running) return running as Promise<T>;
    const promise = this.#lookupOrCompute(key, compute, lookup).finally(() => {
      if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, promise);
    return promise;
  }

  /** Another process changed these keys: computations of them started before are detached. */
  changedElsewhere(keys: readonly string[] | 'all'): void {
    if (keys === 'all' || keys.some(isTagKey)) this.#tagsInvalidated();
    else for (const key of keys) this.#inFlight.delete(key);
  }

  /** Reports a failure through the cache's `'error'` event (rate-limited). */
  report(operation: string, key: string | undefined, cause: unknown): void {
    this.events.report(operation, key, cause);
  }

  async #writeTagVersion(tag: string): Promise<boolean> {
    const key = tagKey(tag);
    const written = await this.#call('invalidateTags', key, () => this.store.set(key, encode(key, newTagVersion()), INVALIDATED_TAG_TTL_MS), false);
    if (written) this.#pending.tagSettled(tag);
    return written;
  }

  /**
   * `lookup`; on a miss, an `add` of `lock:<key>` holding the time it expires. Whoever stores it
   * runs `compute`; the others wait until the owner announces the key changed, the lock is gone or
   * broken (expired but still there, or not ours), or `lock.wait` runs out, then `lookup` again
   * (finding what the owner stored) or compute it themselves. No lock (a store failure) means
   * `compute` runs, as without one.
   */
  async #lookupOrCompute<T>(key: string, compute: () => Promise<T>, lookup?: () => Promise<T | undefined>): Promise<T> {
    const found = await lookup?.();
    if (found !== undefined || !this.#lock) return found ?? compute();
    const { ageMs } = this.#lock;
    const lockKey = `lock:${key}`;
    const attempt = this.store.add(lockKey, encode(lockKey, this.clock.now() + ageMs), ageMs);
    const acquired = await this.#call('lock', key, () => attempt, undefined);
    // A lock request that timed out may still land: release it then, or it would hold for lock.age.
    if (acquired === undefined) attempt.then((late) => late && this.store.delete(lockKey)).catch(() => undefined);
    if (acquired === false) {
      this.events.emit('lockWait', () => ({ key }));
      await this.#waitForLock(key, lockKey);
      const stored = await lookup?.();
      if (stored !== undefined) return stored;
    }
    try {
      return await compute();
    } finally {
      if (acquired) await this.#call('unlock', key, () => this.store.delete(lockKey), false);
    }
  }

  async #waitForLock(key: string, lockKey: string): Promise<void> {
    const { waitMs } = this.#lock as { waitMs: number };
    const deadline = this.clock.now() + waitMs;
    for (let left = waitMs; left > 0; left = deadline - this.clock.now()) {
      const wait = Math.min(LOCK_POLL_MS, left);
      const changed = this.store.whenChanged ? await this.store.whenChanged(key, wait) : await sleep(wait);
      if (changed) return;
      const held = await this.#call('lock', key, () => this.store.get(lockKey), undefined);
      if (held === undefined) return;
      if (!this.#lockHolds(lockKey, held)) {
        // Expired yet still there (stored without a TTL) or not a lock at all: nobody will release it.
        await this.#call('unlock', key, () => this.store.delete(lockKey), false);
        return;
      }
    }
  }

  #lockHolds(lockKey: string, data: string): boolean {
    try {
      const until = decode(data);
      return typeof until === 'number' && until > this.clock.now();
    } catch {
      this.report('lock', lockKey, new Error('a lock entry that is not a lock: treated as broken'));
      return false;
    }
  }

  #tagsInvalidated(): void {
    this.#invalidations++;
    this.#inFlight.clear();
  }

  /** `value` encoded, under the current versions of `tags`; undefined when the store could not give them. */
  async #encoded(key: string, value: unknown, ttlMs: number, tags: readonly string[] | undefined): Promise<string | undefined> {
    const data = encode(key, value); // refuses an unstorable value before the store is touched
    if (!tags) return data;
    const versions = await this.tagVersions(tags, ttlMs);
    return versions && withHeader(data, { tags: versions });
  }

  /** A value stored under `key` supersedes a delete of it still pending. */
  #stored(key: string, stored: boolean): boolean {
    if (stored) this.#pending.keySettled(key);
    return stored;
  }

  /**
   * A write replaces whatever delete of `key` is pending: none is retried from now on, and one
   * already on its way lands first (landing after the write, it would delete the new value).
   */
  async #supersede(key: string): Promise<void> {
    this.#pending.keySettled(key);
    await this.#pending.quiet(key);
  }

  /**
   * A write to a shared store that was reported failed may still land (it timed out on its way):
   * it is deleted until a delete lands, and a miss here meanwhile, so that it never shows up.
   */
  #written(key: string, stored: boolean): boolean {
    if (!stored && !this.local) this.#pending.keyFailed(key);
    return this.#stored(key, stored);
  }

  #decodeOrMiss(key: string, data: string): Entry | undefined {
    try {
      return decodeEntry(data);
    } catch (err) {
      this.report('decode', key, err);
      return undefined;
    }
  }

  /**
   * Runs a store call under the deadline, turning failure into `fallback` and a report.
   * `rethrowTypeErrors` lets a caller's misuse (e.g. incrementing a string) reach the caller.
   */
  async #call<T, F>(operation: string, key: string | undefined, run: () => Promise<T>, fallback: F, rethrowTypeErrors = false): Promise<T | F> {
    if (this.local) return run();
    const started = performance.now();
    // A new store's first calls wait for its first connection attempt (bounded by the store); the deadline starts after.
    const connecting = this.store.connecting;
    if (connecting) await connecting;
    let ok = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      // After a busy stretch the timer can fire before replies already waiting in the socket are
      // read: they get one more turn of I/O (setImmediate runs after it) before the call fails.
      const expire = () => reject(new Error(`no answer within operationTimeoutMs (${this.#operationTimeoutMs} ms)`));
      timer = setTimeout(() => setImmediate(expire), this.#operationTimeoutMs);
    });
    try {
      const result = await Promise.race([run(), deadline]);
      ok = true;
      return result;
    } catch (err) {
      if (rethrowTypeErrors && err instanceof TypeError) throw err;
      this.report(operation, key, err);
      return fallback;
    } finally {
      clearTimeout(timer);
      this.events.emit('storeCall', () => ({ operation, seconds: (performance.now() - started) / 1000, ok }));
    }
  }
}

function sleep(ms: number): Promise<false> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms));
}
