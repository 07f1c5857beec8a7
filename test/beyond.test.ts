import http from 'node:http';
import type { AddressInfo } from 'node:net';
import nunjucks from 'nunjucks';
import { Cache, CachedResponse, createEnvironment, makeTemplateFragmentKey, views } from '../src';
import { closeApps, startApp } from './support/apps';
import { cacheFactory, storeKinds } from './support/stores';
import { render, renderString, viewsFolder } from './support/templates';

describe.each(storeKinds)('beyond the peers, on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'beyond');
  let cache: Cache;
  let folder: ReturnType<typeof viewsFolder>;
  let env: nunjucks.Environment;
  beforeEach(() => {
    cache = caches.make();
    folder = viewsFolder();
    env = createEnvironment({ cache, views: folder.dir });
  });
  afterEach(closeApps);
  afterAll(() => caches.closeAll());

  describe('deploy-safe fragments', () => {
    it('make a hit a miss once the body or a template it includes changed, without changing the key', async () => {
      folder.write('card.njk', '<b>{{ p }}</b>');
      folder.write('page.njk', '{% cache 300, "card", p %}{% include "card.njk" %}{% endcache %}');
      expect(await render(env, 'page.njk', { p: 1 })).toBe('<b>1</b>');
      // The deploy: card.njk changed; a fresh Environment (a new process) renders the new markup.
      folder.write('card.njk', '<i>{{ p }}</i>');
      const deployed = createEnvironment({ cache, views: folder.dir });
      expect(await render(deployed, 'page.njk', { p: 1 })).toBe('<i>1</i>');
      expect(await render(deployed, 'page.njk', { p: 1 })).toBe('<i>1</i>');
      expect(await cache.get(makeTemplateFragmentKey('card', [1]))).toBe('<i>1</i>');
      // The old process still renders the old markup it was compiled with, under its own digest.
      expect(await render(env, 'page.njk', { p: 1 })).toBe('<b>1</b>');
    });

    it('follow imports and extends recursively, and names declared with depends=[…]', async () => {
      folder.write('macros.njk', '{% macro tag(x) %}[{{ x }}]{% endmacro %}');
      folder.write('inner.njk', '{% import "macros.njk" as m %}{{ m.tag(v) }}');
      folder.write('promo-a.njk', 'A');
      folder.write('outer.njk', '{% cache 300, "outer", depends=["promo-a.njk"] %}{% include "inner.njk" %}{% include which %}{% endcache %}');
      expect(await render(env, 'outer.njk', { v: 1, which: 'promo-a.njk' })).toBe('[1]A');
      folder.write('macros.njk', '{% macro tag(x) %}({{ x }}){% endmacro %}');
      expect(await render(createEnvironment({ cache, views: folder.dir }), 'outer.njk', { v: 1, which: 'promo-a.njk' })).toBe('(1)A');
      folder.write('promo-a.njk', 'A2');
      expect(await render(createEnvironment({ cache, views: folder.dir }), 'outer.njk', { v: 1, which: 'promo-a.njk' })).toBe('(1)A2');
    });

    it('refuses depends= that is not a list of literal names', async () => {
      folder.write('bad-depends.njk', '{% cache 300, "x", depends=names %}x{% endcache %}');
      await expect(render(env, 'bad-depends.njk', { names: [] })).rejects.toThrow(/depends=\[…\] must list template names as literal strings/);
    });
  });

  describe('{% nocache %} holes', () => {
    it('render per visitor inside a cached fragment, autoescaped, with custom delimiters too', async () => {
      const page = '{% cache 300, "header" %}<h1>{{ title }}</h1>{% nocache %}Hi {{ user }}{% endnocache %}{% endcache %}';
      expect(await renderString(env, page, { title: 'T1', user: 'ann' })).toBe('<h1>T1</h1>Hi ann');
      expect(await renderString(env, page, { title: 'T2', user: 'bob' })).toBe('<h1>T1</h1>Hi bob');
      expect(await renderString(env, page, { title: 'T2', user: '<script>' })).toBe('<h1>T1</h1>Hi &lt;script&gt;');
      expect(cache.stats().byKind.fragment.holes).toBe(3);
      const stored = await cache.get<string>(makeTemplateFragmentKey('header'));
      expect(stored).toMatch(/^<h1>T1<\/h1><!--kfc-hole [0-9a-f]{32} h[\w-]{16}-->$/);

      const angled = createEnvironment({ cache, views: folder.dir, tags: { blockStart: '<%', blockEnd: '%>', variableStart: '<$', variableEnd: '$>' } });
      const angledPage = '<% cache 300, "angled" %>[<% nocache %>x=<$ x $><% endnocache %>]<% endcache %>';
      expect(await renderString(angled, angledPage, { x: 1 })).toBe('[x=1]');
      expect(await renderString(angled, angledPage, { x: 2 })).toBe('[x=2]');
    });

    it('stay holes through nested fragments, and see the loop variables around the tag', async () => {
      const page = [
        '{% cache 300, "list" %}<ul>{% for p in products %}{% cache 300, "item", p %}<li>{{ p }}',
        '{% nocache %}{{ cart[p] or 0 }}{% endnocache %}</li>{% endcache %}{% endfor %}</ul>{% endcache %}',
      ].join('');
      const products = ['a', 'b'];
      expect(await renderString(env, page, { products, cart: { a: 1 } })).toBe('<ul><li>a1</li><li>b0</li></ul>');
      expect(await renderString(env, page, { products: [], cart: { b: 5 } })).toBe('<ul><li>a0</li><li>b5</li></ul>');
    });

    it('carry only what was set inside the cached body: what the render sets around it stays the current render’s', async () => {
      const page = '{% set who = user %}{% cache 300, "who" %}{% set shown = "cached" %}[{% nocache %}{{ who }}/{{ shown }}{% endnocache %}]{% endcache %}';
      expect(await renderString(env, page, { user: 'ann' })).toBe('[ann/cached]');
      expect(await renderString(env, page, { user: 'bob' })).toBe('[bob/cached]');
    });

    it('do not let HTML carrying a forged placeholder render a hole', async () => {
      const page = '{% cache 300, "bio" %}{{ bio | safe }}{% nocache %}{{ token }}{% endnocache %}{% endcache %}';
      const forged = '<!--kfc-hole 00000000000000000000000000000000 h0000000000000000-->';
      expect(await renderString(env, page, { bio: forged, token: 'secret' })).toBe(`${forged}secret`);
      expect(await renderString(env, page, { bio: 'x', token: 'other' })).toBe(`${forged}other`);
    });

    it('render per request from ctx.state in a page stored by cached() (the handler does not run on a hit)', async () => {
      folder.write('greet.njk', '<p>Catalog</p>{% nocache %}Hi {{ user }}{% endnocache %}');
      let runs = 0;
      const { get } = await startApp((router, app) => {
        app.use(views(env));
        app.use(async (ctx, next) => {
          ctx.state.user = ctx.get('x-user') || 'guest';
          await next();
        });
        router.get('/greet', cache.cached(), async (ctx) => {
          runs++;
          await ctx.render('greet.njk');
        });
      });
      expect((await get('/greet').set('X-User', 'ann')).text).toBe('<p>Catalog</p>Hi ann');
      const hit = await get('/greet').set('X-User', 'bob');
      expect([hit.headers['x-cache'], hit.text, hit.headers.etag]).toEqual(['HIT', '<p>Catalog</p>Hi bob', undefined]);
      expect(runs).toBe(1);
    });

    it('in a stored page read the same variables on the miss as on every hit: ctx.state, not the route’s locals', async () => {
      folder.write('local.njk', '{% set mood = "set in the page" %}[{{ local }}]{% nocache %}<{{ user }}|{{ local }}|{{ mood }}>{% endnocache %}');
      const { get } = await startApp((router, app) => {
        app.use(views(env));
        app.use(async (ctx, next) => {
          ctx.state.user = 'ann';
          await next();
        });
        router.get('/local', cache.cached(), async (ctx) => {
          await ctx.render('local.njk', { local: 'route local' });
        });
      });
      const miss = await get('/local');
      const hit = await get('/local');
      expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
      expect(miss.text).toBe('[route local]<ann||set in the page>');
      expect(hit.text).toBe(miss.text);
    });
  });

  describe('CDN surrogate keys', () => {
    it('carry the union of the response tags and the page fragments’ tags, on a miss and a hit', async () => {
      folder.write('product.njk', '{% cache 300, "p", id, tags=["product:" + id] %}<b>{{ id }}</b>{% endcache %}{% cache 300, "nav", tags=["nav"] %}nav{% endcache %}');
      const { get } = await startApp((router, app) => {
        app.use(views(env));
        router.get('/product/:id', cache.cached({ surrogateKeys: true }), async (ctx) => {
          await ctx.render('product.njk', { id: ctx.params.id });
          ctx.body = new CachedResponse(ctx.body, { tags: ['page:product'] });
        });
      });
      const miss = await get('/product/7');
      const keys = (value: string, separator: string) => new Set(value.split(separator));
      expect(keys(miss.headers['surrogate-key'], ' ')).toEqual(new Set(['page:product', 'product:7', 'nav']));
      expect(keys(miss.headers['cache-tag'], ',')).toEqual(new Set(['page:product', 'product:7', 'nav']));
      const hit = await get('/product/7');
      expect([hit.headers['x-cache'], hit.headers['surrogate-key']]).toEqual(['HIT', miss.headers['surrogate-key']]);
    });

    it('leave out tags the CDNs cannot take, and say so', async () => {
      const errors: unknown[] = [];
      const { get } = await startApp((router) => router.get('/long', cache.cached({ surrogateKeys: true }), (ctx) => {
        ctx.body = new CachedResponse('x', { tags: ['ok', 'x'.repeat(2000), 'has space'] });
      }), errors);
      expect((await get('/long')).headers['surrogate-key']).toBe('ok');
      expect(String(errors[0])).toMatch(/2 tag\(s\) left out/);
    });

    it('are purged through onInvalidate, after every invalidateTags, failures reported, never thrown', async () => {
      const purged: string[][] = [];
      const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk)).on('end', () => {
          purged.push(JSON.parse(body).tags);
          res.writeHead(req.headers.authorization === 'Bearer cdn-token' ? 200 : 401).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const purgeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/purge`;
      const errors: Error[] = [];
      const purging = caches.make({
        async onInvalidate(tags) {
          const response = await fetch(purgeUrl, { method: 'POST', headers: { authorization: 'Bearer cdn-token' }, body: JSON.stringify({ tags }) });
          if (!response.ok) throw new Error(`CDN purge answered ${response.status}`);
        },
      });
      purging.on('error', (err) => errors.push(err));
      await purging.invalidateTags(['product:7', 'nav']);
      expect(purged).toEqual([['product:7', 'nav']]);
      const failing = caches.make({ onInvalidate: () => Promise.reject(new Error('CDN down')) });
      failing.on('error', (err) => errors.push(err));
      await expect(failing.invalidateTags(['x'])).resolves.toBeUndefined();
      expect(errors.map((err) => err.message)).toEqual(['cache onInvalidate failed: CDN down']);
      server.close();
    });
  });

  it('unless= renders the body fresh, reading and storing nothing', async () => {
    const page = '{% cache 300, "panel", unless=user.isAdmin %}{{ user.name }}{% endcache %}';
    expect(await renderString(env, page, { user: { name: 'admin', isAdmin: true } })).toBe('admin');
    expect(await cache.get(makeTemplateFragmentKey('panel'))).toBeUndefined();
    expect(await renderString(env, page, { user: { name: 'ann', isAdmin: false } })).toBe('ann');
    expect(await renderString(env, page, { user: { name: 'bob', isAdmin: false } })).toBe('ann');
    expect(await renderString(env, page, { user: { name: 'root', isAdmin: true } })).toBe('root');
  });
});
