import type { Entry } from '../codec';

/**
 * What `Cache` needs from a backend. Keys arrive without the cache's prefix (a store applies its own
 * namespace); values arrive already encoded (see codec.ts); `ttlMs` 0 means "never expires".
 * Every method may reject: `Cache` turns failures into misses and reports them.
 */
export interface Store {
  /** True when entries live in this process (reads can then be synchronous, see `peek`). */
  readonly local: boolean;
  /**
   * Synchronous, decoded read; only stores that live in this process have it. The entry may be
   * shared between calls when its value is immutable (a string): callers must not mutate it.
   */
  peek?(key: string): Entry | undefined;
  get(key: string): Promise<string | undefined>;
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  set(key: string, data: string, ttlMs: number): Promise<boolean>;
  /** Stores only when the key is absent; resolves whether it stored. */
  add(key: string, data: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  /** Adds `delta` to the integer under `key` (absent counts as 0, stored with `ttlMs`); resolves the new value. */
  increment(key: string, delta: number, ttlMs: number): Promise<number>;
  /**
   * Resolves true as soon as another process announces a change of `key`, false after `ms`.
   * Stores that cannot hear other processes do not have it (lock waiters then poll).
   */
  whenChanged?(key: string, ms: number): Promise<boolean>;
  /** Removes every entry of this store's namespace, and nothing else. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

export class NotANumberError extends TypeError {
  constructor(key: string) {
    super(`cannot increment key ${JSON.stringify(key)}: its value is not an integer`);
    this.name = 'NotANumberError';
  }
}
