import { decode, encode } from '../core/codec';
import type { Engine } from '../core/engine';
import { intervalToMs, timeoutToMs, type Timeout } from '../core/timeout';

export interface WriteBehindOptions {
  /** Seconds (or a duration string) between flushes. Default 1. */
  interval?: Timeout;
  /** Flush as soon as this many keys are queued. Default 1000. */
  maxQueued?: number;
  /**
   * The most keys that may wait while the store does not take them (it fails or is away): a push
   * of another key then throws a `WriteBehindFullError` (its caller knows it was not queued; a
   * key already queued can always be pushed again). Default 100,000; at least `maxQueued`.
   */
  capacity?: number;
  /** How long `stop()` keeps retrying writes that fail, in ms. Default 5000. */
  stopTimeoutMs?: number;
}

export interface PushOptions {
  /** Seconds (or a duration string) the entry lives once written; `0` = never expires. Default: the cache's. */
  timeout?: Timeout;
  /** Write now instead of on the next flush. */
  sync?: boolean;
}

interface Queued {
  /** Encoded when pushed: bad values fail at `push`, and later changes to the object are not seen. */
  data: string;
  ttlMs: number;
}

/** A push refused because `capacity` keys already wait to be written. */
export class WriteBehindFullError extends Error {
  constructor(
    readonly key: string,
    readonly capacity: number,
  ) {
    super(`writeBehind is full: ${capacity} keys wait to be written (is the store failing?); push of ${JSON.stringify(key)} refused`);
    this.name = 'WriteBehindFullError';
  }
}

/** Accounted bytes of a queued key beyond its text: the Map slot and the record. */
const QUEUED_OVERHEAD_BYTES = 96;

/** After a failed flush the next one waits the interval times 2^failures, at most this long. */
const MAX_RETRY_DELAY_MS = 30_000;
/** `stop()` retries sooner: it has a deadline. */
const STOP_FIRST_RETRY_MS = 50;
const STOP_MAX_RETRY_MS = 1000;

/**
 * Buffered writes: `push` queues (the last value per key wins), flushes write the queue through the
 * cache on an interval and when it reaches `maxQueued` keys. A key leaves the queue only once the
 * store has confirmed it; a failed flush keeps everything queued and is retried with backoff.
 */
export class WriteBehind {
  readonly #queue = new Map<string, Queued>();
  readonly #intervalMs: number;
  readonly #maxQueued: number;
  readonly #capacity: number;
  /** Text of the queued keys and values, in characters: what `memoryUsage()` reports. */
  #queuedChars = 0;
  readonly #stopTimeoutMs: number;
  #running = false;
  #timer?: NodeJS.Timeout;
  /** Consecutive failed flushes: what the retry delay backs off on. */
  #failures = 0;
  /** Flushes run one after another, so that a key's writes reach the store in push order. */
  #lastFlush: Promise<unknown> = Promise.resolve();
  #pendingFlushes = 0;
  readonly #engine: Engine;

  /** @internal `cache.writeBehind(options)` makes one. */
  constructor(
    engine: Engine,
    options: WriteBehindOptions = {},
  ) {
    this.#engine = engine;
    this.#intervalMs = intervalToMs(options.interval, 1000, 'interval of writeBehind');
    this.#maxQueued = options.maxQueued ?? 1000;
    if (!Number.isSafeInteger(this.#maxQueued) || this.#maxQueued < 1) {
      throw new RangeError(`maxQueued of writeBehind must be an integer >= 1, got ${String(options.maxQueued)}`);
    }
    this.#capacity = options.capacity ?? Math.max(100_000, this.#maxQueued);
    if (!Number.isSafeInteger(this.#capacity) || this.#capacity < this.#maxQueued) {
      throw new RangeError(`capacity of writeBehind must be an integer >= maxQueued (${this.#maxQueued}), got ${String(options.capacity)}`);
    }
    engine.memory.register('writeBehind', () => ({ entries: this.#queue.size, bytes: 2 * this.#queuedChars + QUEUED_OVERHEAD_BYTES * this.#queue.size }));
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 5000;
    if (!Number.isFinite(this.#stopTimeoutMs) || this.#stopTimeoutMs < 0) {
      throw new RangeError(`stopTimeoutMs of writeBehind must be a number of milliseconds >= 0, got ${String(options.stopTimeoutMs)}`);
    }
  }

  /** How many keys wait to be written. */
  get size(): number {
    return this.#queue.size;
  }

  /** Starts accepting pushes and flushing on the interval. */
  start(): this {
    if (!this.#running) {
      this.#running = true;
      this.#schedule(this.#intervalMs);
    }
    return this;
  }

  /** Queues `value` for `key`. Throws for a value the cache cannot store, or when not started. */
  push(key: string, value: unknown, options?: PushOptions & { sync?: false }): void;
  /** Writes at once; resolves whether it was stored (if not, it stays queued and is retried). */
  push(key: string, value: unknown, options: PushOptions & { sync: true }): Promise<boolean>;
  push(key: string, value: unknown, options: PushOptions = {}): void | Promise<boolean> {
    if (!this.#running) {
      throw new Error(`writeBehind is not running: push of ${JSON.stringify(key)} refused (call start(); after stop() nothing is accepted until then)`);
    }
    if (typeof key !== 'string' || key === '') throw new TypeError(`writeBehind key must be a non-empty string, got ${String(key)}`);
    const ttlMs = timeoutToMs(options.timeout, this.#engine.defaultTimeoutMs, `timeout of pushed key ${JSON.stringify(key)}`);
    const data = encode(key, value);
    const queued = this.#queue.get(key);
    if (!queued && this.#queue.size >= this.#capacity) throw new WriteBehindFullError(key, this.#capacity);
    this.#queuedChars += data.length - (queued ? queued.data.length : -key.length);
    this.#queue.set(key, { data, ttlMs });
    if (options.sync) return this.#flush([key]);
    if (this.#queue.size >= this.#maxQueued && this.#failures === 0 && this.#pendingFlushes === 0) void this.#flush();
  }

  /**
   * Reads `key` as it will be: its queued value if one waits to be written, else the stored one.
   * Removes nothing. Resolves undefined when there is neither.
   */
  async pop<T = unknown>(key: string): Promise<T | undefined> {
    const queued = this.#queue.get(key);
    return queued ? (decode(queued.data) as T) : ((await this.#engine.get(key))?.value as T | undefined);
  }

  /**
   * Takes `key` away: resolves its value as `pop` reads it, and then the key is gone from the queue
   * and from the store.
   */
  async take<T = unknown>(key: string): Promise<T | undefined> {
    const queued = this.#queue.get(key);
    this.#unqueue(key);
    const value = queued ? (decode(queued.data) as T) : ((await this.#engine.get(key))?.value as T | undefined);
    // Also when it was queued: an older value may be in the store and must not come back, nor
    // may a flush under way write it back after the delete.
    if (value !== undefined) {
      await this.#lastFlush;
      await this.#engine.delete(key);
    }
    return value;
  }

  /** Starts a flush of everything queued. */
  sync(options?: { wait?: false }): void;
  /** Flushes everything queued; resolves whether all of it was written (what was not stays queued). */
  sync(options: { wait: true }): Promise<boolean>;
  sync(options: { wait?: boolean } = {}): void | Promise<boolean> {
    if (options.wait) return this.#flush();
    void this.#flush();
  }

  /** Drops everything queued (a flush already under way still writes what it took); returns how many keys. */
  discard(): number {
    const dropped = this.#queue.size;
    this.#queue.clear();
    this.#queuedChars = 0;
    return dropped;
  }

  /**
   * Refuses further pushes and flushes, retrying failed writes for up to `stopTimeoutMs`. Resolves
   * whether everything was written; what was not stays queued (`sync` can still write it) and is
   * reported through the cache's 'error' event — never dropped.
   */
  async stop(): Promise<boolean> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const { clock } = this.#engine;
    const deadline = clock.now() + this.#stopTimeoutMs;
    let written = await this.#flush();
    for (let delay = STOP_FIRST_RETRY_MS; !written && clock.now() < deadline; delay = Math.min(2 * delay, STOP_MAX_RETRY_MS)) {
      // A timer that keeps the process alive: shutdown waits for these writes.
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, deadline - clock.now())));
      written = await this.#flush();
    }
    if (!written) {
      const keys = [...this.#queue.keys()];
      this.#engine.report(
        'writeBehind stop',
        undefined,
        new Error(
          `${keys.length} pushed value(s) could not be written within stopTimeoutMs (${this.#stopTimeoutMs} ms) and stay queued: ${keys
            .slice(0, 5)
            .map((key) => JSON.stringify(key))
            .join(', ')}${keys.length > 5 ? ', …' : ''}`,
        ),
      );
    }
    return written;
  }

  #unqueue(key: string): void {
    const queued = this.#queue.get(key);
    if (!queued) return;
    this.#queuedChars -= key.length + queued.data.length;
    this.#queue.delete(key);
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => void this.#onTimer(), delayMs).unref();
  }

  async #onTimer(): Promise<void> {
    this.#timer = undefined;
    await this.#flush();
    // Not when stopped, nor when start() was called meanwhile (it scheduled a timer of its own).
    if (this.#running && !this.#timer) {
      this.#schedule(Math.min(this.#intervalMs * 2 ** this.#failures, Math.max(this.#intervalMs, MAX_RETRY_DELAY_MS)));
    }
  }

  /** Writes the queue (or the `only` keys), after any flush under way; never rejects. */
  #flush(only?: readonly string[]): Promise<boolean> {
    this.#pendingFlushes++;
    const run = this.#lastFlush.then(() => this.#write(only)).finally(() => this.#pendingFlushes--);
    this.#lastFlush = run;
    return run;
  }

  async #write(only: readonly string[] | undefined): Promise<boolean> {
    const batch = only ? only.flatMap((key) => (this.#queue.has(key) ? [[key, this.#queue.get(key)!] as const] : [])) : [...this.#queue];
    const results = await Promise.all(
      batch.map(async ([key, entry]) => {
        try {
          return await this.#engine.set(key, decode(entry.data), entry.ttlMs);
        } catch (err) {
          this.#engine.report('writeBehind', key, err);
          return false;
        }
      }),
    );
    batch.forEach(([key, entry], i) => {
      // A key pushed again meanwhile keeps its newer value queued.
      if (results[i] && this.#queue.get(key) === entry) this.#unqueue(key);
    });
    const written = results.every(Boolean);
    if (!only) this.#failures = written ? 0 : this.#failures + 1;
    return written;
  }
}
