import { PendingRemovals, type Removals } from '../../src/core/pending';

/** What a store does with the removals retried: accepts, refuses or fails each, as the test decides. */
function fakeRemovals() {
  const calls = { keys: [] as string[], tags: [] as string[], cancels: [] as string[], givenUp: [] as string[] };
  let answer: (what: string) => boolean | Promise<boolean> = () => false;
  const removals: Removals = {
    deleteKey: async (key) => (calls.keys.push(key), answer(key)),
    invalidateTag: async (tag) => (calls.tags.push(tag), answer(tag)),
    cancelIncrement: async (key, delta, op) => (calls.cancels.push(`${key} ${delta} ${op}`), answer(key)),
    giveUp: (what) => void calls.givenUp.push(what),
  };
  return { removals, calls, answerWith: (next: typeof answer) => (answer = next) };
}

const RETRY_MS = 500; // the module's retry interval

describe('PendingRemovals', () => {
  let store: ReturnType<typeof fakeRemovals>;
  let pending: PendingRemovals;
  beforeEach(() => {
    jest.useFakeTimers();
    store = fakeRemovals();
    pending = new PendingRemovals(store.removals);
  });
  afterEach(() => {
    pending.stop();
    jest.useRealTimers();
  });

  it('lets a write wait for a retried delete of its key that is on its way', async () => {
    let land!: (ok: boolean) => void;
    store.answerWith(() => new Promise<boolean>((resolve) => (land = resolve)));
    pending.keyFailed('page');
    expect(pending.quiet('page')).toBeUndefined();
    await jest.advanceTimersByTimeAsync(RETRY_MS);
    const quiet = pending.quiet('page');
    expect(quiet).toBeDefined();
    expect(pending.quiet('other')).toBeUndefined();
    let settled = false;
    void quiet!.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    land(true);
    await quiet;
    expect(pending.quiet('page')).toBeUndefined();
    expect(pending.covers('page', undefined)).toBe(false);
  });

  describe('failed increments', () => {
    it('are cancelled before the key is incremented again, and cover the counter until then', async () => {
      pending.incrementFailed('hits', 1, 'op1');
      expect(pending.covers('hits', undefined)).toBe(true);
      expect(await pending.incrementSettled('hits')).toBe(false); // the store refused the cancel
      store.answerWith(() => true);
      expect(await pending.incrementSettled('hits')).toBe(true);
      expect(store.calls.cancels).toEqual(['hits 1 op1', 'hits 1 op1']);
      expect(pending.covers('hits', undefined)).toBe(false);
      expect(await pending.incrementSettled('other')).toBe(true);
    });

    it('are retried on the timer until a cancel lands', async () => {
      pending.incrementFailed('hits', -2, 'op2');
      await jest.advanceTimersByTimeAsync(RETRY_MS);
      expect(store.calls.cancels).toEqual(['hits -2 op2']);
      store.answerWith(() => true);
      await jest.advanceTimersByTimeAsync(RETRY_MS);
      expect(store.calls.cancels).toHaveLength(2);
      expect(pending.covers('hits', undefined)).toBe(false);
      await jest.advanceTimersByTimeAsync(RETRY_MS * 3);
      expect(store.calls.cancels).toHaveLength(2);
    });
  });

  describe('covers', () => {
    it('covers nothing while nothing is pending', () => {
      expect(pending.covers('k', undefined)).toBe(false);
      expect(pending.covers('k', { t: 'v1' })).toBe(false);
    });

    it('covers a key whose delete failed, until it is settled', () => {
      pending.keyFailed('page');
      expect(pending.covers('page', undefined)).toBe(true);
      expect(pending.covers('page', { other: 'v' })).toBe(true);
      expect(pending.covers('card', undefined)).toBe(false);
      pending.keySettled('page');
      expect(pending.covers('page', undefined)).toBe(false);
    });

    it('covers every entry written under a tag whose invalidation failed, until it is settled', () => {
      pending.tagFailed('product:1');
      expect(pending.covers('card', { 'product:1': 'v7' })).toBe(true);
      expect(pending.covers('card', { 'user:2': 'v1', 'product:1': 'v7' })).toBe(true);
      expect(pending.covers('card', { 'product:2': 'v7' })).toBe(false);
      expect(pending.covers('card', undefined)).toBe(false); // written without tags
      expect(pending.covers('card', {})).toBe(false);
      pending.tagSettled('product:1');
      expect(pending.covers('card', { 'product:1': 'v7' })).toBe(false);
    });

    it('keeps keys and tags apart: settling one never settles the other', () => {
      pending.keyFailed('x');
      pending.tagFailed('x');
      pending.keySettled('x');
      expect(pending.covers('x', undefined)).toBe(false);
      expect(pending.covers('y', { x: 'v' })).toBe(true);
      pending.keyFailed('x');
      pending.tagSettled('x');
      expect(pending.covers('x', undefined)).toBe(true);
      expect(pending.covers('y', { x: 'v' })).toBe(false);
    });

    it('settling what is not pending is harmless', () => {
      pending.keySettled('never');
      pending.tagSettled('never');
      expect(pending.covers('never', { never: 'v' })).toBe(false);
    });
  });

  describe('retries', () => {
    it('retries on an interval until the store accepts, then covers nothing and stops', async () => {
      pending.keyFailed('page');
      pending.tagFailed('product:1');
      await jest.advanceTimersByTimeAsync(RETRY_MS - 1);
      expect(store.calls.keys).toEqual([]); // not before the interval
      await jest.advanceTimersByTimeAsync(1);
      expect([store.calls.keys, store.calls.tags]).toEqual([['page'], ['product:1']]);
      expect(pending.covers('page', undefined)).toBe(true); // refused: still pending
      await jest.advanceTimersByTimeAsync(2 * RETRY_MS);
      expect(store.calls.keys).toEqual(['page', 'page', 'page']);
      store.answerWith(() => true);
      await jest.advanceTimersByTimeAsync(RETRY_MS);
      expect(pending.covers('page', undefined)).toBe(false);
      expect(pending.covers('card', { 'product:1': 'v' })).toBe(false);
      const tries = store.calls.keys.length;
      await jest.advanceTimersByTimeAsync(10 * RETRY_MS);
      expect(store.calls.keys.length).toBe(tries); // nothing left: no more timers
      expect(jest.getTimerCount()).toBe(0);
    });

    it('takes each removal off as soon as the store accepts it, keeping the refused ones', async () => {
      store.answerWith((what) => what === 'accepted' || what === 'tag-accepted');
      pending.keyFailed('accepted');
      pending.keyFailed('refused');
      pending.tagFailed('tag-accepted');
      pending.tagFailed('tag-refused');
      await jest.advanceTimersByTimeAsync(RETRY_MS);
      expect(pending.covers('accepted', undefined)).toBe(false);
      expect(pending.covers('refused', undefined)).toBe(true);
      expect(pending.covers('e', { 'tag-accepted': 'v' })).toBe(false);
      expect(pending.covers('e', { 'tag-refused': 'v' })).toBe(true);
      await jest.advanceTimersByTimeAsync(RETRY_MS);
      expect(store.calls.keys).toEqual(['accepted', 'refused', 'refused']);
      expect(store.calls.tags).toEqual(['tag-accepted', 'tag-refused', 'tag-refused']);
    });

    it('keeps retrying after a removal fails outright (a rejection), not only after a refusal', async () => {
      let attempts = 0;
      store.answerWith(() => {
        if (++attempts === 1) throw new Error('connection reset');
        return true;
      });
      pending.tagFailed('product:1');
      await jest.advanceTimersByTimeAsync(RETRY_MS);
      expect(pending.covers('e', { 'product:1': 'v' })).toBe(true);
      await jest.advanceTimersByTimeAsync(RETRY_MS);
      expect(attempts).toBe(2);
      expect(pending.covers('e', { 'product:1': 'v' })).toBe(false);
    });

    it('does not retry what was settled meanwhile (a later delete or write landed)', async () => {
      pending.keyFailed('page');
      pending.keySettled('page');
      await jest.advanceTimersByTimeAsync(3 * RETRY_MS);
      expect(store.calls.keys).toEqual([]);
    });

    it('arms one timer however many removals fail', async () => {
      for (let i = 0; i < 50; i++) pending.keyFailed(`k${i}`);
      expect(jest.getTimerCount()).toBe(1);
      await jest.advanceTimersByTimeAsync(RETRY_MS);
      expect(store.calls.keys.length).toBe(50); // each tried once per round
    });

    it('flush() tries everything now, and concurrent flushes share one round', async () => {
      store.answerWith(() => true);
      pending.keyFailed('a');
      pending.tagFailed('t');
      const [first, second] = [pending.flush(), pending.flush()];
      expect(first).toBe(second);
      await first;
      expect([store.calls.keys, store.calls.tags]).toEqual([['a'], ['t']]);
      expect(pending.covers('a', { t: 'v' })).toBe(false);
    });

    it('stop() ends the retries', async () => {
      pending.keyFailed('page');
      pending.stop();
      await jest.advanceTimersByTimeAsync(3 * RETRY_MS);
      expect(store.calls.keys).toEqual([]);
      expect(pending.covers('page', undefined)).toBe(true); // still a miss here
    });
  });

  describe('the bound', () => {
    const MAX_PENDING = 10_000; // the module's bound on keys and tags pending together

    it('gives up the oldest pending key past the bound, and reports it', () => {
      for (let i = 0; i < MAX_PENDING; i++) pending.keyFailed(`k${i}`);
      expect(store.calls.givenUp).toEqual([]);
      pending.keyFailed('one too many');
      expect(store.calls.givenUp).toEqual(['k0']);
      expect(pending.covers('k0', undefined)).toBe(false);
      expect(pending.covers('k1', undefined)).toBe(true);
      expect(pending.covers('one too many', undefined)).toBe(true);
      pending.keyFailed('and another');
      expect(store.calls.givenUp).toEqual(['k0', 'k1']);
    });

    it('counts keys and tags together, giving up the oldest of the kind being added', () => {
      for (let i = 0; i < MAX_PENDING / 2; i++) pending.tagFailed(`t${i}`);
      for (let i = 0; i < MAX_PENDING / 2; i++) pending.keyFailed(`k${i}`);
      expect(store.calls.givenUp).toEqual([]);
      pending.tagFailed('t-new');
      expect(store.calls.givenUp).toEqual(['t0']);
      pending.keyFailed('k-new');
      expect(store.calls.givenUp).toEqual(['t0', 'k0']);
      expect(pending.covers('e', { t0: 'v' })).toBe(false);
      expect(pending.covers('k0', undefined)).toBe(false);
      expect(pending.covers('e', { 't-new': 'v' })).toBe(true);
    });

    it('does not count a removal twice', () => {
      for (let i = 0; i < MAX_PENDING; i++) pending.keyFailed(`k${i}`);
      pending.keyFailed('k5');
      pending.keyFailed('k0');
      expect(store.calls.givenUp).toEqual([]);
    });
  });
});
