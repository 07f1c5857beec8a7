import { engineOf } from '../../src/core/registry';
import { Cache, CacheWaitTimeout } from '../../src';
import { timeOn } from '../support/clock';
import { cacheFactory, storeKinds } from '../support/stores';
import { eventually, sleep } from '../support/wait';

/** Counts every call the cache makes to its store, whatever the method. */
function countStoreCalls(cache: Cache): () => number {
  const store = engineOf(cache, 'test').store as unknown as Record<string, unknown>;
  const spies = ['get', 'getMany', 'set', 'setNow', 'add', 'delete', 'has', 'increment', 'clear']
    .filter((method) => typeof store[method] === 'function')
    .map((method) => jest.spyOn(store as Record<string, () => unknown>, method));
  return () => spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
}

/**
 * Records the arguments of each call. Memoized functions in these tests are real named functions:
 * a jest.fn() wrapper has the same name and source whatever it wraps, so it would share results.
 */
function recorder<A extends unknown[]>(): { calls: A[]; record: (...args: A) => void } {
  const calls: A[] = [];
  return { calls, record: (...args: A) => void calls.push(args) };
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe.each(storeKinds)('memoize on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'memoize');
  const time = timeOn(kind);
  let cache: Cache;
  beforeEach(() => {
    cache = caches.make({ clock: time.clock });
  });
  afterAll(() => caches.closeAll());

  describe('a memoized function', () => {
    it('computes once per distinct arguments and keeps its types', async () => {
      const { calls, record } = recorder<[number, string]>();
      const load = async (id: number, lang: string) => {
        record(id, lang);
        return { id, title: `${lang}-${id}` };
      };
      const cached = cache.memoize(load);
      const first: { id: number; title: string } = await cached(1, 'en');
      expect(first).toEqual({ id: 1, title: 'en-1' });
      expect(await cached(1, 'en')).toEqual(first);
      expect(await cached(2, 'en')).toEqual({ id: 2, title: 'en-2' });
      expect(calls).toEqual([
        [1, 'en'],
        [2, 'en'],
      ]);
      expect(cached.uncached).toBe(load);
    });

    it('memoizes synchronous functions too, returning a promise', async () => {
      const { calls, record } = recorder<[number]>();
      const square = (n: number) => (record(n), n * n);
      const cached = cache.memoize(square);
      expect(await cached(3)).toBe(9);
      expect(await cached(3)).toBe(9);
      expect(calls).toHaveLength(1);
    });

    it('keys arguments by value: object key order does not matter, types do', async () => {
      const { calls, record } = recorder<[unknown]>();
      const echo = async (value: unknown) => (record(value), typeof value);
      const cached = cache.memoize(echo);
      await cached({ a: 1, b: [2, { c: 3, d: 4 }] });
      await cached({ b: [2, { d: 4, c: 3 }], a: 1 });
      expect(calls).toHaveLength(1);
      expect(await cached(1)).toBe('number');
      expect(await cached('1')).toBe('string');
      await cached([1]);
      await cached(null);
      expect(calls).toHaveLength(5);
    });

    it('treats trailing undefined arguments as absent', async () => {
      const { calls, record } = recorder<[string, string?]>();
      const greet = async (name: string, punctuation?: string) => (record(name, punctuation), `hi ${name}${punctuation ?? '.'}`);
      const cached = cache.memoize(greet);
      await cached('ann');
      await cached('ann', undefined);
      expect(calls).toHaveLength(1);
      expect(await cached('ann', '!')).toBe('hi ann!');
      expect(calls).toHaveLength(2);
    });

    it('keys an object with a cacheKey() method by what that returns', async () => {
      class Product {
        constructor(
          readonly id: number,
          readonly loadedAt: number,
        ) {}
        cacheKey() {
          return `product:${this.id}`;
        }
      }
      const { calls, record } = recorder<[Product]>();
      const price = async (product: Product) => (record(product), product.id * 10);
      const cached = cache.memoize(price);
      expect(await cached(new Product(1, 100))).toBe(10);
      expect(await cached(new Product(1, 200))).toBe(10);
      expect(await cached(new Product(2, 100))).toBe(20);
      expect(calls).toHaveLength(2);
    });

    it.each<[string, unknown, RegExp]>([
      ['a function', () => 1, /memoized describeIt\.[\w-]+: argument\[0\]\.callback is a function/],
      ['a class instance without cacheKey()', new (class Widget {})(), /argument\[0\] is a Widget instance; give it a cacheKey\(\) method/],
      ['a symbol', Symbol('s'), /argument\[0\] is a symbol/],
    ])('refuses an argument holding %s, naming the function, and does not call it', async (_label, bad, message) => {
      const { calls, record } = recorder<[unknown]>();
      const describeIt = async (arg: unknown) => (record(arg), 'described');
      const cached = cache.memoize(describeIt);
      const arg = typeof bad === 'function' ? { callback: bad } : bad;
      await expect(cached(arg)).rejects.toThrow(message);
      expect(calls).toHaveLength(0);
    });

    it('refuses a circular argument', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const cached = cache.memoize(async function walk(_tree: unknown) {
        return 1;
      });
      await expect(cached(cyclic)).rejects.toThrow(/memoized walk\.[\w-]+: argument\[0\]\.self is a circular reference/);
    });

    it('ignores the arguments named by argsToIgnore, even unserializable ones', async () => {
      const { calls, record } = recorder<[number]>();
      const log = (_message: string) => undefined;
      const load = async (id: number, _logger: (message: string) => void) => (record(id), id);
      const cached = cache.memoize(load, { argsToIgnore: [1] });
      await cached(7, log);
      await cached(7, () => undefined);
      expect(calls).toHaveLength(1);
      expect(await cached(8, log)).toBe(8);
      expect(calls).toHaveLength(2);
    });

    it('bypasses the cache entirely when unless(...args) is true', async () => {
      const { calls, record } = recorder<[number]>();
      const load = async (id: number) => (record(id), id);
      const unless = jest.fn((id: number) => id < 0);
      const cached = cache.memoize(load, { unless });
      await cached(-1);
      await cached(-1);
      expect(calls).toHaveLength(2);
      expect(unless).toHaveBeenLastCalledWith(-1);
      expect(await cache.get((await cached.keyFor(-1))!)).toBeUndefined();
      await cached(1);
      await cached(1);
      expect(calls).toHaveLength(3);
    });

    it('recomputes and stores when forcedUpdate(...args) is true, asked once per call', async () => {
      let version = 0;
      let force = false;
      const load = async (id: number) => `${id}@${++version}`;
      const forcedUpdate = jest.fn((_id: number) => force);
      const cached = cache.memoize(load, { forcedUpdate });
      expect(await cached(1)).toBe('1@1');
      expect(await cached(1)).toBe('1@1');
      force = true;
      expect(await cached(1)).toBe('1@2');
      force = false;
      expect(await cached(1)).toBe('1@2');
      expect(forcedUpdate).toHaveBeenCalledTimes(4);
      expect(forcedUpdate).toHaveBeenCalledWith(1);
    });

    it('recomputes an undefined result each call unless cacheUndefined', async () => {
      let runs = 0;
      const nothing = async (_id: number): Promise<string | undefined> => void runs++;
      const cached = cache.memoize(nothing);
      expect(await cached(1)).toBeUndefined();
      expect(await cached(1)).toBeUndefined();
      expect(runs).toBe(2);

      const cachedUndefined = cache.memoize(nothing, { cacheUndefined: true, name: 'remembered' });
      expect(await cachedUndefined(1)).toBeUndefined();
      expect(await cachedUndefined(1)).toBeUndefined();
      expect(runs).toBe(3);
    });

    it('caches falsy results (null, 0, false, empty string)', async () => {
      for (const value of [null, 0, false, '']) {
        let runs = 0;
        const cached = cache.memoize(async () => (runs++, value), { name: `falsy-${JSON.stringify(value)}` });
        expect(await cached()).toBe(value);
        expect(await cached()).toBe(value);
        expect(runs).toBe(1);
      }
    });

    it('does not cache a rejection', async () => {
      let attempt = 0;
      const flaky = async (id: number) => {
        if (++attempt === 1) throw new Error('database busy');
        return id;
      };
      const cached = cache.memoize(flaky);
      await expect(cached(1)).rejects.toThrow('database busy');
      expect(await cached(1)).toBe(1);
      expect(await cached(1)).toBe(1);
      expect(attempt).toBe(2);
    });

    it('refuses a result the cache cannot store, naming the function', async () => {
      const cached = cache.memoize(async function when() {
        return new Date();
      });
      await expect(cached()).rejects.toThrow(/memoized when\.[\w-]+ returned a value that cannot be cached: .*is a Date/);
    });

    it('runs the function once for concurrent calls with the same arguments', async () => {
      const { opened, open } = gate();
      const { calls, record } = recorder<[number]>();
      const slow = async (id: number) => {
        record(id);
        await opened;
        return { id };
      };
      const cached = cache.memoize(slow);
      const pending = [...Array.from({ length: 10 }, () => cached(1)), cached(2)];
      await sleep(20);
      open();
      const results = await Promise.all(pending);
      expect(calls).toEqual([[1], [2]]);
      expect(results.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => ({ id: 1 })));
      expect(results[10]).toEqual({ id: 2 });
    });

    it('shares a failure among concurrent callers, then recomputes', async () => {
      const { opened, open } = gate();
      let attempt = 0;
      const failsOnce = async () => {
        await opened;
        if (++attempt === 1) throw new Error('boom');
        return 'ok';
      };
      const cached = cache.memoize(failsOnce);
      const pending = [cached(), cached(), cached()].map((call) => call.catch((err: Error) => err.message));
      open();
      expect(await Promise.all(pending)).toEqual(['boom', 'boom', 'boom']);
      expect(await cached()).toBe('ok');
      expect(attempt).toBe(2);
    });
  });

  describe('waiting at most timeoutMs', () => {
    it('gives the caller a CacheWaitTimeout while the computation goes on and fills the cache', async () => {
      let runs = 0;
      const report = async (id: number) => {
        runs++;
        await sleep(300);
        return `report ${id}`;
      };
      const cached = cache.memoize(report);
      const started = Date.now();
      const late = cached.withTimeout(50)(1);
      await expect(late).rejects.toBeInstanceOf(CacheWaitTimeout);
      await expect(late).rejects.toThrow(/memoized report\.[\w-]+ gave no value within 50 ms/);
      expect(Date.now() - started).toBeLessThan(250);
      await sleep(400); // real time: the computation (a 300 ms timer) finishes and stores
      expect(await cached.withTimeout(50)(1)).toBe('report 1');
      expect(runs).toBe(1);
    });

    it('answers normally when the value comes in time, and joins a computation under way', async () => {
      let runs = 0;
      const quick = async (id: number) => {
        runs++;
        await sleep(50);
        return id;
      };
      const cached = cache.memoize(quick);
      const patient = cached(1);
      expect(await cached.withTimeout(1000)(1)).toBe(1);
      expect(await patient).toBe(1);
      expect(runs).toBe(1);
    });

    it('names the CacheWaitTimeout fields and refuses a bad limit', async () => {
      const cached = cache.memoize(async function never() {
        return new Promise<never>(() => undefined);
      });
      const err: CacheWaitTimeout = await cached
        .withTimeout(20)()
        .catch((e: CacheWaitTimeout) => e);
      expect(err.functionName).toMatch(/^never\./);
      expect(err.waitedMs).toBe(20);
      expect(() => cached.withTimeout(0)).toThrow(/withTimeout\(ms\) needs a finite number of milliseconds > 0, got 0/);
      expect(() => cached.withTimeout(Number.NaN)).toThrow(RangeError);
    });
  });

  describe('names', () => {
    it('shares results between memoizations of the same code, as separate processes would', async () => {
      const runs: string[] = [];
      const define = (process: string) =>
        async function fetchRate(currency: string) {
          runs.push(process);
          return `${currency}:1.1`;
        };
      await cache.memoize(define('A'))('EUR');
      expect(await cache.memoize(define('B'))('EUR')).toBe('EUR:1.1');
      expect(runs).toEqual(['A']);
    });

    it('separates functions of the same name but different code', async () => {
      const a = cache.memoize(async function rate(_c: string) {
        return 'a';
      });
      const b = cache.memoize(async function rate(_c: string) {
        return 'b';
      });
      expect(await a('x')).toBe('a');
      expect(await b('x')).toBe('b');
    });

    it('refuses an anonymous or bound function without a name option, and takes a name option', async () => {
      expect(() => cache.memoize(async () => 1)).toThrow(/anonymous function needs a name option/);
      const bound = async function load(this: object) {}.bind({});
      expect(() => cache.memoize(bound)).toThrow(/bound load is bound or native .* needs a name option/);
      const named = cache.memoize(async () => 1, { name: 'one' });
      expect(await named()).toBe(1);
      expect(await named.keyFor()).toMatch(/^memo:one:[\w-]{8}:[\w-]{22}$/);
    });

    it('keeps keys bounded whatever the arguments', async () => {
      const cached = cache.memoize(async (text: string) => text.length, { name: 'length' });
      const key = await cached.keyFor('x'.repeat(100_000));
      expect(key!.length).toBeLessThan(60);
    });

    it.each<[string, object, RegExp]>([
      ['a name with a colon', { name: 'a:b' }, /^name must be a non-empty string without ':'/],
      ['an empty name', { name: '' }, /^name must be/],
      ['a negative timeout', { timeout: -1 }, /^timeout of memoized .* must be a finite number of seconds >= 0/],
      ['a bad duration', { timeout: 'soon' }, /^timeout of memoized .* "soon" is not a duration/],
      ['bad argsToIgnore', { argsToIgnore: [-1] }, /^argsToIgnore of memoized .* must be an array of argument indexes/],
      ['a non-function unless', { unless: true }, /^unless of memoized .* must be a function/],
      ['a non-function tags', { tags: ['a'] }, /^tags of memoized .* must be a function/],
    ])('refuses %s, naming the option', (_label, options, message) => {
      expect(() => cache.memoize(async function load() {}, options as never)).toThrow(message);
    });
  });

  describe('deleting', () => {
    it('deleteMemoized(...args) and cache.deleteMemoized(fn, ...args) drop only that call’s result', async () => {
      const { calls, record } = recorder<[number, { full: boolean }?]>();
      const load = async (id: number, opts?: { full: boolean }) => (record(id, opts), `${id}${opts?.full ? '+' : ''}`);
      const cached = cache.memoize(load);
      await cached(1);
      await cached(2);
      await cached(3, { full: true });
      expect(await cached.deleteMemoized(1)).toBe(true);
      expect(await cache.deleteMemoized(cached, 3, { full: true })).toBe(true);
      expect(await cached.deleteMemoized(4)).toBe(false);
      await cached(1);
      await cached(2);
      await cached(3, { full: true });
      expect(calls.map((call) => call[0])).toEqual([1, 2, 3, 1, 3]);
    });

    it('deleteMemoized() and cache.deleteMemoized(fn) drop every result', async () => {
      let runs = 0;
      const cached = cache.memoize(async (id: number) => (runs++, id), { name: 'all' });
      await Promise.all([cached(1), cached(2)]);
      expect(await cached.deleteMemoized()).toBe(true);
      await Promise.all([cached(1), cached(2)]);
      expect(runs).toBe(4);
      expect(await cache.deleteMemoized(cached)).toBe(true);
      await Promise.all([cached(1), cached(2)]);
      expect(runs).toBe(6);
    });

    it('drops every result with a constant number of store calls, whatever their number', async () => {
      const callsToDeleteAll = async (entries: number): Promise<number> => {
        let runs = 0;
        const cached = cache.memoize(async (id: number) => (runs++, id * 2), { name: `bulk-${entries}` });
        await Promise.all(Array.from({ length: entries }, (_, i) => cached(i)));
        await Promise.all(Array.from({ length: entries }, (_, i) => cached(i)));
        expect(runs).toBe(entries);
        const storeCalls = countStoreCalls(cache);
        const before = storeCalls();
        expect(await cache.deleteMemoized(cached)).toBe(true);
        const used = storeCalls() - before;
        jest.restoreAllMocks();
        // Every old result is a miss now.
        await Promise.all(Array.from({ length: entries }, (_, i) => cached(i)));
        expect(runs).toBe(2 * entries);
        return used;
      };
      const forTen = await callsToDeleteAll(10);
      const forThousand = await callsToDeleteAll(1000);
      expect(forTen).toBe(1);
      expect(forThousand).toBe(forTen);
    });

    it('does not let a computation that started before a delete-all revive the old results', async () => {
      const { opened, open } = gate();
      let runs = 0;
      const load = async (id: number) => {
        runs++;
        if (id === 2) await opened;
        return `${id}#${runs}`;
      };
      const cached = cache.memoize(load);
      expect(await cached(1)).toBe('1#1');
      const slow = cached(2); // reads the version, then waits
      await eventually(() => runs === 2); // it has read the version
      await cached.deleteMemoized();
      open();
      await slow;
      expect(await cached(1)).toBe('1#3');
    });

    it('refuses what is not memoized, or memoized by another cache', async () => {
      await expect(cache.deleteMemoized(async function plain() {})).rejects.toThrow(/deleteMemoized: function plain is not memoized/);
      const other = caches.make();
      const theirs = other.memoize(async function theirs() {
        return 1;
      });
      await expect(cache.deleteMemoized(theirs)).rejects.toThrow(/memoized by another cache/);
    });
  });

  describe('versions', () => {
    it('keeps the version alive as long as its newest result, and lets it expire after', async () => {
      let runs = 0;
      const cached = cache.memoize(async (id: number) => (runs++, id), { name: 'outlive', timeout: 0.6 });
      await cached(1);
      expect(await cache.get('memo:outlive:version')).toEqual(expect.any(String));
      await time.pass(400);
      await cached(2); // stored at 0.4 s: the version must now live until 1.0 s, past its first 0.6 s
      await time.pass(350);
      await cached(2);
      expect(runs).toBe(2);
      await cached(1); // expired at 0.6 s
      expect(runs).toBe(3);
      await time.pass(700);
      expect(await cache.get('memo:outlive:version')).toBeUndefined();
    });

    it('never expires results or version with timeout 0', async () => {
      const quick = caches.make({ defaultTimeout: 0.2, clock: time.clock });
      let runs = 0;
      const load = async (id: number) => (runs++, id);
      const forever = quick.memoize(load, { name: 'forever', timeout: 0 });
      const usual = quick.memoize(load, { name: 'usual' });
      await forever(1);
      await usual(1);
      await time.pass(350);
      await forever(1);
      expect(runs).toBe(2);
      await usual(1);
      expect(runs).toBe(3);
      expect(await quick.get('memo:forever:version')).toEqual(expect.any(String));
    });
  });

  describe('@cache.memoized on methods and getters', () => {
    /** Classes are defined per test: their decorators need the test's cache. */
    function defineAccount(cache: Cache, seen: string[]) {
      class Account {
        constructor(
          readonly id: number,
          readonly owner = 'ann',
        ) {}
        cacheKey() {
          return `account:${this.id}`;
        }
        @cache.memoized({ timeout: 60 })
        async balance(currency: string): Promise<string> {
          seen.push(`${this.id}.balance(${currency})`);
          return `${this.id * 100} ${currency}`;
        }
        @cache.memoized()
        get statement(): Promise<string[]> {
          seen.push(`${this.id}.statement`);
          return Promise.resolve([`statement of ${this.id}`]);
        }
      }
      return Account;
    }
    const getterOf = (cls: { prototype: object }, name: string) => Object.getOwnPropertyDescriptor(cls.prototype, name)!.get!;

    it('caches per instance, as identified by cacheKey()', async () => {
      const seen: string[] = [];
      const Account = defineAccount(cache, seen);
      const one = new Account(1);
      const two = new Account(2);
      expect(await one.balance('EUR')).toBe('100 EUR');
      expect(await one.balance('EUR')).toBe('100 EUR');
      expect(await two.balance('EUR')).toBe('200 EUR');
      expect(await new Account(1, 'bob').balance('EUR')).toBe('100 EUR'); // same cacheKey(), as in another process
      expect(await one.statement).toEqual(['statement of 1']);
      expect(await one.statement).toEqual(['statement of 1']);
      expect(await two.statement).toEqual(['statement of 2']);
      expect(seen).toEqual(['1.balance(EUR)', '2.balance(EUR)', '1.statement', '2.statement']);
    });

    it('runs a method once for concurrent calls on one instance', async () => {
      const seen: string[] = [];
      const one = new (defineAccount(cache, seen))(1);
      await Promise.all(Array.from({ length: 5 }, () => one.balance('EUR')));
      const detached = one.balance; // the instance's own function keeps its instance
      expect(await detached('EUR')).toBe('100 EUR');
      expect(seen).toEqual(['1.balance(EUR)']);
    });

    it('deleteMemoized(instance.method) drops that instance’s results only', async () => {
      const seen: string[] = [];
      const Account = defineAccount(cache, seen);
      const one = new Account(1);
      const two = new Account(2);
      await Promise.all([one.balance('EUR'), one.balance('USD'), two.balance('EUR')]);
      expect(await cache.deleteMemoized(one.balance)).toBe(true);
      await Promise.all([one.balance('EUR'), one.balance('USD'), two.balance('EUR')]);
      expect(seen.sort()).toEqual(['1.balance(EUR)', '1.balance(EUR)', '1.balance(USD)', '1.balance(USD)', '2.balance(EUR)']);
    });

    it('deleteMemoized(instance.method, ...args) drops that one result', async () => {
      const seen: string[] = [];
      const Account = defineAccount(cache, seen);
      const one = new Account(1);
      await Promise.all([one.balance('EUR'), one.balance('USD')]);
      expect(await cache.deleteMemoized(one.balance, 'EUR')).toBe(true);
      await Promise.all([one.balance('EUR'), one.balance('USD')]);
      expect(seen.sort()).toEqual(['1.balance(EUR)', '1.balance(EUR)', '1.balance(USD)']);
    });

    it('deleteMemoized(Class.prototype.method) drops every instance’s results, or with (instance, ...args) one', async () => {
      const seen: string[] = [];
      const Account = defineAccount(cache, seen);
      const one = new Account(1);
      const two = new Account(2);
      await Promise.all([one.balance('EUR'), two.balance('EUR'), two.balance('USD')]);
      expect(await cache.deleteMemoized(Account.prototype.balance, two, 'USD')).toBe(true);
      await Promise.all([one.balance('EUR'), two.balance('EUR'), two.balance('USD')]);
      expect(seen).toHaveLength(4);
      expect(await cache.deleteMemoized(Account.prototype.balance)).toBe(true);
      await Promise.all([one.balance('EUR'), two.balance('EUR'), two.balance('USD')]);
      expect(seen).toHaveLength(7);
      await expect(cache.deleteMemoized(Account.prototype.balance, 'EUR')).rejects.toThrow(/pass the instance first/);
    });

    it('deletes a getter’s result for one instance or for all', async () => {
      const seen: string[] = [];
      const Account = defineAccount(cache, seen);
      const one = new Account(1);
      const two = new Account(2);
      await Promise.all([one.statement, two.statement]);
      expect(await cache.deleteMemoized(getterOf(Account, 'statement'), one)).toBe(true);
      await Promise.all([one.statement, two.statement]);
      expect(seen).toEqual(['1.statement', '2.statement', '1.statement']);
      expect(await cache.deleteMemoized(getterOf(Account, 'statement'))).toBe(true);
      await Promise.all([one.statement, two.statement]);
      expect(seen).toHaveLength(5);
    });

    it('names results by class and method, so equal methods of two classes do not share', async () => {
      const make = (label: string) => {
        const Class = class {
          cacheKey() {
            return 1;
          }
          @cache.memoized()
          async label() {
            return label;
          }
        };
        Object.defineProperty(Class, 'name', { value: label });
        return Class;
      };
      const [Left, Right] = [make('Left'), make('Right')];
      expect(await new Left().label()).toBe('Left');
      expect(await new Right().label()).toBe('Right');
    });

    it('takes a name option, which fixes the namespace in the store', async () => {
      class Report {
        cacheKey() {
          return 'r';
        }
        @cache.memoized({ name: 'report-total' })
        async total() {
          return 42;
        }
      }
      expect(await new Report().total()).toBe(42);
      expect(await cache.get('memo:report-total:version')).toEqual(expect.any(String));
    });

    it('does not shadow a subclass override', async () => {
      const Account = defineAccount(cache, []);
      class Savings extends Account {
        override async balance(currency: string) {
          return `savings ${await super.balance(currency)}`;
        }
      }
      expect(await new Savings(3).balance('EUR')).toBe('savings 300 EUR');
    });

    it('refuses instances that cannot say who they are, naming class and method', async () => {
      class Anonymous {
        @cache.memoized()
        async load() {
          return 1;
        }
      }
      class Blank {
        cacheKey() {
          return '';
        }
        @cache.memoized()
        async load() {
          return 1;
        }
      }
      await expect(new Anonymous().load()).rejects.toThrow(/@memoized Anonymous\.load keys its results by instance: give Anonymous a cacheKey\(\) method/);
      await expect(new Blank().load()).rejects.toThrow(/@memoized Blank\.load: Blank\.cacheKey\(\) returned ""; it must identify the instance/);
      const detached = Blank.prototype.load;
      await expect(detached.call(undefined as never)).rejects.toThrow(/a @memoized method was called without an instance/);
    });

    it('refuses static members, and deleting through a class that has no instance yet', async () => {
      expect(() => {
        class Config {
          @cache.memoized()
          static async load() {
            return 1;
          }
        }
        return Config;
      }).toThrow(/@memoized load: static members are not supported/);
      class Unused {
        cacheKey() {
          return 1;
        }
        @cache.memoized()
        async load() {
          return 1;
        }
      }
      await expect(cache.deleteMemoized(Unused.prototype.load)).rejects.toThrow(/construct one first or give @memoized a name option/);
    });
  });

  describe('tags', () => {
    it('makes the results carrying an invalidated tag misses, and only those', async () => {
      const { calls, record } = recorder<[number, number]>();
      const load = async (userId: number, page: number) => (record(userId, page), `${userId}/${page}`);
      const cached = cache.memoize(load, { tags: (userId) => [`user:${userId}`] });
      const callAll = async () => {
        for (const [userId, page] of [[1, 1], [1, 2], [2, 1]]) await cached(userId, page);
      };
      await callAll();
      await cache.invalidateTags(['user:1']);
      await callAll();
      expect(calls).toEqual([
        [1, 1],
        [1, 2],
        [2, 1],
        [1, 1],
        [1, 2],
      ]);
    });

    it('does not keep a result computed while its tag was invalidated', async () => {
      const { opened, open } = gate();
      let runs = 0;
      const load = async (userId: number) => {
        runs++;
        await opened;
        return `${userId}#${runs}`;
      };
      const cached = cache.memoize(load, { tags: (userId) => [`user:${userId}`] });
      const first = cached(1);
      await eventually(() => runs === 1); // it has taken the tag versions
      await cache.invalidateTags(['user:1']);
      open();
      expect(await first).toBe('1#1');
      expect(await cached(1)).toBe('1#2');
      expect(await cached(1)).toBe('1#2');
    });

    it('refuses tags that are not strings, naming the function', async () => {
      const cached = cache.memoize(async function tagged(_id: number) {
        return 1;
      }, { tags: () => [42 as unknown as string] });
      await expect(cached(1)).rejects.toThrow(/tags of memoized tagged\.[\w-]+ must be non-empty strings, got 42/);
    });
  });
});
