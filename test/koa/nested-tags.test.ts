/**
 * Tags bubble through every computation, not only into responses: a memoized function (or a
 * `getOrSet` value) computed from a tagged memoized value, and a fragment whose body read one
 * (through an async filter, awaited outside the render's stack), carry its tag. A page that reads
 * the outer value, or renders the fragment, is a miss once the inner tag is invalidated, and shows
 * the new data. What a page reads after such a fragment still counts for the page.
 */
import nunjucks from 'nunjucks';
import { CacheExtension, views, type Cache } from '../../src';
import { closeApps, startApp, type TestApp } from '../support/apps';
import { cacheFactory, storeKinds } from '../support/stores';
import { viewsFolder } from '../support/templates';

describe.each(storeKinds)('tags of values read by other computations (%s)', (kind) => {
  const caches = cacheFactory(kind, 'nested-tags');
  const folder = viewsFolder();
  folder.write('card.njk', '{% cache 60, "card", id %}{{ id | productName }}{% endcache %}');
  folder.write('card-then.njk', '{% cache 60, "first" %}{{ 1 | productName }}{% endcache %}|{{ 2 | productName }}');
  let cache: Cache;
  let names: Record<number, string>;
  let loadProduct: (id: number) => Promise<string>;

  beforeEach(() => {
    cache = caches.make();
    names = { 1: 'v1', 2: 'w1' };
    loadProduct = cache.memoize(async (id: number) => names[id], { name: 'loadProduct', tags: (id) => [`product:${id}`] });
  });
  afterEach(async () => {
    await closeApps();
    await caches.closeAll();
  });

  async function change(id: number, name: string): Promise<void> {
    names[id] = name;
    await cache.invalidateTags([`product:${id}`]);
  }

  function appWith(setup: Parameters<typeof startApp>[0]): Promise<TestApp> {
    const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(folder.dir, { noCache: true }));
    env.addExtension('CacheExtension', new CacheExtension(cache));
    // Awaited outside the render's stack, as a filter loading data does.
    env.addFilter('productName', (id: number, done: (err: unknown, name?: string) => void) => void loadProduct(id).then((name) => done(null, name), done), true);
    return startApp((router, app) => {
      app.use(views(env));
      setup(router, app);
    });
  }

  const visit = async (app: TestApp, url: string) => {
    const res = await app.get(url);
    return { text: res.text, status: res.headers['x-cache'] };
  };

  it('a memoized function computed from a tagged one carries its tag, on its own and under a page', async () => {
    const productView = cache.memoize(async (id: number) => `<b>${await loadProduct(id)}</b>`, { name: 'productView' });
    expect(await productView(1)).toBe('<b>v1</b>');
    await change(1, 'v2');
    expect(await productView(1)).toBe('<b>v2</b>');

    const app = await appWith((router) => {
      router.get('/p/:id', cache.cached(), async (ctx) => {
        ctx.body = await productView(Number(ctx.params.id));
      });
    });
    // The outer value is warm already: the page inherits the inner tag through it.
    expect(await visit(app, '/p/1')).toEqual({ text: '<b>v2</b>', status: 'MISS' });
    expect(await visit(app, '/p/1')).toEqual({ text: '<b>v2</b>', status: 'HIT' });
    await change(1, 'v3');
    expect(await visit(app, '/p/1')).toEqual({ text: '<b>v3</b>', status: 'MISS' });
    await change(2, 'w2');
    expect(await visit(app, '/p/1')).toEqual({ text: '<b>v3</b>', status: 'HIT' });
  });

  it('a getOrSet value computed from a tagged memoized value carries its tag', async () => {
    const read = () => cache.getOrSet('headline', async () => `news: ${await loadProduct(1)}`);
    expect(await read()).toBe('news: v1');
    expect(await read()).toBe('news: v1');
    await change(1, 'v2');
    expect(await read()).toBe('news: v2');
  });

  it('a fragment whose body read a tagged memoized value carries its tag, on a plain page and on a cached() one', async () => {
    const app = await appWith((router) => {
      router.get('/card', (ctx) => ctx.render('card.njk', { id: 1 }));
      router.get('/cached-card', cache.cached(), (ctx) => ctx.render('card.njk', { id: 1 }));
    });
    expect((await visit(app, '/card')).text).toBe('v1');
    const rendered = cache.stats().byKind.fragment.misses;
    expect((await visit(app, '/card')).text).toBe('v1');
    expect(cache.stats().byKind.fragment.misses).toBe(rendered);
    await change(1, 'v2');
    expect((await visit(app, '/card')).text).toBe('v2');

    // The cached page found the fragment (a hit) and still depends on the memoized value's tag.
    expect(await visit(app, '/cached-card')).toEqual({ text: 'v2', status: 'MISS' });
    expect(await visit(app, '/cached-card')).toEqual({ text: 'v2', status: 'HIT' });
    await change(1, 'v3');
    expect(await visit(app, '/cached-card')).toEqual({ text: 'v3', status: 'MISS' });
    expect((await visit(app, '/card')).text).toBe('v3');
  });

  it('what a page reads after a fragment that waited counts for the page, and the fragment keeps its own tags', async () => {
    const app = await appWith((router) => {
      router.get('/page', cache.cached(), (ctx) => ctx.render('card-then.njk'));
    });
    expect(await visit(app, '/page')).toEqual({ text: 'v1|w1', status: 'MISS' });
    expect(await visit(app, '/page')).toEqual({ text: 'v1|w1', status: 'HIT' });
    await change(2, 'w2');
    expect(await visit(app, '/page')).toEqual({ text: 'v1|w2', status: 'MISS' });
    expect(await visit(app, '/page')).toEqual({ text: 'v1|w2', status: 'HIT' });
    // The fragment did not take the tag read after it: product:2 left it a hit (one render so far).
    expect(cache.stats().byName.first).toMatchObject({ misses: 1 });
    await change(1, 'v2');
    expect(await visit(app, '/page')).toEqual({ text: 'v2|w2', status: 'MISS' });
  });
});
