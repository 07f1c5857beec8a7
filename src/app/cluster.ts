import cluster, { type Worker } from 'node:cluster';

/** This many worker deaths within the window is a crash loop, not bad luck. */
const MAX_RAPID_DEATHS = 5;
const RAPID_DEATHS_WINDOW_MS = 10_000;

/**
 * The primary process of `WORKERS=N`: forks `workers` processes that run this same script (they
 * share the listening port) and keeps them running. A worker that dies unexpectedly is replaced,
 * unless workers keep dying (then the primary stops replacing them and exits 1 once the last is
 * gone, so a supervisor sees the failure). SIGINT/SIGTERM shut the workers down cleanly; a second
 * Ctrl-C ends a shutdown that hangs (the primary dies, and workers exit when it does).
 */
export function runPrimary(workers: number): void {
  let stopping = false;
  let gaveUp = false;
  const deaths: number[] = [];

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    // A worker that disconnected itself shut down on purpose (see `shutDown` in server.ts).
    if (stopping || worker.exitedAfterDisconnect) return;
    console.error(`worker ${worker.process.pid} died (${signal ?? `exit code ${code}`})`);
    if (gaveUp) return;
    const now = Date.now();
    deaths.push(now);
    while (deaths[0] <= now - RAPID_DEATHS_WINDOW_MS) deaths.shift();
    if (deaths.length >= MAX_RAPID_DEATHS) {
      gaveUp = true;
      process.exitCode = 1;
      console.error(`${deaths.length} workers died within ${RAPID_DEATHS_WINDOW_MS / 1000} s: not replacing them any more`);
      return;
    }
    cluster.fork();
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      console.log(`${signal}: stopping ${Object.keys(cluster.workers ?? {}).length} workers`);
      // Always SIGTERM: on Ctrl-C the workers already got the terminal's SIGINT, and a second SIGINT
      // would kill them (their handlers run once, so that a repeated Ctrl-C can end a hung shutdown).
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    });
  }

  console.log(`Catalog demo: primary ${process.pid} starting ${workers} workers`);
  for (let i = 0; i < workers; i++) cluster.fork();
}
