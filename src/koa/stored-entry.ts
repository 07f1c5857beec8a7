import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Engine } from '../core/engine';
import { VARY_NAME, type RequestFacts } from './request-facts';

/** A response as the cache keeps it; replayed byte-identical on a hit. */
export interface StoredResponse {
  status: number;
  /** Response headers to replay (Content-Type included; ETag, Content-Length and hop-by-hop ones not). */
  headers: [name: string, value: string | string[]][];
  /** The bytes; or the text the route set, as it was (a response just made: no copy to bytes). */
  body: Buffer | string;
  /** The ETag the route set; without one, the body's hash, computed when first served (`etagOf`). */
  etag?: string;
  storedAt: number;
  /** Epoch ms after which the response is stale; 0 = never. */
  freshUntil: number;
  /** The nonces of the `{% nocache %}` placeholders the body holds: filled from `ctx.state` on every answer. */
  holes?: string[];
  /** The template `ctx.render` rendered it from, and its digest: a hit under another digest is a miss. */
  template?: { name: string; digest: string };
}

/**
 * What lives at a route's base key: the request facts its responses vary by (see request-facts.ts),
 * the generation that names this set of variants, and how to ask for the variants most recently
 * stored again (for `schedulePeriodicRefresh`). Deleting the base key makes every variant unreachable.
 */
export interface VaryIndex {
  vary: string[];
  generation: string;
  variants: RequestFacts[];
}

/** Variants an index remembers the request facts of (the most recently stored). */
const MAX_REMEMBERED_VARIANTS = 16;

/**
 * Response headers never stored nor served from the store: hop-by-hop ones (RFC 9110 §7.6.1), those
 * the cache writes itself on every answer, and Set-Cookie (a response setting a cookie is never
 * stored; an entry naming one, written by anything else, is not a response of this cache's).
 */
export const NOT_REPLAYED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'date',
  'etag',
  'age',
  'set-cookie',
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** Header values must not carry line breaks or NUL (what Node would refuse when serving). */
const HEADER_VALUE = /^[^\r\n\0]*$/;

export type StoredEntry = StoredResponse | VaryIndex;

/**
 * One string per entry, so the cache's codec passes it through as an O(1) slice instead of
 * decoding JSON with a base64 Buffer inside on every hit:
 *   R<header JSON>\n<body>    a response: its body as the text the route set (`"text": true`, no
 *                             conversion at all), else base64
 *   V<JSON>                   a vary index
 * The header is written field by field, as one flat string in front of the body (which is not
 * copied): no object is spread for it, and the header list of a route is serialized once while
 * its responses carry the same headers.
 */
export function encodeResponse(response: StoredResponse): string {
  const { body, etag, holes, template } = response;
  const text = typeof body === 'string';
  const header = ['R{"status":', String(response.status), ',"headers":', headersJson(response.headers), ',"storedAt":', String(response.storedAt), ',"freshUntil":', String(response.freshUntil)];
  if (etag !== undefined) header.push(',"etag":', JSON.stringify(etag));
  if (holes !== undefined) header.push(',"holes":', JSON.stringify(holes));
  if (template !== undefined) header.push(',"template":', JSON.stringify(template));
  header.push(text ? ',"text":true}\n' : '}\n');
  return header.join('') + (text ? body : body.toString('base64'));
}

/** The response's ETag: the route's, or a hash of the body, computed once per decoded entry. */
export function etagOf(response: StoredResponse): string {
  return (response.etag ??= `"${createHash('sha1').update(response.body).digest('base64url')}"`);
}

export function encodeVaryIndex(index: VaryIndex): string {
  const variants = index.variants.map(factsJson).join(',');
  return ['V{"vary":', varyJson(index.vary), ',"generation":', JSON.stringify(index.generation), ',"variants":[', variants, ']}'].join('');
}

/** The last request facts serialized: a route's variants mostly come for one host. */
let lastFacts: { facts: RequestFacts; json: string } | undefined;

function factsJson(facts: RequestFacts): string {
  const last = lastFacts;
  if (last && last.facts.protocol === facts.protocol && sameRecord(last.facts.headers, facts.headers)) return last.json;
  const json = JSON.stringify(facts);
  lastFacts = { facts, json };
  return json;
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  let count = 0;
  for (const name in b) {
    if (a[name] !== b[name]) return false;
    count++;
  }
  return Object.keys(a).length === count;
}

/** The last header list serialized, and its JSON: the responses of a route mostly carry the same. */
let lastHeaders: { headers: StoredResponse['headers']; json: string } | undefined;

function headersJson(headers: StoredResponse['headers']): string {
  const last = lastHeaders;
  if (last && last.headers.length === headers.length && headers.every(([name, value], i) => name === last.headers[i][0] && sameValue(value, last.headers[i][1]))) return last.json;
  const json = JSON.stringify(headers);
  lastHeaders = { headers, json };
  return json;
}

function sameValue(a: string | string[], b: string | string[]): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/** The last vary list serialized, and its JSON. */
let lastVary: { vary: readonly string[]; json: string } | undefined;

function varyJson(vary: readonly string[]): string {
  const last = lastVary;
  if (last && last.vary.length === vary.length && vary.every((name, i) => name === last.vary[i])) return last.json;
  const json = JSON.stringify(vary);
  lastVary = { vary, json };
  return json;
}

/** What makes this process's generations unique among every process sharing the store. */
const GENERATION_PREFIX = randomBytes(12).toString('base64url');
let generations = 0;

export function newVaryIndex(vary: string[]): VaryIndex {
  // Unique without a random draw per miss: this process's random prefix and a counter.
  return { vary, generation: GENERATION_PREFIX + (++generations).toString(36), variants: [] };
}

/** `index` remembering `facts` (most recent first, the same variant once), or as it is for `undefined`. */
export function withVariant(index: VaryIndex, facts: RequestFacts | undefined): VaryIndex {
  if (!facts) return index;
  if (index.variants.length === 0) return { ...index, variants: [facts] };
  const same = JSON.stringify(facts);
  const others = index.variants.filter((known) => JSON.stringify(known) !== same);
  return { ...index, variants: [facts, ...others].slice(0, MAX_REMEMBERED_VARIANTS) };
}

/** Whether `response` is still fresh at `now`. */
export function isFresh(response: StoredResponse, now: number): boolean {
  return response.freshUntil === 0 || now < response.freshUntil;
}

export function isVaryIndex(entry: StoredEntry | undefined): entry is VaryIndex {
  return entry !== undefined && 'vary' in entry;
}

/** Bound on the Buffers held by one cache's decoded entries. */
const DECODED_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The response entries of one cache, decoded: reused while the stored string is unchanged, so hits
 * skip base64 and JSON. Bounded by bytes, and counted in `memoryUsage()` as `responses`.
 */
export class StoredResponses {
  readonly #decoded = new LRUCache<string, { data: string; entry: StoredEntry }>({
    maxSize: DECODED_MAX_BYTES,
    sizeCalculation: (item) => sizeOf(item.entry) + item.data.length * 2,
  });

  constructor(readonly engine: Engine) {
    engine.memory.register('responses', () => ({ entries: this.#decoded.size, bytes: this.#decoded.calculatedSize }));
  }

  /**
   * The entry stored under `key` (`data` as the cache returned it), or undefined when there is none
   * or it is not a response-cache entry (reported through the cache's `'error'` event).
   */
  decode(key: string, data: unknown): StoredEntry | undefined {
    if (data === undefined) return undefined;
    if (typeof data !== 'string') {
      this.engine.report('decode', key, new TypeError('not a response-cache entry'));
      return undefined;
    }
    const known = this.#decoded.get(key);
    // The store hands back the same string while the entry is unchanged: usually a pointer compare.
    if (known && known.data === data) return known.entry;
    const newline = data.indexOf('\n');
    const header = newline < 0 ? data : data.slice(0, newline);
    let entry: StoredEntry;
    try {
      entry = parse(header, newline < 0 ? '' : data.slice(newline + 1));
    } catch (err) {
      this.engine.report('decode', key, err);
      return undefined;
    }
    this.#decoded.set(key, { data, entry });
    return entry;
  }
}

/**
 * Decodes an entry and checks its structure, field by field: anything else (written by another
 * version, crafted, corrupt) is not served, but reported and read as a miss, so that the route
 * runs and overwrites it.
 */
function parse(header: string, rest: string): StoredEntry {
  const json: unknown = JSON.parse(header.slice(1));
  if (header[0] === 'V' && isRecord(json)) {
    const { vary, generation, variants } = json;
    check(Array.isArray(vary) && vary.every((name) => typeof name === 'string' && VARY_NAME.test(name)), 'vary');
    check(typeof generation === 'string' && /^[\w-]{1,64}$/.test(generation), 'generation');
    check(Array.isArray(variants) && variants.every(isFacts), 'variants');
    return { vary, generation, variants } as VaryIndex;
  }
  if (header[0] === 'R' && isRecord(json)) {
    const { status, headers, etag, storedAt, freshUntil, holes, template, text } = json;
    check(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599, 'status');
    check(Array.isArray(headers) && headers.every(isReplayableHeader), 'headers');
    check(etag === undefined || (typeof etag === 'string' && etag !== '' && HEADER_VALUE.test(etag)), 'etag');
    check(Number.isFinite(storedAt) && Number.isFinite(freshUntil) && (freshUntil as number) >= 0, 'storedAt/freshUntil');
    check(holes === undefined || (Array.isArray(holes) && holes.every((nonce) => typeof nonce === 'string')), 'holes');
    check(template === undefined || (isRecord(template) && typeof template.name === 'string' && typeof template.digest === 'string'), 'template');
    const entry = { status, headers, etag, storedAt, freshUntil, holes, template } as Omit<StoredResponse, 'body'>;
    return { ...entry, body: text === true ? Buffer.from(rest) : Buffer.from(rest, 'base64') };
  }
  throw new TypeError(`not a response-cache entry: ${JSON.stringify(header.slice(0, 20))}`);
}

function check(ok: boolean, field: string): void {
  if (!ok) throw new TypeError(`not a valid response-cache entry: bad ${field}`);
}

function isReplayableHeader(header: unknown): boolean {
  if (!Array.isArray(header) || header.length !== 2) return false;
  const [name, value] = header as unknown[];
  if (typeof name !== 'string' || !HEADER_NAME.test(name) || NOT_REPLAYED.has(name)) return false;
  const values = Array.isArray(value) ? value : [value];
  return values.length > 0 && values.every((item) => typeof item === 'string' && HEADER_VALUE.test(item));
}

function isFacts(facts: unknown): boolean {
  if (!isRecord(facts) || (facts.protocol !== 'http' && facts.protocol !== 'https') || !isRecord(facts.headers)) return false;
  return Object.entries(facts.headers).every(([name, value]) => HEADER_NAME.test(name) && typeof value === 'string' && HEADER_VALUE.test(value));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function sizeOf(entry: StoredEntry): number {
  if (isVaryIndex(entry)) return 64 + entry.variants.length * 128;
  return (typeof entry.body === 'string' ? 2 * entry.body.length : entry.body.length) + 256;
}
