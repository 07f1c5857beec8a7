import type { Store } from '../store/store';
import type { Clock } from './clock';
import { decode, encode } from './codec';
import type { Instrumentation } from './events';
import type { StoreCall } from './store-call';
import { traceLockWait } from './tracing';

/** How often a process waiting for another's lock checks whether the lock is gone. */
const LOCK_POLL_MS = 50;


/** How a computation meets another one of its key (running here, or behind another process's lock). */
export interface WaitOptions<T> {
  /** The caller read the store just before: the lookup runs only after waiting for another's lock. */
  readonly looked?: boolean;
  /** A stale result at hand: answered at once instead of waiting for another computation. */
  readonly stale?: () => T | undefined;
}

/**
 * The cross-process lock of shared stores: while one process computes a key, the others wait for
 * it and then read what it stored, so a deployment computes each missing key once.
 */
export class ComputeLock {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #events: Instrumentation;
  readonly #call: StoreCall;
  /** How long a lock holds at most, and how long others wait for it. */
  readonly #ageMs: number;
  readonly #waitMs: number;

  constructor(store: Store, clock: Clock, events: Instrumentation, call: StoreCall, { ageMs, waitMs }: { ageMs: number; waitMs: number }) {
    this.#store = store;
    this.#clock = clock;
    this.#events = events;
    this.#call = call;
    this.#ageMs = ageMs;
    this.#waitMs = waitMs;
  }

  /**
   * `lookup`; on a miss, an `add` of `lock:<key>` holding the time it expires. Whoever stores it
   * runs `compute`; the others wait until the owner announces the key changed, the lock is gone or
   * broken (expired but still there, or not ours), or the wait runs out, then `lookup` again
   * (finding what the owner stored) or compute it themselves. No lock (a store failure) means
   * `compute` runs, as without one.
   */
  async lookupOrCompute<T>(key: string, compute: () => Promise<T>, lookup?: () => Promise<T | undefined>, then?: WaitOptions<T>): Promise<T> {
    const found = then?.looked ? undefined : await lookup?.();
    if (found !== undefined) return found;
    const lockKey = `lock:${key}`;
    const attempt = this.#store.add(lockKey, encode(lockKey, this.#clock.now() + this.#ageMs), this.#ageMs);
    const acquired = await this.#call('lock', key, () => attempt, undefined);
    // A lock request that timed out may still land: release it then, or it would hold for lock.age.
    if (acquired === undefined) attempt.then((late) => late && this.#store.delete(lockKey)).catch(() => undefined);
    if (acquired === false) {
      const stale = then?.stale?.();
      if (stale !== undefined) return stale;
      this.#events.emit('lockWait', () => ({ key }));
      // Traced on koa-fragment-cache:lock: the wait and the read after it.
      const stored = await traceLockWait(key, async () => {
        await this.#waitFor(key, lockKey);
        return lookup?.();
      });
      if (stored !== undefined) return stored;
    }
    try {
      return await compute();
    } finally {
      if (acquired) await this.#call('unlock', key, () => this.#store.delete(lockKey), false);
    }
  }

  async #waitFor(key: string, lockKey: string): Promise<void> {
    const deadline = this.#clock.now() + this.#waitMs;
    for (let left = this.#waitMs; left > 0; left = deadline - this.#clock.now()) {
      const wait = Math.min(LOCK_POLL_MS, left);
      const changed = this.#store.whenChanged ? await this.#store.whenChanged(key, wait) : await sleep(wait);
      if (changed) return;
      const held = await this.#call('lock', key, () => this.#store.get(lockKey), undefined);
      if (held === undefined) return;
      if (!this.#holds(lockKey, held)) {
        // Expired yet still there (stored without a TTL) or not a lock at all: nobody will release it.
        await this.#call('unlock', key, () => this.#store.delete(lockKey), false);
        return;
      }
    }
  }

  #holds(lockKey: string, data: string): boolean {
    try {
      const until = decode(data);
      return typeof until === 'number' && until > this.#clock.now();
    } catch {
      this.#events.report('lock', lockKey, new Error('a lock entry that is not a lock: treated as broken'));
      return false;
    }
  }
}

function sleep(ms: number): Promise<false> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms));
}
