import type { Memo } from './memo';

/** Any memoized callable: what `memoize` returned, a `@memoized` method or getter. */
export type MemoizedCallable = (...args: never[]) => unknown;

/**
 * What a memoized callable stands for. `instance` is set for the functions `@memoized` puts on
 * each instance (`obj.method`), so that deleting through them reaches that instance only.
 */
interface Target {
  memo: Memo;
  instance?: object;
}

/** Every cache's memoized callables, to tell "memoized by another cache" from "not memoized". */
const memoizedAnywhere = new WeakSet<MemoizedCallable>();

/** The callables one cache memoized, for `cache.deleteMemoized(fn)`; weak, so it holds nothing alive. */
export class MemoizedFunctions {
  readonly #targets = new WeakMap<MemoizedCallable, Target>();

  register(callable: MemoizedCallable, memo: Memo, instance?: object): void {
    this.#targets.set(callable, { memo, instance });
    memoizedAnywhere.add(callable);
  }

  targetOf(callable: MemoizedCallable): Target | undefined {
    return this.#targets.get(callable);
  }
}

/**
 * Deletes results of a memoized callable:
 * - `fn` from `memoize`: all its results, or with `args` that call's result;
 * - `obj.method`: all results of that instance, or with `args` that call's result;
 * - `Class.prototype.method` (or a getter): all instances' results, or with `(instance, ...args)` one.
 * Resolves whether the store did it (false when it failed or, for one result, there was none).
 */
export async function deleteMemoized(functions: MemoizedFunctions, fn: MemoizedCallable, args: unknown[]): Promise<boolean> {
  const target = functions.targetOf(fn);
  if (!target) {
    if (memoizedAnywhere.has(fn)) throw new TypeError(`deleteMemoized: ${describe(fn)} is memoized by another cache`);
    throw new TypeError(`deleteMemoized: ${describe(fn)} is not memoized (pass what memoize() returned, or a @memoized method)`);
  }
  const { memo, instance } = target;
  if (instance) return args.length === 0 ? memo.deleteInstance(instance) : memo.deleteResult(instance, args);
  if (!memo.perInstance) return args.length === 0 ? memo.deleteAll() : memo.deleteResult(undefined, args);
  if (args.length === 0) return memo.deleteAll();
  const [first, ...rest] = args;
  if (typeof first !== 'object' || first === null) {
    throw new TypeError(
      `deleteMemoized: to delete one result of ${describe(fn)} through the prototype, pass the instance first: deleteMemoized(Class.prototype.method, instance, ...args)`,
    );
  }
  return memo.deleteResult(first, rest);
}

function describe(fn: unknown): string {
  return typeof fn === 'function' && fn.name ? `function ${fn.name}` : `the given ${typeof fn}`;
}
