import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type Koa from 'koa';
import type { Engine } from '../core/engine';
import type { RequestFacts } from './request-facts';

/** What the cache's own requests through the app carry: the facts to apply, and whether the route stored. */
interface Replay {
  protocol: string;
  stored: boolean;
}

/** Requests the cache itself sent through the app; a client has no way to make one. */
const replays = new WeakMap<IncomingMessage, Replay>();

/** True for a request the cache replays to refresh an entry: the middleware recomputes and stores it. */
export function isReplay(req: IncomingMessage): boolean {
  return replays.has(req);
}

/**
 * Gives a replayed request the protocol of the request it stands for: an injected request has no
 * TLS socket, and X-Forwarded-Proto counts only behind a trusted proxy.
 */
export function applyReplayFacts(ctx: Context): void {
  const replay = replays.get(ctx.req);
  if (replay && ctx.protocol !== replay.protocol) Object.defineProperty(ctx.request, 'protocol', { value: replay.protocol });
}

/** The middleware stored the replay's response. */
export function replayStored(req: IncomingMessage): void {
  const replay = replays.get(req);
  if (replay) replay.stored = true;
}

/**
 * Sends `GET url` with the request facts through the whole app in-process, as the cache's own
 * request. Resolves whether a response was stored; a throw or a 5xx is reported through the
 * cache's `'error'` event as a failed `operation` (the stored response is then left as it was).
 */
export async function replay(engine: Engine, app: Koa, url: string, facts: RequestFacts, operation: string): Promise<boolean> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on the first refresh only
  const { inject } = require('light-my-request') as typeof import('light-my-request');
  const handle = app.callback();
  const marker: Replay = { protocol: facts.protocol, stored: false };
  const headers = app.proxy ? { ...facts.headers, 'x-forwarded-proto': facts.protocol } : facts.headers;
  try {
    const response = await inject(
      (req, res) => {
        replays.set(req, marker);
        void handle(req, res);
      },
      { method: 'GET', url, headers },
    );
    if (response.statusCode >= 500) engine.report(operation, url, new Error(`GET ${url} answered ${response.statusCode}`));
  } catch (err) {
    engine.report(operation, url, err);
  }
  return marker.stored;
}
