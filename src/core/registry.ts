import type { Engine } from './engine';

const engines = new WeakMap<object, Engine>();

/** Pairs a `Cache` with its engine; only the `Cache` constructor calls this. */
export function register(cache: object, engine: Engine): void {
  engines.set(cache, engine);
}

/**
 * The engine behind a `Cache`, for the parts that are handed a `Cache` by the user (the template
 * extension): the one way from the public object to the internals, which stay off its type.
 */
export function engineOf(cache: unknown, what: string): Engine {
  const engine = typeof cache === 'object' && cache !== null ? engines.get(cache) : undefined;
  if (!engine) throw new TypeError(`${what} needs a Cache (new Cache(…)), got ${cache === null ? 'null' : typeof cache}`);
  return engine;
}
