import { createHash } from 'node:crypto';
import type { Cache } from '../cache';
import type { Entry } from '../core/codec';
import { dependOnTags, expectTags } from '../core/dependencies';
import type { Engine } from '../core/engine';
import { digestIfLong, FragmentKeys } from '../core/keys';
import type { CacheKind } from '../core/outcomes';
import { engineOf } from '../core/registry';
import { validateTags } from '../core/tags';
import { checkedStatePaths, pathText, pathValue, stateName, StateTracker } from '../core/state-reads';
import { timeoutToMs } from '../core/timeout';
import { iterate, Latch } from './compile-nodes';
import { astDigest, staticDependencies, TemplateDigests, type DigestEnvironment } from './digests';
import { addToScope, newScope, prefetched, scopeOf, type Scope, type ScopedFrame } from './fragment-scope';
import { Holes, holeKey, placeholder, type HoleFrame, type RenderableTemplate } from './holes';
import { currentTemplate, installHooks, templateName } from './hooks';
import { callerCopy, ownCopy, type AstNode, type NodeTypes, type NunjucksCopy } from './nunjucks-copy';
import type { RenderedPage } from '../koa/rendered-page';
import { deliverLater, deliverNow, renderBody, startRender, tooDeep, type Body, type Callback, type Place, type Rendered, type Runtime } from './render-body';
import { learnedNames, learnedState, REQUEST_STATE, servesToo, TemplateState, variantOf, withoutState, type Learned, type TemplateContext } from './template-state';

/** Where a cache tag is: fixed when its template compiles. */
interface Site {
  template: string;
  /** The template's path (to resolve its dependencies from). */
  path: string | undefined;
  line: number;
  column: number;
  anonymousKey: string;
  /** The tag as the Environment's delimiters write it, e.g. `{% cache %}` or `<% cache %>`. */
  tag: string;
  /** The same for another block name (`macro`…). */
  block: (name: string) => string;
  /** A digest of the body as parsed, and the templates it depends on (see digests.ts). */
  bodyDigest: string;
  dependencies: string[];
  /** The request-state paths its vary arguments name (`user.id`, `user`): what the key covers already. */
  varied: string[];
}

/** The nunjucks Context a tag runs in. */
interface Context extends TemplateContext {
  env: DigestEnvironment & { extensionsList: unknown[] };
  getVariables(): Record<string, unknown>;
}

/** One run of the tag that missed: what its paths need. */
interface Fragment {
  key: string;
  name: string;
  site: Site;
  body: Body;
  context: Context;
  /** The frame at the tag: its body renders with a scope of its own on it, holes with it as parent. */
  frame: ScopedFrame;
  /** The scope of the fragment or page around this one, if any. */
  scope: Scope | undefined;
  timeout: unknown;
  tags: readonly string[] | undefined;
  /** Rendered fresh, neither read nor stored: a `'del'` timeout, or `unless=` true. */
  fresh: boolean;
  /** The digest of the templates this fragment renders from now. */
  digest: string;
  /** The request state its key says it varies by, as this request has it (template-state.ts). */
  learned: Learned | undefined;
  runtime: Runtime;
  place: Place;
  cb: Callback;
}

export interface CacheExtensionOptions {
  /**
   * Wrap each fragment in HTML comments saying its key, HIT/MISS and age, to see in the page
   * source what came from the cache. Fragments inside another fragment are part of its HTML and
   * are not wrapped. For development: it costs a string per fragment.
   */
  debugMarkers?: boolean;
  /**
   * Paths of `ctx.state` that are the same for every visitor (`'site'`, `'nav.items'`): a fragment
   * body reading them is not kept per value of them. Everything else a body reads of the request
   * state `views()` renders with is.
   */
  sharedState?: readonly string[];
}

/**
 * `{% cache timeout [, name [, vary…]] [, tags=[…]] [, unless=…] [, depends=[…]] %}…{% endcache %}`:
 * renders its body once and serves the stored HTML until `timeout` (seconds, a duration string,
 * `none` = the cache's default, `0` = forever) runs out. Named fragments store under
 * `makeTemplateFragmentKey(name, [vary…])`; without a name the key is derived from the template's
 * name, the tag's position and a digest of the template's source. A `'del'` timeout deletes the
 * entry and renders the body fresh, uncached. `tags=[…]` makes the fragment a miss once any tag is
 * invalidated; `unless=` true renders it fresh without reading or storing; `depends=[…]` names
 * templates it depends on that a dynamic include hides (see digests.ts). `{% nocache %}` blocks
 * inside stay holes, rendered on every delivery (see holes.ts).
 *
 * Add it to any nunjucks Environment: `env.addExtension('CacheExtension', new CacheExtension(cache))`.
 */
export class CacheExtension {
  readonly tags = ['cache', 'nocache'];
  readonly #engine: Engine;
  readonly #debugMarkers: boolean;
  readonly #sharedState: readonly string[];
  readonly #sites = new Map<string, Site>();
  readonly #sourceDigests = new WeakMap<object, string>();
  readonly #keys = new FragmentKeys();
  readonly #holes = new Holes();
  readonly #digests = new TemplateDigests();
  /** The bodies nunjucks is running synchronously around the current render (innermost last). */
  readonly #syncOnly: string[] = [];
  #copy: NunjucksCopy = ownCopy();
  #name = 'CacheExtension';

  constructor(cache: Cache, options: CacheExtensionOptions = {}) {
    this.#engine = engineOf(cache, 'CacheExtension');
    this.#engine.memory.register('fragmentKeys', () => this.#keys.usage());
    this.#debugMarkers = options.debugMarkers === true;
    this.#sharedState = checkedStatePaths(options.sharedState, 'sharedState of CacheExtension');
  }

  /**
   * @internal nunjucks' `addExtension(name, ext)` sets this, and compiled templates find the
   * extension by it. Setting it is also the moment to prepare the nunjucks copy of that Environment.
   */
  get __name(): string {
    return this.#name;
  }

  /** @internal */
  set __name(name: string) {
    this.#copy = callerCopy() ?? ownCopy();
    installHooks(this.#copy, isCacheExtension);
    this.#name = name;
  }

  /** nunjucks' parser calls it for `{% cache … %}` and `{% nocache %}` (its `Extension` interface). */
  parse(parserOfNunjucks: unknown, nodesOfNunjucks: unknown): unknown {
    const parser = parserOfNunjucks as any;
    const nodes = nodesOfNunjucks as NodeTypes;
    if (!nodes.KfcCache) {
      throw new Error(
        `the cache extension was given to an Environment whose nunjucks copy koa-fragment-cache has not prepared ` +
          `(koa-fragment-cache uses nunjucks at ${ownCopy().root}); add it with env.addExtension(name, extension)`,
      );
    }
    const tag = parser.nextToken();
    const { BLOCK_START: start, BLOCK_END: end } = parser.tokens.tags as { BLOCK_START: string; BLOCK_END: string };
    const block = (name: string) => `${start} ${name} ${end}`;
    const template = currentTemplate();
    const args = parser.parseSignature(null, true);
    parser.advanceAfterBlockEnd(tag.value);
    if (tag.value === 'nocache') return this.#parseHole(parser, nodes, tag, args, block, template);
    if (args.children.length === 0) {
      parser.fail(`${block('cache')} needs a timeout: ${start} cache timeout [, name [, vary…]] ${end}`, tag.lineno, tag.colno);
    }
    const body = parser.parseUntilBlocks('endcache');
    if (!parser.peekToken()) parser.fail(`${block('cache')} opened on line ${tag.lineno + 1} has no ${block('endcache')}`, tag.lineno, tag.colno);
    parser.advanceAfterBlockEnd();

    const site: Site = {
      template: templateName(template) ?? '(string)',
      path: template?.path,
      line: tag.lineno + 1,
      column: tag.colno + 1,
      anonymousKey: '',
      tag: block('cache'),
      block,
      bodyDigest: astDigest(body),
      dependencies: [...new Set([...staticDependencies(body), ...declaredDependencies(parser, args, block, tag)])].sort(),
      varied: args.children.slice(2).flatMap((arg: AstNode) => {
        const path = lookupPath(arg);
        return path ? [stateName(['state', ...path])] : [];
      }),
    };
    site.anonymousKey = digestIfLong(`fragment@${site.template}:${site.line}:${site.column}:${this.#sourceDigest(parser)}`);
    // Pages will depend on its tags: responses collect tags from now on (core/dependencies.ts).
    if (keywordOf(args, 'tags')) expectTags();
    this.#sites.set(site.anonymousKey, site);
    args.children.unshift(...siteArguments(nodes, tag, site.anonymousKey));
    return new nodes.KfcCache(this, 'run', args, [body]);
  }

  /** `{% nocache %}…{% endnocache %}`: its body, parsed for errors, kept as source to render on its own. */
  #parseHole(parser: any, nodes: NodeTypes, tag: any, args: AstNode, block: (name: string) => string, template: ReturnType<typeof currentTemplate>): AstNode {
    if (args.children!.length > 0) parser.fail(`${block('nocache')} takes no arguments`, tag.lineno, tag.colno);
    const str: string = parser.tokens.str;
    const { BLOCK_START: start, BLOCK_END: end, COMMENT_START: commentStart, COMMENT_END: commentEnd } = parser.tokens.tags;
    const from: number = parser.tokens.index;
    const body = parser.parseUntilBlocks('endnocache');
    if (!parser.peekToken()) parser.fail(`${block('nocache')} opened on line ${tag.lineno + 1} has no ${block('endnocache')}`, tag.lineno, tag.colno);
    const to = str.lastIndexOf(start, parser.tokens.index);
    parser.advanceAfterBlockEnd();
    let source = str.slice(from, to);
    // As nunjucks' whitespace control and options would have trimmed it in place.
    if (str.slice(from - end.length - 1, from) === `-${end}` || (parser.tokens.trimBlocks && source.startsWith('\n'))) source = source.replace(/^\s*/, '');
    if (str.slice(to, to + start.length + 1) === `${start}-`) source = source.trimEnd();
    else if (parser.tokens.lstripBlocks) source = source.replace(/[ \t]*$/, '');
    const name = templateName(template) ?? '(string)';
    const key = holeKey(name, tag.lineno + 1, tag.colno + 1, source);
    // Padded with a comment as many lines long as what precedes it: its errors name the template's lines.
    const lines = str.slice(0, from).split('\n').length - 1;
    this.#holes.add({
      key,
      template: name,
      line: tag.lineno + 1,
      source: `${commentStart}${'\n'.repeat(lines)}${commentEnd}${source}`,
      path: template?.path,
      names: symbolsIn(body),
      Template: this.#copy.Template as unknown as new (source: string, env: unknown, path?: string) => RenderableTemplate,
      Frame: this.#copy.runtime.Frame as unknown as new () => HoleFrame,
    });
    return new nodes.KfcHole(this, 'hole', new nodes.NodeList(tag.lineno, tag.colno, siteArguments(nodes, tag, key)), []);
  }

  /** @internal the rewrite found this tag inside a body nunjucks runs synchronously. */
  refuse(tag: AstNode, what: string, template: string): never {
    const site = this.#sites.get(tag.args.children[3].value)!;
    const message =
      `${site.tag} in ${template} line ${site.line} cannot be used inside ${site.block(what)}: nunjucks cannot ` +
      `run an async tag there and would drop output. Move the cache block outside the ${what}.`;
    throw new (ownCopy().lib.TemplateError)(message, site.line, site.column);
  }

  /** @internal told by the parse hook of every template an Environment holding the extension compiles. */
  compiled(template: object, root: AstNode): void {
    this.#digests.recordDependencies(template, staticDependencies(root));
  }

  /** @internal compiled `KfcFor` loops run through this. */
  loop(more: (i: number) => boolean, body: (i: number, next: () => void) => void, done: () => void): void {
    iterate(more, body, done);
  }

  /**
   * @internal compiled `KfcFor` loops with cache tags in their body call this first (collection
   * multi-get): on a shared store, every item's fragment that process memory does not hold is read
   * in one batch — one pipelined multi-get, per slot on a cluster — and kept on the loop's frame for
   * its tags to find.
   */
  prefetch(frame: ScopedFrame, count: number, keysOf: (i: number) => unknown[][], fail: (err: unknown) => void, then: () => void): void {
    const engine = this.#engine;
    const keys = new Set<string>();
    for (let i = 0; i < count && !engine.local; i++) {
      try {
        for (const [siteKey, name, ...vary] of keysOf(i)) {
          const site = this.#sites.get(siteKey as string);
          const key = name === undefined ? site?.anonymousKey : this.#keys.key(name, vary, 0);
          if (key && !engine.peek(key)) keys.add(key);
        }
      } catch {
        // An item whose key cannot be made fails when its tag runs, with the error placed there.
      }
    }
    if (keys.size === 0) return then();
    const batch = [...keys];
    void engine.read(batch).then((entries) => {
      frame.kfcPrefetched = new Map(batch.flatMap((key, i) => (entries[i] ? [[key, entries[i]!]] : [])));
      try {
        then();
      } catch (err) {
        fail(err);
      }
    });
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
  run(context: Context, runtime: Runtime, place: Place, frame: ScopedFrame, siteKey: string, ...rest: unknown[]): void {
    const site = this.#sites.get(siteKey)!;
    const digest = this.#digests.knownSite(context.env, siteKey);
    if (digest !== undefined) return this.#run(context, runtime, place, frame, site, rest, digest, true);
    let now = true;
    this.#digests.ofSite(context.env, siteKey, site.bodyDigest, site.dependencies, site.path, (err, computed) => {
      if (err) return deliverLater(runtime, place, rest[rest.length - 1] as Callback, atSite(runtime, err, site));
      this.#run(context, runtime, place, frame, site, rest, computed!, now);
    });
    now = false;
  }

  /** `run`, with the digest of the templates the fragment renders from; `now`: on the render's stack. */
  #run(context: Context, runtime: Runtime, place: Place, frame: ScopedFrame, site: Site, rest: unknown[], digest: string, now: boolean): void {
    // The hit path below allocates nothing it can avoid: a 50-fragment page runs it 50 times.
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
      return now ? cb(atSite(runtime, err, site)) : deliverLater(runtime, place, cb, atSite(runtime, err, site));
    }

    // Stats group fragments by name; anonymous ones by where they are.
    const name = rest.length === 1 ? `${site.template}:${site.line}` : (rest[1] as string);
    const engine = this.#engine;
    // `unless=` true: rendered fresh, nothing read or stored (as for 'del', without the delete).
    const fresh = timeout === 'del' || keywords?.unless === true;
    let learned: Learned | undefined;
    if (!fresh) {
      let hit = engine.peek(key) ?? (engine.local ? undefined : prefetched(frame, key));
      const names = hit && learnedNames(hit.value);
      if (names) {
        learned = learnedState(key, names, context, frame);
        hit = engine.peek(learned.variant) ?? (engine.local ? undefined : prefetched(frame, learned.variant));
      }
      if (hit !== undefined && typeof hit.value === 'string' && hit.digest === digest) {
        engine.events.record('hit', 'fragment', key, name);
        if (!hit.tags && !hit.holes && !this.#debugMarkers && now && !tooDeep()) return deliverNow(runtime, cb, hit.value);
        const found = { entry: hit, rendered: false, untracked: false };
        const fragment = { key, name, site, body, context, frame, scope: scopeOf(frame), timeout, tags: undefined, fresh, digest, learned, runtime, place, cb };
        if (now && tooDeep() && this.#syncOnly.length === 0) return queueMicrotask(() => this.#deliver(fragment, found, 'HIT', false));
        return this.#deliver(fragment, found, 'HIT', now);
      }
    }
    const fragment: Fragment = { key, name, site, body, context, frame, scope: scopeOf(frame), timeout, tags: keywords?.tags, fresh, digest, learned, runtime, place, cb };
    if (fresh || this.#syncOnly.length > 0 || (engine.local && !engine.computing(key))) this.#renderNow(fragment, now);
    else this.#renderLater(fragment);
  }

  /**
   * Renders the fragment on this stack: on the memory store (nothing to wait for unless the body
   * waits), for `'del'` and `unless=`, and where nunjucks cannot wait (a render without a callback,
   * a macro or capture reaching this template). A body that finishes at once is delivered at once,
   * and its errors reach nunjucks as they would without the tag; one that waits is delivered when
   * done (on the memory store, concurrent renders of the key join it). Where nunjucks cannot wait,
   * nothing is read from a shared store, and the fragment is stored only when its tag versions are
   * in process memory.
   */
  #renderNow(fragment: Fragment, now: boolean): void {
    const { key, name, site, body, frame, timeout, tags, fresh, runtime, place, cb } = fragment;
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
      if (started.error) return now ? cb(started.error as Error) : deliverLater(runtime, place, cb, started.error);
      if (!fresh) this.#store(fragment, started.rendered!, ttlMs);
      return this.#deliver(fragment, started.rendered!, state, now);
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
            await this.#write(fragment, rendered, ttlMs);
            return rendered;
          }),
        );
    done.then(
      (rendered) => (fresh || servesToo(rendered, fragment.context) ? this.#deliver(fragment, rendered, state, false) : this.#renderAlone(fragment)),
      (err) => deliverLater(runtime, place, cb, err),
    );
  }

  /** A miss on a shared store (or joining one running here): the lookup, the lock, the render, all waited for. */
  #renderLater(fragment: Fragment): void {
    const { key, name, digest } = fragment;
    const engine = this.#engine;
    // In process memory `peek` has just answered; a shared store may have it (or get it from the lock's owner).
    const lookup = engine.local
      ? undefined
      : async (): Promise<Rendered | undefined> => {
          let cached = await engine.get(key);
          const names = cached && learnedNames(cached.value);
          if (names) {
            fragment.learned = learnedState(key, names, fragment.context, fragment.frame);
            cached = await engine.get(fragment.learned.variant);
          }
          if (!cached || typeof cached.value !== 'string' || cached.digest !== digest) return undefined;
          engine.events.record('hit', 'fragment', key, name);
          return { entry: cached, rendered: false, untracked: false, learned: fragment.learned };
        };
    engine.coalesce(key, () => this.#renderAndStore(fragment), lookup).then(
      (found) => (servesToo(found, fragment.context) ? this.#deliver(fragment, found, found.rendered ? 'MISS' : 'HIT', false) : this.#renderAlone(fragment)),
      (err) => deliverLater(fragment.runtime, fragment.place, fragment.cb, err),
    );
  }

  /** Renders and stores this request's own variant, the one the request it waited for did not serve. */
  #renderAlone(fragment: Fragment): void {
    this.#renderAndStore(fragment).then(
      (rendered) => this.#deliver(fragment, rendered, 'MISS', false),
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
    await this.#write(fragment, rendered, ttlMs);
    return rendered;
  }

  /** Records in the entry what produced it (and, for debug markers, when). */
  #stamp(fragment: Fragment, rendered: Rendered): void {
    rendered.entry.digest = fragment.digest;
    if (this.#debugMarkers) rendered.entry.storedAt = this.#engine.clock.now();
  }

  /** Stores a fragment rendered on this stack: at once on the memory store, in the background on a shared one. */
  #store(fragment: Fragment, rendered: Rendered, ttlMs: number): void {
    const { name } = fragment;
    const engine = this.#engine;
    const writes = this.#writes(fragment, rendered);
    if (!writes) return;
    if (writes.every(([key, entry]) => engine.writeNow(key, entry, ttlMs))) engine.events.record('set', 'fragment', writes[0][0], name);
    else if (!engine.local) void this.#write(fragment, rendered, ttlMs, writes);
  }

  /** Stores a fragment (see `#writes`), variant before the names: whoever finds the names finds the variant. */
  async #write(fragment: Fragment, rendered: Rendered, ttlMs: number, writes = this.#writes(fragment, rendered)): Promise<void> {
    if (!writes) return;
    for (const [key, entry] of writes) if (!(await this.#engine.write(key, entry, ttlMs))) return;
    this.#engine.events.record('set', 'fragment', writes[0][0], fragment.name);
  }

  /**
   * What storing a rendered fragment writes: its HTML under its key; or, when its body read request
   * state, under the variant's key, with the names it varies by (those learned before too) under
   * its key. Nothing when its tags' versions are unknown, or it read what cannot be keyed (a bypass).
   */
  #writes(fragment: Fragment, rendered: Rendered): [string, Entry][] | undefined {
    if (rendered.untracked) return undefined;
    this.#stamp(fragment, rendered);
    const { key, name, learned, context } = fragment;
    const reads = rendered.reads;
    if (reads?.unkeyable) {
      this.#engine.events.bypass('fragment', key, name, `${reads.unkeyable.path} ${reads.unkeyable.reason}`);
      return undefined;
    }
    // What a vary argument names (or holds whole) is in the key already.
    const covered = (name: string) => fragment.site.varied.some((path) => name === path || name.startsWith(`${path}.`));
    const read = [...(reads?.values.keys() ?? [])].filter((name) => !covered(name));
    if (read.length === 0 && !learned) return [[key, rendered.entry]];
    const names = [...new Set([...(learned?.names ?? []), ...read])].sort();
    const values = names.map((name) => reads!.values.get(name) ?? pathValue((first) => context.lookup(first), name));
    this.#engine.events.learned('fragment', name, names.map(pathText));
    return [
      [variantOf(key, names, values), rendered.entry],
      [key, { value: names }],
    ];
  }

  /**
   * Hands the fragment's HTML to nunjucks, `now` on the render's stack. Into HTML about to be
   * stored (an outer fragment's, a page `cached()` stores) it goes as it is — holes as placeholders,
   * its tags and holes told to the outer scope; anywhere else its holes are filled first.
   */
  #deliver(fragment: Fragment, { entry, untracked, reads }: Rendered, state: string, now: boolean): void {
    const { name, key, scope, context, frame, runtime, place, cb } = fragment;
    const html = this.#debugMarkers ? marked(entry, state, name, key, this.#engine.clock.now(), scope) : String(entry.value);
    if (entry.tags || untracked || reads) addToScope(scope, entry.tags, untracked, undefined, reads);
    // A response computing with this page depends on the fragment's tags too (core/dependencies.ts).
    dependOnTags(entry.tags);
    if (!entry.holes || scope?.collectsHoles) {
      if (entry.holes) addToScope(scope, undefined, false, entry.holes);
      return now ? deliverNow(runtime, cb, html) : deliverLater(runtime, place, cb, null, html);
    }
    let onStack = true;
    this.#fill(context.env, html, entry.holes, withoutState(context.getVariables()), frame as unknown as HoleFrame, 'fragment', (err, filled) =>
      onStack && now && !err ? deliverNow(runtime, cb, filled!) : deliverLater(runtime, place, cb, err, filled),
    );
    onStack = false;
  }

  /** @internal called by compiled templates for each `{% nocache %}`. */
  hole(context: Context, runtime: Runtime, place: Place, frame: ScopedFrame, key: string, cb: Callback): void {
    const scope = scopeOf(frame);
    if (scope?.collectsHoles) {
      let held: string;
      try {
        held = placeholder(scope, this.#holes.site(key)!, frame as unknown as HoleFrame);
      } catch (err) {
        return cb(runtime.handleError((err as Error).message, this.#holes.site(key)!.line, 1));
      }
      return deliverNow(runtime, cb, held);
    }
    let onStack = true;
    this.#renderHole(key, context.env, withoutState(context.getVariables()), frame as unknown as HoleFrame, undefined, 'fragment', (err, html) =>
      onStack && !err ? deliverNow(runtime, cb, html!) : deliverLater(runtime, place, cb, err, html),
    );
    onStack = false;
  }

  #renderHole(key: string, env: object, variables: object, frame: HoleFrame | undefined, carried: string | undefined, kind: CacheKind, done: (err: unknown, html?: string) => void): void {
    this.#engine.events.record('hole', kind, key, key);
    this.#holes.render(key, env, variables, frame, done, carried);
  }

  #fill(env: object, html: string, holes: readonly string[], variables: object, frame: HoleFrame | undefined, kind: CacheKind, done: (err: unknown, html?: string) => void): void {
    this.#holes.fill(html, holes, (key, carried, rendered) => this.#renderHole(key, env, variables, frame, carried, kind, rendered), done);
  }

  /**
   * @internal for `views()`: renders template `name` of `env` as a page, collecting the tags of the
   * fragments rendered into it and, when `storing` (`cached()` will store the response), leaving its
   * holes as placeholders in the stored version while this response gets them filled — from
   * `holeVariables` (the request's `ctx.state`), as they will be on every hit, where the route's
   * locals are not known. `state`: which of the variables come from `ctx.state`, and the request's
   * tracking of it (`cached()`'s while it computes): what the templates look up of them is learned.
   */
  renderPage(
    env: Context['env'],
    name: string,
    variables: Record<string, unknown>,
    state: { names: ReadonlySet<string>; tracker: StateTracker | undefined },
    holeVariables: object,
    storing: boolean,
    done: (err: unknown, page?: RenderedPage) => void,
  ): void {
    const tracker = state.tracker ?? new StateTracker();
    tracker.share(this.#sharedState);
    variables[REQUEST_STATE] = new TemplateState(tracker, state.names);
    const scope = newScope(undefined, false, false, storing);
    const frame = new (copyOf(env, this.#copy).runtime.Frame)() as ScopedFrame;
    frame.kfcScope = scope;
    env.getTemplate(name, false, null, false, (err: unknown, template?: object) => {
      if (err) return done(err);
      (template as RenderableTemplate).render(variables, frame, (renderErr: unknown, html?: string) => {
        if (renderErr) return done(renderErr);
        this.#digests.ofTemplate(env, name, (digestErr, digest) => {
          if (digestErr) return done(digestErr);
          const page = { html: html!, tags: Object.keys(scope.tags), digest: digest! };
          if (scope.holes.size === 0) return done(null, page);
          const holes = [...scope.holes];
          this.#fill(env, html!, holes, holeVariables, undefined, 'response', (fillErr, filled) =>
            done(fillErr, { ...page, html: filled!, stored: { html: html!, holes } }),
          );
        });
      });
    });
  }

  /** @internal for `cached()` hits of a page with holes: fills them with `variables` (the request's `ctx.state`). */
  fillPage(env: object, html: string, holes: readonly string[], variables: object, done: (err: unknown, html?: string) => void): void {
    this.#fill(env, html, holes, variables, undefined, 'response', done);
  }

  /** @internal for `cached()` hits of a page: the digest of template `name` as the running templates give it. */
  templateDigest(env: DigestEnvironment, name: string, done: (err: unknown, digest?: string) => void): void {
    this.#digests.ofTemplate(env, name, done);
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

export function isCacheExtension(extension: unknown): extension is CacheExtension {
  return extension instanceof CacheExtension;
}

/** The variable names a hole's body reads: those it finds in the frame travel with its placeholder. */
function symbolsIn(node: AstNode): string[] {
  const names = new Set<string>();
  const walk = (at: unknown): void => {
    if (Array.isArray(at)) return at.forEach(walk);
    if (typeof at !== 'object' || at === null || typeof (at as AstNode).typename !== 'string') return;
    const current = at as AstNode;
    if (current.typename === 'Symbol') names.add(current.value);
    for (const field of current.fields) walk(current[field]);
  };
  walk(node);
  return [...names];
}

/** The nunjucks copy `env` belongs to (its Frame class is the one a page must render with). */
function copyOf(env: object, known: NunjucksCopy): NunjucksCopy {
  return env instanceof known.Environment ? known : ownCopy();
}

/** What every tag call receives first: the rendering copy's runtime, an error placer, the frame, its site. */
function siteArguments(nodes: NodeTypes, tag: { lineno: number; colno: number }, key: string): AstNode[] {
  return [
    new nodes.KfcRuntime(tag.lineno, tag.colno),
    new nodes.KfcPlace(tag.lineno, tag.colno),
    new nodes.KfcFrame(tag.lineno, tag.colno),
    new nodes.Literal(tag.lineno, tag.colno, key),
  ];
}

/** `['user', 'id']` for a vary argument written `user.id` or `user["id"]`; undefined for any other expression. */
function lookupPath(node: AstNode): string[] | undefined {
  if (node.typename === 'Symbol') return [node.value as string];
  if (node.typename !== 'LookupVal' || node.val?.typename !== 'Literal') return undefined;
  const target = lookupPath(node.target as AstNode);
  return target && [...target, String(node.val.value)];
}

/** The expression a keyword argument of the tag is given, if it is. */
function keywordOf(args: AstNode, name: string): AstNode | undefined {
  const keywords = args.children!.find((child) => child.typename === 'KeywordArgs');
  return keywords?.children?.find((pair: AstNode) => pair.key?.value === name)?.value as AstNode | undefined;
}

/** `depends=["a.njk", …]`: template names the body depends on that a dynamic include hides, as literals. */
function declaredDependencies(parser: any, args: AstNode, block: (name: string) => string, tag: { lineno: number; colno: number }): string[] {
  const depends = keywordOf(args, 'depends');
  if (!depends) return [];
  const names = depends.typename === 'Array' ? (depends.children ?? []) : [];
  if (names.length === 0 || names.some((name) => name.typename !== 'Literal' || typeof name.value !== 'string')) {
    parser.fail(`${block('cache')}: depends=[…] must list template names as literal strings`, tag.lineno, tag.colno);
  }
  return names.map((name) => name.value as string);
}

/** The fragment's HTML between comments naming it, unless it is part of an enclosing fragment. */
function marked(entry: Entry, state: string, name: string, key: string, now: number, scope: Scope | undefined): string {
  const html = String(entry.value);
  if (scope?.fragment) return html;
  const age = entry.storedAt === undefined ? '' : ` age=${((now - entry.storedAt) / 1000).toFixed(1)}s`;
  const label = `${name} ${key}`.replace(/--/g, '- -');
  return `<!-- kfc ${state} ${label}${age} -->${html}<!-- /kfc ${name.replace(/--/g, '- -')} -->`;
}

/** The tag's keyword arguments: `tags=[…]`, `unless=<expression>` (`depends=[…]` is read when parsing). */
interface Keywords {
  tags?: readonly string[];
  unless: boolean;
}

const KEYWORDS = new Set(['__keywords', 'tags', 'unless', 'depends']);

function checkedKeywords(keywords: Record<string, unknown>): Keywords {
  const unknown = Object.keys(keywords).filter((k) => !KEYWORDS.has(k));
  if (unknown.length > 0) throw new Error(`unknown keyword argument ${unknown.join(', ')} (the keywords are tags=[…], unless=… and depends=[…])`);
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
