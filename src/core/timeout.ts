/**
 * Lifetimes in this library are seconds, everywhere: a number of seconds (fractions allowed) or a
 * duration string such as `'90s'`, `'5m'`, `'1h'`, `'1d'`. `undefined`/`null` means "the cache's
 * default timeout" and `0` means "never expires". The only exceptions carry `Ms` in their name.
 */
export type Timeout = number | string | null | undefined;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** The longest timeout accepted: 365 days (use `0` for "never expires"). */
export const MAX_TIMEOUT_SECONDS = 365 * 86400;
const DURATION = /^(\d+(?:\.\d+)?)\s*([smhd])?$/;

/**
 * Resolves a timeout to milliseconds (`0` = never expires). `what` names the value in errors,
 * e.g. `timeout of fragment "sidebar"`.
 */
export function timeoutToMs(timeout: Timeout, defaultMs: number, what = 'timeout'): number {
  if (timeout === undefined || timeout === null) return defaultMs;
  if (typeof timeout === 'number') {
    if (!Number.isFinite(timeout) || timeout < 0) {
      throw new RangeError(`${what} must be a finite number of seconds >= 0, got ${String(timeout)}`);
    }
    return withinMaximum(timeout, timeout, what);
  }
  if (typeof timeout === 'string') {
    const match = DURATION.exec(timeout.trim());
    if (match) return withinMaximum(Number(match[1]) * UNIT_SECONDS[match[2] ?? 's'], timeout, what);
    if (/^-\s*\d/.test(timeout.trim())) {
      throw new RangeError(`${what} must not be negative, got ${JSON.stringify(timeout)}`);
    }
    throw new TypeError(
      `${what} ${JSON.stringify(timeout)} is not a duration: use seconds or a string like "90s", "5m", "1h", "1d"`,
    );
  }
  throw new TypeError(`${what} must be seconds or a duration string, got ${typeof timeout}`);
}

function withinMaximum(seconds: number, given: Timeout, what: string): number {
  if (seconds > MAX_TIMEOUT_SECONDS) {
    throw new RangeError(`${what} must be at most ${MAX_TIMEOUT_SECONDS} seconds (365 days; 0 = never expires), got ${JSON.stringify(given)}`);
  }
  return Math.ceil(seconds * 1000);
}

/** The longest interval a timer can wait (2^31 - 1 ms, about 24.8 days); Node runs longer ones at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An interval between runs (refreshes, flushes): > 0 and short enough for a timer. */
export function intervalToMs(interval: Timeout, defaultMs: number, what: string): number {
  const ms = timeoutToMs(interval, defaultMs, what);
  if (ms === 0) throw new RangeError(`${what} must be > 0`);
  if (ms > MAX_TIMER_MS) throw new RangeError(`${what} must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds (a timer's limit), got ${JSON.stringify(interval)}`);
  return ms;
}
