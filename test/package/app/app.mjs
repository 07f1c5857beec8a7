/* global console, process */
// The same app as app.ts, as plain JavaScript ESM with no build step.
import Koa from 'koa';
import Router from '@koa/router';
import { Cache, createEnvironment, makeTemplateFragmentKey, views } from 'koa-fragment-cache';

const products = new Map([['1', { id: '1', name: '<b>' }]]);
const db = {
  async product(id) {
    return products.get(id);
  },
  async update(id, changes) {
    const product = products.get(id);
    if (product) products.set(id, { ...product, ...changes });
  },
};
let renders = 0;

const cache = Cache.fromEnv(process.env);
const env = createEnvironment({ cache, views: 'views' });

const app = new Koa();
const router = new Router();
app.use(views(env));

router.get('/products/:id', async (ctx) => {
  const product = await db.product(ctx.params.id);
  if (!product) return;
  await ctx.render('product.njk', { product, rendered: () => ++renders });
});
router.post('/products/:id', async (ctx) => {
  await db.update(ctx.params.id, { name: ctx.get('x-new-name') });
  await cache.delete(makeTemplateFragmentKey('product', [ctx.params.id]));
  ctx.redirect(`/products/${ctx.params.id}`);
});
app.use(router.routes());

const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
process.once('SIGTERM', () => server.close(() => void cache.close()));
