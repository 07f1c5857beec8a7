import type { Clock } from '../../src';
import type { StoreKind } from './stores';
import { sleep } from './wait';

/**
 * A clock tests move by hand: give it to a cache (`new Cache({ clock })`, or a MemoryStore's
 * constructor) and expiry, freshness, stale windows, backoff, stats and fragment ages follow it
 * instead of real time. Timers that wait (lock polling, intervals, operation deadlines) still run
 * on real time, and Redis counts its TTLs on the server.
 */
export interface ManualClock extends Clock {
  /** The time it shows, ms since the epoch. */
  now(): number;
  /** Moves the time forward by `ms`; returns the new time. */
  advance(ms: number): number;
  /**
   * `advance(ms)`, then lets a real millisecond pass. Use it before reading a memory store:
   * lru-cache reuses a time it read for up to 1 ms (its `ttlResolution`), so an entry the advance
   * expired would otherwise still be served by a read right after it. Callbacks already due run too.
   */
  pass(ms: number): Promise<void>;
}

/** A clock at `start` (ms since the epoch, never 0: lru-cache reads a start time of 0 as "no TTL") that moves only when told. */
export function manualClock(start = Date.now()): ManualClock {
  if (!(start > 0)) throw new RangeError(`a manual clock starts after the epoch, got ${start}`);
  let time = start;
  const clock: ManualClock = {
    now: () => time,
    advance(ms) {
      if (!(ms >= 0)) throw new RangeError(`a clock only moves forward, got advance(${ms})`);
      return (time += ms);
    },
    async pass(ms) {
      clock.advance(ms);
      await sleep(1);
    },
  };
  return clock;
}

/**
 * How a suite run on each store kind lets time pass for expiry and freshness. On the memory store
 * the caches take `clock` (a manual one) and `pass(ms)` advances it; on Redis `clock` is undefined
 * (real time) and `pass(ms)` sleeps, because Redis expires entries on its own clock.
 */
export function timeOn(kind: StoreKind): { clock: ManualClock | undefined; pass(ms: number): Promise<void> } {
  if (kind === 'memory') {
    const clock = manualClock();
    return { clock, pass: (ms) => clock.pass(ms) };
  }
  return { clock: undefined, pass: (ms) => sleep(ms) };
}
