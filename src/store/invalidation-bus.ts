import { randomUUID } from 'node:crypto';
import type { RedisClientType } from '@keyv/redis';
import { closeClient, firstAttempt } from './redis-client';

/** What a message says: these keys changed, or everything did (`clear()`, or messages were lost). */
export type Invalidation = readonly string[] | 'all';

/**
 * Tells every process sharing a Redis which keys changed, over pub/sub, so each drops them from its
 * in-process tier. Keys changed in one tick go out as one message; a process ignores its own.
 * After the subscription was lost (Redis restarted, network), messages may have been missed, so
 * the subscriber's reconnection counts as `'all'`.
 */
export class InvalidationBus {
  private readonly origin = randomUUID();
  private readonly subscriber: RedisClientType;
  /** Settles with the subscriber's first connection attempt; closing earlier would leak its socket. */
  private readonly firstAttempt: Promise<void>;
  private pending = new Set<string>();
  private flushScheduled = false;
  private readonly changeWaiters = new Map<string, Set<(changed: boolean) => void>>();

  constructor(
    private readonly publisher: RedisClientType,
    private readonly channel: string,
    private readonly onInvalidate: (keys: Invalidation) => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.subscriber = publisher.duplicate() as RedisClientType;
    this.subscriber.on('error', onError);
    this.firstAttempt = firstAttempt(this.subscriber);
    let connectedBefore = false;
    this.subscriber.on('ready', () => {
      if (connectedBefore) this.received('all');
      connectedBefore = true;
    });
    this.subscriber
      .connect()
      .then(() => this.subscriber.subscribe(channel, (message) => this.onMessage(message)))
      .catch(onError);
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

  close(): Promise<void> {
    return closeClient(this.subscriber, this.firstAttempt);
  }

  private flush(): void {
    this.flushScheduled = false;
    const keys = [...this.pending];
    this.pending = new Set();
    if (!this.publisher.isReady) return; // nobody can have read a newer value: writes failed too
    this.publisher.publish(this.channel, JSON.stringify({ origin: this.origin, keys })).catch(this.onError);
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
