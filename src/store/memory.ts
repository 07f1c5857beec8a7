import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock';
import { decodeEntry, type Entry } from '../core/codec';
import { NotANumberError, type Store, type StoreCapabilities, type SyncAccess } from './store';

/** Rough bytes an entry costs beyond its text: the LRU node, the key slot and the TTL slots. */
const ENTRY_OVERHEAD_BYTES = 96;

/** An entry as kept: its encoded form, and once read, the decoded entry if it is immutable. */
interface Item {
  data: string;
  shared?: Entry;
}

/**
 * The embedded store: an LRU bounded by bytes (UTF-16 text is counted at 2 bytes a character), so
 * it can never grow without limit. Reads are synchronous (`peek`), which is what keeps a page of
 * fragment hits as fast as inlined HTML: a string entry (a fragment) is decoded once and the same
 * decoded entry is handed to every later hit, so a hit allocates nothing. Other values are decoded
 * afresh on each read, so callers can never mutate what is stored. Expired entries are dropped
 * lazily on read or eviction.
 */
export class MemoryStore implements Store, SyncAccess {
  readonly local = true;
  readonly capabilities: StoreCapabilities = { sync: this, memoryUsage: () => ({ entries: this.size, bytes: this.bytes }) };
  private readonly lru: LRUCache<string, Item>;

  constructor(maxBytes: number, clock: Clock) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1024) {
      throw new RangeError(`maxBytes must be an integer >= 1024, got ${String(maxBytes)}`);
    }
    this.lru = new LRUCache<string, Item>({
      maxSize: maxBytes,
      sizeCalculation: (item, key) => (item.data.length + key.length) * 2 + ENTRY_OVERHEAD_BYTES,
      perf: clock,
    });
  }

  /** Bytes currently accounted for. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  get size(): number {
    return this.lru.size;
  }

  peek(key: string): Entry | undefined {
    const item = this.lru.get(key);
    if (item === undefined) return undefined;
    if (item.shared) return item.shared;
    const entry = decodeEntry(item.data);
    if (typeof entry.value === 'string') item.shared = entry;
    return entry;
  }

  getNow(key: string): string | undefined {
    return this.lru.get(key)?.data;
  }

  async get(key: string): Promise<string | undefined> {
    return this.getNow(key);
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return keys.map((key) => this.getNow(key));
  }

  async set(key: string, data: string, ttlMs: number): Promise<boolean> {
    return this.write(key, data, ttlMs);
  }

  setNow(key: string, data: string, ttlMs: number, onlyIfAbsent: boolean): boolean {
    return !(onlyIfAbsent && this.lru.has(key)) && this.write(key, data, ttlMs);
  }

  /** Synchronous `delete`, for a tier in front of another store. */
  drop(key: string): void {
    this.lru.delete(key);
  }

  async add(key: string, data: string, ttlMs: number): Promise<boolean> {
    return this.setNow(key, data, ttlMs, true);
  }

  async delete(key: string): Promise<boolean> {
    return this.lru.delete(key);
  }

  async has(key: string): Promise<boolean> {
    return this.lru.has(key);
  }

  async increment(key: string, delta: number, ttlMs: number): Promise<number> {
    const current = this.lru.get(key)?.data;
    let value = delta;
    if (current !== undefined) {
      const number = Number(current.slice(1));
      if (current[0] !== 'j' || !Number.isSafeInteger(number)) throw new NotANumberError(key);
      value += number;
      ttlMs = this.lru.getRemainingTTL(key);
      if (ttlMs === Infinity) ttlMs = 0;
    }
    this.write(key, 'j' + value, ttlMs);
    return value;
  }

  async clear(): Promise<void> {
    this.lru.clear();
  }

  /** Synchronous `clear`, for a tier in front of another store. */
  dropAll(): void {
    this.lru.clear();
  }

  async close(): Promise<void> {
    this.lru.clear();
  }

  write(key: string, data: string, ttlMs: number): boolean {
    this.lru.set(key, { data }, { ttl: ttlMs });
    // lru-cache skips entries larger than the whole bound instead of storing them.
    return this.lru.has(key);
  }
}
