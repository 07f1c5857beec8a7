/** Numbers the tag invalidations this process made or heard of, across every cache in it. */
let lastMark = 0;

/**
 * The number of the latest tag invalidation this process made or heard of. Taken when a request
 * begins, it tells later whether a tag moved on since (`InvalidationLog.since`).
 */
export function invalidationMark(): number {
  return lastMark;
}

/** Past this many remembered tags, the oldest half is forgotten (counted as invalidated for any earlier mark). */
const MAX_REMEMBERED = 10_000;

/**
 * When each tag was last invalidated, by mark: here or, heard on the invalidation bus, in another
 * process. A fragment rendered from data its request loaded before rendering (a handler's
 * `loadProduct`, then `ctx.render`) takes its tag versions after that data: if the tag moved on
 * in between, the new version would vouch for old data. So what a request computes is not stored
 * under tags invalidated since it began.
 *
 * Invariant: `since(tags, mark)` is true whenever one of `tags` was invalidated after `mark` was
 * taken, as far as this process knows (another process's change is known once its bus message
 * arrived); it may also be true when that is no longer remembered.
 */
export class InvalidationLog {
  /** Tag key → the mark of its last invalidation, in order of invalidation. */
  readonly #at = new Map<string, number>();
  /** The latest invalidation that was forgotten: any earlier mark may have missed one. */
  #forgottenAt = 0;

  /** `tagKeys` were invalidated now (`'all'`: anything may have been, e.g. after lost bus messages). */
  invalidated(tagKeys: readonly string[] | 'all'): void {
    const mark = ++lastMark;
    if (tagKeys === 'all') {
      this.#at.clear();
      this.#forgottenAt = mark;
      return;
    }
    for (const key of tagKeys) {
      this.#at.delete(key); // re-inserted last: the map stays in order of invalidation
      this.#at.set(key, mark);
    }
    if (this.#at.size <= MAX_REMEMBERED) return;
    for (const [key, at] of this.#at) {
      this.#at.delete(key);
      this.#forgottenAt = at;
      if (this.#at.size <= MAX_REMEMBERED / 2) break;
    }
  }

  /** Whether any of `tagKeys` was invalidated after `mark` (see the invariant). */
  since(tagKeys: readonly string[], mark: number): boolean {
    if (mark < this.#forgottenAt) return true;
    if (this.#at.size === 0) return false;
    for (const key of tagKeys) if ((this.#at.get(key) ?? 0) > mark) return true;
    return false;
  }
}
