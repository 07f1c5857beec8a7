import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Cache } from '../../src';
import { createApp, type CatalogApp } from '../../src/app/app';
import { appPaths } from '../../src/app/paths';
import { sleep } from '../support/stores';

/*
 * The demo in a real browser: Debian's Chromium driven by playwright-core (never a downloaded
 * browser build). Skipped with a notice when Chromium is missing, except under CI=true, where that
 * fails the run (.ci/run installs it). Screenshots are taken every run, and kept in
 * docs/screenshots/ for the README with UPDATE_SCREENSHOTS=1.
 */

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`CI=true but ${CHROMIUM} is missing: browser tests must run in CI`);
if (!haveChromium) process.stderr.write(`\n*** ${CHROMIUM} is not installed: browser tests are SKIPPED (apt-get install chromium) ***\n\n`);

const SAMPLE_SECONDS = 0.2;
const updateScreenshots = process.env.UPDATE_SCREENSHOTS === '1';

(haveChromium ? describe : describe.skip)('the demo in headless Chromium', () => {
  let dir: string;
  let app: CatalogApp;
  let server: Server;
  let base: string;
  let browser: BrowserContext;
  let page: Page;
  let screenshots: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kfc-browser-'));
    copyFileSync(appPaths.seedFile, path.join(dir, 'catalog.json'));
    app = createApp({
      cache: new Cache(),
      dataFile: path.join(dir, 'catalog.json'),
      latencyMs: 5,
      livePricesMs: 50,
      adminToken: '', // the dashboard answers this machine, which the browser is on
      debugMarkers: false,
      statsSampleSeconds: SAMPLE_SECONDS,
    });
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 800 },
      // The machine's network is closed: no background connections, no update checks.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    screenshots = updateScreenshots ? path.join(appPaths.root, 'docs', 'screenshots') : path.join(dir, 'screenshots');
    mkdirSync(screenshots, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await app?.close();
    await app?.cache.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const card = (id: number) => page.locator(`article.card[data-product-id="${id}"]`);
  const cardRenderedAt = (id: number) => card(id).locator('time').getAttribute('datetime');
  const pageRenderedAt = () => page.locator('time.page-rendered').getAttribute('datetime');

  test('walk the catalog, edit a product through its form, and see the change where it shows', async () => {
    await page.goto(`${base}/`);
    expect(await page.locator('article.card').count()).toBe(12);
    const cardBefore = { edited: await cardRenderedAt(1), other: await cardRenderedAt(3) };
    const other = await page.goto(`${base}/products/3`);
    expect(other?.headers()['x-cache']).toBe('MISS');
    const otherRenderedAt = await pageRenderedAt();

    await page.goto(`${base}/`);
    await card(1).getByRole('link').click();
    await page.waitForURL(`${base}/products/1`);
    expect(await page.locator('h1').textContent()).toBe('Enamel Coffee Pot');
    await page.getByRole('link', { name: 'Edit this product' }).click();
    await page.waitForURL(`${base}/products/1/edit`);
    await page.getByLabel('Name', { exact: true }).fill('Speckled Coffee Pot');
    await page.getByLabel('Price (USD)', { exact: true }).fill('41');
    const productPage = page.waitForResponse((response) => response.url() === `${base}/products/1` && response.request().method() === 'GET');
    await page.getByRole('button', { name: 'Save' }).click();
    expect((await productPage).headers()['x-cache']).toBe('MISS'); // the edit made the cached page a miss
    expect(await page.locator('h1').textContent()).toBe('Speckled Coffee Pot');
    expect(await page.locator('.product .price').textContent()).toBe('$41.00');

    await page.goto(`${base}/`);
    expect(await card(1).locator('h2').textContent()).toBe('Speckled Coffee Pot');
    expect(await cardRenderedAt(1)).not.toBe(cardBefore.edited);
    expect(await cardRenderedAt(3)).toBe(cardBefore.other); // other products stay cached
    await page.screenshot({ path: path.join(screenshots, 'catalog.png'), fullPage: true });

    const otherAgain = await page.goto(`${base}/products/3`);
    expect(otherAgain?.headers()['x-cache']).toBe('HIT');
    expect(await pageRenderedAt()).toBe(otherRenderedAt);
  });

  test('the dashboard shows its chart, and its counts move after more page views', async () => {
    // Visitors warming the cache up: the chart then shows the hit ratio climbing.
    for (let round = 0; round < 3; round++) {
      for (const id of [2, 4, 5, 6, 7, 8, 9, 10]) {
        await page.goto(`${base}/products/${id}`);
        await page.goto(`${base}/`);
      }
      await page.goto(`${base}/live-prices`);
      await sleep(SAMPLE_SECONDS * 1000);
    }
    await sleep(SAMPLE_SECONDS * 1000 * 2); // those reads are in a sample
    await page.goto(`${base}/_cache`);
    expect(await page.locator('svg.chart path.line').count()).toBeGreaterThan(0);
    const fragmentHits = () => page.locator('tr[data-kind="fragment"] td.hits').textContent().then(Number);
    const responseHits = () => page.locator('tr[data-kind="response"] td.hits').textContent().then(Number);
    const before = { fragment: await fragmentHits(), response: await responseHits() };

    for (const url of ['/', '/products/5', '/']) await page.goto(base + url);
    await sleep(SAMPLE_SECONDS * 1000 * 2);
    await page.goto(`${base}/_cache`);
    expect(await fragmentHits()).toBe(before.fragment + 2); // the grid, twice
    expect(await responseHits()).toBe(before.response + 1);
    expect(await page.locator('svg.chart circle.kind-response').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(screenshots, 'dashboard.png'), fullPage: true });
  });
});
