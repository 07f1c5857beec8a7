// The checks of what a store declares beyond the Store methods: each must agree with the async view.
import assert from 'node:assert/strict';
import type { Check } from './store-checks';

export const CAPABILITY_CHECKS: Check[] = [
  {
    name: 'capabilities.sync: getNow and setNow see what the async methods see',
    needs: 'sync',
    async run({ store, wait, ttlMs }) {
      const sync = store.capabilities!.sync!;
      await store.set('k', 'sasync', 60_000);
      assert.equal(sync.getNow('k'), 'sasync');
      assert.equal(sync.setNow('k', 'ssync', 60_000, false), true);
      assert.equal(await store.get('k'), 'ssync');
      assert.equal(sync.setNow('k', 'sadd', 60_000, true), false, 'onlyIfAbsent on a present key');
      assert.equal(sync.getNow('k'), 'ssync');
      assert.equal(sync.setNow('fresh', 'sadd', ttlMs, true), true, 'onlyIfAbsent on an absent key');
      assert.equal(await store.delete('k'), true);
      assert.equal(sync.getNow('k'), undefined);
      await wait(ttlMs * 2);
      assert.equal(sync.getNow('fresh'), undefined, 'setNow honours ttlMs');
      assert.equal(await store.get('fresh'), undefined);
    },
  },
  {
    name: 'capabilities.l1: getNow answers a miss or what get resolves, never an entry changed here since',
    needs: 'l1',
    async run({ store }) {
      const l1 = store.capabilities!.l1!;
      const agrees = async (key: string) => {
        const now = l1.getNow(key);
        assert.ok(now === undefined || now === (await store.get(key)), `getNow(${key}) disagrees with get`);
      };
      await store.set('k', 'sone', 60_000);
      await agrees('k');
      await store.get('k');
      await agrees('k');
      await store.set('k', 'stwo', 60_000);
      await agrees('k');
      await store.delete('k');
      assert.equal(l1.getNow('k'), undefined, 'a delete here drops the copy');
      await store.set('k', 'sthree', 60_000);
      await store.clear();
      assert.equal(l1.getNow('k'), undefined, 'a clear here drops the copy');
    },
  },
  {
    name: 'capabilities.fencedIncrements: a cancel undoes an applied increment once, and refuses one arriving after it',
    needs: 'fencedIncrements',
    async run({ store }) {
      const fenced = store.capabilities!.fencedIncrements!;
      assert.equal(await store.increment('f', 5, 60_000, 'op-a'), 5);
      await fenced.cancelIncrement('f', 5, 'op-a');
      await fenced.cancelIncrement('f', 5, 'op-a');
      assert.equal(await store.increment('f', 1, 60_000), 1, 'cancelled twice, undone once');
      await fenced.cancelIncrement('f', 3, 'op-late');
      await assert.rejects(store.increment('f', 3, 60_000, 'op-late'), 'an increment arriving after its cancel is refused');
      assert.equal(await store.increment('f', 1, 60_000, 'op-b'), 2);
    },
  },
  {
    name: 'capabilities.memoryUsage counts at least the entries getNow answers',
    needs: 'memoryUsage',
    async run({ store }) {
      const { sync, l1 } = store.capabilities!;
      const usage = () => store.capabilities!.memoryUsage!();
      const keys = ['a', 'b', 'c'];
      for (const key of keys) await store.set(key, 'sv', 60_000);
      await store.getMany(keys);
      const answered = keys.filter((key) => (sync ?? l1)?.getNow(key) !== undefined).length;
      if (sync) assert.equal(answered, keys.length, 'a local store answers getNow for what it holds');
      const held = usage();
      assert.ok(held.entries >= answered && (held.entries === 0 || held.bytes > 0), `${answered} answered by getNow, memoryUsage() ${JSON.stringify(held)}`);
      await store.clear();
      if (sync) assert.equal(usage().entries, 0, 'after clear');
    },
  },
  {
    name: 'whenChanged: false after ms when nothing changes; true when another store of the namespace changes the key',
    needs: 'whenChanged',
    async run({ store, another }) {
      const started = performance.now();
      assert.equal(await store.whenChanged!('quiet', 100), false);
      const tookMs = performance.now() - started;
      assert.ok(tookMs >= 90 && tookMs < 1100, `whenChanged(key, 100) took ${Math.round(tookMs)} ms`);
      const other = await another(true);
      await other.get('warm-up'); // both connected
      const changed = store.whenChanged!('k', 2000);
      await other.set('k', 'sv', 60_000);
      assert.equal(await changed, true);
    },
  },
];
