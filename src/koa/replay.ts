import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import { inject } from 'light-my-request';
import type { Engine } from '../core/engine';

/** Requests the cache itself sent through the app; a client has no way to make one. */
const replays = new WeakSet<IncomingMessage>();

/** True for a request the cache replays to refresh an entry: the middleware recomputes and stores it. */
export function isReplay(req: IncomingMessage): boolean {
  return replays.has(req);
}

/**
 * Sends `GET url` with `headers` through the whole app in-process, as the cache's own request.
 * Resolves whether the app answered; a throw or a 5xx is reported through the cache's `'error'`
 * event as a failed `operation` (the stored response is then left as it was).
 */
export async function replay(engine: Engine, app: Koa, url: string, headers: Record<string, string>, operation: string): Promise<boolean> {
  const handle = app.callback();
  try {
    const response = await inject(
      (req, res) => {
        replays.add(req);
        void handle(req, res);
      },
      { method: 'GET', url, headers },
    );
    if (response.statusCode < 500) return true;
    engine.report(operation, url, new Error(`GET ${url} answered ${response.statusCode}`));
  } catch (err) {
    engine.report(operation, url, err);
  }
  return false;
}
