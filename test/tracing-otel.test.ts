/**
 * koa-fragment-cache/otel: the tracing channels as OpenTelemetry spans, exported by the SDK's
 * in-memory exporter and checked as span trees.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { once } from 'node:events';
import type { Server } from 'node:http';
import Router from '@koa/router';
import { context, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { AsyncHooksContextManager, AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import Koa from 'koa';
import request from 'supertest';
import { Cache, createEnvironment, views } from '../src';
import { TRACING_CHANNELS } from '../src/core/tracing';
import { instrument, uninstrument } from '../src/otel';
import { manualClock } from './support/clock';
import { redisUrl, uniquePrefix } from './support/stores';
import { viewsFolder } from './support/templates';
import { eventually } from './support/wait';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer: Tracer = provider.getTracer('test');

/** A span tree: a leaf is its name, a span with children `[name, ...children]`, children in the order they started. */
type Tree = string | [string, ...Tree[]];

function trees(spans: ReadableSpan[] = exporter.getFinishedSpans()): Tree[] {
  // The channels are per process: a delete that an earlier test file's cache still retries in this
  // jest worker (its store failed on purpose) is published too, as a span of no request.
  spans = spans.filter((span) => !(span.name === 'store delete' && span.parentSpanContext === undefined));
  const ids = new Set(spans.map((span) => span.spanContext().spanId));
  const byStart = [...spans].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  const below = (parent: string | undefined): Tree[] =>
    byStart
      .filter((span) => (parent === undefined ? !ids.has(span.parentSpanContext?.spanId ?? '') : span.parentSpanContext?.spanId === parent))
      .map((span) => {
        const children = below(span.spanContext().spanId);
        return children.length === 0 ? span.name : [span.name, ...children];
      });
  return below(undefined);
}

function span(name: string): ReadableSpan {
  const found = exporter.getFinishedSpans().filter((s) => s.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** Runs `fn` under a span of its own, as an HTTP instrumentation would for a request. */
function underRequest<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, async (request) => {
    try {
      return await fn();
    } finally {
      request.end();
    }
  });
}

/** An app serving /page (a fragment inside a fragment) through `cache.cached()` under a request span, on one port (the Host is part of the key). */
async function pageServer(cache: Cache): Promise<Server> {
  const folder = viewsFolder();
  folder.write('page.njk', '<main>{% cache 60, "outer" %}<section>{% cache 60, "inner" %}<p>inner</p>{% endcache %}</section>{% endcache %}</main>');
  const app = new Koa();
  const router = new Router();
  app.use((ctx, next) => underRequest(`GET ${ctx.path}`, next));
  app.use(views(createEnvironment({ cache, views: folder.dir })));
  router.get('/page', cache.cached({ timeout: 60 }), (ctx) => ctx.render('page.njk'));
  app.use(router.routes());
  return listening(app);
}

/** `app` listening on one port (supertest would start a server of its own, on another port, for one not listening yet). */
async function listening(app: Koa): Promise<Server> {
  const server = app.listen(0, '127.0.0.1');
  after.push(() => new Promise((resolve) => server.close(resolve)));
  await once(server, 'listening');
  return server;
}

const after: (() => Promise<unknown>)[] = [];
afterEach(() => Promise.all(after.splice(0).map((close) => close())));

function withContextManager(make: () => AsyncLocalStorageContextManager | AsyncHooksContextManager): void {
  beforeAll(() => {
    context.disable();
    context.setGlobalContextManager(make().enable());
    instrument({ tracerProvider: provider });
  });
  afterAll(() => {
    uninstrument();
    context.disable();
  });
  beforeEach(() => exporter.reset());
}

describe('OpenTelemetry spans (AsyncLocalStorage context manager)', () => {
  withContextManager(() => new AsyncLocalStorageContextManager());

  it('nest memoized calls under the request, with what your code traces inside them', async () => {
    const cache = new Cache();
    const inner = cache.memoize(async (id: string) => tracer.startActiveSpan('db query', (query) => (query.end(), `row ${id}`)), { name: 'inner' });
    const outer = cache.memoize(async (id: string) => `<${await inner(id)}>`, { name: 'outer' });
    expect(await underRequest('GET /products/7', () => outer('7'))).toBe('<row 7>');
    expect(trees()).toEqual([['GET /products/7', ['memoized outer', ['memoized inner', 'db query']]]]);
    expect(span('memoized inner').attributes).toEqual({
      'cache.kind': 'memoized',
      'cache.name': 'inner',
      'cache.key': expect.stringMatching(/^memo:inner:/),
      'cache.outcome': 'miss',
      'cache.bytes': Buffer.byteLength('j["row 7"]'),
    });
    exporter.reset();
    await underRequest('GET /products/7', () => outer('7')); // a hit from process memory: no computation
    expect(trees()).toEqual(['GET /products/7']);
  });

  it('mark a computation that failed', async () => {
    const cache = new Cache();
    await expect(underRequest('GET /', () => cache.getOrSet('rates', () => Promise.reject(new Error('upstream down'))))).rejects.toThrow('upstream down');
    const failed = span('value rates');
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'upstream down' });
    expect(failed.events.map((event) => event.name)).toEqual(['exception']);
  });

  it('render a page with nested fragments as a span tree under the request: response miss, outer fragment, inner fragment', async () => {
    const server = await pageServer(new Cache());
    const res = await request(server).get('/page');
    expect(res.text).toBe('<main><section><p>inner</p></section></main>');
    expect(trees()).toEqual([['GET /page', ['response /page', ['fragment outer', 'fragment inner']]]]);
    expect(span('fragment inner').attributes).toMatchObject({ 'cache.kind': 'fragment', 'cache.name': 'inner', 'cache.outcome': 'miss', 'cache.bytes': expect.any(Number) });
    expect(span('response /page').attributes).toMatchObject({ 'cache.kind': 'response', 'cache.outcome': 'miss' });
    exporter.reset();
    expect((await request(server).get('/page')).headers['x-cache']).toBe('HIT');
    expect(trees()).toEqual(['GET /page']);
  });

  it('show a background refresh under the request that found the response stale, with the run it replays', async () => {
    const clock = manualClock();
    const cache = new Cache({ clock });
    const app = new Koa();
    const router = new Router();
    app.use((ctx, next) => underRequest(`GET ${ctx.path}`, next));
    let runs = 0;
    router.get('/news', cache.cached({ timeout: 1, staleWhileRevalidate: 60 }), (ctx) => void (ctx.body = `news ${++runs}`));
    app.use(router.routes());
    const server = await listening(app);
    await request(server).get('/news');
    await clock.pass(2000);
    exporter.reset();
    expect((await request(server).get('/news')).headers['x-cache']).toBe('STALE');
    await eventually(() => exporter.getFinishedSpans().some((s) => s.name === 'response refresh /news'));
    // The replay runs through the whole app, this test's request middleware included.
    expect(trees()).toEqual([['GET /news', ['response refresh /news', ['GET /news', 'response /news']]]]);
    expect(span('response refresh /news').attributes).toMatchObject({ 'cache.kind': 'response', 'cache.name': '/news', 'cache.outcome': 'stored' });
  });

  it('stop with uninstrument()', async () => {
    uninstrument();
    try {
      for (const name of Object.values(TRACING_CHANNELS)) expect(tracingChannel(name).hasSubscribers).toBe(false);
      await underRequest('GET /', () => new Cache().getOrSet('k', async () => 1));
      expect(trees()).toEqual(['GET /']);
    } finally {
      instrument({ tracerProvider: provider });
    }
  });

  (redisUrl ? describe : describe.skip)('on Redis', () => {
    const made: Cache[] = [];
    const redisCache = (keyPrefix: string) => {
      const cache = new Cache({ store: redisUrl, keyPrefix, operationTimeoutMs: 2000, lock: { timeout: 5, waitMs: 5000 } });
      made.push(cache);
      return cache;
    };
    afterAll(async () => {
      for (const cache of made) {
        await cache.clear();
        await cache.close();
      }
    });

    it('render the page on Redis as the same tree, every store call inside it', async () => {
      const cache = redisCache(uniquePrefix('otel-page'));
      await cache.get('warm-up');
      const server = await pageServer(cache);
      exporter.reset();
      expect((await request(server).get('/page')).text).toBe('<main><section><p>inner</p></section></main>');
      await cache.close(); // waits for writes still on their way
      made.splice(made.indexOf(cache), 1);
      const spans = exporter.getFinishedSpans();
      expect(trees(spans.filter((s) => !s.name.startsWith('store ')))).toEqual([['GET /page', ['response /page', ['fragment outer', 'fragment inner']]]]);
      expect(trees()).toEqual([expect.arrayContaining(['GET /page'])]); // no store call outside the request
      const parentOf = (s: ReadableSpan) => spans.find((p) => p.spanContext().spanId === s.parentSpanContext?.spanId)?.name;
      const writes = spans.filter((s) => s.name === 'store set').map((s) => `${parentOf(s)}: ${s.attributes['cache.key']}`);
      expect(writes).toEqual(expect.arrayContaining([expect.stringMatching(/^fragment inner: fragment:/), expect.stringMatching(/^fragment outer: fragment:/)]));
    });

    it('show store calls, and a wait for the lock of another process inside the computation that waited', async () => {
      const prefix = uniquePrefix('otel-lock');
      const [owner, waiter] = [redisCache(prefix), redisCache(prefix)];
      await Promise.all([owner.get('warm-up'), waiter.get('warm-up')]);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let ownerComputing!: () => void;
      const computing = new Promise<void>((resolve) => (ownerComputing = resolve));
      exporter.reset();
      const owned = underRequest('GET /owner', () =>
        owner.getOrSet('busy', async () => {
          ownerComputing();
          await released;
          return 'computed once';
        }),
      );
      await computing;
      const waited = underRequest('GET /waiter', () => waiter.getOrSet('busy', async () => 'computed twice'));
      const lock = tracingChannel<unknown, object>(TRACING_CHANNELS.lock);
      lock.start.subscribe(function onWait() {
        lock.start.unsubscribe(onWait);
        release();
      });
      expect(await Promise.all([owned, waited])).toEqual(['computed once', 'computed once']);
      const [ownerTree, waiterTree] = trees();
      expect(ownerTree).toEqual(['GET /owner', 'store get', ['value busy', 'store lock', 'store set', 'store unlock']]);
      expect(waiterTree).toEqual(['GET /waiter', 'store get', ['value busy', 'store lock', expect.arrayContaining(['lock wait', 'store get'])]]);
      expect(span('lock wait').attributes).toEqual({ 'cache.key': 'busy', 'cache.outcome': 'hit' });
      const computations = exporter.getFinishedSpans().filter((s) => s.name === 'value busy');
      expect(computations.map((s) => s.attributes['cache.outcome']).sort()).toEqual(['hit', 'miss']);
      const set = span('store set');
      expect(set.attributes).toEqual({ 'cache.operation': 'set', 'cache.key': 'busy', 'cache.outcome': 'ok' });
      expect(set.kind).toBe(1 + 1); // SpanKind.CLIENT
    });
  });
});

describe('OpenTelemetry spans with another context manager', () => {
  withContextManager(() => new AsyncHooksContextManager());

  it("still nest the cache's own spans under the request (a storage of their own)", async () => {
    const cache = new Cache();
    const inner = cache.memoize(async (id: string) => `row ${id}`, { name: 'inner' });
    const outer = cache.memoize(async (id: string) => `<${await inner(id)}>`, { name: 'outer' });
    await underRequest('GET /products/7', () => outer('7'));
    expect(trees()).toEqual([['GET /products/7', ['memoized outer', 'memoized inner']]]);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
