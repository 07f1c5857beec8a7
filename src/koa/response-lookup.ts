import type { Context } from 'koa';
import type { Entry } from '../core/codec';
import type { Engine } from '../core/engine';
import { variantKey } from './response-key';
import { covers } from './response-vary';
import { isVaryIndex, type StoredResponse, type StoredResponses, type VaryIndex } from './stored-entry';

/**
 * Where this request's response lives (or would): `key` is its variant's key once the index is
 * known, else the base key. A response is only ever found through an index.
 */
export interface Found {
  base: string;
  key: string;
  index?: VaryIndex;
  response?: StoredResponse;
  /** Its tags were invalidated in stale mode: served stale while one refresh recomputes it. */
  invalidated?: true;
}

/** Finds a request's stored response through its vary index: in process memory at once when it is there, else in the store. */
export class ResponseLookup {
  readonly #responses: StoredResponses;
  readonly #engine: Engine;
  readonly #valuesOf: (ctx: Context) => (name: string) => string;

  constructor(responses: StoredResponses, valuesOf: (ctx: Context) => (name: string) => string) {
    this.#responses = responses;
    this.#engine = responses.engine;
    this.#valuesOf = valuesOf;
  }

  find(ctx: Context, base: string, early: readonly string[]): Found | Promise<Found> {
    const found = this.peek(ctx, base, early);
    return found.response || this.#engine.local ? found : this.read(ctx, base, early);
  }

  /** What process memory can answer synchronously: everything on the memory store, the L1 tier on Redis. */
  peek(ctx: Context, base: string, early: readonly string[]): Found {
    const index = this.#responses.decode(base, this.#engine.peek(base)?.value);
    if (!isVaryIndex(index)) return { base, key: base };
    const key = variantKey(base, index, this.#valuesOf(ctx));
    if (!covers(index, early)) return { base, key, index };
    return this.#found(base, key, index, this.#engine.peek(key, true));
  }

  async read(ctx: Context, base: string, early: readonly string[]): Promise<Found> {
    const index = this.#responses.decode(base, (await this.#engine.get(base))?.value);
    if (!isVaryIndex(index)) return { base, key: base };
    const key = variantKey(base, index, this.#valuesOf(ctx));
    if (!covers(index, early)) return { base, key, index };
    return this.#found(base, key, index, await this.#engine.get(key, true));
  }

  #found(base: string, key: string, index: VaryIndex, entry: Entry | undefined): Found {
    const decoded = this.#responses.decode(key, entry?.value);
    const response = decoded === undefined || isVaryIndex(decoded) ? undefined : decoded;
    return entry?.stale ? { base, key, index, response, invalidated: true } : { base, key, index, response };
  }
}
