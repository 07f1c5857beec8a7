/**
 * Durations in this library are seconds, everywhere: a number of seconds (fractions allowed) or a
 * duration string such as `'90s'`, `'5m'`, `'1h'`, `'1d'`. `undefined`/`null` means "the cache's
 * default timeout" and `0` means "never expires". The only exceptions carry `Ms` in their name.
 */
export type Timeout = number | string | null | undefined;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
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
    return Math.ceil(timeout * 1000);
  }
  if (typeof timeout === 'string') {
    const match = DURATION.exec(timeout.trim());
    if (match) return Math.ceil(Number(match[1]) * UNIT_SECONDS[match[2] ?? 's'] * 1000);
    if (/^-\s*\d/.test(timeout.trim())) {
      throw new RangeError(`${what} must not be negative, got ${JSON.stringify(timeout)}`);
    }
    throw new TypeError(
      `${what} ${JSON.stringify(timeout)} is not a duration: use seconds or a string like "90s", "5m", "1h", "1d"`,
    );
  }
  throw new TypeError(`${what} must be seconds or a duration string, got ${typeof timeout}`);
}
