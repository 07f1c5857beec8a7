// The README's app on Koa 2.x: koa@2 with @types/koa@2, @koa/router, views(env), a cache.cached() route, a
// {% cache %} fragment, a per-visitor fragment learned from ctx.state (no vary argument) and a memoized
// function with tags. test/package/newcomer.js compiles it as strict TypeScript CommonJS (nodenext), runs
// it and requests it over HTTP (exerciseShop). The same routes as app-koa-nunjucks-2.js and
// app-koa-views-env.mjs:
//
//   GET  /products/:id             cache.cached(): the page, stored per what it read of the visitor
//   GET  /fragments/products/:id   the same page rendered on every request (only its fragments cached)
//   GET  /reference/products/:id   the same template without its cache tags, rendered by a plain nunjucks
//                                  Environment (no extension) with the same variables; ?render=N
//   POST /products/:id             renames the product (x-new-name), invalidateTags(['product:<id>'])
//   GET  /counts                   { renders, reviewQueries, koa, nunjucks }: the counters, the versions the app runs on
//
// The visitor comes from the `sid` cookie into ctx.state.user, as session or auth middleware would put it.
// Every answer carries x-fragments: "miss=N hit=N", the fragment outcomes of that request.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import nunjucks from 'nunjucks';
import { Cache, createEnvironment, views } from 'koa-fragment-cache';

interface Product {
  id: string;
  name: string;
}
interface User {
  name: string;
}

const products = new Map<string, Product>([['1', { id: '1', name: '<b>' }]]);
// Two sessions of visitors named Alice (equal state: they may share a page), one of Bob.
const sessions = new Map<string, User>([['a1', { name: 'Alice' }], ['a2', { name: 'Alice' }], ['b1', { name: 'Bob' }]]);
const TEMPLATE = 'learned.njk';
let renders = 0;
let reviewQueries = 0;

const versionOf = (name: string): string => JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;

const cache = Cache.fromEnv(process.env);
const env = createEnvironment({ cache, views: 'views-shop' });
const reviewsOf = (id: string): string[] => [`Review of ${id}`, 'Works <well>'];
const loadReviews = cache.memoize(
  async (id: string) => {
    reviewQueries++;
    return reviewsOf(id);
  },
  { name: 'reviews', timeout: '10m', tags: (id: string) => [`product:${id}`] },
);

// The reference: the same template with its cache tags taken out, through an Environment without the extension.
const plain = new nunjucks.Environment(new nunjucks.FileSystemLoader('views-shop'), { autoescape: true });
const uncached = fs.readFileSync(path.join('views-shop', TEMPLATE), 'utf8').replace(/\{%-?\s*(?:end)?cache\b[^%]*-?%\}/g, '');

const fragments = { hit: 0, miss: 0 };
cache.on('hit', (event) => {
  if (event.kind === 'fragment') fragments.hit++;
});
cache.on('miss', (event) => {
  if (event.kind === 'fragment') fragments.miss++;
});

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
app.use(views(env));

const router = new Router();
const page = async (ctx: Koa.Context): Promise<void> => {
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
  ctx.body = await new Promise<string>((resolve, reject) =>
    plain.renderString(uncached, variables, (err, html) => (err ? reject(err) : resolve(html ?? ''))),
  );
});
router.post('/products/:id', async (ctx) => {
  const product = products.get(ctx.params.id);
  if (product) products.set(product.id, { ...product, name: ctx.get('x-new-name') });
  await cache.invalidateTags([`product:${ctx.params.id}`]);
  ctx.redirect(`/products/${ctx.params.id}`);
});
router.get('/counts', (ctx) => {
  ctx.body = { renders, reviewQueries, koa: versionOf('koa'), nunjucks: versionOf('nunjucks') };
});
app.use(router.routes());

const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ listening: port }));
});
process.once('SIGTERM', () => server.close(() => void cache.close()));
