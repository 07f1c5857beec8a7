import { isClusterClient, isClusterConfig, isRedisAdapter, isSentinelClient, isSentinelConfig, isServerClient } from '../shapes';
import { ClusterTopology, type ClusterSettings } from './cluster';
import { connectionOptions, parseRedisUrl, type NodeOptions } from './node';
import { SentinelTopology, ServerTopology } from './primary';
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
  if (isClusterConfig(source)) return new ClusterTopology(clusterFromUrls(source.cluster), onError);
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

function clusterFromUrls(urls: unknown): ClusterSettings {
  const roots = urlList(urls, 'store.cluster').map(parseRedisUrl);
  if (roots.some((root) => root.database !== undefined && root.database !== 0)) throw new TypeError('Redis Cluster has database 0 only: drop the /<db> from store.cluster URLs');
  const first = roots[0];
  const defaults: NodeOptions = { socket: { tls: first.socket?.tls ?? false } };
  if (first.username !== undefined) defaults.username = first.username;
  if (first.password !== undefined) defaults.password = first.password;
  for (const root of roots) {
    root.username ??= defaults.username;
    root.password ??= defaults.password;
  }
  return { roots, defaults };
}

function sentinelFromConfig(config: unknown): ConstructorParameters<typeof SentinelTopology>[0] {
  const { name, nodes, username, password, database, tls } = (config ?? {}) as Record<string, unknown>;
  if (typeof name !== 'string' || name === '') throw new TypeError(`store.sentinel.name must be the name the sentinels monitor the primary under, got ${JSON.stringify(name)}`);
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((node) => typeof node === 'string' && node !== '')) {
    throw new TypeError(`store.sentinel.nodes must be a non-empty array of sentinel addresses (host:port or redis:// URLs), got ${JSON.stringify(nodes)}`);
  }
  if (database !== undefined && !(Number.isInteger(database) && (database as number) >= 0)) throw new TypeError(`store.sentinel.database must be an integer >= 0, got ${JSON.stringify(database)}`);
  const data: NodeOptions = { socket: { tls: tls === true } };
  if (typeof username === 'string') data.username = username;
  if (typeof password === 'string') data.password = password;
  if (typeof database === 'number' && database > 0) data.database = database;
  const sentinels = (nodes as string[]).map((node) => parseRedisUrl(node.includes('://') ? node : `redis://${node}`));
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
