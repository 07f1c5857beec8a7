import type { Engine } from '../core/engine';
import { intervalToMs, timeoutToMs, type Timeout } from '../core/timeout';

export interface RefreshingOptions {
  /** Seconds (or a duration string) between refreshes. Required, > 0. */
  interval: Timeout;
  /**
   * Seconds the shared entry outlives its last refresh (`0` = never expires); must be 0 or at
   * least `interval`. Default: twice the interval, so one missed refresh does not drop the value.
   */
  timeout?: Timeout;
}

/** What the store holds under the key: the value, and when it was computed (epoch ms). */
interface Stored<T> {
  value: T;
  updatedAt: number;
}

/**
 * The election lock lives a little less than an interval, so that the process holding it finds it
 * free again at its own next tick despite timer jitter; refreshes are thus >= 0.9 interval apart.
 */
const LOCK_SHARE_OF_INTERVAL = 0.9;

/**
 * A value kept fresh in the background: computed by `fn` every `interval`, stored under `key`.
 * With a shared store, one process per interval refreshes (it wins `cache.add` of a lock key) and
 * the others adopt what it stored. A failing refresh keeps the last good value.
 */
export class Refreshing<T> {
  #current?: Stored<T>;
  #running?: Promise<T>;
  #loading?: Promise<T>;
  #error: unknown;
  #timer?: NodeJS.Timeout;
  #stopped = false;
  readonly #lockKey: string;
  readonly #lockMs: number;
  readonly #ttlMs: number;
  readonly #engine: Engine;
  readonly #fn: () => T | Promise<T>;

  /** @internal `cache.refreshing(key, fn, options)` makes one. */
  constructor(
    engine: Engine,
    readonly key: string,
    fn: () => T | Promise<T>,
    options: RefreshingOptions,
  ) {
    this.#engine = engine;
    this.#fn = fn;
    if (typeof key !== 'string' || key === '') throw new TypeError(`refreshing needs a non-empty key, got ${JSON.stringify(key)}`);
    if (typeof fn !== 'function') throw new TypeError(`refreshing ${JSON.stringify(key)} needs a function, got ${typeof fn}`);
    const what = `of refreshing ${JSON.stringify(key)}`;
    if (!options?.interval) throw new RangeError(`interval ${what} is required and must be > 0`);
    const intervalMs = intervalToMs(options.interval, 0, `interval ${what}`);
    const timeoutMs = timeoutToMs(options.timeout, 2 * intervalMs, `timeout ${what}`);
    if (timeoutMs !== 0 && timeoutMs < intervalMs) {
      throw new RangeError(`timeout ${what} must be 0 (never expires) or at least the interval`);
    }
    this.#ttlMs = timeoutMs;
    this.#lockKey = `refresh-lock:${key}`;
    this.#lockMs = Math.ceil(intervalMs * LOCK_SHARE_OF_INTERVAL);
    // Intervals count from the first value (or the failure to get it), not from its first store call.
    const tickFromNow = () => {
      if (!this.#stopped) this.#timer = setInterval(() => void this.#tick(), intervalMs).unref();
    };
    this.get()
      .catch((err) => this.#engine.report('refresh', key, err))
      .finally(tickFromNow);
  }

  /** The value; before the first one exists, waits for it (and rejects if computing it fails). */
  async get(): Promise<T> {
    if (this.#current) return this.#current.value;
    this.#loading ??= this.#load().finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  /** Computes the value now (joining a refresh already running); rejects if `fn` fails. */
  refresh(): Promise<T> {
    this.#running ??= this.#compute().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Stops refreshing on the interval; `get()` keeps answering the last value. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** When the value this handle holds was computed (here or by another process). */
  get lastUpdated(): Date | undefined {
    return this.#current && new Date(this.#current.updatedAt);
  }

  /** Why the latest refresh failed; undefined once one succeeds. */
  get lastError(): unknown {
    return this.#error;
  }

  async #load(): Promise<T> {
    if (await this.#adoptStored()) return this.#current!.value;
    return this.refresh();
  }

  async #tick(): Promise<void> {
    if (this.#running) return; // refreshes never overlap
    try {
      if (await this.#engine.add(this.#lockKey, 1, this.#lockMs)) await this.refresh();
      else await this.#adoptStored();
    } catch (err) {
      this.#engine.report('refresh', this.key, err);
    }
  }

  async #compute(): Promise<T> {
    try {
      // Always recomputed, never joined: the refresh lock and #running keep refreshes from overlapping.
      const stored = await this.#engine.computeAlone<Stored<T>>({
        kind: 'value',
        name: this.key,
        key: this.key,
        ttlMs: this.#ttlMs,
        compute: async () => {
          const value = await this.#fn();
          if (value === undefined) throw new TypeError(`refreshing ${JSON.stringify(this.key)}: the function returned undefined`);
          return { value, updatedAt: this.#engine.clock.now() };
        },
        entries: (computed) => [[this.key, { value: computed }]],
        unstorable: `refreshing ${JSON.stringify(this.key)} returned a value that cannot be cached`,
        stored: () => this.#engine.events.record('refresh', 'value', this.key, this.key),
      });
      this.#current = stored;
      this.#error = undefined;
      return stored.value;
    } catch (err) {
      this.#error = err;
      throw err;
    }
  }

  /** Takes the stored value if it is newer than ours; resolves whether we hold a value. */
  async #adoptStored(): Promise<boolean> {
    const stored = (await this.#engine.get(this.key))?.value;
    if (isStored<T>(stored) && !(this.#current && this.#current.updatedAt >= stored.updatedAt)) this.#current = stored;
    return this.#current !== undefined;
  }
}

function isStored<T>(value: unknown): value is Stored<T> {
  return typeof value === 'object' && value !== null && 'value' in value && typeof (value as Stored<T>).updatedAt === 'number';
}
