// An app rendering with koa-nunjucks-2, whose own ctx.render renders through the Environment it makes
// (with the nunjucks it resolves); the cache tag comes in through its configureEnvironment option, as
// docs/tag.md shows. No views(): koa-nunjucks-2 refuses to run where ctx.render is already defined.
// Plain JavaScript CommonJS, no build. test/package/newcomer.js runs it on Koa 3 (app "full") and on
// Koa 2 (app "koa2") and requests it over HTTP (exerciseShop); the routes are those of app-koa2.ts.
// views-shop/learned.njk's per-visitor fragment has no vary argument: it learns what it reads of
// ctx.state through koa-nunjucks-2's ctx.render too (docs/tag.md, "With koa-nunjucks-2").
const fs = require('node:fs');
const path = require('node:path');
const Koa = require('koa');
const Router = require('@koa/router');
const nunjucks = require('nunjucks');
const koaNunjucks = require('koa-nunjucks-2');
const { Cache, CacheExtension } = require('koa-fragment-cache');

const products = new Map([['1', { id: '1', name: '<b>' }]]);
const sessions = new Map([['a1', { name: 'Alice' }], ['a2', { name: 'Alice' }], ['b1', { name: 'Bob' }]]);
const TEMPLATE = 'learned';
let renders = 0;
let reviewQueries = 0;

const cache = Cache.fromEnv(process.env);
const reviewsOf = (id) => [`Review of ${id}`, 'Works <well>'];
const loadReviews = cache.memoize(
  async (id) => {
    reviewQueries++;
    return reviewsOf(id);
  },
  { name: 'reviews', timeout: '10m', tags: (id) => [`product:${id}`] },
);

const plain = new nunjucks.Environment(new nunjucks.FileSystemLoader('views-shop'), { autoescape: true });
const uncached = fs.readFileSync(path.join('views-shop', `${TEMPLATE}.njk`), 'utf8').replace(/\{%-?\s*(?:end)?cache\b[^%]*-?%\}/g, '');

const fragments = { hit: 0, miss: 0 };
cache.on('hit', (event) => event.kind === 'fragment' && fragments.hit++);
cache.on('miss', (event) => event.kind === 'fragment' && fragments.miss++);

const app = new Koa();
app.use(async (ctx, next) => {
  const before = { ...fragments };
  await next();
  ctx.set('x-fragments', `miss=${fragments.miss - before.miss} hit=${fragments.hit - before.hit}`);
});
app.use(async (ctx, next) => {
  const user = sessions.get(ctx.cookies.get('sid') ?? '');
  if (user) ctx.state.user = { ...user };
  await next();
});
app.use(
  koaNunjucks({
    ext: 'njk',
    path: 'views-shop',
    nunjucksConfig: { autoescape: true },
    configureEnvironment: (env) => env.addExtension('CacheExtension', new CacheExtension(cache)),
  }),
);

const router = new Router();
const page = async (ctx) => {
  const product = products.get(ctx.params.id);
  if (!product) return;
  await ctx.render(TEMPLATE, { product, reviews: await loadReviews(product.id), rendered: () => ++renders });
};
router.get('/products/:id', cache.cached({ timeout: '5m' }), page);
router.get('/fragments/products/:id', page);
router.get('/reference/products/:id', async (ctx) => {
  const product = products.get(ctx.params.id);
  if (!product) return;
  const variables = { ...ctx.state, product, reviews: reviewsOf(product.id), rendered: () => Number(ctx.query.render) };
  ctx.type = 'html';
  ctx.body = await new Promise((resolve, reject) => plain.renderString(uncached, variables, (err, html) => (err ? reject(err) : resolve(html))));
});
router.post('/products/:id', async (ctx) => {
  const product = products.get(ctx.params.id);
  if (product) products.set(product.id, { ...product, name: ctx.get('x-new-name') });
  await cache.invalidateTags([`product:${ctx.params.id}`]);
  ctx.redirect(`/products/${ctx.params.id}`);
});
router.get('/counts', (ctx) => {
  ctx.body = { renders, reviewQueries, koa: require('koa/package.json').version, nunjucks: require('nunjucks/package.json').version };
});
app.use(router.routes());

const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
process.once('SIGTERM', () => server.close(() => void cache.close()));
