import { performance } from 'node:perf_hooks';
import type nunjucks from 'nunjucks';
import type { Cache } from '../index';
import type { Catalog } from './catalog';

type FilterCallback = (err: Error | null, result?: unknown) => void;

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const percent = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en-US');

/**
 * What the views can call. Product records are loaded by async filters *inside* the fragments
 * (`<% set product = id | loadProduct %>`), so a cache hit skips the slow load as well as the
 * markup: that is what makes a cached page fast.
 */
export function installTemplateHelpers(env: nunjucks.Environment, { cache, catalog }: { cache: Cache; catalog: Catalog }): void {
  env.addFilter('loadProduct', asyncFilter((id: number) => catalog.get(Number(id))), true);
  env.addFilter('money', (amount: number) => money.format(amount));
  env.addFilter('percent', (ratio: number) => percent.format(ratio));
  env.addFilter('number', (n: number) => whole.format(n));
  env.addFilter('kib', (bytes: number) => `${whole.format(Math.round(bytes / 1024))} KiB`);
  env.addGlobal('fragmentStore', cache.isLocal ? 'memory (this process)' : 'Redis (shared)');
  env.addGlobal('clock', () => timeOf(new Date()));
  env.addGlobal('timeOf', timeOf);
  env.addGlobal('elapsedMs', (since: number) => (performance.now() - since).toFixed(1));
}

/** The time of day with milliseconds (fragments rendered a moment apart still differ), and as ISO. */
function timeOf(date: Date): { text: string; iso: string } {
  return { text: `${date.toTimeString().slice(0, 8)}.${String(date.getMilliseconds()).padStart(3, '0')}`, iso: date.toISOString() };
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
