import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { makeTemplateFragmentKey, type Cache } from '../src';
import { createApp, type CatalogApp } from '../src/app/app';
import type { Product } from '../src/app/catalog';
import { appPaths } from '../src/app/paths';
import { cacheFactory, sleep, storeKinds } from './support/stores';

const seed = JSON.parse(readFileSync(appPaths.seedFile, 'utf8')) as Product[];
const [productA, productB] = seed;

describe.each(storeKinds)('demo app, fragments in the %s store', (kind) => {
  const caches = cacheFactory(kind, 'app');
  let cache: Cache;
  let dir: string;
  let dataFile: string;
  let app: CatalogApp;

  beforeAll(() => {
    cache = caches.make({ operationTimeoutMs: 1000 });
  });

  afterAll(() => caches.closeAll());

  beforeEach(async () => {
    await cache.clear();
    dir = mkdtempSync(path.join(os.tmpdir(), 'kfc-app-'));
    dataFile = path.join(dir, 'catalog.json');
    copyFileSync(appPaths.seedFile, dataFile);
    app = createApp({ cache, dataFile, latencyMs: 0 });
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const get = (url: string) => request(app.callback()).get(url);
  const postEdit = (id: number, fields: Record<string, string>) =>
    request(app.callback()).post(`/products/${id}/edit`).type('form').send(new URLSearchParams(fields).toString());
  const cardKey = (id: number) => makeTemplateFragmentKey('product', [id]);
  const savedProducts = () => JSON.parse(readFileSync(dataFile, 'utf8')) as Product[];

  test('the home page lists every product, the category sidebar and an uncached footer', async () => {
    const res = await get('/').expect(200).expect('Content-Type', /html/);
    for (const product of seed) expect(cardOf(res.text, product.id)).toContain(product.name);
    expect(res.text).toMatch(/Kitchen <span class="count">4<\/span>/);
    expect(res.text).toMatch(/Page rendered in <strong>[\d.]+ ms<\/strong>/);
  });

  test('a second request serves the product cards from the cache', async () => {
    const first = await get('/').expect(200);
    for (const product of seed) {
      expect(await cache.get<string>(cardKey(product.id))).toContain(cardOf(first.text, product.id));
    }

    // Behind the app's back: a cached card cannot notice, an uncached page (the edit form) does.
    writeFileSync(dataFile, JSON.stringify(seed.map((p) => (p.id === productA.id ? { ...p, name: 'Renamed Quietly' } : p))));
    const second = await get('/').expect(200);
    expect(cardOf(second.text, productA.id)).toBe(cardOf(first.text, productA.id));
    expect(second.text).not.toContain('Renamed Quietly');
    expect((await get(`/products/${productA.id}/edit`).expect(200)).text).toContain('value="Renamed Quietly"');
  });

  test('the product page caches its details under the product id', async () => {
    const first = await get(`/products/${productB.id}`).expect(200);
    expect(first.text).toContain(`<h1>${productB.name}</h1>`);
    expect(await cache.has(makeTemplateFragmentKey('product-page', [productB.id]))).toBe(true);
    await sleep(5); // a re-render would now show a later time
    const second = await get(`/products/${productB.id}`).expect(200);
    expect(renderedAt(second.text)).toBe(renderedAt(first.text));
  });

  test('saving an edit re-renders that product and leaves the others cached', async () => {
    const before = await get('/').expect(200);
    await get(`/products/${productA.id}`).expect(200);
    await sleep(5); // a re-rendered card would now show a later time

    await postEdit(productA.id, { name: 'Speckled Coffee Pot', price: '41', category: 'Kitchen', description: 'New.', onSale: 'on' })
      .expect(303)
      .expect('Location', `/products/${productA.id}`);
    expect(await cache.has(cardKey(productA.id))).toBe(false);
    expect(await cache.has(makeTemplateFragmentKey('product-page', [productA.id]))).toBe(false);
    expect(await cache.has(cardKey(productB.id))).toBe(true);

    const page = await get(`/products/${productA.id}`).expect(200);
    expect(page.text).toContain('<h1>Speckled Coffee Pot</h1>');
    expect(page.text).toContain('$41.00');

    const after = await get('/').expect(200);
    expect(cardOf(after.text, productA.id)).toContain('Speckled Coffee Pot');
    expect(renderedAt(cardOf(after.text, productA.id))).not.toBe(renderedAt(cardOf(before.text, productA.id)));
    expect(cardOf(after.text, productB.id)).toBe(cardOf(before.text, productB.id));

    const saved = savedProducts();
    expect(saved.find((p) => p.id === productA.id)).toEqual({
      ...productA,
      name: 'Speckled Coffee Pot',
      price: 41,
      description: 'New.',
      onSale: true,
    });
    expect(saved.find((p) => p.id === productB.id)).toEqual(productB);
    expect(readdirSync(dir)).toEqual(['catalog.json']); // the atomic write left no temp file
  });

  test('a rejected edit answers 400 with the form and the reason, and changes nothing', async () => {
    await get('/').expect(200);
    const fields = { name: '  ', price: '12', category: 'Kitchen', description: 'x' };

    const blankName = await postEdit(productA.id, fields).expect(400).expect('Content-Type', /html/);
    expect(blankName.text).toContain('Name must not be empty.');
    expect(blankName.text).toContain('value="12"'); // the form comes back as it was typed
    for (const price of ['-1', '', 'cheap']) {
      const badPrice = await postEdit(productA.id, { ...fields, name: 'Pot', price }).expect(400);
      expect(badPrice.text).toContain('Price must be a number of 0 or more.');
    }

    expect(savedProducts()).toEqual(seed);
    expect(await cache.has(cardKey(productA.id))).toBe(true);
  });

  test('unknown products and paths get a 404 page', async () => {
    for (const url of ['/products/999', '/products/abc', '/products/0', '/products/999/edit']) {
      expect((await get(url).expect(404).expect('Content-Type', /html/)).text).toContain('There is no product');
    }
    await postEdit(999, { name: 'x', price: '1' }).expect(404);
    expect((await get('/nowhere').expect(404)).text).toContain('Nothing lives at /nowhere.');
  });

  test('an edit that is not a URL-encoded form is refused', async () => {
    await request(app.callback()).post(`/products/${productA.id}/edit`).send({ name: 'x', price: 1 }).expect(415);
    expect(savedProducts()).toEqual(seed);
  });

  test('serves static files from public/', async () => {
    const res = await get('/style.css').expect(200).expect('Content-Type', /text\/css/);
    expect(res.text).toContain('.card');
  });

  test('creates the live data file from the seed when it is missing', async () => {
    const missing = path.join(dir, 'created.json');
    const fresh = createApp({ cache, dataFile: missing, latencyMs: 0 });
    await request(fresh.callback()).get('/').expect(200);
    expect(existsSync(missing)).toBe(true);
    expect(JSON.parse(readFileSync(missing, 'utf8'))).toEqual(seed);
  });
});

/** The HTML of one product card. */
function cardOf(html: string, id: number): string {
  const card = new RegExp(`<article class="card[^"]*" data-product-id="${id}">[\\s\\S]*?</article>`).exec(html);
  if (!card) throw new Error(`no card for product ${id} in:\n${html}`);
  return card[0];
}

/** The first "rendered at" time in `html` (ISO, to the millisecond). */
function renderedAt(html: string): string {
  const time = /<p class="badge">cached · rendered <time datetime="([^"]+)"/.exec(html);
  if (!time) throw new Error(`no rendered-at badge in:\n${html}`);
  return time[1];
}
