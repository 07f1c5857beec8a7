import type Koa from 'koa';
import type { Engine } from '../core/engine';
import { intervalToMs, type Timeout } from '../core/timeout';
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
export function schedulePeriodicRefresh(engine: Engine, app: Koa, path: string, options: PeriodicRefreshOptions): PeriodicRefresh {
  if (options?.interval === undefined || options.interval === null) throw new TypeError('schedulePeriodicRefresh needs an interval');
  const intervalMs = intervalToMs(options.interval, 0, 'interval');
  const route = splitPath(path, options.query);
  const url = route.query === '' ? route.path : `${route.path}?${route.query}`;
  const headers: Record<string, string> = options.host === undefined ? {} : { host: options.host };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void replay(engine, app, url, headers, 'periodic refresh').finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
