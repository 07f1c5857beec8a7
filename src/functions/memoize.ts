import type { Engine } from '../core/engine';
import type { MemoizedFunctions } from './delete-memoized';
import { Memo, checkOptions, type MemoizeOptions } from './memo';
import { checkedName, nameFromSource } from './memo-keys';
import { checkedWaitMs, waitAtMost } from '../core/wait-timeout';

export type { MemoizeOptions } from './memo';

/** What `cache.memoize(fn)` returns: `fn`, cached, with the same parameters. */
export interface Memoized<A extends unknown[], R> {
  (...args: A): Promise<Awaited<R>>;
  /** The original function. */
  readonly uncached: (...args: A) => R;
  /**
   * The store key a call with `args` reads now (it includes the current version), or undefined
   * when the store is failing.
   */
  keyFor(...args: A): Promise<string | undefined>;
  /**
   * Without arguments, deletes every result with one store write (resolves whether it was
   * stored); with `args`, deletes that call's result (resolves whether there was one).
   */
  deleteMemoized(...args: Partial<A>): Promise<boolean>;
  /**
   * The same function for callers that wait at most `ms` milliseconds: past that they get a
   * `CacheWaitTimeout`, while the computation goes on and fills the cache for later calls.
   */
  withTimeout(ms: number): (...args: A) => Promise<Awaited<R>>;
}

export function memoize<A extends unknown[], R>(
  engine: Engine,
  functions: MemoizedFunctions,
  fn: (...args: A) => R,
  options: NoInfer<MemoizeOptions<A>> = {},
): Memoized<A, R> {
  if (typeof fn !== 'function') throw new TypeError(`memoize needs a function, got ${typeof fn}`);
  const name = options.name === undefined ? nameFromSource(fn.name, fn) : checkedName(options.name);
  checkOptions(options, `memoized ${name}`);
  const memo = new Memo(engine, fn as (...args: unknown[]) => unknown, options, { name: () => name });
  const call = (...args: A) => memo.call(undefined, args) as Promise<Awaited<R>>;
  const memoized: Memoized<A, R> = Object.assign(call, {
    uncached: fn,
    keyFor: (...args: A) => memo.keyFor(undefined, args),
    deleteMemoized: (...args: Partial<A>) => (args.length === 0 ? memo.deleteAll() : memo.deleteResult(undefined, args)),
    withTimeout: (ms: number) => {
      const waitMs = checkedWaitMs(ms);
      return (...args: A) => waitAtMost(call(...args), waitMs, name);
    },
  });
  functions.register(memoized, memo);
  return memoized;
}
