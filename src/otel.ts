/**
 * koa-fragment-cache/otel: OpenTelemetry spans of the cache's tracing channels (core/tracing.ts).
 * Needs `@opentelemetry/api` (an optional peer); the main entry never loads this file.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { tracingChannel, type TracingChannelSubscribers } from 'node:diagnostics_channel';
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { TRACING_CHANNELS, type ComputeTrace, type LockTrace, type RefreshTrace, type StoreTrace } from './core/tracing';

export { TRACING_CHANNELS, type ComputeOutcome, type ComputeTrace, type LockTrace, type RefreshTrace, type StoreTrace } from './core/tracing';

export interface InstrumentOptions {
  /** Where spans are made. Default: `tracerProvider`'s tracer `koa-fragment-cache`. */
  tracer?: Tracer;
  /** Default: the global tracer provider (the one the SDK registered). */
  tracerProvider?: TracerProvider;
}

/** How the messages of one channel become spans (undefined attributes are left out by OpenTelemetry). */
interface SpanShape<M> {
  readonly channel: string;
  readonly kind: SpanKind;
  name(message: M): string;
  /** Attributes known when it starts. */
  started(message: M): Attributes;
  /** Attributes known when it ends, and the failure to mark it with, if any. */
  ended(message: M): { attributes: Attributes; failure?: unknown };
}

const compute: SpanShape<ComputeTrace> = {
  channel: TRACING_CHANNELS.compute,
  kind: SpanKind.INTERNAL,
  name: (m) => `${m.kind} ${m.name ?? m.key}`,
  started: (m) => ({ 'cache.kind': m.kind, 'cache.name': m.name, 'cache.key': m.key }),
  ended: (m) => ({ attributes: { 'cache.outcome': m.outcome, 'cache.bytes': m.bytes }, failure: m.error }),
};

const refresh: SpanShape<RefreshTrace> = {
  channel: TRACING_CHANNELS.refresh,
  kind: SpanKind.INTERNAL,
  name: (m) => `${m.kind} refresh ${m.name ?? m.key}`,
  started: (m) => ({ 'cache.kind': m.kind, 'cache.name': m.name, 'cache.key': m.key }),
  ended: (m) => ({ attributes: { 'cache.outcome': m.outcome }, failure: m.error }),
};

const lock: SpanShape<LockTrace> = {
  channel: TRACING_CHANNELS.lock,
  kind: SpanKind.INTERNAL,
  name: () => 'lock wait',
  started: (m) => ({ 'cache.key': m.key }),
  ended: (m) => ({ attributes: { 'cache.outcome': m.outcome }, failure: m.error }),
};

const store: SpanShape<StoreTrace> = {
  channel: TRACING_CHANNELS.store,
  kind: SpanKind.CLIENT,
  name: (m) => `store ${m.operation}`,
  started: (m) => ({ 'cache.operation': m.operation, 'cache.key': m.key }),
  ended: (m) => ({ attributes: { 'cache.outcome': m.ok ? 'ok' : 'failed' }, failure: m.ok ? undefined : m.error }),
};

const SHAPES = [compute, refresh, lock, store] as SpanShape<object>[];

let detach: (() => void) | undefined;

/**
 * Makes a span of every computation, background refresh, lock wait and shared-store call of every
 * `Cache` in the process, until `uninstrument()`. A span's parent is the cache's operation it runs
 * in (a fragment inside a fragment), else the active context (the request's span). Call it after
 * the SDK is started: with its AsyncLocalStorage context manager, the cache's spans are the active
 * context while they run, so spans your code starts inside a fragment nest under it too.
 */
export function instrument(options: InstrumentOptions = {}): void {
  uninstrument();
  const tracer = options.tracer ?? (options.tracerProvider ?? trace.getTracerProvider()).getTracer('koa-fragment-cache');
  const nesting = otelNesting() ?? ownNesting();
  const spans = new WeakMap<object, Span>();
  const detachers = SHAPES.map((shape) => {
    const channel = tracingChannel<unknown, object>(shape.channel);
    const open = (message: object): Context => {
      const parent = nesting.parent();
      const span = spans.get(message) ?? tracer.startSpan(shape.name(message), { kind: shape.kind, attributes: shape.started(message) }, parent);
      spans.set(message, span);
      return trace.setSpan(parent, span);
    };
    const close = (message: object) => {
      const span = spans.get(message);
      if (!span) return;
      spans.delete(message);
      const { attributes, failure } = shape.ended(message);
      span.setAttributes(attributes);
      if (failure !== undefined) fail(span, failure);
      span.end();
    };
    const subscribers: TracingChannelSubscribers<object> = {
      // Calls traced with runStores opened their span in the store's transform, before this.
      start: (message) => void (spans.has(message) || open(message)),
      // Settled on the stack (traceSync): the result or error is set before end; else asyncEnd follows.
      end: (message) => ('result' in message || 'error' in message ? close(message) : undefined),
      asyncStart: () => undefined,
      asyncEnd: close,
      error: () => undefined,
    };
    channel.start.bindStore(nesting.storage, (message) => nesting.enter(open(message)));
    channel.subscribe(subscribers);
    return () => {
      channel.unsubscribe(subscribers);
      channel.start.unbindStore(nesting.storage);
    };
  });
  detach = () => detachers.forEach((stop) => stop());
}

/** Stops making spans (spans already started still end). */
export function uninstrument(): void {
  detach?.();
  detach = undefined;
}

/** Where the context of a running cache operation is kept, so that what runs inside it nests. */
interface Nesting {
  readonly storage: AsyncLocalStorage<unknown>;
  parent(): Context;
  enter(inside: Context): unknown;
}

/**
 * OpenTelemetry's own storage, so that the cache's spans are the active context while they run.
 * AsyncLocalStorageContextManager keeps it in a private field, read as other tracing-channel
 * bridges do while the API has no accessor (open-telemetry/opentelemetry-js#6088).
 */
function otelNesting(): Nesting | undefined {
  const api = context as unknown as { _getContextManager?: () => { _asyncLocalStorage?: unknown } | undefined };
  const storage = api._getContextManager?.()?._asyncLocalStorage;
  if (!(storage instanceof AsyncLocalStorage)) return undefined;
  return { storage, parent: () => context.active(), enter: (inside) => inside };
}

/**
 * A storage of its own, for other context managers: a cache operation nests under the one it runs
 * in, unless the active context changed since that one started (a span started in between).
 */
function ownNesting(): Nesting {
  const storage = new AsyncLocalStorage<{ inside: Context; outside: Context }>();
  return {
    storage,
    parent() {
      const active = context.active();
      const running = storage.getStore();
      return running && running.outside === active ? running.inside : active;
    },
    enter: (inside) => ({ inside, outside: context.active() }),
  };
}

function fail(span: Span, failure: unknown): void {
  const error = failure instanceof Error ? failure : new Error(String(failure));
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}
