import type { Entry } from '../core/codec';
import type { MemoryUse } from '../core/memory-accounts';

/**
 * A backend the cache stores entries in. Implement it to plug in your own store:
 * `new Cache({ store: myStore })` (docs/writing-a-store.md), and check it with the contract suite,
 * `runStoreContract` of `koa-fragment-cache/testing`.
 *
 * Keys arrive as the cache names them, without its `keyPrefix` (a store that is shared applies its
 * own namespace); values arrive encoded as one string each (do not parse them); `ttlMs` 0 means
 * "never expires". Any method may reject or take too long: the cache gives every call on a store
 * it does not read synchronously (`capabilities.sync`) a deadline (`operationTimeoutMs`), turns
 * failures into misses or "not stored", and reports them through its `'error'` event. A write must
 * resolve `true` only once the entry is stored.
 */
export interface Store {
  /**
   * True when no other process shares the entries (they live in this process): the cache then takes
   * no cross-process lock. Calls still get their deadline and their failures are still reported,
   * unless the store also declares `capabilities.sync`: then the cache reads and writes it
   * synchronously. A local store that declares no `capabilities` at all is served as a shared one,
   * with a warning (once per process); `capabilities: {}` says it has none on purpose.
   */
  readonly local: boolean;
  /** What the store can do beyond these methods. The cache uses what is declared here, and guesses nothing. */
  readonly capabilities?: StoreCapabilities;
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
   * a TypeError when the entry is not an integer. `op` identifies the operation on a store that
   * declares `capabilities.fencedIncrements`; others ignore it.
   */
  increment(key: string, delta: number, ttlMs: number, op?: string): Promise<number>;
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

/**
 * What a store declares it can do beyond the `Store` methods; each part is optional. See
 * docs/writing-a-store.md.
 */
export interface StoreCapabilities {
  /**
   * On a local store: its entries, read and written synchronously. The cache then serves hits and
   * writes on the caller's stack (no promise, no deadline), and templates that nunjucks renders
   * synchronously can store fragments. A store shared between processes cannot have it (refused
   * with a TypeError).
   */
  readonly sync?: SyncAccess;
  /**
   * On a shared store: a copy of some of its entries kept in this process (an L1, kept coherent
   * by the store), read synchronously. A hit there is served without a round trip; a miss says
   * nothing.
   */
  readonly l1?: SyncReads;
  /** Increments that the cache can cancel after reporting them failed. */
  readonly fencedIncrements?: FencedIncrements;
  /**
   * What the store keeps in this process's memory, for `cache.memoryUsage()` (its part `store` on
   * a local store, `l1` on a shared one). Called on every `memoryUsage()`: keep it cheap.
   */
  memoryUsage?(): MemoryUse;
}

/** Synchronous reads of entries held in this process. */
export interface SyncReads {
  /** The entry under `key` as `get` would resolve it, synchronously; `undefined` on a miss. */
  getNow(key: string): string | undefined;
  /**
   * @internal `getNow`, decoded. The library's own stores keep the decoded entry of a fragment, so
   * that a hit decodes nothing; the cache decodes `getNow` for other stores. Never mutated.
   */
  peek?(key: string): Entry | undefined;
}

/** Synchronous reads and writes of a store whose entries live in this process. */
export interface SyncAccess extends SyncReads {
  /** `set`, or with `onlyIfAbsent` `add`, done synchronously; returns whether it stored. */
  setNow(key: string, data: string, ttlMs: number, onlyIfAbsent: boolean): boolean;
}

/**
 * Increments that can be taken back. A call of the cache that runs out of `operationTimeoutMs`
 * may still reach the store; the cache reports it failed, so it must never show up.
 */
export interface FencedIncrements {
  /**
   * Cancels the increment that carries the operation id `op` (see `Store.increment`): applied, it
   * is undone; not arrived yet, it never will be (it rejects when it arrives). Cancelling twice
   * undoes once. Resolves once the cancel is stored.
   */
  cancelIncrement(key: string, delta: number, op: string): Promise<void>;
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

let warnedUndeclared = false;

/**
 * What the cache checks of a store it is given: declared capabilities complete and possible (a
 * TypeError names the store and what it lacks), and a warning, once per process, for a local
 * store that declares none (it is served as a shared one).
 */
export function checkCapabilities(store: Store): void {
  const name = store.constructor?.name && store.constructor !== Object ? store.constructor.name : 'the store';
  const { capabilities } = store;
  if (capabilities === undefined) {
    if (store.local && !warnedUndeclared) {
      warnedUndeclared = true;
      process.emitWarning(
        `${name} says local: true but declares no capabilities: it is served as a shared store (each call awaited under operationTimeoutMs, no synchronous hits). ` +
          'Declare capabilities.sync (getNow, setNow) to be read and written synchronously, or capabilities: {} to say it has none.',
        { code: 'KFC_STORE_CAPABILITIES' },
      );
    }
    return;
  }
  const lacking = (part: string, methods: string[], of: unknown) => {
    const missing = methods.filter((method) => typeof (of as Record<string, unknown>)[method] !== 'function');
    if (missing.length > 0) throw new TypeError(`${name} declares capabilities.${part} without ${missing.join(' and ')}`);
  };
  if (typeof capabilities !== 'object' || capabilities === null) throw new TypeError(`${name}'s capabilities must be an object, got ${String(capabilities)}`);
  if (capabilities.sync) {
    if (!store.local) throw new TypeError(`${name} declares capabilities.sync but is shared (local: false): its entries cannot all be in this process; declare capabilities.l1 for a copy kept here`);
    lacking('sync', ['getNow', 'setNow'], capabilities.sync);
  }
  if (capabilities.l1) lacking('l1', ['getNow'], capabilities.l1);
  if (capabilities.fencedIncrements) lacking('fencedIncrements', ['cancelIncrement'], capabilities.fencedIncrements);
  if (capabilities.memoryUsage !== undefined && typeof capabilities.memoryUsage !== 'function') throw new TypeError(`${name}'s capabilities.memoryUsage must be a function`);
}
