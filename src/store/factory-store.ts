import type { Store } from './store';

/** Marks a store made by a factory (a symbol of the registry: another copy of this library knows it too). */
const BUILD = Symbol.for('koa-fragment-cache.buildStore');

/**
 * What `memoryStore()`, `redisStore()`… return: a `Store` built once, by the cache that takes it
 * (with that cache's settings), or on its first call when used on its own (`build()` without
 * settings). The cache uses the store built, never this wrapper.
 */
export class FactoryStore<Settings> implements Store {
  readonly local: boolean;
  readonly #kind: string;
  readonly #build: (settings?: Settings) => Store;
  #built?: Store;

  constructor(kind: string, local: boolean, build: (settings?: Settings) => Store) {
    this.#kind = kind;
    this.local = local;
    this.#build = build;
  }

  /** Builds the store with a cache's settings; a store serves one cache (or none). */
  [BUILD](settings: Settings): Store {
    if (this.#built) throw new TypeError(`this ${this.#kind} is already in use: make one per cache`);
    return (this.#built = this.#build(settings));
  }

  get capabilities() {
    return this.#store().capabilities;
  }

  /** The built store's, or undefined when it cannot hear other processes. */
  get whenChanged(): Store['whenChanged'] {
    const store = this.#store();
    return store.whenChanged && ((key, ms) => store.whenChanged!(key, ms));
  }

  get(key: string) {
    return this.#store().get(key);
  }

  getMany(keys: readonly string[]) {
    return this.#store().getMany(keys);
  }

  set(key: string, data: string, ttlMs: number) {
    return this.#store().set(key, data, ttlMs);
  }

  add(key: string, data: string, ttlMs: number) {
    return this.#store().add(key, data, ttlMs);
  }

  delete(key: string) {
    return this.#store().delete(key);
  }

  has(key: string) {
    return this.#store().has(key);
  }

  increment(key: string, delta: number, ttlMs: number, op?: string) {
    return this.#store().increment(key, delta, ttlMs, op);
  }

  clear() {
    return this.#store().clear();
  }

  close() {
    return this.#built?.close() ?? Promise.resolve();
  }

  #store(): Store {
    return (this.#built ??= this.#build());
  }
}

/** The store a factory made, built with `settings`; undefined for any other value. */
export function builtFrom<Settings>(store: unknown, settings: Settings): Store | undefined {
  const build = (store as { [BUILD]?: unknown } | null | undefined)?.[BUILD];
  return typeof build === 'function' ? (build.call(store, settings) as Store) : undefined;
}
