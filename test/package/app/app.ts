// A newcomer's app, written the way README.md's guide shows. test/package/newcomer.js
// compiles it as strict TypeScript ESM (nodenext), CommonJS (nodenext) and type-checks it with
// moduleResolution bundler, then runs it and requests /products/1 over HTTP.
import Koa from 'koa';
import Router from '@koa/router';
import type { AddressInfo } from 'node:net';
import { Cache, createEnvironment, makeTemplateFragmentKey, views } from 'koa-fragment-cache';

interface Product {
  id: string;
  name: string;
}

// The app's database: one product whose name must be escaped.
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
let renders = 0; // how many times the fragment's body ran: the same number again means a hit

const cache = Cache.fromEnv(process.env); // memory unless CACHE_URL=redis://…
const env = createEnvironment({ cache, views: 'views' });

const app = new Koa();
const router = new Router();
app.use(views(env)); // adds ctx.render(name, locals)

router.get('/products/:id', async (ctx) => {
  const product = await db.product(ctx.params.id);
  if (!product) return; // 404
  await ctx.render('product.njk', { product, rendered: () => ++renders });
});
router.post('/products/:id', async (ctx) => {
  await db.update(ctx.params.id, { name: ctx.get('x-new-name') });
  await cache.delete(makeTemplateFragmentKey('product', [ctx.params.id])); // exactly that fragment
  ctx.redirect(`/products/${ctx.params.id}`);
});
app.use(router.routes());

const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ listening: port }));
});
process.once('SIGTERM', () => server.close(() => void cache.close()));
