import type { Store } from '../store/store';
import type { Instrumentation } from './events';
import { storeCallSettled, storeCallStarted } from './tracing';

/**
 * A store call under the cache's deadline: a failure or a call slower than `operationTimeoutMs`
 * resolves `fallback` and is reported. `rethrowTypeErrors` lets a caller's misuse (incrementing a
 * string) reach the caller. Calls on a store in process memory run as they are.
 */
export type StoreCall = <T, F>(operation: string, key: string | undefined, run: () => Promise<T>, fallback: F, rethrowTypeErrors?: boolean) => Promise<T | F>;

export function storeCalls(store: Store, local: boolean, operationTimeoutMs: number, events: Instrumentation): StoreCall {
  if (local) return (_operation, _key, run) => run();
  return async (operation, key, run, fallback, rethrowTypeErrors = false) => {
    const started = performance.now();
    const trace = storeCallStarted(operation, key); // koa-fragment-cache:store; undefined while nobody traces
    // A new store's first calls wait for its first connection attempt (bounded by the store); the deadline starts after.
    const connecting = store.connecting;
    if (connecting) await connecting;
    let ok = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      // After a busy stretch the timer can fire before replies already waiting in the socket are
      // read: they get one more turn of I/O (setImmediate runs after it) before the call fails.
      const expire = () => reject(new Error(`no answer within operationTimeoutMs (${operationTimeoutMs} ms)`));
      timer = setTimeout(() => setImmediate(expire), operationTimeoutMs);
    });
    try {
      const result = await Promise.race([run(), deadline]);
      ok = true;
      return result;
    } catch (err) {
      if (trace) trace.error = err;
      if (rethrowTypeErrors && err instanceof TypeError) throw err;
      events.report(operation, key, err);
      return fallback;
    } finally {
      clearTimeout(timer);
      events.emit('storeCall', () => ({ operation, seconds: (performance.now() - started) / 1000, ok }));
      if (trace) storeCallSettled(trace, ok);
    }
  };
}
