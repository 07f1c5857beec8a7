import type { Store, SyncReads } from '../store/store';
import { decodeEntry, type Entry } from './codec';
import type { Instrumentation } from './events';
import type { PendingRemovals } from './pending';
import type { StoreCall } from './store-call';
import { tagKey, versionState } from './tags';

/**
 * Reads of entries as the engine answers them: decoded (an entry that cannot be decoded is a miss,
 * reported), a miss where a removal is pending in this process, and a tagged entry checked against
 * the current versions of its tags.
 */
export class EntryReads {
  readonly #store: Store;
  readonly #call: StoreCall;
  /** What the store declares it can read synchronously: its own entries (a local store) or its L1. */
  readonly #sync: SyncReads | undefined;
  readonly #pending: PendingRemovals;
  readonly #events: Instrumentation;

  constructor(store: Store, call: StoreCall, pending: PendingRemovals, events: Instrumentation) {
    this.#store = store;
    this.#call = call;
    const { sync, l1 } = store.capabilities ?? {};
    this.#sync = sync ?? l1;
    this.#pending = pending;
    this.#events = events;
  }

  /** The entry under `key` if process memory can answer synchronously, else undefined (which then says nothing). */
  peek(key: string, acceptStale = false): Entry | undefined {
    const entry = this.#peekNow(key);
    if (entry === undefined || this.#pending.covers(key, entry.tags)) return undefined;
    if (!entry.tags) return entry;
    return servable(entry, versionState(entry.tags, (tag) => this.#peekNow(tagKey(tag))?.value), acceptStale);
  }

  async get(key: string, acceptStale = false): Promise<Entry | undefined> {
    return (await this.read([key], acceptStale))[0];
  }

  /**
   * Entries in the order of `keys`, with tagged entries whose tags moved on counted as misses
   * (or, `acceptStale`, marked `stale` when they were invalidated in stale mode).
   */
  async read(keys: readonly string[], acceptStale = false): Promise<(Entry | undefined)[]> {
    const data = await this.#call('get', keys.length === 1 ? keys[0] : undefined, () => this.#store.getMany(keys), undefined);
    if (!data) return keys.map(() => undefined);
    const entries = data.map((item, i) => {
      const entry = item === undefined ? undefined : this.decode(keys[i], item);
      return entry && !this.#pending.covers(keys[i], entry.tags) ? entry : undefined;
    });
    const tags = [...new Set(entries.flatMap((entry) => (entry?.tags ? Object.keys(entry.tags) : [])))];
    if (tags.length === 0) return entries;
    const versions = await this.#call('get', undefined, () => this.#store.getMany(tags.map(tagKey)), undefined);
    const current = new Map(tags.map((tag, i) => [tag, versions?.[i] && this.decode(tagKey(tag), versions[i]!)?.value]));
    return entries.map((entry) => (entry?.tags ? servable(entry, versionState(entry.tags, (tag) => current.get(tag)), acceptStale) : entry));
  }

  /** `data` stored under `key`, decoded; undefined (and reported) when it cannot be. */
  decode(key: string, data: string): Entry | undefined {
    try {
      return decodeEntry(data);
    } catch (err) {
      this.#events.report('decode', key, err);
      return undefined;
    }
  }

  /** What the store holds in this process under `key`, decoded; undefined when it has nothing there. */
  #peekNow(key: string): Entry | undefined {
    const reads = this.#sync;
    if (reads?.peek) return reads.peek(key);
    const data = reads?.getNow(key);
    return data === undefined ? undefined : this.decode(key, data);
  }
}

/** An entry as a read answers it: current, marked stale (when the caller takes stale ones), or a miss. */
function servable(entry: Entry, state: 'current' | 'stale' | undefined, acceptStale: boolean): Entry | undefined {
  if (state === 'current') return entry;
  return state === 'stale' && acceptStale ? { ...entry, stale: true } : undefined;
}
