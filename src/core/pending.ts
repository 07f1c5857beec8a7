import type { TagVersions } from './codec';

/** How often removals the store refused are tried again. */
const RETRY_INTERVAL_MS = 500;
/** Past this many, the oldest pending removal is given up (and reported). */
const MAX_PENDING = 10_000;

export interface Removals {
  /** Resolves true once the store has deleted (or never had) `key`. */
  deleteKey(key: string): Promise<boolean>;
  /** Resolves true once the store holds a new version of `tag`. */
  invalidateTag(tag: string): Promise<boolean>;
  /** Resolves true once the store has cancelled increment `op` of `key` (undone it if it was applied). */
  cancelIncrement(key: string, delta: number, op: string): Promise<boolean>;
  giveUp(what: string): void;
}

/**
 * Deletes and tag invalidations that a failing store did not take (Redis away, a timeout), the
 * deletes that stand for writes reported failed (which may still land), and the cancels of
 * increments reported failed. Until a retry lands, the entries they cover count as misses here, so
 * the process that made a change never serves what it removed, even if Redis comes back holding
 * the old entry or tag version, and a failed write never shows up.
 */
export class PendingRemovals {
  private readonly keys = new Set<string>();
  private readonly tags = new Set<string>();
  private readonly increments = new Map<string, { delta: number; op: string }>();
  /** Deletes being retried right now: a write of the key waits for its one, or that delete could land after it. */
  private readonly deleting = new Map<string, Promise<unknown>>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(private readonly removals: Removals) {}

  /** Whether an entry under `key`, written under `tags`, may have been removed here. */
  covers(key: string, tags: TagVersions | undefined): boolean {
    if (this.keys.size > 0 && this.keys.has(key)) return true;
    if (this.increments.size > 0 && this.increments.has(key)) return true;
    if (this.tags.size === 0 || !tags) return false;
    for (const tag in tags) if (this.tags.has(tag)) return true;
    return false;
  }

  keyFailed(key: string): void {
    this.add(this.keys, key);
  }

  /** A delete or a new value landed: nothing is pending for `key` any more. */
  keySettled(key: string): void {
    this.keys.delete(key);
  }

  /** Settles once no retried delete of `key` is on its way (a write of `key` waits for it first). */
  quiet(key: string): Promise<unknown> | undefined {
    return this.deleting.size > 0 ? this.deleting.get(key) : undefined;
  }

  tagFailed(tag: string): void {
    this.add(this.tags, tag);
  }

  /** Increment `op` of `key` was reported failed: it is cancelled before `key` is incremented again. */
  incrementFailed(key: string, delta: number, op: string): void {
    this.increments.set(key, { delta, op });
    this.schedule();
  }

  /** Whether no cancel of an increment of `key` is pending any more (trying it now if one is). */
  async incrementSettled(key: string): Promise<boolean> {
    const pending = this.increments.get(key);
    if (!pending) return true;
    if (!(await this.removals.cancelIncrement(key, pending.delta, pending.op))) return false;
    if (this.increments.get(key) === pending) this.increments.delete(key);
    return true;
  }

  tagSettled(tag: string): void {
    this.tags.delete(tag);
  }

  /** Tries every pending removal once more. */
  flush(): Promise<void> {
    this.flushing ??= this.retry().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private add(set: Set<string>, item: string): void {
    set.add(item);
    if (this.keys.size + this.tags.size > MAX_PENDING) {
      const [oldest] = set;
      set.delete(oldest);
      this.removals.giveUp(oldest);
    }
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush().then(() => this.scheduleIfPending(), () => this.scheduleIfPending());
    }, RETRY_INTERVAL_MS).unref();
  }

  private scheduleIfPending(): void {
    if (this.keys.size + this.tags.size + this.increments.size > 0) this.schedule();
  }

  private async retry(): Promise<void> {
    await Promise.all([
      ...[...this.keys].map(async (key) => {
        const deleting = this.removals.deleteKey(key);
        this.deleting.set(key, deleting);
        try {
          if (await deleting) this.keys.delete(key);
        } finally {
          if (this.deleting.get(key) === deleting) this.deleting.delete(key);
        }
      }),
      ...[...this.tags].map(async (tag) => (await this.removals.invalidateTag(tag)) && this.tags.delete(tag)),
      ...[...this.increments.keys()].map((key) => this.incrementSettled(key)),
    ]);
  }
}
