import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { makeTemplateFragmentKey, type Cache } from '../../src';
import { createApp, type CatalogApp, type CreateAppOptions } from '../../src/app/app';
import type { Product } from '../../src/app/catalog';
import { appPaths } from '../../src/app/paths';
import { formToken, postForm } from '../support/forms';
import { cacheFactory, sleep, storeKinds } from '../support/stores';

const seed = JSON.parse(readFileSync(appPaths.seedFile, 'utf8')) as Product[];
const [productA, productB] = seed; // A is not on sale, B is
const LIVE_PRICES_MS = 500;

describe.each(storeKinds)('demo app, fragments in the %s store', (kind) => {
  const caches = cacheFactory(kind, 'app');
  let cache: Cache;
  let dir: string;
  let dataFile: string;
  let app: CatalogApp;
  const apps: CatalogApp[] = [];

  const makeApp = (options: CreateAppOptions = {}) => {
    const made = createApp({ cache, dataFile, latencyMs: 0, livePricesMs: LIVE_PRICES_MS, adminToken: '', debugMarkers: false, ...options });
    apps.push(made);
    return made;
  };

  beforeAll(() => {
    cache = caches.make({ operationTimeoutMs: 1000 });
  });

  afterAll(() => caches.closeAll());

  beforeEach(async () => {
    await cache.clear();
    dir = mkdtempSync(path.join(os.tmpdir(), 'kfc-app-'));
    dataFile = path.join(dir, 'catalog.json');
    copyFileSync(appPaths.seedFile, dataFile);
    app = makeApp();
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(apps.splice(0).map((made) => made.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  // One Host for every request: responses are cached per host, and each supertest request listens on a port of its own.
  const get = (url: string) => request(app.callback()).get(url).set('Host', 'shop.example');
  /** Opens an edit form as a browser would; posts edits with the token and cookie it handed out. */
  const openEditor = async () => {
    const browser = request.agent(app.callback());
    const token = await formToken(browser, `/products/${productA.id}/edit`);
    return (id: number, fields: Record<string, string>) => postForm(browser, `/products/${id}/edit`, { ...fields, _csrf: token });
  };
  const cardKey = (id: number) => makeTemplateFragmentKey('product', [id]);
  const savedProducts = () => JSON.parse(readFileSync(dataFile, 'utf8')) as Product[];
  const editOf = (product: Product, changes: Partial<Record<'name' | 'price' | 'category' | 'description', string>>) => ({
    name: product.name,
    price: String(product.price),
    category: product.category,
    description: product.description,
    ...(product.onSale ? { onSale: 'on' } : {}),
    ...changes,
  });

  test('the home page lists every product in a cached grid, the category sidebar and an uncached footer', async () => {
    const res = await get('/').expect(200).expect('Content-Type', /html/);
    for (const product of seed) expect(cardOf(res.text, product.id)).toContain(product.name);
    expect(res.text).toMatch(/Kitchen <span class="count">4<\/span>/);
    expect(res.text).toMatch(/refreshed <time datetime="[^"]+">/);
    expect(res.text).toMatch(/Page rendered in <strong>[\d.]+ ms<\/strong>/);
    expect(await cache.get<string>(makeTemplateFragmentKey('product-grid'))).toContain(cardOf(res.text, productA.id));
  });

  test('the sidebar counts are a refreshing value, stored with when they were computed', async () => {
    await get('/').expect(200);
    const stored = await cache.get<{ value: { category: string; count: number }[]; updatedAt: number }>('category-counts');
    expect(stored?.value).toContainEqual({ category: 'Kitchen', count: 4 });
    expect(stored?.updatedAt).toBeLessThanOrEqual(Date.now());
  });

  test('a second request serves the grid and the product cards from the cache', async () => {
    const first = await get('/').expect(200);
    for (const product of seed) {
      expect(await cache.get<string>(cardKey(product.id))).toContain(cardOf(first.text, product.id));
    }

    // Behind the app's back: a cached card cannot notice, an uncached page (the edit form) does.
    writeFileSync(dataFile, JSON.stringify(seed.map((p) => (p.id === productA.id ? { ...p, name: 'Renamed Quietly' } : p))));
    const second = await get('/').expect(200);
    expect(cardOf(second.text, productA.id)).toBe(cardOf(first.text, productA.id));
    expect(gridRenderedAt(second.text)).toBe(gridRenderedAt(first.text));
    expect(second.text).not.toContain('Renamed Quietly');
    expect((await get(`/products/${productA.id}/edit`).expect(200)).text).toContain('value="Renamed Quietly"');
  });

  test('the product page is a cached response, with its details a fragment inside', async () => {
    const first = await get(`/products/${productA.id}`).expect(200).expect('X-Cache', 'MISS');
    expect(first.text).toContain(`<h1>${productA.name}</h1>`);
    expect(await cache.has(makeTemplateFragmentKey('product-page', [productA.id]))).toBe(true);
    await sleep(5); // a re-render would now show a later time
    const second = await get(`/products/${productA.id}`).expect(200).expect('X-Cache', 'HIT');
    expect(second.text).toBe(first.text);
    expect(pageRenderedAt(second.text)).toBe(pageRenderedAt(first.text));
  });

  test('a cached product page greets each visitor through a {% nocache %} hole, and names its tags for a CDN', async () => {
    const ann = await get(`/products/${productA.id}`).set('Cookie', 'visitor=Ann').expect('X-Cache', 'MISS');
    const bob = await get(`/products/${productA.id}`).set('Cookie', 'visitor=Bob').expect('X-Cache', 'HIT');
    expect(ann.text).toContain('Hello, Ann');
    expect(bob.text).toContain('Hello, Bob');
    expect(bob.text).not.toContain('Ann');
    expect(bob.headers['surrogate-key']).toBe(`product:${productA.id}`);
    expect(bob.headers['cache-tag']).toBe(`product:${productA.id}`);
    expect((await get('/hello?name=Cleo').expect(302)).headers['set-cookie']?.[0]).toMatch(/^visitor=Cleo;/);
  });

  test('on-sale product pages stay cached 10 s, others 300 s: the handler picks the timeout', async () => {
    expect(productB.onSale).toBe(true);
    expect(productA.onSale).toBe(false);
    await get(`/products/${productA.id}`).expect('X-Cache', 'MISS');
    await get(`/products/${productB.id}`).expect('X-Cache', 'MISS');
    await get(`/products/${productB.id}`).expect('X-Cache', 'HIT');

    const now = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => now() + 11_000);
    await get(`/products/${productA.id}`).expect('X-Cache', 'HIT');
    await get(`/products/${productB.id}`).expect('X-Cache', 'MISS');
  });

  test('saving an edit invalidates one tag: the product shows the change everywhere, other products stay cached', async () => {
    const before = await get('/').expect(200);
    await get(`/products/${productA.id}`).expect(200);
    const pageOfB = await get(`/products/${productB.id}`).expect(200);
    await sleep(5); // a re-rendered card would now show a later time
    const invalidate = jest.spyOn(cache, 'invalidateTags');
    const deleteKey = jest.spyOn(cache, 'delete');

    const postEdit = await openEditor();
    await postEdit(productA.id, { name: 'Speckled Coffee Pot', price: '41', category: 'Kitchen', description: 'New.', onSale: 'on' })
      .expect(303)
      .expect('Location', `/products/${productA.id}`);
    expect(invalidate.mock.calls).toEqual([[[`product:${productA.id}`]]]);
    expect(deleteKey).not.toHaveBeenCalled();
    expect(await cache.get(cardKey(productA.id))).toBeUndefined();
    expect(await cache.get(cardKey(productB.id))).toBeDefined();

    const page = await get(`/products/${productA.id}`).expect(200).expect('X-Cache', 'MISS');
    expect(page.text).toContain('<h1>Speckled Coffee Pot</h1>');
    expect(page.text).toContain('$41.00');
    const untouched = await get(`/products/${productB.id}`).expect('X-Cache', 'HIT');
    expect(untouched.text).toBe(pageOfB.text);

    const after = await get('/').expect(200);
    expect(cardOf(after.text, productA.id)).toContain('Speckled Coffee Pot');
    expect(renderedAt(cardOf(after.text, productA.id))).not.toBe(renderedAt(cardOf(before.text, productA.id)));
    expect(gridRenderedAt(after.text)).not.toBe(gridRenderedAt(before.text));
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
    const postEdit = await openEditor();

    const blankName = await postEdit(productA.id, fields).expect(400).expect('Content-Type', /html/);
    expect(blankName.text).toContain('Name must not be empty.');
    expect(blankName.text).toContain('value="12"'); // the form comes back as it was typed
    expect(blankName.text).toMatch(/name="_csrf" value="[^"]+"/); // and can be sent again
    for (const price of ['-1', '', 'cheap']) {
      const badPrice = await postEdit(productA.id, { ...fields, name: 'Pot', price }).expect(400);
      expect(badPrice.text).toContain('Price must be a number of 0 or more.');
    }

    expect(savedProducts()).toEqual(seed);
    expect(await cache.get(cardKey(productA.id))).toBeDefined();
  });

  describe('the edit form refuses posts that are not its own', () => {
    const renamed = () => editOf(productA, { name: 'Forged' });

    test('without the token, or with one that does not match the cookie', async () => {
      await request(app.callback()).post(`/products/${productA.id}/edit`).type('form').send(new URLSearchParams(renamed()).toString()).expect(403);
      const browser = request.agent(app.callback());
      await formToken(browser, `/products/${productA.id}/edit`);
      const refused = await postForm(browser, `/products/${productA.id}/edit`, { ...renamed(), _csrf: 'a-token-from-elsewhere-0123456789' }).expect(403);
      expect(refused.text).toContain('security token');
      expect(savedProducts()).toEqual(seed);
    });

    test('from another site, even with a valid token', async () => {
      const browser = request.agent(app.callback());
      const token = await formToken(browser, `/products/${productA.id}/edit`);
      const fields = { ...renamed(), _csrf: token };
      await postForm(browser, `/products/${productA.id}/edit`, fields).set('Origin', 'http://evil.example').expect(403);
      await postForm(browser, `/products/${productA.id}/edit`, fields).set('Origin', 'null').expect(403);
      await postForm(browser, `/products/${productA.id}/edit`, fields).set('Sec-Fetch-Site', 'cross-site').expect(403);
      await postForm(browser, `/products/${productA.id}/edit`, fields).set('Sec-Fetch-Site', 'same-site').expect(403);
      expect(savedProducts()).toEqual(seed);

      // What a browser sends for the app's own form.
      await postForm(browser, `/products/${productA.id}/edit`, fields)
        .set('Host', 'shop.example')
        .set('Origin', 'http://shop.example')
        .set('Sec-Fetch-Site', 'same-origin')
        .expect(303);
      expect(savedProducts().find((p) => p.id === productA.id)?.name).toBe('Forged');
    });

    test('the token cookie is HttpOnly and SameSite=Strict', async () => {
      const form = await get(`/products/${productA.id}/edit`).expect(200);
      expect(form.headers['set-cookie']).toEqual([expect.stringMatching(/^kfc_csrf=[\w-]{32}; path=\/; samesite=strict; httponly$/)]);
    });
  });

  test('/live-prices is slow once, then always fast: stale while it recomputes in the background', async () => {
    const first = await get('/live-prices').expect(200).expect('X-Cache', 'MISS');
    const generated = generatedAt(first.text);
    await get('/live-prices').expect('X-Cache', 'HIT');

    const now = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => now() + 6_000); // past its 5 s of freshness
    const started = performance.now();
    const stale = await get('/live-prices').expect(200).expect('X-Cache', 'STALE');
    expect(performance.now() - started).toBeLessThan(LIVE_PRICES_MS); // it did not wait for the recompute
    expect(generatedAt(stale.text)).toBe(generated);

    let refreshed = generated;
    for (let i = 0; i < 100 && refreshed === generated; i++) {
      await sleep(20);
      refreshed = generatedAt((await get('/live-prices').expect(200)).text);
    }
    expect(refreshed).not.toBe(generated);
  });

  test('/live-prices after a quiet spell: the soft timeout answers the last prices, one refresh stores new ones', async () => {
    const first = await get('/live-prices').expect(200).expect('X-Cache', 'MISS');
    expect(first.text).toContain('staleIfError: 600, softTimeoutMs: 150');
    const generated = generatedAt(first.text);
    const softTimeouts = cache.stats().byKind.response.softTimeouts;

    const now = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => now() + 70_000); // past 5 s fresh and 60 s stale-while-revalidate
    const started = performance.now();
    const stale = await get('/live-prices').expect(200).expect('X-Cache', 'STALE');
    expect(performance.now() - started).toBeLessThan(LIVE_PRICES_MS); // it waited 150 ms, not for the feed
    expect(generatedAt(stale.text)).toBe(generated);
    expect(cache.stats().byKind.response.softTimeouts).toBe(softTimeouts + 1);

    let refreshed = generated;
    for (let i = 0; i < 100 && refreshed === generated; i++) {
      await sleep(20);
      refreshed = generatedAt((await get('/live-prices').expect(200)).text);
    }
    expect(refreshed).not.toBe(generated);
  });

  test('the dashboard invalidates a tag, or with the checkbox keeps serving its entries stale while they are recomputed', async () => {
    const page = `/products/${productA.id}`;
    const tag = `product:${productA.id}`;
    await get(page).expect(200).expect('X-Cache', 'MISS');
    const admin = request.agent(app.callback()); // from this machine: the dashboard lets it in
    const token = await formToken(admin, '/_cache');
    expect((await admin.get('/_cache').expect(200)).text).toContain('<input type="checkbox" name="stale"> Keep serving stale while recomputing');
    const invalidate = jest.spyOn(cache, 'invalidateTags');

    const done = await postForm(admin, '/_cache/tags/invalidate', { tag, stale: 'on', _csrf: token }).expect(303);
    expect(done.headers.location).toBe(`/_cache?invalidated=${encodeURIComponent(tag)}&stale=1`);
    expect(invalidate.mock.calls).toEqual([[[tag], { stale: true }]]);
    expect((await admin.get(done.headers.location).expect(200)).text).toContain(`Invalidated, served stale while recomputed, the tag <code>${tag}</code>`);
    await get(page).expect(200).expect('X-Cache', 'STALE'); // and one refresh recomputes it
    let status: string | undefined;
    for (let i = 0; i < 100 && status !== 'HIT'; i++) {
      await sleep(20);
      status = (await get(page).expect(200)).headers['x-cache'];
    }
    expect(status).toBe('HIT');

    await postForm(admin, '/_cache/tags/invalidate', { tag, _csrf: token }).expect(303).expect('Location', `/_cache?invalidated=${encodeURIComponent(tag)}`);
    expect(invalidate.mock.calls[1]).toEqual([[tag]]);
    await get(page).expect(200).expect('X-Cache', 'MISS');
  });

  test("/demo/del renders its box fresh and unstored with the 'del' timeout", async () => {
    const boxKey = makeTemplateFragmentKey('del-demo');
    const plain = boxRenderedAt((await get('/demo/del').expect(200)).text);
    expect(await cache.has(boxKey)).toBe(true);
    await sleep(5);
    expect(boxRenderedAt((await get('/demo/del').expect(200)).text)).toBe(plain);

    const fresh = await get('/demo/del?fresh=1').expect(200);
    expect(boxRenderedAt(fresh.text)).not.toBe(plain);
    expect(fresh.text).toContain('rendered just now and not stored');
    expect(await cache.has(boxKey)).toBe(false);

    await sleep(5);
    const next = boxRenderedAt((await get('/demo/del').expect(200)).text);
    expect(next).not.toBe(plain);
    expect(next).not.toBe(boxRenderedAt(fresh.text));
    expect(await cache.has(boxKey)).toBe(true);
  });

  test('debug markers wrap each outermost fragment in comments naming it', async () => {
    app = makeApp({ debugMarkers: true });
    const first = await get('/').expect(200);
    expect(first.text).toMatch(/<!-- kfc MISS product-grid fragment:\S+ age=[\d.]+s -->/);
    expect(first.text).toContain('<!-- /kfc product-grid -->');
    expect(first.text).not.toMatch(/<!-- kfc \w+ product /); // the cards are part of the grid's HTML
    expect((await get('/').expect(200)).text).toMatch(/<!-- kfc HIT product-grid fragment:\S+ age=[\d.]+s -->/);
  });

  test('close() detaches the app from the cache it was given', async () => {
    const listening = cache.listenerCount('hit');
    const other = makeApp();
    expect(cache.listenerCount('hit')).toBe(listening + 1);
    await other.close();
    expect(cache.listenerCount('hit')).toBe(listening);
  });

  test('unknown products and paths get a 404 page', async () => {
    for (const url of ['/products/999', '/products/abc', '/products/0', '/products/999/edit']) {
      expect((await get(url).expect(404).expect('Content-Type', /html/)).text).toContain('There is no product');
    }
    await (await openEditor())(999, { name: 'x', price: '1' }).expect(404);
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
    const fresh = makeApp({ dataFile: missing });
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

/** The first time in `html` a pattern's `<time datetime>` gives (ISO, to the millisecond). */
function timeAfter(pattern: string, what: string): (html: string) => string {
  return (html) => {
    const time = new RegExp(`${pattern}<time[^>]* datetime="([^"]+)"`).exec(html);
    if (!time) throw new Error(`no ${what} in:\n${html}`);
    return time[1];
  };
}

const renderedAt = timeAfter('<p class="badge">cached · rendered ', 'rendered-at badge');
const gridRenderedAt = timeAfter('grid cached · rendered ', 'grid badge');
const pageRenderedAt = timeAfter('Page rendered at ', 'page rendered-at time');
const generatedAt = timeAfter('prices generated ', 'generated-at time');
const boxRenderedAt = timeAfter('rendered at ', 'box time');
