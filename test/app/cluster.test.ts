import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Cache } from '../../src';
import type { Product } from '../../src/app/catalog';
import { appPaths } from '../../src/app/paths';
import { freePort } from '../support/redis-server';
import { redisUrl, sleep, uniquePrefix } from '../support/stores';

// `npm start` as users run it: the compiled server (jest's global setup builds demo-dist/).
const SERVER = path.join(appPaths.root, 'demo-dist', 'app', 'server.js');
const seed = JSON.parse(readFileSync(appPaths.seedFile, 'utf8')) as Product[];
const product = seed[0];

interface Response {
  status: number;
  worker: number;
  text: string;
  cookies: string[];
}

interface RequestOptions {
  method?: string;
  form?: Record<string, string>;
  cookie?: string;
}

/** One request on a connection of its own: the primary hands each connection to the next worker. */
function request(url: string, { method = 'GET', form, cookie }: RequestOptions = {}): Promise<Response> {
  const body = form && new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, worker: Number(res.headers['x-worker']), text, cookies: res.headers['set-cookie'] ?? [] }),
      );
    });
    req.on('error', reject);
    if (cookie) req.setHeader('Cookie', cookie);
    if (body) req.setHeader('Content-Type', 'application/x-www-form-urlencoded');
    req.end(body);
  });
}

interface Demo {
  url: string;
  process: ChildProcess;
  output(): string;
  /** Resolves the exit code. */
  exited: Promise<number | null>;
  /** SIGTERM, then resolves the exit code. */
  stop(): Promise<number | null>;
}

const running: Demo[] = [];
const dataDirs: string[] = [];

/** `node demo-dist/app/server.js` with `env`, on a port of its own and a copy of the catalog; resolves once it answers. */
async function startDemo(env: Record<string, string>, port?: number): Promise<Demo> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kfc-cluster-'));
  dataDirs.push(dir);
  const dataFile = path.join(dir, 'catalog.json');
  copyFileSync(appPaths.seedFile, dataFile);
  port ??= await freePort();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(CACHE_|WORKERS$)/.test(name)));
  const child = spawn(process.execPath, [SERVER], {
    env: { ...inherited, PORT: String(port), DATA_FILE: dataFile, LATENCY_MS: '5', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const demo: Demo = {
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  running.push(demo);
  return demo;
}

/** Resolves once the demo answers `/` with a 200; rejects if it exits or takes over 10 s. */
async function answering(demo: Demo): Promise<Demo> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (demo.process.exitCode !== null) throw new Error(`the demo exited with ${demo.process.exitCode}:\n${demo.output()}`);
    const res = await request(`${demo.url}/`).catch(() => undefined);
    if (res?.status === 200) return demo;
    await sleep(50);
  }
  throw new Error(`the demo did not answer within 10 s:\n${demo.output()}`);
}

/** GETs `path` until `workers` different workers have answered it; resolves every response. */
async function fromEveryWorker(demo: Demo, path: string, workers = 2): Promise<Response[]> {
  const responses: Response[] = [];
  // A worker that is still starting (slow on a loaded machine) gets no connection yet: ask again for up to 5 s.
  for (let i = 0; i < 100 && new Set(responses.map((r) => r.worker)).size < workers; i++) {
    if (i >= 10) await sleep(50);
    responses.push(await request(demo.url + path));
  }
  expect(new Set(responses.map((r) => r.worker)).size).toBe(workers);
  expect(responses.every((r) => r.status === 200)).toBe(true);
  return responses;
}

function cardOf(html: string, id: number): string {
  const card = new RegExp(`<article class="card[^"]*" data-product-id="${id}">[\\s\\S]*?</article>`).exec(html);
  if (!card) throw new Error(`no card for product ${id} in:\n${html}`);
  return card[0];
}

/** The product's name on its card on `/`. */
function nameOnCard(res: Response): string | undefined {
  return /<h2><a [^>]*>([^<]*)<\/a><\/h2>/.exec(cardOf(res.text, product.id))?.[1];
}

/** The product's name on `/products/:id`. */
function nameOnPage(res: Response): string | undefined {
  return /<h1>([^<]*)<\/h1>/.exec(res.text)?.[1];
}

/**
 * Saves a new name as a browser does: opens the edit form (on whichever worker), then posts it back
 * with its hidden fields and the cookie it came with (the CSRF token), perhaps to another worker.
 */
async function rename(demo: Demo, name: string): Promise<Response> {
  const form = await request(`${demo.url}/products/${product.id}/edit`);
  const hidden = [...form.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(([, field, value]) => [field, value]);
  return request(`${demo.url}/products/${product.id}/edit`, {
    method: 'POST',
    cookie: form.cookies.map((cookie) => cookie.split(';')[0]).join('; '),
    form: { ...Object.fromEntries(hidden), name, price: String(product.price), category: product.category, description: product.description },
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  for (const demo of running.splice(0)) {
    if (demo.process.exitCode === null) demo.process.kill('SIGKILL'); // its workers exit with it
  }
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

(redisUrl ? describe : describe.skip)('WORKERS=2 with CACHE_URL=redis://…', () => {
  const prefix = uniquePrefix('cluster');

  afterAll(async () => {
    const cache = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    await cache.clear();
    await cache.close();
  });

  it('shows an edit saved through one worker on every worker at once, and shuts down cleanly on SIGTERM', async () => {
    const demo = await answering(await startDemo({ WORKERS: '2', CACHE_URL: redisUrl!, CACHE_KEY_PREFIX: prefix }));
    expect(demo.output()).not.toMatch(/WARNING/);
    await fromEveryWorker(demo, '/'); // both workers now hold the card in their L1
    const before = await fromEveryWorker(demo, '/');
    // One shared cache: every worker serves the very same rendering of the card.
    expect(new Set(before.map((res) => cardOf(res.text, product.id))).size).toBe(1);
    expect(before.map(nameOnCard)).toEqual(before.map(() => product.name));

    const newName = `Renamed ${Date.now()}`;
    expect((await rename(demo, newName)).status).toBe(303);
    // Straight away, with no waiting: every response from every worker shows the edit.
    const cards = await fromEveryWorker(demo, '/');
    const pages = await fromEveryWorker(demo, `/products/${product.id}`);
    expect(cards.map(nameOnCard)).toEqual(cards.map(() => newName));
    expect(pages.map(nameOnPage)).toEqual(pages.map(() => newName));

    const workers = [...new Set(cards.map((res) => res.worker))];
    expect(await demo.stop()).toBe(0);
    expect(demo.output()).toMatch(/SIGTERM: stopping 2 workers/);
    expect(workers.filter(isAlive)).toEqual([]);
  });

  it('replaces a worker that dies', async () => {
    const demo = await answering(await startDemo({ WORKERS: '2', CACHE_URL: redisUrl!, CACHE_KEY_PREFIX: prefix }));
    const [killed, survivor] = [...new Set((await fromEveryWorker(demo, '/')).map((res) => res.worker))];
    process.kill(killed, 'SIGKILL');
    await sleep(100); // the primary has seen it go
    // The survivor answers alone until the replacement listens.
    let replacement: number | undefined;
    for (let i = 0; i < 100 && replacement === undefined; i++) {
      const { status, worker } = await request(`${demo.url}/`);
      expect(status).toBe(200);
      expect(worker).not.toBe(killed);
      if (worker === survivor) await sleep(50);
      else replacement = worker;
    }
    expect(replacement).toBeDefined();
    expect(demo.output()).toMatch(new RegExp(`worker ${killed} died \\(SIGKILL\\)`));
  });
});

describe('WORKERS=2 with the memory store', () => {
  it('warns at start that each worker has its own cache — and indeed a worker keeps showing what another edited', async () => {
    const demo = await answering(await startDemo({ WORKERS: '2' }));
    expect(demo.output()).toMatch(/WARNING: WORKERS=2 with the memory store: each worker has its own cache/);
    expect(demo.output()).toMatch(/CACHE_URL=redis:\/\/127\.0\.0\.1:6379/);

    await fromEveryWorker(demo, '/');
    const edit = await rename(demo, 'Seen By One Worker Only');
    expect(edit.status).toBe(303);
    const after = await fromEveryWorker(demo, '/');
    const otherWorker = after.find((res) => res.worker !== edit.worker)!;
    expect(nameOnCard(otherWorker)).toBe(product.name); // the failure the warning is about
    expect(await demo.stop()).toBe(0);
  });

  it('gives up restarting workers that keep dying, and exits 1', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    try {
      const demo = await startDemo({ WORKERS: '2' }, (taken.address() as net.AddressInfo).port);
      expect(await demo.exited).toBe(1);
      expect(demo.output()).toMatch(/cannot listen on port \d+: .*EADDRINUSE/);
      expect(demo.output()).toMatch(/workers died within 10 s: not replacing them any more/);
    } finally {
      taken.close();
    }
  });
});

describe('without WORKERS', () => {
  it('serves from the one process it started, as before', async () => {
    const demo = await answering(await startDemo({}));
    const res = await request(`${demo.url}/`);
    expect(res.worker).toBe(demo.process.pid);
    expect(demo.output()).toMatch(/^Catalog demo listening on http:\/\/localhost:\d+\/\nFragments stored in memory \(this process only\)\n/);
    expect(await demo.stop()).toBe(0);
  });
});
