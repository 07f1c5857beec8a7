import { createClient, type RedisClientType } from '@keyv/redis';

/** Options for one node-redis client: what `createClient` takes, without `url` (parsed into these). */
export interface NodeOptions {
  socket?: { host?: string; port?: number; tls?: boolean; [option: string]: unknown };
  username?: string;
  password?: string;
  database?: number;
  [option: string]: unknown;
}

/** The longest a first connection attempt is waited for (a hung server accepts TCP and never answers). */
export const CONNECT_TIMEOUT_MS = 1000;
/** The longest `close()` waits for a connected client's pending replies before dropping them. */
const CLOSE_GRACE_MS = 1000;
/**
 * A node with commands pending and no reply for this long is stalled: new commands fail at once
 * (instead of queueing behind a hung server) and the topology is looked at again.
 */
export const STALL_MS = 500;

/** Reconnection with capped backoff, forever (the topology drops nodes it no longer uses): a server back
 * is written to again within ~0.25 s. */
const reconnect = (retries: number) => Math.min(50 * 2 ** retries, 250);

/** `host:port` of the node `options` point at (IPv6 hosts as they are). */
export function addressOf(options: NodeOptions): string {
  return `${options.socket?.host ?? 'localhost'}:${options.socket?.port ?? 6379}`;
}

/** `host:port` (as in MOVED replies and CLUSTER SLOTS) split. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** `base` (credentials, TLS, database…) pointed at `host:port`. */
export function atAddress(base: NodeOptions, host: string, port: number): NodeOptions {
  return { ...base, socket: { ...base.socket, host, port } };
}

/**
 * A `redis://` / `rediss://` URL as client options: host, port, TLS, credentials, database
 * (what node-redis reads from a URL; here so that the result can be pointed at other nodes).
 */
export function parseRedisUrl(url: string): NodeOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`not a redis:// or rediss:// URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`not a redis:// or rediss:// URL: ${JSON.stringify(url)}`);
  }
  const options: NodeOptions = {
    socket: { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost', port: Number(parsed.port || 6379), tls: parsed.protocol === 'rediss:' },
  };
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  if (parsed.pathname.length > 1) {
    const database = Number(parsed.pathname.slice(1));
    if (!Number.isInteger(database) || database < 0) throw new TypeError(`bad database number in ${JSON.stringify(url)}`);
    options.database = database;
  }
  return options;
}

/**
 * Options of a node-redis client (one someone else made, the nodes of a cluster client, or client
 * options in the store's configuration), reduced to what says where and how to connect —
 * credentials (`credentialsProvider` too), TLS, database: this store opens its own connections
 * with its own failure settings.
 */
export function connectionOptions(options: Record<string, unknown> | undefined): NodeOptions {
  const { url, ...rest } = (options ?? {}) as NodeOptions & { url?: string };
  // Not ours to share or honour: a client-side cache, type mappings, command options, the queue.
  for (const own of ['clientSideCache', 'commandOptions', 'disableOfflineQueue', 'commandsQueueMaxLength', 'modules', 'functions', 'scripts']) delete rest[own];
  return typeof url === 'string' ? withExplicit(rest, parseRedisUrl(url)) : rest;
}

/**
 * `base` (client options) under what a URL or the configuration says explicitly: address,
 * database, credentials (which win over a `credentialsProvider`, as in node-redis), and TLS (on
 * if either says so: never dropped silently).
 */
export function withExplicit(base: NodeOptions, explicit: NodeOptions): NodeOptions {
  const merged: NodeOptions = { ...base, ...explicit, socket: { ...base.socket, ...explicit.socket, tls: Boolean(base.socket?.tls || explicit.socket?.tls) } };
  if (explicit.username !== undefined || explicit.password !== undefined) delete merged.credentialsProvider;
  return merged;
}

/**
 * One connection to one Redis server, with the failure behaviour the cache needs: commands fail
 * at once while it is disconnected (never queued to land late), it reconnects in the background,
 * a stalled server is noticed, and closing is bounded whatever its state.
 */
export class RedisNode {
  readonly client: RedisClientType;
  readonly address: string;
  /** Settles once the first connection attempt succeeded, failed, or took CONNECT_TIMEOUT_MS. */
  readonly firstAttempt: Promise<void>;
  private attempted = false;
  private pending = 0;
  /** While commands are pending: when the last reply came (or the first of them was sent). */
  private progressAt = 0;
  /** Replies so far; `check()` compares it between its calls. */
  private replies = 0;
  private repliesAtCheck = 0;
  /** `check()` calls in a row that found commands pending and no reply since the previous one. */
  private quietChecks = 0;
  private notReadySince: number | undefined;
  private closing?: Promise<void>;

  constructor(
    readonly options: NodeOptions,
    /** Where this node's failures are reported (the cache's `'error'` events). */
    readonly onError: (err: unknown) => void,
    settings: { reconnect?: boolean } = {},
  ) {
    this.address = addressOf(options);
    this.client = createClient({
      ...options,
      disableOfflineQueue: true,
      socket: {
        ...options.socket,
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: settings.reconnect === false ? false : reconnect,
      },
    } as never) as RedisClientType;
    this.client.on('error', onError);
    this.firstAttempt = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
      timer.unref?.();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once('ready', done);
      this.client.once('error', done);
    }).then(() => {
      this.attempted = true;
    });
    this.client.connect().catch(() => undefined); // failures arrive as 'error' events
  }

  get ready(): boolean {
    return this.client.isReady;
  }

  /**
   * Runs `command` on this node's client: after the first connection attempt, never on a
   * stalled server (it fails at once), keeping count of what is pending.
   */
  async run<T>(command: (client: RedisClientType) => Promise<T>): Promise<T> {
    if (!this.attempted) await this.firstAttempt;
    if (this.closing) throw new Error(`the connection to ${this.address} was closed (the topology changed)`);
    if (this.stalled(performance.now())) throw new Error(`redis ${this.address} has not answered for ${STALL_MS} ms`);
    if (this.pending++ === 0) this.progressAt = performance.now();
    try {
      return await command(this.client);
    } finally {
      this.pending--;
      this.replies++;
      this.progressAt = performance.now();
    }
  }

  /**
   * Whether commands wait on a server that stopped answering, or the connection has been down for
   * STALL_MS. "Stopped answering" needs two `check()`s in a row without a reply, with I/O polled
   * between them: a process that was busy (a long render, GC) for STALL_MS has replies waiting in
   * its socket, and must not blame the server for them.
   */
  stalled(now: number): boolean {
    if (this.pending > 0 && this.quietChecks >= 2 && now - this.progressAt > STALL_MS) return true;
    return this.notReadySince !== undefined && now - this.notReadySince > STALL_MS;
  }

  /** Whether the node has trouble (disconnected or stalled); called periodically by the topology. */
  check(now: number): boolean {
    if (this.client.isReady) this.notReadySince = undefined;
    else this.notReadySince ??= now;
    this.quietChecks = this.pending > 0 && this.replies === this.repliesAtCheck ? this.quietChecks + 1 : 0;
    this.repliesAtCheck = this.replies;
    return !this.client.isReady || this.stalled(now);
  }

  /** Closes the connection within a bound: pending replies get a grace period, a dead server none. */
  close(): Promise<void> {
    return (this.closing ??= this.closeNow());
  }

  private async closeNow(): Promise<void> {
    await this.firstAttempt;
    if (this.client.isReady && this.pending === 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)));
      const closed = await Promise.race([this.client.close().then(() => 'closed' as const, () => 'late' as const), grace]);
      clearTimeout(timer);
      if (closed === 'closed') return;
    }
    destroy(this.client);
  }
}

/** Destroys a client whatever its state (node-redis throws synchronously on a client that gave up). */
export function destroy(client: { isOpen: boolean; destroy(): void }): void {
  try {
    if (client.isOpen) client.destroy();
  } catch {
    // already closed
  }
}

/**
 * `promise`, or a rejection after `ms`. When the timer fires, I/O is polled once more before
 * giving up (setImmediate runs after the poll phase): after the process was busy for longer than
 * `ms`, an answer already waiting in the socket still counts.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      immediate = setImmediate(() => reject(new Error(`${what}: no answer within ${ms} ms`)));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  });
}

export const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref?.();
  });

/** The error reply's text ('MOVED 3999 127.0.0.1:7001', 'READONLY …'), or ''. */
export function replyText(err: unknown): string {
  return err instanceof Error ? err.message : '';
}
