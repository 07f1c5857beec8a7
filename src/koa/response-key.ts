import type { Context } from 'koa';
import { digestIfLong } from '../core/keys';
import { ABSENT_STATE, isStateName } from '../core/state-reads';
import type { VaryIndex } from './stored-entry';

/** What a response cache key starts with unless a route names its own `keyPrefix`. */
export const DEFAULT_RESPONSE_KEY_PREFIX = 'response:';

/** One value of a query parameter. */
export type QueryValue = string | number | boolean;

/** A query as `deleteCached` takes it: `'a=1&b=2'` (a leading `?` is ignored), an object, or pairs. */
export type QueryInput = string | Readonly<Record<string, QueryValue | readonly QueryValue[] | undefined>> | Iterable<readonly [string, QueryValue]>;

/**
 * The query in one canonical text: parameters sorted by name, repeated parameters' values sorted,
 * so `?b=2&a=1` and `?a=1&b=2` (and `?a=2&a=1` and `?a=1&a=2`) give the same text.
 */
export function normaliseQuery(query: QueryInput | undefined): string {
  if (query === undefined || query === '') return '';
  if (typeof query === 'string' && isCanonical(query)) return query;
  const pairs = queryPairs(query);
  pairs.sort(([a, x], [b, y]) => compare(a, b) || compare(x, y));
  return pairs.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&');
}

/** Characters that decoding leaves alone and `encodeURIComponent` gives back as they are. */
const PLAIN = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~!*'()-") PLAIN[c.charCodeAt(0)] = 1;
const AMPERSAND = 38;
const EQUALS = 61;

/** Whether `query` is already its own canonical text (`a=1&b=2`): plain `name=value` pairs, in order. Most are. */
function isCanonical(query: string): boolean {
  let start = 0;
  let equals = -1;
  let previous: [string, string] | undefined;
  for (let i = 0; i <= query.length; i++) {
    const c = i < query.length ? query.charCodeAt(i) : AMPERSAND;
    if (c === AMPERSAND) {
      if (equals < 0) return false;
      // One pair (the usual query) needs no comparison, and no slice.
      if (previous || i < query.length) {
        const pair: [string, string] = [query.slice(start, equals), query.slice(equals + 1, i)];
        if (previous && (compare(previous[0], pair[0]) || compare(previous[1], pair[1])) > 0) return false;
        previous = pair;
      }
      start = i + 1;
      equals = -1;
    } else if (c === EQUALS && equals < 0) equals = i;
    else if (!PLAIN[c]) return false;
  }
  return true;
}

/** A path that may carry its query (`'/list?a=1'`) and a separately given query, as path and normalised query. */
export function splitPath(path: string, query: QueryInput | undefined): { path: string; query: string } {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`path must start with "/", got ${JSON.stringify(path)}`);
  const question = path.indexOf('?');
  if (question < 0) return { path, query: normaliseQuery(query) };
  if (query !== undefined) throw new TypeError('query was given both in path and in the query option');
  return { path: path.slice(0, question), query: normaliseQuery(path.slice(question + 1)) };
}

/** The key under which a route's vary index lives: prefix, path and normalised query. */
export function baseKey(prefix: string, path: string, normalisedQuery: string): string {
  // Hits of one URL in a row get the same string, which a store lookup has hashed already.
  const last = lastBase;
  if (last.path === path && last.query === normalisedQuery && last.prefix === prefix) return last.key;
  // Joined, so the key is one flat string: a store hashes it without flattening a concatenation first.
  const key = digestIfLong(normalisedQuery === '' ? [prefix, path].join('') : [prefix, path, '?', normalisedQuery].join(''));
  lastBase = { prefix, path, query: normalisedQuery, key };
  return key;
}

let lastBase = { prefix: '', path: '', query: '', key: '' };

/** What a route's options say of its keys (`CachedConfig`). */
export interface KeyRules {
  keyPrefix: (ctx: Context) => string;
  makeCacheKey?: (ctx: Context) => string;
  queryString: boolean;
}

/** The base key of a request: the prefix, then path and query, or `makeCacheKey`'s key. */
export function requestKey(ctx: Context, rules: KeyRules): string {
  const prefix = checkedString(rules.keyPrefix(ctx), 'keyPrefix');
  if (!rules.makeCacheKey) return baseKey(prefix, ctx.path, rules.queryString ? normaliseQuery(ctx.querystring) : '');
  // GET and HEAD share entries; any other method the route stores gets keys of its own.
  const method = ctx.method === 'GET' || ctx.method === 'HEAD' ? '' : `${ctx.method} `;
  return digestIfLong(prefix + method + checkedString(rules.makeCacheKey(ctx), 'makeCacheKey'));
}

/**
 * Whether the request lacks the fact `name` names (no such header or cookie; nothing at that path of
 * `ctx.state`). An absent fact is left out of the key, so a variant stored before the route learned
 * to read it (a guest's page, before a visitor's state was read) stays the one for requests without
 * it: the route that made it did not read the fact, so nothing in it depends on it.
 */
function isAbsent(name: string, value: string): boolean {
  return isStateName(name) ? value === ABSENT_STATE : value === '';
}

/** The last variant key built from each (decoded, shared) index, and the values it was built from. */
const lastVariant = new WeakMap<VaryIndex, { values: string[]; key: string }>();

/**
 * The key of one variant: the base key, the index's generation and the request's values of its
 * facts. The same request facts as last time give the same string back (most hits of a URL come
 * for one host), which a store lookup has hashed already. For a decoded index only (`memo`): an
 * index a miss has just made is used once, and a WeakMap entry would keep its key alive through
 * the next scavenge.
 */
export function variantKey(base: string, index: VaryIndex, valueOf: (name: string) => string, memo = true): string {
  const last = memo ? lastVariant.get(index) : undefined;
  if (last) {
    let i = 0;
    while (i < index.vary.length && valueOf(index.vary[i]) === last.values[i]) i++;
    if (i === index.vary.length) return last.key;
  }
  const values = index.vary.map(valueOf);
  const parts = [base, '#', index.generation];
  values.forEach((value, i) => isAbsent(index.vary[i], value) || parts.push('|', index.vary[i], '=', encodeURIComponent(value)));
  const key = digestIfLong(parts.join(''));
  if (memo) lastVariant.set(index, { values, key });
  return key;
}

function queryPairs(query: QueryInput): [string, string][] {
  if (typeof query === 'string') return [...new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)];
  if (typeof query !== 'object' || query === null) throw new TypeError(`query must be a string, an object or pairs, got ${typeof query}`);
  if (Symbol.iterator in query) {
    return [...(query as Iterable<readonly [string, QueryValue]>)].map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`query pairs must be [name, value], got ${JSON.stringify(pair)}`);
      return [String(pair[0]), queryText(pair[1], pair[0])];
    });
  }
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) pairs.push([name, queryText(item, name)]);
  }
  return pairs;
}

function queryText(value: unknown, name: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TypeError(`query parameter ${JSON.stringify(name)} must be a string, number or boolean, got ${value === null ? 'null' : typeof value}`);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkedString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${option} must return a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}
