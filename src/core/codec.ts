/**
 * How values are stored: one string per entry, its first character saying what follows.
 *   s<text>    a string (the rendered-fragment case: encoding and decoding are O(1) slices)
 *   b<base64>  a Buffer
 *   j<json>    anything else JSON can carry exactly; Buffers nested in it become {"$b": base64}, -0
 *              becomes {"$n": "-0"}, and object keys that start with "$" gain one more "$", so these
 *              can never be confused.
 *   t<n>:<json><entry>  an entry with a header: n characters of JSON {"t": {tag: version}, "at": ms,
 *              "h": [nonce], "d": digest} recording the version of each tag when the entry was
 *              written, when it was written, the placeholders of `{% nocache %}` holes it holds, and
 *              the digest of the templates that rendered it; followed by one of the forms above.
 * Values JSON would change silently (functions, cycles, Dates, Maps, class instances, NaN, undefined
 * inside arrays, holes in arrays, array properties besides the items, symbol keys, values nested
 * more than 1000 deep) are refused with an error naming the key and where in the value the problem is.
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
  /** The nonces of the `{% nocache %}` placeholders the HTML holds (filled on every delivery). */
  holes?: string[];
  /** A digest of the templates that rendered it: a hit under other templates (a deploy) is a miss. */
  digest?: string;
  /** Set on a read (never stored): its tags were invalidated in stale mode since it was written. */
  stale?: true;
}

export type TagVersions = Record<string, string>;

export function encodeEntry(key: string, entry: Entry): string {
  const data = encode(key, entry.value);
  return entry.tags || entry.storedAt || entry.holes || entry.digest ? withHeader(data, entry) : data;
}

/** Prefixes an encoded value with the header of its entry. */
export function withHeader(data: string, { tags, storedAt, holes, digest }: Omit<Entry, 'value'>): string {
  const header = JSON.stringify({ t: tags, at: storedAt, h: holes, d: digest });
  return `t${header.length}:${header}${data}`;
}

export function decodeEntry(data: string): Entry {
  const form = data.charCodeAt(0);
  if (form === 115 /* s */) return { value: data.slice(1) }; // fragments: the common case
  if (form !== 116 /* t */) return { value: decode(data) };
  const colon = data.indexOf(':');
  const end = colon + 1 + Number(data.slice(1, colon));
  const header = JSON.parse(data.slice(colon + 1, end)) as { t?: TagVersions; at?: number; h?: string[]; d?: string };
  return { value: decode(data.slice(end)), tags: header.t, storedAt: header.at, holes: header.h, digest: header.d };
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

/** Deeper values are refused: encoding and decoding them would overflow the stack. */
const MAX_DEPTH = 1000;

function toJson(key: string, value: unknown, path: string, seen: Set<object>, depth = 0): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new UnstorableValueError(key, path, `is ${value}, which JSON cannot hold`);
      return Object.is(value, -0) ? { $n: '-0' } : value; // JSON would turn -0 into 0
    case 'object': {
      if (value === null) return null;
      if (Buffer.isBuffer(value)) return { $b: value.toString('base64') };
      if (depth >= MAX_DEPTH) throw new UnstorableValueError(key, path, `is nested more than ${MAX_DEPTH} levels deep`);
      if (seen.has(value)) throw new UnstorableValueError(key, path, 'is a circular reference');
      if (Object.getOwnPropertySymbols(value).length > 0) throw new UnstorableValueError(key, path, 'has symbol keys, which JSON would drop');
      seen.add(value);
      const out = Array.isArray(value) ? arrayToJson(key, value, path, seen, depth) : objectToJson(key, value, path, seen, depth);
      seen.delete(value);
      return out;
    }
    default:
      throw new UnstorableValueError(key, path, `is a ${typeof value}`);
  }
}

function arrayToJson(key: string, value: unknown[], path: string, seen: Set<object>, depth: number): unknown[] {
  const extra = Object.keys(value).find((k) => !/^\d+$/.test(k));
  if (extra !== undefined) throw new UnstorableValueError(key, path, `has a property ${JSON.stringify(extra)} besides its items, which JSON would drop`);
  const out: unknown[] = [];
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) throw new UnstorableValueError(key, `${path}[${i}]`, 'is a hole in a sparse array, which JSON would turn into null');
    if (value[i] === undefined) throw new UnstorableValueError(key, `${path}[${i}]`, 'is undefined');
    out.push(toJson(key, value[i], `${path}[${i}]`, seen, depth + 1));
  }
  return out;
}

function objectToJson(key: string, value: object, path: string, seen: Set<object>, depth: number): Record<string, unknown> {
  if (!isPlainObject(value)) {
    const kind = value.constructor?.name ?? 'an object with a custom prototype';
    throw new UnstorableValueError(key, path, `is a ${kind}; only plain objects, arrays and Buffers can be cached`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue; // as in JSON: an undefined property is an absent property
    setOwn(out, k.startsWith('$') ? '$' + k : k, toJson(key, v, `${path}.${k}`, seen, depth + 1));
  }
  return out;
}

/** `obj[key] = value` as an own property, also for `__proto__` (which an assignment would turn into the prototype). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function fromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && typeof entries[0][1] === 'string') {
    if (entries[0][0] === '$b') return Buffer.from(entries[0][1], 'base64');
    if (entries[0][0] === '$n' && entries[0][1] === '-0') return -0;
  }
  const obj: Record<string, unknown> = {};
  for (const [k, v] of entries) setOwn(obj, k.startsWith('$$') ? k.slice(1) : k, fromJson(v));
  return obj;
}

/**
 * Whether `value` is a plain object (`{}` or `Object.create(null)`), from this realm or another
 * (a vm context, a test runner's sandbox): its prototype, if any, is the end of the chain.
 */
export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}
