import type { Entry, TagVersions } from '../core/codec';
import type { Computation } from '../core/compute';
import { dependOnTags } from '../core/dependencies';
import type { Engine } from '../core/engine';
import { FragmentKeys } from '../core/keys';
import { timeoutToMs } from '../core/timeout';
import type { TemplateRuntime } from './compile-nodes';
import { iterate, Latch } from './continuations';
import type { TemplateDigests } from './digests';
import { cannotWait, marked, outcomeOf, ttlOf, type Context, type Fragment, type Site } from './fragment';
import { addToScope, prefetched, scopeOf, type ScopedFrame } from './fragment-scope';
import { FragmentStore } from './fragment-store';
import { placeholder, type HoleFrame, type Holes } from './holes';
import { deliverLater, deliverNow, renderLater, startRender, tooDeep, type Body, type Callback, type Place, type Rendered, type Runtime } from './render-body';
import { AHEAD_NAME, AHEAD_SITE, atSite, checkedKeywords, FRAME, isKeywords, NAME, PLACE, RUNTIME, SITE, TIMEOUT, undefinedVary, VARY, type Keywords } from './tag-arguments';
import { learnedNames, learnedState, servesToo, withoutState, type Learned } from './template-state';

/** What the runtime shares with the parser (extension.ts), which fills it while templates compile. */
export interface Parsed {
  sites: ReadonlyMap<string, Site>;
  holes: Holes;
  digests: TemplateDigests;
}

/**
 * What compiled templates call (compile-nodes.ts): the cache and nocache tags, and the loops and
 * branches that may wait. A cache tag is found (a hit), rendered on the render's stack, or rendered
 * later; each ends in the one delivery step (`#deliver`), and what is rendered goes through the one
 * store step (fragment-store.ts).
 */
export class FragmentRuntime implements TemplateRuntime {
  readonly #engine: Engine;
  readonly #sites: ReadonlyMap<string, Site>;
  readonly #holes: Holes;
  readonly #digests: TemplateDigests;
  readonly #store: FragmentStore;
  readonly #debugMarkers: boolean;
  readonly #keys = new FragmentKeys();
  /** The bodies nunjucks is running synchronously around the current render (innermost last). */
  readonly #syncOnly: string[] = [];

  constructor(engine: Engine, { sites, holes, digests }: Parsed, debugMarkers: boolean) {
    this.#engine = engine;
    this.#sites = sites;
    this.#holes = holes;
    this.#digests = digests;
    this.#store = new FragmentStore(engine, debugMarkers);
    this.#debugMarkers = debugMarkers;
    engine.memory.register('fragmentKeys', () => this.#keys.usage());
  }

  /** `{% cache %}`: `args` laid out as tag-arguments.ts says, then the body and nunjucks' callback. */
  cache(context: Context, ...args: unknown[]): void {
    const siteKey = args[SITE] as string;
    const site = this.#sites.get(siteKey)!;
    const digest = this.#digests.knownSite(context.env, siteKey);
    if (digest !== undefined) return this.#run(context, args, site, digest, true);
    let now = true;
    this.#digests.ofSite(context.env, siteKey, site.bodyDigest, site.dependencies, site.path, (err, computed) => {
      if (err) return (args.at(-1) as Callback)(atSite(args[RUNTIME] as Runtime, err, site));
      this.#run(context, args, site, computed!, now);
    });
    now = false;
  }

  /** `cache`, with the digest of the templates the fragment renders from; `now`: on the render's stack. */
  #run(context: Context, args: unknown[], site: Site, digest: string, now: boolean): void {
    // The hit path below allocates nothing it can avoid: a 50-fragment page runs it 50 times.
    const cb = args.pop() as Callback;
    const body = args.pop() as Body;
    const runtime = args[RUNTIME] as Runtime;
    const frame = args[FRAME] as ScopedFrame;
    const timeout = args[TIMEOUT];
    let key: string;
    let keywords: Keywords | undefined;
    try {
      if (isKeywords(args.at(-1))) keywords = checkedKeywords(args.pop() as Record<string, unknown>);
      if (args.length === TIMEOUT) throw new TypeError('timeout is missing');
      key = this.#key(site, args, NAME);
      if (typeof timeout !== 'number' || !(timeout >= 0 && timeout < Infinity)) {
        if (timeout !== 'del') timeoutToMs(timeout as never, 0, 'timeout');
      }
      for (let at = VARY; at < args.length; at++) if (args[at] === undefined) throw undefinedVary(at, site);
    } catch (err) {
      return cb(atSite(runtime, err, site));
    }

    // Stats group fragments by name; anonymous ones by where they are.
    const name = args.length === NAME ? `${site.template}:${site.line}` : (args[NAME] as string);
    const engine = this.#engine;
    // `unless=` true: rendered fresh, nothing read or stored (as for 'del', without the delete).
    const fresh = timeout === 'del' || keywords?.unless === true;
    let learned: Learned | undefined;
    let hit: Entry | undefined;
    if (!fresh) {
      hit = engine.peek(key, true) ?? (engine.local ? undefined : prefetched(frame, key));
      const names = hit && learnedNames(hit.value);
      if (names) {
        learned = learnedState(key, names, context, frame);
        hit = engine.peek(learned.variant, true) ?? (engine.local ? undefined : prefetched(frame, learned.variant));
      }
      // Invalidated in stale mode: served stale only while another render recomputes it.
      if (hit === undefined || typeof hit.value !== 'string' || hit.digest !== digest || (hit.stale && !engine.computing(key))) hit = undefined;
      else {
        engine.events.record(hit.stale ? 'stale' : 'hit', 'fragment', key, name);
        if (!hit.tags && !hit.holes && !this.#debugMarkers && now && !tooDeep()) return deliverNow(runtime, cb, hit.value);
      }
    }
    const place = args[PLACE] as Place;
    const fragment: Fragment = { key, name, site, body, context, frame, scope: scopeOf(frame), timeout, tags: keywords?.tags, fresh, digest, learned, runtime, place, cb };
    if (hit) {
      const found: Rendered = { entry: hit, rendered: false, untracked: false };
      if (now && tooDeep() && this.#syncOnly.length === 0) return queueMicrotask(() => this.#deliver(fragment, found, false));
      return this.#deliver(fragment, found, now);
    }
    if (fresh || this.#syncOnly.length > 0 || (engine.local && !engine.computing(key))) this.#renderNow(fragment, now);
    else this.#renderLater(fragment);
  }

  /** The fragment's key from `values`, whose name (if the tag has one) is at `nameAt`, its vary values after it. */
  #key(site: Site, values: readonly unknown[], nameAt: number): string {
    return values.length === nameAt ? site.anonymousKey : this.#keys.key(values[nameAt], values, nameAt + 1);
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
    const { key, body, frame, timeout, fresh, runtime, cb } = fragment;
    const engine = this.#engine;
    if (fresh) {
      if (timeout === 'del') void engine.delete(key);
      const started = startRender(body, frame, undefined, false);
      if (!(started instanceof Promise)) return started.error ? cb(started.error as Error) : this.#deliver(fragment, started.rendered!, now);
      if (this.#syncOnly.length > 0) throw cannotWait(runtime, fragment.site, this.#syncOnly.at(-1)!);
      return this.#deliverWhenDone(fragment, started);
    }
    // A body's error on this stack reaches nunjucks as it would without the tag; `cannotWait` is thrown.
    let failed: { error?: unknown } | undefined;
    let result: Rendered | Promise<Rendered>;
    try {
      result = engine.computeNow(
        this.#computation(fragment, (own, untracked) => {
          const started = startRender(body, frame, own, untracked);
          if (started instanceof Promise && this.#syncOnly.length > 0) throw cannotWait(runtime, fragment.site, this.#syncOnly.at(-1)!);
          if (started instanceof Promise || !started.error) return started instanceof Promise ? started : started.rendered!;
          throw (failed = started).error;
        }),
      );
    } catch (err) {
      if (failed) return cb(failed.error as Error);
      throw err;
    }
    if (result instanceof Promise) return this.#deliverWhenDone(fragment, result);
    this.#deliver(fragment, result, now);
  }

  /** The fragment as a computation of the engine's one compute path: rendered under its tag versions (`untracked`: unknown, not stored), written by the store step. */
  #computation(fragment: Fragment, render: (own: TagVersions | undefined, untracked: boolean) => Rendered | Promise<Rendered>): Computation<Rendered> {
    const { key, name, tags } = fragment;
    const engine = this.#engine;
    return {
      kind: 'fragment',
      name,
      key,
      ttlMs: ttlOf(fragment, engine.defaultTimeoutMs),
      tags,
      compute: (own) => {
        engine.events.record('miss', 'fragment', key, name);
        const rendered = render(own, tags !== undefined && own === undefined);
        return rendered instanceof Promise ? rendered.then((done) => Object.assign(done, { by: fragment })) : Object.assign(rendered, { by: fragment });
      },
      entries: (rendered) => this.#store.entries(fragment, rendered),
    };
  }

  /** A miss on a shared store (or joining one running here): the lookup, the lock, the render, all waited for. */
  #renderLater(fragment: Fragment): void {
    // In process memory `peek` has just answered; a shared store may have it (or get it from the lock's owner).
    // One invalidated in stale mode is answered instead of waiting for another process's render of it.
    let stale: Rendered | undefined;
    const lookup = async () => ((stale = await this.#store.find(fragment))?.entry.stale ? undefined : stale);
    const computation = this.#computation(fragment, (own, untracked) => renderLater(fragment, own, untracked));
    const done = this.#engine.getOrCompute({ ...computation, lookup: this.#engine.local ? undefined : lookup, stale: () => (stale?.entry.stale ? stale : undefined) });
    this.#deliverWhenDone(fragment, done.then((found) => (found.entry.stale && this.#engine.events.record('stale', 'fragment', fragment.key, fragment.name), found)));
  }

  /** Delivers what `pending` rendered or found, unless that was for a request whose state differs: then renders this one's own. */
  #deliverWhenDone(fragment: Fragment, pending: Promise<Rendered>): void {
    pending.then((rendered) => {
      if (fragment.fresh || rendered.by === fragment) return this.#deliver(fragment, rendered, false);
      if (!servesToo(rendered, fragment.context)) return this.#renderAlone(fragment);
      // It joined another request's lookup, which found what serves it too: a hit of its own.
      if (!rendered.rendered && !rendered.entry.stale) this.#engine.events.record('hit', 'fragment', fragment.key, fragment.name);
      this.#deliver(fragment, rendered, false);
    }, (err) => fragment.cb(err as Error));
  }

  /** This request's own variant (the request it waited for had other state): read from a shared store, else rendered and stored. */
  #renderAlone(fragment: Fragment): void {
    const stored = this.#engine.local ? Promise.resolve(undefined) : this.#store.find(fragment);
    stored
      .then((found) => (found && !found.entry.stale ? found : this.#engine.computeAlone(this.#computation(fragment, (own, untracked) => renderLater(fragment, own, untracked)))))
      .then((rendered) => this.#deliver(fragment, rendered, false), (err) => fragment.cb(err as Error));
  }

  /**
   * The delivery step: hands the fragment's HTML to nunjucks, `now` on the render's stack. Into HTML
   * about to be stored (an outer fragment's, a page `cached()` stores) it goes as it is — holes as
   * placeholders, its tags and holes told to the outer scope; anywhere else its holes are filled first.
   */
  #deliver(fragment: Fragment, { entry, rendered, untracked, reads }: Rendered, now: boolean): void {
    const { name, key, scope, context, frame, runtime, place, cb } = fragment;
    const html = this.#debugMarkers ? marked(entry, outcomeOf(fragment, rendered), name, key, this.#engine.clock.now(), scope) : String(entry.value);
    if (entry.tags || untracked || reads) addToScope(scope, entry.tags, untracked, undefined, reads);
    // A response computing with this page depends on the fragment's tags too (core/dependencies.ts).
    dependOnTags(entry.tags);
    if (!entry.holes || scope?.collectsHoles) {
      if (entry.holes) addToScope(scope, undefined, false, entry.holes);
      return now ? deliverNow(runtime, cb, html) : deliverLater(runtime, place, cb, null, html);
    }
    let onStack = true;
    this.#holes.fill(html, entry.holes, context.env, withoutState(context.getVariables()), frame as unknown as HoleFrame, 'fragment', (err, filled) =>
      onStack && now && !err ? deliverNow(runtime, cb, filled!) : deliverLater(runtime, place, cb, err, filled),
    );
    onStack = false;
  }

  /** `{% nocache %}`: its site arguments (tag-arguments.ts), then nunjucks' callback. */
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
    this.#holes.render(key, context.env, withoutState(context.getVariables()), frame as unknown as HoleFrame, 'fragment', (err, html) =>
      onStack && !err ? deliverNow(runtime, cb, html!) : deliverLater(runtime, place, cb, err, html),
    );
    onStack = false;
  }

  /**
   * Collection multi-get, before a loop with cache tags in its body runs: on a shared store, every
   * item's fragment that process memory does not hold is read in one batch — one pipelined
   * multi-get, per slot on a cluster — and kept on the loop's frame for its tags to find.
   */
  prefetch(frame: ScopedFrame, count: number, keysOf: (i: number) => unknown[][], fail: (err: unknown) => void, then: () => void): void {
    const engine = this.#engine;
    const keys = new Set<string>();
    for (let i = 0; i < count && !engine.local; i++) {
      try {
        for (const ahead of keysOf(i)) {
          const key = this.#key(this.#sites.get(ahead[AHEAD_SITE] as string)!, ahead, AHEAD_NAME);
          if (!engine.peek(key)) keys.add(key);
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

  loop(more: (i: number) => boolean, body: (i: number, next: () => void) => void, done: () => void): void {
    iterate(more, body, done);
  }

  latch(): Latch {
    return new Latch();
  }

  enterSyncOnly(what: string): void {
    this.#syncOnly.push(what);
  }

  leaveSyncOnly(): void {
    this.#syncOnly.pop();
  }
}
