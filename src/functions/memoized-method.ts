import type { Engine } from '../core/engine';
import { stableStringify } from '../core/keys';
import type { MemoizedFunctions } from './delete-memoized';
import { Memo, checkOptions, type MemoizeOptions, type MemoNaming } from './memo';
import { checkedName, nameFromSource } from './memo-keys';

type AsyncMethod<This, A extends unknown[], R> = (this: This, ...args: A) => Promise<R>;

/** What `cache.memoized(options)` returns: a standard decorator for async methods and getters. */
export type MemoizedDecorator = <This extends object, A extends unknown[], R>(
  method: (this: This, ...args: A) => Promise<R>,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R>> | ClassGetterDecoratorContext<This, Promise<R>>,
) => (this: This, ...args: A) => Promise<R>;

/**
 * `@cache.memoized(options)`: a TypeScript 5 (standard) decorator for async methods and getters,
 * caching per instance as identified by the instance's `cacheKey()`.
 *
 * Each instance gets its own `obj.method` (installed when it is constructed), so that
 * `cache.deleteMemoized(obj.method)` can reach that instance's results only, while
 * `cache.deleteMemoized(Class.prototype.method)` reaches every instance's.
 */
export function memoizedMethod(engine: Engine, functions: MemoizedFunctions, options: MemoizeOptions<any[]> = {}): MemoizedDecorator {
  if (options.name !== undefined) checkedName(options.name);
  return function decorate<This extends object, A extends unknown[], R>(
    method: AsyncMethod<This, A, R>,
    context: ClassMethodDecoratorContext<This, AsyncMethod<This, A, R>> | ClassGetterDecoratorContext<This, Promise<R>>,
  ): AsyncMethod<This, A, R> {
    const member = String(context.name);
    const kind: string = context.kind; // also checked at run time: JavaScript callers have no types
    if (kind !== 'method' && kind !== 'getter') throw new TypeError(`@memoized applies to methods and getters, not to ${kind} ${member}`);
    if (context.static || context.private) {
      throw new TypeError(
        `@memoized ${member}: ${context.static ? 'static' : 'private'} members are not supported (results are keyed by instance); use cache.memoize()`,
      );
    }
    checkOptions(options, `memoized method ${member}`);
    let name = options.name;
    const naming: MemoNaming = {
      // The class is not known when decorating: it is learned from the first instance.
      name(instance) {
        if (name === undefined && instance !== undefined) {
          name = nameFromSource(`${definingClassName(instance, context.name, replacement)}.${member}`, method);
        }
        if (name === undefined) {
          throw new Error(
            `@memoized ${member}: its class is not known before an instance is constructed in this process; construct one first or give @memoized a name option`,
          );
        }
        return name;
      },
      instanceText: (instance) => instanceText(instance, member),
    };
    const memo = new Memo(engine, method as (...args: unknown[]) => unknown, options, naming);
    const replacement = function (this: This, ...args: A): Promise<R> {
      return memo.call(this, args) as Promise<R>;
    };
    functions.register(replacement, memo);
    context.addInitializer(function (this: This) {
      naming.name(this);
      // Unless a subclass overrides the method, this instance gets a function that knows it.
      if (context.kind === 'method' && (this as Record<PropertyKey, unknown>)[context.name] === replacement) {
        const own = (...args: A) => memo.call(this, args) as Promise<R>;
        functions.register(own, memo, this);
        Object.defineProperty(this, context.name, { value: own, writable: true, configurable: true });
      }
    });
    return replacement;
  };
}

/** The name of the class that defines `member` as `replacement`, found on the instance's prototype chain. */
function definingClassName(instance: object, key: string | symbol, replacement: unknown): string {
  for (let proto = Object.getPrototypeOf(instance); proto; proto = Object.getPrototypeOf(proto)) {
    const own = Object.getOwnPropertyDescriptor(proto, key);
    if (own && (own.value === replacement || own.get === replacement)) {
      const className = (proto as { constructor?: { name?: string } }).constructor?.name;
      if (!className) throw new TypeError(`@memoized ${String(key)}: its class is anonymous; give @memoized a name option`);
      return className;
    }
  }
  throw new TypeError(`@memoized ${String(key)} was called on an object that does not inherit it`);
}

/** The text of `instance.cacheKey()`, refusing instances that cannot say who they are. */
function instanceText(instance: object, member: string): string {
  const className = instance.constructor?.name || 'the class';
  const keyed = instance as { cacheKey?: unknown };
  if (typeof keyed.cacheKey !== 'function') {
    throw new TypeError(`@memoized ${className}.${member} keys its results by instance: give ${className} a cacheKey() method`);
  }
  const key: unknown = keyed.cacheKey();
  if (!key && key !== 0) {
    throw new TypeError(`@memoized ${className}.${member}: ${className}.cacheKey() returned ${JSON.stringify(key) ?? 'undefined'}; it must identify the instance`);
  }
  return stableStringify(key, `cacheKey() of ${className}`);
}
