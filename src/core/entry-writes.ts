import type { Store, SyncAccess } from '../store/store';
import { encode, encodeEntry, withHeader, type Entry } from './codec';
import type { PendingRemovals } from './pending';
import type { StoreCall } from './store-call';
import type { TagVersionStore } from './tag-versions';

/**
 * Writes of entries, and what each settles with the pending removals: a write replaces a pending
 * delete of its key, and a write to a shared store reported failed is deleted until a delete lands.
 */
export class EntryWrites {
  readonly #store: Store;
  readonly #call: StoreCall;
  readonly #local: boolean;
  /** Synchronous writes, on a local store that declares them. */
  readonly #sync: SyncAccess | undefined;
  readonly #pending: PendingRemovals;
  readonly #versions: TagVersionStore;

  constructor(store: Store, call: StoreCall, local: boolean, pending: PendingRemovals, versions: TagVersionStore) {
    this.#store = store;
    this.#call = call;
    this.#local = local;
    this.#sync = local ? store.capabilities?.sync : undefined;
    this.#pending = pending;
    this.#versions = versions;
  }

  /** See `Engine.set`. */
  async set(key: string, value: unknown, ttlMs: number, tags?: readonly string[]): Promise<boolean> {
    // In process memory without tags there is nothing to wait for.
    if (!tags && this.#sync) return this.#stored(key, this.#sync.setNow(key, encode(key, value), ttlMs, false));
    const data = await this.#encoded(key, value, ttlMs, tags);
    if (data === undefined) return false;
    await this.#supersede(key);
    return this.#written(key, await this.#call('set', key, () => this.#store.set(key, data, ttlMs), false));
  }

  /** See `Engine.write`. */
  async write(key: string, entry: Entry, ttlMs: number): Promise<boolean> {
    const data = encodeEntry(key, entry);
    const superseding = this.#supersede(key);
    if (superseding) await superseding;
    return this.#written(key, await this.#call('set', key, () => this.#store.set(key, data, ttlMs), false));
  }

  /** See `Engine.add`. */
  async add(key: string, value: unknown, ttlMs: number, tags?: readonly string[]): Promise<boolean> {
    const data = await this.#encoded(key, value, ttlMs, tags);
    return data !== undefined && this.#stored(key, await this.#call('add', key, () => this.#store.add(key, data, ttlMs), false));
  }

  /** See `Engine.writeNow`. */
  writeNow(key: string, entry: Entry, ttlMs: number): boolean {
    const stored = this.#sync?.setNow(key, encodeEntry(key, entry), ttlMs, false) ?? false;
    return this.#stored(key, stored);
  }

  /** `value` encoded, under the current versions of `tags`; undefined when the store could not give them. */
  async #encoded(key: string, value: unknown, ttlMs: number, tags: readonly string[] | undefined): Promise<string | undefined> {
    const data = encode(key, value); // refuses an unstorable value before the store is touched
    if (!tags) return data;
    const versions = await this.#versions.current(tags, ttlMs);
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
  #supersede(key: string): Promise<unknown> | undefined {
    this.#pending.keySettled(key);
    return this.#pending.quiet(key);
  }

  /**
   * A write to a shared store that was reported failed may still land (it timed out on its way):
   * it is deleted until a delete lands, and a miss here meanwhile, so that it never shows up.
   */
  #written(key: string, stored: boolean): boolean {
    if (!stored && !this.#local) this.#pending.keyFailed(key);
    return this.#stored(key, stored);
  }
}
