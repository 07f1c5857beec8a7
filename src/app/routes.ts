import Router from '@koa/router';
import type { Context } from 'koa';
import { CachedResponse, type Cache, type Refreshing } from '../index';
import { InvalidProductError, type Catalog, type CategoryCount } from './catalog';
import { csrfToken, readOwnForm } from './csrf';
import { formValuesFrom, formValuesOf, patchFrom } from './product-form';

/** How long a product page stays cached: on-sale prices change often, so those pages only briefly. */
const ON_SALE_PAGE_SECONDS = 10;
const REGULAR_PAGE_SECONDS = 300;

/** The tag on everything that shows product `id`: its card, its page, and (carried up) the grid. */
export const productTag = (id: number) => `product:${id}`;

export interface CatalogRouterOptions {
  cache: Cache;
  catalog: Catalog;
  /** The sidebar's counts, recomputed in the background. */
  categoryCounts: Refreshing<CategoryCount[]>;
}

export function createRouter({ cache, catalog, categoryCounts }: CatalogRouterOptions): Router {
  const router = new Router();

  router.get('/', async (ctx) => {
    // Only ids here: the cards load their product inside the fragment, so cached cards cost nothing.
    await ctx.render('home.njk', {
      productIds: await catalog.ids(),
      categories: await categoryCounts.get(),
      categoriesUpdatedAt: categoryCounts.lastUpdated,
    });
  });

  // The whole page is stored as a response; the product's state decides for how long.
  router.get('/products/:id', cache.cached({ timeout: REGULAR_PAGE_SECONDS, surrogateKeys: true }), async (ctx) => {
    const id = parseProductId(ctx.params.id);
    const product = id === undefined ? undefined : await catalog.get(id);
    if (!product) return renderNotFound(ctx, `There is no product ${ctx.params.id}.`);
    const timeout = product.onSale ? ON_SALE_PAGE_SECONDS : REGULAR_PAGE_SECONDS;
    const html = await ctx.render('product.njk', { product, timeout, tag: productTag(product.id) });
    return new CachedResponse(html, { timeout, tags: [productTag(product.id)] });
  });

  router.get('/products/:id/edit', async (ctx) => {
    const id = parseProductId(ctx.params.id);
    const product = id === undefined ? undefined : await catalog.get(id);
    if (!product) return renderNotFound(ctx, `There is no product ${ctx.params.id}.`);
    await ctx.render('edit.njk', { id: product.id, form: formValuesOf(product), csrfToken: csrfToken(ctx) });
  });

  router.post('/products/:id/edit', async (ctx) => {
    const id = await existingProductId(catalog, ctx.params.id);
    if (id === undefined) return renderNotFound(ctx, `There is no product ${ctx.params.id}.`);
    const form = formValuesFrom(await readOwnForm(ctx));
    try {
      if (!(await catalog.update(id, patchFrom(form)))) return renderNotFound(ctx, `There is no product ${id}.`);
    } catch (err) {
      if (!(err instanceof InvalidProductError)) throw err;
      ctx.status = 400;
      await ctx.render('edit.njk', { id, form, error: err.message, csrfToken: csrfToken(ctx) });
      return;
    }
    // One write, whatever shows the product: its card, its page's fragment and response, and the
    // grid around the cards (it carries its cards' tags). Every other product stays cached.
    await cache.invalidateTags([productTag(id)]);
    ctx.status = 303;
    ctx.redirect(`/products/${id}`);
  });

  return router;
}

export async function renderNotFound(ctx: Context, message: string): Promise<void> {
  ctx.status = 404;
  await ctx.render('error.njk', { title: 'Not found', message });
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
