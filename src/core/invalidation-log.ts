import { ChangeLog } from './change-log';

/** Numbers the tag invalidations this process made or heard of, across every cache in it. */
let lastMark = 0;

/**
 * The number of the latest tag invalidation this process made or heard of. Taken when a request
 * begins, it tells later whether a tag moved on since (`InvalidationLog.since`).
 */
export function invalidationMark(): number {
  return lastMark;
}

/**
 * When each tag was last invalidated, by mark: here or, heard on the invalidation bus, in another
 * process. A fragment rendered from data its request loaded before rendering (a handler's
 * `loadProduct`, then `ctx.render`) takes its tag versions after that data: if the tag moved on
 * in between, the new version would vouch for old data. So what a request computes is not stored
 * under tags invalidated since it began.
 *
 * Invariant: `since(tags, mark)` is true whenever one of `tags` was invalidated after `mark` was
 * taken, as far as this process knows (another process's change is known once its bus message
 * arrived); it may also be true when that is no longer remembered (see `ChangeLog`).
 */
export class InvalidationLog {
  readonly #log = new ChangeLog();

  /** `tagKeys` were invalidated now (`'all'`: anything may have been, e.g. after lost bus messages). */
  invalidated(tagKeys: readonly string[] | 'all'): void {
    const mark = ++lastMark;
    if (tagKeys === 'all') this.#log.changedAll(mark);
    else for (const key of tagKeys) this.#log.changed(key, mark);
  }

  /** Whether any of `tagKeys` was invalidated after `mark` (see the invariant). */
  since(tagKeys: readonly string[], mark: number): boolean {
    return tagKeys.some((key) => this.#log.changedAfter(key, mark));
  }
}
