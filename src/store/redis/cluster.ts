import { addressOf, atAddress, RedisNode, splitAddress, within, type NodeOptions } from './node';
import { probe, replicasOf } from './replication';
import { keySlot, readSlotMap, SLOTS, type Shard } from './slot';
import { ManagedSubscription, type PubSub } from './subscription';
import { callerError, notSent, redirection, type Commands, type Topology } from './topology';

/** How often the slot map is read again while a master is in trouble (errors, disconnected, stalled). */
export const REFRESH_INTERVAL_MS = 250;

export interface ClusterSettings {
  /** Nodes to ask for the slot map first (any nodes of the cluster), with their own credentials. */
  roots: NodeOptions[];
  /** Credentials, TLS… for the nodes the slot map names. */
  defaults: NodeOptions;
  /** Where to really connect for a node the cluster announces as `host:port` (NAT, containers). */
  nodeAddressMap?: (address: string) => { host: string; port: number } | undefined;
}

/**
 * Redis Cluster, routed by this store itself on plain connections, one per master it uses (made
 * when first needed: a dead master listed in the slot map never blocks the others).
 *
 * - A command goes to its key's slot master; MOVED re-points the slot and re-reads the map, ASK
 *   sends that one command to the importing node after ASKING.
 * - node-redis' own cluster client reads the slot map only on MOVED, so after a master dies its
 *   slots stay pointed at the dead node. Here any failure other than the caller's own (a
 *   connection error, a stalled node, CLUSTERDOWN, TRYAGAIN…) re-reads it, and so does a watchdog
 *   every REFRESH_INTERVAL_MS while a master is disconnected or stalled, or slots are unknown: the
 *   promoted replica takes the slots within that interval of the cluster promoting it.
 * - The slot map is asked of the masters that answer, then the other nodes it named, then the
 *   configured ones, each within a short deadline.
 */
export class ClusterTopology implements Topology {
  readonly kind = 'cluster' as const;
  readonly sharedFate = false;
  readonly firstAttempt: Promise<void>;
  readonly pubsub: PubSub;
  /** Settles once the first read of the slot map did. */
  private readonly mapped: Promise<void>;
  private discovered = false;
  private slots: (Shard | undefined)[] = new Array<Shard | undefined>(SLOTS);
  private readonly nodes = new Map<string, RedisNode>();
  private known: string[] = [];
  private refreshing?: Promise<void>;
  private lastRefresh = -Infinity;
  private readonly watchdog: NodeJS.Timeout;
  private subscription?: ManagedSubscription;
  private channel?: string;
  private channelMaster?: string;
  private mode: 'sharded' | 'plain' = 'sharded';
  private closed = false;

  constructor(
    private readonly settings: ClusterSettings,
    private readonly onError: (err: unknown) => void,
  ) {
    if (settings.roots.length === 0) throw new TypeError('cluster must name at least one node');
    // The first commands wait for the slot map and the first connection attempt to every master (each bounded).
    this.mapped = within(this.refresh(), 3000, 'reading the cluster slot map').catch(onError);
    this.firstAttempt = this.mapped
      .then(() => Promise.all([...this.nodes.values()].map((node) => node.firstAttempt)))
      .then(() => undefined)
      .finally(() => (this.discovered = true));
    this.watchdog = setInterval(() => this.check(), REFRESH_INTERVAL_MS);
    this.watchdog.unref();
    const firstSubscription = () => this.subscription?.firstAttempt ?? Promise.resolve();
    this.pubsub = {
      get firstAttempt() {
        return firstSubscription();
      },
      publish: (channel, message) => this.publish(channel, message),
      subscribe: (channel, onMessage, onState) => {
        this.channel = channel;
        const target = async (afterLoss: boolean) => {
          await this.mapped;
          if (afterLoss) await this.refreshIfDue().catch(() => undefined); // the channel's master may have moved
          const master = this.slots[keySlot(channel)]?.master;
          this.channelMaster = master;
          return master === undefined ? undefined : this.optionsFor(master);
        };
        this.subscription = new ManagedSubscription(target, channel, this.mode, onMessage, onState, this.onError, () => (this.mode = 'plain'));
      },
      close: async () => {
        await this.subscription?.close();
      },
    };
  }

  async run<T>(key: string, command: (client: Commands) => Promise<T>, confirmMs?: number): Promise<T> {
    if (!this.discovered) await this.firstAttempt;
    if (this.closed) throw new Error('the cache has been closed');
    const slot = keySlot(key);
    let address = this.slots[slot]?.master;
    let asking = false;
    let retried = false;
    for (let hop = 0; ; hop++) {
      if (address === undefined) {
        this.refreshSoon();
        throw new Error(`no master is known for cluster slot ${slot}`);
      }
      const node = this.node(address);
      try {
        return await replicasOf(node).run(
          asking
            ? (client) => {
                client.sendCommand(['ASKING']).catch(() => undefined); // written just before the command
                return command(client);
              }
            : command,
          confirmMs,
        );
      } catch (err) {
        const redirect = redirection(err);
        if (redirect && hop < 3) {
          if (!redirect.ask) {
            this.slots[slot] = { master: redirect.address, replicas: [] };
            this.refreshSoon();
          }
          address = redirect.address;
          asking = redirect.ask;
          continue;
        }
        if (callerError(err)) throw err;
        if (notSent(err) && !retried) {
          // E.g. the first command of an idle process for a master that died meanwhile: read the
          // map (if not read just now) and, if the slot moved, send it there.
          retried = true;
          await this.refreshIfDue().catch(() => undefined);
          const now = this.slots[slot]?.master;
          if (now !== undefined && now !== address) {
            address = now;
            asking = false;
            continue;
          }
        }
        this.refreshSoon();
        throw err;
      }
    }
  }

  groups(keys: readonly string[]): number[][] {
    const bySlot = new Map<number, number[]>();
    keys.forEach((key, i) => {
      const slot = keySlot(key);
      const group = bySlot.get(slot);
      if (group) group.push(i);
      else bySlot.set(slot, [i]);
    });
    return [...bySlot.values()];
  }

  async eachMaster(command: (client: Commands) => Promise<void>): Promise<void> {
    if (!this.discovered) await this.firstAttempt;
    const masters = new Set(this.slots.map((shard) => shard?.master));
    if (masters.has(undefined) || masters.size === 0) {
      this.refreshSoon();
      throw new Error('the cluster slot map has gaps: not every master can be reached');
    }
    await Promise.all([...masters].map((address) => this.node(address!).run(command)));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await this.pubsub.close();
    await this.refreshing?.catch(() => undefined);
    await Promise.all([...this.nodes.values()].map((node) => node.close()));
    this.nodes.clear();
  }

  private async publish(channel: string, message: string): Promise<void> {
    if (this.mode === 'plain') {
      await this.run(channel, (client) => client.publish(channel, message));
      return;
    }
    try {
      await this.run(channel, (client) => client.sPublish(channel, message));
    } catch (err) {
      if (!/unknown command/i.test(String((err as Error)?.message))) throw err;
      this.mode = 'plain'; // Redis < 7: no sharded pub/sub
      await this.run(channel, (client) => client.publish(channel, message));
    }
  }

  private node(address: string): RedisNode {
    let node = this.nodes.get(address);
    if (!node) {
      node = new RedisNode(this.optionsFor(address), this.onError);
      this.nodes.set(address, node);
    }
    return node;
  }

  private optionsFor(address: string): NodeOptions {
    const { host, port } = this.settings.nodeAddressMap?.(address) ?? splitAddress(address);
    return atAddress(this.settings.defaults, host, port);
  }

  private check(): void {
    const now = performance.now();
    let trouble = this.slots.some((shard) => shard === undefined);
    for (const node of this.nodes.values()) {
      const replicas = replicasOf(node);
      if (node.check(now) || replicas.movedAway) trouble = true; // a replica promoted away from under it: failing over
      replicas.checkIfDue().catch(() => undefined);
    }
    if (trouble) this.refreshSoon();
  }

  private refreshSoon(): void {
    this.refreshIfDue().catch(this.onError);
  }

  /** The slot map read in progress, or a new read unless one ended less than REFRESH_INTERVAL_MS ago. */
  private refreshIfDue(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (this.closed || performance.now() - this.lastRefresh < REFRESH_INTERVAL_MS) return Promise.resolve();
    return this.refresh();
  }

  /** Reads the slot map from the first node that answers; one read at a time. */
  private refresh(): Promise<void> {
    return (this.refreshing ??= (async () => {
      try {
        const now = performance.now();
        const healthy = [...this.nodes.values()].filter((node) => node.ready && !node.stalled(now));
        const tried = new Set<string>();
        const candidates: Array<{ address: string; ask: () => Promise<unknown> }> = [];
        const add = (address: string, ask: () => Promise<unknown>) => {
          if (tried.has(address)) return;
          tried.add(address);
          candidates.push({ address, ask });
        };
        for (const node of healthy) add(node.address, () => within(node.client.sendCommand(['CLUSTER', 'SLOTS']), 500, `CLUSTER SLOTS on ${node.address}`));
        for (const address of this.known) add(address, () => probe(this.optionsFor(address), ['CLUSTER', 'SLOTS']));
        for (const root of this.settings.roots) add(addressOf(root), () => this.askRoot(root));
        let lastError: unknown;
        for (const { address, ask } of candidates) {
          if (this.closed) return;
          try {
            if (this.apply(await ask(), address)) return;
          } catch (err) {
            lastError = err;
          }
        }
        throw new Error(`no cluster node answered CLUSTER SLOTS (${[...tried].join(', ')})`, { cause: lastError });
      } finally {
        this.lastRefresh = performance.now();
        this.refreshing = undefined;
      }
    })());
  }

  /**
   * CLUSTER SLOTS on a configured node, over a connection that is kept if the node turns out to
   * be a master (at start: one connection less to open before the first command).
   */
  private async askRoot(root: NodeOptions): Promise<unknown> {
    const node = new RedisNode(root, this.onError);
    let keep = false;
    try {
      await node.firstAttempt;
      if (!node.ready) throw new Error(`cannot connect to ${node.address}`);
      const reply = await within(node.client.sendCommand(['CLUSTER', 'SLOTS']), 500, `CLUSTER SLOTS on ${node.address}`);
      const master = Array.isArray(reply) && (reply as unknown[][]).some((range) => Array.isArray(range[2]) && `${String(range[2][0])}:${Number(range[2][1])}` === node.address);
      if (master && !this.closed && !this.nodes.has(node.address)) {
        this.nodes.set(node.address, node);
        keep = true;
      }
      return reply;
    } finally {
      if (!keep) node.close().catch(() => undefined);
    }
  }

  /** Takes a CLUSTER SLOTS reply (from `from`) as the slot map; false if it is not one. */
  private apply(reply: unknown, from: string): boolean {
    const map = readSlotMap(reply, splitAddress(from).host);
    if (!map) return false;
    const { slots, masters } = map;
    this.slots = slots;
    this.known = map.nodes;
    for (const master of masters) replicasOf(this.node(master)); // connecting now (and reading its replicas), so that first commands need not wait
    for (const [address, node] of this.nodes) {
      if (masters.has(address)) continue;
      this.nodes.delete(address);
      node.close().catch(() => undefined); // commands still waiting on it fail now
    }
    if (this.channel !== undefined && this.subscription && this.channelMaster !== undefined) {
      if (this.slots[keySlot(this.channel)]?.master !== this.channelMaster) this.subscription.retarget();
    }
    return true;
  }
}
