import { randomUUID } from 'node:crypto';
import type { PubSub } from './pubsub';

/** The longest `close()` waits for announcements still on their way. */
const CLOSE_FLUSH_MS = 1000;

/** What a message says: these keys changed, or everything did (`clear()`, or messages were lost). */
export type Invalidation = readonly string[] | 'all';

/**
 * Tells every process sharing a store which keys changed, over its pub/sub channel, so each
 * drops them from its in-process tier. Keys changed in one tick go out as one message; a process
 * ignores its own. When the subscription was lost and made again (Redis restarted, a failover, a
 * hung server), messages may have been missed meanwhile: that counts as `'all'`.
 */
export class InvalidationBus {
  private readonly origin = randomUUID();
  private pending = new Set<string>();
  private flushScheduled = false;
  private listenedBefore = false;
  private readonly changeWaiters = new Map<string, Set<(changed: boolean) => void>>();
  /** Announcements on their way: `close()` lets them land first (within CLOSE_FLUSH_MS). */
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly channel: string,
    private readonly onInvalidate: (keys: Invalidation) => void,
    /** Told when the subscription is established (again) or lost. */
    private readonly onListening: (listening: boolean) => void,
    private readonly onError: (err: unknown) => void,
  ) {
    pubsub.subscribe(
      channel,
      (message) => this.onMessage(message),
      (listening) => {
        if (listening && this.listenedBefore) this.received('all');
        if (listening) this.listenedBefore = true;
        this.onListening(listening);
      },
    );
  }

  /** Settles once the first subscription attempt did. */
  get firstAttempt(): Promise<void> {
    return this.pubsub.firstAttempt;
  }

  publish(key: string): void {
    this.pending.add(key);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  publishAll(): void {
    this.publish('*');
  }

  /** Resolves true when another process announces a change of `key`, false after `ms`. */
  changed(key: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiters = this.changeWaiters.get(key) ?? new Set();
      this.changeWaiters.set(key, waiters);
      const done = (changed: boolean) => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.changeWaiters.delete(key);
        resolve(changed);
      };
      const timer = setTimeout(() => done(false), ms);
      waiters.add(done);
    });
  }

  async close(): Promise<void> {
    if (this.flushScheduled) this.flush();
    if (this.sending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.sending), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_FLUSH_MS)))]);
      clearTimeout(timer);
    }
    await this.pubsub.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    const keys = [...this.pending];
    this.pending = new Set();
    if (keys.length === 0) return;
    const sent = this.pubsub
      .publish(this.channel, JSON.stringify({ origin: this.origin, keys }))
      .catch(this.onError)
      .finally(() => this.sending.delete(sent));
    this.sending.add(sent);
  }

  private onMessage(message: string): void {
    let parsed: { origin?: string; keys?: string[] };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch (err) {
      this.onError(err);
      return;
    }
    if (parsed.origin === this.origin || !Array.isArray(parsed.keys)) return;
    this.received(parsed.keys.includes('*') ? 'all' : parsed.keys);
  }

  private received(keys: Invalidation): void {
    this.onInvalidate(keys);
    if (keys === 'all') {
      for (const waiters of this.changeWaiters.values()) for (const wake of [...waiters]) wake(true);
      return;
    }
    for (const key of keys) for (const wake of [...(this.changeWaiters.get(key) ?? [])]) wake(true);
  }
}
