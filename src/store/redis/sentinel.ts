import { addressOf, atAddress, RedisNode, replyText, within, type NodeOptions } from './node';
import { PrimaryTopology } from './primary';
import { probe, PROBE_MS, readRole } from './replication';
import { ManagedSubscription } from './subscription';

export interface SentinelSettings {
  name: string;
  sentinels: NodeOptions[];
  /** Credentials, TLS and database of the primary and replicas. */
  data: NodeOptions;
}

/**
 * A primary found through sentinels: asked of them (one after another, starting with the last
 * that answered) at start, when the primary is in trouble, and at once when a sentinel announces
 * `+switch-master`. A primary they name is used only once it says ROLE master.
 */
export class SentinelTopology extends PrimaryTopology {
  readonly kind = 'sentinel' as const;
  readonly sharedFate = false;
  private readonly sentinels: NodeOptions[];
  private next = 0;
  private readonly switches: ManagedSubscription;

  constructor(private readonly settings: SentinelSettings, onError: (err: unknown) => void) {
    super(onError);
    if (settings.sentinels.length === 0) throw new TypeError('sentinel.nodes must name at least one sentinel');
    this.sentinels = [...settings.sentinels];
    this.start(undefined);
    // Told of failovers as they happen (the watchdog would notice a little later).
    this.switches = new ManagedSubscription(
      async () => this.sentinels[this.next++ % this.sentinels.length],
      '+switch-master',
      'plain',
      (message) => {
        if (message.split(' ')[0] === settings.name) this.locate_().catch(onError);
      },
      (listening) => listening && this.locateSoon(),
      () => undefined, // a sentinel away is the watchdog's business; errors here would only repeat
    );
  }

  protected override async closeExtra(): Promise<void> {
    await this.switches.close();
  }

  protected async locate(current: RedisNode | undefined): Promise<NodeOptions | RedisNode | undefined> {
    const start = this.next;
    let failure: unknown;
    for (let i = 0; i < this.sentinels.length; i++) {
      const index = (start + i) % this.sentinels.length;
      let reply: unknown;
      try {
        reply = await probe(this.sentinels[index], ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.settings.name]);
      } catch (err) {
        failure = err;
        continue;
      }
      this.next = index;
      if (!Array.isArray(reply)) throw new Error(`no sentinel monitors a primary named ${JSON.stringify(this.settings.name)}`);
      const primary = atAddress(this.settings.data, String(reply[0]), Number(reply[1]));
      if (current?.address === addressOf(primary)) return primary;
      // A new primary is used once it says so itself, over the connection that will then serve it.
      const node = new RedisNode(primary, this.onError);
      await node.firstAttempt;
      const role = node.ready ? readRole(await within(node.client.sendCommand(['ROLE']), PROBE_MS, 'ROLE').catch(() => undefined)) : undefined;
      if (role?.master) return node;
      node.close().catch(() => undefined);
      return undefined;
    }
    throw new Error(`no sentinel answered where the primary is (last: ${replyText(failure)})`);
  }
}
