/* global console, process */
// An app rendering with @ladjs/koa-views, whose ctx.render goes through consolidate: consolidate's
// `nunjucksEnv` option hands it an Environment that carries the cache tag (createEnvironment), and
// consolidate renders each template with env.renderString and a callback. No views(): koa-views sets
// ctx.render itself. Plain JavaScript ESM, no build. test/package/newcomer.js runs it on Koa 3 (app
// "full") and on Koa 2 (app "koa2") and requests it over HTTP (exerciseShop); the routes are those of
// app-koa2.ts. views-shop/learned.njk's per-visitor fragment has no vary argument: it learns what it
// reads of ctx.state through koa-views' ctx.render too (docs/tag.md, "With koa-nunjucks-2").
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import koaViews from '@ladjs/koa-views';
import nunjucks from 'nunjucks';
import { Cache, createEnvironment } from 'koa-fragment-cache';

const require = createRequire(import.meta.url);
const products = new Map([['1', { id: '1', name: '<b>' }]]);
const sessions = new Map([['a1', { name: 'Alice' }], ['a2', { name: 'Alice' }], ['b1', { name: 'Bob' }]]);
const TEMPLATE = 'learned';
let renders = 0;
let reviewQueries = 0;

const cache = Cache.fromEnv(process.env);
const env = createEnvironment({ cache, views: 'views-shop' });
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
app.use(koaViews(path.resolve('views-shop'), { extension: 'njk', map: { njk: 'nunjucks' }, options: { nunjucksEnv: env } }));

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
