import { performance } from 'node:perf_hooks';
import type nunjucks from 'nunjucks';
import type { Cache } from '../index';
import type { Catalog } from './catalog';

type FilterCallback = (err: Error | null, result?: unknown) => void;

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

/**
 * What the views can call. Product records are loaded by async filters *inside* the fragments
 * (`<% set product = id | loadProduct %>`), so a cache hit skips the slow load as well as the
 * markup: that is what makes a cached page fast.
 */
export function installTemplateHelpers(env: nunjucks.Environment, { cache, catalog }: { cache: Cache; catalog: Catalog }): void {
  env.addFilter('loadProduct', asyncFilter((id: number) => catalog.get(Number(id))), true);
  env.addFilter('loadProducts', asyncFilter(async (ids: number[]) => (await catalog.list()).filter((p) => ids.includes(p.id))), true);
  env.addFilter('money', (amount: number) => money.format(amount));
  env.addGlobal('fragmentStore', cache.isLocal ? 'memory (this process)' : 'Redis (shared)');
  env.addGlobal('clock', clock);
  env.addGlobal('elapsedMs', (since: number) => (performance.now() - since).toFixed(1));
}

/** The time of day with milliseconds: fragments rendered a moment apart still differ. */
function clock(): { text: string; iso: string } {
  const now = new Date();
  return { text: `${now.toTimeString().slice(0, 8)}.${String(now.getMilliseconds()).padStart(3, '0')}`, iso: now.toISOString() };
}

/**
 * nunjucks' async filters take a callback; ours return promises. The callback runs the rest of the
 * template, so an error it throws is handed back to it (and so to the render's callback) rather
 * than escaping as an unhandled rejection.
 */
function asyncFilter<T>(load: (input: T) => Promise<unknown>) {
  return (input: T, done: FilterCallback) => {
    load(input).then(
      (result) => {
        try {
          done(null, result);
        } catch (err) {
          done(asError(err));
        }
      },
      (err: unknown) => done(asError(err)),
    );
  };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
