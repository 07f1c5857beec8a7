// What the values `CacheOptions.store` accepts look like. Recognised by shape only, never with
// `instanceof`: the app's copy of node-redis, keyv or @keyv/redis (another version, an ESM copy) is
// not ours. Nothing here loads them.

/** Redis Cluster, by some of its nodes. */
export interface RedisClusterConfig {
  /**
   * Some nodes of the cluster (any: the others are discovered), as `redis://host:port` or
   * `rediss://` (TLS) URLs. Credentials and TLS of the first URL apply to every node the cluster
   * names. Environment: `CACHE_CLUSTER_NODES` (comma-separated URLs).
   */
  cluster: readonly string[];
  /**
   * How every connection to a node authenticates and encrypts, as node-redis' `createClient` takes
   * it (`createCluster`'s `defaults`). Credentials in a URL win over these for that node.
   */
  defaults?: {
    /** An ACL user (with `password`). */
    username?: string;
    password?: string;
    /**
     * node-redis' `CredentialsProvider`, for tokens and rotation:
     * `{ type: 'async-credentials-provider', credentials: async () => ({ username, password }) }`,
     * or a `'streaming-credentials-provider'`.
     */
    credentialsProvider?: object;
    /** node-redis' socket options for TLS: `{ tls: true, ca, cert, key, servername, … }` (on with `rediss://` URLs too). */
    socket?: object;
  };
}

/** A primary and its replicas, behind Redis Sentinel. */
export interface RedisSentinelConfig {
  sentinel: {
    /** The name the sentinels monitor the primary under (`sentinel monitor <name> …`). Environment: `CACHE_SENTINEL_NAME`. */
    name: string;
    /**
     * Some sentinels, as `host:port` or `redis://[user:password@]host:port` (credentials and TLS
     * in a URL are the sentinel's own). Environment: `CACHE_SENTINELS` (comma-separated).
     */
    nodes: readonly string[];
    /** The primary's (and replicas') credentials. Environment: `CACHE_REDIS_USERNAME`, `CACHE_REDIS_PASSWORD`. */
    username?: string;
    password?: string;
    /** Database number on the primary. Default 0. */
    database?: number;
    /** TLS to the primary. Environment: `CACHE_REDIS_TLS=true`. */
    tls?: boolean;
    /**
     * How every connection to the primary (and its replicas) authenticates and encrypts, as in
     * `createSentinel`: a `credentialsProvider`, TLS `socket` options… `username`, `password`
     * and `tls` above win over these.
     */
    nodeClientOptions?: RedisClusterConfig['defaults'];
    /**
     * How every connection to a sentinel authenticates and encrypts, as in `createSentinel`
     * (the sentinels' own ACL user, `credentialsProvider`, TLS). Credentials in a sentinel's URL win.
     */
    sentinelClientOptions?: RedisClusterConfig['defaults'];
  };
}

/**
 * A node-redis client the app made — `createClient()`, `createCluster()` or `createSentinel()`
 * (of `@keyv/redis` or `redis`), connected or not. A client or cluster client is read as
 * configuration: the cache opens connections of its own with its options (it needs its own
 * failure behaviour) and leaves yours as they are. A sentinel client, whose options cannot be
 * read, is used as it is (connected here if it was not, and then closed by `close()`).
 */
export interface RedisClientLike {
  connect(): unknown;
  sendCommand(...args: never[]): unknown;
  readonly isOpen: boolean;
}

/** A Keyv instance (of any copy of keyv). */
export function isKeyv(source: unknown): boolean {
  return isObject(source) && typeof source.getManyRaw === 'function' && typeof source.opts === 'object';
}

/** A `@keyv/redis` adapter (of any copy), with the client it drives. */
export function isRedisAdapter(store: unknown): store is { client: object; createKeyPrefix: (key: string, namespace?: string) => string; keyPrefixSeparator?: unknown } {
  return isObject(store) && typeof store.createKeyPrefix === 'function' && isObject(store.client);
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null;
}

export function isClusterClient(value: unknown): boolean {
  return isObject(value) && typeof value.nodeClient === 'function' && Array.isArray(value.masters) && typeof value.connect === 'function';
}

export function isSentinelClient(value: unknown): boolean {
  return isObject(value) && typeof value.getMasterNode === 'function' && typeof value.acquire === 'function' && typeof value.connect === 'function';
}

export function isServerClient(value: unknown): boolean {
  return (
    isObject(value) &&
    !isClusterClient(value) &&
    !isSentinelClient(value) &&
    typeof value.sendCommand === 'function' &&
    typeof value.duplicate === 'function' &&
    typeof value.connect === 'function' &&
    isObject(value.options)
  );
}

export function isClusterConfig(value: unknown): value is RedisClusterConfig {
  return isObject(value) && 'cluster' in value;
}

export function isSentinelConfig(value: unknown): value is RedisSentinelConfig {
  return isObject(value) && 'sentinel' in value;
}

/** Whether `store` names Redis in a form the Redis store serves itself (not through Keyv). */
export function isRedisSource(store: unknown): boolean {
  return (
    (typeof store === 'string' && /^rediss?:\/\//.test(store)) ||
    isClusterConfig(store) ||
    isSentinelConfig(store) ||
    isClusterClient(store) ||
    isSentinelClient(store) ||
    isServerClient(store) ||
    (isRedisAdapter(store) && !isKeyv(store))
  );
}
