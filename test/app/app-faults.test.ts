import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Cache, makeTemplateFragmentKey } from '../../src';
import type { Product } from '../../src/app/catalog';
import { appPaths } from '../../src/app/paths';
import { freePort, startOwnRedis, type OwnRedis } from '../support/redis-server';
import { canStartRedis, sleep } from '../support/stores';

/*
 * The demo app as users run it (`node demo-dist/app/server.js`, a process of its own) on a Redis the test
 * starts, pauses, kills and restarts. The child has Node's default handling: an unhandled rejection
 * or an uncaught exception would kill it, which `expectHealthy` checks. (Inside jest, a listener on
 * `process` would never hear one: jest takes those events over.)
 */

const SERVER = path.join(appPaths.root, 'demo-dist', 'app', 'server.js');
const seed = JSON.parse(readFileSync(appPaths.seedFile, 'utf8')) as Product[];
/** What the server's Cache.fromEnv uses: every store call gives up after this long. */
const OPERATION_TIMEOUT_MS = 50;
/**
 * The slowest a request may be while Redis does not answer. The worst request renders a missing
 * fragment: 3 store calls one after another (lock, read, write), each cut off at the operation
 * timeout, plus rendering; 10 times that leaves room for a busy machine. Each outage lasts longer
 * than this, so a request that waited for Redis would exceed it.
 */
const MAX_LATENCY_MS = 10 * 3 * OPERATION_TIMEOUT_MS;
const OUTAGE_MS = 2000;

interface Demo {
  url: string;
  dataFile: string;
  output(): string;
  alive(): boolean;
  /** SIGTERM, then resolves the exit code. */
  stop(): Promise<number | null>;
}

const started: { demo: Demo; kill: () => void; dir: string }[] = [];

async function startDemo(redis: OwnRedis): Promise<Demo> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kfc-faults-'));
  const dataFile = path.join(dir, 'catalog.json');
  copyFileSync(appPaths.seedFile, dataFile);
  const port = await freePort();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(CACHE_|WORKERS$)/.test(name)));
  const child = spawn(process.execPath, [SERVER], {
    env: { ...inherited, PORT: String(port), CACHE_URL: redis.url, DATA_FILE: dataFile, LATENCY_MS: '5' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const demo: Demo = {
    url: `http://127.0.0.1:${port}`,
    dataFile,
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (demo.alive()) child.kill('SIGTERM');
      return exited;
    },
  };
  started.push({ demo, kill: () => child.kill('SIGKILL'), dir });
  for (let i = 0; i < 200 && !(await send(demo, 'GET', '/').catch(() => undefined)); i++) await sleep(50);
  if (!demo.alive()) throw new Error(`the demo exited:\n${output}`);
  return demo;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 });

interface Sent {
  status: number;
  text: string;
  cookies: string[];
  /** The response cache's X-Cache header, if any: says where a wrong page came from. */
  cacheStatus?: string;
}

function send(demo: Demo, method: 'GET' | 'POST', urlPath: string, form?: EditForm & { fields: Record<string, string> }): Promise<Sent> {
  const body = form && new URLSearchParams(form.fields).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(demo.url + urlPath, { method, agent: keepAlive }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, text, cookies: res.headers['set-cookie'] ?? [], cacheStatus: res.headers['x-cache'] as string | undefined }),
      );
    });
    req.on('error', reject);
    if (form) req.setHeader('Cookie', form.cookie).setHeader('Content-Type', 'application/x-www-form-urlencoded');
    req.end(body);
  });
}

/** What a browser sends back with the edit form: its hidden fields and the cookie it came with (the CSRF token). */
interface EditForm {
  hidden: Record<string, string>;
  cookie: string;
}

function editFormOf(page: Sent): EditForm {
  const hidden = [...page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(([, field, value]) => [field, value]);
  return { hidden: Object.fromEntries(hidden), cookie: page.cookies.map((cookie) => cookie.split(';')[0]).join('; ') };
}

function saveName(demo: Demo, id: number, name: string, form: EditForm): Promise<Sent> {
  const { price, category, description } = seed.find((p) => p.id === id)!;
  return send(demo, 'POST', `/products/${id}/edit`, { ...form, fields: { ...form.hidden, name, price: String(price), category, description } });
}

async function rename(demo: Demo, id: number, name: string): Promise<Sent> {
  return saveName(demo, id, name, editFormOf(await send(demo, 'GET', `/products/${id}/edit`)));
}

const nameOnPage = (html: string) => /<h1>([^<]*)<\/h1>/.exec(html)?.[1];
const nameOnCard = (html: string, id: number) =>
  new RegExp(`data-product-id="${id}">[\\s\\S]*?<h2><a [^>]*>([^<]*)</a></h2>`).exec(html)?.[1];

interface Sample {
  request: string;
  status: number;
  ms: number;
  /** What the page showed right after an edit, when it was not the edit. */
  stale?: string;
}

/**
 * 8 request loops against the demo until `during()` is done. Loop 0 edits product 1 and reads its
 * page back (the edit must show, outage or not; and the edit makes the page a miss, so the load
 * keeps reaching Redis even while the rest is answered from L1); the others read `/` and product pages.
 */
async function underLoad(demo: Demo, during: () => Promise<void>): Promise<Sample[]> {
  const samples: Sample[] = [];
  let running = true;
  const timed = async (request: string, run: () => Promise<Sent>) => {
    const start = performance.now();
    const sent = await run();
    samples.push({ request, status: sent.status, ms: performance.now() - start });
    return sent;
  };
  const editor = async () => {
    for (let n = 0; running; n++) {
      const form = editFormOf(await timed('GET /products/1/edit', () => send(demo, 'GET', '/products/1/edit')));
      await timed('POST /products/1/edit', () => saveName(demo, 1, `Edited ${n}`, form));
      const page = await timed('GET /products/1', () => send(demo, 'GET', '/products/1'));
      const shown = nameOnPage(page.text);
      if (shown !== `Edited ${n}`) samples[samples.length - 1].stale = `showed ${shown} after saving Edited ${n} (X-Cache: ${page.cacheStatus})`;
    }
  };
  const reader = async (loop: number) => {
    for (let n = 0; running; n++) {
      const urlPath = n % 2 ? '/' : `/products/${((loop + n) % seed.length) + 1}`;
      await timed(`GET ${urlPath}`, () => send(demo, 'GET', urlPath));
    }
  };
  const loops = [editor(), ...[1, 2, 3, 4, 5, 6, 7].map(reader)];
  try {
    await during();
  } finally {
    running = false;
    await Promise.all(loops);
  }
  return samples;
}

function p99(samples: Sample[]): number {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * 0.99)];
}

function expectServedThrough(samples: Sample[]): void {
  const expected = (s: Sample) => (s.request.startsWith('POST') ? 303 : 200);
  expect(samples.length).toBeGreaterThan(50);
  expect(samples.filter((s) => s.status !== expected(s))).toEqual([]);
  expect(samples.filter((s) => s.stale)).toEqual([]);
  expect(samples.filter((s) => s.ms >= MAX_LATENCY_MS)).toEqual([]);
  console.log(`${samples.length} requests, p99 ${p99(samples).toFixed(0)} ms, max ${Math.max(...samples.map((s) => s.ms)).toFixed(0)} ms`);
}

/** Still running, never crashed on the way, and told the operator about the failures. */
function expectHealthy(demo: Demo): void {
  expect(demo.alive()).toBe(true);
  expect(demo.output()).not.toMatch(/unhandled|uncaught|node:internal/i);
  expect(demo.output()).toMatch(/\[koa-fragment-cache\] cache \w+.* failed/);
}

/**
 * Polls (up to `withinMs`) until a card the demo renders now is stored in Redis again, then checks
 * it is served from the cache: a change made behind the app's back does not show.
 */
async function expectCachingResumes(demo: Demo, redis: OwnRedis, withinMs: number): Promise<void> {
  const observer = new Cache({ store: redis.url, l1: false, lock: false, operationTimeoutMs: 1000 });
  observer.on('error', () => undefined); // Redis may still be coming back
  const cardKey = makeTemplateFragmentKey('product', [2]);
  const deadline = Date.now() + withinMs;
  let name: string;
  try {
    for (let n = 0; ; n++) {
      name = `Checked ${n}`;
      expect((await rename(demo, 2, name)).status).toBe(303); // the edit invalidates the card; `/` renders it
      expect(nameOnCard((await send(demo, 'GET', '/')).text, 2)).toBe(name);
      if ((await observer.get<string>(cardKey))?.includes(`>${name}</a>`)) break;
      if (Date.now() > deadline) throw new Error(`nothing was cached within ${withinMs} ms:\n${demo.output()}`);
      await sleep(100);
    }
  } finally {
    await observer.close();
  }
  // Invalidations that failed during the outage are retried in the background; until they land the
  // app treats their entries as misses. Let them land, then cache the card once more.
  await sleep(1000);
  name = 'Settled';
  expect((await rename(demo, 2, name)).status).toBe(303);
  expect(nameOnCard((await send(demo, 'GET', '/')).text, 2)).toBe(name);
  const products = JSON.parse(readFileSync(demo.dataFile, 'utf8')) as Product[];
  writeFileSync(demo.dataFile, JSON.stringify(products.map((p) => (p.id === 2 ? { ...p, name: 'Changed Behind Its Back' } : p))));
  expect(nameOnCard((await send(demo, 'GET', '/')).text, 2)).toBe(name);
}

(canStartRedis ? describe : describe.skip)('the demo app on a Redis that fails', () => {
  let redis: OwnRedis;

  beforeEach(async () => {
    redis = await startOwnRedis();
  });

  afterEach(async () => {
    redis.resume();
    for (const { demo, kill, dir } of started.splice(0)) {
      if (demo.alive()) kill();
      rmSync(dir, { recursive: true, force: true });
    }
    await redis.stop();
  });

  afterAll(() => keepAlive.destroy());

  it('answers every request, quickly, while Redis is paused (SIGSTOP), and caches again after SIGCONT', async () => {
    const demo = await startDemo(redis);
    const samples = await underLoad(demo, async () => {
      await sleep(300);
      redis.pause();
      await sleep(OUTAGE_MS);
      redis.resume();
      await sleep(300);
    });
    expectServedThrough(samples);
    await expectCachingResumes(demo, redis, 3000);
    expectHealthy(demo);
    expect(await demo.stop()).toBe(0);
  });

  it('answers every request while Redis is killed, and caches again once it is restarted', async () => {
    const demo = await startDemo(redis);
    const samples = await underLoad(demo, async () => {
      await sleep(300);
      await redis.stop();
      await sleep(OUTAGE_MS);
      await redis.start();
      await sleep(300);
    });
    expectServedThrough(samples);
    await expectCachingResumes(demo, redis, 5000);
    expectHealthy(demo);
    expect(await demo.stop()).toBe(0);
  });

  it('starts and answers with Redis down, and begins caching once Redis is up', async () => {
    await redis.stop();
    const demo = await startDemo(redis);
    expectServedThrough(
      await underLoad(demo, async () => {
        await sleep(1000);
      }),
    );
    await redis.start();
    await expectCachingResumes(demo, redis, 5000);
    expectHealthy(demo);
    expect(await demo.stop()).toBe(0);
  });
});

(canStartRedis ? describe : describe.skip)('write-behind while Redis is away', () => {
  it.each(['paused', 'killed'] as const)('loses no entry pushed while Redis is %s', async (fault) => {
    const redis = await startOwnRedis();
    const cache = new Cache({ store: redis.url, operationTimeoutMs: 100 });
    const errors: Error[] = [];
    cache.on('error', (err: Error) => errors.push(err));
    const keys = Array.from({ length: 50 }, (_, i) => `order:${i}`);
    try {
      await cache.has('connected'); // a new cache's first calls wait for its connection: this is about the ones after
      const writes = cache.writeBehind({ interval: 0.05 }).start();
      if (fault === 'paused') redis.pause();
      else await redis.stop();
      keys.forEach((key, i) => writes.push(key, { i }));
      await sleep(500); // several flushes fail meanwhile
      expect(writes.size).toBe(keys.length);
      expect(errors.length).toBeGreaterThan(0);

      if (fault === 'paused') redis.resume();
      else await redis.start();
      expect(await writes.stop()).toBe(true);
      expect(writes.size).toBe(0);

      const observer = new Cache({ store: redis.url, l1: false, operationTimeoutMs: 1000 });
      expect(await observer.getMany(keys)).toEqual(keys.map((_, i) => ({ i })));
      await observer.close();
    } finally {
      redis.resume();
      await cache.close();
      await redis.stop();
    }
  });
});
