/**
 * What the statements of compile-nodes.ts continue with once their body has finished, on the same
 * stack when nothing in it waited, later when something did.
 */

/**
 * The loop of `KfcFor`: `body(i, next)` for each i while `more(i)` (re-evaluated each time, as
 * nunjucks' `for` re-reads the length), then `done()`. A body that calls `next` before returning
 * continues the loop right here; one that returns first (it waits for something) resumes it from its
 * `next`. Either way the stack does not grow with the number of items. A second call of one `next`
 * (nunjucks calls some callbacks twice after errors) is ignored.
 */
export function iterate(more: (i: number) => boolean, body: (i: number, next: () => void) => void, done: () => void): void {
  let i = 0;
  const run = (): void => {
    while (more(i)) {
      let finished = false;
      let onStack = true;
      body(i, () => {
        if (finished) return;
        finished = true;
        if (onStack) return;
        i++;
        run();
      });
      onStack = false;
      if (!finished) return;
      i++;
    }
    done();
  };
  run();
}

/**
 * Joins a branch that may finish later with the code after it: `then(k)` runs `k` at once if
 * `done()` was called already, else when it is. Each runs at most once.
 */
export class Latch {
  #done = false;
  #next?: () => void;

  done(): void {
    if (this.#done) return;
    this.#done = true;
    const next = this.#next;
    this.#next = undefined;
    next?.();
  }

  then(next: () => void): void {
    if (this.#done) next();
    else this.#next = next;
  }
}
