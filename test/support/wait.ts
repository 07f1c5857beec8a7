import { inspect } from 'node:util';

/** Waits `ms` of real time. For what really runs on timers (intervals, deadlines, Redis TTLs); expiry on the memory store goes faster with a manual clock (./clock). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `read` (every 5 ms) until it returns `expected` — `true` when left out, for a condition —
 * and resolves that value; rejects, naming the last value read, once `withinMs` have passed
 * without it. Either form reads well: `await eventually(() => runs === 2)`, or
 * `expect(await eventually(() => other.peek('k'), undefined, 100)).toBeUndefined()` for a bound
 * that is part of what the test asserts. Deadlines run on real time (performance.now), whatever a
 * test does to Date.now or to a cache's clock.
 */
export function eventually(condition: () => boolean | Promise<boolean>): Promise<boolean>;
export function eventually<T>(read: () => T | Promise<T>, expected: T, withinMs?: number): Promise<T>;
export async function eventually<T>(read: () => T | Promise<T>, ...expectation: [] | [expected: T, withinMs?: number]): Promise<T> {
  // Not a default parameter: `eventually(read, undefined, 100)` waits for undefined.
  const expected = (expectation.length === 0 ? true : expectation[0]) as T;
  const withinMs = expectation[1] ?? 3000;
  const deadline = performance.now() + withinMs;
  let value = await read();
  while (value !== expected) {
    if (performance.now() >= deadline) {
      throw new Error(`eventually: still ${inspect(value)} after ${withinMs} ms, waiting for ${inspect(expected)}`);
    }
    await sleep(5);
    value = await read();
  }
  return value;
}
