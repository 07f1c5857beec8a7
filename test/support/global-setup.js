// Finds out once whether a Redis answers, for every test file: Redis suites skip with a visible
// notice when none does, except under CI=true, where a missing Redis fails the run. Also makes a
// Redis Cluster and a Sentinel setup available (scripts/redis-topology.js: the CLI's when they
// answer on the default ports, as .ci/run starts them, else its own on free ports, stopped when
// jest exits) through KFC_TEST_REDIS_CLUSTER_NODES, KFC_TEST_REDIS_SENTINELS and
// KFC_TEST_REDIS_SENTINEL_NAME. KFC_TEST_TOPOLOGIES=0 skips them (and their suites).
const net = require('node:net');
const { setupTopologies } = require('../../scripts/redis-topology');

const url = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

function ping() {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port || 6379), hostname);
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

module.exports = async function globalSetup() {
  // Multi-process tests run the compiled library in child processes.
  require('node:child_process').execFileSync(process.execPath, [require('node:path').join(__dirname, '../../scripts/build-if-needed.js')], { stdio: 'inherit' });
  const available = await ping();
  if (!available && process.env.CI === 'true') {
    throw new Error(`CI=true but no Redis answers at ${url}: Redis tests must run in CI`);
  }
  if (!available) {
    process.stderr.write(`\n*** No Redis answers at ${url}: Redis test suites are SKIPPED ***\n\n`);
  }
  process.env.KFC_TEST_REDIS_URL = available ? url : '';
  if (process.env.KFC_TEST_TOPOLOGIES === '0') {
    process.env.KFC_TEST_REDIS_CLUSTER_NODES = '';
    process.env.KFC_TEST_REDIS_SENTINELS = '';
    process.stderr.write('\n*** KFC_TEST_TOPOLOGIES=0: Redis Cluster and Sentinel suites are SKIPPED ***\n\n');
    return;
  }
  globalThis.__kfcTopologies = await setupTopologies();
};
