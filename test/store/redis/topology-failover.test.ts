// Failovers under load, on topologies of the test's own (scripts/redis-topology.js): a cluster
// master killed or hung, a sentinel-managed primary killed, and a plain URL whose server is
// replaced by a promoted replica and comes back demoted. Callers must never see an error: reads
// answer as misses and writes as "not stored" within the operation timeout, and caching resumes
// by itself on the new primary. Measured numbers are printed (docs/dev/redis-topologies.md).
import { Cache, type CacheOptions } from '../../../src';
import { command, startCluster, startSentinel, type RedisCluster, type RedisSentinelSetup } from '../../../scripts/redis-topology';
import { canStartRedis, eventually, sleep, uniquePrefix } from '../../support/stores';

jest.setTimeout(90000);

const OPERATION_TIMEOUT_MS = 50;
/** The slowest any call may be: one store call cut off at the deadline, on a busy 2-core machine. */
const MAX_LATENCY_MS = 10 * OPERATION_TIMEOUT_MS;
/** Caching must resume by itself within this of the kill (a failover itself takes ~2-2.5 s). */
const RESUME_WITHIN_MS = 8000;

interface Call {
  at: number;
  ms: number;
  write: boolean;
  ok: boolean;
}

/** Calls from 8 concurrent workers (a write, then a read of the key, over and over) until stopped. */
function load(cache: Cache) {
  const calls: Call[] = [];
  const thrown: unknown[] = [];
  let running = true;
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      const key = `load-${w}-${i % 40}`;
      const write = i % 2 === 0;
      const at = performance.now();
      try {
        const ok = write ? await cache.set(key, i, 60) : (await cache.get(key)) === i - 1;
        calls.push({ at, ms: performance.now() - at, write, ok });
      } catch (err) {
        thrown.push(err);
      }
      await sleep(2);
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  return {
    calls,
    thrown,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

/** What a failover at `killedAt` cost the callers of `calls`. */
function costOf(calls: Call[], killedAt: number) {
  const after = calls.filter((call) => call.at >= killedAt);
  const failed = after.filter((call) => call.write && !call.ok);
  const resumedAt = failed.length ? Math.max(...failed.map((call) => call.at + call.ms)) : killedAt;
  return {
    calls: after.length,
    failedWrites: failed.length,
    failingMs: failed.length ? Math.round(resumedAt - failed[0].at) : 0,
    resumedAfterMs: Math.round(resumedAt - killedAt),
    maxLatencyMs: Math.round(Math.max(0, ...after.map((call) => call.ms))),
    writesAfterResume: after.filter((call) => call.write && call.at > resumedAt).length,
  };
}

function caches(store: CacheOptions['store']): { a: Cache; b: Cache; errors: unknown[]; close(): Promise<void> } {
  const keyPrefix = uniquePrefix('failover');
  const errors: unknown[] = [];
  const a = new Cache({ store, keyPrefix, operationTimeoutMs: OPERATION_TIMEOUT_MS });
  const b = new Cache({ store, keyPrefix, operationTimeoutMs: OPERATION_TIMEOUT_MS });
  a.on('error', (err) => errors.push(err));
  b.on('error', (err) => errors.push(err));
  return { a, b, errors, close: async () => void (await Promise.all([a.close(), b.close()])) };
}

/**
 * L1 coherence between two caches: once b holds `key` in L1 (within 3 s: after a failover its
 * subscription must be made again first, and until then it fills nothing), b drops what a
 * changes within 100 ms.
 */
async function expectCoherent(a: Cache, b: Cache, key: string): Promise<void> {
  await eventually(() => a.set(key, 'one'), true, 5000);
  await eventually(async () => (await b.get(key)) === 'one' && b.peek(key) === 'one', true, 3000);
  expect(await a.set(key, 'two')).toBe(true);
  expect(await eventually(() => b.peek(key), undefined, 100)).toBeUndefined();
  expect(await b.get(key)).toBe('two');
  // Back in b's L1: a read that overlapped an invalidation is not kept there, so b may need another.
  expect(await eventually(async () => (await b.get(key)) === 'two' && b.peek(key) === 'two', true, 1000)).toBe(true);
}

function report(name: string, cost: object): void {
  process.stdout.write(`[failover] ${name}: ${JSON.stringify(cost)}\n`);
}

const suite = canStartRedis ? describe : describe.skip;

suite('Redis Cluster: a master fails under load', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  it('killed (the one carrying the invalidation channel): no caller error, bounded latency, caching and L1 coherence resume by themselves', async () => {
    const { a, b, close } = caches({ cluster: cluster.nodes });
    try {
      await expectCoherent(a, b, 'before');
      const channelMaster = await cluster.masterFor(`${a.keyPrefix}::invalidations`);
      const traffic = load(a);
      await sleep(500);
      const killedAt = performance.now();
      await cluster.kill(channelMaster);
      await sleep(RESUME_WITHIN_MS);
      await traffic.stop();
      const cost = costOf(traffic.calls, killedAt);
      report('cluster master SIGKILL', cost);
      expect(traffic.thrown).toEqual([]);
      expect(cost.failedWrites).toBeGreaterThan(0); // the failover did happen under this load
      expect(cost.maxLatencyMs).toBeLessThan(MAX_LATENCY_MS);
      expect(cost.resumedAfterMs).toBeLessThan(RESUME_WITHIN_MS - 1000);
      expect(cost.writesAfterResume).toBeGreaterThan(100);
      await expectCoherent(a, b, 'after'); // the bus follows the channel to the promoted replica
      await cluster.restart(channelMaster); // back as a replica
      await expectCoherent(a, b, 'restarted');
    } finally {
      await close();
    }
  });

  it('hung (SIGSTOP): calls give up within the deadline, the promoted replica takes over', async () => {
    const { a, b, close } = caches({ cluster: cluster.nodes });
    const masters = await cluster.masters();
    const victim = masters[masters.length - 1];
    try {
      await expectCoherent(a, b, 'before-hang');
      const traffic = load(a);
      await sleep(500);
      const hungAt = performance.now();
      cluster.pause(victim);
      await sleep(RESUME_WITHIN_MS);
      await traffic.stop();
      const cost = costOf(traffic.calls, hungAt);
      report('cluster master SIGSTOP', cost);
      expect(traffic.thrown).toEqual([]);
      expect(cost.maxLatencyMs).toBeLessThan(MAX_LATENCY_MS);
      expect(cost.resumedAfterMs).toBeLessThan(RESUME_WITHIN_MS - 1000);
      await expectCoherent(a, b, 'after-hang');
    } finally {
      cluster.resume(victim);
      await close();
    }
    await cluster.waitForOk(15000); // the old master rejoins as a replica
  });
});

suite('Redis Cluster: a slot moved to another master under a connected cache', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startCluster({ replicas: 0 });
  });
  afterAll(() => cluster?.stop());

  it('follows ASK while the slot migrates and MOVED once it has, without a miss or a failed write', async () => {
    const cache = new Cache({ store: { cluster: cluster.nodes }, keyPrefix: uniquePrefix('moving'), operationTimeoutMs: 2000 });
    const errors: unknown[] = [];
    cache.on('error', (err) => errors.push(err));
    try {
      // Keys with the hash tag {moving} share one slot, whatever the prefix.
      const slot = Number(await command(cluster.ports[0], ['CLUSTER', 'KEYSLOT', 'moving']));
      const source = await cluster.masterFor('{moving}');
      const target = (await cluster.masters()).find((port) => port !== source)!;
      const idOf = async (port: number) => String(await command(port, ['CLUSTER', 'MYID']));
      const [sourceId, targetId] = [await idOf(source), await idOf(target)];
      expect(await cache.set('{moving}before', 'old')).toBe(true);
      await command(target, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId]);
      await command(source, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId]);
      // Mid-migration: a key the source does not have is answered with ASK (the importing node has it).
      expect(await cache.set('{moving}during', 'new')).toBe(true);
      expect(await cache.getMany(['{moving}before', '{moving}during'])).toEqual(['old', 'new']);
      const keys = (await command(source, ['CLUSTER', 'GETKEYSINSLOT', slot, 100])) as string[];
      if (keys.length > 0) await command(source, ['MIGRATE', '127.0.0.1', target, '', 0, 5000, 'KEYS', ...keys]);
      for (const port of cluster.ports) await command(port, ['CLUSTER', 'SETSLOT', slot, 'NODE', targetId]);
      // Moved: the cache still points the slot at the source, which answers MOVED.
      expect(await cache.get('{moving}before')).toBe('old');
      expect(await cache.set('{moving}after', 'newer')).toBe(true);
      expect(await cache.getMany(['{moving}before', '{moving}during', '{moving}after'])).toEqual(['old', 'new', 'newer']);
      expect(await cache.inc('{moving}count')).toBe(1);
      for (const key of ['before', 'during', 'after']) expect(await command(target, ['EXISTS', `${cache.keyPrefix}::{moving}${key}`])).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await cache.clear();
      await cache.close();
    }
  });
});

suite('Redis Sentinel: the primary fails under load', () => {
  let sentinel: RedisSentinelSetup;
  beforeAll(async () => {
    sentinel = await startSentinel();
  });
  afterAll(() => sentinel?.stop());

  it('killed: no caller error, bounded latency, caching and L1 coherence resume on the new primary', async () => {
    const store = { sentinel: { name: sentinel.name, nodes: sentinel.sentinels.map(({ host, port }) => `${host}:${port}`) } };
    const { a, b, close } = caches(store);
    try {
      await expectCoherent(a, b, 'before');
      const traffic = load(a);
      await sleep(500);
      const killedAt = performance.now();
      const old = await sentinel.killPrimary();
      await sleep(RESUME_WITHIN_MS);
      await traffic.stop();
      const cost = costOf(traffic.calls, killedAt);
      report('sentinel primary SIGKILL', cost);
      expect(traffic.thrown).toEqual([]);
      expect(cost.failedWrites).toBeGreaterThan(0);
      expect(cost.maxLatencyMs).toBeLessThan(MAX_LATENCY_MS);
      expect(cost.resumedAfterMs).toBeLessThan(RESUME_WITHIN_MS - 1000);
      expect(b.peek('before')).toBeUndefined(); // the subscription moved: b's L1 was dropped
      await expectCoherent(a, b, 'after');
      const now = await sentinel.primary();
      expect(now.port).not.toBe(old);
      await sentinel.restart(old); // an empty master at first, then demoted: writes stay on the new primary
      await expectCoherent(a, b, 'restarted');
    } finally {
      await close();
    }
  });
});

suite('one Redis URL whose server is replaced', () => {
  let setup: RedisSentinelSetup;
  beforeAll(async () => {
    setup = await startSentinel();
  });
  afterAll(() => setup?.stop());

  it('follows a promoted replica when the server dies, and a demoted server to its primary (READONLY)', async () => {
    const first = await setup.primary();
    const { a, b, close } = caches(first.url);
    try {
      await expectCoherent(a, b, 'before');
      const traffic = load(a);
      await sleep(500);
      const killedAt = performance.now();
      const old = await setup.killPrimary();
      await sleep(RESUME_WITHIN_MS);
      await traffic.stop();
      const cost = costOf(traffic.calls, killedAt);
      report('single URL, primary SIGKILL, replica promoted', cost);
      expect(traffic.thrown).toEqual([]);
      expect(cost.maxLatencyMs).toBeLessThan(MAX_LATENCY_MS);
      expect(cost.resumedAfterMs).toBeLessThan(RESUME_WITHIN_MS - 1000);
      const promoted = await setup.waitForPrimary({ not: old });
      expect(await a.set('where', 'new primary')).toBe(true);
      expect(await command(promoted.port, ['GET', `${a.keyPrefix}::where`])).toContain('new primary');
      await expectCoherent(a, b, 'after');

      // The old server returns and is demoted to a replica: a cache given its URL now follows it to its primary.
      await setup.restart(old);
      const demoted = await eventually(async () => ((await command(old, ['ROLE']).catch(() => [])) as unknown[])[0], 'slave', 30000);
      expect(demoted).toBe('slave');
      const late = new Cache({ store: first.url, keyPrefix: a.keyPrefix, operationTimeoutMs: OPERATION_TIMEOUT_MS });
      late.on('error', () => undefined);
      try {
        expect(await eventually(() => late.set('late', 'written'), true, 3000)).toBe(true);
        expect(await command(promoted.port, ['GET', `${a.keyPrefix}::late`])).toContain('written');
        expect(await a.get('late')).toBe('written');
        await expectCoherent(late, b, 'late');
      } finally {
        await late.close();
      }
    } finally {
      await close();
    }
  });
});
