import type { AddressInfo } from 'node:net';
import { Cache } from '../index';
import { createApp } from './app';

/** Runs the demo: `PORT` (default 3000), and the cache's `CACHE_*` variables (see `Cache.fromEnv`). */
const port = Number(process.env.PORT || 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}

const cache = Cache.fromEnv(process.env);
const app = createApp({ cache });
const server = app.listen(port, () => {
  const { port: actualPort } = server.address() as AddressInfo; // differs from PORT=0
  console.log(`Catalog demo listening on http://localhost:${actualPort}/`);
  console.log(`Fragments stored in ${describeStore(cache, process.env.CACHE_URL)}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // `once`: a second Ctrl-C gets Node's default handling and ends a shutdown that hangs.
  process.once(signal, () => {
    console.log(`${signal}: closing`);
    server.close(() => {
      cache.close().catch((err: unknown) => console.error('closing the cache failed:', err));
    });
  });
}

/** Where fragments live, without any password in the URL. */
function describeStore(cache: Cache, url: string | undefined): string {
  if (cache.isLocal || !url) return 'memory (this process only)';
  const safe = new URL(url);
  safe.username = '';
  safe.password = '';
  return `a shared store at ${safe.href}`;
}
