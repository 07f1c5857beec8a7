import type { Context, Next } from 'koa';
import type { TagVersions } from '../core/codec';
import type { Writes } from '../core/compute';
import { collectDependencies, missedTags, newDependencies, type Dependencies } from '../core/dependencies';
import type { Engine } from '../core/engine';
import { invalidationMark } from '../core/invalidation-log';
import { isStateName, StateTracker } from '../core/state-reads';
import { timeoutToMs } from '../core/timeout';
import type { CachedConfig } from './cached-options';
import { unwrapCachedResponse, type CachedResponse } from './cached-response';
import { captureResponse, snapshotHeaders, type HeaderSnapshot } from './capture';
import { PageRecording, type RecordedPage } from './page-link';
import { varyValue } from './request-facts';
import { watchReads, type RequestReads } from './request-reads';
import { storableBody } from './response-body';
import { variantKey } from './response-key';
import { varyOf } from './response-vary';
import { isStorableResponse } from './storability';
import { encodeResponse, encodeVaryIndex, newVaryIndex, type StoredResponse, type VaryIndex } from './stored-entry';
import { setSurrogateKeys } from './surrogate-keys';
import { trackRequestState } from './tracked-state';

/** A response computed to be stored, and what it is stored under. */
export interface NewEntry {
  base: string;
  key: string;
  response: StoredResponse;
  /** The vary index with what this computation learned, before it names this variant. */
  index: VaryIndex;
  storeMs: number;
  declaredTags: readonly string[] | undefined;
  dependencies: Dependencies;
}

/** A request that missed: what its computation needs. `fallback`: a stale response to serve if the route fails (staleIfError). */
export interface Miss {
  ctx: Context;
  next: Next;
  early: readonly string[];
  recompute: boolean;
  fallback: StoredResponse | undefined;
}

/**
 * What one computation gave, as shared with the requests that waited for it: `by` is the request
 * the route ran for (none when another process had stored the response meanwhile).
 */
export type Computed =
  | { kind: 'cacheable'; by?: Context; response: StoredResponse; index: VaryIndex; variantKey: string; /** What to store, when it may be. */ entry?: NewEntry }
  | { kind: 'uncacheable'; by: Context; serverError: boolean; bypass?: string }
  | { kind: 'failed'; by: Context; error: unknown };

/**
 * What storing `entry` writes: the variant, under the versions of the tags the route declared
 * (`own`) and of those it read, then `index` naming it (whoever finds the index finds the variant).
 */
export function writesOf(entry: NewEntry, index: VaryIndex, own: TagVersions | undefined): Writes {
  const read = entry.dependencies.tags;
  let tags: TagVersions | undefined = own ? { ...own, ...read } : read;
  if (Object.keys(tags).length === 0) tags = undefined;
  return [
    [entry.key, { value: encodeResponse(entry.response), tags }, entry.storeMs],
    [entry.base, { value: encodeVaryIndex(index) }, entry.storeMs],
  ];
}

/**
 * What running the route for a miss gave: an entry to store (not stored if its tags may be out of
 * date: see `RouteRun.tagsUnknown`), or a response that may not be stored, and why.
 */
export type ComputedEntry =
  | { kind: 'entry'; entry: NewEntry; tagsUnknown: boolean }
  | { kind: 'uncacheable'; serverError: boolean; bypass?: string };

/**
 * Runs the route on `ctx` (its response is then on `ctx`, holes filled) and makes the entry that
 * stores it: keyed by what it read (response-vary.ts), under `base`, in `index` as other requests
 * learned it so far; `early`: the cookies read before the cache ran.
 */
export async function computeEntry(
  ctx: Context,
  next: Next,
  where: { base: string; index?: VaryIndex },
  early: readonly string[],
  config: CachedConfig,
  engine: Engine,
): Promise<ComputedEntry> {
  const { base, index: known } = where;
  // The state the index's paths had before the route could change it: the values this request looked up with.
  const stateNames = known?.vary.filter(isStateName);
  const stateBefore = stateNames?.length ? new Map(stateNames.map((name) => [name, varyValue(ctx, name, config.ignoreCookies)])) : undefined;
  const run = new RouteRun(ctx, engine, config.sharedState);
  let declared: CachedResponse | undefined;
  try {
    declared = unwrapCachedResponse(ctx, await collectDependencies(run.dependencies, next));
  } finally {
    run.stop();
  }
  const { reads, dependencies, page } = run;
  if (config.surrogateKeys) setSurrogateKeys(ctx, [...(declared?.tags ?? []), ...(page?.tags ?? []), ...Object.keys(dependencies.tags)]);
  // The body first: serializing an object body reads what it holds of ctx.state (`ctx.body = { user }`).
  let body = !reads!.allHeaders && isStorableResponse(ctx, config.statuses) ? storableBody(ctx, config.maxBodyBytes) : undefined;
  if (body instanceof Promise) body = await body;
  const { unkeyable } = dependencies.reads;
  if (unkeyable) return { kind: 'uncacheable', serverError: ctx.status >= 500, bypass: `${unkeyable.path} ${unkeyable.reason}` };
  const vary = varyOf(ctx, reads!, config, early, dependencies);
  if (!vary || body === undefined) return { kind: 'uncacheable', serverError: ctx.status >= 500 };
  // Text is stored as it is: no bytes made of it, no base64 on the way in, nor on the way out.
  if (page?.stored) body = page.stored.html;
  // What other requests learned stays (their variants stay reachable); what this one read joins it.
  const merged = known && mergedVary(known.vary, vary);
  const index = !known ? newVaryIndex(vary) : merged === known.vary ? known : { ...known, vary: merged! };
  const valueOf = (name: string) => dependencies.reads.values.get(name) ?? stateBefore?.get(name) ?? varyValue(ctx, name, config.ignoreCookies);
  // The variant key of a decoded index is memoized (its next hits look it up); one made here is used once.
  const key = variantKey(base, index, valueOf, index === known);
  const freshMs = timeoutToMs(declared?.timeout, config.timeoutMs, 'timeout of CachedResponse');
  const response = captureResponse(ctx, body, run.headersBefore, freshMs, config.cacheStatusHeader, engine.clock.now());
  if (page) response.template = { name: page.name, digest: page.digest };
  if (page?.stored) response.holes = page.stored.holes;
  // Kept past freshness for as long as a stale copy may still be served; freshUntil decides.
  const storeMs = freshMs === 0 ? 0 : freshMs + Math.max(config.staleWhileRevalidateMs, config.staleIfErrorMs);
  const entry = { base, key, response, index, storeMs, declaredTags: declared?.tags, dependencies };
  return { kind: 'entry', entry, tagsUnknown: run.tagsUnknown(declared) };
}

/** `known` with the names of `vary` it lacks, sorted; `known` itself when it has them all. */
function mergedVary(known: string[], vary: readonly string[]): string[] {
  return vary.every((name) => known.includes(name)) ? known : [...new Set([...known, ...vary])].sort();
}

/**
 * One run of the route for a response the cache may store, watching what it reads of the request
 * (request-reads.ts), of `ctx.state` and `ctx.session` (tracked-state.ts, paths in `sharedState`
 * aside) and of tagged values (dependencies), and recording the page `ctx.render` renders
 * (page-link.ts), until `stop()`.
 */
class RouteRun {
  /** The response headers before it ran, set by middleware around it: not the route's own. */
  readonly headersBefore: HeaderSnapshot;
  /** The paths of `ctx.state` it read, and the tag versions of what it read. */
  readonly dependencies = newDependencies();
  /** What it read of the request: headers and cookies (once stopped). */
  reads: RequestReads | undefined;
  readonly #engine: Engine;
  /** When it began (`invalidationMark()`): the data it shows may be from then. */
  readonly #began = invalidationMark();
  readonly #tagsMissedBefore = missedTags();
  readonly #stopWatching: () => RequestReads;
  readonly #untrack: () => void;
  readonly #recording: PageRecording;

  constructor(ctx: Context, engine: Engine, sharedState: readonly string[]) {
    this.#engine = engine;
    this.headersBefore = snapshotHeaders(ctx);
    const tracker = new StateTracker(sharedState, this.dependencies.reads);
    this.#stopWatching = watchReads(ctx);
    this.#untrack = trackRequestState(ctx, tracker);
    this.#recording = PageRecording.open(ctx, tracker);
  }

  stop(): void {
    this.reads = this.#stopWatching();
    this.#recording.close();
    this.#untrack();
  }

  /** The page `ctx.render` rendered, if the response is one. */
  get page(): RecordedPage | undefined {
    return this.#recording.page;
  }

  /**
   * Whether its tags may not vouch for it: one of them (declared, or of what it read) was
   * invalidated since it began, so it may show data from before; or tagged values were read unseen.
   */
  tagsUnknown(declared: CachedResponse | undefined): boolean {
    if (missedTags() !== this.#tagsMissedBefore) return true;
    const tags = [...(declared?.tags ?? []), ...Object.keys(this.dependencies.tags)];
    return tags.length > 0 && this.#engine.invalidatedSince(tags, this.#began);
  }
}
