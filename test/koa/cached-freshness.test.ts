import type Koa from 'koa';
import { Cache, CacheStoreError } from '../../src';
import { closeApps, counting, startApp } from '../support/apps';
import { timeOn } from '../support/clock';
import { cacheFactory, redisUrl, storeKinds, uniquePrefix } from '../support/stores';
import { eventually, sleep } from '../support/wait';

describe.each(storeKinds)('cached responses over time on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'cached-fresh');
  const time = timeOn(kind);
  let cache: Cache;
  let cacheErrors: CacheStoreError[];
  beforeEach(() => {
    cache = caches.make({ clock: time.clock });
    cacheErrors = [];
    cache.on('error', (err: CacheStoreError) => cacheErrors.push(err));
  });
  afterEach(closeApps);
  afterAll(() => caches.closeAll());

  describe('stampede', () => {
    it('runs the route once for 50 concurrent misses, and all get its response', async () => {
      let runs = 0;
      const { get } = await startApp((router) =>
        router.get('/slow', cache.cached(), async (ctx) => {
          runs++;
          await sleep(100);
          ctx.body = `computed ${runs}`;
        }),
      );
      const responses = await Promise.all(Array.from({ length: 50 }, () => get('/slow')));
      expect(runs).toBe(1);
      expect(new Set(responses.map((r) => `${r.status} ${r.text}`))).toEqual(new Set(['200 computed 1']));
    });

    it('does not hand a waiter a response meant for another variant', async () => {
      let runs = 0;
      const { get } = await startApp((router) =>
        router.get('/hello', cache.cached(), async (ctx) => {
          runs++;
          await sleep(50);
          ctx.vary('Accept-Language');
          ctx.body = ctx.get('accept-language') === 'fr' ? 'bonjour' : 'hello';
        }),
      );
      const languages = ['fr', 'en', 'fr', 'en', 'en', 'fr'];
      const responses = await Promise.all(languages.map((lang) => get('/hello').set('Accept-Language', lang)));
      expect(responses.map((r) => r.text)).toEqual(languages.map((lang) => (lang === 'fr' ? 'bonjour' : 'hello')));
      expect(runs).toBeLessThan(languages.length);
    });

    it('does not hand a waiter a response that was not shareable (it sets a cookie)', async () => {
      let runs = 0;
      const { get } = await startApp((router) =>
        router.get('/me', cache.cached(), async (ctx) => {
          const user = ++runs;
          await sleep(50);
          ctx.cookies.set('user', String(user));
          ctx.body = `user ${user}`;
        }),
      );
      const responses = await Promise.all(Array.from({ length: 5 }, () => get('/me')));
      for (const response of responses) {
        expect(response.headers['set-cookie'][0]).toMatch(new RegExp(`^user=${response.text.slice(5)};`));
      }
      expect(runs).toBe(5);
    });
  });

  describe('staleWhileRevalidate', () => {
    it('serves the stale response at once while one background refresh runs, then the new one', async () => {
      const route = slowAfterFirst(300);
      const { get } = await startApp((router) =>
        router.get('/page', cache.cached({ timeout: 0.5, staleWhileRevalidate: 10 }), route.handler),
      );
      await get('/page');
      await time.pass(600);
      const started = performance.now();
      const stale = await get('/page');
      const elapsed = performance.now() - started;
      expect([stale.text, stale.headers['x-cache']]).toEqual(['run 1', 'STALE']);
      expect(elapsed).toBeLessThan(150); // the refresh takes 300 ms
      expect((await get('/page')).headers['x-cache']).toBe('STALE'); // while it runs
      await eventually(async () => (await get('/page')).headers['x-cache'] === 'HIT');
      expect((await get('/page')).text).toBe('run 2');
      expect(route.runs()).toBe(2);
    });

    it('refreshes each key once however many stale hits arrive', async () => {
      const route = slowAfterFirst(200);
      const { get } = await startApp((router) =>
        router.get('/page', cache.cached({ timeout: 0.3, staleWhileRevalidate: 10 }), route.handler),
      );
      await get('/page');
      await time.pass(350);
      const stale = await Promise.all(Array.from({ length: 20 }, () => get('/page')));
      expect(new Set(stale.map((r) => r.headers['x-cache']))).toEqual(new Set(['STALE']));
      await eventually(async () => (await get('/page')).text === 'run 2');
      await sleep(100); // real time for a second refresh to show up, were one started
      expect(route.runs()).toBe(2);
    });

    it.each([1, 3])('runs at most refreshConcurrency (%i) refreshes at once', async (refreshConcurrency) => {
      let active = 0;
      let mostActive = 0;
      let refreshed = 0;
      const primed = new Set<string>();
      const { get } = await startApp((router) =>
        router.get('/item/:id', cache.cached({ timeout: 0.1, staleWhileRevalidate: 10, refreshConcurrency }), async (ctx) => {
          if (primed.has(ctx.params.id)) {
            active++;
            mostActive = Math.max(mostActive, active);
            await sleep(100);
            active--;
            refreshed++;
          }
          primed.add(ctx.params.id);
          ctx.body = `item ${ctx.params.id}`;
        }),
      );
      for (const id of ['1', '2', '3']) await get(`/item/${id}`);
      await time.pass(150);
      await Promise.all(['1', '2', '3'].map((id) => get(`/item/${id}`)));
      await eventually(() => refreshed === 3);
      expect(mostActive).toBe(refreshConcurrency);
    });

    it('keeps serving the stale response when the refresh fails, and reports the failure', async () => {
      let runs = 0;
      const { get } = await startApp(
        (router) =>
          router.get('/page', cache.cached({ timeout: 0.1, staleWhileRevalidate: 10 }), (ctx) => {
            if (++runs > 1) throw new Error('database down');
            ctx.body = 'good';
          }),
        [],
      );
      await get('/page');
      await time.pass(150);
      expect((await get('/page')).headers['x-cache']).toBe('STALE');
      await eventually(() => cacheErrors.length > 0);
      expect(cacheErrors[0].operation).toBe('refresh');
      const still = await get('/page');
      expect([still.status, still.text, still.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    });
  });

  describe('refreshMargin', () => {
    it('refreshes in the background on a hit close to expiry, so a busy route never expires', async () => {
      const route = counting();
      const { get } = await startApp((router) =>
        router.get('/busy', cache.cached({ timeout: 1, refreshMargin: 0.9 }), route.handler),
      );
      await get('/busy');
      await time.pass(150);
      const hit = await get('/busy');
      expect([hit.text, hit.headers['x-cache']]).toEqual(['run 1', 'HIT']);
      await eventually(async () => (await get('/busy')).text === 'run 2');
      expect((await get('/busy')).headers['x-cache']).toBe('HIT');
    });

    it('leaves a hit outside the margin alone', async () => {
      const route = counting();
      const { get } = await startApp((router) =>
        router.get('/calm', cache.cached({ timeout: 10, refreshMargin: 1 }), route.handler),
      );
      await get('/calm');
      await get('/calm');
      await sleep(100); // real time for a background refresh to run, were one started
      expect(route.runs()).toBe(1);
    });
  });

  describe('staleIfError', () => {
    it.each<[string, (ctx: Koa.Context) => void]>([
      ['throws', () => {
        throw new Error('database down');
      }],
      ['answers 503', (ctx) => {
        ctx.status = 503;
        ctx.body = 'maintenance';
      }],
    ])('serves the last good response when recomputing %s, within the window', async (label, fail) => {
      let failing = false;
      const appErrors: unknown[] = [];
      const { get } = await startApp(
        (router) =>
          router.get('/page', cache.cached({ timeout: 0.1, staleIfError: 10 }), (ctx) => {
            if (failing) return fail(ctx);
            ctx.body = 'good';
          }),
        appErrors,
      );
      await get('/page');
      failing = true;
      await time.pass(150);
      const response = await get('/page');
      expect([response.status, response.text, response.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
      if (label === 'throws') expect(appErrors).toEqual([expect.objectContaining({ message: 'database down' })]);
      failing = false;
      const recovered = await get('/page');
      expect([recovered.text, recovered.headers['x-cache']]).toEqual(['good', 'MISS']);
    });

    it('lets the error through once the window has passed', async () => {
      let failing = false;
      const { get } = await startApp((router) =>
        router.get('/page', cache.cached({ timeout: 0.1, staleIfError: 0.2 }), (ctx) => {
          if (failing) throw new Error('database down');
          ctx.body = 'good';
        }),
      );
      await get('/page');
      failing = true;
      await time.pass(400);
      expect((await get('/page')).status).toBe(500);
    });
  });

  describe('schedulePeriodicRefresh', () => {
    it('keeps a route warm by replaying it on an interval, until stopped', async () => {
      const route = counting();
      const { get, app, host } = await startApp((router) => router.get('/list', cache.cached({ timeout: 60 }), route.handler));
      const refresh = cache.schedulePeriodicRefresh(app, '/list', { interval: 0.1, host, query: { b: 2, a: 1 } });
      try {
        // Replays never overlap: once the second has started, the first has stored its response.
        await eventually(() => route.runs() >= 2);
        const warm = await get('/list?a=1&b=2');
        expect(warm.headers['x-cache']).toBe('HIT');
        await eventually(() => route.runs() >= 4);
        const later = await get('/list?b=2&a=1');
        expect(later.headers['x-cache']).toBe('HIT');
        expect(Number(later.text.split(' ')[1])).toBeGreaterThanOrEqual(3);
      } finally {
        refresh.stop();
      }
      const runs = route.runs();
      await sleep(300); // replays run on a real interval
      expect(route.runs()).toBeLessThanOrEqual(runs + 1); // a replay already under way may finish
    });

    it('keeps the last good response when a replay fails, and reports it', async () => {
      let runs = 0;
      const { get, app, host } = await startApp((router) =>
        router.get('/page', cache.cached({ timeout: 60 }), (ctx) => {
          if (++runs > 1) throw new Error('database down');
          ctx.body = 'good';
        }),
      );
      await get('/page');
      const refresh = cache.schedulePeriodicRefresh(app, '/page', { interval: 0.05, host });
      try {
        await eventually(() => cacheErrors.some((err) => err.operation === 'periodic refresh'));
      } finally {
        refresh.stop();
      }
      const response = await get('/page');
      expect([response.status, response.text, response.headers['x-cache']]).toEqual([200, 'good', 'HIT']);
    });

    it('refuses a missing or zero interval', () => {
      const app = {} as Koa;
      expect(() => cache.schedulePeriodicRefresh(app, '/x', {} as { interval: number })).toThrow(/needs an interval/);
      expect(() => cache.schedulePeriodicRefresh(app, '/x', { interval: 0 })).toThrow(/interval must be > 0/);
      expect(() => cache.schedulePeriodicRefresh(app, '/x', { interval: -1 })).toThrow(RangeError);
    });
  });
});

/** A route answering `run <n>` that takes `delayMs` on every run after the first. */
function slowAfterFirst(delayMs: number): { runs: () => number; handler: (ctx: Koa.Context) => Promise<void> } {
  let runs = 0;
  return {
    runs: () => runs,
    handler: async (ctx) => {
      const run = ++runs;
      if (run > 1) await sleep(delayMs);
      ctx.body = `run ${run}`;
    },
  };
}

(redisUrl ? describe : describe.skip)('cached responses across processes sharing Redis', () => {
  const caches: Cache[] = [];
  afterEach(closeApps);
  afterAll(async () => {
    await caches[0]?.clear();
    await Promise.all(caches.map((cache) => cache.close()));
  });

  it('runs the route once for concurrent misses in two processes, and both serve its response', async () => {
    const keyPrefix = uniquePrefix('cached-processes');
    let runs = 0;
    const apps = await Promise.all(
      [0, 1].map(() => {
        const cache = new Cache({ store: redisUrl, keyPrefix, operationTimeoutMs: 2000 });
        caches.push(cache);
        return startApp((router) =>
          router.get('/slow', cache.cached(), async (ctx) => {
            runs++;
            await sleep(200);
            ctx.body = `computed ${runs}`;
          }),
        );
      }),
    );
    const responses = await Promise.all(apps.flatMap(({ get }) => Array.from({ length: 10 }, () => get('/slow').set('Host', 'shop.example'))));
    expect(runs).toBe(1);
    expect(new Set(responses.map((r) => `${r.status} ${r.text}`))).toEqual(new Set(['200 computed 1']));
  });
});
