import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock';

/** After a refresh of a key that stored nothing, the next waits this long, doubling up to the cap. */
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;
/** Keys waiting at most; a refresh beyond is not queued (the stale or expiring entry is still served). */
const MAX_WAITING = 1000;
/** Keys whose failures are remembered at most (the oldest are forgotten first). */
const MAX_BACKING_OFF = 10_000;

/**
 * Background refreshes with bounded concurrency and bounded work: at most `concurrency` run at
 * once, the rest wait in order (at most MAX_WAITING keys), a key already waiting or running is not
 * queued again, and a key whose refresh stored nothing (the route failed, answered 5xx, or its
 * response may not be stored) is not refreshed again before its backoff, exponential and capped,
 * runs out. So a failing upstream costs one recomputation per key per backoff, not one per hit.
 */
export class RefreshQueue {
  #running = 0;
  readonly #waiting: [key: string, refresh: () => Promise<boolean>][] = [];
  /** The refreshes queued or running, by key: settled with whether they stored. */
  readonly #queued = new Map<string, { promise: Promise<boolean>; resolve: (stored: boolean) => void }>();
  readonly #backoff = new LRUCache<string, { failures: number; until: number }>({ max: MAX_BACKING_OFF });

  constructor(
    private readonly concurrency: number,
    private readonly clock: Clock,
  ) {}

  /**
   * Queues `refresh` for `key` unless it is queued, backing off, or the queue is full; it resolves
   * whether it stored. Returns when the key's refresh (this one, or the one queued before) settles;
   * undefined when none is coming.
   */
  schedule(key: string, refresh: () => Promise<boolean>): Promise<boolean> | undefined {
    const queued = this.#queued.get(key);
    if (queued || this.#waiting.length >= MAX_WAITING) return queued?.promise;
    const backoff = this.#backoff.get(key);
    if (backoff && this.clock.now() < backoff.until) return undefined;
    let resolve!: (stored: boolean) => void;
    const promise = new Promise<boolean>((done) => (resolve = done));
    this.#queued.set(key, { promise, resolve });
    this.#waiting.push([key, refresh]);
    this.#drain();
    return promise;
  }

  #drain(): void {
    while (this.#running < this.concurrency && this.#waiting.length > 0) {
      const [key, refresh] = this.#waiting.shift()!;
      this.#running++;
      // A refresh reports its own failures; this only keeps the queue moving.
      void refresh()
        .catch(() => false)
        .then((stored) => {
          this.#settled(key, stored);
          this.#queued.get(key)?.resolve(stored);
        })
        .finally(() => {
          this.#running--;
          this.#queued.delete(key);
          this.#drain();
        });
    }
  }

  #settled(key: string, stored: boolean): void {
    if (stored) {
      this.#backoff.delete(key);
      return;
    }
    const failures = (this.#backoff.get(key)?.failures ?? 0) + 1;
    const waitMs = Math.min(FIRST_BACKOFF_MS * 2 ** (failures - 1), MAX_BACKOFF_MS);
    this.#backoff.set(key, { failures, until: this.clock.now() + waitMs });
  }
}
