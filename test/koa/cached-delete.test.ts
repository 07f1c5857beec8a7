import type { Cache, QueryInput } from '../../src';
import { closeApps, counting, startApp, type TestApp } from '../support/apps';
import { cacheFactory, storeKinds } from '../support/stores';

describe.each(storeKinds)('cache.deleteCached() on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'cached-delete');
  let cache: Cache;
  let route: ReturnType<typeof counting>;
  let app: TestApp;
  beforeEach(async () => {
    cache = caches.make();
    route = counting();
    app = await startApp((router) => {
      router.get('/list', cache.cached(), route.handler);
      router.get('/users', cache.cached(), route.handler);
      router.get('/hello', cache.cached(), (ctx) => {
        route.handler(ctx);
        ctx.vary('Accept-Language');
      });
    });
  });
  afterEach(closeApps);
  afterAll(() => caches.closeAll());

  const status = async (url: string, host?: string) => {
    const request = app.get(url);
    if (host) request.set('Host', host);
    return (await request).headers['x-cache'] as string;
  };

  it.each<[string, QueryInput]>([
    ['a string', 'limit=15&mock=true&offset=20'],
    ['a string in another order, with a leading ?', '?offset=20&mock=true&limit=15'],
    ['an object', { offset: 20, limit: 15, mock: true }],
    ['pairs', [['mock', 'true'], ['offset', '20'], ['limit', '15']]],
    ['URLSearchParams', new URLSearchParams('offset=20&limit=15&mock=true')],
  ])('removes the entry of a query given as %s, and only that one', async (_label, query) => {
    await app.get('/list?mock=true&offset=20&limit=15');
    await app.get('/list?mock=true&offset=20&limit=20');
    expect(await cache.deleteCached('/list', { query })).toBe(true);
    expect(await status('/list?limit=15&mock=true&offset=20')).toBe('MISS');
    expect(await status('/list?limit=20&mock=true&offset=20')).toBe('HIT');
  });

  it('matches repeated parameters in any order', async () => {
    await app.get('/users?user[]=123&user[]=124');
    expect(await cache.deleteCached('/users', { query: 'user[]=124&user[]=123' })).toBe(true);
    expect(await status('/users?user[]=123&user[]=124')).toBe('MISS');
    expect(await cache.deleteCached('/users', { query: { 'user[]': ['124', '123'] } })).toBe(true);
    expect(await status('/users?user[]=124&user[]=123')).toBe('MISS');
  });

  it('takes the query in the path too, and an absent query means the bare path', async () => {
    await app.get('/list?a=1');
    await app.get('/list');
    expect(await cache.deleteCached('/list?a=1')).toBe(true);
    expect(await cache.deleteCached('/list')).toBe(true);
    expect(await status('/list?a=1')).toBe('MISS');
    expect(await status('/list')).toBe('MISS');
  });

  it('resolves false when there was nothing to delete', async () => {
    expect(await cache.deleteCached('/list', { query: { a: 1 } })).toBe(false);
    expect(await cache.deleteCached('/list', { host: 'nowhere.example' })).toBe(false);
  });

  it("removes one host's entry with host, every host's without", async () => {
    await app.get('/list').set('Host', 'shop-a.example');
    await app.get('/list').set('Host', 'shop-b.example');
    expect(await cache.deleteCached('/list', { host: 'Shop-A.example' })).toBe(true);
    expect(await status('/list', 'shop-a.example')).toBe('MISS');
    expect(await status('/list', 'shop-b.example')).toBe('HIT');
    expect(await cache.deleteCached('/list')).toBe(true);
    expect(await status('/list', 'shop-a.example')).toBe('MISS');
    expect(await status('/list', 'shop-b.example')).toBe('MISS');
  });

  it('removes every variant of a response split by Vary, even given a host', async () => {
    await app.get('/hello').set('Accept-Language', 'fr');
    await app.get('/hello').set('Accept-Language', 'en');
    expect(await cache.deleteCached('/hello', { host: app.host })).toBe(true);
    expect((await app.get('/hello').set('Accept-Language', 'fr')).headers['x-cache']).toBe('MISS');
    expect((await app.get('/hello').set('Accept-Language', 'fr')).headers['x-cache']).toBe('HIT');
    expect((await app.get('/hello').set('Accept-Language', 'en')).headers['x-cache']).toBe('MISS');
  });

  it('refuses a path without a leading slash, a query given twice, and query values it cannot match', async () => {
    await expect(cache.deleteCached('list')).rejects.toThrow(/path must start with/);
    await expect(cache.deleteCached('/list?a=1', { query: 'a=1' })).rejects.toThrow(/both in path and in the query option/);
    await expect(cache.deleteCached('/list', { query: { a: null } as unknown as QueryInput })).rejects.toThrow(/query parameter "a"/);
  });
});
