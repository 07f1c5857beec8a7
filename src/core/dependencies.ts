import { AsyncLocalStorage } from 'node:async_hooks';
import type { TagVersions } from './codec';
import { StateReads } from './state-reads';

/**
 * What a computation (a response, a fragment's body, a memoized call or `getOrSet` value) has come
 * to depend on: what it read of request state (recorded by its StateTracker), and the tag versions
 * of every memoized value, `getOrSet` value and fragment it used, hits included (their versions are
 * stored with them), wherever in its async call tree. Computations nest: what an inner one depends
 * on, the ones around it depend on too. Nothing here runs on a hit.
 */
export interface Dependencies {
  tags: TagVersions;
  reads: StateReads;
  /** The computation this one runs inside, if any. */
  outer?: Dependencies;
  /**
   * It has finished: what its async continuations read goes to the ones around it (nunjucks renders
   * the rest of a page inside the callback of the fragment before it).
   */
  done?: true;
}

/**
 * Tag versions reach the computation through an AsyncLocalStorage. It is entered only once tagged
 * values are in use in this process (`expectTags`, or tags read): before that a Koa request pays
 * no async-context bookkeeping.
 */
const current = new AsyncLocalStorage<Dependencies>();
let collecting = false;
/** The computations running while `collecting` is off. */
const uncollected = new Set<Dependencies>();
let missed = 0;

export function newDependencies(): Dependencies {
  return { tags: {}, reads: new StateReads() };
}

/** Runs `compute` with `dependencies` collecting the tags it (and everything it awaits) reads. */
export async function collectDependencies<T>(dependencies: Dependencies, compute: () => Promise<T>): Promise<T> {
  if (!collecting) uncollected.add(dependencies);
  try {
    return await collectingTags(dependencies, compute);
  } finally {
    dependencies.done = true;
    uncollected.delete(dependencies);
  }
}

/**
 * Runs `start` (a fragment's body, which may go on in callbacks) with `dependencies` collecting the
 * tags it reads, until they are marked `done`; a no-op while no tagged values are in use.
 */
export function collectingTags<T>(dependencies: Dependencies, start: () => T): T {
  if (!collecting) return start();
  dependencies.outer = current.getStore();
  return current.run(dependencies, start);
}

/** Tagged values are in use (a memoized function with `tags`, a fragment with `tags=`): collect from now on. */
export function expectTags(): void {
  collecting = true;
}

/**
 * How many times tags were read while computations ran without collecting them (the first ones of
 * the process, when several ran at once): one during which this changed may lack tags, and must
 * not be stored.
 */
export function missedTags(): number {
  return missed;
}

/**
 * The computation that reads `tags` (at these versions) now depends on them. Two reads that saw
 * different versions of a tag straddled an invalidation: the result is recorded under no version
 * at all, so that it is a miss once stored.
 */
export function dependOnTags(tags: TagVersions | undefined): void {
  if (!tags) return;
  let into = current.getStore();
  if (!into) {
    collecting = true;
    // The one computation running took them (or, at worst, gets tags it did not read: a miss sooner).
    if (uncollected.size === 1) mergeTags([...uncollected][0].tags, tags);
    else if (uncollected.size > 1) missed++;
  }
  for (; into; into = into.outer) if (!into.done) mergeTags(into.tags, tags);
}

/** Adds `tags` to `into`; a tag read at two versions is kept at none (`''`): whatever stores it is a miss. */
export function mergeTags(into: TagVersions, tags: TagVersions): void {
  for (const tag in tags) into[tag] = into[tag] === undefined || into[tag] === tags[tag] ? tags[tag] : '';
}
