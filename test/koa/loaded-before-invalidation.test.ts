/**
 * A handler loads what a page shows, then renders it: `const product = await loadProduct(1);
 * await ctx.render('product.njk', { product })`. An edit that saves product 1 and invalidates its
 * tag between the two must not leave the old product stored under the tag's new version, where
 * every later visitor would get it (the demo's app-faults test saw exactly that once). The
 * fragment's tag versions are read after the data was loaded, so they cannot vouch for it: what a
 * request renders is not stored under a tag invalidated since the request began.
 */
import Koa from 'koa';
import nunjucks from 'nunjucks';
import { CacheExtension, CachedResponse, views, type Cache } from '../../src';
import { closeApps, startApp, type TestApp } from '../support/apps';
import { cacheFactory, eventually, storeKinds, uniquePrefix } from '../support/stores';

const PRODUCT = '{% cache 60, "product", product.id, tags=["product:" + product.id] %}<h1>{{ product.name }}</h1>{% endcache %}';

/** A gate a request waits at, between loading its data and rendering it. */
function gate(): { wait: () => Promise<void>; reached: Promise<void>; open: () => void } {
  let open!: () => void;
  let reach!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (reach = resolve));
  return { wait: () => (reach(), opened), reached, open };
}

describe.each(storeKinds)('data loaded before an invalidation (%s)', (kind) => {
  const caches = cacheFactory(kind, 'loaded-before');
  afterEach(async () => {
    await closeApps();
    await caches.closeAll();
  });

  /**
   * The catalog, and an app whose `/products/1` loads product 1, waits at `held` if set, then
   * renders it with `ctx.render`: a plain route, or one `cached()` stores (declaring the tag or not).
   */
  async function shop(cache: Cache, route: 'rendered' | 'cached' | 'cached with tags') {
    const product = { id: 1, name: 'Old' };
    const env = new nunjucks.Environment({ getSource: (name: string) => ({ src: PRODUCT, path: name, noCache: false }) } as never);
    env.addExtension('CacheExtension', new CacheExtension(cache));
    const state: { held?: ReturnType<typeof gate>; renders: number } = { renders: 0 };
    const handler = async (ctx: Koa.Context) => {
      const loaded = { ...product };
      await state.held?.wait();
      state.renders++;
      const html = await ctx.render('product.njk', { product: loaded });
      if (route === 'cached with tags') return new CachedResponse(html, { tags: ['product:1'] });
    };
    const app = await startApp((router, koa) => {
      koa.use(views(env));
      if (route === 'rendered') router.get('/products/1', handler);
      else router.get('/products/1', cache.cached({ timeout: 60 }), handler);
    });
    return { app, product, state };
  }

  const name = async (app: TestApp) => /<h1>([^<]*)<\/h1>/.exec((await app.get('/products/1')).text)?.[1];

  /** Loads, edits behind the held request, then checks what the next visitor sees. */
  async function editWhileRendering(shopOf: { app: TestApp; product: { name: string }; state: { held?: ReturnType<typeof gate> } }, edit: () => Promise<void>) {
    const { app, product, state } = shopOf;
    state.held = gate();
    const first = name(app);
    await state.held.reached;
    product.name = 'New';
    try {
      await edit();
    } finally {
      state.held.open();
    }
    expect(await first).toBe('Old'); // what that request loaded
    state.held = undefined;
  }

  it.each(['rendered', 'cached', 'cached with tags'] as const)('a %s page shows the edit to the next visitor', async (route) => {
    const cache = caches.make();
    const s = await shop(cache, route);
    await editWhileRendering(s, () => cache.invalidateTags(['product:1']));
    expect(await name(s.app)).toBe('New');
    expect(await name(s.app)).toBe('New');
  });

  it('a page rendered by another renderer (koa-nunjucks-2 style) shows the edit to the next visitor', async () => {
    const cache = caches.make();
    const product = { id: 1, name: 'Old' };
    const env = new nunjucks.Environment();
    env.addExtension('CacheExtension', new CacheExtension(cache));
    const state: { held?: ReturnType<typeof gate>; renders: number } = { renders: 0 };
    const app = await startApp((router, koa) => {
      // Such a renderer assigns ctx.render in its middleware, once per request.
      koa.use(async (ctx, next) => {
        ctx.render = (_view: string, locals?: Record<string, unknown>) =>
          new Promise<string>((resolve, reject) => env.renderString(PRODUCT, { ...ctx.state, ...locals }, (err, html) => (err ? reject(err) : resolve((ctx.body = html!)))));
        await next();
      });
      router.get('/products/1', async (ctx) => {
        const loaded = { ...product };
        await state.held?.wait();
        state.renders++;
        await ctx.render('product', { product: loaded });
      });
    });
    await editWhileRendering({ app, product, state }, () => cache.invalidateTags(['product:1']));
    expect(await name(app)).toBe('New');
  });

  it.each(['rendered', 'cached'] as const)('a %s page is stored as usual when another tag was invalidated meanwhile', async (route) => {
    const cache = caches.make();
    const s = await shop(cache, route);
    await editWhileRendering(s, () => cache.invalidateTags(['product:2']));
    // Stored: product:1 was not invalidated, so the next visitor gets what the first stored.
    const renders = s.state.renders;
    expect(await name(s.app)).toBe('Old');
    expect(s.state.renders).toBe(route === 'cached' ? renders : renders + 1); // a plain route runs; its fragment is a hit
  });

  if (kind !== 'memory') {
    it('an edit saved by another process (heard on the invalidation bus) is not hidden either', async () => {
      const keyPrefix = uniquePrefix('loaded-before-shared');
      const here = caches.make({ keyPrefix });
      const there = caches.make({ keyPrefix });
      const s = await shop(here, 'rendered');
      expect(await name(s.app)).toBe('Old'); // stored: here's L1 now holds the tag's version
      await here.set('probe', 1, { tags: ['product:1'] });
      await editWhileRendering(s, async () => {
        await there.invalidateTags(['product:1']);
        // Heard here once the tag's version left this process's memory (its L1).
        await eventually(() => here.peek('probe'), undefined);
      });
      expect(await name(s.app)).toBe('New');
    });
  }
});
