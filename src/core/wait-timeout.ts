/**
 * A caller stopped waiting for a memoized value. The computation was not cancelled: it goes on
 * and stores its result, so a later call finds it cached.
 */
export class CacheWaitTimeout extends Error {
  constructor(
    readonly functionName: string,
    readonly waitedMs: number,
    /** What gave no value, in the message: default `memoized <functionName>`. */
    what = `memoized ${functionName}`,
  ) {
    super(`${what} gave no value within ${waitedMs} ms (it goes on computing and will fill the cache)`);
    this.name = 'CacheWaitTimeout';
  }
}

/** Checks a wait limit given to `withTimeout(ms)`. */
export function checkedWaitMs(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(`withTimeout(ms) needs a finite number of milliseconds > 0, got ${String(ms)}`);
  }
  return ms;
}

/** `work`'s outcome if it settles within `ms`, else a CacheWaitTimeout; `work` itself runs on. */
export function waitAtMost<T>(work: Promise<T>, ms: number, functionName: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CacheWaitTimeout(functionName, ms)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** Whether `work` settles within `ms` (it goes on either way). */
export function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  return Promise.race([work.then(() => true, () => true), expired]).finally(() => clearTimeout(timer));
}
