import { encode, encodeEntry } from '../../src/core/codec';
import { MemoryStore } from '../../src/store/memory';
import { isStore, NotANumberError } from '../../src/store/store';
import { manualClock, type ManualClock } from '../support/clock';

/** The Store contract on the embedded store, its time given by a manual clock. */
describe('MemoryStore', () => {
  let clock: ManualClock;
  let store: MemoryStore;
  beforeEach(() => {
    clock = manualClock();
    store = new MemoryStore(64 * 1024, clock);
  });

  it('is a local Store', () => {
    expect(isStore(store)).toBe(true);
    expect(store.local).toBe(true);
  });

  it('refuses a bound that is not an integer of at least 1024 bytes', () => {
    for (const bad of [0, 1023, 2048.5, NaN, Infinity, -4096]) {
      expect(() => new MemoryStore(bad, clock)).toThrow(new RangeError(`maxBytes must be an integer >= 1024, got ${String(bad)}`));
    }
    expect(() => new MemoryStore(1024, clock)).not.toThrow();
  });

  describe('get, getMany, set, add, delete, has', () => {
    it('gets what was set, exactly as given, and misses as undefined', async () => {
      expect(await store.get('k')).toBeUndefined();
      expect(await store.set('k', 'sv', 0)).toBe(true);
      expect(await store.get('k')).toBe('sv');
      expect(store.getNow('k')).toBe('sv');
      expect(await store.set('k', 'j{"a":1}', 0)).toBe(true);
      expect(await store.get('k')).toBe('j{"a":1}');
    });

    it('answers getMany in the order asked, undefined for each miss', async () => {
      await store.set('a', 'sA', 0);
      await store.set('c', 'sC', 0);
      expect(await store.getMany(['c', 'b', 'a', 'c'])).toEqual(['sC', undefined, 'sA', 'sC']);
      expect(await store.getMany([])).toEqual([]);
    });

    it('adds only when the key is absent, and says whether it stored', async () => {
      expect(await store.add('once', 'sfirst', 0)).toBe(true);
      expect(await store.add('once', 'ssecond', 0)).toBe(false);
      expect(await store.get('once')).toBe('sfirst');
    });

    it('deletes, saying whether there was an entry, and has() tells presence', async () => {
      await store.set('k', 'sv', 0);
      expect(await store.has('k')).toBe(true);
      expect(await store.delete('k')).toBe(true);
      expect(await store.delete('k')).toBe(false);
      expect(await store.has('k')).toBe(false);
      expect(await store.get('k')).toBeUndefined();
    });

    it('clears everything; drop and dropAll do the same synchronously', async () => {
      await store.set('a', 'sA', 0);
      await store.set('b', 'sB', 0);
      store.drop('a');
      expect(store.getNow('a')).toBeUndefined();
      expect(store.getNow('b')).toBe('sB');
      store.dropAll();
      expect(store.size).toBe(0);
      await store.set('c', 'sC', 0);
      await store.clear();
      expect([store.size, store.bytes]).toEqual([0, 0]);
    });
  });

  describe('setNow', () => {
    it('sets synchronously, or with onlyIfAbsent adds, returning whether it stored', () => {
      expect(store.setNow('k', 'sone', 0, false)).toBe(true);
      expect(store.getNow('k')).toBe('sone');
      expect(store.setNow('k', 'stwo', 0, true)).toBe(false);
      expect(store.getNow('k')).toBe('sone');
      expect(store.setNow('k', 'sthree', 0, false)).toBe(true);
      expect(store.getNow('k')).toBe('sthree');
      expect(store.setNow('fresh', 'sx', 0, true)).toBe(true);
    });
  });

  describe('increment', () => {
    it('counts from 0, stores the integer readable as j<integer>, and goes down too', async () => {
      expect(await store.increment('n', 1, 0)).toBe(1);
      expect(await store.increment('n', 10, 0)).toBe(11);
      expect(await store.increment('n', -12, 0)).toBe(-1);
      expect(await store.get('n')).toBe('j-1');
      await store.set('stored', encode('stored', 41), 0);
      expect(await store.increment('stored', 1, 0)).toBe(42);
    });

    it('keeps the expiry of an existing entry; a new counter gets the ttl given', async () => {
      await store.set('counted', 'j5', 300);
      await clock.pass(200);
      expect(await store.increment('counted', 1, 10_000)).toBe(6); // its ttl is not renewed
      await clock.pass(99);
      expect(await store.get('counted')).toBe('j6');
      await clock.pass(2);
      expect(await store.get('counted')).toBeUndefined();
      expect(await store.increment('counted', 1, 100)).toBe(1); // expired: a new counter
      await clock.pass(101);
      expect(await store.get('counted')).toBeUndefined();
    });

    it('keeps an entry that never expires never expiring', async () => {
      await store.set('forever', 'j1', 0);
      await store.increment('forever', 1, 50);
      await clock.pass(1_000_000);
      expect(await store.get('forever')).toBe('j2');
    });

    it.each([
      ['a string', 'snot a number'],
      ['a float', 'j1.5'],
      ['a JSON string of digits', 'j"5"'],
      ['an unsafe integer', 'j9007199254740993'],
      ['a Buffer', 'bAQ=='],
    ])('rejects with NotANumberError on %s, leaving it as it was', async (_label, data) => {
      await store.set('k', data, 0);
      const failed = store.increment('k', 1, 0);
      await expect(failed).rejects.toBeInstanceOf(NotANumberError);
      await expect(store.increment('k', 1, 0)).rejects.toThrow(new TypeError('cannot increment key "k": its value is not an integer'));
      await expect(failed).rejects.toMatchObject({ name: 'NotANumberError' });
      expect(await store.get('k')).toBe(data);
    });
  });

  describe('peek', () => {
    it('decodes synchronously, and misses as undefined', async () => {
      await store.set('obj', encode('obj', { a: [1] }), 0);
      expect(store.peek('obj')).toEqual({ value: { a: [1] } });
      expect(store.peek('absent')).toBeUndefined();
    });

    it('hands every hit of a string entry (a fragment) the same decoded entry', async () => {
      await store.set('frag', encode('frag', '<b>hi</b>'), 0);
      const first = store.peek('frag');
      expect(first).toEqual({ value: '<b>hi</b>' });
      expect(store.peek('frag')).toBe(first);
      expect(store.peek('frag')).toBe(first);
      await store.set('frag', encode('frag', '<b>new</b>'), 0); // a new entry is decoded anew
      const second = store.peek('frag');
      expect(second).not.toBe(first);
      expect(second).toEqual({ value: '<b>new</b>' });
      expect(store.peek('frag')).toBe(second);
    });

    it('shares a string entry with a header too, its tags included', async () => {
      await store.set('tagged', encodeEntry('tagged', { value: 'html', tags: { 'product:1': 'v1' }, storedAt: 7 }), 0);
      const entry = store.peek('tagged');
      expect(entry).toEqual({ value: 'html', tags: { 'product:1': 'v1' }, storedAt: 7, holes: undefined, digest: undefined });
      expect(store.peek('tagged')).toBe(entry);
    });

    it('decodes other values afresh on each read, so mutating one never changes the entry', async () => {
      await store.set('obj', encode('obj', { list: [1] }), 0);
      const first = store.peek('obj') as { value: { list: number[] } };
      expect(store.peek('obj')).not.toBe(first);
      first.value.list.push(2);
      expect(store.peek('obj')).toEqual({ value: { list: [1] } });
      await store.set('buf', encode('buf', Buffer.from('x')), 0);
      expect(store.peek('buf')).not.toBe(store.peek('buf'));
    });
  });

  describe('the byte bound', () => {
    /** Bytes one entry costs: its key and text at 2 bytes a character, plus the fixed overhead. */
    const costOf = async (key: string, data: string) => {
      const probe = new MemoryStore(1024 * 1024, clock);
      await probe.set(key, data, 0);
      return probe.bytes;
    };

    it('counts UTF-16 text at 2 bytes a character plus a fixed overhead per entry', async () => {
      const short = await costOf('k', 's');
      expect(await costOf('k', 's' + 'x'.repeat(100))).toBe(short + 200);
      expect(await costOf('k'.repeat(11), 's')).toBe(short + 20);
      await store.set('a', 'sxx', 0);
      await store.set('b', 'sxx', 0);
      expect(store.bytes).toBe(2 * (await costOf('a', 'sxx')));
      await store.delete('a');
      expect(store.bytes).toBe(await costOf('b', 'sxx'));
    });

    it('evicts the least recently used entries to stay within the bound', async () => {
      const data = 's' + 'x'.repeat(200);
      const each = await costOf('k0', data);
      const bound = 4 * each + Math.floor(each / 2); // room for 4
      const bounded = new MemoryStore(bound, clock);
      for (const key of ['k0', 'k1', 'k2', 'k3']) await bounded.set(key, data, 0);
      expect(bounded.size).toBe(4);
      await bounded.get('k0'); // k0 is now the most recently used, k1 the least
      await bounded.set('k4', data, 0);
      expect(bounded.size).toBe(4);
      expect(bounded.getNow('k1')).toBeUndefined();
      expect(await bounded.getMany(['k0', 'k2', 'k3', 'k4'])).toEqual([data, data, data, data]);
      for (let i = 5; i < 100; i++) await bounded.set(`k${i}`, data, 0);
      expect(bounded.bytes).toBeLessThanOrEqual(bound);
      expect(bounded.size).toBe(4);
    });

    it('does not store an entry larger than the whole bound, and says so', async () => {
      const small = new MemoryStore(1024, clock);
      await small.set('kept', 'sx', 0);
      expect(await small.set('huge', 's' + 'x'.repeat(1000), 0)).toBe(false);
      expect(small.setNow('huge', 's' + 'x'.repeat(1000), 0, false)).toBe(false);
      expect(await small.add('huge', 's' + 'x'.repeat(1000), 0)).toBe(false);
      expect(await small.has('huge')).toBe(false);
      expect(small.getNow('kept')).toBe('sx');
    });
  });

  describe('expiry on its clock', () => {
    it('keeps an entry for its ttl in ms and not a millisecond more; 0 never expires', async () => {
      await store.set('short', 'sx', 100);
      await store.set('forever', 'sy', 0);
      await clock.pass(100);
      expect(await store.get('short')).toBe('sx');
      await clock.pass(1);
      expect(await store.get('short')).toBeUndefined();
      expect(store.peek('short')).toBeUndefined();
      expect(await store.has('short')).toBe(false);
      await clock.pass(365 * 24 * 3600 * 1000);
      expect(await store.get('forever')).toBe('sy');
    });

    it('counts an expired entry as absent for add, setNow with onlyIfAbsent, and getMany', async () => {
      await store.set('gone', 'sold', 50);
      store.setNow('gone-too', 'sold', 50, false);
      await clock.pass(51);
      expect(await store.getMany(['gone', 'gone-too'])).toEqual([undefined, undefined]);
      expect(await store.add('gone', 'snew', 0)).toBe(true);
      expect(store.setNow('gone-too', 'snew', 0, true)).toBe(true);
      expect(await store.getMany(['gone', 'gone-too'])).toEqual(['snew', 'snew']);
    });

    it('gives a rewritten entry the new ttl', async () => {
      await store.set('k', 'sold', 50);
      await clock.pass(40);
      await store.set('k', 'snew', 50);
      await clock.pass(40);
      expect(await store.get('k')).toBe('snew');
      await store.set('k', 'sforever', 0);
      await clock.pass(1000);
      expect(await store.get('k')).toBe('sforever');
    });

    it('follows only its clock: real time passing expires nothing', async () => {
      await store.set('k', 'sv', 20);
      await new Promise((resolve) => setTimeout(resolve, 40));
      expect(await store.get('k')).toBe('sv');
    });
  });
});
