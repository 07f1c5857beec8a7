import type KeyvRedis from '@keyv/redis';
import type { RedisClientType } from '@keyv/redis';
import { Keyv, type KeyvStoreAdapter } from 'keyv';
import type { Clock } from '../core/clock';
import { envelope, INCREMENT_SCRIPT, type Stored } from './redis/format';
import type { PubSub } from './pubsub';
import type { Topology } from './redis/topology';
import { isKeyv, isRedisAdapter } from './shapes';
import { NotANumberError } from './store';
import type { SharedStore } from './tiered';

export type KeyvSource = Keyv | KeyvStoreAdapter;

/**
 * A store behind Keyv: a ready Keyv instance (used as configured: its namespace, serializer and
 * adapter), or a keyv adapter that is not Redis'. (A bare `@keyv/redis` adapter is unwrapped to
 * its client and served by `RedisStore`.) On a Keyv over `@keyv/redis`, `add` and `increment` are
 * single atomic commands on its client, and the first tier's pub/sub runs on connections of this
 * store's own, made from that client's options; other adapters get read-then-write
 * `add`/`increment` (atomic within one process only).
 *
 * Keyv swallows a failing adapter's errors into fallbacks (`set` → true) and tells only its
 * `'error'` event: a write during which one was emitted resolves false here, never true.
 */
export class KeyvStore implements SharedStore {
  readonly local = false;
  readonly keyv: Keyv;
  private readonly adapter?: KeyvRedis<string>;
  /** On a Keyv over `@keyv/redis` with keyv's own envelope: add/increment as single commands. */
  private readonly direct: boolean;
  private errors = 0;
  private closed = false;
  private topology?: Topology;

  constructor(
    source: KeyvSource,
    namespace: string,
    onError: (err: unknown) => void,
    /** The cache's clock: the expiry `add` writes in its envelope. */
    private readonly clock: Clock,
    /** Makes the pub/sub side for a Keyv over Redis, from its client (only when a first tier asks). */
    private readonly topologyFor?: (client: unknown) => Topology,
  ) {
    // Recognised by shape: the app's own keyv or @keyv/redis (an ESM copy, another version) is not ours.
    if (isKeyv(source)) {
      this.keyv = source as Keyv;
      if (isRedisAdapter(this.keyv.store)) this.adapter = this.keyv.store as unknown as KeyvRedis<string>;
    } else {
      this.keyv = new Keyv({ store: source, namespace, useKeyPrefix: true });
    }
    const serialize = (this.keyv as { serialize?: { name?: string } }).serialize;
    this.direct = this.adapter !== undefined && !this.keyv.opts.compression && serialize?.name === 'defaultSerialize';
    this.keyv.on('error', (err: unknown) => {
      this.errors++;
      onError(err);
    });
  }

  /** Whether this is a Keyv over `@keyv/redis` (whose pub/sub can keep a first tier coherent). */
  get redisBacked(): boolean {
    return this.adapter !== undefined;
  }

  /** Present on a Keyv over `@keyv/redis`: the channel the first tier needs. */
  get pubsub(): PubSub | undefined {
    if (!this.adapter || !this.topologyFor) return undefined;
    return (this.topology ??= this.topologyFor(this.adapter.client)).pubsub;
  }

  get sharedFate(): boolean {
    return this.topology?.sharedFate ?? false;
  }

  async get(key: string): Promise<string | undefined> {
    this.ready();
    return (await this.keyv.get<string>(key)) ?? undefined;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    this.ready();
    if (keys.length === 0) return [];
    const values = await this.keyv.getMany<string>([...keys]);
    return values.map((value) => value ?? undefined);
  }

  async getManyWithExpiry(keys: readonly string[]): Promise<(Stored | undefined)[]> {
    this.ready();
    if (keys.length === 0) return [];
    const rows = await this.keyv.getManyRaw<string>([...keys]);
    return rows.map((row) => (row?.value === undefined || row.value === null ? undefined : { data: row.value, expiresAt: row.expires ?? undefined }));
  }

  async set(key: string, data: string, ttlMs: number): Promise<boolean> {
    this.ready();
    return this.written(() => this.keyv.set(key, data, ttlMs));
  }

  async add(key: string, data: string, ttlMs: number): Promise<boolean> {
    this.ready();
    if (this.direct) {
      const client = await this.client();
      const options = ttlMs > 0 ? ({ NX: true, PX: ttlMs } as const) : ({ NX: true } as const);
      return (await client.set(this.rawKey(key), envelope(data, ttlMs, this.clock.now()), options)) === 'OK';
    }
    if (await this.keyv.has(key)) return false;
    return this.written(() => this.keyv.set(key, data, ttlMs));
  }

  async delete(key: string): Promise<boolean> {
    this.ready();
    const before = this.errors;
    const deleted = await this.keyv.delete(key);
    if (this.errors !== before) throw new Error(`deleting ${JSON.stringify(key)} failed (see the error reported)`);
    return deleted;
  }

  async has(key: string): Promise<boolean> {
    this.ready();
    return this.keyv.has(key);
  }

  async increment(key: string, delta: number, ttlMs: number): Promise<number> {
    this.ready();
    if (this.direct) {
      const client = await this.client();
      try {
        const result = await client.eval(INCREMENT_SCRIPT, { keys: [this.rawKey(key)], arguments: [String(delta), String(ttlMs)] });
        return Number(result);
      } catch (err) {
        if (err instanceof Error && err.message.includes('NOTANUMBER')) throw new NotANumberError(key);
        throw err;
      }
    }
    const row = await this.keyv.getRaw<string>(key);
    const current = row?.value;
    let value = delta;
    if (current !== undefined && current !== null) {
      const number = Number(current.slice(1));
      if (current[0] !== 'j' || !Number.isSafeInteger(number)) throw new NotANumberError(key);
      value += number;
      // An existing entry keeps its expiry, which keyv stamped with Date.now().
      ttlMs = typeof row!.expires === 'number' ? Math.max(1, row!.expires - Date.now()) : 0;
    }
    if (!(await this.written(() => this.keyv.set(key, 'j' + value, ttlMs)))) throw new Error(`incrementing ${JSON.stringify(key)} failed (see the error reported)`);
    return value;
  }

  async clear(): Promise<void> {
    this.ready();
    const before = this.errors;
    await this.keyv.clear();
    if (this.errors !== before) throw new Error('clear() failed (see the error reported)');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.topology?.close();
  }

  /** True only if the write resolved true and no error was reported meanwhile. */
  private async written(write: () => Promise<boolean>): Promise<boolean> {
    const before = this.errors;
    const stored = await write();
    return stored && this.errors === before;
  }

  /** The adapter's client, connected (an unconnected one would throw, a closed one reconnect). */
  private async client(): Promise<RedisClientType> {
    return (await this.adapter!.getClient()) as RedisClientType;
  }

  /** Refuses work once closed. */
  private ready(): void {
    if (this.closed) throw new Error('the cache has been closed');
  }

  /** The key as Keyv hands it to the adapter, and as the adapter prefixes it. */
  private rawKey(key: string): string {
    const keyv = this.keyv as unknown as { _getKeyPrefix?: (key: string) => string };
    const prefixed = typeof keyv._getKeyPrefix === 'function' ? keyv._getKeyPrefix(key) : key;
    return this.adapter!.createKeyPrefix(prefixed, this.adapter!.namespace);
  }
}
