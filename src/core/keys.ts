import { createHash } from 'node:crypto';

/** Keys longer than this are replaced by a digest so that huge vary values never make huge keys. */
const MAX_READABLE_KEY = 200;

/**
 * A JSON-like text of `value` that does not depend on object key order. An object with a
 * `cacheKey()` method stands for whatever that returns (records keyed by id and version).
 * Throws a TypeError naming `what` for values that would otherwise collide (functions, cycles).
 */
export function stableStringify(value: unknown, what: string): string {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): string => {
    if (v === undefined) return 'undefined';
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : String(v);
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v !== 'object') throw new TypeError(`${what}: ${path} is a ${typeof v} and cannot be part of a cache key`);
    const keyed = v as { cacheKey?: () => unknown; toJSON?: () => unknown };
    if (typeof keyed.cacheKey === 'function') return walk(keyed.cacheKey(), `${path}.cacheKey()`);
    if (typeof keyed.toJSON === 'function') return walk(keyed.toJSON(), path);
    if (seen.has(v)) throw new TypeError(`${what}: ${path} is a circular reference and cannot be part of a cache key`);
    seen.add(v);
    let out: string;
    if (Array.isArray(v)) out = `[${v.map((item, i) => walk(item, `${path}[${i}]`)).join(',')}]`;
    else if (Buffer.isBuffer(v)) out = `<${v.toString('base64')}>`;
    else if (v instanceof Map) out = `Map${walk([...v.entries()].sort(byFirst), path)}`;
    else if (v instanceof Set) out = `Set${walk([...v].map((x) => walk(x, path)).sort(), path)}`;
    else {
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(
          `${what}: ${path} is a ${(v as object).constructor?.name ?? 'object'} instance; give it a cacheKey() method to use it in a key`,
        );
      }
      const keys = Object.keys(v).sort();
      out = `{${keys.map((k) => `${JSON.stringify(k)}:${walk((v as Record<string, unknown>)[k], `${path}.${k}`)}`).join(',')}}`;
    }
    seen.delete(v);
    return out;
  };
  return walk(value, 'argument');
}

function byFirst(a: [unknown, unknown], b: [unknown, unknown]): number {
  const x = String(a[0]);
  const y = String(b[0]);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A length-prefixed part: concatenations of these can never be read two ways. */
function part(text: string): string {
  return `${text.length}:${text}`;
}

function varyText(value: unknown, fragmentName: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return '';
  return stableStringify(value, `vary value of fragment ${JSON.stringify(fragmentName)}`);
}

/**
 * The key of a named template fragment: `{% cache t, name, v1, v2 %}` stores under
 * `makeTemplateFragmentKey(name, [v1, v2])`. Vary values are stringified, so `1` and `'1'` are the
 * same key on purpose; `null`/`undefined` count as `''`; objects are serialized with sorted keys.
 * Name and vary values are length-prefixed, so `('a_b')`, `('a', ['b'])` and `('a', ['b,c'])` differ.
 */
export function makeTemplateFragmentKey(fragmentName: string, varyOn: readonly unknown[] = []): string {
  if (!Array.isArray(varyOn)) throw new TypeError(`varyOn of fragment ${JSON.stringify(fragmentName)} must be an array`);
  return fragmentKey(fragmentName, varyOn, 0);
}

/** `makeTemplateFragmentKey(name, values.slice(from))`, without the copy (the tag's hot path). */
export function fragmentKey(fragmentName: unknown, values: readonly unknown[], from: number): string {
  if (typeof fragmentName !== 'string' || fragmentName === '') {
    const got = fragmentName === undefined ? 'undefined' : JSON.stringify(fragmentName);
    throw new TypeError(`fragment name must be a non-empty string, got ${got}`);
  }
  return memoizedKey(fragmentName, values, from) ?? buildFragmentKey(fragmentName, values, from);
}

function buildFragmentKey(fragmentName: string, values: readonly unknown[], from: number): string {
  let key = 'fragment:' + part(fragmentName);
  for (let i = from; i < values.length; i++) key += '/' + part(varyText(values[i], fragmentName));
  return digestIfLong(key);
}

/**
 * Fragment keys already built, by name and then by each (primitive) vary value. A freshly built key
 * string costs a store lookup ~100 ns to hash; one found here is hashed already. Bounded: the memo
 * starts over past MAX_MEMOIZED_KEYS. Object vary values are not memoized (they can change).
 */
interface KeyNode {
  key?: string;
  next?: Map<unknown, KeyNode>;
}
const MAX_MEMOIZED_KEYS = 50_000;
let keyMemo = new Map<unknown, KeyNode>();
let memoizedKeys = 0;

function memoizedKey(fragmentName: string, values: readonly unknown[], from: number): string | undefined {
  let node: KeyNode = keyMemo.get(fragmentName) ?? {};
  if (node.next === undefined && node.key === undefined) keyMemo.set(fragmentName, node);
  for (let i = from; i < values.length; i++) {
    const value = values[i];
    if (value !== null && (typeof value === 'object' || typeof value === 'function')) return undefined;
    node.next ??= new Map();
    let child = node.next.get(value);
    if (!child) node.next.set(value, (child = {}));
    node = child;
  }
  if (node.key === undefined) {
    if (++memoizedKeys > MAX_MEMOIZED_KEYS) {
      keyMemo = new Map();
      memoizedKeys = 0;
    }
    node.key = buildFragmentKey(fragmentName, values, from);
  }
  return node.key;
}

/** Keeps keys readable in the store while bounding their length. */
export function digestIfLong(key: string): string {
  if (key.length <= MAX_READABLE_KEY) return key;
  const colon = key.indexOf(':');
  return `${key.slice(0, colon)}#${createHash('sha256').update(key).digest('base64url')}`;
}
