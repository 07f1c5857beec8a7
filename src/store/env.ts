import type { StoreOption } from './create-store';

/**
 * The `store` option named by environment variables, or undefined when none names one:
 *
 * - `CACHE_URL`: `memory`, or one Redis server as a `redis://` / `rediss://` URL;
 * - `CACHE_CLUSTER_NODES`: Redis Cluster, some of its nodes as comma-separated URLs (or
 *   `host:port`);
 * - `CACHE_SENTINELS` (comma-separated `host:port` or URLs) with `CACHE_SENTINEL_NAME`: the primary
 *   the sentinels monitor under that name;
 * - `CACHE_REDIS_USERNAME`, `CACHE_REDIS_PASSWORD`: credentials for the Redis servers where the
 *   URLs carry none (the primary's, with sentinels); `CACHE_REDIS_TLS=true`: TLS to a primary
 *   found through sentinels (URLs say it with `rediss://`).
 *
 * Naming more than one of `CACHE_URL` (other than `memory`), `CACHE_CLUSTER_NODES` and
 * `CACHE_SENTINELS` is refused.
 */
export function storeFromEnv(env: Record<string, string | undefined>): StoreOption | undefined {
  const set = (name: string) => (env[name] ?? '').trim() || undefined;
  const url = set('CACHE_URL');
  const clusterNodes = set('CACHE_CLUSTER_NODES');
  const sentinels = set('CACHE_SENTINELS');
  const named = [url && url !== 'memory' && 'CACHE_URL', clusterNodes && 'CACHE_CLUSTER_NODES', sentinels && 'CACHE_SENTINELS'].filter(Boolean);
  if (named.length > 1) throw new TypeError(`name one Redis deployment, not ${named.join(' and ')}`);
  const username = set('CACHE_REDIS_USERNAME');
  const password = set('CACHE_REDIS_PASSWORD');
  const list = (value: string) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const withCredentials = (address: string) => {
    const parsed = new URL(address.includes('://') ? address : `redis://${address}`);
    if (!parsed.username && !parsed.password) {
      if (username) parsed.username = encodeURIComponent(username);
      if (password) parsed.password = encodeURIComponent(password);
    }
    return parsed.toString().replace(/\/$/, '');
  };
  if (clusterNodes) return { cluster: list(clusterNodes).map(withCredentials) };
  if (sentinels) {
    const name = set('CACHE_SENTINEL_NAME');
    if (!name) throw new TypeError('CACHE_SENTINELS needs CACHE_SENTINEL_NAME: the name the sentinels monitor the primary under');
    const tls = set('CACHE_REDIS_TLS');
    return {
      sentinel: {
        name,
        nodes: list(sentinels),
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        ...(tls === 'true' || tls === '1' ? { tls: true } : {}),
      },
    };
  }
  if (url && url !== 'memory' && /^rediss?:\/\//.test(url)) return withCredentials(url);
  return url;
}
