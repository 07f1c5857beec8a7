import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Cache } from '../index';
import { createApp } from './app';
import { runPrimary } from './cluster';

/**
 * Runs the demo. `PORT` (default 3000); `WORKERS` (default 1): with N > 1, N processes share the
 * port (see cluster.ts); `DATA_FILE` (default data/catalog.json) and `LATENCY_MS` (the simulated
 * cost of loading products, default 150); and the cache's `CACHE_*` variables (see `Cache.fromEnv`).
 */
const env = process.env;
const port = Number(env.PORT || 3000);
const workers = Number(env.WORKERS || 1);
const latencyMs = env.LATENCY_MS ? Number(env.LATENCY_MS) : undefined;
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number, got ${JSON.stringify(env.PORT)}`);
if (!Number.isInteger(workers) || workers < 1) fail(`WORKERS must be a whole number of 1 or more, got ${JSON.stringify(env.WORKERS)}`);
if (latencyMs !== undefined && !(latencyMs >= 0)) fail(`LATENCY_MS must be a number of 0 or more, got ${JSON.stringify(env.LATENCY_MS)}`);

if (workers > 1 && cluster.isPrimary) {
  if (usesMemoryStore()) {
    console.warn(
      `WARNING: WORKERS=${workers} with the memory store: each worker has its own cache, so an edit ` +
        `invalidates the fragments of only the worker that saved it, and the others keep showing the old ` +
        `ones until they expire. Share one cache between the workers: CACHE_URL=redis://127.0.0.1:6379 (or CACHE_CLUSTER_NODES, CACHE_SENTINELS)`,
    );
  } else {
    console.log(`Fragments stored in ${describeStore()}`);
  }
  runPrimary(workers);
} else {
  serve();
}

function serve(): void {
  // Workers prefix what they log: N of them write to one terminal.
  const who = cluster.isWorker ? `worker ${process.pid}: ` : '';
  const cache = Cache.fromEnv(env);
  // Workers may edit the same file: each edit is written atomically; two at the same instant
  // from different workers can lose one another, which is fine for a demo.
  const app = createApp({ cache, dataFile: env.DATA_FILE ? path.resolve(env.DATA_FILE) : undefined, latencyMs });
  const server = app.listen(port, () => {
    const { port: actualPort } = server.address() as AddressInfo; // differs from PORT=0
    console.log(`${who}Catalog demo listening on http://localhost:${actualPort}/`);
    if (!cluster.isWorker) console.log(`Fragments stored in ${describeStore()}`);
  });
  server.on('error', (err) => fail(`${who}cannot listen on port ${port}: ${err.message}`));

  let closing = false;
  const shutDown = (signal: NodeJS.Signals) => {
    if (closing) return; // a worker gets SIGINT from the terminal and SIGTERM from the primary
    closing = true;
    console.log(`${who}${signal}: closing`);
    server.close(() => {
      app
        .close()
        .then(() => cache.close())
        .catch((err: unknown) => console.error(`${who}closing the cache failed:`, err))
        // The IPC channel to the primary keeps a worker alive; disconnecting also tells the primary
        // that this exit is deliberate, so it does not start a replacement.
        .finally(() => cluster.worker?.disconnect());
    });
  };
  // `once`: a second Ctrl-C gets Node's default handling and ends a shutdown that hangs.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, shutDown);
}

/** Whether the `CACHE_*` variables leave the cache on the memory store (as `Cache.fromEnv` reads them). */
function usesMemoryStore(): boolean {
  return !env.CACHE_CLUSTER_NODES && !env.CACHE_SENTINELS && (!env.CACHE_URL || env.CACHE_URL === 'memory');
}

/** Where fragments live, without any password. */
function describeStore(): string {
  if (env.CACHE_CLUSTER_NODES) return `a Redis Cluster (nodes ${env.CACHE_CLUSTER_NODES.split(',').map(withoutCredentials).join(', ')})`;
  if (env.CACHE_SENTINELS) return `the Redis primary the sentinels ${env.CACHE_SENTINELS.split(',').map(withoutCredentials).join(', ')} name "${env.CACHE_SENTINEL_NAME ?? ''}"`;
  if (usesMemoryStore()) return 'memory (this process only)';
  return `a shared store at ${withoutCredentials(env.CACHE_URL!)}`;
}

function withoutCredentials(address: string): string {
  const safe = new URL(address.includes('://') ? address.trim() : `redis://${address.trim()}`);
  safe.username = '';
  safe.password = '';
  return safe.host ? `${safe.protocol}//${safe.host}${safe.pathname === '/' ? '' : safe.pathname}` : safe.href;
}

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}
