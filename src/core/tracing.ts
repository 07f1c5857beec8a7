import { AsyncResource } from 'node:async_hooks';
import { tracingChannel, type TracingChannel } from 'node:diagnostics_channel';
import { encodeEntry, type Entry, type TagVersions } from './codec';
import type { CacheKind } from './outcomes';

/**
 * The `TracingChannel`s of `node:diagnostics_channel` the cache publishes on (the convention of
 * undici, fastify and pg): a tracer subscribes to them by name, whichever copy of the library
 * published. `koa-fragment-cache/otel` turns them into OpenTelemetry spans. While nobody
 * subscribes, each costs one `hasSubscribers` check and builds nothing.
 */
export const TRACING_CHANNELS = Object.freeze({
  /** A computation of a fragment, response, memoized call or value (`ComputeTrace`). */
  compute: 'koa-fragment-cache:compute',
  /** A background refresh of a stale or expiring response (`RefreshTrace`). */
  refresh: 'koa-fragment-cache:refresh',
  /** A wait for another process's lock on a key it computes (`LockTrace`). */
  lock: 'koa-fragment-cache:lock',
  /** A call to a shared store under the cache's deadline (`StoreTrace`). */
  store: 'koa-fragment-cache:store',
} as const);

/** What every message carries as `TracingChannel` sets them: the result, or what was thrown. */
export interface Settled {
  result?: unknown;
  error?: unknown;
}

/**
 * How a computation went: `'miss'` computed here, `'hit'` found stored (on a shared store, also
 * after waiting for another process's lock), `'coalesced'` joined one already running here.
 */
export type ComputeOutcome = 'miss' | 'hit' | 'coalesced';

export interface ComputeTrace extends Settled {
  readonly kind: CacheKind;
  /** The fragment's name, the route, the function's name, the value's key. */
  readonly name: string | undefined;
  readonly key: string;
  outcome: ComputeOutcome;
  /** The size of the entries it stores, encoded (UTF-8 bytes); absent when it stores none. */
  bytes?: number;
}

export interface RefreshTrace extends Settled {
  readonly kind: CacheKind;
  readonly name: string | undefined;
  readonly key: string;
  /** Whether the refresh stored a new entry; set when it ends. */
  outcome?: 'stored' | 'unstored';
}

export interface LockTrace extends Settled {
  readonly key: string;
  /** `'hit'`: the lock's owner stored the entry, read after the wait; `'miss'`: this process computes it. */
  outcome?: 'hit' | 'miss';
}

export interface StoreTrace extends Settled {
  /** `get`, `set`, `add`, `delete`, `lock`, `unlock`, `inc`, … */
  readonly operation: string;
  /** Undefined for calls on several keys. */
  readonly key: string | undefined;
  /** False when the call failed or ran out of `operationTimeoutMs` (`error` says why); the cache then answered its fallback. */
  ok: boolean;
}

const computeChannel = tracingChannel<unknown, ComputeTrace>(TRACING_CHANNELS.compute);
const refreshChannel = tracingChannel<unknown, RefreshTrace>(TRACING_CHANNELS.refresh);
const lockChannel = tracingChannel<unknown, LockTrace>(TRACING_CHANNELS.lock);
const storeChannel = tracingChannel<unknown, StoreTrace>(TRACING_CHANNELS.store);

/** The traced copies of computations, which run untraced. */
const tracedCopies = new WeakSet<object>();

/** Whether `c` is to be traced: someone subscribes to computations, and `c` is not a traced copy. */
export function tracing(c: object): boolean {
  return computeChannel.hasSubscribers && !tracedCopies.has(c);
}

/** The parts of a computation (core/compute.ts) that tracing reads and wraps; methods, so any result type fits. */
interface Traceable {
  readonly kind: CacheKind;
  readonly name?: string;
  readonly key: string;
  lookup?(): Promise<unknown>;
  compute(versions: TagVersions | undefined): unknown;
  entries(result: unknown, versions: TagVersions | undefined): Writes | undefined | Promise<Writes | undefined>;
}

type Writes = readonly (readonly [key: string, entry: Entry, ttlMs?: number])[];

/**
 * Runs `run` with a copy of `c` that notes its outcome and bytes, inside the compute channel's
 * trace: start and end around a result given at once (nested fragments rendered on one stack nest
 * by that order), asyncStart and asyncEnd when it settles if it is a promise.
 */
export function traceComputation<C extends Traceable, T>(c: C, run: (traced: C) => T): T {
  const message: ComputeTrace = { kind: c.kind, name: c.name, key: c.key, outcome: 'coalesced' };
  const { lookup, compute, entries } = c;
  // Only keys `c` has: adding another to a spread copy takes V8 off its fast path (~4 µs a call).
  const traced: C = {
    ...c,
    compute: (versions: TagVersions | undefined) => {
      message.outcome = 'miss';
      return compute.call(c, versions);
    },
    entries: (result: unknown, versions: TagVersions | undefined) => {
      const writes = entries.call(c, result, versions);
      return writes instanceof Promise ? writes.then((late) => measured(message, late)) : measured(message, writes);
    },
  };
  if (lookup) {
    (traced as { lookup?: () => Promise<unknown> }).lookup = async () => {
      const found = await lookup.call(c);
      if (found !== undefined) message.outcome = 'hit';
      return found;
    };
  }
  tracedCopies.add(traced);
  return traceCall(computeChannel, message, () => run(traced));
}

/** Notes the encoded size of `writes` (measured only while traced: it encodes them once more). */
function measured(message: ComputeTrace, writes: Writes | undefined): Writes | undefined {
  if (!writes || writes.length === 0) return writes;
  try {
    message.bytes = writes.reduce((sum, [key, entry]) => sum + Buffer.byteLength(encodeEntry(key, entry)), 0);
  } catch {
    // An unstorable value: the write refuses it and says why.
  }
  return writes;
}

/**
 * `refresh`, traced on the refresh channel when it runs (later, from a queue) in the async context
 * of the caller, so that its span is a child of the request that found the entry stale.
 */
export function traceRefresh(kind: CacheKind, name: string | undefined, key: string, refresh: () => Promise<boolean>): () => Promise<boolean> {
  if (!refreshChannel.hasSubscribers) return refresh;
  return AsyncResource.bind(() => {
    const message: RefreshTrace = { kind, name, key };
    return traceCall(refreshChannel, message, async () => {
      const stored = await refresh();
      message.outcome = stored ? 'stored' : 'unstored';
      return stored;
    });
  });
}

/** A wait for another process's lock on `key` and the read after it, traced on the lock channel. */
export function traceLockWait<T>(key: string, wait: () => Promise<T | undefined>): Promise<T | undefined> {
  if (!lockChannel.hasSubscribers) return wait();
  const message: LockTrace = { key };
  return traceCall(lockChannel, message, async () => {
    const found = await wait();
    message.outcome = found === undefined ? 'miss' : 'hit';
    return found;
  });
}

/**
 * Publishes the start of a store call (and its end: the call has returned its promise), or
 * returns undefined while nobody traces store calls. Nothing runs inside a store call's span.
 */
export function storeCallStarted(operation: string, key: string | undefined): StoreTrace | undefined {
  if (!storeChannel.hasSubscribers) return undefined;
  const message: StoreTrace = { operation, key, ok: false };
  storeChannel.start.publish(message);
  storeChannel.end.publish(message);
  return message;
}

/** The store call settled; a failed one publishes error (set by the caller), though the cache answers its fallback. */
export function storeCallSettled(message: StoreTrace, ok: boolean): void {
  message.ok = ok;
  if (!ok) storeChannel.error.publish(message);
  storeChannel.asyncStart.publish(message);
  storeChannel.asyncEnd.publish(message);
}

/**
 * `TracingChannel.traceSync` when `run` returns at once, `tracePromise` when it returns a promise:
 * a synchronous computation must not wait for a promise just to be traced.
 */
function traceCall<T, M extends Settled>(channel: TracingChannel<unknown, M>, message: M, run: () => T): T {
  return channel.start.runStores(message, () => {
    let result: T;
    try {
      result = run();
    } catch (error) {
      message.error = error;
      channel.error.publish(message);
      channel.end.publish(message);
      throw error;
    }
    if (!(result instanceof Promise)) {
      message.result = result;
      channel.end.publish(message);
      return result;
    }
    channel.end.publish(message);
    return result.then(
      (value: unknown) => {
        message.result = value;
        channel.asyncStart.publish(message);
        channel.asyncEnd.publish(message);
        return value;
      },
      (error: unknown) => {
        message.error = error;
        channel.error.publish(message);
        channel.asyncStart.publish(message);
        channel.asyncEnd.publish(message);
        throw error;
      },
    ) as T;
  });
}
