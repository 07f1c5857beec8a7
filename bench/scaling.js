// Hits/second of a page of 10 cached fragments (every one a hit) on Redis with the in-process tier
// (L1), on Redis alone (l1: false; and with lock: false too, to show what the lock costs a hit), beside
// bare Koa sending the same bytes. autocannon over loopback, the variants in alternating rounds so that
// drift on a shared machine hits them alike; ratios are medians of each round's ratio. The servers run
// in a child process, so the load generator does not compete with them for the event loop.
// Build first (npx tsc -p tsconfig.build.json); BENCH_REDIS_URL (default redis://127.0.0.1:6379).
const { fork } = require('node:child_process');
const { median, quick, table, writeResult } = require('./lib');

const REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';
const ROUNDS = quick ? 1 : 6;
const ROUND_SECONDS = quick ? 1 : 2;
const CONNECTIONS = 16;
const FRAGMENTS = 10;

const VARIANTS = {
  'bare Koa': undefined,
  'Redis + L1': {},
  'Redis alone': { l1: false },
  'Redis alone, no lock': { l1: false, lock: false },
};

function serve() {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const Koa = require('koa');
  const { Cache, createEnvironment, views } = require('../dist');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-bench-scaling-'));
  // `bodyRendered()` counts fragment bodies run: it must not move while the cached pages are measured.
  fs.writeFileSync(
    path.join(dir, 'page.njk'),
    `<!doctype html><main>{% for p in products %}{% cache 300, "card", p.id %}{{ bodyRendered() }}<article class="card">
  <h2>{{ p.name | title }}</h2><p class="price">{{ p.price }} EUR</p>
  <ul>{% for f in p.features %}<li>{{ f | capitalize }}</li>{% endfor %}</ul><p>{{ p.description }}</p>
</article>{% endcache %}{% endfor %}</main>`,
  );
  const products = Array.from({ length: FRAGMENTS }, (_, id) => ({
    id,
    name: `product number ${id}`,
    price: 10 + id,
    description: 'A sturdy, well-made thing that does exactly what it says on the tin, and then some more.'.repeat(4),
    features: ['light', 'strong', 'cheap', 'green'],
  }));
  let bodiesRendered = 0;
  const prefix = `kfc-bench-scaling-${process.pid}`;
  const caches = [];

  const cachedPage = (options, name) => {
    const cache = new Cache({ store: REDIS_URL, keyPrefix: `${prefix}-${name.replace(/\W+/g, '-')}`, operationTimeoutMs: 1000, ...options });
    cache.on('error', (err) => console.error(`${name}: ${err.message}`));
    caches.push(cache);
    const env = createEnvironment({ cache, views: dir });
    env.addGlobal('bodyRendered', () => (bodiesRendered++, ''));
    const app = new Koa();
    app.use(views(env));
    app.use((ctx) => ctx.render('page.njk', { products }));
    return app;
  };
  let page;
  const bare = new Koa().use((ctx) => {
    ctx.type = 'html';
    ctx.body = page;
  });

  const listen = (app) => new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
  (async () => {
    const ports = {};
    for (const [name, options] of Object.entries(VARIANTS)) ports[name] = await listen(options ? cachedPage(options, name) : bare);
    process.send({ ports });
  })();
  process.on('message', async (message) => {
    if (message.page) {
      page = Buffer.from(message.page);
      process.send({ pageSet: true });
    }
    if (message.count) process.send({ bodiesRendered });
    if (message.close) {
      for (const cache of caches) {
        await cache.clear();
        await cache.close();
      }
      process.exit(0);
    }
  });
}

function ask(child, message, reply) {
  return new Promise((resolve) => {
    const onMessage = (answer) => {
      if (!(reply in answer)) return;
      child.off('message', onMessage);
      resolve(answer[reply]);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

async function measure(url, seconds) {
  const autocannon = require('autocannon');
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds });
  if (result.errors || result.timeouts || result.non2xx) {
    throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  }
  return { rate: result.requests.average, p99Ms: result.latency.p99 };
}

async function main() {
  const child = fork(__filename, ['serve']);
  try {
    const ports = await new Promise((resolve, reject) => {
      child.once('message', (message) => resolve(message.ports)).once('exit', reject);
    });
    const urls = Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}/`]));
    const cached = Object.keys(VARIANTS).filter((name) => VARIANTS[name]);
    // Renders (and stores) the fragments; each variant's page must then be the bare page, byte for byte.
    const pages = await Promise.all(cached.map(async (name) => (await fetch(urls[name])).text()));
    if (new Set(pages).size !== 1) throw new Error('the cached variants render different pages');
    await ask(child, { page: pages[0] }, 'pageSet');
    if ((await (await fetch(urls['bare Koa'])).text()) !== pages[0]) throw new Error('bare Koa does not send the same bytes');

    if (!quick) for (const url of Object.values(urls)) await measure(url, 1); // warm up
    const bodiesBefore = await ask(child, { count: true }, 'bodiesRendered');
    const samples = Object.fromEntries(Object.keys(urls).map((name) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = Object.keys(urls);
      if (round % 2) order.reverse();
      for (const name of order) samples[name].push(await measure(urls[name], ROUND_SECONDS));
    }
    if ((await ask(child, { count: true }, 'bodiesRendered')) !== bodiesBefore) throw new Error('a fragment missed while measuring');

    const bare = samples['bare Koa'];
    const rows = Object.entries(samples).map(([name, runs]) => ({
      variant: name,
      'req/s': Math.round(median(runs.map((s) => s.rate))),
      '÷ bare Koa': +median(runs.map((s, round) => s.rate / bare[round].rate)).toFixed(3),
      'p99 ms': median(runs.map((s) => s.p99Ms)),
    }));
    console.log(
      `\nA page of ${FRAGMENTS} cached fragments (${pages[0].length} bytes), every fragment a hit; ${CONNECTIONS} connections, ` +
        `${ROUNDS} alternating rounds of ${ROUND_SECONDS} s (medians)\n`,
    );
    console.log(table(rows));
    const file = writeResult('scaling', { redis: REDIS_URL, fragments: FRAGMENTS, pageBytes: pages[0].length, connections: CONNECTIONS, rounds: ROUNDS, roundSeconds: ROUND_SECONDS, rows, samples });
    console.log(`\nwrote ${file}`);
  } finally {
    child.send({ close: true });
  }
}

if (process.argv[2] === 'serve') serve();
else
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
