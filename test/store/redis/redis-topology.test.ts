// The launcher of local Redis Cluster and Sentinel topologies (scripts/redis-topology.js) itself:
// it starts them quickly, real clients can use them, failovers happen, and stop leaves nothing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createCluster, createSentinel } from '@keyv/redis';
import { command, startCluster, startSentinel, type RedisCluster, type RedisSentinelSetup } from '../../../scripts/redis-topology';

const canStartRedis = (() => {
  const found = spawnSync('redis-server', ['--version']).status === 0;
  if (!found && process.env.CI === 'true') throw new Error('CI=true but redis-server is not installed');
  if (!found) process.stderr.write('*** redis-server not installed: Redis topology launcher tests are SKIPPED ***\n');
  return found;
})();

const suite = canStartRedis ? describe : describe.skip;
jest.setTimeout(60000);

const answers = (port: number) => command(port, ['PING'], 300).then(() => true, () => false);

/** The temp dirs of a topology's nodes, read from their own config (before they are stopped). */
async function dirsOf(ports: number[]): Promise<string[]> {
  const dirs: string[] = [];
  for (const port of ports) {
    const info = String(await command(port, ['INFO', 'server']));
    dirs.push(/config_file:(.*)\r\n/.exec(info)![1].replace(/\/[^/]+$/, ''));
  }
  return dirs;
}

suite('a local Redis Cluster', () => {
  let cluster: RedisCluster;
  let startedInMs: number;
  beforeAll(async () => {
    const started = performance.now();
    cluster = await startCluster();
    startedInMs = performance.now() - started;
  });
  afterAll(() => cluster?.stop());

  it('has 3 masters with a replica each, started within a few seconds', async () => {
    expect(startedInMs).toBeLessThan(10000);
    expect(cluster.nodes).toHaveLength(6);
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    for (const master of masters) expect(await cluster.replicasOf(master)).toHaveLength(1);
  });

  it('serves writes and reads through createCluster, on every master', async () => {
    const client = createCluster({ rootNodes: cluster.rootNodes });
    await client.connect();
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `topology-test-${i}`);
      for (const key of keys) await client.set(key, key.toUpperCase());
      expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => key.toUpperCase()));
      const owners = new Set(await Promise.all(keys.map((key) => cluster.masterFor(key))));
      expect(owners.size).toBe(3);
    } finally {
      await client.close();
    }
  });

  it('fails a killed master over to its replica, and takes the old master back as a replica', async () => {
    const victim = await cluster.masterFor('topology-test-victim');
    const [replica] = await cluster.replicasOf(victim);
    await cluster.kill(victim);
    const killed = performance.now();
    await cluster.waitForOk(10000);
    expect(performance.now() - killed).toBeLessThan(10000);
    expect(await cluster.masters()).toContain(replica);
    expect(await cluster.masters()).not.toContain(victim);

    // A client that connects now finds the new master (a long-lived one would not: see the doc).
    const client = createCluster({ rootNodes: cluster.rootNodes.filter((node) => !node.url.endsWith(`:${victim}`)) });
    await client.connect();
    try {
      await client.set('topology-test-victim', 'after failover');
      expect(await client.get('topology-test-victim')).toBe('after failover');
    } finally {
      await client.close();
    }

    await cluster.restart(victim);
    expect(await cluster.replicasOf(replica)).toEqual([victim]);
  });
});

suite('a local Redis Sentinel setup', () => {
  let setup: RedisSentinelSetup;
  let startedInMs: number;
  beforeAll(async () => {
    const started = performance.now();
    setup = await startSentinel();
    startedInMs = performance.now() - started;
  });
  afterAll(() => setup?.stop());

  it('has a primary, a replica and three sentinels, started within a few seconds', async () => {
    expect(startedInMs).toBeLessThan(10000);
    expect(setup.name).toBe('mymaster');
    expect(setup.sentinels).toHaveLength(3);
    expect((await setup.primary()).port).toBe(setup.dataPorts[0]);
  });

  it('elects a new primary within 10 s of a killed one, and createSentinel follows it', async () => {
    const client = createSentinel({ name: setup.name, sentinelRootNodes: setup.sentinels });
    client.on('error', () => undefined); // connection errors to the killed primary, expected
    await client.connect();
    try {
      await client.set('topology-test', 'before');
      const old = await setup.killPrimary();
      const killed = performance.now();
      const primary = await setup.waitForPrimary({ not: old, withinMs: 10000 });
      expect(performance.now() - killed).toBeLessThan(10000);
      expect(primary.port).toBe(setup.dataPorts[1]);
      await client.set('topology-test', 'after');
      expect(await client.get('topology-test')).toBe('after');
      expect(client.getMasterNode()).toEqual({ host: '127.0.0.1', port: primary.port });
    } finally {
      await client.close();
    }
  });
});

suite('stopping a topology', () => {
  it('ends every process and removes every temp dir', async () => {
    const cluster = await startCluster({ replicas: 0 });
    const setup = await startSentinel();
    const ports = [...cluster.ports, ...setup.ports];
    const dirs = await dirsOf(ports);
    expect(dirs.every((dir) => existsSync(dir))).toBe(true);
    await Promise.all([cluster.stop(), setup.stop()]);
    expect(await Promise.all(ports.map(answers))).toEqual(ports.map(() => false));
    expect(dirs.filter((dir) => existsSync(dir))).toEqual([]);
  });
});
