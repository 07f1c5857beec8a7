import { isClusterClient, isClusterConfig, isRedisAdapter, isSentinelClient, isSentinelConfig, isServerClient } from '../shapes';
import { ClusterTopology, type ClusterSettings } from './cluster';
import { connectionOptions, parseRedisUrl, withExplicit, type NodeOptions } from './node';
import { ServerTopology } from './primary';
import { SentinelTopology, type SentinelSettings } from './sentinel';
import { SentinelClientTopology, type SentinelClientLike } from './sentinel-client';
import type { Topology } from './topology';

/** The key separator of `<keyPrefix>::<key>`; a `@keyv/redis` adapter may name its own. */
export function separatorOf(source: unknown): string {
  return isRedisAdapter(source) && typeof source.keyPrefixSeparator === 'string' ? source.keyPrefixSeparator : '::';
}

/**
 * The topology a Redis `store` option names: a URL, `{ cluster }`, `{ sentinel }`, a node-redis
 * client / cluster / sentinel, or a `@keyv/redis` adapter (its client).
 */
export function createTopology(source: unknown, onError: (err: unknown) => void): Topology {
  if (isRedisAdapter(source)) return createTopology(source.client, onError);
  if (typeof source === 'string') return new ServerTopology(parseRedisUrl(source), onError);
  if (isClusterConfig(source)) return new ClusterTopology(clusterFromConfig(source), onError);
  if (isSentinelConfig(source)) return new SentinelTopology(sentinelFromConfig(source.sentinel), onError);
  if (isClusterClient(source)) return new ClusterTopology(clusterFromClient(source as ClusterClientShape), onError);
  if (isSentinelClient(source)) return new SentinelClientTopology(source as unknown as SentinelClientLike, onError);
  if (isServerClient(source)) return new ServerTopology(connectionOptions((source as { options: Record<string, unknown> }).options), onError);
  throw new TypeError('not a Redis store option');
}

function urlList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((item) => typeof item === 'string' && item !== '')) {
    throw new TypeError(`${what} must be a non-empty array of redis:// or rediss:// URLs, got ${JSON.stringify(value)}`);
  }
  return value as string[];
}

/** Client options from the configuration (`defaults`, `nodeClientOptions`, `sentinelClientOptions`). */
function clientOptions(value: unknown, what: string): NodeOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw new TypeError(`${what} must be node-redis client options (an object), got ${JSON.stringify(value)}`);
  return connectionOptions(value as Record<string, unknown>);
}

/** The first URL's credentials and TLS (over `defaults`) apply to every node; a URL's own win for that node. */
export function clusterFromConfig(config: { cluster: unknown; defaults?: unknown }): ClusterSettings {
  const roots = urlList(config.cluster, 'store.cluster').map(parseRedisUrl);
  if (roots.some((root) => root.database !== undefined && root.database !== 0)) throw new TypeError('Redis Cluster has database 0 only: drop the /<db> from store.cluster URLs');
  const { socket, ...first } = roots[0];
  const defaults = withExplicit(clientOptions(config.defaults, 'store.defaults'), { ...first, socket: { tls: socket?.tls } });
  return { roots: roots.map((root) => withExplicit(defaults, root)), defaults };
}

/** The primary's options (`nodeClientOptions` under `username`, `password`, `database`, `tls`) and each sentinel's (`sentinelClientOptions` under its URL). */
export function sentinelFromConfig(config: unknown): SentinelSettings {
  const { name, nodes, username, password, database, tls, nodeClientOptions, sentinelClientOptions } = (config ?? {}) as Record<string, unknown>;
  if (typeof name !== 'string' || name === '') throw new TypeError(`store.sentinel.name must be the name the sentinels monitor the primary under, got ${JSON.stringify(name)}`);
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((node) => typeof node === 'string' && node !== '')) {
    throw new TypeError(`store.sentinel.nodes must be a non-empty array of sentinel addresses (host:port or redis:// URLs), got ${JSON.stringify(nodes)}`);
  }
  if (database !== undefined && !(Number.isInteger(database) && (database as number) >= 0)) throw new TypeError(`store.sentinel.database must be an integer >= 0, got ${JSON.stringify(database)}`);
  const explicit: NodeOptions = { socket: { tls: tls === true } };
  if (typeof username === 'string') explicit.username = username;
  if (typeof password === 'string') explicit.password = password;
  if (typeof database === 'number' && database > 0) explicit.database = database;
  const data = withExplicit(clientOptions(nodeClientOptions, 'store.sentinel.nodeClientOptions'), explicit);
  const sentinelOptions = clientOptions(sentinelClientOptions, 'store.sentinel.sentinelClientOptions');
  const sentinels = (nodes as string[]).map((node) => withExplicit(sentinelOptions, parseRedisUrl(node.includes('://') ? node : `redis://${node}`)));
  return { name, sentinels, data };
}

interface ClusterClientShape {
  _options?: {
    rootNodes?: Array<Record<string, unknown>>;
    defaults?: Record<string, unknown>;
    nodeAddressMap?: Record<string, { host: string; port: number }> | ((address: string) => { host: string; port: number } | undefined);
  };
}

/** A node-redis cluster client's configuration (what its `duplicate()` copies), for connections of our own. */
function clusterFromClient(cluster: ClusterClientShape): ClusterSettings {
  const options = cluster._options;
  if (!options || !Array.isArray(options.rootNodes) || options.rootNodes.length === 0) {
    throw new TypeError("cannot read this cluster client's rootNodes: pass { cluster: ['redis://host:port', …] } instead");
  }
  const defaults = connectionOptions(options.defaults);
  const roots = options.rootNodes.map((root) =>
    connectionOptions({ ...options.defaults, ...root, socket: { ...(options.defaults?.socket as object | undefined), ...(root.socket as object | undefined) } }),
  );
  const map = options.nodeAddressMap;
  const nodeAddressMap = typeof map === 'function' ? map : map ? (address: string) => map[address] : undefined;
  return { roots, defaults, nodeAddressMap };
}
