// Redis Cluster beside one Redis server: response hits and misses per second with the in-process
// tier (L1) in front of each, in the same run. The cluster (3 masters, no replicas, on free ports)
// is started for the scenario by scripts/redis-topology.js and stopped after it.
'use strict';

const { REDIS_URL } = require('../lib/common');
const { cachedApp } = require('../lib/apps');

/** Hits live an hour (past the whole scenario); misses, each a new URL, a minute. */
function cachedOn(store, timeout) {
  const { Cache } = require('../../dist');
  return cachedApp(new Cache({ store, keyPrefix: `kfc-bench-cluster-${process.pid}`, operationTimeoutMs: 1000 }), { timeout });
}

const clusterStore = () => ({ cluster: process.env.BENCH_CLUSTER_NODES.split(',') });
const rate = (name) => (result) => result.subjects[name].samples.map((sample) => sample.rate);

module.exports = {
  title: 'Redis Cluster',
  order: 45,
  kind: 'http',
  about: '`GET /page`, 10 KB of HTML, L1 on; a 3-master Redis Cluster beside one Redis server, both on this machine.',
  sameBody: true,
  async before() {
    const { startCluster } = require('../../scripts/redis-topology');
    const cluster = await startCluster({ replicas: 0 });
    return { env: { BENCH_CLUSTER_NODES: cluster.nodes.join(',') }, close: () => cluster.stop() };
  },
  subjects: {
    'server hits': { label: 'hits, one Redis server + L1', expect: 'hits', app: () => cachedOn(REDIS_URL, 3600) },
    'cluster hits': { label: 'hits, Redis Cluster + L1', expect: 'hits', app: () => cachedOn(clusterStore(), 3600) },
    'server misses': { label: 'misses (new URL each request), one Redis server + L1', newUrl: true, expect: 'misses', app: () => cachedOn(REDIS_URL, 60) },
    'cluster misses': { label: 'misses (new URL each request), Redis Cluster + L1', newUrl: true, expect: 'misses', app: () => cachedOn(clusterStore(), 60) },
  },
  rows: [
    { measure: 'hits per second, Redis Cluster + L1', value: rate('cluster hits'), unit: ' req/s' },
    { measure: 'hits per second, one Redis server + L1', value: rate('server hits'), unit: ' req/s' },
    { measure: 'misses per second, Redis Cluster + L1', value: rate('cluster misses'), unit: ' req/s' },
    { measure: 'misses per second, one Redis server + L1', value: rate('server misses'), unit: ' req/s' },
    { measure: 'cluster hits vs one-server hits', subject: 'cluster hits', baseline: 'server hits' },
    { measure: 'cluster misses vs one-server misses', subject: 'cluster misses', baseline: 'server misses' },
  ],
};
