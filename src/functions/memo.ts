import { dependOnTags, expectTags } from '../core/dependencies';
import type { Engine } from '../core/engine';
import { validateTags } from '../core/tags';
import { timeoutToMs, type Timeout } from '../core/timeout';
import { computeTagged, staleTerms, valueOrCompute, type StaleOptions } from '../core/value-computation';
import { CacheWaitTimeout } from '../core/wait-timeout';
import { callText, entryKey, functionVersionKey, instanceVersionKey, isVersion, newVersion } from './memo-keys';

export interface MemoizeOptions<A extends unknown[] = unknown[]> extends StaleOptions {
  /** Seconds (or a duration string such as '5m') a result lives; `0` = never expires. Default: the cache's. */
  timeout?: Timeout;
  /**
   * Namespace of the results in the store; processes that share it share results. Default: the
   * function's name and a digest of its source (`ClassName.method…` for methods).
   */
  name?: string;
  /** Indexes of arguments that do not change the result (a logger, a request context). */
  argsToIgnore?: readonly number[];
  /** When it returns true, the call runs the function without reading or writing the cache. */
  unless?: (...args: A) => boolean;
  /** When it returns true, the call recomputes and stores the result instead of reading it. */
  forcedUpdate?: (...args: A) => boolean;
  /** Store `undefined` results too. Default false: an `undefined` result is recomputed each call. */
  cacheUndefined?: boolean;
  /** Tags of a call's result: `cache.invalidateTags()` of any of them makes it a miss. */
  tags?: (...args: A) => readonly string[];
}

/** How a Memo names its entries; methods learn their class from their first instance. */
export interface MemoNaming {
  name(instance?: object): string;
  /** Methods only: the text of an instance's `cacheKey()`. */
  instanceText?(instance: object): string;
}

/** Where a call's result lives: its namespace, the version keys its key depends on, its text. */
interface Address {
  name: string;
  versionKeys: string[];
  text: string;
}

/**
 * What is behind `memoize` and `@memoized`: keys a call, reads or computes it once for all
 * concurrent callers (`engine.getOrCompute`, through value-computation.ts), stores it, and keeps the versions that make "delete
 * every result" a single write.
 */
export class Memo {
  private readonly ignored: ReadonlySet<number>;
  private readonly ttlMs: number;
  private readonly stale: ReturnType<typeof staleTerms>;
  private readonly keptMs: number;

  constructor(
    private readonly engine: Engine,
    private readonly fn: (...args: unknown[]) => unknown,
    private readonly options: MemoizeOptions<any[]>,
    readonly naming: MemoNaming,
  ) {
    this.ignored = new Set(options.argsToIgnore ?? []);
    this.ttlMs = timeoutToMs(options.timeout, engine.defaultTimeoutMs, 'timeout');
    this.stale = staleTerms(options, 'memoize'); // checked with the function's name by checkOptions
    // Versions live as long as the results they reach, stale copies (grace) included.
    this.keptMs = this.ttlMs === 0 ? 0 : this.ttlMs + this.stale.graceMs;
    if (options.tags) expectTags();
  }

  get perInstance(): boolean {
    return this.naming.instanceText !== undefined;
  }

  async call(instance: object | undefined, args: unknown[]): Promise<unknown> {
    if (this.options.unless?.(...args)) return this.fn.apply(instance, args);
    const forced = this.options.forcedUpdate?.(...args) === true;
    const { name, versionKeys, text } = this.address(instance, args);
    const versions = await this.versions(versionKeys, true);
    if (!versions) {
      // The store could not give a version (it is failing): compute without caching.
      return this.engine.coalesce(`memo:${name}:unversioned:${text}`, async () => this.fn.apply(instance, args));
    }
    const key = entryKey(name, versions, text);
    const engine = this.engine;
    const result = await valueOrCompute(engine, {
      kind: 'memoized',
      name,
      key,
      // A forced update must not be answered by a read (or a computation) that started before it.
      computeKey: forced ? `${key}:forced` : key,
      forced,
      ttlMs: this.ttlMs,
      ...this.stale,
      timeoutError: (waitedMs) => new CacheWaitTimeout(name, waitedMs),
      unstorable: `memoized ${name} returned a value that cannot be cached`,
      // A box, so that a cached `undefined` (cacheUndefined) differs from a miss.
      unbox: (stored) => (Array.isArray(stored) ? { value: stored[0] as unknown } : undefined),
      compute: async () => {
        const tags = this.options.tags && validateTags(this.options.tags(...args), `memoized ${name}`);
        return computeTagged(engine, tags, this.ttlMs, () => this.fn.apply(instance, args));
      },
      box: ({ value, tags }) => {
        if ((value === undefined && !this.options.cacheUndefined) || (this.options.tags && !tags)) return undefined;
        return { value: value === undefined ? [] : [value], tags };
      },
      stored: () => this.keepVersions(versionKeys, versions),
    });
    // A response (or fragment) computing with this value depends on its tags too.
    dependOnTags(result.tags);
    return result.value;
  }

  /** The key a call with `args` reads now, or undefined when the store cannot tell its version. */
  async keyFor(instance: object | undefined, args: unknown[]): Promise<string | undefined> {
    const { name, versionKeys, text } = this.address(instance, args);
    const versions = await this.versions(versionKeys, true);
    return versions && entryKey(name, versions, text);
  }

  /** Deletes the result of one call; resolves whether there was one. */
  async deleteResult(instance: object | undefined, args: unknown[]): Promise<boolean> {
    const { name, versionKeys, text } = this.address(instance, args);
    const versions = await this.versions(versionKeys, false);
    return versions !== undefined && this.engine.delete(entryKey(name, versions, text));
  }

  /** Makes every result unreachable with one write, whatever their number; resolves whether stored. */
  deleteAll(): Promise<boolean> {
    return this.engine.set(functionVersionKey(this.naming.name()), newVersion(), this.keptMs);
  }

  /** Same, for the results of one instance of a memoized method. */
  deleteInstance(instance: object): Promise<boolean> {
    const name = this.naming.name(instance);
    return this.engine.set(instanceVersionKey(name, this.naming.instanceText!(instance)), newVersion(), this.keptMs);
  }

  private address(instance: object | undefined, args: unknown[]): Address {
    if (!this.perInstance) {
      const name = this.naming.name();
      return { name, versionKeys: [functionVersionKey(name)], text: callText(args, this.ignored, `memoized ${name}`) };
    }
    if (typeof instance !== 'object' || instance === null) {
      throw new TypeError('a @memoized method was called without an instance (as a detached function?)');
    }
    const name = this.naming.name(instance);
    const instanceText = this.naming.instanceText!(instance);
    return {
      name,
      versionKeys: [functionVersionKey(name), instanceVersionKey(name, instanceText)],
      text: callText(args, this.ignored, `memoized ${name}`, instanceText),
    };
  }

  /** The current versions, created when absent if `create` (`add`, so concurrent creators agree). */
  private async versions(keys: string[], create: boolean): Promise<string[] | undefined> {
    let values = await this.versionValues(keys);
    if (!values.every(isVersion) && create) {
      await Promise.all(keys.map((key, i) => isVersion(values[i]) || this.engine.add(key, newVersion(), this.keptMs)));
      values = await this.versionValues(keys);
    }
    return values.every(isVersion) ? values : undefined;
  }

  private async versionValues(keys: string[]): Promise<unknown[]> {
    return (await this.engine.read(keys)).map((entry) => entry?.value);
  }

  /**
   * Keeps every version alive at least as long as a stored entry (Flask-Caching #531). Re-read
   * first: writing back a version replaced meanwhile (deleteMemoized) would revive old entries.
   */
  private async keepVersions(versionKeys: string[], versions: string[]): Promise<void> {
    const current = await this.versionValues(versionKeys);
    await Promise.all(versionKeys.map((versionKey, i) => current[i] === versions[i] && this.engine.set(versionKey, versions[i], this.keptMs)));
  }
}

/** Checks options once, when a function is memoized, naming the offending option. */
export function checkOptions(options: MemoizeOptions<any[]>, what: string): void {
  timeoutToMs(options.timeout, 0, `timeout of ${what}`);
  staleTerms(options, what);
  const { argsToIgnore } = options;
  if (argsToIgnore !== undefined && !(Array.isArray(argsToIgnore) && argsToIgnore.every((i) => Number.isSafeInteger(i) && i >= 0))) {
    throw new TypeError(`argsToIgnore of ${what} must be an array of argument indexes (integers >= 0)`);
  }
  for (const option of ['unless', 'forcedUpdate', 'tags'] as const) {
    if (options[option] !== undefined && typeof options[option] !== 'function') {
      throw new TypeError(`${option} of ${what} must be a function of the call's arguments`);
    }
  }
  if (options.cacheUndefined !== undefined && typeof options.cacheUndefined !== 'boolean') {
    throw new TypeError(`cacheUndefined of ${what} must be a boolean`);
  }
}
