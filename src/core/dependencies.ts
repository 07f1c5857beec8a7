import { AsyncLocalStorage } from 'node:async_hooks';
import type { TagVersions } from './codec';
import { setResponseReads, StateReads } from './state-reads';

/**
 * What a response computing has come to depend on, wherever in its async call tree it was read:
 * the tag versions of every memoized value, `getOrSet` value and fragment it used (hits included:
 * their versions are stored with them), and what it read of request state. The route's code runs
 * inside `collectDependencies`; nothing here runs on a hit.
 */
export interface Dependencies {
  tags: TagVersions;
  reads: StateReads;
}

const current = new AsyncLocalStorage<Dependencies>();
setResponseReads(() => current.getStore()?.reads);

export function newDependencies(): Dependencies {
  return { tags: {}, reads: new StateReads() };
}

/** Runs `compute` with `dependencies` collecting what it (and everything it awaits) depends on. */
export function collectDependencies<T>(dependencies: Dependencies, compute: () => T): T {
  return current.run(dependencies, compute);
}

/**
 * The computation that reads `tags` (at these versions) now depends on them. Two reads that saw
 * different versions of a tag straddled an invalidation: the result is recorded under no version
 * at all, so that it is a miss once stored.
 */
export function dependOnTags(tags: TagVersions | undefined): void {
  const into = tags && current.getStore()?.tags;
  if (!into) return;
  for (const tag in tags) into[tag] = into[tag] === undefined || into[tag] === tags[tag] ? tags[tag] : '';
}
