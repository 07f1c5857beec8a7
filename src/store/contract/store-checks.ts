// The checks of the Store contract (src/store/store.ts), one test each. Node built-ins only: this
// runs in store authors' test suites, under whatever test runner they use.
import assert from 'node:assert/strict';
import { encode, encodeEntry } from '../../core/codec';
import type { Store, StoreCapabilities } from '../store';

/** What a check gets: the store under test, a way to make more, and the suite's timings. */
export interface CheckContext {
  store: Store;
  /** Another store over the same backend (closed after the test): in a namespace of its own, or in the store's with `sameNamespace`. */
  another(sameNamespace?: boolean): Promise<Store>;
  /** Another store in the store's namespace that the suite does not close. */
  unmanaged(): Promise<Store>;
  wait(ms: number): Promise<void>;
  ttlMs: number;
  closeWithinMs: number;
}

export interface Check {
  name: string;
  /** Runs only on stores that declare this capability (or have `whenChanged`). */
  needs?: keyof StoreCapabilities | 'whenChanged';
  run(context: CheckContext): Promise<void>;
}

/** Encoded entries of every form the cache writes, and text a careless store would mangle. */
const VALUES = [
  encode('v', 'plain text'),
  encode('v', ''),
  encode('v', 'ünïcödé, 中文, 🙂 and a lone surrogate \ud800 and NUL \u0000'),
  encode('v', 'line\nbreaks\r\n and "quotes" and \\backslashes\\ and {"value":"x","expires":1}'),
  encode('v', 'x'.repeat(200_000)),
  encode('v', Buffer.from([0, 1, 2, 254, 255])),
  encode('v', { nested: [1, -0, null, 'two', { $b: 'not a buffer' }] }),
  encodeEntry('v', { value: '<p>tagged</p>', tags: { 'product:1': 'v1' }, storedAt: 1_700_000_000_000 }),
];

const KEYS = ['a', 'A', 'a:b', 'a::b', 'with space', 'ключ', '{tag}x', 'x*y?[z]\\', 'lock:a', 'tag:product:1', 'k'.repeat(500)];

/** Rejects as the contract says an increment of a non-integer must. */
async function rejectsNotANumber(store: Store, key: string, data: string, ttlMs: number): Promise<void> {
  await store.set(key, data, ttlMs);
  await assert.rejects(store.increment(key, 1, ttlMs), TypeError, `increment of ${JSON.stringify(data.slice(0, 20))} must reject with a TypeError`);
  assert.equal(await store.get(key), data, 'a refused increment leaves the entry as it was');
}

export const CHECKS: Check[] = [
  {
    name: 'declares local as a boolean, and each capability it declares complete',
    async run({ store }) {
      assert.equal(typeof store.local, 'boolean');
      const { sync, l1, fencedIncrements, memoryUsage } = store.capabilities ?? {};
      if (sync) {
        assert.equal(store.local, true, 'capabilities.sync needs local: true');
        assert.equal(typeof sync.getNow, 'function');
        assert.equal(typeof sync.setNow, 'function');
      }
      if (l1) assert.equal(typeof l1.getNow, 'function');
      if (fencedIncrements) assert.equal(typeof fencedIncrements.cancelIncrement, 'function');
      if (memoryUsage) {
        const use = memoryUsage.call(store.capabilities);
        assert.ok(Number.isSafeInteger(use.entries) && use.entries >= 0, `memoryUsage().entries: ${use.entries}`);
        assert.ok(Number.isSafeInteger(use.bytes) && use.bytes >= 0, `memoryUsage().bytes: ${use.bytes}`);
      }
    },
  },
  {
    name: 'get: a miss is undefined, and what was set comes back exactly as given',
    async run({ store }) {
      assert.equal(await store.get('absent'), undefined);
      for (const [i, data] of VALUES.entries()) {
        assert.equal(await store.set(`value-${i}`, data, 60_000), true, `set resolves true once stored (value ${i})`);
        assert.ok((await store.get(`value-${i}`)) === data, `value ${i} must come back unchanged (${JSON.stringify(data.slice(0, 40))}…)`);
      }
    },
  },
  {
    name: 'keys: any characters, each key its own entry',
    async run({ store }) {
      for (const key of KEYS) assert.equal(await store.set(key, encode(key, key), 60_000), true);
      assert.deepEqual(await store.getMany(KEYS), KEYS.map((key) => encode(key, key)));
    },
  },
  {
    name: 'getMany: in the order asked, undefined for each miss, a repeated key answered each time',
    async run({ store }) {
      await store.set('a', 'sA', 60_000);
      await store.set('c', 'sC', 60_000);
      assert.deepEqual(await store.getMany(['c', 'missing', 'a', 'c']), ['sC', undefined, 'sA', 'sC']);
      assert.deepEqual(await store.getMany(['missing']), [undefined]);
      assert.deepEqual(await store.getMany([]), []);
    },
  },
  {
    name: 'set overwrites; add stores only when the key is absent, and says whether it stored',
    async run({ store }) {
      assert.equal(await store.set('k', 'sone', 60_000), true);
      assert.equal(await store.set('k', 'stwo', 60_000), true);
      assert.equal(await store.get('k'), 'stwo');
      assert.equal(await store.add('k', 'sthree', 60_000), false);
      assert.equal(await store.get('k'), 'stwo');
      assert.equal(await store.add('new', 'sfirst', 60_000), true);
      assert.equal(await store.add('new', 'ssecond', 60_000), false);
      assert.equal(await store.get('new'), 'sfirst');
    },
  },
  {
    name: 'delete says whether there was an entry; has tells presence',
    async run({ store }) {
      assert.equal(await store.has('k'), false);
      await store.set('k', 'sv', 60_000);
      assert.equal(await store.has('k'), true);
      assert.equal(await store.delete('k'), true);
      assert.equal(await store.delete('k'), false);
      assert.equal(await store.has('k'), false);
      assert.equal(await store.get('k'), undefined);
    },
  },
  {
    name: 'ttl: an entry expires after its ttlMs, for get, getMany, has and add; 0 never expires',
    async run({ store, wait, ttlMs }) {
      await store.set('short', 'sshort', ttlMs);
      assert.equal(await store.has('short'), true, 'an entry is there before its ttl');
      await store.set('forever', 'sforever', 0);
      await store.set('long', 'slong', 60_000);
      await wait(ttlMs * 2);
      assert.equal(await store.get('short'), undefined, 'expired');
      assert.deepEqual(await store.getMany(['short', 'forever', 'long']), [undefined, 'sforever', 'slong']);
      assert.equal(await store.has('short'), false);
      assert.equal(await store.add('short', 'sagain', 60_000), true, 'an expired key counts as absent for add');
      await store.delete('forever');
    },
  },
  {
    name: 'set gives a rewritten entry the new ttl',
    async run({ store, wait, ttlMs }) {
      await store.set('k', 'sold', ttlMs);
      await store.set('k', 'snew', 60_000);
      await store.set('j', 'sold', 60_000);
      await store.set('j', 'snew', ttlMs);
      await wait(ttlMs * 2);
      assert.equal(await store.get('k'), 'snew', 'a longer ttl replaces a shorter one');
      assert.equal(await store.get('j'), undefined, 'a shorter ttl replaces a longer one');
    },
  },
  {
    name: 'increment: absent counts as 0 and is stored as j<integer>; counts up and down',
    async run({ store }) {
      assert.equal(await store.increment('n', 5, 60_000), 5);
      assert.equal(await store.get('n'), 'j5');
      assert.equal(await store.increment('n', -7, 60_000), -2);
      assert.equal(await store.get('n'), 'j-2');
      await store.set('stored', encode('stored', 41), 60_000);
      assert.equal(await store.increment('stored', 1, 60_000), 42, 'an integer written by set counts');
    },
  },
  {
    name: 'increment: a new counter gets the ttl given; an existing entry keeps its expiry',
    async run({ store, wait, ttlMs }) {
      assert.equal(await store.increment('new', 1, ttlMs), 1);
      await store.set('existing', 'j5', ttlMs);
      assert.equal(await store.increment('existing', 1, 60_000), 6);
      await store.set('forever', 'j1', 0);
      assert.equal(await store.increment('forever', 1, ttlMs), 2);
      await wait(ttlMs * 2);
      assert.deepEqual(await store.getMany(['new', 'existing', 'forever']), [undefined, undefined, 'j2']);
      await store.delete('forever');
    },
  },
  {
    name: 'increment rejects with a TypeError on an entry that is not an integer, and leaves it',
    async run({ store }) {
      await rejectsNotANumber(store, 'text', encode('text', 'not a number'), 60_000);
      await rejectsNotANumber(store, 'float', 'j1.5', 60_000);
      await rejectsNotANumber(store, 'json-string', 'j"5"', 60_000);
      await rejectsNotANumber(store, 'buffer', encode('buffer', Buffer.from('x')), 60_000);
    },
  },
  {
    name: 'clear removes every entry of its namespace, and nothing else',
    async run({ store, another }) {
      const other = await another();
      const keys = ['a', 'n', 'forever', ...KEYS];
      await Promise.all(keys.map((key) => other.set(key, 'sother', 60_000)));
      await Promise.all(keys.map((key) => store.set(key, 'smine', 60_000)));
      await store.increment('n', 1, 60_000).catch(() => undefined);
      await store.set('forever', 'smine', 0);
      await store.clear();
      assert.deepEqual(await store.getMany(keys), keys.map(() => undefined));
      assert.deepEqual(await other.getMany(keys), keys.map(() => 'sother'), "clear must leave other namespaces' entries");
    },
  },
  {
    name: 'close resolves within closeWithinMs',
    async run({ unmanaged, closeWithinMs }) {
      const extra = await unmanaged();
      await extra.set('k', 'sv', 60_000);
      const started = performance.now();
      await extra.close();
      const tookMs = performance.now() - started;
      assert.ok(tookMs < closeWithinMs, `close() took ${Math.round(tookMs)} ms`);
    },
  },
];
