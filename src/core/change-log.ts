/** Past this many remembered keys, the oldest half is forgotten. */
const MAX_REMEMBERED = 10_000;

/**
 * When each key last changed, by a number from the caller's counter (it only grows), so that work
 * that began at `mark` (the counter then) can tell whether a key changed since.
 *
 * Invariant: `changedAfter(key, mark)` is true whenever `key` changed with a number above `mark`;
 * it may also be true when that is no longer remembered (past 10 000 keys the oldest half is
 * forgotten, and counts as changed for any mark before it).
 */
export class ChangeLog {
  /** Key → the number of its last change, in order of change. */
  readonly #at = new Map<string, number>();
  /** Marks below this may have missed a forgotten change. */
  #forgottenBelow = 0;

  changed(key: string, number: number): void {
    this.#at.delete(key); // re-inserted last: the map stays in order of change
    this.#at.set(key, number);
    if (this.#at.size <= MAX_REMEMBERED) return;
    for (const [oldest, at] of this.#at) {
      this.#at.delete(oldest);
      this.#forgottenBelow = at + 1;
      if (this.#at.size <= MAX_REMEMBERED / 2) break;
    }
  }

  /** Every key changed, as change `number` (a clear, lost announcements). */
  changedAll(number: number): void {
    this.#at.clear();
    this.#forgottenBelow = number;
  }

  changedAfter(key: string, mark: number): boolean {
    return mark < this.#forgottenBelow || (this.#at.get(key) ?? 0) > mark;
  }
}
