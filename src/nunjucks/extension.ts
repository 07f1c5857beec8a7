import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import nunjucks from 'nunjucks';
import type { Cache } from '../cache';
import type { Entry, TagVersions } from '../codec';
import { validateTags } from '../tags';
import { digestIfLong, fragmentKey } from '../keys';
import { timeoutToMs } from '../timeout';
import { currentTemplateName, installParserHooks, unsupportedParent } from './parser-hooks';

type Callback = (err: Error | null, html?: nunjucks.runtime.SafeString) => void;
type Body = (cb: (err: Error | null, html: string) => void) => string;

const { SafeString } = nunjucks.runtime;
const { TemplateError } = nunjucks.lib as unknown as {
  TemplateError: new (message: string | Error, lineno?: number, colno?: number) => Error & { lineno?: number };
};

/**
 * Hits answered synchronously continue the render on the same stack; past this many nested ones
 * (a loop of hits), the next continues in a microtask so that a 10 000-fragment page cannot
 * overflow the stack.
 */
const MAX_SYNC_DEPTH = 32;
let syncDepth = 0;

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
 * `{% cache timeout [, name [, vary…]] %}…{% endcache %}`: renders its body once and serves the
 * stored HTML until `timeout` (seconds, a duration string, `none` = the cache's default, `0` =
 * forever) runs out. Named fragments store under `makeTemplateFragmentKey(name, [vary…])`; without a
 * name the key is derived from the template's name, the tag's position and a digest of the
 * template's source. A `'del'` timeout deletes the entry and renders the body fresh, uncached.
 * `tags=[…]` (the one keyword argument) makes the fragment a miss once any tag is invalidated.
 */
export interface CacheExtensionOptions {
  /**
   * Wrap each fragment in HTML comments saying its key, HIT/MISS and age, to see in the page
   * source what came from the cache. Fragments inside another fragment are part of its HTML and
   * are not wrapped. For development: it costs a string per fragment.
   */
  debugMarkers?: boolean;
}

export class CacheExtension implements nunjucks.Extension {
  readonly tags = ['cache'];
  private readonly sourceDigests = new WeakMap<object, string>();
  private readonly debugMarkers: boolean;

  constructor(
    readonly cache: Cache,
    options: CacheExtensionOptions = {},
  ) {
    this.debugMarkers = options.debugMarkers === true;
    installParserHooks((extension) => extension instanceof CacheExtension);
  }

  parse(parser: any, nodes: any): unknown {
    const tag = parser.nextToken();
    const line = tag.lineno + 1;
    const column = tag.colno + 1;
    const parent = unsupportedParent(parser);
    if (parent) {
      parser.fail(
        `{% cache %} cannot be used inside {% ${parent} %}: nunjucks cannot run an async tag there ` +
          `and would drop output. Move the cache block outside the ${parent}.`,
        tag.lineno,
        tag.colno,
      );
    }
    const args = parser.parseSignature(null, true);
    parser.advanceAfterBlockEnd(tag.value);
    if (args.children.length === 0) {
      parser.fail('{% cache %} needs a timeout: {% cache timeout [, name [, vary…]] %}', tag.lineno, tag.colno);
    }
    const body = parser.parseUntilBlocks('endcache');
    if (!parser.peekToken()) {
      parser.fail(`{% cache %} opened on line ${line} has no {% endcache %}`, tag.lineno, tag.colno);
    }
    parser.advanceAfterBlockEnd();

    const templateName = currentTemplateName() ?? '(string)';
    const anonymousKey = digestIfLong(`fragment@${templateName}:${line}:${column}:${this.sourceDigest(parser)}`);
    const site = [templateName, line, column, anonymousKey].map((value) => new nodes.Literal(tag.lineno, tag.colno, value));
    args.children.unshift(...site);
    return new nodes.CallExtensionAsync(this, 'run', args, [body]);
  }

  run(_context: unknown, templateName: string, line: number, column: number, anonymousKey: string, ...rest: unknown[]): void {
    // The hit path below allocates nothing it can avoid: a 50-fragment page runs it 50 times.
    const cb = rest.pop() as Callback;
    const body = rest.pop() as Body;
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
      key = rest.length === 1 ? anonymousKey : fragmentKey(rest[1], rest, 2);
      if (typeof timeout !== 'number' || !(timeout >= 0 && timeout < Infinity)) {
        if (timeout !== 'del') timeoutToMs(timeout as never, 0, 'timeout');
      }
    } catch (err) {
      return deliver(cb, placed(err, templateName, line, column));
    }

    // Stats group fragments by name; anonymous ones by where they are.
    const name = rest.length === 1 ? `${templateName}:${line}` : (rest[1] as string);
    if (timeout !== 'del') {
      const hit = this.cache.peekEntry(key);
      if (hit !== undefined && typeof hit.value === 'string') {
        this.cache.record('hit', 'fragment', key, name);
        if (hit.tags) addToEnclosing(hit.tags, false);
        return deliver(cb, null, this.debugMarkers ? marked(hit, 'HIT', name, key) : hit.value);
      }
    }
    const served = ({ entry, untracked }: Rendered, state: string) => {
      if (entry.tags || untracked) addToEnclosing(entry.tags, untracked);
      deliver(cb, null, this.debugMarkers ? marked(entry, state, name, key) : String(entry.value));
    };
    const fail = (err: unknown) => deliver(cb, placed(err, templateName, line, column));
    if (timeout === 'del') {
      this.cache
        .delete(key)
        .then(() => renderCollecting(body, undefined, false))
        .then((rendered) => served(rendered, 'DELETED'), fail);
      return;
    }
    // In process memory `peek` has just answered; a shared store may have it (or get it from the lock's owner).
    const lookup = this.cache.isLocal
      ? undefined
      : async (): Promise<Rendered | undefined> => {
          const cached = await this.cache.getEntry(key);
          if (!cached || typeof cached.value !== 'string') return undefined;
          this.cache.record('hit', 'fragment', key, name);
          return { entry: cached, rendered: false, untracked: false };
        };
    this.cache
      .coalesce(key, () => this.renderAndStore(key, name, body, timeout, tags), lookup)
      .then((found) => served(found, found.rendered ? 'MISS' : 'HIT'), fail);
  }

  private async renderAndStore(
    key: string,
    name: string,
    body: Body,
    timeout: unknown,
    tags: readonly string[] | undefined,
  ): Promise<Rendered> {
    this.cache.record('miss', 'fragment', key, name);
    // Versions are taken before rendering, so an invalidation during the render makes it a miss.
    const own = tags && (await this.cache.tagVersions(tags));
    const rendered = await renderCollecting(body, own, tags !== undefined && own === undefined);
    if (this.debugMarkers) rendered.entry.storedAt = Date.now();
    if (!rendered.untracked && (await this.cache.setEntry(key, rendered.entry, timeout as never))) {
      this.cache.record('set', 'fragment', key, name);
    }
    return rendered;
  }

  private sourceDigest(parser: { tokens: { str: string } }): string {
    let digest = this.sourceDigests.get(parser);
    if (!digest) {
      digest = createHash('sha256').update(parser.tokens.str).digest('base64url').slice(0, 12);
      this.sourceDigests.set(parser, digest);
    }
    return digest;
  }
}

/**
 * The body's full output, with the tag versions of `own` and of every fragment inside it.
 * A synchronous template error is thrown out of `body()`, not passed to its callback.
 */
function renderCollecting(body: Body, own: TagVersions | undefined, untracked: boolean): Promise<Rendered> {
  const dependencies: Dependencies = { tags: { ...own }, untracked };
  const done = (html: string): Rendered => {
    // nunjucks builds the output by concatenation: V8 keeps it as a rope of hundreds of pieces.
    // Converting it to a number makes V8 flatten it once, before it is stored and served many times.
    Number(html);
    const tags = Object.keys(dependencies.tags).length > 0 ? dependencies.tags : undefined;
    return { entry: { value: html, tags }, rendered: true, untracked: dependencies.untracked };
  };
  return new Promise((resolve, reject) => {
    enclosing.run(dependencies, () => {
      try {
        body((err, html) => (err ? reject(err) : resolve(done(html))));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/**
 * Hands the result to nunjucks, which continues rendering inside `cb`: synchronously, unless
 * MAX_SYNC_DEPTH hits are already nested on the stack.
 */
function deliver(cb: Callback, err: Error | null, html?: string): void {
  if (syncDepth < MAX_SYNC_DEPTH) settle(cb, err, html);
  else queueMicrotask(() => settle(cb, err, html));
}

/**
 * If the continuation throws (a template error after this tag, when we were called back
 * asynchronously), the error goes back through `cb` so the render callback sees it, not the process.
 */
function settle(cb: Callback, err: Error | null, html: string | undefined): void {
  syncDepth++;
  try {
    if (err) cb(err);
    else cb(null, new SafeString(html!));
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

/** A TemplateError placed at the tag, unless nunjucks already placed it. */
function placed(err: unknown, templateName: string, line: number, column: number): Error {
  if (err instanceof Error && (err as { lineno?: number }).lineno) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TemplateError(`{% cache %} in ${templateName} line ${line}: ${message}`, line, column);
}
