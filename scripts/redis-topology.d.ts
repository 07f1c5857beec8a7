/**
 * Throwaway Redis Cluster and Redis Sentinel topologies on 127.0.0.1 (see redis-topology.js and
 * docs/dev/redis-topologies.md). Every node is a `redis-server` with its own temp dir, no
 * persistence. Processes started through this module belong to the calling process: a watchdog
 * SIGKILLs them and removes their dirs when it exits, however it exits; still, always `stop()`.
 *
 * In a test that kills nodes, start a topology of the test's own (free ports, ~2-2.5 s):
 *
 *   const cluster = await startCluster();            // 3 masters + 3 replicas
 *   const client = createCluster({ rootNodes: cluster.rootNodes });
 *   const port = await cluster.masterFor('some-key'); await cluster.kill(port); ...
 *   await cluster.restart(port); await cluster.stop();
 *
 *   const sentinel = await startSentinel();
 *   const client = createSentinel({ name: sentinel.name, sentinelRootNodes: sentinel.sentinels });
 *   const old = await sentinel.killPrimary();
 *   const now = await sentinel.waitForPrimary({ not: old, withinMs: 10000 }); ...
 *
 * CLI (CI, benchmarks, by hand), fixed ports, processes outlive the command, JSON on stdout:
 *   node scripts/redis-topology.js start|status|stop cluster|sentinel|all
 */

export interface ClusterOptions {
  /** Replicas per master (3 masters): 1 (default) or 0. */
  replicas?: 0 | 1;
  /** Default: free ports (and their +10000 bus ports) from a random block; 3 * (1 + replicas) of them. */
  ports?: number[];
  /** cluster-node-timeout; default 1000 (a master is failed over ~1.5-2.5 s after it dies). */
  nodeTimeoutMs?: number;
  /** cluster-require-full-coverage; default true (Redis' default: one dead shard stops every shard). */
  requireFullCoverage?: boolean;
  /** How long to wait for cluster_state:ok; default 15000. */
  withinMs?: number;
  /** CLI only: processes outlive the caller (no watchdog). */
  detached?: boolean;
}

export interface RedisCluster {
  kind: 'cluster';
  ports: number[];
  /** 'redis://127.0.0.1:<port>' for every node, masters and replicas. */
  nodes: string[];
  /** Ready for `createCluster({ rootNodes })`. */
  rootNodes: Array<{ url: string }>;
  replicas: number;
  /** Master ports as the cluster reports them now (CLUSTER SLOTS; a dead master stays until failed over). */
  masters(): Promise<number[]>;
  replicasOf(masterPort: number): Promise<number[]>;
  /** The port of the master serving `key`'s slot now. */
  masterFor(key: string): Promise<number>;
  /** Waits until every running node says cluster_state:ok and they all agree on slots, masters and replicas. */
  waitForOk(withinMs?: number): Promise<void>;
  /** SIGKILL; resolves once the process is gone. */
  kill(port: number): Promise<void>;
  /** SIGSTOP / SIGCONT (a hung node: connections stay open, nothing answers). */
  pause(port: number): void;
  resume(port: number): void;
  /** Starts a killed node again (same dir and nodes.conf, data empty), then waits for `waitForOk`. */
  restart(port: number, options?: { withinMs?: number }): Promise<void>;
  /** Kills every node and removes every dir. */
  stop(): Promise<void>;
}

export interface SentinelOptions {
  /** Default 'mymaster'. */
  name?: string;
  /** [primary, replica, sentinel, sentinel, sentinel]; default: 5 free ports from a random block. */
  ports?: number[];
  /** sentinel down-after-milliseconds; default 1000. */
  downAfterMs?: number;
  /** sentinel failover-timeout; default 3000. */
  failoverTimeoutMs?: number;
  /** How long to wait for the sentinels to agree; default 15000. */
  withinMs?: number;
  /** CLI only: processes outlive the caller (no watchdog). */
  detached?: boolean;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisSentinelSetup {
  kind: 'sentinel';
  name: string;
  ports: number[];
  /** [primary at start, replica at start]. */
  dataPorts: number[];
  sentinelPorts: number[];
  /** Ready for `createSentinel({ name, sentinelRootNodes: sentinels })`. */
  sentinels: HostPort[];
  /** The primary the sentinels report now (a dead one until they have failed over). */
  primary(): Promise<HostPort & { url: string }>;
  /** Resolves once sentinels report a primary other than `not` that says ROLE master. */
  waitForPrimary(options?: { not?: number; withinMs?: number }): Promise<HostPort & { url: string }>;
  /** SIGKILLs the current primary; resolves its port. Sentinels fail over in ~2-3 s. */
  killPrimary(): Promise<number>;
  kill(port: number): Promise<void>;
  pause(port: number): void;
  resume(port: number): void;
  /**
   * Starts a killed node again from its config file, as a real restart would: a killed old primary
   * comes back as an empty *master* and accepts writes until the sentinels demote it (~10 s).
   */
  restart(port: number): Promise<void>;
  /** Waits until every running sentinel knows the primary, the replica and the other sentinels. */
  waitForHealthy(withinMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_PORTS: { cluster: number[]; sentinel: number[] };

export function startCluster(options?: ClusterOptions): Promise<RedisCluster>;
export function startSentinel(options?: SentinelOptions): Promise<RedisSentinelSetup>;

/**
 * Handles on topologies already running healthy on `ports` (default: the CLI's), or undefined.
 * They do not own the processes: their kill/pause/restart throw, stop() does nothing.
 */
export function existingCluster(ports?: number[]): Promise<RedisCluster | undefined>;
export function existingSentinel(ports?: number[], name?: string): Promise<RedisSentinelSetup | undefined>;

/**
 * For jest's globalSetup (test/support/global-setup.js), for suites that only read and write:
 *
 *   const { setupTopologies } = require('../../scripts/redis-topology');
 *   globalThis.__kfcTopologies = await setupTopologies();          // in globalSetup
 *   await globalThis.__kfcTopologies?.stop();                      // in globalTeardown (optional)
 *
 * Reuses the CLI's topologies when they answer healthy on the default ports, else starts its own
 * on free ports (gone when jest exits). Sets, for the workers:
 *   KFC_TEST_REDIS_CLUSTER_NODES  'redis://127.0.0.1:7000,redis://127.0.0.1:7001,…'
 *   KFC_TEST_REDIS_SENTINELS      '127.0.0.1:26390,127.0.0.1:26391,127.0.0.1:26392'
 *   KFC_TEST_REDIS_SENTINEL_NAME  'mymaster'
 * Without redis-server they are set to '' after a visible notice (suites skip), or it throws under
 * CI=true. Tests that kill nodes must not use these shared ones: they call startCluster()/startSentinel().
 */
export function setupTopologies(kinds?: Array<'cluster' | 'sentinel'>): Promise<{ stop(): Promise<void> }>;

/** free consecutive ports (and +10000 when `bus`), from a random base in 20000-29000. */
export function freePorts(count: number, options?: { bus?: boolean }): Promise<number[]>;

/** One command over a fresh connection to 127.0.0.1:`port` (replies: string | number | null | array). */
export function command(port: number, args: Array<string | number>, timeoutMs?: number): Promise<unknown>;
