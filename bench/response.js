// Hits/second of a route under cache.cached() (memory store, every request a hit) against a bare Koa
// route running the same handler (10 KB), measured with autocannon over loopback in alternating
// rounds. The ratio is the median of each round's cached ÷ bare, so drift on a shared machine,
// which moves both of a round's runs alike, cancels out. The server runs in a child process of its own, so the
// load generator does not compete with it for the event loop. Build first: npx tsc -p tsconfig.build.json
const { fork } = require('node:child_process');
const { median, quick, table, writeResult } = require('./lib');

const BODY_BYTES = 10 * 1024;
const ROUNDS = quick ? 2 : 20;
const ROUND_SECONDS = quick ? 1 : 1;
const CONNECTIONS = 16;

function serve() {
  const Koa = require('koa');
  const Router = require('@koa/router');
  const { Cache } = require('../dist');
  const page = Buffer.from(`<!doctype html><main>${'<p>cached page text</p>'.repeat(BODY_BYTES)}`.slice(0, BODY_BYTES - 7) + '</main>');
  const send = (ctx) => {
    ctx.type = 'html';
    ctx.body = page;
  };
  const cache = new Cache();
  const router = new Router();
  router.get('/bare', send);
  router.get('/cached', cache.cached({ timeout: 0 }), send);
  const app = new Koa();
  app.use(router.routes());
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', () => process.send({ cpu: process.cpuUsage() }));
  process.on('disconnect', () => process.exit(0));
}

/** The server's CPU time so far, in microseconds (user + system). */
function serverCpu(child) {
  return new Promise((resolve) => {
    child.once('message', ({ cpu }) => resolve(cpu.user + cpu.system));
    child.send('cpu');
  });
}

/** Requests/second, and the server's CPU microseconds per request (less sensitive to a busy machine). */
async function measure(child, url, seconds) {
  const autocannon = require('autocannon');
  const cpuBefore = await serverCpu(child);
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds });
  const cpu = (await serverCpu(child)) - cpuBefore;
  if (result.errors || result.timeouts || result.non2xx) {
    throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  }
  return { rate: result.requests.average, cpuPerRequest: cpu / result.requests.total };
}

async function main() {
  const child = fork(__filename, ['serve']);
  try {
    const { port } = await new Promise((resolve, reject) => child.once('message', resolve).once('exit', reject));
    const base = `http://127.0.0.1:${port}`;
    const [bare, cached] = await Promise.all([fetch(`${base}/bare`), fetch(`${base}/cached`)]);
    const [bareBytes, cachedBytes] = [Buffer.from(await bare.arrayBuffer()), Buffer.from(await cached.arrayBuffer())];
    if (!bareBytes.equals(cachedBytes) || bareBytes.length !== BODY_BYTES) throw new Error('the two routes do not send the same 10 KB');
    if ((await fetch(`${base}/cached`)).headers.get('x-cache') !== 'HIT') throw new Error('the cached route does not hit');

    for (const path of ['/bare', '/cached']) await measure(child, base + path, 1); // warm up
    const samples = { bare: [], cached: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? ['cached', 'bare'] : ['bare', 'cached'];
      for (const name of order) samples[name].push(await measure(child, `${base}/${name}`, ROUND_SECONDS));
    }
    const perRound = (pick) => samples.cached.map((cached, round) => pick(cached, samples.bare[round]));
    const row = {
      'bare Koa req/s': Math.round(median(samples.bare.map((s) => s.rate))),
      'cached hit req/s': Math.round(median(samples.cached.map((s) => s.rate))),
      'cached ÷ bare (req/s)': +median(perRound((cached, bare) => cached.rate / bare.rate)).toFixed(3),
      'bare µs CPU/req': +median(samples.bare.map((s) => s.cpuPerRequest)).toFixed(1),
      'cached µs CPU/req': +median(samples.cached.map((s) => s.cpuPerRequest)).toFixed(1),
      'bare ÷ cached (CPU)': +median(perRound((cached, bare) => bare.cpuPerRequest / cached.cpuPerRequest)).toFixed(3),
    };
    console.log(`10 KB response, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${ROUND_SECONDS} s each (medians)\n`);
    console.log(table([row]));
    const file = writeResult('response', { bodyBytes: BODY_BYTES, connections: CONNECTIONS, rounds: ROUNDS, roundSeconds: ROUND_SECONDS, samples, ...row });
    console.log(`\nwrote ${file}`);
  } finally {
    child.disconnect();
  }
}

if (process.argv[2] === 'serve') serve();
else
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
