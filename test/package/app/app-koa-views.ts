// The README's app in an app that also has @ladjs/koa-views (which declares its own ctx.render) and
// the optional peers (@keyv/redis, keyv, prom-client) installed. test/package/newcomer.js compiles it
// as strict TypeScript CommonJS with `module: commonjs` (moduleResolution node10), then runs it.
import Koa from 'koa';
import Router from '@koa/router';
import koaViews from '@ladjs/koa-views';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Cache, createEnvironment, makeTemplateFragmentKey, views } from 'koa-fragment-cache';
import { cacheMetrics, metricsMiddleware } from 'koa-fragment-cache/metrics';

interface Product {
  id: string;
  name: string;
}

const products = new Map<string, Product>([['1', { id: '1', name: '<b>' }]]);
const db = {
  async product(id: string): Promise<Product | undefined> {
    return products.get(id);
  },
  async update(id: string, changes: Partial<Product>): Promise<void> {
    const product = products.get(id);
    if (product) products.set(id, { ...product, ...changes });
  },
};
let renders = 0;

const cache = Cache.fromEnv(process.env);
const env = createEnvironment({ cache, views: 'views' });
const metrics = cacheMetrics(cache);

const app = new Koa();
const router = new Router();
// The app's older pages render through koa-views; the cached ones through the library's views().
const legacy = new Router();
legacy.use(koaViews(path.resolve('views'), { extension: 'njk', map: { njk: 'nunjucks' } }));
legacy.get('/legacy', async (ctx) => {
  await ctx.render('legacy', { greeting: 'hello' });
});

router.use(views(env));
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
router.get('/metrics', metricsMiddleware(metrics.registry));
app.use(legacy.routes());
app.use(router.routes());

const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ listening: port }));
});
process.once('SIGTERM', () => {
  metrics.stop();
  server.close(() => void cache.close());
});
