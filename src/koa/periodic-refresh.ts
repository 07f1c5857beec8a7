import type Koa from 'koa';
import type { Cache } from '../cache';
import { timeoutToMs, type Timeout } from '../timeout';
import { splitPath, type QueryInput } from './response-key';
import { replay } from './replay';

export interface PeriodicRefreshOptions {
  /** Seconds (or '5m') between replays. */
  interval: Timeout;
  query?: QueryInput;
  /** The Host the route is requested with (it is part of the key). Default `localhost:80`. */
  host?: string;
}

export interface PeriodicRefresh {
  stop(): void;
}

/**
 * Replays `GET path` through `app` every `interval` (the first after one interval), so the route's
 * `cache.cached()` middleware recomputes and stores it before it expires. A failed replay leaves the
 * stored response as it was and is reported through the cache's `'error'` event. The timer does
 * not keep the process alive; replays never overlap.
 */
export function schedulePeriodicRefresh(cache: Cache, app: Koa, path: string, options: PeriodicRefreshOptions): PeriodicRefresh {
  if (options?.interval === undefined || options.interval === null) throw new TypeError('schedulePeriodicRefresh needs an interval');
  const intervalMs = timeoutToMs(options.interval, 0, 'interval');
  if (intervalMs === 0) throw new RangeError('interval must be more than 0 seconds');
  const route = splitPath(path, options.query);
  const url = route.query === '' ? route.path : `${route.path}?${route.query}`;
  const headers: Record<string, string> = options.host === undefined ? {} : { host: options.host };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void replay(cache, app, url, headers, 'periodic refresh').finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
