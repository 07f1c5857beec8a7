// The topologies of the chaos suite, each started on free ports of its own (never the shared ones
// the tests use), and the faults that apply to each. A topology: `start()` (resolves a handle `t`
// with `stop()`), `store(t)` (the cache's store option), `faults`. A fault's
// `apply(t, faulted, keyPrefix)` calls `faulted()` at the instant it breaks something and resolves
// once the topology has recovered: `{ recoveredAt }` (ms since the epoch: the replica promoted, the
// sentinels switched, the server back), which bounds the failed-write window; `unaffected(key)`,
// when given, names keys whose shard never failed (their window is bounded by 0.5 s alone).
// `prepare(t, keyPrefix)`, when given, runs under load before the fault and leaves the topology
// healthy. `ci`: in the CI subset.
'use strict';

const path = require('node:path');
const { command, startCluster, startSentinel } = require('../redis-topology');
const { startServer } = require('./server');

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ask = (port, args) => command(port, args, 300).catch(() => undefined);

/** Polls `check` every 25 ms (the resolution of every recovery time measured here). */
async function until(check, what, withinMs = 20000) {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`chaos: ${what} not within ${withinMs} ms`);
    await sleep(25);
  }
  return now();
}

const role = async (port) => (await ask(port, ['ROLE']))?.[0];
const inSync = async (port) => (await role(port)) === 'slave' && /master_link_status:up/.test(await ask(port, ['INFO', 'replication']));

/**
 * Data nodes append every write to a file (appendfsync no: written before the reply, which is all
 * a SIGKILL needs), in the config file too: a restarted node comes back with what it acknowledged.
 */
async function persist(ports) {
  await Promise.all(
    ports.map(async (port) => {
      await command(port, ['CONFIG', 'SET', 'appendonly', 'yes']);
      await command(port, ['CONFIG', 'REWRITE']);
      await until(async () => /aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0/.test(await ask(port, ['INFO', 'persistence'])), 'AOF written');
    }),
  );
}

/** No fault: every invariant must hold on a calm topology too (what a busy machine alone costs). */
const baseline = {
  name: 'none (baseline)',
  async apply(_t, faulted) {
    faulted();
    return { recoveredAt: now() };
  },
};

// ---------------------------------------------------------------------------------------------

const server = {
  name: 'one server',
  start: startServer,
  store: (t) => t.url,
  faults: [
    baseline,
    {
      name: 'SIGKILL, restarted after 1 s',
      ci: true,
      async apply(t, faulted) {
        faulted();
        await t.kill();
        await sleep(1000);
        await t.start();
        return { recoveredAt: now() };
      },
    },
    {
      name: 'hung 2 s (SIGSTOP, SIGCONT)',
      ci: true,
      async apply(t, faulted) {
        faulted();
        t.pause();
        await sleep(2000);
        t.resume();
        return { recoveredAt: now() };
      },
    },
  ],
};

// ---------------------------------------------------------------------------------------------
// A primary and its replica promoted by sentinels, served from either the primary's URL (the cache
// follows a promoted replica, and a demoted server to its primary) or the sentinels.

async function startPrimaryWithReplica() {
  const t = await startSentinel();
  await persist(t.dataPorts);
  t.first = await t.primary();
  return t;
}

/** The old primary and the replica now, as a fault finds them. */
async function pair(t) {
  const old = (await t.primary()).port;
  return { old, replica: t.dataPorts.find((port) => port !== old) };
}

function replicatedFaults(viaSentinels) {
  /** Promoted: by ROLE for a cache on the URL (it asks the replicas), by the sentinels for one on them. */
  const promoted = (t, port) =>
    until(async () => (await role(port)) === 'master' && (!viaSentinels || (await t.primary().catch(() => ({}))).port === port), `${port} promoted`);
  return [
    {
      name: 'primary SIGKILL',
      ci: viaSentinels,
      async apply(t, faulted) {
        const { old, replica } = await pair(t);
        faulted();
        await t.kill(old);
        return { recoveredAt: await promoted(t, replica) };
      },
    },
    {
      name: 'primary hung (SIGSTOP until promoted + 1 s)',
      async apply(t, faulted) {
        const { old, replica } = await pair(t);
        faulted();
        t.pause(old);
        const recoveredAt = await promoted(t, replica);
        await sleep(1000);
        t.resume(old);
        await until(() => inSync(old), `${old} demoted`);
        return { recoveredAt };
      },
    },
    {
      name: 'SENTINEL FAILOVER',
      // The replica is promoted before the old primary is demoted: what the old primary takes
      // meanwhile is lost, so nothing it takes then may be reported done (writes confirmed by a
      // replica, src/store/redis/replication.ts). On the URL: 11 s until the demotion, out of CI.
      ci: viaSentinels,
      async apply(t, faulted) {
        const { old, replica } = await pair(t);
        faulted();
        await command(t.sentinelPorts[0], ['SENTINEL', 'FAILOVER', t.name]);
        const promotedAt = await promoted(t, replica);
        // On the URL, the old primary's READONLY once demoted is what sends the cache on.
        const demotedAt = await until(async () => (await role(old)) === 'slave', `${old} demoted`);
        await until(() => inSync(old), `${old} in sync`);
        return { recoveredAt: viaSentinels ? promotedAt : demotedAt };
      },
    },
    {
      name: 'old primary back (as a replica)',
      async prepare(t) {
        const { old, replica } = await pair(t);
        await t.kill(old);
        await promoted(t, replica);
        t.returning = old; // for apply
        await sleep(1000);
      },
      async apply(t, faulted) {
        faulted();
        await t.restart(t.returning);
        return { recoveredAt: await until(() => inSync(t.returning), `${t.returning} demoted`) };
      },
    },
  ];
}

const serverWithReplica = {
  name: 'one server (URL) + replica',
  start: startPrimaryWithReplica,
  store: (t) => t.first.url,
  faults: replicatedFaults(false),
};

const sentinel = {
  name: 'Sentinel',
  start: startPrimaryWithReplica,
  store: (t) => ({ sentinel: { name: t.name, nodes: t.sentinels.map(({ host, port }) => `${host}:${port}`) } }),
  faults: [
    baseline,
    ...replicatedFaults(true),
    {
      name: 'every sentinel down 3 s',
      ci: true,
      async apply(t, faulted) {
        faulted();
        // The data never stopped: no failed write is excused.
        const recoveredAt = now();
        await Promise.all(t.sentinelPorts.map((port) => t.kill(port)));
        await sleep(3000);
        await Promise.all(t.sentinelPorts.map((port) => t.restart(port)));
        await t.waitForHealthy(15000);
        return { recoveredAt };
      },
    },
  ],
};

// ---------------------------------------------------------------------------------------------
// Redis Cluster: the victim is the master carrying the invalidation channel (data and L1 bus at once).

async function startReplicatedCluster(options) {
  const t = await startCluster(options);
  await persist(t.ports);
  return t;
}

async function victimOf(t, keyPrefix) {
  const victim = await t.masterFor(`${keyPrefix}::invalidations`);
  return { victim, replica: (await t.replicasOf(victim))[0] };
}

const clusterOk = async (ports) => (await Promise.all(ports.map((port) => ask(port, ['CLUSTER', 'INFO'])))).every((info) => /cluster_state:ok/.test(info));

/** `replica` is master and every node but `except` says cluster_state:ok. */
function promotedInCluster(t, replica, except) {
  const others = t.ports.filter((port) => port !== except);
  return until(async () => (await role(replica)) === 'master' && (await clusterOk(others)), `${replica} promoted`);
}

const cluster = {
  name: 'Cluster',
  start: () => startReplicatedCluster(),
  store: (t) => ({ cluster: t.nodes }),
  faults: [
    baseline,
    {
      name: 'master SIGKILL',
      ci: true,
      async apply(t, faulted, keyPrefix) {
        const { victim, replica } = await victimOf(t, keyPrefix);
        faulted();
        await t.kill(victim);
        return { recoveredAt: await promotedInCluster(t, replica, victim) };
      },
    },
    {
      name: 'master hung (SIGSTOP until promoted + 1 s)',
      async apply(t, faulted, keyPrefix) {
        const { victim, replica } = await victimOf(t, keyPrefix);
        faulted();
        t.pause(victim);
        const recoveredAt = await promotedInCluster(t, replica, victim);
        await sleep(1000);
        t.resume(victim);
        await t.waitForOk(15000);
        return { recoveredAt };
      },
    },
    {
      name: 'CLUSTER FAILOVER',
      ci: true,
      async apply(t, faulted, keyPrefix) {
        const { victim, replica } = await victimOf(t, keyPrefix);
        faulted();
        await command(replica, ['CLUSTER', 'FAILOVER']);
        const recoveredAt = await promotedInCluster(t, replica);
        await until(() => inSync(victim), `${victim} in sync`);
        return { recoveredAt };
      },
    },
    {
      name: 'whole cluster restarted (down 1 s)',
      ci: true,
      async apply(t, faulted) {
        faulted();
        await Promise.all(t.ports.map((port) => t.kill(port)));
        await sleep(1000);
        await Promise.all(t.ports.map((port) => t.restart(port, { withinMs: 20000 })));
        return { recoveredAt: now() };
      },
    },
    {
      name: 'old master back (as a replica)',
      async prepare(t, keyPrefix) {
        const { victim, replica } = await victimOf(t, keyPrefix);
        await t.kill(victim);
        await promotedInCluster(t, replica, victim);
        t.returning = victim;
        await sleep(1000);
      },
      async apply(t, faulted) {
        faulted();
        await t.restart(t.returning, { withinMs: 20000 });
        return { recoveredAt: now() };
      },
    },
  ],
};

const clusterWithoutReplicas = {
  name: 'Cluster, no replicas, full coverage not required',
  start: () => startReplicatedCluster({ replicas: 0, requireFullCoverage: false }),
  store: (t) => ({ cluster: t.nodes }),
  faults: [
    {
      name: 'a master down 2 s (its shard has no replica)',
      ci: true,
      async apply(t, faulted, keyPrefix) {
        const { keySlot } = require(path.join(process.env.KFC_CHAOS_LIBRARY, 'store/redis/slot')); // the cache's own routing
        const { victim } = await victimOf(t, keyPrefix);
        const ranges = (await command(victim, ['CLUSTER', 'SLOTS'])).filter((range) => range[2][1] === victim);
        const onVictim = (slot) => ranges.some(([from, to]) => slot >= from && slot <= to);
        faulted();
        await t.kill(victim);
        await sleep(2000);
        await t.restart(victim, { withinMs: 20000 });
        return { recoveredAt: now(), unaffected: (key) => !onVictim(keySlot(`${keyPrefix}::${key}`)) };
      },
    },
  ],
};

module.exports = { topologies: [server, serverWithReplica, cluster, clusterWithoutReplicas, sentinel] };
