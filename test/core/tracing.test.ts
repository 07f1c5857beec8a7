/**
 * The tracing channels of core/tracing.ts, as a subscriber of `node:diagnostics_channel` sees them
 * (the OpenTelemetry spans made of them: tracing-otel.test.ts).
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { Cache } from '../../src';
import { engineOf } from '../../src/core/registry';
import { TRACING_CHANNELS } from '../../src/core/tracing';
import { cacheFactory, redisUrl, uniquePrefix } from '../support/stores';

const EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;

/** Every event of one channel in order (`'start memoized'`), and its messages in the order they started. */
function listen(name: string, label: (message: any) => string) {
  const sequence: string[] = [];
  const messages: any[] = [];
  const channel = tracingChannel<unknown, object>(name);
  const subscribers = Object.fromEntries(
    EVENTS.map((event) => [
      event,
      (message: object) => {
        if (event === 'start') messages.push(message);
        sequence.push(`${event} ${label(message)}`);
      },
    ]),
  ) as unknown as Parameters<typeof channel.subscribe>[0];
  channel.subscribe(subscribers);
  listening.push(() => channel.unsubscribe(subscribers));
  return { sequence, messages };
}

const listening: (() => void)[] = [];
afterEach(() => listening.splice(0).forEach((stop) => stop()));

describe('tracing channels on the memory store', () => {
  it('publish nothing while nobody subscribes, and every channel is named', () => {
    expect(Object.values(TRACING_CHANNELS)).toEqual(['koa-fragment-cache:compute', 'koa-fragment-cache:refresh', 'koa-fragment-cache:lock', 'koa-fragment-cache:store']);
    for (const name of Object.values(TRACING_CHANNELS)) expect(tracingChannel(name).hasSubscribers).toBe(false);
  });

  it('trace a memoized call that computes, with the bytes it stores (a hit from process memory computes nothing)', async () => {
    const computes = listen(TRACING_CHANNELS.compute, (m) => `${m.kind} ${m.name}`);
    const cache = new Cache();
    const reviews = cache.memoize(async (id: string) => [`review of ${id}`], { name: 'reviews' });
    expect(await reviews('7')).toEqual(['review of 7']);
    expect(await reviews('7')).toEqual(['review of 7']);
    expect(computes.messages).toEqual([
      // The entry boxes the value: j[["review of 7"]].
      { kind: 'memoized', name: 'reviews', key: expect.stringMatching(/^memo:reviews:/), outcome: 'miss', bytes: 18, result: { value: ['review of 7'] } },
    ]);
    expect(computes.sequence).toEqual(['start memoized reviews', 'end memoized reviews', 'asyncStart memoized reviews', 'asyncEnd memoized reviews']);
  });

  it('trace a getOrSet miss (a hit from process memory computes nothing and is not traced)', async () => {
    const computes = listen(TRACING_CHANNELS.compute, (m) => `${m.kind} ${m.name}`);
    const cache = new Cache();
    await cache.getOrSet('rates', async () => ({ EUR: 1 }));
    await cache.getOrSet('rates', async () => ({ EUR: 2 }));
    expect(computes.messages).toEqual([{ kind: 'value', name: 'rates', key: 'rates', outcome: 'miss', bytes: Buffer.byteLength('j{"EUR":1}'), result: expect.anything() }]);
  });

  it('trace a failed computation with its error, and coalesced callers as such', async () => {
    const computes = listen(TRACING_CHANNELS.compute, (m) => `${m.kind} ${m.name}`);
    const cache = new Cache();
    const failure = new Error('upstream down');
    const both = [cache.getOrSet('k', () => Promise.reject(failure)), cache.getOrSet('k', () => 'never')];
    await expect(Promise.all(both)).rejects.toBe(failure);
    await Promise.allSettled(both);
    expect(computes.messages).toEqual([
      expect.objectContaining({ key: 'k', outcome: 'miss', error: failure }),
      expect.objectContaining({ key: 'k', outcome: 'coalesced', error: failure }),
    ]);
    expect(computes.sequence.filter((event) => event.startsWith('error'))).toHaveLength(2);
  });

  it('nest computations finished on one stack by the order of start and end (no promise made)', () => {
    const computes = listen(TRACING_CHANNELS.compute, (m) => m.name);
    const engine = engineOf(new Cache(), 'test');
    const now = (name: string, compute: () => string) =>
      engine.computeNow({ kind: 'fragment', name, key: `fragment:${name}`, ttlMs: 60_000, compute, entries: (html) => [[`fragment:${name}`, { value: html }]] });
    const html = now('outer', () => `<div>${now('inner', () => '<p>inner</p>') as string}</div>`);
    expect(html).toBe('<div><p>inner</p></div>');
    expect(computes.sequence).toEqual(['start outer', 'start inner', 'end inner', 'end outer']);
    expect(computes.messages.map((m) => [m.name, m.outcome, m.bytes])).toEqual([
      ['outer', 'miss', Buffer.byteLength('s<div><p>inner</p></div>')],
      ['inner', 'miss', Buffer.byteLength('s<p>inner</p>')],
    ]);
  });
});

(redisUrl ? describe : describe.skip)('tracing channels on Redis', () => {
  const caches = cacheFactory('redis', 'tracing');
  const redisCache = (keyPrefix: string) => caches.make({ keyPrefix, lock: { timeout: 5, waitMs: 5000 } });
  afterAll(caches.closeAll);

  it('trace every store call with its operation, key and whether it answered', async () => {
    const cache = redisCache(uniquePrefix('tracing-store'));
    await cache.get('warm-up'); // the first connection is not part of what is checked
    const calls = listen(TRACING_CHANNELS.store, (m) => `${m.operation} ${m.key}`);
    await cache.getOrSet('rates', async () => 1);
    expect(calls.messages.map(({ operation, key, ok }) => ({ operation, key, ok }))).toEqual(
      expect.arrayContaining([
        { operation: 'get', key: 'rates', ok: true },
        { operation: 'lock', key: 'rates', ok: true },
        { operation: 'set', key: 'rates', ok: true },
        { operation: 'unlock', key: 'rates', ok: true },
      ]),
    );
    expect(calls.sequence.slice(0, 4)).toEqual(['start get rates', 'end get rates', 'asyncStart get rates', 'asyncEnd get rates']);
  });

  it('trace a failed store call as not ok, with its error', async () => {
    const cache = redisCache(uniquePrefix('tracing-fail'));
    await cache.get('warm-up');
    const calls = listen(TRACING_CHANNELS.store, (m) => m.operation);
    const store = engineOf(cache, 'test').store;
    jest.spyOn(store, 'getMany').mockRejectedValueOnce(new Error('connection reset'));
    cache.on('error', () => undefined);
    expect(await cache.get('k')).toBeUndefined();
    expect(calls.messages).toEqual([expect.objectContaining({ operation: 'get', key: 'k', ok: false, error: new Error('connection reset') })]);
    expect(calls.sequence).toEqual(['start get', 'end get', 'error get', 'asyncStart get', 'asyncEnd get']);
  });

  it("trace a wait for another process's lock, and the computation that found its result (hit)", async () => {
    const prefix = uniquePrefix('tracing-lock');
    const [owner, waiter] = [redisCache(prefix), redisCache(prefix)];
    await Promise.all([owner.get('warm-up'), waiter.get('warm-up')]);
    const computes = listen(TRACING_CHANNELS.compute, (m) => m.key);
    const locks = listen(TRACING_CHANNELS.lock, (m) => m.key);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let ownerComputing!: () => void;
    const computing = new Promise<void>((resolve) => (ownerComputing = resolve));
    const owned = owner.getOrSet('busy', async () => {
      ownerComputing();
      await released;
      return 'computed once';
    });
    await computing; // the owner holds the lock
    const waited = waiter.getOrSet('busy', async () => 'computed twice');
    tracingChannel<unknown, object>(TRACING_CHANNELS.lock).start.subscribe(function onWait() {
      tracingChannel<unknown, object>(TRACING_CHANNELS.lock).start.unsubscribe(onWait);
      release();
    });
    expect(await Promise.all([owned, waited])).toEqual(['computed once', 'computed once']);
    expect(locks.messages).toEqual([expect.objectContaining({ key: 'busy', outcome: 'hit' })]);
    expect(computes.messages.map((m) => m.outcome)).toEqual(['miss', 'hit']);
    expect(locks.sequence).toEqual(['start busy', 'end busy', 'asyncStart busy', 'asyncEnd busy']);
  });
});
