/**
 * Fragments rendered by another renderer than views() (koa-nunjucks-2 deep-copies ctx.state into
 * the variables, @ladjs/koa-views spreads it, koa-ejs-style renderers set one ctx.render on
 * app.context): what a fragment reads of the visitor's state is learned there too, so no visitor
 * sees another's fragment, and visitors with equal state share it.
 */
import Koa from 'koa';
import nunjucks from 'nunjucks';
import { CacheExtension, type Cache } from '../../src';
import { closeApps, startApp } from '../support/apps';
import { cacheFactory, storeKinds } from '../support/stores';
import { viewsFolder } from '../support/templates';

const USERS: Record<string, { id: number; name: string }> = { a: { id: 1, name: 'alice' }, b: { id: 2, name: 'bob' }, c: { id: 3, name: 'alice' } };
const auth: Koa.Middleware = async (ctx, next) => {
  const sid = ctx.cookies.get('sid');
  if (sid && USERS[sid]) ctx.state.user = { ...USERS[sid] };
  await next();
};

type Renderer = (env: nunjucks.Environment) => (app: Koa) => void;

const renderWith = (env: nunjucks.Environment, view: string, variables: object) =>
  new Promise<string>((resolve, reject) => env.render(view, variables, (err, html) => (err ? reject(err) : resolve(html!))));

/** The three shapes renderers take. */
const RENDERERS: [string, Renderer][] = [
  [
    'koa-nunjucks-2 style (a deep copy of ctx.state, ctx.render per request)',
    (env) => (app) =>
      app.use(async (ctx, next) => {
        ctx.render = async (view: string, locals: object = {}) => {
          ctx.type = 'html';
          return (ctx.body = await renderWith(env, view, { ...JSON.parse(JSON.stringify(ctx.state)), ...locals }));
        };
        await next();
      }),
  ],
  [
    'koa-views style (ctx.state spread, ctx.render per request)',
    (env) => (app) =>
      app.use(async (ctx, next) => {
        ctx.render = async (view: string, locals: object = {}) => {
          ctx.type = 'html';
          return (ctx.body = await renderWith(env, view, { ...ctx.state, ...locals }));
        };
        await next();
      }),
  ],
  [
    'koa-ejs style (one ctx.render on app.context)',
    (env) => (app) => {
      app.context.render = async function render(this: Koa.Context, view: string, locals: object = {}) {
        this.type = 'html';
        return (this.body = await renderWith(env, view, { ...this.state, ...locals }));
      };
    },
  ],
];

describe.each(storeKinds)('fragments rendered by other renderers (%s)', (kind) => {
  const caches = cacheFactory(kind, 'foreign-renderers');
  const folder = viewsFolder();
  folder.write('greeting.njk', '{% cache 60, "greeting" %}Hi {{ user.name if user else "guest" }}{% endcache %} on {{ title }}');
  afterEach(() => closeApps());
  afterAll(() => caches.closeAll());

  describe.each(RENDERERS)('%s', (_, renderer) => {
    let cache: Cache;
    async function start(cachedRoute: boolean) {
      cache = caches.make();
      const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(folder.dir));
      env.addExtension('CacheExtension', new CacheExtension(cache));
      return startApp((router, app) => {
        renderer(env)(app);
        app.use(auth);
        const route = (ctx: Koa.Context) => ctx.render('greeting.njk', { title: 'home' });
        if (cachedRoute) router.get('/', cache.cached(), route);
        else router.get('/', route);
      });
    }

    it('a fragment without vary arguments is stored per visitor state, and shared by equal visitors', async () => {
      const app = await start(false);
      expect((await app.get('/').set('Cookie', 'sid=a')).text).toBe('Hi alice on home');
      expect((await app.get('/').set('Cookie', 'sid=b')).text).toBe('Hi bob on home');
      expect((await app.get('/')).text).toBe('Hi guest on home');
      expect((await app.get('/').set('Cookie', 'sid=c')).text).toBe('Hi alice on home'); // another alice: a hit
      const greeting = cache.stats().byName.greeting!;
      expect(greeting).toMatchObject({ misses: 3, hits: 1 });
      expect(greeting.varies).toEqual(expect.arrayContaining(['user.name']));
    });

    it('inside cached(), each visitor gets their own page and fragment', async () => {
      const app = await start(true);
      const alice = await app.get('/').set('Cookie', 'sid=a');
      const bob = await app.get('/').set('Cookie', 'sid=b');
      const guest = await app.get('/');
      expect([alice.text, bob.text, guest.text]).toEqual(['Hi alice on home', 'Hi bob on home', 'Hi guest on home']);
      const again = await app.get('/').set('Cookie', 'sid=b');
      expect(again.text).toBe('Hi bob on home');
      expect(again.headers['x-cache']).toBe('HIT');
    });
  });
});
