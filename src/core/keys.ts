import { createHash } from 'node:crypto';
import { isPlainObject } from './codec';

/** Keys longer than this are replaced by a digest so that huge vary values never make huge keys. */
const MAX_READABLE_KEY = 200;

/** Deeper values are refused: their text would overflow the stack. */
const MAX_DEPTH = 1000;

/**
 * A text of `value` that does not depend on object key order, and that tells apart everything
 * that is different: a Date from its ISO string (`Date(0)`), an invalid Date from null, a Buffer
 * from its JSON form, a hole from `undefined` from an empty array, -0 from 0, a URL from its href,
 * 1n from 1. Objects with `toJSON` (other than those) stand for `ClassName(<their JSON>)`. An object
 * with a `cacheKey()` method stands for whatever that returns, on purpose (records keyed by id and
 * version). Throws a TypeError naming `what` for values that cannot be told apart (functions,
 * symbols, cycles, class instances without `cacheKey()`).
 */
export function stableStringify(value: unknown, what: string): string {
  // A primitive (most vary values, most request state) needs no walk.
  const primitive = primitiveText(value);
  if (primitive !== undefined) return primitive;
  const seen = new Set<object>();
  const walk = (v: unknown, path: string, depth: number): string => {
    const text = primitiveText(v);
    if (text !== undefined) return text;
    if (typeof v !== 'object' || v === null) throw new TypeError(`${what}: ${path} is a ${typeof v} and cannot be part of a cache key`);
    if (depth >= MAX_DEPTH) throw new TypeError(`${what}: ${path} is nested more than ${MAX_DEPTH} levels deep`);
    if (Buffer.isBuffer(v)) return `<${v.toString('base64')}>`;
    if (v instanceof Date) return `Date(${v.getTime()})`;
    if (v instanceof URL) return `URL(${JSON.stringify(v.href)})`;
    const keyed = v as { cacheKey?: () => unknown; toJSON?: () => unknown };
    if (typeof keyed.cacheKey === 'function') return walk(keyed.cacheKey(), `${path}.cacheKey()`, depth + 1);
    if (typeof keyed.toJSON === 'function') return `${(v as object).constructor?.name ?? 'Object'}(${walk(keyed.toJSON(), path, depth + 1)})`;
    if (seen.has(v)) throw new TypeError(`${what}: ${path} is a circular reference and cannot be part of a cache key`);
    seen.add(v);
    let out: string;
    if (Array.isArray(v)) {
      const items: string[] = [];
      for (let i = 0; i < v.length; i++) items.push(i in v ? walk(v[i], `${path}[${i}]`, depth + 1) : '<hole>');
      out = `[${items.join(',')}]`;
    } else if (v instanceof Map) out = `Map${walk([...v.entries()].sort(byFirst), path, depth + 1)}`;
    else if (v instanceof Set) out = `Set${walk([...v].map((x) => walk(x, path, depth + 1)).sort(), path, depth + 1)}`;
    else {
      if (!isPlainObject(v)) {
        throw new TypeError(
          `${what}: ${path} is a ${(v as object).constructor?.name ?? 'object'} instance; give it a cacheKey() method to use it in a key`,
        );
      }
      const keys = Object.keys(v).sort();
      out = `{${keys.map((k) => `${JSON.stringify(k)}:${walk((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1)}`).join(',')}}`;
    }
    seen.delete(v);
    return out;
  };
  return walk(value, 'argument', 0);
}

/** The text of a primitive that can be part of a key; undefined for an object, a function or a symbol. */
function primitiveText(v: unknown): string | undefined {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : Number.isFinite(v) ? JSON.stringify(v) : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  return undefined;
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
  return buildFragmentKey(checkedName(fragmentName), varyOn, 0);
}

function checkedName(fragmentName: unknown): string {
  if (typeof fragmentName !== 'string' || fragmentName === '') {
    const got = fragmentName === undefined ? 'undefined' : JSON.stringify(fragmentName);
    throw new TypeError(`fragment name must be a non-empty string, got ${got}`);
  }
  return fragmentName;
}

function buildFragmentKey(fragmentName: string, values: readonly unknown[], from: number): string {
  let key = 'fragment:' + part(fragmentName);
  for (let i = from; i < values.length; i++) key += '/' + part(varyText(values[i], fragmentName));
  return digestIfLong(key);
}

/** Rough bytes a memo node costs beyond its text: the node, its slot in the parent's Map. */
const NODE_OVERHEAD_BYTES = 80;
/** The memo starts over past this: it is a speed-up, never a store. */
const MAX_MEMO_BYTES = 4 * 1024 * 1024;
/** Longer string vary values are not kept (a search query, a body): their keys are built each time. */
const MAX_MEMOIZED_TEXT = 100;

interface KeyNode {
  key?: string;
  next?: Map<unknown, KeyNode>;
}

/**
 * Fragment keys already built, by name and then by each vary value: a freshly built key string
 * costs a store lookup ~100 ns to hash, one found here is hashed already. Only short primitive
 * values are kept (objects can change, long texts are one-offs). Bounded by bytes, every node
 * counted; past the bound it starts over. One per template extension, counted in `memoryUsage()`.
 */
export class FragmentKeys {
  #root = new Map<unknown, KeyNode>();
  #bytes = 0;
  #nodes = 0;

  /** `makeTemplateFragmentKey(name, values.slice(from))`, without the copy (the tag's hot path). */
  key(fragmentName: unknown, values: readonly unknown[], from: number): string {
    const name = checkedName(fragmentName);
    if (name.length > MAX_MEMOIZED_TEXT) return buildFragmentKey(name, values, from);
    for (let i = from; i < values.length; i++) if (!memoizable(values[i])) return buildFragmentKey(name, values, from);
    let node = this.#child(this.#root, name);
    for (let i = from; i < values.length; i++) node = this.#child((node.next ??= new Map()), values[i]);
    if (node.key === undefined) {
      node.key = buildFragmentKey(name, values, from);
      this.#bytes += node.key.length * 2;
    }
    const { key } = node;
    if (this.#bytes > MAX_MEMO_BYTES) this.#reset();
    return key;
  }

  usage(): { entries: number; bytes: number } {
    return { entries: this.#nodes, bytes: this.#bytes };
  }

  #child(map: Map<unknown, KeyNode>, value: unknown): KeyNode {
    let child = map.get(value);
    if (!child) {
      map.set(value, (child = {}));
      this.#nodes++;
      this.#bytes += NODE_OVERHEAD_BYTES + (typeof value === 'string' ? value.length * 2 : 8);
    }
    return child;
  }

  #reset(): void {
    this.#root = new Map();
    this.#bytes = 0;
    this.#nodes = 0;
  }
}

function memoizable(value: unknown): boolean {
  if (typeof value === 'string') return value.length <= MAX_MEMOIZED_TEXT;
  return value === null || typeof value === 'number' || typeof value === 'boolean';
}

/** Keeps keys readable in the store while bounding their length. */
export function digestIfLong(key: string): string {
  if (key.length <= MAX_READABLE_KEY) return key;
  const colon = key.indexOf(':');
  return `${key.slice(0, colon)}#${createHash('sha256').update(key).digest('base64url')}`;
}
