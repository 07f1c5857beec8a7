import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Engine } from '../core/engine';

/** A response as the cache keeps it; replayed byte-identical on a hit. */
export interface StoredResponse {
  status: number;
  /** Response headers to replay (Content-Type included; ETag, Content-Length and hop-by-hop ones not). */
  headers: [name: string, value: string | string[]][];
  body: Buffer;
  etag: string;
  /** Hash of `body`: with it, an unchanged header line means an unchanged entry. */
  digest: string;
  storedAt: number;
  /** Epoch ms after which the response is stale; 0 = never. */
  freshUntil: number;
}

/**
 * What lives at a route's base key: the request headers its responses vary by, and the generation
 * that names this set of variants. Deleting the base key makes every variant unreachable at once.
 */
export interface VaryIndex {
  vary: string[];
  generation: string;
}

export type StoredEntry = StoredResponse | VaryIndex;

/**
 * One string per entry, so the cache's codec passes it through as an O(1) slice instead of
 * decoding JSON with a base64 Buffer inside on every hit:
 *   R<header JSON>\n<body base64>    a response
 *   V<JSON>                          a vary index
 */
export function encodeResponse(response: StoredResponse): string {
  const { body, ...header } = response;
  return `R${JSON.stringify(header)}\n${body.toString('base64')}`;
}

export function encodeVaryIndex(index: VaryIndex): string {
  return `V${JSON.stringify(index)}`;
}

export function newVaryIndex(vary: string[]): VaryIndex {
  // randomUUID draws from a pool: a miss of a new URL does not pay for a fresh random draw.
  return { vary, generation: randomUUID() };
}

export function isVaryIndex(entry: StoredEntry | undefined): entry is VaryIndex {
  return entry !== undefined && 'vary' in entry;
}

/** Bound on the Buffers held by one cache's decoded entries. */
const DECODED_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The response entries of one cache, decoded: reused while their header line is unchanged, so hits
 * skip base64 and JSON. Bounded by bytes, and counted in `memoryUsage()` as `responses`.
 */
export class StoredResponses {
  readonly #decoded = new LRUCache<string, { header: string; entry: StoredEntry }>({
    maxSize: DECODED_MAX_BYTES,
    sizeCalculation: (item) => sizeOf(item.entry) + item.header.length * 2,
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
    if (known && hasHeader(data, known.header)) return known.entry;
    const newline = data.indexOf('\n');
    const header = newline < 0 ? data : data.slice(0, newline);
    let entry: StoredEntry;
    try {
      entry = parse(header, newline < 0 ? '' : data.slice(newline + 1));
    } catch (err) {
      this.engine.report('decode', key, err);
      return undefined;
    }
    this.#decoded.set(key, { header, entry });
    return entry;
  }
}

/** Whether `data`'s header line is `header`. (A slice and `===` beat `startsWith` on V8 several times over.) */
function hasHeader(data: string, header: string): boolean {
  return data.slice(0, header.length) === header && (data.length === header.length || data.charCodeAt(header.length) === 10 /* \n */);
}

function parse(header: string, rest: string): StoredEntry {
  const json: unknown = JSON.parse(header.slice(1));
  if (header[0] === 'V' && isRecord(json) && Array.isArray(json.vary) && typeof json.generation === 'string') {
    return json as unknown as VaryIndex;
  }
  if (header[0] === 'R' && isRecord(json) && typeof json.status === 'number' && Array.isArray(json.headers)) {
    return { ...(json as unknown as Omit<StoredResponse, 'body'>), body: Buffer.from(rest, 'base64') };
  }
  throw new TypeError(`not a response-cache entry: ${JSON.stringify(header.slice(0, 20))}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function sizeOf(entry: StoredEntry): number {
  return isVaryIndex(entry) ? 64 : entry.body.length + 256;
}
