import { AsyncLocalStorage } from 'node:async_hooks';
import type { TagVersions } from './codec';
import { StateReads } from './state-reads';

/**
 * What a response computing has come to depend on: what it read of request state (recorded by its
 * StateTracker), and the tag versions of every memoized value, `getOrSet` value and fragment it
 * used, hits included (their versions are stored with them), wherever in its async call tree.
 * Nothing here runs on a hit.
 */
export interface Dependencies {
  tags: TagVersions;
  reads: StateReads;
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
  if (collecting) return current.run(dependencies, compute);
  uncollected.add(dependencies);
  try {
    return await compute();
  } finally {
    uncollected.delete(dependencies);
  }
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
  let into = current.getStore()?.tags;
  if (!into) {
    collecting = true;
    // The one computation running took them (or, at worst, gets tags it did not read: a miss sooner).
    if (uncollected.size === 1) into = [...uncollected][0].tags;
    else if (uncollected.size > 1) missed++;
  }
  if (into) for (const tag in tags) into[tag] = into[tag] === undefined || into[tag] === tags[tag] ? tags[tag] : '';
}
