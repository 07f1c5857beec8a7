import { isPlainObject } from './codec';
import { stableStringify } from './keys';

/**
 * Learned dependencies on request state (`ctx.state` and `ctx.session`, as earlier middleware left
 * them): what a response or fragment read of them while it computed, path by path, learned the way
 * Django learns `Vary`. An entry is stored per value of what was read, so visitors with equal state
 * share it and visitors with other state never do.
 *
 * A path starts with its root, `state` or `session`; its name is the root, `:`, and its property
 * names, each URI-encoded, joined by `.` (`state:user.name`); `state:user.{keys}` names the list of
 * `user`'s own keys (the object was enumerated).
 */
export type StateRoot = 'state' | 'session';
const KEYS = '{keys}';
/** The fingerprint of a path that holds nothing (`undefined`, or below a value without that property). */
export const ABSENT_STATE = 'undefined';
/** A value longer than this (as text) is not hashed for a key: the read makes the entry unkeyable. */
const MAX_FINGERPRINT = 4096;
/** A plain object's own fingerprint: its children are learned one by one, as they are read. */
const OBJECT = '{…}';
/** Starts the fingerprint of a value that cannot be keyed, made to match nothing. */
const UNMATCHABLE = '\0';

/** What one computation read of request state, and what made it unkeyable, if anything. */
export class StateReads {
  /** Vary name → the value's fingerprint when first read. */
  readonly values = new Map<string, string>();
  /** The first read that cannot be keyed safely (`ctx.state.helpers`): the entry must not be shared. */
  unkeyable?: { path: string; reason: string };

  /** `fragment`: these are a fragment's reads (its key cannot carry the session: see `record`'s caller). */
  constructor(readonly fragment = false) {}

  record(name: string, fingerprint: string): void {
    if (!this.values.has(name)) this.values.set(name, fingerprint);
  }

  refuse(path: string, reason: string): void {
    this.unkeyable ??= { path, reason };
  }

  merge(other: StateReads): void {
    for (const [name, value] of other.values) this.record(name, value);
    if (other.unkeyable) this.refuse(other.unkeyable.path, other.unkeyable.reason);
  }
}

/**
 * The fragment bodies rendering synchronously on this stack, innermost last: a read made while one
 * runs (in a macro, say, whose frame does not lead back to the tag) belongs to it too.
 */
export const renderingNow: StateReads[] = [];

export function stateName(path: readonly string[]): string {
  return `${path[0]}:` + path.slice(1).map(namePart).join('.');
}

function namePart(part: string): string {
  return part === KEYS ? KEYS : encodeURIComponent(part);
}

/** The name of `key` below the path named `parent` (`state:` for ctx.state itself): `stateName` of the longer path. */
function childName(parent: string, key: string): string {
  return parent.endsWith(':') ? parent + namePart(key) : `${parent}.${namePart(key)}`;
}

export function isStateName(name: string): boolean {
  return name.startsWith('state:') || name.startsWith('session:');
}

/** The texts of the names stats are told about on every store (a route reads the same few), bounded. */
const texts = new Map<string, string>();

/** `user.name` for `state:user.name`, `session.user` for `session:user`: how stats show a path. */
export function pathText(name: string): string {
  let text = texts.get(name);
  if (text !== undefined) return text;
  const [root, parts] = split(name);
  text = (root === 'state' ? parts : [root, ...parts]).join('.');
  if (texts.size >= 1000) texts.clear();
  texts.set(name, text);
  return text;
}

/** `ctx.state.user.name`: how messages name a path. */
function described(name: string): string {
  return ['ctx', ...split(name).flat()].join('.');
}

function split(name: string): [StateRoot, string[]] {
  const colon = name.indexOf(':');
  const rest = name.slice(colon + 1);
  return [name.slice(0, colon) as StateRoot, rest === '' ? [] : rest.split('.').map((part) => (part === KEYS ? KEYS : decodeURIComponent(part)))];
}

/** The fingerprint of what `root` (ctx.state or ctx.session) holds at the path `name` names. */
export function stateValue(root: unknown, name: string): string {
  const raw = rawOf(root);
  return pathValue((first) => (typeof raw === 'object' && raw !== null ? Reflect.get(raw, first) : undefined), name, raw);
}

/**
 * The fingerprint of the value at the path `name` names, as a read of it would have recorded it:
 * its first property looked up with `first` (in `root`, if known). A value that cannot be keyed
 * gives a text nothing matches: the request computes (and is not stored).
 */
export function pathValue(first: (name: string) => unknown, name: string, root?: unknown): string {
  const [, parts] = split(name);
  let at: unknown = root;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === KEYS) return keysFingerprint(at);
    at = i === 0 ? first(parts[0]) : typeof at === 'object' && at !== null ? Reflect.get(at, parts[i]) : undefined;
  }
  const fingerprint = fingerprintOf(rawOf(at));
  return typeof fingerprint === 'string' ? fingerprint : UNMATCHABLE + Math.random();
}

/** Records that the value at `name` was used (a fragment hit stands for its body's reads), unless the request's own computation wrote it. */
export function learnRead(name: string, fingerprint: string, bound: StateReads | undefined, tracker: StateTracker | undefined): void {
  const [root, parts] = split(name);
  if (tracker?.ignores([root, ...parts])) return;
  record(name, fingerprint.startsWith(UNMATCHABLE) ? { reason: 'cannot be keyed' } : fingerprint, bound, tracker?.response);
}

/**
 * One request's tracking: where the reads of the response computing go (`response`, if any), the
 * paths it wrote (not request state: the route made them) and those declared shared (`sharedState`).
 */
export class StateTracker {
  readonly written = new Set<string>();
  #shared: Set<string> | undefined;
  #proxies: Map<StateReads | undefined, Map<object, object>> | undefined; // this computation's: no weak entries to scavenge

  constructor(
    shared: readonly string[] = [],
    readonly response?: StateReads,
  ) {
    this.share(shared);
  }

  /** Declares more paths of `ctx.state` the same for everyone. */
  share(paths: readonly string[]): void {
    for (const path of paths) (this.#shared ??= new Set()).add(`state.${path}`);
  }

  /** Whether a read of `path` says nothing about the visitor: written by this computation, or declared shared. */
  ignores(path: readonly string[]): boolean {
    if (this.written.size === 0 && !this.#shared) return false;
    const text = path.join('.');
    const covers = (prefix: string) => text === prefix || text.startsWith(prefix + '.');
    for (const prefix of this.written) if (covers(prefix)) return true;
    if (this.#shared) for (const prefix of this.#shared) if (covers(prefix)) return true;
    return false;
  }

  /**
   * Records a read of `value` at `path` and gives what the reader gets: a plain object comes back
   * wrapped, so that what is read of it is learned too; anything else as it is. `bound`: the
   * fragment whose body looked the path up.
   */
  read(value: unknown, path: readonly string[], bound: StateReads | undefined, name = stateName(path)): unknown {
    if (this.ignores(path)) return value;
    const raw = rawOf(value);
    const fingerprint = fingerprintOf(raw);
    record(name, fingerprint, bound, this.response);
    return fingerprint === OBJECT ? this.wrap(raw as object, path, bound, name) : value;
  }

  /** `object` at `path` (`['state']` for ctx.state itself) wrapped so that reads below it are recorded and writes remembered. */
  wrap<T extends object>(object: T, path: readonly string[], bound: StateReads | undefined, name = stateName(path)): T {
    let known = (this.#proxies ??= new Map()).get(bound);
    if (!known) this.#proxies.set(bound, (known = new Map()));
    let proxy = known.get(object);
    if (!proxy) {
      proxy = new Proxy(object, new StateHandler(this, path, bound, name));
      known.set(object, proxy);
      proxies.add(proxy);
    }
    return proxy as T;
  }
}

/** Every tracking proxy; its object is read through the `RAW` key, which only its handler answers. */
const proxies = new WeakSet<object>();
const RAW = Symbol('koa-fragment-cache: raw');

/** The object behind a tracking proxy (or `value` itself). */
export function rawOf<T>(value: T): T {
  return typeof value === 'object' && value !== null && proxies.has(value) ? (value as unknown as { [RAW]: T })[RAW] : value;
}

/**
 * Records a read into the response computing, the fragment that looked it up and the one rendering
 * on this stack. A fragment's key is made in templates, which see `ctx.state` but not the session:
 * a session read makes a fragment unkeyable.
 */
function record(name: string, fingerprint: string | { reason: string }, bound: StateReads | undefined, response: StateReads | undefined): void {
  const top = renderingNow.at(-1);
  for (const reads of [response, bound, top !== bound ? top : undefined]) {
    if (!reads) continue;
    if (typeof fingerprint !== 'string') reads.refuse(described(name), fingerprint.reason);
    else if (reads.fragment && !name.startsWith('state:')) reads.refuse(described(name), 'is session state, which a fragment cannot be keyed by (pass it as a vary argument)');
    else reads.record(name, fingerprint);
  }
}

/** The traps of one tracking proxy: reads below `path` are recorded, writes remembered. */
class StateHandler implements ProxyHandler<object> {
  constructor(
    readonly tracker: StateTracker,
    readonly path: readonly string[],
    readonly bound: StateReads | undefined,
    readonly name: string, // stateName(path), made once: the names below it are made from it
  ) {}

  child(key: string): string[] {
    return [...this.path, key];
  }

  get(target: object, key: string | symbol, receiver: unknown): unknown {
    if (key === RAW) return target;
    const value = Reflect.get(target, key, receiver);
    if (typeof key === 'symbol') return value;
    // Inherited methods (toString, hasOwnProperty, a session's save…) are the same for everyone.
    if (typeof value === 'function' && !Object.prototype.hasOwnProperty.call(target, key)) return value;
    const seen = this.tracker.read(value, this.child(key), this.bound, childName(this.name, key));
    // A frozen property must be returned as it is (a Proxy invariant): it is keyed whole instead.
    return seen !== value && isFixed(target, key) ? value : seen;
  }

  has(target: object, key: string | symbol): boolean {
    if (typeof key === 'string') this.tracker.read(Reflect.get(target, key), this.child(key), this.bound, childName(this.name, key));
    return Reflect.has(target, key);
  }

  ownKeys(target: object): ArrayLike<string | symbol> {
    if (!this.tracker.ignores(this.path)) record(childName(this.name, KEYS), keysFingerprint(target), this.bound, this.tracker.response);
    return Reflect.ownKeys(target);
  }

  set(target: object, key: string | symbol, value: unknown, receiver: unknown): boolean {
    if (typeof key === 'string') this.tracker.written.add(this.child(key).join('.'));
    return Reflect.set(target, key, rawOf(value), receiver);
  }

  defineProperty(target: object, key: string | symbol, descriptor: PropertyDescriptor): boolean {
    if (typeof key === 'string') this.tracker.written.add(this.child(key).join('.'));
    return Reflect.defineProperty(target, key, descriptor);
  }

  deleteProperty(target: object, key: string | symbol): boolean {
    if (typeof key === 'string') this.tracker.written.add(this.child(key).join('.'));
    return Reflect.deleteProperty(target, key);
  }
}

function isFixed(target: object, key: string): boolean {
  const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
  return descriptor !== undefined && !descriptor.configurable && descriptor.writable === false;
}

function keysFingerprint(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(Object.keys(value)) : 'undefined';
}

/**
 * A text that differs when the value does: plain objects are `{…}` (what is read of them is keyed
 * path by path), anything else its stable serialization (see `stableStringify`: a class instance
 * needs a `cacheKey()`). Functions, symbols, instances without `cacheKey()` and values too long to
 * hash cheaply cannot be keyed: the reason says why.
 */
function fingerprintOf(value: unknown): string | { reason: string } {
  if (typeof value === 'function') return { reason: 'is a function' };
  if (typeof value === 'object' && value !== null && isPlainObject(value)) return OBJECT;
  if (Array.isArray(value) && value.length > MAX_FINGERPRINT) return { reason: `is too large to key cheaply (${value.length} items)` };
  let text: string;
  try {
    text = stableStringify(value, 'request state');
  } catch (err) {
    return { reason: reasonOf(err) };
  }
  return text.length > MAX_FINGERPRINT ? { reason: `is too large to key cheaply (${text.length} characters)` } : text;
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // "request state: argument[0] is a Map instance; …" → "holds at [0] a Map instance; …"
  return message.replace(/^request state: argument(\S*) is /, (_, at: string) => (at ? `holds at ${at} ` : 'is '));
}

/** Dotted paths of `ctx.state` (`site`, `nav.items`), as the `sharedState` options take them. */
export function checkedStatePaths(value: unknown, option: string): string[] {
  const paths = value ?? [];
  if (!Array.isArray(paths) || paths.some((path) => typeof path !== 'string' || !/^[^.]+(\.[^.]+)*$/.test(path))) {
    throw new TypeError(`${option} must be an array of paths of ctx.state like "site" or "nav.items", got ${JSON.stringify(value)}`);
  }
  return paths as string[];
}

