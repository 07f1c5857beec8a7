import { createHash, randomBytes } from 'node:crypto';
import { stableStringify } from '../core/keys';

/**
 * Where memoized results live in the store. `<name>` never contains ':'; versions and digests are
 * base64url (no ':' or '.'), so every layout below reads only one way:
 *
 *   memo:<name>:version                                   the function's version
 *   memo:<name>:i.<digest of cacheKey()>:version          an instance's version (methods)
 *   memo:<name>:<version>[:<instance version>]:<digest>   one result (digest of instance + arguments)
 *
 * Deleting every result of a function (or of one instance) is writing a new version: the old
 * entries are then unreachable and expire by themselves.
 */

export function functionVersionKey(name: string): string {
  return `memo:${name}:version`;
}

export function instanceVersionKey(name: string, instanceText: string): string {
  return `memo:${name}:i.${digest(instanceText)}:version`;
}

export function entryKey(name: string, versions: readonly string[], callText: string): string {
  return `memo:${name}:${versions.join(':')}:${digest(callText)}`;
}

/** A fresh random version: 48 bits, 8 characters. */
export function newVersion(): string {
  return randomBytes(6).toString('base64url');
}

export function isVersion(value: unknown): value is string {
  return typeof value === 'string' && /^[\w-]+$/.test(value);
}

/** The key of `name` option, checked: non-empty, without ':' or whitespace (they would make keys ambiguous). */
export function checkedName(name: unknown): string {
  if (typeof name !== 'string' || !/^[^\s:]+$/.test(name)) {
    throw new TypeError(`name must be a non-empty string without ':' or whitespace, got ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * A namespace that is the same in every process running the same code: the function's name and a
 * digest of its source (never an object identity). Changing the function's code starts a fresh one.
 * Functions whose source cannot be seen (bound, native) have no such name.
 */
export function nameFromSource(label: string, fn: (...args: never[]) => unknown): string {
  const source = fn.toString();
  if (!label || source.includes('[native code]')) {
    const kind = label ? `${label} is bound or native (its source is not visible), so it` : 'an anonymous function';
    throw new TypeError(`memoize: ${kind} needs a name option (the namespace of its results in the store)`);
  }
  return `${label.replace(/[^\w.$-]/g, '_')}.${digest(source).slice(0, 8)}`;
}

/**
 * The text a call is keyed by: its arguments with `ignored` indexes and trailing `undefined`s
 * dropped (so `f(1)` and `f(1, undefined)` share an entry), serialized independently of object key
 * order. A method call is prefixed by its instance's key. Throws a TypeError starting with `what`.
 */
export function callText(args: readonly unknown[], ignored: ReadonlySet<number>, what: string, instanceText?: string): string {
  const kept = args.map((arg, i) => (ignored.has(i) ? undefined : arg));
  while (kept.length > 0 && kept[kept.length - 1] === undefined) kept.pop();
  const text = stableStringify(kept, what);
  return instanceText === undefined ? text : `${instanceText.length}:${instanceText}${text}`;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}
