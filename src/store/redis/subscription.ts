import type { PubSub } from '../pubsub';
import { destroy, RedisNode, sleep, within, type NodeOptions } from './node';

export type { PubSub };

/** How often a subscription's connection is asked for a PING, and how long the answer may take. */
const HEALTH_CHECK_MS = 1000;
const MAX_BACKOFF_MS = 1000;

/**
 * A subscription to one channel on whichever server `target()` names now (the primary, the
 * channel's shard master), on a connection of its own: lost when the connection closes, a PING
 * goes unanswered (a hung server keeps the socket open), the server moves the channel away, or
 * the topology says the target changed (`retarget()`); then made again on the new target.
 */
export class ManagedSubscription {
  private closed = false;
  private listening = false;
  private lose?: (why: unknown) => void;
  private readonly loop: Promise<void>;
  private firstSettled!: () => void;
  readonly firstAttempt = new Promise<void>((resolve) => (this.firstSettled = resolve));

  constructor(
    /** Where to subscribe now; `afterLoss`: the last subscription was lost (the topology may have changed). */
    private readonly target: (afterLoss: boolean) => Promise<NodeOptions | undefined>,
    private readonly channel: string,
    /** 'sharded' (SSUBSCRIBE) unless the server does not know it; then 'plain'. */
    private mode: 'sharded' | 'plain',
    private readonly onMessage: (message: string) => void,
    private readonly onState: (listening: boolean) => void,
    private readonly onError: (err: unknown) => void,
    /** Told when the server refused SSUBSCRIBE (Redis < 7): publishers switch to PUBLISH too. */
    private readonly onPlain: () => void = () => undefined,
  ) {
    this.loop = this.run();
  }

  /** The server to subscribe on changed: subscribe there (after reporting the subscription lost). */
  retarget(): void {
    this.lose?.(undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.lose?.(undefined);
    await this.loop;
  }

  private async run(): Promise<void> {
    let backoff = 50;
    for (let attempt = 0; !this.closed; attempt++) {
      const started = performance.now();
      try {
        const options = await this.target(attempt > 0);
        if (!options) throw new Error('no server to subscribe on is known yet');
        await this.session(options);
      } catch (err) {
        if (!this.closed) this.onError(err);
      }
      this.firstSettled();
      if (this.listening) {
        this.listening = false;
        if (!this.closed) this.onState(false); // (closing: nobody listens any more)
      }
      if (this.closed) break;
      backoff = performance.now() - started > 2 * HEALTH_CHECK_MS ? 50 : Math.min(backoff * 2, MAX_BACKOFF_MS);
      await sleep(backoff);
    }
  }

  /** One connection's life: resolves (or rejects) once the subscription on it is lost. */
  private async session(options: NodeOptions): Promise<void> {
    let ended = false;
    // Errors of a connection being torn down (ours closing it) are no news.
    const node = new RedisNode(options, (err) => ended || this.closed || this.onError(err), { reconnect: false });
    const lost = new Promise<void>((resolve, reject) => {
      this.lose = (why) => (why ? reject(why) : resolve());
      node.client.once('end', () => resolve());
      node.client.on('error', () => resolve()); // already reported through onError
      node.client.on('sharded-channel-moved', () => resolve());
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await within(node.firstAttempt, 2000, 'subscriber connection');
      if (!node.ready) throw new Error(`subscriber could not connect to ${node.address}`);
      const listener = (message: string) => this.onMessage(message);
      if (this.mode === 'sharded') {
        try {
          await within(node.client.sSubscribe(this.channel, listener), 1000, `SSUBSCRIBE on ${node.address}`);
        } catch (err) {
          if (!/unknown command/i.test(String((err as Error)?.message))) throw err;
          this.mode = 'plain';
          this.onPlain();
        }
      }
      if (this.mode === 'plain') await within(node.client.subscribe(this.channel, listener), 1000, `SUBSCRIBE on ${node.address}`);
      if (this.closed) return;
      this.listening = true;
      this.onState(true);
      this.firstSettled();
      const check = () => {
        within(node.client.sendCommand(['PING']), HEALTH_CHECK_MS, `subscriber PING to ${node.address}`).then(
          () => {
            if (!ended) timer = setTimeout(check, HEALTH_CHECK_MS);
          },
          (err) => ended || this.lose?.(err),
        );
      };
      timer = setTimeout(check, HEALTH_CHECK_MS);
      await lost;
    } finally {
      ended = true;
      clearTimeout(timer);
      this.lose = undefined;
      destroy(node.client);
    }
  }
}
