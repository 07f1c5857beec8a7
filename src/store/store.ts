import type { Entry } from '../core/codec';

/**
 * A backend the cache stores entries in. Implement it to plug in your own store:
 * `new Cache({ store: myStore })`.
 *
 * Keys arrive as the cache names them, without its `keyPrefix` (a store that is shared applies its
 * own namespace); values arrive encoded as one string each (do not parse them); `ttlMs` 0 means
 * "never expires". Any method may reject or take too long: the cache gives every call on a store
 * that is not `local` a deadline (`operationTimeoutMs`), turns failures into misses or "not stored",
 * and reports them through its `'error'` event. A write must resolve `true` only once the entry is
 * stored.
 */
export interface Store {
  /**
   * True when no other process shares the entries (they live in this process): the cache then takes
   * no cross-process lock. Calls still get their deadline and their failures are still reported.
   */
  readonly local: boolean;
  /**
   * @internal Synchronous, decoded read: only stores that keep entries in this process have it (the memory
   * store, the first tier in front of Redis). The entry may be shared between calls: never mutated.
   */
  peek?(key: string): Entry | undefined;
  /**
   * @internal Synchronous `set` (or `add`, with `onlyIfAbsent`): only stores whose entries live in this
   * process have it. The cache uses it where nunjucks cannot wait for a promise.
   */
  setNow?(key: string, data: string, ttlMs: number, onlyIfAbsent: boolean): boolean;
  /**
   * @internal Pending while a new store makes its first connection attempt, undefined once that
   * settled. Calls made meanwhile wait for it before their `operationTimeoutMs` starts, so it must
   * settle within a bound of the store's own, and never reject.
   */
  readonly connecting?: Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** In the order of `keys`, `undefined` for each miss. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  set(key: string, data: string, ttlMs: number): Promise<boolean>;
  /** Stores only when the key is absent; resolves whether it stored. */
  add(key: string, data: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  /**
   * Adds `delta` to the integer under `key` (an entry encoded `j<integer>`; absent counts as 0 and
   * is stored with `ttlMs`; an existing entry keeps its expiry); resolves the new value. Rejects with
   * a TypeError when the entry is not an integer.
   */
  increment(key: string, delta: number, ttlMs: number, op?: string): Promise<number>;
  /**
   * @internal A store that can fence increments takes an operation id `op` in `increment`, and
   * cancels that operation here: applied, it is undone; not yet arrived, it never will be. Resolves
   * once the cancel is stored. The cache cancels an increment that it reported failed.
   */
  cancelIncrement?(key: string, delta: number, op: string): Promise<void>;
  /**
   * Resolves true as soon as another process announces a change of `key`, false after `ms`.
   * Stores that cannot hear other processes leave it out (lock waiters then poll).
   */
  whenChanged?(key: string, ms: number): Promise<boolean>;
  /** Removes every entry of this store's namespace, and nothing else. */
  clear(): Promise<void>;
  /** Releases connections the store opened; resolves within a bound whatever their state. */
  close(): Promise<void>;
}

export class NotANumberError extends TypeError {
  constructor(key: string) {
    super(`cannot increment key ${JSON.stringify(key)}: its value is not an integer`);
    this.name = 'NotANumberError';
  }
}

/** Whether `value` has the shape of a `Store` (recognised by shape: it may come from another copy of this library). */
export function isStore(value: unknown): value is Store {
  const store = value as Partial<Record<keyof Store, unknown>> | null;
  return (
    typeof store === 'object' &&
    store !== null &&
    typeof store.local === 'boolean' &&
    (['get', 'getMany', 'set', 'add', 'delete', 'has', 'increment', 'clear', 'close'] as const).every((method) => typeof store[method] === 'function')
  );
}
