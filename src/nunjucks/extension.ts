import { createHash } from 'node:crypto';
import type { Cache } from '../cache';
import type { Entry, TagVersions } from '../core/codec';
import type { Engine } from '../core/engine';
import { digestIfLong, FragmentKeys } from '../core/keys';
import { engineOf } from '../core/registry';
import { validateTags } from '../core/tags';
import { timeoutToMs } from '../core/timeout';
import { iterate, Latch } from './compile-nodes';
import { addToScope, enterScope, newScope, scopeOf, type Scope, type ScopedFrame } from './fragment-scope';
import { currentTemplateName, installHooks, type HookedExtension } from './hooks';
import { callerCopy, ownCopy, type AstNode, type NodeTypes } from './nunjucks-copy';

type Callback = (err: Error | null, html?: unknown) => void;
type Body = (cb: (err: Error | null, html: string) => void) => string;

/** The `runtime` of the nunjucks copy rendering the template (see `KfcRuntime`). */
interface Runtime {
  SafeString: new (html: string) => unknown;
  /** Turns a message into that copy's TemplateError placed at a line and column. */
  handleError(message: string, lineno: number, colno: number): Error;
}

/** Places an error at the template's current line and column, as nunjucks' own handler does (see `KfcPlace`). */
type Place = (err: unknown) => Error;

/** One run of the tag that missed: what its paths need. */
interface Fragment {
  key: string;
  name: string;
  site: Site;
  body: Body;
  /** The frame at the tag: its body renders with a scope of its own on it. */
  frame: ScopedFrame;
  /** The scope of the fragment or page around this one, if any. */
  scope: Scope | undefined;
  timeout: unknown;
  tags: readonly string[] | undefined;
  /** Rendered fresh, neither read nor stored: a `'del'` timeout, or `unless=` true. */
  fresh: boolean;
  runtime: Runtime;
  place: Place;
  cb: Callback;
}

/** Where a cache tag is: fixed when its template compiles. */
interface Site {
  template: string;
  line: number;
  column: number;
  anonymousKey: string;
  /** The tag as the Environment's delimiters write it, e.g. `{% cache %}` or `<% cache %>`. */
  tag: string;
  /** The same for another block name (`macro`…). */
  block: (name: string) => string;
}

/** A fragment as rendered or found, with whether its dependencies are all known. */
interface Rendered {
  entry: Entry;
  rendered: boolean;
  untracked: boolean;
}

/**
 * Hits answered synchronously continue the render on the same stack; past this many nested ones
 * (nunjucks' own `asyncEach` recurses once per item), the next continues in a microtask so that a
 * page of thousands of fragments cannot overflow the stack.
 */
const MAX_SYNC_DEPTH = 32;
let syncDepth = 0;

export interface CacheExtensionOptions {
  /**
   * Wrap each fragment in HTML comments saying its key, HIT/MISS and age, to see in the page
   * source what came from the cache. Fragments inside another fragment are part of its HTML and
   * are not wrapped. For development: it costs a string per fragment.
   */
  debugMarkers?: boolean;
}

/**
 * `{% cache timeout [, name [, vary…]] %}…{% endcache %}`: renders its body once and serves the
 * stored HTML until `timeout` (seconds, a duration string, `none` = the cache's default, `0` =
 * forever) runs out. Named fragments store under `makeTemplateFragmentKey(name, [vary…])`; without a
 * name the key is derived from the template's name, the tag's position and a digest of the
 * template's source. A `'del'` timeout deletes the entry and renders the body fresh, uncached.
 * `tags=[…]` (the one keyword argument) makes the fragment a miss once any tag is invalidated.
 *
 * Add it to any nunjucks Environment: `env.addExtension('CacheExtension', new CacheExtension(cache))`.
 */
export class CacheExtension implements HookedExtension {
  readonly tags = ['cache'];
  readonly #engine: Engine;
  readonly #debugMarkers: boolean;
  readonly #sites = new Map<string, Site>();
  readonly #sourceDigests = new WeakMap<object, string>();
  readonly #keys = new FragmentKeys();
  /** The bodies nunjucks is running synchronously around the current render (innermost last). */
  readonly #syncOnly: string[] = [];
  #name = 'CacheExtension';

  constructor(cache: Cache, options: CacheExtensionOptions = {}) {
    this.#engine = engineOf(cache, 'CacheExtension');
    this.#engine.memory.register('fragmentKeys', () => this.#keys.usage());
    this.#debugMarkers = options.debugMarkers === true;
  }

  /**
   * @internal nunjucks' `addExtension(name, ext)` sets this, and compiled templates find the
   * extension by it. Setting it is also the moment to prepare the nunjucks copy of that Environment.
   */
  set __name(name: string) {
    installHooks(callerCopy() ?? ownCopy(), isCacheExtension);
    this.#name = name;
  }

  /** @internal */
  get __name(): string {
    return this.#name;
  }

  /** @internal called by nunjucks' parser for `{% cache … %}`. */
  parse(parser: any, nodes: NodeTypes): AstNode {
    if (!nodes.KfcCache) {
      throw new Error(
        `the cache extension was given to an Environment whose nunjucks copy koa-fragment-cache has not prepared ` +
          `(koa-fragment-cache uses nunjucks at ${ownCopy().root}); add it with env.addExtension(name, extension)`,
      );
    }
    const tag = parser.nextToken();
    const { BLOCK_START: start, BLOCK_END: end } = parser.tokens.tags as { BLOCK_START: string; BLOCK_END: string };
    const block = (name: string) => `${start} ${name} ${end}`;
    const args = parser.parseSignature(null, true);
    parser.advanceAfterBlockEnd(tag.value);
    if (args.children.length === 0) {
      parser.fail(`${block('cache')} needs a timeout: ${start} cache timeout [, name [, vary…]] ${end}`, tag.lineno, tag.colno);
    }
    const body = parser.parseUntilBlocks('endcache');
    if (!parser.peekToken()) parser.fail(`${block('cache')} opened on line ${tag.lineno + 1} has no ${block('endcache')}`, tag.lineno, tag.colno);
    parser.advanceAfterBlockEnd();

    const site: Site = {
      template: currentTemplateName() ?? '(string)',
      line: tag.lineno + 1,
      column: tag.colno + 1,
      anonymousKey: '',
      tag: block('cache'),
      block,
    };
    site.anonymousKey = digestIfLong(`fragment@${site.template}:${site.line}:${site.column}:${this.#sourceDigest(parser)}`);
    this.#sites.set(site.anonymousKey, site);
    args.children.unshift(
      new nodes.KfcRuntime(tag.lineno, tag.colno),
      new nodes.KfcPlace(tag.lineno, tag.colno),
      new nodes.KfcFrame(tag.lineno, tag.colno),
      new nodes.Literal(tag.lineno, tag.colno, site.anonymousKey),
    );
    return new nodes.KfcCache(this, 'run', args, [body]);
  }

  /** @internal the rewrite found this tag inside a body nunjucks runs synchronously. */
  refuse(tag: AstNode, what: string, template: string): never {
    const site = this.#sites.get(tag.args.children[3].value)!;
    const message =
      `${site.tag} in ${template} line ${site.line} cannot be used inside ${site.block(what)}: nunjucks cannot ` +
      `run an async tag there and would drop output. Move the cache block outside the ${what}.`;
    throw new (ownCopy().lib.TemplateError)(message, site.line, site.column);
  }

  /** @internal compiled `KfcFor` loops run through this. */
  loop(more: (i: number) => boolean, body: (i: number, next: () => void) => void, done: () => void): void {
    iterate(more, body, done);
  }

  /** @internal compiled `KfcIf` statements join their branches through this. */
  latch(): Latch {
    return new Latch();
  }

  /** @internal */
  enterSyncOnly(what: string): void {
    this.#syncOnly.push(what);
  }

  /** @internal */
  leaveSyncOnly(): void {
    this.#syncOnly.pop();
  }

  /** @internal called by compiled templates for each `{% cache %}`. */
  run(_context: unknown, runtime: Runtime, place: Place, frame: ScopedFrame, siteKey: string, ...rest: unknown[]): void {
    // The hit path below allocates nothing it can avoid: a 50-fragment page runs it 50 times.
    const site = this.#sites.get(siteKey)!;
    const cb = rest.pop() as Callback;
    const body = rest.pop() as Body;
    let key: string;
    let keywords: Keywords | undefined;
    const timeout = rest[0];
    try {
      const last = rest[rest.length - 1] as { __keywords?: boolean } | undefined;
      if (typeof last === 'object' && last !== null && last.__keywords) {
        rest.pop();
        keywords = checkedKeywords(last as Record<string, unknown>);
      }
      if (rest.length === 0) throw new TypeError('timeout is missing');
      key = rest.length === 1 ? site.anonymousKey : this.#keys.key(rest[1], rest, 2);
      if (typeof timeout !== 'number' || !(timeout >= 0 && timeout < Infinity)) {
        if (timeout !== 'del') timeoutToMs(timeout as never, 0, 'timeout');
      }
      for (let i = 2; i < rest.length; i++) if (rest[i] === undefined) throw undefinedVary(i, site);
    } catch (err) {
      return cb(atSite(runtime, err, site));
    }

    // Stats group fragments by name; anonymous ones by where they are.
    const name = rest.length === 1 ? `${site.template}:${site.line}` : (rest[1] as string);
    const engine = this.#engine;
    // `unless=` true: rendered fresh, nothing read or stored (as for 'del', without the delete).
    const fresh = timeout === 'del' || keywords?.unless === true;
    if (!fresh) {
      const hit = engine.peek(key);
      if (hit !== undefined && typeof hit.value === 'string') {
        engine.events.record('hit', 'fragment', key, name);
        const scope = hit.tags || this.#debugMarkers ? scopeOf(frame) : undefined;
        if (hit.tags) addToScope(scope, hit.tags, false);
        const html = this.#debugMarkers ? marked(hit, 'HIT', name, key, engine.clock.now(), scope) : hit.value;
        if (syncDepth < MAX_SYNC_DEPTH || this.#syncOnly.length > 0) return deliverNow(runtime, cb, html);
        return queueMicrotask(() => deliverLater(runtime, place, cb, null, html));
      }
    }
    const fragment: Fragment = { key, name, site, body, frame, scope: scopeOf(frame), timeout, tags: keywords?.tags, fresh, runtime, place, cb };
    if (fresh || this.#syncOnly.length > 0 || (engine.local && !engine.computing(key))) this.#renderNow(fragment);
    else this.#renderLater(fragment);
  }

  /**
   * Renders the fragment on this stack: on the memory store (nothing to wait for unless the body
   * waits), for `'del'`, and where nunjucks cannot wait (a render without a callback, a macro or
   * capture reaching this template). A body that finishes at once is delivered at once, and its
   * errors reach nunjucks as they would without the tag; one that waits is delivered when done
   * (on the memory store, concurrent renders of the key join it). Where nunjucks cannot wait,
   * nothing is read from a shared store, and the fragment is stored only when its tag versions are
   * in process memory.
   */
  #renderNow(fragment: Fragment): void {
    const { key, name, site, body, frame, timeout, tags, fresh, runtime, cb } = fragment;
    const engine = this.#engine;
    if (timeout === 'del') void engine.delete(key);
    else if (!fresh) engine.events.record('miss', 'fragment', key, name);
    const ttlMs = fresh ? 0 : timeoutToMs(timeout as never, engine.defaultTimeoutMs, 'timeout');
    const versioned = fresh ? undefined : tags;
    const own = versioned && engine.tagVersionsNow(versioned, ttlMs);
    // On a shared store, created in the background so that a later render can store.
    if (versioned && !own) void engine.tagVersions(versioned, ttlMs);
    const started = startRender(body, frame, own, versioned !== undefined && own === undefined);
    const state = timeout === 'del' ? 'DELETED' : fresh ? 'UNLESS' : 'MISS';
    if (!(started instanceof Promise)) {
      if (started.error) return cb(started.error as Error);
      if (!fresh) this.#store(fragment, started.rendered!, ttlMs);
      return this.#deliver(fragment, started.rendered!, state, true);
    }
    if (this.#syncOnly.length > 0) {
      const where = this.#syncOnly.at(-1)!;
      throw runtime.handleError(
        `${site.tag} in ${site.template} line ${site.line} was reached where nunjucks cannot wait ` +
          `(${where === 'render' ? 'a render without a callback' : `inside ${site.block(where)}`}), and its body did not ` +
          'finish at once (an async filter or loader inside): render this template with a callback',
        site.line,
        site.column,
      );
    }
    const done = fresh
      ? started
      : engine.coalesce(key, () =>
          started.then(async (rendered) => {
            if (this.#debugMarkers) rendered.entry.storedAt = engine.clock.now();
            if (!rendered.untracked && (await engine.write(key, rendered.entry, ttlMs))) engine.events.record('set', 'fragment', key, name);
            return rendered;
          }),
        );
    done.then((rendered) => this.#deliver(fragment, rendered, state, false), (err) => deliverLater(runtime, fragment.place, cb, err));
  }

  /** A miss on a shared store (or joining one running here): the lookup, the lock, the render, all waited for. */
  #renderLater(fragment: Fragment): void {
    const { key, name } = fragment;
    const engine = this.#engine;
    // In process memory `peek` has just answered; a shared store may have it (or get it from the lock's owner).
    const lookup = engine.local
      ? undefined
      : async (): Promise<Rendered | undefined> => {
          const cached = await engine.get(key);
          if (!cached || typeof cached.value !== 'string') return undefined;
          engine.events.record('hit', 'fragment', key, name);
          return { entry: cached, rendered: false, untracked: false };
        };
    engine.coalesce(key, () => this.#renderAndStore(fragment), lookup).then(
      (found) => this.#deliver(fragment, found, found.rendered ? 'MISS' : 'HIT', false),
      (err) => deliverLater(fragment.runtime, fragment.place, fragment.cb, err),
    );
  }

  async #renderAndStore(fragment: Fragment): Promise<Rendered> {
    const { key, name, body, frame, timeout, tags, place } = fragment;
    const engine = this.#engine;
    engine.events.record('miss', 'fragment', key, name);
    const ttlMs = timeoutToMs(timeout as never, engine.defaultTimeoutMs, 'timeout');
    // Versions are taken before rendering, so an invalidation during the render makes it a miss.
    const own = tags && (await engine.tagVersions(tags, ttlMs));
    const rendered = await new Promise<Rendered>((resolve, reject) =>
      renderBody(body, frame, own, tags !== undefined && own === undefined, (err, result) => (err ? reject(err) : resolve(result!)), place),
    );
    if (this.#debugMarkers) rendered.entry.storedAt = engine.clock.now();
    if (!rendered.untracked && (await engine.write(key, rendered.entry, ttlMs))) engine.events.record('set', 'fragment', key, name);
    return rendered;
  }

  /** Stores a fragment rendered on this stack: at once on the memory store, in the background on a shared one. */
  #store({ key, name }: Fragment, rendered: Rendered, ttlMs: number): void {
    const engine = this.#engine;
    if (rendered.untracked) return;
    if (this.#debugMarkers) rendered.entry.storedAt = engine.clock.now();
    if (engine.writeNow(key, rendered.entry, ttlMs)) engine.events.record('set', 'fragment', key, name);
    else if (!engine.local) void engine.write(key, rendered.entry, ttlMs).then((stored) => stored && engine.events.record('set', 'fragment', key, name));
  }

  #deliver(fragment: Fragment, { entry, untracked }: Rendered, state: string, now: boolean): void {
    const { name, key, scope, runtime, place, cb } = fragment;
    if (entry.tags || untracked) addToScope(scope, entry.tags, untracked);
    const html = this.#debugMarkers ? marked(entry, state, name, key, this.#engine.clock.now(), scope) : String(entry.value);
    if (now) deliverNow(runtime, cb, html);
    else deliverLater(runtime, place, cb, null, html);
  }

  #sourceDigest(parser: { tokens: { str: string } }): string {
    let digest = this.#sourceDigests.get(parser);
    if (!digest) {
      digest = createHash('sha256').update(parser.tokens.str).digest('base64url').slice(0, 12);
      this.#sourceDigests.set(parser, digest);
    }
    return digest;
  }
}

function isCacheExtension(extension: unknown): extension is CacheExtension {
  return extension instanceof CacheExtension;
}

/**
 * Renders the body, calling `done` with its full output and the tag versions of `own` and of every
 * fragment inside it: synchronously when nothing in it waits. A template error the body throws
 * (nunjucks throws the synchronous ones) is left to propagate, to reach nunjucks as it would without
 * the tag — unless `place` is given (the body runs outside the render's stack): then it is placed at
 * the template's current line and passed to `done`.
 */
function renderBody(
  body: Body,
  frame: ScopedFrame,
  own: TagVersions | undefined,
  untracked: boolean,
  done: (err: unknown, rendered?: Rendered) => void,
  place?: Place,
): void {
  const scope = newScope(own, untracked, true);
  const leave = once(enterScope(frame, scope));
  const finish = (err: Error | null, html: string) => {
    leave();
    if (err) done(err);
    else done(null, renderedFrom(html, scope));
  };
  try {
    body(finish);
  } catch (err) {
    leave();
    if (!place) throw err;
    done(place(err));
  }
}

function once(run: () => void): () => void {
  let ran = false;
  return () => {
    if (!ran) run();
    ran = true;
  };
}

/** Starts rendering the body on this stack: its outcome if it finished at once, else a promise of it. */
function startRender(
  body: Body,
  frame: ScopedFrame,
  own: TagVersions | undefined,
  untracked: boolean,
): { rendered?: Rendered; error?: unknown } | Promise<Rendered> {
  let outcome: { rendered?: Rendered; error?: unknown } | undefined;
  let later: { resolve: (rendered: Rendered) => void; reject: (err: unknown) => void } | undefined;
  renderBody(body, frame, own, untracked, (error, rendered) => {
    if (!later) outcome ??= { error, rendered };
    else if (error) later.reject(error);
    else later.resolve(rendered!);
  });
  return outcome ?? new Promise<Rendered>((resolve, reject) => (later = { resolve, reject }));
}

function renderedFrom(html: string, scope: Scope): Rendered {
  // nunjucks builds the output by concatenation: V8 keeps it as a rope of hundreds of pieces.
  // Converting it to a number makes V8 flatten it once, before it is stored and served many times.
  Number(html);
  const tags = Object.keys(scope.tags).length > 0 ? scope.tags : undefined;
  return { entry: { value: html, tags }, rendered: true, untracked: scope.untracked };
}

/** Hands the HTML to nunjucks on the render's own stack: what follows the tag runs inside `cb`, its errors reach nunjucks' handler. */
function deliverNow(runtime: Runtime, cb: Callback, html: string): void {
  syncDepth++;
  try {
    cb(null, new runtime.SafeString(html));
  } finally {
    syncDepth--;
  }
}

/**
 * Hands the result to nunjucks from a later turn. If what follows the tag throws, the error is
 * placed at the template's current line (as nunjucks' own handler would) and goes back through `cb`,
 * so the render callback sees it, not the process.
 */
function deliverLater(runtime: Runtime, place: Place, cb: Callback, err: unknown, html?: string): void {
  try {
    if (err) cb(err as Error);
    else cb(null, new runtime.SafeString(html!));
  } catch (thrown) {
    if (err) throw thrown;
    cb(place(thrown));
  }
}

/** The fragment's HTML between comments naming it, unless it is part of an enclosing fragment. */
function marked(entry: Entry, state: string, name: string, key: string, now: number, scope: Scope | undefined): string {
  const html = String(entry.value);
  if (scope?.fragment) return html;
  const age = entry.storedAt === undefined ? '' : ` age=${((now - entry.storedAt) / 1000).toFixed(1)}s`;
  const label = `${name} ${key}`.replace(/--/g, '- -');
  return `<!-- kfc ${state} ${label}${age} -->${html}<!-- /kfc ${name.replace(/--/g, '- -')} -->`;
}

/** The tag's keyword arguments: `tags=[…]`, `unless=<expression>`. */
interface Keywords {
  tags?: readonly string[];
  unless: boolean;
}

function checkedKeywords(keywords: Record<string, unknown>): Keywords {
  const unknown = Object.keys(keywords).filter((k) => k !== '__keywords' && k !== 'tags' && k !== 'unless');
  if (unknown.length > 0) throw new Error(`unknown keyword argument ${unknown.join(', ')} (the keywords are tags=[…] and unless=…)`);
  return { tags: 'tags' in keywords ? validateTags(keywords.tags, 'the fragment') : undefined, unless: Boolean(keywords.unless) };
}

/** `rest[i]` (the i-th argument after the timeout) is a vary value that is undefined. */
function undefinedVary(i: number, site: Site): Error {
  return new TypeError(
    `vary value ${i - 1} (argument ${i + 1} of ${site.tag}) is undefined: a misspelt variable? ` +
      'Pass null explicitly for "no value"; undefined would share one entry between all values',
  );
}

/** An error of the tag's own arguments, placed at the tag (in the copy of nunjucks rendering it). */
function atSite(runtime: Runtime, err: unknown, site: Site): Error {
  const message = err instanceof Error ? err.message : String(err);
  return runtime.handleError(`${site.tag} in ${site.template} line ${site.line}: ${message}`, site.line, site.column);
}
