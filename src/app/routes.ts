import Router from '@koa/router';
import type { Context } from 'koa';
import { makeTemplateFragmentKey, type Cache } from '../index';
import { InvalidProductError, type Catalog } from './catalog';
import { readUrlEncodedForm } from './form-body';
import { formValuesFrom, formValuesOf, patchFrom } from './product-form';

/** The named fragments in views/ that show one product (the views spell the same names). */
const PRODUCT_FRAGMENTS = ['product', 'product-page'];

export function createRouter({ cache, catalog }: { cache: Cache; catalog: Catalog }): Router {
  const router = new Router();

  router.get('/', async (ctx) => {
    // Only ids here: the cards load their product inside the fragment, so cached cards cost nothing.
    await ctx.render('home.njk', { productIds: await catalog.ids() });
  });

  router.get('/products/:id', async (ctx) => {
    const id = await existingProductId(catalog, ctx.params.id);
    if (id === undefined) return renderNotFound(ctx, `There is no product ${ctx.params.id}.`);
    await ctx.render('product.njk', { id });
  });

  router.get('/products/:id/edit', async (ctx) => {
    const id = parseProductId(ctx.params.id);
    const product = id === undefined ? undefined : await catalog.get(id);
    if (!product) return renderNotFound(ctx, `There is no product ${ctx.params.id}.`);
    await ctx.render('edit.njk', { id: product.id, form: formValuesOf(product) });
  });

  router.post('/products/:id/edit', async (ctx) => {
    const id = await existingProductId(catalog, ctx.params.id);
    if (id === undefined) return renderNotFound(ctx, `There is no product ${ctx.params.id}.`);
    const form = formValuesFrom(await readUrlEncodedForm(ctx));
    try {
      if (!(await catalog.update(id, patchFrom(form)))) return renderNotFound(ctx, `There is no product ${id}.`);
    } catch (err) {
      if (!(err instanceof InvalidProductError)) throw err;
      ctx.status = 400;
      await ctx.render('edit.njk', { id, form, error: err.message });
      return;
    }
    // Only this product's fragments go; every other card stays cached.
    await cache.deleteMany(PRODUCT_FRAGMENTS.map((name) => makeTemplateFragmentKey(name, [id])));
    ctx.status = 303;
    ctx.redirect(`/products/${id}`);
  });

  return router;
}

export async function renderNotFound(ctx: Context, message: string): Promise<void> {
  ctx.status = 404;
  await ctx.render('not-found.njk', { message });
}

/** The product id a route parameter spells, if it spells one. */
function parseProductId(param: string | undefined): number | undefined {
  return param && /^[1-9]\d{0,15}$/.test(param) ? Number(param) : undefined;
}

/** The product id a route parameter names, if that product exists (a cheap index lookup). */
async function existingProductId(catalog: Catalog, param: string | undefined): Promise<number | undefined> {
  const id = parseProductId(param);
  return id !== undefined && (await catalog.ids()).includes(id) ? id : undefined;
}
