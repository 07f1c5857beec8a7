import type { Store } from '../store/store';
import { encode, type Entry, type TagVersions } from './codec';
import type { StoreCall } from './store-call';
import { currentVersion, INVALIDATED_TAG_TTL_MS, newTagVersion, staleVersion, tagKey, tagVersionTtlMs } from './tags';

/** How the engine reads a tag's stored version: through its pending removals and decoding. */
export interface VersionReads {
  peek(key: string): Entry | undefined;
  get(key: string): Promise<Entry | undefined>;
  decode(key: string, data: string): Entry | undefined;
}

/** The versions of tags (see tags.ts): read, created when missing, and moved on by an invalidation. */
export class TagVersionStore {
  readonly #store: Store;
  readonly #call: StoreCall;
  readonly #reads: VersionReads;

  constructor(store: Store, call: StoreCall, reads: VersionReads) {
    this.#store = store;
    this.#call = call;
    this.#reads = reads;
  }

  /**
   * The current version of each tag, creating the missing ones so that they outlive an entry of
   * `entryTtlMs` (see `tagVersionTtlMs`). Resolves undefined if the store failed.
   */
  async current(tags: readonly string[], entryTtlMs: number): Promise<TagVersions | undefined> {
    const keys = tags.map(tagKey);
    const current = await this.#call('tagVersions', undefined, () => this.#store.getMany(keys), undefined);
    if (!current) return undefined;
    const versions: TagVersions = {};
    for (let i = 0; i < tags.length; i++) {
      let version = current[i] === undefined ? undefined : this.#reads.decode(keys[i]!, current[i]!)?.value;
      if (typeof version !== 'string') {
        const created = newTagVersion();
        const data = encode(keys[i]!, created);
        // Concurrent creators agree on whichever version was stored first.
        const stored = await this.#call('tagVersions', keys[i], () => this.#store.add(keys[i]!, data, tagVersionTtlMs(entryTtlMs)), false);
        version = stored ? created : (await this.#reads.get(keys[i]!))?.value;
        if (typeof version !== 'string') return undefined;
      }
      versions[tags[i]!] = currentVersion(version as string);
    }
    return versions;
  }

  /**
   * `current` without waiting: from process memory, creating missing versions there when the
   * store lives in this process; undefined when that cannot give them all.
   */
  currentNow(tags: readonly string[], entryTtlMs: number): TagVersions | undefined {
    const versions: TagVersions = {};
    for (const tag of tags) {
      const key = tagKey(tag);
      let version = this.#reads.peek(key)?.value;
      const sync = this.#store.capabilities?.sync; // declared by local stores only
      if (typeof version !== 'string' && sync) {
        const created = newTagVersion();
        if (sync.setNow(key, encode(key, created), tagVersionTtlMs(entryTtlMs), true)) version = created;
      }
      if (typeof version !== 'string') return undefined;
      versions[tag] = currentVersion(version);
    }
    return versions;
  }

  /**
   * Writes a new version of `tag`: every entry written under an earlier one is a miss, or with
   * `stale`, those of the version before stay servable as stale until recomputed.
   */
  async moveOn(tag: string, stale: boolean): Promise<boolean> {
    const key = tagKey(tag);
    const previous = stale ? (await this.#reads.get(key))?.value : undefined;
    const version = staleVersion(newTagVersion(), typeof previous === 'string' ? previous : undefined);
    return this.#call('invalidateTags', key, () => this.#store.set(key, encode(key, version), INVALIDATED_TAG_TTL_MS), false);
  }
}
