import { CONNECT_TIMEOUT_MS, destroy, sleep, within } from './node';
import type { PubSub } from './subscription';
import { oneGroup, type Commands, type Topology } from './topology';

/** A node-redis sentinel client (`createSentinel`), recognised by shape. */
export interface SentinelClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
  getMasterNode(): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
}

/**
 * A sentinel client the app made, used as it is: node-redis follows the failover itself (its
 * options cannot be read, so this store cannot open connections of its own like it). Commands fail
 * at once while it is not ready (instead of waiting seconds for the switch); its subscription
 * survives a failover, but messages may be lost meanwhile: a primary change counts as a lost
 * subscription. A client given unconnected is connected here, and closed by `close()`.
 */
export class SentinelClientTopology implements Topology {
  readonly kind = 'sentinel' as const;
  readonly sharedFate = false;
  readonly firstAttempt: Promise<void>;
  readonly pubsub: PubSub;
  private readonly owned: boolean;
  private readonly unsubscribes: Array<() => Promise<unknown>> = [];
  private closed = false;

  constructor(
    private readonly sentinel: SentinelClientLike,
    onError: (err: unknown) => void,
  ) {
    this.owned = !sentinel.isOpen;
    if (this.owned) sentinel.on('error', onError);
    this.firstAttempt = this.owned ? within(sentinel.connect(), 2 * CONNECT_TIMEOUT_MS, 'connecting the sentinel client').then(() => undefined, onError) : Promise.resolve();
    let subscribed: Promise<void> = Promise.resolve();
    this.pubsub = {
      get firstAttempt() {
        return subscribed;
      },
      publish: (channel, message) => this.run('', (client) => client.publish(channel, message)).then(() => undefined),
      subscribe: (channel, onMessage, onState) => {
        const listener = (message: string) => onMessage(message);
        const onTopology = (event: { type?: string }) => {
          if (event?.type !== 'MASTER_CHANGE') return;
          onState(false);
          onState(true);
        };
        sentinel.on('topology-change', onTopology);
        this.unsubscribes.push(async () => {
          sentinel.off('topology-change', onTopology);
          await within(sentinel.unsubscribe(channel, listener), 1000, 'UNSUBSCRIBE').catch(() => undefined);
        });
        // Settles after the first try (the cache's first calls wait for it); the tries go on.
        let tried!: () => void;
        subscribed = new Promise((resolve) => (tried = resolve));
        void (async () => {
          for (let backoff = 50; !this.closed; backoff = Math.min(backoff * 2, 1000)) {
            try {
              await this.firstAttempt;
              await within(sentinel.subscribe(channel, listener), 2000, 'SUBSCRIBE through the sentinel client');
              onState(true);
              return;
            } catch (err) {
              onError(err);
            } finally {
              tried();
            }
            await sleep(backoff);
          }
        })();
      },
      close: async () => {
        await Promise.all(this.unsubscribes.map((unsubscribe) => unsubscribe()));
      },
    };
  }

  async run<T>(_key: string, command: (client: Commands) => Promise<T>): Promise<T> {
    await this.firstAttempt;
    if (this.closed) throw new Error('the cache has been closed');
    if (!this.sentinel.isReady) throw new Error('the sentinel client is not ready (failing over, or not connected)');
    return command(this.sentinel as unknown as Commands);
  }

  groups(keys: readonly string[]): number[][] {
    return oneGroup(keys);
  }

  eachMaster(command: (client: Commands) => Promise<void>): Promise<void> {
    return this.run('', command);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pubsub.close();
    if (!this.owned) return;
    await this.firstAttempt;
    const closed = await within(this.sentinel.close(), 1000, 'closing the sentinel client').then(() => true, () => false);
    if (!closed) destroy(this.sentinel);
  }
}
