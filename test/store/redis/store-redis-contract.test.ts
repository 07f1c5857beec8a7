// The Store contract (src/store/store.ts) on every Redis topology the tests can reach: one server,
// a cluster, a primary behind sentinels; with and without the in-process tier; and the ways an
// app can name them (options, URLs, ready clients of every kind, keyv adapters).
import KeyvRedis, { createClient, createCluster, createSentinel, Keyv } from '@keyv/redis';
import { Cache } from '../../../src';
import { systemClock } from '../../../src/core/clock';
import { createStore, type StoreOption } from '../../../src/store/create-store';
import { NotANumberError, type Store } from '../../../src/store/store';
import { clusterNodes, redisTopologies, redisUrl, sentinelSetup, sleep, uniquePrefix } from '../../support/stores';

jest.setTimeout(30000);

function make(store: StoreOption, keyPrefix: string, l1: boolean, errors: unknown[] = []): Store {
  return createStore({
    store,
    keyPrefix,
    maxBytes: undefined,
    l1: l1 ? { timeoutMs: 60_000 } : false,
    clock: systemClock,
    onError: (err) => errors.push(err),
    onRemoteChange: () => undefined,
  });
}

/** Keys that land on every master of a 3-master cluster (slots spread over the range). */
const spread = Array.from({ length: 24 }, (_, i) => `key-${i}`);

const suite = redisTopologies.length > 0 ? describe : describe.skip;

suite.each(redisTopologies.flatMap((t) => [{ ...t, l1: false }, { ...t, l1: true }]))('the Redis store on $name (l1: $l1)', ({ store: option, l1 }) => {
  let store: Store;
  let other: Store; // another cache with another prefix on the same deployment
  const errors: unknown[] = [];
  beforeAll(() => {
    store = make(option!, uniquePrefix('contract'), l1, errors);
    other = make(option!, uniquePrefix('contract-other'), false);
  });
  afterAll(async () => {
    await store.clear();
    await other.clear();
    await Promise.all([store.close(), other.close()]);
  });

  it('stores and reads encoded strings; ttl 0 is forever, a ttl expires', async () => {
    expect(await store.set('a', 'sA', 0)).toBe(true);
    expect(await store.get('a')).toBe('sA');
    expect(await store.set('short', 'sB', 150)).toBe(true);
    expect(await store.has('short')).toBe(true);
    await sleep(250);
    expect(await store.get('short')).toBeUndefined();
    expect(await store.has('short')).toBe(false);
    expect(await store.get('a')).toBe('sA');
  });

  it('fences increments: a cancel undoes one that was applied, and refuses one that arrives after it', async () => {
    expect(await store.increment('fenced', 5, 60_000, 'op-a')).toBe(5);
    await store.capabilities!.fencedIncrements!.cancelIncrement('fenced', 5, 'op-a');
    await store.capabilities!.fencedIncrements!.cancelIncrement('fenced', 5, 'op-a'); // twice: undone once
    expect(await store.increment('fenced', 1, 60_000)).toBe(1);
    await store.capabilities!.fencedIncrements!.cancelIncrement('fenced', 3, 'op-late');
    await expect(store.increment('fenced', 3, 60_000, 'op-late')).rejects.toThrow(/CANCELLED/);
    expect(await store.increment('fenced', 1, 60_000, 'op-b')).toBe(2);
  });

  it('reads many keys across slots in order, misses as undefined', async () => {
    await Promise.all(spread.map((key) => store.set(key, `s${key}`, 60_000)));
    const keys = [...spread, 'missing-1', spread[0], 'missing-2'];
    expect(await store.getMany(keys)).toEqual(keys.map((key) => (key.startsWith('missing') ? undefined : `s${key}`)));
    expect(await store.getMany([])).toEqual([]);
  });

  it('adds only when absent, deletes, tells whether it had the key', async () => {
    expect(await store.add('nx', 'sfirst', 60_000)).toBe(true);
    expect(await store.add('nx', 'ssecond', 60_000)).toBe(false);
    expect(await store.get('nx')).toBe('sfirst');
    expect(await store.delete('nx')).toBe(true);
    expect(await store.delete('nx')).toBe(false);
    expect(await store.add('nx', 'sthird', 0)).toBe(true);
    expect(await store.get('nx')).toBe('sthird');
  });

  it('increments atomically, keeping the expiry; refuses a non-integer with a TypeError', async () => {
    expect(await store.increment('n', 2, 400)).toBe(2);
    const increments = await Promise.all(Array.from({ length: 20 }, () => store.increment('n', 1, 60_000)));
    expect(Math.max(...increments)).toBe(22);
    expect(new Set(increments).size).toBe(20);
    await sleep(500); // the first call's 400 ms still rules
    expect(await store.get('n')).toBeUndefined();
    await store.set('text', 'snot a number', 60_000);
    const failed = store.increment('text', 1, 60_000);
    await expect(failed).rejects.toBeInstanceOf(NotANumberError);
    await expect(failed).rejects.toBeInstanceOf(TypeError);
    expect(await store.increment('forever', -3, 0)).toBe(-3);
  });

  it("clears this cache's keys on every master, and nothing else", async () => {
    await Promise.all(spread.map((key) => other.set(key, 'sother', 60_000)));
    await Promise.all(spread.map((key) => store.set(key, 'smine', 60_000)));
    await store.clear();
    expect(await store.getMany(spread)).toEqual(spread.map(() => undefined));
    expect(await other.getMany(spread)).toEqual(spread.map(() => 'sother'));
  });

  it('closes within a bound', async () => {
    const extra = make(option!, uniquePrefix('close'), l1);
    await extra.set('k', 'sv', 1000);
    const started = performance.now();
    await extra.close();
    expect(performance.now() - started).toBeLessThan(1500);
    await expect(extra.set('k', 'sv', 1000)).rejects.toThrow(/closed/);
  });
});

(redisUrl ? describe : describe.skip)('prefixes with glob characters', () => {
  it('clear() removes only keys of its own prefix, not those its glob would match', async () => {
    const base = uniquePrefix('glob');
    const star = make(redisUrl!, `${base}*`, false);
    const plain = make(redisUrl!, `${base}x`, false);
    try {
      await plain.set('k', 'sv', 60_000);
      await star.set('k', 'sv', 60_000);
      await star.clear();
      expect(await star.get('k')).toBeUndefined();
      expect(await plain.get('k')).toBe('sv');
    } finally {
      await plain.clear();
      await Promise.all([star.close(), plain.close()]);
    }
  });
});

/** Every form of store option an app can hand over, with the deployment it names. */
function readyClients(): { name: string; make: () => unknown; l1: boolean }[] {
  const forms: { name: string; make: () => unknown; l1: boolean }[] = [];
  if (redisUrl) {
    forms.push(
      { name: 'an unconnected createClient()', make: () => createClient({ url: redisUrl }), l1: true },
      { name: 'a KeyvRedis adapter over a URL', make: () => new KeyvRedis(redisUrl), l1: true },
      { name: 'a Keyv over KeyvRedis', make: () => new Keyv(new KeyvRedis(redisUrl), { namespace: uniquePrefix('keyv-ns') }), l1: true },
    );
  }
  if (clusterNodes) {
    const rootNodes = clusterNodes.map((url) => ({ url }));
    forms.push(
      { name: 'an unconnected createCluster()', make: () => createCluster({ rootNodes }), l1: true },
      { name: 'a KeyvRedis adapter over an unconnected cluster', make: () => new KeyvRedis(createCluster({ rootNodes }) as never), l1: true },
      { name: 'a Keyv over KeyvRedis over a cluster', make: () => new Keyv(new KeyvRedis(createCluster({ rootNodes }) as never), { namespace: uniquePrefix('keyv-ns') }), l1: true },
    );
  }
  if (sentinelSetup) {
    const { name, nodes } = sentinelSetup;
    const sentinelRootNodes = nodes.map((node) => ({ host: node.split(':')[0], port: Number(node.split(':')[1]) }));
    forms.push({ name: 'an unconnected createSentinel()', make: () => createSentinel({ name, sentinelRootNodes }), l1: true });
  }
  return forms;
}

const forms = readyClients();
(forms.length > 0 ? describe : describe.skip).each(forms)('$name as the store', ({ make: makeOption, l1 }) => {
  it('serves the cache API, with L1 on by default, and closes within a bound', async () => {
    const option = makeOption();
    const cache = new Cache({ store: option as StoreOption, keyPrefix: uniquePrefix('ready'), operationTimeoutMs: 2000 });
    const errors: unknown[] = [];
    cache.on('error', (err) => errors.push(err));
    try {
      expect(await cache.set('k', { v: 1 })).toBe(true);
      expect(await cache.get('k')).toEqual({ v: 1 });
      expect(await cache.setMany({ a: 1, b: 2, c: 3, d: 4 })).toBe(true);
      expect(await cache.getMany(['a', 'b', 'c', 'd', 'e'])).toEqual([1, 2, 3, 4, undefined]);
      expect(await cache.inc('n', 5)).toBe(5);
      expect(await cache.add('k', 'again')).toBe(false);
      await cache.set('tagged', 'v', { tags: ['t1', 't2', 't3'] });
      expect(await cache.get('tagged')).toBe('v');
      await cache.invalidateTags(['t2']);
      expect(await cache.get('tagged')).toBeUndefined();
      if (l1) {
        expect(await cache.get('k')).toEqual({ v: 1 }); // (the add above dropped it from L1)
        expect(cache.peek('k')).toEqual({ v: 1 });
      }
      await cache.clear();
      expect(await cache.get('k')).toBeUndefined();
      expect(errors).toEqual([]);
    } finally {
      const started = performance.now();
      await cache.close();
      expect(performance.now() - started).toBeLessThan(2000);
      const client = (option as { client?: { isOpen: boolean; destroy(): void } }).client ?? (option as { store?: { client?: { isOpen: boolean; destroy(): void } } }).store?.client;
      if (client?.isOpen) client.destroy();
    }
  });
});
