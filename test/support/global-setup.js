// Finds out once whether a Redis answers, for every test file: Redis suites skip with a visible
// notice when none does, except under CI=true, where a missing Redis fails the run.
const net = require('node:net');

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
};
