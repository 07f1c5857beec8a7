/**
 * A slow origin behind cached() routes and fragments (issue 23): the soft and hard timeouts of a
 * route, and invalidateTags(tags, { stale: true }) for responses and fragments, on memory and Redis.
 */
import nunjucks from 'nunjucks';
import { CachedResponse, CacheExtension } from '../../src';
import { closeApps, startApp } from '../support/apps';
import { cacheFactory, storeKinds } from '../support/stores';
import { sleep } from '../support/wait';

afterEach(() => closeApps());

describe.each(storeKinds)('cached() routes with a slow origin on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'slow-routes');
  afterAll(() => caches.closeAll());

  it('past softTimeoutMs a request gets the stale response; one refresh stores the new one', async () => {
    const cache = caches.make();
    let runs = 0;
    let slowMs = 0;
    const { get } = await startApp((router) =>
      router.get('/prices', cache.cached({ timeout: 1, staleIfError: 60, softTimeoutMs: 50 }), async (ctx) => {
        const run = ++runs;
        await sleep(slowMs);
        ctx.body = `prices ${run}`;
      }),
    );
    expect((await get('/prices')).text).toBe('prices 1');
    await sleep(1050); // expired, kept for staleIfError; what the refresh stores stays fresh for the rest of the test
    slowMs = 400;
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, () => get('/prices')));
    expect(Date.now() - started).toBeLessThan(300);
    for (const res of answers) {
      expect(res.text).toBe('prices 1');
      expect(res.headers['x-cache']).toBe('STALE');
    }
    expect(cache.stats().byKind.response.softTimeouts).toBeGreaterThanOrEqual(1);
    await sleep(500);
    const fresh = await get('/prices');
    expect(fresh.text).toBe('prices 2');
    expect(runs).toBe(2); // one origin call for the refresh
  });

  it('a refresh that finishes within softTimeoutMs is served fresh', async () => {
    const cache = caches.make();
    let runs = 0;
    const { get } = await startApp((router) =>
      router.get('/quick', cache.cached({ timeout: 0.2, staleIfError: 60, softTimeoutMs: 1000 }), async (ctx) => {
        ctx.body = `quick ${++runs}`;
      }),
    );
    await get('/quick');
    await sleep(250);
    const res = await get('/quick');
    expect(res.text).toBe('quick 2');
    expect(res.headers['x-cache']).toBe('MISS');
  });

  it('past hardTimeoutMs without a stale response the request fails with 504, and the late response is not stored', async () => {
    const cache = caches.make();
    const errors: Error[] = [];
    let runs = 0;
    const { get } = await startApp(
      (router) =>
        router.get('/report', cache.cached({ timeout: 60, hardTimeoutMs: 80 }), async (ctx) => {
          const run = ++runs;
          await sleep(run === 1 ? 300 : 0);
          ctx.body = `report ${run}`;
        }),
      errors,
    );
    const res = await get('/report');
    expect(res.status).toBe(504);
    expect(String(errors[0])).toMatch(/route \/report gave no value within 80 ms/);
    expect(cache.stats().byKind.response.hardTimeouts).toBe(1);
    await sleep(350);
    const next = await get('/report');
    expect(next.text).toBe('report 2');
    expect(next.headers['x-cache']).toBe('MISS');
  });

  it('past hardTimeoutMs with a stale response kept, the stale one is served', async () => {
    const cache = caches.make();
    let slowMs = 0;
    let runs = 0;
    const { get } = await startApp((router) =>
      router.get('/feed', cache.cached({ timeout: 0.2, staleIfError: 60, hardTimeoutMs: 60 }), async (ctx) => {
        const run = ++runs;
        await sleep(slowMs);
        ctx.body = `feed ${run}`;
      }),
    );
    await get('/feed');
    await sleep(250);
    slowMs = 300;
    const res = await get('/feed');
    expect(res.text).toBe('feed 1');
    expect(res.headers['x-cache']).toBe('STALE');
  });

  it('invalidateTags(tags, { stale: true }): every request gets the stale page at once while one refresh recomputes it', async () => {
    const cache = caches.make();
    let runs = 0;
    let slowMs = 0;
    const { get } = await startApp((router) =>
      router.get('/home', cache.cached({ timeout: 60 }), async () => {
        const run = ++runs;
        await sleep(slowMs);
        return new CachedResponse(`home ${run}`, { tags: ['home'] });
      }),
    );
    expect((await get('/home')).text).toBe('home 1');
    slowMs = 300;
    await cache.invalidateTags(['home'], { stale: true });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 8 }, () => get('/home')));
    expect(Date.now() - started).toBeLessThan(250);
    expect(new Set(answers.map((res) => `${res.headers['x-cache']} ${res.text}`))).toEqual(new Set(['STALE home 1']));
    await sleep(500);
    const fresh = await get('/home');
    expect(fresh.text).toBe('home 2');
    expect(fresh.headers['x-cache']).toBe('HIT');
    expect(runs).toBe(2);
    // Plain invalidation keeps its meaning: the next request waits for the route.
    await cache.invalidateTags(['home']);
    slowMs = 0;
    const after = await get('/home');
    expect(after.text).toBe('home 3');
    expect(after.headers['x-cache']).toBe('MISS');
  });

  it('a fragment invalidated in stale mode is recomputed once and served stale to a render that meets that computation', async () => {
    const cache = caches.make();
    let renders = 0;
    let slowMs = 0;
    const env = new nunjucks.Environment(
      new nunjucks.FileSystemLoader([]),
    );
    env.addExtension('CacheExtension', new CacheExtension(cache));
    env.addFilter('slow', (value: string, done: (err: unknown, out?: string) => void) => {
      renders++;
      setTimeout(() => done(null, `${value} #${renders}`), slowMs);
    }, true);
    const template = new nunjucks.Template('{% cache 60, "menu", tags=["menu"] %}{{ "menu" | slow }}{% endcache %}', env);
    const render = () => new Promise<string>((resolve, reject) => template.render({}, (err, html) => (err ? reject(err) : resolve(html!))));
    expect(await render()).toBe('menu #1');
    slowMs = 200;
    await cache.invalidateTags(['menu'], { stale: true });
    const first = render();
    await sleep(20);
    expect(await render()).toBe('menu #1');
    expect(await first).toBe('menu #2');
    expect(await render()).toBe('menu #2');
    expect(renders).toBe(2);
    expect(cache.stats().byKind.fragment.stale).toBe(1);
  });

  it('refuses bad timeouts, naming the option', () => {
    const cache = caches.make();
    expect(() => cache.cached({ softTimeoutMs: 0 })).toThrow(/softTimeoutMs of cached\(\)/);
    expect(() => cache.cached({ hardTimeoutMs: -5 })).toThrow(/hardTimeoutMs of cached\(\)/);
  });
});
