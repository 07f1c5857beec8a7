import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Cache } from '../cache';
import type { Entry, TagVersions } from '../codec';
import { validateTags, tagKey } from '../tags';
import { digestIfLong, fragmentKey } from '../keys';
import { timeoutToMs } from '../timeout';
import { iterate, Latch } from './compile-nodes';
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

/**
 * What the fragment whose body is rendering depends on: every fragment inside it adds the tag
 * versions it was rendered under, so invalidating an inner fragment's tag misses the outer too.
 * `untracked`: some fragment inside has tags whose versions the store could not give (it was
 * failing); the outer one then cannot know when it goes stale, so it is served but not stored.
 */
interface Dependencies {
  tags: TagVersions;
  untracked: boolean;
}
const enclosing = new AsyncLocalStorage<Dependencies>();

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
  readonly #cache: Cache;
  readonly #debugMarkers: boolean;
  readonly #sites = new Map<string, Site>();
  readonly #sourceDigests = new WeakMap<object, string>();
  /** The bodies nunjucks is running synchronously around the current render (innermost last). */
  readonly #syncOnly: string[] = [];
  #name = 'CacheExtension';

  constructor(cache: Cache, options: CacheExtensionOptions = {}) {
    this.#cache = cache;
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
    args.children.unshift(new nodes.KfcRuntime(tag.lineno, tag.colno), new nodes.Literal(tag.lineno, tag.colno, site.anonymousKey));
    return new nodes.KfcCache(this, 'run', args, [body]);
  }

  /** @internal the rewrite found this tag inside a body nunjucks runs synchronously. */
  refuse(tag: AstNode, what: string, template: string): never {
    const site = this.#sites.get(tag.args.children[1].value)!;
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
  run(_context: unknown, runtime: Runtime, siteKey: string, ...rest: unknown[]): void {
    // The hit path below allocates nothing it can avoid: a 50-fragment page runs it 50 times.
    const site = this.#sites.get(siteKey)!;
    const cb = rest.pop() as Callback;
    const body = rest.pop() as Body;
    const fail = (err: unknown) => deliver(runtime, cb, placed(runtime, err, site));
    let key: string;
    let tags: readonly string[] | undefined;
    const timeout = rest[0];
    try {
      const last = rest[rest.length - 1] as { __keywords?: boolean; tags?: unknown } | undefined;
      if (typeof last === 'object' && last !== null && last.__keywords) {
        rest.pop();
        tags = keywordTags(last);
      }
      if (rest.length === 0) throw new TypeError('timeout is missing');
      key = rest.length === 1 ? site.anonymousKey : fragmentKey(rest[1], rest, 2);
      if (typeof timeout !== 'number' || !(timeout >= 0 && timeout < Infinity)) {
        if (timeout !== 'del') timeoutToMs(timeout as never, 0, 'timeout');
      }
      for (let i = 2; i < rest.length; i++) if (rest[i] === undefined) throw undefinedVary(i, site);
    } catch (err) {
      return fail(err);
    }

    // Stats group fragments by name; anonymous ones by where they are.
    const name = rest.length === 1 ? `${site.template}:${site.line}` : (rest[1] as string);
    const cache = this.#cache;
    if (timeout !== 'del') {
      const hit = cache.peekEntry(key);
      if (hit !== undefined && typeof hit.value === 'string') {
        cache.record('hit', 'fragment', key, name);
        if (hit.tags) addToEnclosing(hit.tags, false);
        return deliver(runtime, cb, null, this.#debugMarkers ? marked(hit, 'HIT', name, key) : hit.value);
      }
    }
    const served = ({ entry, untracked }: Rendered, state: string) => {
      if (entry.tags || untracked) addToEnclosing(entry.tags, untracked);
      deliver(runtime, cb, null, this.#debugMarkers ? marked(entry, state, name, key) : String(entry.value));
    };
    if (this.#syncOnly.length > 0) {
      try {
        served(this.#renderNow(key, name, body, timeout, tags, site), timeout === 'del' ? 'DELETED' : 'MISS');
      } catch (err) {
        fail(err);
      }
      return;
    }
    if (timeout === 'del') {
      cache
        .delete(key)
        .then(() => renderCollecting(body, undefined, false))
        .then((rendered) => served(rendered, 'DELETED'), fail);
      return;
    }
    // In process memory `peek` has just answered; a shared store may have it (or get it from the lock's owner).
    const lookup = cache.isLocal
      ? undefined
      : async (): Promise<Rendered | undefined> => {
          const cached = await cache.getEntry(key);
          if (!cached || typeof cached.value !== 'string') return undefined;
          cache.record('hit', 'fragment', key, name);
          return { entry: cached, rendered: false, untracked: false };
        };
    cache
      .coalesce(key, () => this.#renderAndStore(key, name, body, timeout, tags), lookup)
      .then((found) => served(found, found.rendered ? 'MISS' : 'HIT'), fail);
  }

  async #renderAndStore(key: string, name: string, body: Body, timeout: unknown, tags: readonly string[] | undefined): Promise<Rendered> {
    this.#cache.record('miss', 'fragment', key, name);
    // Versions are taken before rendering, so an invalidation during the render makes it a miss.
    const own = tags && (await this.#cache.tagVersions(tags));
    const rendered = await renderCollecting(body, own, tags !== undefined && own === undefined);
    if (this.#debugMarkers) rendered.entry.storedAt = Date.now();
    if (!rendered.untracked && (await this.#cache.setEntry(key, rendered.entry, timeout as never))) {
      this.#cache.record('set', 'fragment', key, name);
    }
    return rendered;
  }

  /**
   * Where nunjucks cannot wait (a render without a callback, a macro or capture reaching this
   * template), the body renders here and now, and is stored when that needs no waiting either:
   * its tag versions are in process memory. Nothing is read from a shared store.
   */
  #renderNow(key: string, name: string, body: Body, timeout: unknown, tags: readonly string[] | undefined, site: Site): Rendered {
    const cache = this.#cache;
    if (timeout === 'del') void cache.delete(key);
    else cache.record('miss', 'fragment', key, name);
    const own = tags && versionsInMemory(cache, tags);
    let outcome: { err: unknown; rendered?: Rendered } | undefined;
    renderBody(body, own, tags !== undefined && own === undefined, (err, rendered) => (outcome ??= { err, rendered }));
    if (!outcome) {
      const where = this.#syncOnly.at(-1)!;
      throw new Error(
        `it was reached where nunjucks cannot wait (${where === 'render' ? 'a render without a callback' : `inside ${site.block(where)}`}) ` +
          `and its body did not finish at once (an async filter or loader): render this template with a callback`,
      );
    }
    if (outcome.err) throw outcome.err;
    const rendered = outcome.rendered!;
    if (timeout !== 'del' && !rendered.untracked) {
      void cache.setEntry(key, rendered.entry, timeout as never).then((stored) => stored && cache.record('set', 'fragment', key, name));
    }
    return rendered;
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
 * fragment inside it: synchronously when nothing in it waits. A synchronous template error is thrown
 * out of `body()`, not passed to its callback.
 */
function renderBody(body: Body, own: TagVersions | undefined, untracked: boolean, done: (err: unknown, rendered?: Rendered) => void): void {
  const dependencies: Dependencies = { tags: { ...own }, untracked };
  enclosing.run(dependencies, () => {
    try {
      body((err, html) => (err ? done(err) : done(null, renderedFrom(html, dependencies))));
    } catch (err) {
      done(err);
    }
  });
}

function renderCollecting(body: Body, own: TagVersions | undefined, untracked: boolean): Promise<Rendered> {
  return new Promise((resolve, reject) => renderBody(body, own, untracked, (err, rendered) => (err ? reject(err) : resolve(rendered!))));
}

function renderedFrom(html: string, dependencies: Dependencies): Rendered {
  // nunjucks builds the output by concatenation: V8 keeps it as a rope of hundreds of pieces.
  // Converting it to a number makes V8 flatten it once, before it is stored and served many times.
  Number(html);
  const tags = Object.keys(dependencies.tags).length > 0 ? dependencies.tags : undefined;
  return { entry: { value: html, tags }, rendered: true, untracked: dependencies.untracked };
}

/** The current versions of `tags` if process memory holds them all; else starts creating them. */
function versionsInMemory(cache: Cache, tags: readonly string[]): TagVersions | undefined {
  const versions: TagVersions = {};
  for (const tag of tags) {
    const version = cache.peek(tagKey(tag));
    if (typeof version !== 'string') {
      void cache.tagVersions(tags); // so that a later render can store
      return undefined;
    }
    versions[tag] = version;
  }
  return versions;
}

/**
 * Hands the result to nunjucks, which continues rendering inside `cb`: synchronously, unless
 * MAX_SYNC_DEPTH hits are already nested on the stack and nunjucks can wait.
 */
function deliver(runtime: Runtime, cb: Callback, err: Error | null, html?: string, canWait = true): void {
  if (syncDepth < MAX_SYNC_DEPTH || !canWait) settle(runtime, cb, err, html);
  else queueMicrotask(() => settle(runtime, cb, err, html));
}

/**
 * If the continuation throws (a template error after this tag, when we were called back
 * asynchronously), the error goes back through `cb` so the render callback sees it, not the process.
 */
function settle(runtime: Runtime, cb: Callback, err: Error | null, html: string | undefined): void {
  syncDepth++;
  try {
    if (err) cb(err);
    else cb(null, new runtime.SafeString(html!));
  } catch (thrown) {
    if (err) throw thrown;
    cb(thrown instanceof Error ? thrown : new Error(String(thrown)));
  } finally {
    syncDepth--;
  }
}

/** The fragment's HTML between comments naming it, unless it is part of an enclosing fragment. */
function marked(entry: Entry, state: string, name: string, key: string): string {
  const html = String(entry.value);
  if (enclosing.getStore()) return html;
  const age = entry.storedAt === undefined ? '' : ` age=${((Date.now() - entry.storedAt) / 1000).toFixed(1)}s`;
  const label = `${name} ${key}`.replace(/--/g, '- -');
  return `<!-- kfc ${state} ${label}${age} -->${html}<!-- /kfc ${name.replace(/--/g, '- -')} -->`;
}

function addToEnclosing(tags: TagVersions | undefined, untracked: boolean): void {
  const outer = enclosing.getStore();
  if (!outer) return;
  if (tags) Object.assign(outer.tags, tags);
  if (untracked) outer.untracked = true;
}

function keywordTags(keywords: Record<string, unknown>): readonly string[] {
  const unknown = Object.keys(keywords).filter((k) => k !== '__keywords' && k !== 'tags');
  if (unknown.length > 0) throw new Error(`unknown keyword argument ${unknown.join(', ')} (only tags=[…] is known)`);
  return validateTags(keywords.tags, 'the fragment');
}

/** `rest[i]` (the i-th argument after the timeout) is a vary value that is undefined. */
function undefinedVary(i: number, site: Site): Error {
  return new TypeError(
    `vary value ${i - 1} (argument ${i + 1} of ${site.tag}) is undefined: a misspelt variable? ` +
      'Pass null explicitly for "no value"; undefined would share one entry between all values',
  );
}

/** A template error placed at the tag (in the copy of nunjucks rendering it), unless nunjucks already placed it. */
function placed(runtime: Runtime, err: unknown, site: Site): Error {
  if (err instanceof Error && (err as { lineno?: number }).lineno) return err;
  const message = err instanceof Error ? err.message : String(err);
  return runtime.handleError(`${site.tag} in ${site.template} line ${site.line}: ${message}`, site.line, site.column);
}
