import type Koa from 'koa';
import { intervalToMs, type Timeout } from '../core/timeout';
import { replay } from './replay';
import type { RequestFacts } from './request-facts';
import { baseKey, DEFAULT_RESPONSE_KEY_PREFIX, splitPath, type QueryInput } from './response-key';
import { isVaryIndex, type StoredResponses } from './stored-entry';

export interface PeriodicRefreshOptions {
  /** Seconds (or '5m') between refreshes. */
  interval: Timeout;
  query?: QueryInput;
  /**
   * Refresh only the variant of this Host (it is part of the key), e.g. to warm it before anyone
   * asked. Default: every variant the route stored recently, each with its own request facts.
   */
  host?: string;
  /** The route's `keyPrefix`, if it set a string one. */
  keyPrefix?: string;
}

export interface PeriodicRefresh {
  stop(): void;
}

/**
 * Every `interval` (the first after one interval), replays `GET path` through `app` once for each
 * variant the route stored recently — with the host, protocol and headers that variant was asked
 * for (variants that vary by cookies are one visitor's, and are not replayed) — so the route's
 * `cache.cached()` middleware recomputes and stores them before they expire. A failed replay leaves
 * the stored response as it was and is reported through the cache's `'error'` event. The timer does
 * not keep the process alive; rounds never overlap.
 */
export function schedulePeriodicRefresh(responses: StoredResponses, app: Koa, path: string, options: PeriodicRefreshOptions): PeriodicRefresh {
  if (options?.interval === undefined || options.interval === null) throw new TypeError('schedulePeriodicRefresh needs an interval');
  const intervalMs = intervalToMs(options.interval, 0, 'interval');
  const route = splitPath(path, options.query);
  const url = route.query === '' ? route.path : `${route.path}?${route.query}`;
  const base = baseKey(options.keyPrefix ?? DEFAULT_RESPONSE_KEY_PREFIX, route.path, route.query);
  const { engine } = responses;
  const variants = async (): Promise<RequestFacts[]> => {
    if (options.host !== undefined) return [{ protocol: 'http', headers: { host: options.host } }];
    const index = responses.decode(base, (await engine.get(base))?.value);
    return isVaryIndex(index) ? index.variants : [];
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void variants()
      .then((all) => Promise.all(all.map((facts) => replay(engine, app, url, facts, 'periodic refresh'))))
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
