/**
 * How values are stored: one string per entry, its first character saying what follows.
 *   s<text>    a string (the rendered-fragment case: encoding and decoding are O(1) slices)
 *   b<base64>  a Buffer
 *   j<json>    anything else JSON can carry exactly; Buffers nested in it become {"$b": base64} and
 *              object keys that start with "$" gain one more "$", so the two can never be confused.
 *   t<n>:<json><entry>  an entry with a header: n characters of JSON {"t": {tag: version}, "at": ms}
 *              recording the version of each tag when the entry was written and when it was
 *              written, followed by one of the forms above.
 * Values JSON would change silently (functions, cycles, Dates, Maps, class instances, NaN, undefined
 * inside arrays) are refused with an error naming the key and where in the value the problem is.
 */

export class UnstorableValueError extends TypeError {
  constructor(key: string, path: string, problem: string) {
    super(`cannot cache key ${JSON.stringify(key)}: ${path} ${problem}`);
    this.name = 'UnstorableValueError';
  }
}

export function encode(key: string, value: unknown): string {
  if (typeof value === 'string') return 's' + value;
  if (Buffer.isBuffer(value)) return 'b' + value.toString('base64');
  if (value === undefined) throw new UnstorableValueError(key, 'the value', 'is undefined (undefined means "miss")');
  return 'j' + JSON.stringify(toJson(key, value, 'the value', new Set()));
}

/** A decoded entry: its value, the tag versions it was written under, and when it was written. */
export interface Entry {
  value: unknown;
  tags?: TagVersions;
  /** When the entry was written (ms since the epoch), where the writer recorded it. */
  storedAt?: number;
}

export type TagVersions = Record<string, string>;

export function encodeEntry(key: string, entry: Entry): string {
  const data = encode(key, entry.value);
  return entry.tags || entry.storedAt ? withHeader(data, entry) : data;
}

/** Prefixes an encoded value with the header of its entry. */
export function withHeader(data: string, { tags, storedAt }: Omit<Entry, 'value'>): string {
  const header = JSON.stringify({ t: tags, at: storedAt });
  return `t${header.length}:${header}${data}`;
}

export function decodeEntry(data: string): Entry {
  const form = data.charCodeAt(0);
  if (form === 115 /* s */) return { value: data.slice(1) }; // fragments: the common case
  if (form !== 116 /* t */) return { value: decode(data) };
  const colon = data.indexOf(':');
  const end = colon + 1 + Number(data.slice(1, colon));
  const header = JSON.parse(data.slice(colon + 1, end)) as { t?: TagVersions; at?: number };
  return { value: decode(data.slice(end)), tags: header.t, storedAt: header.at };
}

export function decode(data: string): unknown {
  const body = data.slice(1);
  switch (data.charCodeAt(0)) {
    case 115 /* s */:
      return body;
    case 98 /* b */:
      return Buffer.from(body, 'base64');
    case 106 /* j */: {
      const parsed: unknown = JSON.parse(body);
      return body.includes('"$') ? fromJson(parsed) : parsed;
    }
    default:
      throw new TypeError(`not a koa-fragment-cache entry: ${JSON.stringify(data.slice(0, 20))}`);
  }
}

function toJson(key: string, value: unknown, path: string, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new UnstorableValueError(key, path, `is ${value}, which JSON cannot hold`);
      return value;
    case 'object': {
      if (value === null) return null;
      if (Buffer.isBuffer(value)) return { $b: value.toString('base64') };
      if (seen.has(value)) throw new UnstorableValueError(key, path, 'is a circular reference');
      seen.add(value);
      let out: unknown;
      if (Array.isArray(value)) {
        out = value.map((item, i) => {
          if (item === undefined) throw new UnstorableValueError(key, `${path}[${i}]`, 'is undefined');
          return toJson(key, item, `${path}[${i}]`, seen);
        });
      } else {
        const proto = Object.getPrototypeOf(value) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          const kind = (value as object).constructor?.name ?? 'an object with a custom prototype';
          throw new UnstorableValueError(key, path, `is a ${kind}; only plain objects, arrays and Buffers can be cached`);
        }
        const obj: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
          if (v === undefined) continue; // as in JSON: an undefined property is an absent property
          obj[k.startsWith('$') ? '$' + k : k] = toJson(key, v, `${path}.${k}`, seen);
        }
        out = obj;
      }
      seen.delete(value);
      return out;
    }
    default:
      throw new UnstorableValueError(key, path, `is a ${typeof value}`);
  }
}

function fromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && entries[0][0] === '$b' && typeof entries[0][1] === 'string') {
    return Buffer.from(entries[0][1], 'base64');
  }
  const obj: Record<string, unknown> = {};
  for (const [k, v] of entries) obj[k.startsWith('$$') ? k.slice(1) : k] = fromJson(v);
  return obj;
}
