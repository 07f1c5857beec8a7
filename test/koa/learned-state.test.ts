/**
 * Safe by default: pages and fragments learn what they depend on of the visitor (cookies read
 * before `cached()`, paths of `ctx.state` read by the route and its templates) and the tags of the
 * values they read. Every case asserts that no visitor sees another's content, and that visitors
 * with equal state still share an entry.
 */
import Koa from 'koa';
import Router from '@koa/router';
import session from 'koa-session';
import { CacheExtension, views, type Cache } from '../../src';
import nunjucks from 'nunjucks';
import { closeApps, startApp, type TestApp } from '../support/apps';
import { cacheFactory, storeKinds } from '../support/stores';
import { viewsFolder } from '../support/templates';

const USERS: Record<string, { id: number; name: string }> = { a: { id: 1, name: 'alice' }, b: { id: 2, name: 'bob' }, c: { id: 3, name: 'alice' } };

/** An authentication middleware as apps write them: reads the session cookie, leaves the visitor in ctx.state. */
const auth: Koa.Middleware = async (ctx, next) => {
  const sid = ctx.cookies.get('sid');
  if (sid && USERS[sid]) ctx.state.user = { ...USERS[sid] };
  await next();
};

const ALICE = 'sid=a';
const BOB = 'sid=b';
const ANALYTICS = '_ga=GA1.2.123; _gid=GA1.2.456';

describe.each(storeKinds)('learned request dependencies (%s)', (kind) => {
  const caches = cacheFactory(kind, 'learned');
  let cache: Cache;
  let env: nunjucks.Environment;
  const folder = viewsFolder();
  folder.write('account.njk', '<h1>{{ title }}</h1>Hi {{ user.name if user else "guest" }}');
  folder.write('greeting.njk', '{% cache 60, "greeting" %}Hi {{ user.name if user else "guest" }}{% endcache %} at {{ title }}');
  folder.write(
    'nested.njk',
    '{% cache 60, "outer" %}[{% cache 60, "inner" %}Hi {{ user.name if user else "guest" }}{% endcache %}]{% endcache %}',
  );
  folder.write('layout.njk', '{% cache 60, "layout" %}<nav>menu</nav>{% nocache %}Hi {{ user.name if user else "guest" }}{% endnocache %}{% endcache %}');
  folder.write('hole-page.njk', '<nav>menu {{ title }}</nav>{% nocache %}Hi {{ user.name if user else "guest" }}{% endnocache %}');
  folder.write('public.njk', '<p>{{ title }} for everyone</p>');

  beforeEach(() => {
    cache = caches.make();
    env = new nunjucks.Environment(new nunjucks.FileSystemLoader(folder.dir, { noCache: true }));
    env.addExtension('CacheExtension', new CacheExtension(cache));
  });
  afterEach(async () => {
    await closeApps();
    await caches.closeAll();
  });

  /** An app: auth (and views) app-wide, then `setup`'s routes. */
  function appWith(setup: (router: Router, app: Koa) => void, before: Koa.Middleware[] = [auth]): Promise<TestApp> {
    return startApp((router, app) => {
      app.keys = ['test-key'];
      for (const middleware of before) app.use(middleware);
      app.use(views(env));
      setup(router, app);
    });
  }

  async function visit(app: TestApp, url: string, cookie?: string): Promise<{ text: string; status: string }> {
    const req = app.get(url);
    if (cookie) req.set('Cookie', cookie);
    const res = await req;
    expect(res.status).toBe(200);
    return { text: res.text, status: String(res.headers['x-cache']) };
  }

  it('1. auth middleware before cached(): each visitor gets their own page; equal visitors share', async () => {
    const app = await appWith((router) => {
      router.get('/me', cache.cached(), (ctx) => {
        ctx.body = `Hi ${ctx.state.user?.name ?? 'guest'}`;
      });
    });
    expect(await visit(app, '/me', ALICE)).toEqual({ text: 'Hi alice', status: 'MISS' });
    expect(await visit(app, '/me', BOB)).toEqual({ text: 'Hi bob', status: 'MISS' });
    expect(await visit(app, '/me')).toEqual({ text: 'Hi guest', status: 'MISS' });
    expect(await visit(app, '/me', ALICE)).toEqual({ text: 'Hi alice', status: 'HIT' });
    expect(await visit(app, '/me', BOB)).toEqual({ text: 'Hi bob', status: 'HIT' });
    expect(await visit(app, '/me')).toEqual({ text: 'Hi guest', status: 'HIT' });
    // Cookies nobody read (analytics) split nothing.
    expect(await visit(app, '/me', ANALYTICS)).toEqual({ text: 'Hi guest', status: 'HIT' });
    expect(await visit(app, '/me', `${ANALYTICS}; ${ALICE}`)).toEqual({ text: 'Hi alice', status: 'HIT' });
  });

  it('1. app-level cached() after auth: the same', async () => {
    const app = await appWith(
      (router) => {
        router.get('/me', (ctx) => {
          ctx.body = `Hi ${ctx.state.user?.name ?? 'guest'}`;
        });
      },
      [auth, (ctx, next) => cache.cached()(ctx, next)],
    );
    expect((await visit(app, '/me', ALICE)).text).toBe('Hi alice');
    expect((await visit(app, '/me', BOB)).text).toBe('Hi bob');
    expect((await visit(app, '/me')).text).toBe('Hi guest');
    expect(await visit(app, '/me', ALICE)).toEqual({ text: 'Hi alice', status: 'HIT' });
    expect(await visit(app, '/me', ANALYTICS)).toEqual({ text: 'Hi guest', status: 'HIT' });
  });

  it('2. koa-session loaded before cached() (touched by an earlier middleware): never shared between sessions', async () => {
    const touch: Koa.Middleware = async (ctx, next) => {
      void ctx.session?.user; // any earlier middleware reading the session
      await next();
    };
    let sessionApp: Koa | undefined;
    const app = await startApp((router, koa) => {
      sessionApp = koa;
      koa.keys = ['test-key'];
      koa.use(session({ signed: true }, koa));
      koa.use(touch);
      router.get('/login/:name', (ctx) => {
        ctx.session!.user = ctx.params.name;
        ctx.body = 'ok';
      });
      router.get('/me', cache.cached(), (ctx) => {
        ctx.body = `Hi ${(ctx.session?.user as string | undefined) ?? 'guest'}`;
      });
    });
    expect(sessionApp).toBeDefined();
    const login = async (name: string) => {
      const res = await app.get(`/login/${name}`);
      return (res.headers['set-cookie'] as unknown as string[]).map((cookie) => cookie.split(';')[0]).join('; ');
    };
    const alice = await login('alice');
    const bob = await login('bob');
    expect((await visit(app, '/me', alice)).text).toBe('Hi alice');
    expect((await visit(app, '/me', bob)).text).toBe('Hi bob');
    expect((await visit(app, '/me')).text).toBe('Hi guest');
    expect(await visit(app, '/me', alice)).toEqual({ text: 'Hi alice', status: 'HIT' });
    expect(await visit(app, '/me', bob)).toEqual({ text: 'Hi bob', status: 'HIT' });
    expect(await visit(app, '/me')).toEqual({ text: 'Hi guest', status: 'HIT' });
    expect(await visit(app, '/me', ANALYTICS)).toEqual({ text: 'Hi guest', status: 'HIT' });
  });

  it('3. ctx.render of a template reading user from ctx.state: per visitor; a page reading nothing of them stays shared', async () => {
    const app = await appWith((router) => {
      router.get('/account', cache.cached(), (ctx) => ctx.render('account.njk', { title: 'Account' }));
      router.get('/public', cache.cached(), (ctx) => ctx.render('public.njk', { title: 'News' }));
    });
    expect((await visit(app, '/account', ALICE)).text).toBe('<h1>Account</h1>Hi alice');
    expect((await visit(app, '/account', BOB)).text).toBe('<h1>Account</h1>Hi bob');
    expect((await visit(app, '/account')).text).toBe('<h1>Account</h1>Hi guest');
    expect(await visit(app, '/account', ALICE)).toEqual({ text: '<h1>Account</h1>Hi alice', status: 'HIT' });
    expect(await visit(app, '/account')).toEqual({ text: '<h1>Account</h1>Hi guest', status: 'HIT' });
    expect((await visit(app, '/public')).status).toBe('MISS');
    expect(await visit(app, '/public', ANALYTICS)).toEqual({ text: '<p>News for everyone</p>', status: 'HIT' });
  });

  it('3. paths, not objects: visitors whose read state is equal share (carol is also named alice)', async () => {
    const app = await appWith(
      (router) => {
        router.get('/hello', cache.cached(), (ctx) => ctx.render('account.njk', { title: 'Hello' }));
      },
      // Here nothing reads a cookie before cached(): the visitor is known from a header.
      [
        async (ctx, next) => {
          const sid = ctx.get('x-session');
          if (USERS[sid]) ctx.state.user = { ...USERS[sid], seen: Date.now() };
          await next();
        },
      ],
    );
    const as = async (sid: string) => {
      const res = await app.get('/hello').set('x-session', sid);
      return { text: res.text, status: res.headers['x-cache'] };
    };
    expect(await as('a')).toEqual({ text: '<h1>Hello</h1>Hi alice', status: 'MISS' });
    expect(await as('b')).toEqual({ text: '<h1>Hello</h1>Hi bob', status: 'MISS' });
    expect(await as('c')).toEqual({ text: '<h1>Hello</h1>Hi alice', status: 'HIT' });
    expect(await as('a')).toEqual({ text: '<h1>Hello</h1>Hi alice', status: 'HIT' });
    expect(cache.stats().byName['/hello'].varies).toEqual(expect.arrayContaining(['user', 'user.name']));
  });

  it('4. a fragment without vary reading user learns it: per visitor, shared by equal visitors, shown in stats', async () => {
    const app = await appWith((router) => {
      router.get('/greeting', (ctx) => ctx.render('greeting.njk', { title: 'Home' }));
    });
    expect((await visit(app, '/greeting', ALICE)).text).toBe('Hi alice at Home');
    expect((await visit(app, '/greeting', BOB)).text).toBe('Hi bob at Home');
    expect((await visit(app, '/greeting')).text).toBe('Hi guest at Home');
    const before = cache.stats().byName.greeting;
    expect((await visit(app, '/greeting', ALICE)).text).toBe('Hi alice at Home');
    expect((await visit(app, '/greeting', 'sid=c')).text).toBe('Hi alice at Home');
    expect((await visit(app, '/greeting')).text).toBe('Hi guest at Home');
    const after = cache.stats().byName.greeting;
    expect(after.hits - before.hits).toBe(3);
    expect(after.varies).toEqual(expect.arrayContaining(['user', 'user.name']));
  });

  it('4. what the vary arguments name is in the key already: nothing more is learned', async () => {
    folder.write('covered.njk', '{% cache 60, "covered", user %}Hi {{ user.name if user else "guest" }}{% endcache %}');
    const app = await appWith((router) => {
      router.get('/covered', (ctx) => ctx.render('covered.njk'));
    });
    expect((await visit(app, '/covered', ALICE)).text).toBe('Hi alice');
    expect((await visit(app, '/covered', BOB)).text).toBe('Hi bob');
    expect((await visit(app, '/covered', ALICE)).text).toBe('Hi alice');
    expect(cache.stats().byName.covered).toMatchObject({ hits: 1, misses: 2 });
    expect(cache.stats().byName.covered.varies).toBeUndefined();
  });

  it('4. nested fragments: the outer learns what the inner read, hits included', async () => {
    const app = await appWith((router) => {
      router.get('/nested', (ctx) => ctx.render('nested.njk'));
    });
    expect((await visit(app, '/nested', ALICE)).text).toBe('[Hi alice]');
    expect((await visit(app, '/nested', BOB)).text).toBe('[Hi bob]');
    expect((await visit(app, '/nested')).text).toBe('[Hi guest]');
    expect((await visit(app, '/nested', ALICE)).text).toBe('[Hi alice]');
    expect(cache.stats().byName.outer.varies).toEqual(expect.arrayContaining(['user.name']));
    expect(cache.stats().byName.outer.hits).toBeGreaterThanOrEqual(1);
  });

  it('holes keep fragments and pages shared: reads inside {% nocache %} vary nothing, and render per request', async () => {
    const app = await appWith((router) => {
      router.get('/layout', (ctx) => ctx.render('layout.njk'));
      router.get('/hole-page', cache.cached(), (ctx) => ctx.render('hole-page.njk', { title: 'T' }));
    });
    expect((await visit(app, '/layout', ALICE)).text).toBe('<nav>menu</nav>Hi alice');
    expect((await visit(app, '/layout', BOB)).text).toBe('<nav>menu</nav>Hi bob');
    expect((await visit(app, '/layout')).text).toBe('<nav>menu</nav>Hi guest');
    expect(cache.stats().byName.layout).toMatchObject({ misses: 1, hits: 2 });
    expect(cache.stats().byName.layout.varies).toBeUndefined();
    // The hole renders for each of them, counted by where it is.
    expect(cache.stats().byName['layout.njk:1 (nocache)']).toMatchObject({ holes: 3 });

    // A page: one entry for everyone (the hole's reads do not split it), filled per request.
    const noCookie = await startApp((router, koa) => {
      koa.use(async (ctx, next) => {
        const sid = ctx.get('x-session');
        if (USERS[sid]) ctx.state.user = { ...USERS[sid] };
        await next();
      });
      koa.use(views(env));
      router.get('/hole-page', cache.cached(), (ctx) => ctx.render('hole-page.njk', { title: 'T' }));
    });
    const as = async (sid?: string) => {
      const req = noCookie.get('/hole-page');
      if (sid) req.set('x-session', sid);
      const res = await req;
      return { text: res.text, status: res.headers['x-cache'] };
    };
    expect(await as('a')).toEqual({ text: '<nav>menu T</nav>Hi alice', status: 'MISS' });
    expect(await as('b')).toEqual({ text: '<nav>menu T</nav>Hi bob', status: 'HIT' });
    expect(await as()).toEqual({ text: '<nav>menu T</nav>Hi guest', status: 'HIT' });
  });

  it('a value that cannot be keyed (a function) bypasses, counted with its reason and warned once; sharedState keeps it shared', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const helpers: Koa.Middleware = async (ctx, next) => {
        ctx.state.shout = (text: string) => text.toUpperCase();
        await next();
      };
      const app = await appWith(
        (router) => {
          router.get('/shout', cache.cached(), (ctx) => {
            ctx.body = ctx.state.shout('hi');
          });
          router.get('/shared', cache.cached({ sharedState: ['shout'] }), (ctx) => {
            ctx.body = ctx.state.shout('hi');
          });
        },
        [auth, helpers],
      );
      expect(await visit(app, '/shout')).toEqual({ text: 'HI', status: 'BYPASS' });
      expect(await visit(app, '/shout')).toEqual({ text: 'HI', status: 'BYPASS' });
      const stats = cache.stats().byName['/shout'];
      expect(stats.bypasses).toBe(2);
      expect(stats.bypassReasons).toEqual({ 'ctx.state.shout is a function': 2 });
      expect(warn.mock.calls.filter(([message]) => String(message).includes('ctx.state.shout is a function'))).toHaveLength(1);
      expect((await visit(app, '/shared')).status).toBe('MISS');
      expect(await visit(app, '/shared')).toEqual({ text: 'HI', status: 'HIT' });
    } finally {
      warn.mockRestore();
    }
  });

  it.each([
    ['renders at once', '{% cache 60, "fn" %}Fn {{ fmt(1) }}{% endcache %}'],
    ['waits (an include)', '{% cache 60, "fn" %}{% include "fmt.njk" %}{% endcache %}'],
  ])('a fragment that cannot be keyed (a function read) and %s renders once per request, counted once', async (_, template) => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      folder.write('fn.njk', template);
      folder.write('fmt.njk', 'Fn {{ fmt(1) }}');
      let calls = 0;
      const app = await appWith((router) => {
        router.get('/fn', async (ctx) => {
          ctx.state.fmt = (n: number) => {
            calls++;
            return `F${n}`;
          };
          await ctx.render('fn.njk');
        });
      });
      expect((await visit(app, '/fn')).text).toBe('Fn F1');
      expect((await visit(app, '/fn', ALICE)).text).toBe('Fn F1');
      expect(calls).toBe(2);
      expect(cache.stats().byName.fn).toMatchObject({ misses: 2, bypasses: 2, bypassReasons: { 'ctx.state.fmt is a function': 2 } });
    } finally {
      warn.mockRestore();
    }
  });

  it.each([
    ['parsed the Cookie header itself', (ctx: Koa.Context) => /(?:^|; )sid=([^;]*)/.exec(ctx.get('Cookie'))?.[1]],
    ['read the session cookie', (ctx: Koa.Context) => ctx.cookies.get('sid')],
  ])('a middleware that %s and kept the visitor outside ctx.state: the page varies by the cookies it read', async (_, sidOf) => {
    type Who = { who?: string };
    const elsewhere: Koa.Middleware = async (ctx, next) => {
      const sid = sidOf(ctx);
      (ctx as unknown as Who).who = sid ? USERS[sid]?.name : undefined;
      await next();
    };
    const app = await appWith(
      (router) => {
        router.get('/who', cache.cached(), (ctx) => {
          ctx.body = `Hi ${(ctx as unknown as Who).who ?? 'guest'}`;
        });
      },
      [elsewhere],
    );
    expect((await visit(app, '/who', ALICE)).text).toBe('Hi alice');
    expect((await visit(app, '/who', BOB)).text).toBe('Hi bob');
    expect((await visit(app, '/who')).text).toBe('Hi guest');
    expect(await visit(app, '/who', ALICE)).toEqual({ text: 'Hi alice', status: 'HIT' });
    expect(await visit(app, '/who')).toEqual({ text: 'Hi guest', status: 'HIT' });
    expect((await visit(app, '/who', `${ALICE}; ${ANALYTICS}`)).text).toBe('Hi alice');
    expect((await visit(app, '/who', `${BOB}; ${ANALYTICS}`)).text).toBe('Hi bob');
  });

  it('a template rendered with a copy of ctx.state (as koa-views does): its reads are learned through the copy', async () => {
    const app = await appWith((router) => {
      router.get('/copy', cache.cached(), async (ctx) => {
        ctx.body = await new Promise((resolve, reject) =>
          env.render('greeting.njk', { ...ctx.state, title: 'Copy' }, (err, html) => (err ? reject(err) : resolve(html))),
        );
      });
    });
    expect((await visit(app, '/copy', ALICE)).text).toBe('Hi alice at Copy');
    expect((await visit(app, '/copy', BOB)).text).toBe('Hi bob at Copy');
    expect((await visit(app, '/copy')).text).toBe('Hi guest at Copy');
    expect(await visit(app, '/copy', ALICE)).toEqual({ text: 'Hi alice at Copy', status: 'HIT' });
    expect(await visit(app, '/copy', BOB)).toEqual({ text: 'Hi bob at Copy', status: 'HIT' });
  });

  it('concurrent misses of visitors with different state never get each other\'s page', async () => {
    const app = await appWith(
      (router) => {
        router.get('/slow', cache.cached(), async (ctx) => {
          await new Promise((resolve) => setTimeout(resolve, 30));
          ctx.body = `Hi ${ctx.state.user?.name ?? 'guest'}`;
        });
      },
      [
        async (ctx, next) => {
          const sid = ctx.get('x-session');
          if (USERS[sid]) ctx.state.user = { ...USERS[sid] };
          await next();
        },
      ],
    );
    const as = (sid: string) => app.get('/slow').set('x-session', sid).then((res) => res.text);
    expect(await Promise.all([as('a'), as('b'), as('a'), as('x'), as('b')])).toEqual(['Hi alice', 'Hi bob', 'Hi alice', 'Hi guest', 'Hi bob']);
    expect(await Promise.all([as('b'), as('a'), as('x')])).toEqual(['Hi bob', 'Hi alice', 'Hi guest']);
  });

  it('5. a page inherits the tags of the memoized values it read, cold and already cached', async () => {
    const prices: Record<number, number> = { 1: 10 };
    const loadProduct = cache.memoize(async (id: number) => ({ id, price: prices[id] }), { name: 'loadProduct', tags: (id) => [`product:${id}`] });
    const app = await appWith((router) => {
      router.get('/product/:id', cache.cached({ surrogateKeys: true }), async (ctx) => {
        const product = await loadProduct(Number(ctx.params.id));
        ctx.body = `price ${product.price}`;
      });
    });
    // Cold: the memoized value is computed while the page is.
    let res = await app.get('/product/1');
    expect(res.text).toBe('price 10');
    expect(res.headers['surrogate-key']).toBe('product:1');
    expect((await visit(app, '/product/1')).status).toBe('HIT');
    prices[1] = 12;
    await cache.invalidateTags(['product:1']);
    expect(await visit(app, '/product/1')).toEqual({ text: 'price 12', status: 'MISS' });
    expect(await visit(app, '/product/1')).toEqual({ text: 'price 12', status: 'HIT' });

    // Warm: the value was cached before the page first read it.
    await loadProduct(1);
    await cache.deleteCached('/product/1', { host: app.host });
    res = await app.get('/product/1');
    expect(res.headers['x-cache']).toBe('MISS');
    prices[1] = 15;
    await cache.invalidateTags(['product:1']);
    expect(await visit(app, '/product/1')).toEqual({ text: 'price 15', status: 'MISS' });
  });

  it('5. getOrSet values join the page too', async () => {
    let headline = 'first';
    const app = await appWith((router) => {
      router.get('/news', cache.cached(), async (ctx) => {
        ctx.body = await cache.getOrSet('headline', () => headline, { tags: ['news'] });
      });
    });
    expect((await visit(app, '/news')).text).toBe('first');
    expect((await visit(app, '/news')).status).toBe('HIT');
    headline = 'second';
    await cache.invalidateTags(['news']);
    expect(await visit(app, '/news')).toEqual({ text: 'second', status: 'MISS' });
  });

  it('5. the tags of fragments a page rendered (found or rendered) make it a miss once invalidated', async () => {
    let price = 10;
    folder.write('price.njk', '{% cache 60, "price", tags=["price"] %}{{ price() }}{% endcache %}');
    const app = await appWith((router) => {
      router.get('/price', cache.cached(), (ctx) => ctx.render('price.njk', { price: () => price }));
      router.get('/warm', (ctx) => ctx.render('price.njk', { price: () => price }));
    });
    expect((await visit(app, '/price')).text).toBe('10');
    expect(await visit(app, '/price')).toEqual({ text: '10', status: 'HIT' });
    price = 11;
    await cache.invalidateTags(['price']);
    expect(await visit(app, '/price')).toEqual({ text: '11', status: 'MISS' });
    // The fragment cached first, by another page: the cached page still depends on its tag.
    price = 12;
    await cache.invalidateTags(['price']);
    expect((await visit(app, '/warm')).text).toBe('12');
    await cache.deleteCached('/price', { host: app.host });
    expect(await visit(app, '/price')).toEqual({ text: '12', status: 'MISS' });
    price = 13;
    await cache.invalidateTags(['price']);
    expect(await visit(app, '/price')).toEqual({ text: '13', status: 'MISS' });
  });
});
