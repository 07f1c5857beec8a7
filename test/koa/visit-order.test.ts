/**
 * Learned request state does not depend on who came first. Each page is visited by a guest (no
 * `ctx.state.user`), Alice and Bob in every order, then again in the same order: every visitor
 * always sees their own page, and the second round is all hits — the guest's entry, stored before
 * the route or template learned to read a visitor's name, stays the guest's.
 */
import Koa from 'koa';
import Router from '@koa/router';
import nunjucks from 'nunjucks';
import { CacheExtension, views, type Cache, type CacheOptions } from '../../src';
import { closeApps, startApp, type TestApp } from '../support/apps';
import { cacheFactory, storeKinds } from '../support/stores';
import { viewsFolder } from '../support/templates';

const USERS: Record<string, { id: number; name: string }> = { a: { id: 1, name: 'alice' }, b: { id: 2, name: 'bob' } };
const VISITORS = { guest: undefined, alice: 'sid=a', bob: 'sid=b' } as const;
type Visitor = keyof typeof VISITORS;

const auth: Koa.Middleware = async (ctx, next) => {
  const sid = ctx.cookies.get('sid');
  if (sid && USERS[sid]) ctx.state.user = { ...USERS[sid] };
  await next();
};

/** GET /page as `who`: what they saw, and the X-Cache status. */
async function visitAs(app: TestApp, who: Visitor): Promise<{ who: Visitor; text: string; status: string | undefined }> {
  const req = app.get('/page');
  if (VISITORS[who]) req.set('Cookie', VISITORS[who]);
  const res = await req;
  return { who, text: res.text, status: res.headers['x-cache'] };
}

/** Every order of the three visitors. */
const ORDERS: Visitor[][] = [
  ['guest', 'alice', 'bob'],
  ['guest', 'bob', 'alice'],
  ['alice', 'guest', 'bob'],
  ['alice', 'bob', 'guest'],
  ['bob', 'guest', 'alice'],
  ['bob', 'alice', 'guest'],
];

/**
 * The pages: how each is cached (`response`: by cached(), so the second round is X-Cache: HIT;
 * `fragment`: by {% cache %} tags on an uncached route, so the second round renders no fragment),
 * and what each visitor must see.
 */
const PAGES: { name: string; cachedBy: 'response' | 'fragment'; shows: Record<Visitor, string>; route(router: Router, cache: Cache): void }[] = [
  {
    name: 'a route reading ctx.state.user',
    cachedBy: 'response',
    shows: { guest: 'Hi guest', alice: 'Hi alice', bob: 'Hi bob' },
    route: (router, cache) =>
      router.get('/page', cache.cached(), (ctx) => {
        ctx.body = `Hi ${ctx.state.user?.name ?? 'guest'}`;
      }),
  },
  {
    name: 'a JSON body holding ctx.state.user',
    cachedBy: 'response',
    shows: { guest: '{"user":null}', alice: '{"user":{"id":1,"name":"alice"}}', bob: '{"user":{"id":2,"name":"bob"}}' },
    route: (router, cache) =>
      router.get('/page', cache.cached(), (ctx) => {
        ctx.body = { user: ctx.state.user ?? null };
      }),
  },
  {
    name: 'ctx.render of a template reading user',
    cachedBy: 'response',
    shows: { guest: '<h1>Account</h1>Hi guest', alice: '<h1>Account</h1>Hi alice', bob: '<h1>Account</h1>Hi bob' },
    route: (router, cache) => router.get('/page', cache.cached(), (ctx) => ctx.render('account.njk', { title: 'Account' })),
  },
  {
    name: 'ctx.render of a template printing user.name unguarded',
    cachedBy: 'response',
    shows: { guest: 'Hi ', alice: 'Hi alice', bob: 'Hi bob' },
    route: (router, cache) => router.get('/page', cache.cached(), (ctx) => ctx.render('bare.njk')),
  },
  {
    name: 'a fragment without vary reading user',
    cachedBy: 'fragment',
    shows: { guest: 'Hi guest at Home', alice: 'Hi alice at Home', bob: 'Hi bob at Home' },
    route: (router) => router.get('/page', (ctx) => ctx.render('greeting.njk', { title: 'Home' })),
  },
  {
    name: 'nested fragments, the inner reading user',
    cachedBy: 'fragment',
    shows: { guest: '[Hi guest]', alice: '[Hi alice]', bob: '[Hi bob]' },
    route: (router) => router.get('/page', (ctx) => ctx.render('nested.njk')),
  },
  {
    name: 'a filter reading this.ctx.user, on a cached() page',
    cachedBy: 'response',
    shows: { guest: 'Hi guest', alice: 'Hi alice', bob: 'Hi bob' },
    route: (router, cache) => router.get('/page', cache.cached(), (ctx) => ctx.render('filter.njk')),
  },
  {
    name: 'a global function reading this.lookup("user"), in a fragment',
    cachedBy: 'fragment',
    shows: { guest: '<p>Hi guest</p>', alice: '<p>Hi alice</p>', bob: '<p>Hi bob</p>' },
    route: (router) => router.get('/page', (ctx) => ctx.render('global.njk')),
  },
  {
    name: 'a fragment reading user on a cached() page',
    cachedBy: 'response',
    shows: { guest: 'Hi guest at Shop', alice: 'Hi alice at Shop', bob: 'Hi bob at Shop' },
    route: (router, cache) => router.get('/page', cache.cached(), (ctx) => ctx.render('greeting.njk', { title: 'Shop' })),
  },
];

describe.each(storeKinds)('visitors in any order (%s)', (kind) => {
  const caches = cacheFactory(kind, 'visit-order');
  const folder = viewsFolder();
  folder.write('account.njk', '<h1>{{ title }}</h1>Hi {{ user.name if user else "guest" }}');
  folder.write('bare.njk', 'Hi {{ user.name }}');
  folder.write('greeting.njk', '{% cache 60, "greeting" %}Hi {{ user.name if user else "guest" }}{% endcache %} at {{ title }}');
  folder.write('filter.njk', 'Hi {{ "someone" | visitorName }}');
  folder.write('global.njk', '<p>{% cache 60, "who" %}Hi {{ visitorName() }}{% endcache %}</p>');
  folder.write('nested.njk', '{% cache 60, "outer" %}[{% cache 60, "inner" %}Hi {{ user.name if user else "guest" }}{% endcache %}]{% endcache %}');
  let cache: Cache;

  afterEach(async () => {
    await closeApps();
    await caches.closeAll();
  });

  async function appFor(page: (typeof PAGES)[number], options: CacheOptions = {}): Promise<TestApp> {
    cache = caches.make(options);
    const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(folder.dir, { noCache: true }));
    env.addExtension('CacheExtension', new CacheExtension(cache));
    // Helpers reading the render's variables themselves, not through an argument.
    env.addFilter('visitorName', function (this: { ctx: { user?: { name: string } } }) {
      return this.ctx.user ? this.ctx.user.name : 'guest';
    });
    env.addGlobal('visitorName', function (this: { lookup(name: string): { name: string } | undefined }) {
      return this.lookup('user')?.name ?? 'guest';
    });
    return startApp((router, app) => {
      app.use(auth);
      app.use(views(env));
      page.route(router, cache);
    });
  }

  it('visitors with other state arriving together each find their own stored fragment', async () => {
    // Without the in-process tier, each lookup goes to the shared store, where concurrent ones of a key are joined.
    const app = await appFor(PAGES.find((page) => page.name === 'a fragment without vary reading user')!, kind === 'memory' ? {} : { l1: false });
    const visit = (who: Visitor) => visitAs(app, who).then(({ text }) => text);
    for (const who of ['guest', 'alice', 'bob'] as const) await visit(who);
    const before = cache.stats().byKind.fragment;
    for (let round = 0; round < 3; round++) {
      expect(await Promise.all([visit('alice'), visit('bob'), visit('guest'), visit('alice')])).toEqual([
        'Hi alice at Home',
        'Hi bob at Home',
        'Hi guest at Home',
        'Hi alice at Home',
      ]);
    }
    const after = cache.stats().byKind.fragment;
    expect({ misses: after.misses - before.misses, sets: after.sets - before.sets, hits: after.hits - before.hits }).toEqual({ misses: 0, sets: 0, hits: 12 });
  });

  describe.each(PAGES)('$name', (page) => {
    it.each(ORDERS.map((order) => [order.join(', '), order]))('%s', async (_, order) => {
      const app = await appFor(page);
      const visit = (who: Visitor) => visitAs(app, who);
      const first = [];
      for (const who of order as Visitor[]) first.push(await visit(who));
      expect(first.map(({ who, text }) => ({ who, text }))).toEqual((order as Visitor[]).map((who) => ({ who, text: page.shows[who] })));

      const fragmentsRendered = cache.stats().byKind.fragment.misses;
      const second = [];
      for (const who of order as Visitor[]) second.push(await visit(who));
      const expected = (order as Visitor[]).map((who) => ({ who, text: page.shows[who], status: page.cachedBy === 'response' ? 'HIT' : undefined }));
      expect(second).toEqual(expected);
      if (page.cachedBy === 'fragment') expect(cache.stats().byKind.fragment.misses).toBe(fragmentsRendered);
    });
  });
});
