// Credentials reach every connection the Redis store opens: each cluster node, the primary and
// its subscriber, each sentinel. An ACL user is made on every node of the shared topologies (and
// removed after); a cache connects as that user with a username and password and with a
// credentialsProvider, and a wrong password fails open.
import { randomUUID } from 'node:crypto';
import { createClient, createCluster } from '@keyv/redis';
import { Cache, type CacheOptions } from '../../src';
import { clusterFromConfig, sentinelFromConfig } from '../../src/store/redis/config';
import { command } from '../../scripts/redis-topology';
import { clusterNodes, redisUrl, sentinelSetup, uniquePrefix } from '../support/stores';

jest.setTimeout(30000);

const user = `kfc-acl-${randomUUID().slice(0, 8)}`;
const password = randomUUID();
const portOf = (address: string) => Number(new URL(address.includes('://') ? address : `redis://${address}`).port);

/** Counts its calls: each new connection asks it. */
function provider(secret: string = password) {
  const provider = { type: 'async-credentials-provider' as const, calls: 0, credentials: async () => (provider.calls++, { username: user, password: secret }) };
  return provider;
}

/** Ports of the sentinel setup's data nodes: the primary and its replicas, as the sentinels tell. */
async function sentinelDataPorts(): Promise<number[]> {
  const sentinel = portOf(sentinelSetup!.nodes[0]);
  const primary = (await command(sentinel, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinelSetup!.name])) as string[];
  const replicas = (await command(sentinel, ['SENTINEL', 'REPLICAS', sentinelSetup!.name])) as string[][];
  return [Number(primary[1]), ...replicas.map((fields) => Number(fields[fields.indexOf('port') + 1]))];
}

/** How many connections to the server on `port` are logged in as the ACL user. */
async function connectionsOfUser(port: number): Promise<number> {
  return String(await command(port, ['CLIENT', 'LIST'])).split('\n').filter((line) => line.includes(` user=${user} `)).length;
}

interface Topology {
  name: string;
  /** Every server the ACL user is made on. */
  ports: () => Promise<number[]>;
  /** The store option logging in as `user` with `password`, or with a credentials provider. */
  withPassword: (secret: string) => CacheOptions['store'];
  withProvider: (made: ReturnType<typeof provider>) => CacheOptions['store'];
  /** Where the cache must hold connections as the user once it served a call: one server of each group at least. */
  loggedIn: () => Promise<number[][]>;
}

const topologies: Topology[] = [];
if (redisUrl) {
  const port = portOf(redisUrl);
  topologies.push({
    name: 'server',
    ports: async () => [port],
    withPassword: (secret) => createClient({ socket: { host: '127.0.0.1', port }, username: user, password: secret }),
    withProvider: (made) => createClient({ socket: { host: '127.0.0.1', port }, credentialsProvider: made }),
    loggedIn: async () => [[port]],
  });
}
if (clusterNodes) {
  const nodes = clusterNodes;
  const masters = async () => ((await command(portOf(nodes[0]), ['CLUSTER', 'SLOTS'])) as unknown[][]).map((range) => Number((range[2] as unknown[])[1]));
  topologies.push({
    name: 'cluster',
    ports: async () => nodes.map(portOf),
    withPassword: (secret) => ({ cluster: nodes, defaults: { username: user, password: secret } }),
    // A cluster client the app made, read as configuration: its credentialsProvider was dropped before.
    withProvider: (made) => createCluster({ rootNodes: nodes.map((url) => ({ url })), defaults: { credentialsProvider: made } }),
    loggedIn: async () => (await masters()).map((master) => [master]),
  });
}
if (sentinelSetup) {
  const { name, nodes } = sentinelSetup;
  topologies.push({
    name: 'sentinel',
    ports: async () => [...(await sentinelDataPorts()), ...nodes.map(portOf)],
    withPassword: (secret) => ({ sentinel: { name, nodes: nodes.map((node) => `redis://${user}:${secret}@${node}`), username: user, password: secret } }),
    withProvider: (made) => ({ sentinel: { name, nodes, nodeClientOptions: { credentialsProvider: made }, sentinelClientOptions: { credentialsProvider: made } } }),
    // The primary (commands, subscriber), and a sentinel (telling of failovers).
    loggedIn: async () => [(await sentinelDataPorts()).slice(0, 1), nodes.map(portOf)],
  });
}

(topologies.length > 0 ? describe : describe.skip).each(topologies)('an ACL user on $name', (topology) => {
  let ports: number[] = [];
  beforeAll(async () => {
    ports = await topology.ports();
    await Promise.all(ports.map((port) => command(port, ['ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all'])));
  });
  afterAll(async () => {
    await Promise.all(ports.map((port) => command(port, ['ACL', 'DELUSER', user]).catch(() => undefined)));
  });

  async function serves(store: CacheOptions['store']): Promise<void> {
    const errors: string[] = [];
    const cache = new Cache({ store, keyPrefix: uniquePrefix('acl'), operationTimeoutMs: 2000 });
    cache.on('error', (err) => errors.push(err.message));
    try {
      expect(await cache.set('k', 'v', 60)).toBe(true);
      expect(await cache.getMany(['k', 'other'])).toEqual(['v', undefined]);
      for (const group of await topology.loggedIn()) {
        const counts = await Promise.all(group.map(connectionsOfUser));
        expect(counts.some((count) => count > 0)).toBe(true);
      }
      expect(errors).toEqual([]);
      await cache.clear();
    } finally {
      await cache.close();
    }
  }

  it('connects with a username and password', async () => {
    await serves(topology.withPassword(password));
  });

  it('connects with a credentialsProvider, asked by every connection', async () => {
    const made = provider();
    await serves(topology.withProvider(made));
    expect(made.calls).toBeGreaterThanOrEqual((await topology.loggedIn()).length);
  });

  it.each([
    ['password', () => topology.withPassword('wrong')],
    ['credentialsProvider', () => topology.withProvider(provider('wrong'))],
  ])('fails open with a wrong %s: misses and "not stored", reported, never thrown', async (_, store) => {
    const errors: string[] = [];
    const cache = new Cache({ store: store(), keyPrefix: uniquePrefix('acl'), operationTimeoutMs: 200 });
    cache.on('error', (err) => errors.push(err.message));
    try {
      expect(await cache.set('k', 'v', 60)).toBe(false);
      expect(await cache.get('k')).toBeUndefined();
      expect(errors.join('\n')).toMatch(/WRONGPASS/); // the reason, from the first server it was refused by
    } finally {
      await cache.close();
    }
  });
});

describe('auth and TLS options reach every node and sentinel of the configuration', () => {
  const credentialsProvider = provider();
  const tls = { tls: true, ca: 'CA', servername: 'redis.internal' };

  it('cluster: defaults under the URLs, whose credentials win for their node', () => {
    const { roots, defaults } = clusterFromConfig({ cluster: ['rediss://a:7000', 'redis://u:p@b:7001'], defaults: { credentialsProvider, socket: tls } });
    expect(defaults).toMatchObject({ credentialsProvider, socket: tls });
    expect(roots[0]).toMatchObject({ credentialsProvider, socket: { ...tls, host: 'a', port: 7000 } });
    expect(roots[1]).toMatchObject({ username: 'u', password: 'p', socket: { ...tls, host: 'b', port: 7001 } });
    expect(roots[1].credentialsProvider).toBeUndefined();
  });

  it('sentinel: nodeClientOptions for the primary, sentinelClientOptions for each sentinel', () => {
    const settings = sentinelFromConfig({
      name: 'm',
      nodes: ['s1:26379', 'redis://su:sp@s2:26379'],
      database: 2,
      nodeClientOptions: { credentialsProvider, socket: tls },
      sentinelClientOptions: { username: 'su0', password: 'sp0', socket: tls },
    });
    expect(settings.data).toMatchObject({ credentialsProvider, database: 2, socket: tls });
    expect(settings.sentinels[0]).toMatchObject({ username: 'su0', password: 'sp0', socket: { ...tls, host: 's1', port: 26379 } });
    expect(settings.sentinels[1]).toMatchObject({ username: 'su', password: 'sp', socket: { ...tls, host: 's2' } });
  });

  it('refuses client options that are not an object', () => {
    expect(() => new Cache({ store: { cluster: ['redis://a:7000'], defaults: 'x' as never } })).toThrow(/store.defaults must be node-redis client options/);
  });
});
