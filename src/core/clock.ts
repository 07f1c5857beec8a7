/**
 * What tells the cache the time, in milliseconds since the epoch. Expiry, freshness, stale windows,
 * backoff and stats all read it; tests pass a clock they advance instead of sleeping. Timers that
 * wait (lock polling, refresh intervals) still run on real time.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
