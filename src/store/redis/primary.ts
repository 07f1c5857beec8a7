import { addressOf, atAddress, CONNECT_TIMEOUT_MS, RedisNode, within, type NodeOptions } from './node';
import { probe, PROBE_MS, readRole, replicasOf, type Role } from './replication';
import { ManagedSubscription, type PubSub } from './subscription';
import { callerError, notSent, oneGroup, type Commands, type Topology } from './topology';

/** How often the topology is looked at while the primary is in trouble (errors, disconnected, stalled). */
export const LOCATE_INTERVAL_MS = 250;

/**
 * A deployment with one primary at a time (one server, or a primary and replicas behind
 * sentinels): every command goes to the primary. When it fails — disconnected, stalled, a
 * READONLY reply (the server was demoted) — `locate()` is asked where the primary is now, every
 * LOCATE_INTERVAL_MS while the trouble lasts, and commands and the subscription move there.
 */
export abstract class PrimaryTopology implements Topology {
  abstract readonly kind: 'server' | 'sentinel';
  abstract readonly sharedFate: boolean;
  readonly pubsub: PubSub;
  firstAttempt: Promise<void> = Promise.resolve();
  private node?: RedisNode;
  private locating?: Promise<void>;
  private lastLocate = -Infinity;
  private readonly subscriptions: ManagedSubscription[] = [];
  private readonly watchdog: NodeJS.Timeout;
  private closed = false;

  constructor(protected readonly onError: (err: unknown) => void) {
    this.watchdog = setInterval(() => {
      // A replica promoted away from under the primary: a failover is under way (see Replicas).
      const replicas = this.node && replicasOf(this.node);
      if (!this.node || this.node.check(performance.now()) || replicas?.movedAway) this.locateSoon();
      replicas?.checkIfDue().catch(() => undefined);
    }, LOCATE_INTERVAL_MS);
    this.watchdog.unref();
    const subscriptions = this.subscriptions;
    this.pubsub = {
      get firstAttempt() {
        return Promise.all(subscriptions.map((s) => s.firstAttempt)).then(() => undefined);
      },
      publish: (channel, message) => this.run('', (client) => client.publish(channel, message)).then(() => undefined),
      subscribe: (channel, onMessage, onState) => {
        const target = async (afterLoss: boolean) => {
          if (!this.node) await this.firstAttempt; // (a known primary is subscribed on while the data connection opens)
          if (afterLoss) await this.locateIfDue().catch(() => undefined); // the primary may have moved
          return this.node?.options;
        };
        this.subscriptions.push(new ManagedSubscription(target, channel, 'plain', onMessage, onState, onError));
      },
      close: async () => {
        await Promise.all(this.subscriptions.map((s) => s.close()));
      },
    };
  }

  /**
   * Where the primary is now, asked of the deployment (a connection to it, if one was opened to
   * check it); undefined, or a rejection saying why, when that cannot be told now.
   */
  protected abstract locate(current: RedisNode | undefined): Promise<NodeOptions | RedisNode | undefined>;

  /**
   * Starts with `options` as the primary if it is known (then the check of where the primary
   * really is runs meanwhile: a replica answers READONLY, which is followed too), else once the
   * primary has been located.
   */
  protected start(options: NodeOptions | undefined): void {
    if (options) this.use(new RedisNode(options, this.onError));
    const located = (async () => {
      await this.node?.firstAttempt;
      await within(this.locate_(), 2 * CONNECT_TIMEOUT_MS, 'locating the primary').catch(this.onError);
    })();
    this.firstAttempt = this.node ? this.node.firstAttempt : located;
  }

  async run<T>(_key: string, command: (client: Commands) => Promise<T>, confirmMs?: number): Promise<T> {
    await this.firstAttempt;
    if (this.closed) throw new Error('the cache has been closed');
    const node = this.node;
    if (!node) {
      this.locateSoon();
      throw new Error('no Redis primary is known (yet)');
    }
    try {
      return await replicasOf(node).run(command, confirmMs);
    } catch (err) {
      if (callerError(err)) throw err;
      if (err instanceof Error && err.message.startsWith('READONLY')) {
        // Demoted: the command did nothing. Find the primary, and try there once.
        await this.locate_();
        if (this.node && this.node !== node) return replicasOf(this.node).run(command, confirmMs);
      } else if (notSent(err)) {
        // Never sent: if the primary moved (and was not looked for just now), send it there.
        await this.locateIfDue().catch(() => undefined);
        if (this.node && this.node !== node) return replicasOf(this.node).run(command, confirmMs);
      } else this.locateSoon();
      throw err;
    }
  }

  groups(keys: readonly string[]): number[][] {
    return oneGroup(keys);
  }

  eachMaster(command: (client: Commands) => Promise<void>): Promise<void> {
    return this.run('', command);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await this.pubsub.close();
    await this.node?.close();
    await this.closeExtra();
  }

  /** Closes what a subclass opened. */
  protected async closeExtra(): Promise<void> {}

  /** Looks at the topology again, at most every LOCATE_INTERVAL_MS. */
  protected locateSoon(): void {
    this.locateIfDue().catch(this.onError);
  }

  /** The look in progress, or a new one unless one ended less than LOCATE_INTERVAL_MS ago. */
  private locateIfDue(): Promise<void> {
    if (this.locating) return this.locating;
    if (this.closed || performance.now() - this.lastLocate < LOCATE_INTERVAL_MS) return Promise.resolve();
    return this.locate_();
  }

  /** One look at the topology at a time; moves to the primary found. */
  protected locate_(): Promise<void> {
    return (this.locating ??= (async () => {
      try {
        const found = await this.locate(this.node);
        const address = found instanceof RedisNode ? found.address : found && addressOf(found);
        if (found && !this.closed && address !== this.node?.address) this.moveTo(found);
        else if (found instanceof RedisNode) found.close().catch(() => undefined);
      } finally {
        this.lastLocate = performance.now();
        this.locating = undefined;
      }
    })());
  }

  /** `node` as the primary; its replicas are read at once (see `Replicas`). */
  private use(node: RedisNode): void {
    this.node = node;
    replicasOf(node);
  }

  private moveTo(found: NodeOptions | RedisNode): void {
    const old = this.node;
    this.use(found instanceof RedisNode ? found : new RedisNode(found, this.onError));
    for (const subscription of this.subscriptions) subscription.retarget();
    old?.close().catch(() => undefined);
  }
}

/**
 * One Redis server named by a URL (or a client's options). If it turns out to be a replica
 * (READONLY, or ROLE at start: the old primary came back demoted), commands follow it to its
 * primary; if it is gone, a replica it had that now says it is a primary is followed. A host name
 * is resolved again on every reconnection, so a DNS name moved to a new server is followed too.
 */
export class ServerTopology extends PrimaryTopology {
  readonly kind = 'server' as const;
  readonly sharedFate = true;
  private replicas: { host: string; port: number }[] = [];

  constructor(private readonly home: NodeOptions, onError: (err: unknown) => void) {
    super(onError);
    this.start(home);
  }

  protected async locate(current: RedisNode | undefined): Promise<NodeOptions | undefined> {
    // The server in use is hung or down: a replica of it that says it is a primary now was promoted,
    // and is followed at once: the server may come back as a primary about to be demoted (what it
    // takes then is lost). The server itself is not asked again here: a hung one takes the whole
    // connect timeout (1 s) to give up on, and its own connection tells when it answers again.
    const unreachable = current !== undefined && (!current.ready || current.stalled(performance.now()));
    if (unreachable) {
      const promoted = await this.promotedReplica(current);
      if (promoted || current.address === addressOf(this.home)) return promoted;
    }
    const candidates = current && current.address !== addressOf(this.home) ? [current.options, this.home] : [this.home];
    for (const options of candidates) {
      const role = await this.roleOf(options, current);
      if (role?.master) {
        this.replicas = role.replicas;
        return options;
      }
      if (role?.primary) {
        const primary = atAddress(this.home, role.primary.host, role.primary.port);
        const itsRole = await this.roleOf(primary, current);
        if (itsRole?.master) {
          this.replicas = itsRole.replicas;
          return primary;
        }
      }
    }
    // Nobody we know answers as the primary: one of its replicas may have been promoted.
    return unreachable ? undefined : this.promotedReplica(current);
  }

  /** One of the replicas last seen that says it is a primary now. */
  private async promotedReplica(current: RedisNode | undefined): Promise<NodeOptions | undefined> {
    for (const replica of this.replicas) {
      const options = atAddress(this.home, replica.host, replica.port);
      const role = await this.roleOf(options, current);
      if (role?.master) {
        this.replicas = role.replicas;
        return options;
      }
    }
    return undefined;
  }

  private async roleOf(options: NodeOptions, current: RedisNode | undefined): Promise<Role | undefined> {
    try {
      const useCurrent = current?.ready && current.address === addressOf(options) && !current.stalled(performance.now());
      const reply = useCurrent ? await within(current.client.sendCommand(['ROLE']), PROBE_MS, 'ROLE') : await probe(options, ['ROLE']);
      return readRole(reply);
    } catch {
      return undefined;
    }
  }
}
