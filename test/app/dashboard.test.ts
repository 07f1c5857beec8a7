import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Context } from 'koa';
import request from 'supertest';
import { Cache, makeTemplateFragmentKey } from '../../src';
import { fromThisMachine } from '../../src/app/admin-access';
import { createApp, type CatalogApp, type CreateAppOptions } from '../../src/app/app';
import { hitRatioChart } from '../../src/app/hit-ratio-chart';
import { appPaths } from '../../src/app/paths';
import type { StatsSample } from '../../src/app/stats-history';
import { formToken, postForm, type Browser } from '../support/forms';
import { eventually, sleep } from '../support/stores';

const ADMIN_TOKEN = 'correct horse battery staple';
/** An address of another machine, as a proxy in front of the app reports it. */
const ELSEWHERE = '203.0.113.7';

let dir: string;
const apps: CatalogApp[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kfc-dashboard-'));
  copyFileSync(appPaths.seedFile, path.join(dir, 'catalog.json'));
});

afterEach(async () => {
  for (const app of apps.splice(0)) {
    await app.close();
    await app.cache.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

function makeApp(options: CreateAppOptions = {}): CatalogApp {
  const app = createApp({ cache: new Cache(), dataFile: path.join(dir, 'catalog.json'), latencyMs: 0, adminToken: '', debugMarkers: false, ...options });
  apps.push(app);
  return app;
}

describe('without ADMIN_TOKEN the dashboard and /metrics answer this machine only', () => {
  test('from loopback: 200', async () => {
    const app = makeApp();
    const page = await request(app.callback()).get('/_cache').expect(200).expect('Cache-Control', 'no-store');
    expect(page.text).toContain('<h1>Cache dashboard</h1>');
    await request(app.callback()).get('/metrics').expect(200).expect('Content-Type', /^text\/plain; version=0\.0\.4/);
  });

  test.each([
    ['X-Forwarded-For', `${ELSEWHERE}, 127.0.0.1`],
    ['X-Forwarded-For', ELSEWHERE],
    ['X-Real-IP', ELSEWHERE],
    ['Forwarded', `for=${ELSEWHERE};proto=https`],
    ['Forwarded', 'for="[2001:db8::1]:4711"'],
  ])('forwarded for another machine (%s: %s): 403, whether or not app.proxy is set', async (header, value) => {
    for (const proxy of [false, true]) {
      const app = makeApp();
      app.proxy = proxy;
      const refused = await request(app.callback()).get('/_cache').set(header, value).expect(403);
      expect(refused.text).toContain('answers requests from this machine only');
      expect(refused.text).not.toContain('Hit ratio');
      await request(app.callback()).get('/metrics').set(header, value).expect(403);
      await request(app.callback()).post('/_cache/tags/invalidate').set(header, value).type('form').send('tag=x').expect(403);
    }
  });

  test('a client cannot make itself look local with forwarding headers', async () => {
    const app = makeApp();
    app.proxy = true; // ctx.ip would now believe the header's first address
    await request(app.callback()).get('/_cache').set('X-Forwarded-For', `127.0.0.1, ${ELSEWHERE}`).expect(403);
  });

  test.each([
    ['127.0.0.1', {}, true],
    ['127.8.9.10', {}, true],
    ['::1', {}, true],
    ['::ffff:127.0.0.1', {}, true],
    ['::1', { 'x-forwarded-for': '127.0.0.1, ::1' }, true],
    [ELSEWHERE, {}, false],
    ['::ffff:10.0.0.5', {}, false],
    ['2001:db8::1', {}, false],
    [undefined, {}, false],
    ['127.0.0.1', { forwarded: 'for=unknown' }, false],
  ])('connection from %s with %j is local: %s', (remoteAddress, headers, local) => {
    const ctx = {
      req: { socket: { remoteAddress } },
      get: (name: string) => (headers as Record<string, string>)[name.toLowerCase()] ?? '',
    } as unknown as Context;
    expect(fromThisMachine(ctx)).toBe(local);
  });
});

describe('with ADMIN_TOKEN the dashboard and /metrics need the token, from anywhere', () => {
  test('no token: 401 with the login form; a wrong one: 401; the right one: 200', async () => {
    const app = makeApp({ adminToken: ADMIN_TOKEN });
    const asked = await request(app.callback()).get('/_cache').expect(401).expect('WWW-Authenticate', /^Bearer/);
    expect(asked.text).toContain('name="token"');
    await request(app.callback()).get('/_cache').set('Authorization', 'Bearer wrong').expect(401);
    await request(app.callback()).get('/metrics').expect(401);

    const bearer = `Bearer ${ADMIN_TOKEN}`;
    await request(app.callback()).get('/_cache').set('Authorization', bearer).set('X-Forwarded-For', ELSEWHERE).expect(200);
    await request(app.callback()).get('/metrics').set('Authorization', bearer).set('X-Forwarded-For', ELSEWHERE).expect(200);
  });

  test('logging in with the form sets a cookie that opens the dashboard', async () => {
    const app = makeApp({ adminToken: ADMIN_TOKEN });
    const browser = request.agent(app.callback());
    const token = await tokenOfLoginForm(browser);

    const wrong = await postForm(browser, '/_cache/login', { token: 'guess', _csrf: token }).expect(401);
    expect(wrong.text).toContain('That is not the admin token.');
    await browser.get('/_cache').expect(401);

    const loggedIn = await postForm(browser, '/_cache/login', { token: ADMIN_TOKEN, _csrf: token }).expect(303).expect('Location', '/_cache');
    const cookie = loggedIn.headers['set-cookie'][0];
    expect(cookie).toMatch(/^kfc_admin=[\w-]+; path=\/; samesite=strict; httponly$/);
    expect(cookie).not.toContain(encodeURIComponent(ADMIN_TOKEN).slice(0, 8)); // it does not carry the token
    await browser.get('/_cache').set('X-Forwarded-For', ELSEWHERE).expect(200);
  });

  test('the login form refuses cross-site posts', async () => {
    const app = makeApp({ adminToken: ADMIN_TOKEN });
    const browser = request.agent(app.callback());
    const token = await tokenOfLoginForm(browser);
    await postForm(browser, '/_cache/login', { token: ADMIN_TOKEN, _csrf: token }).set('Origin', 'http://evil.example').expect(403);
    await postForm(browser, '/_cache/login', { token: ADMIN_TOKEN }).expect(403);
    await browser.get('/_cache').expect(401);
  });

  test('there is no login without ADMIN_TOKEN', async () => {
    await request(makeApp().callback()).post('/_cache/login').type('form').send('token=x').expect(404);
  });

  async function tokenOfLoginForm(browser: Browser): Promise<string> {
    const form = await browser.get('/_cache').expect(401);
    const token = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1];
    if (!token) throw new Error(`no token in the login form:\n${form.text}`);
    return token;
  }
});

describe('dashboard forms', () => {
  const cardKey = (id: number) => makeTemplateFragmentKey('product', [id]);

  test('delete a fragment by name and vary values: exactly that key goes', async () => {
    const app = makeApp();
    await request(app.callback()).get('/').expect(200);
    const browser = request.agent(app.callback());
    const token = await formToken(browser, '/_cache');

    const done = await postForm(browser, '/_cache/fragments/delete', { name: ' product ', vary: '3\r\n', _csrf: token }).expect(303);
    expect(done.headers.location).toBe(`/_cache?deleted=${encodeURIComponent(cardKey(3))}`);
    expect(await app.cache.get(cardKey(3))).toBeUndefined();
    expect(await app.cache.get(cardKey(4))).toBeDefined();
    const notice = await browser.get(done.headers.location).expect(200);
    expect(notice.text).toContain(`Deleted the fragment stored under <code>${escapeHtml(cardKey(3))}</code>`);

    const again = await postForm(browser, '/_cache/fragments/delete', { name: 'product', vary: '3', _csrf: token }).expect(303);
    expect(again.headers.location).toBe(`/_cache?absent=${encodeURIComponent(cardKey(3))}`);
    await postForm(browser, '/_cache/fragments/delete', { name: '', _csrf: token }).expect(400);
  });

  test('invalidate a tag: the fragments carrying it, and those around them, miss', async () => {
    const app = makeApp();
    await request(app.callback()).get('/').expect(200);
    const browser = request.agent(app.callback());
    const token = await formToken(browser, '/_cache');

    await postForm(browser, '/_cache/tags/invalidate', { tag: 'product:3', _csrf: token }).expect(303).expect('Location', '/_cache?invalidated=product%3A3');
    expect(await app.cache.get(cardKey(3))).toBeUndefined();
    expect(await app.cache.get(makeTemplateFragmentKey('product-grid'))).toBeUndefined();
    expect(await app.cache.get(cardKey(4))).toBeDefined();
  });

  test('refuse cross-site posts and posts without the token', async () => {
    const app = makeApp();
    await request(app.callback()).get('/').expect(200);
    const browser = request.agent(app.callback());
    const token = await formToken(browser, '/_cache');
    const fields = { name: 'product', vary: '3', _csrf: token };

    await postForm(browser, '/_cache/fragments/delete', fields).set('Origin', 'http://evil.example').expect(403);
    await postForm(browser, '/_cache/fragments/delete', fields).set('Sec-Fetch-Site', 'cross-site').expect(403);
    await postForm(browser, '/_cache/fragments/delete', { ...fields, _csrf: 'x'.repeat(32) }).expect(403);
    await request(app.callback()).post('/_cache/fragments/delete').type('form').send(new URLSearchParams(fields).toString()).expect(403);
    await postForm(browser, '/_cache/tags/invalidate', { tag: 'product:3' }).expect(403);
    expect(await app.cache.get(cardKey(3))).toBeDefined();
    expect(await app.cache.get(makeTemplateFragmentKey('product-grid'))).toBeDefined();
  });
});

describe('dashboard content', () => {
  test('the counts and the hit-ratio chart move as pages are viewed', async () => {
    const app = makeApp({ statsSampleSeconds: 0.02 });
    const client = () => request(app.callback());
    const empty = await client().get('/_cache').expect(200);
    expect(empty.text).toContain('No reads in the sampled intervals yet');
    expect(fragmentCount(empty.text, 'hits')).toBe(0);

    await client().get('/').expect(200); // every card and the grid miss
    await sleep(200); // longer than the chart's window (6 samples)
    await client().get('/').expect(200); // the grid hits
    await sleep(50);
    const page = await client().get('/_cache').expect(200);
    expect(fragmentCount(page.text, 'misses')).toBe(13);
    expect(fragmentCount(page.text, 'hits')).toBe(1);
    expect(page.text).toMatch(/<path class="line kind-fragment" d="M[\d.]+ [\d.]+( [ML][\d.]+ [\d.]+)*"\/>/);
    expect(page.text).toMatch(/<title>fragment: 100% of 1 reads<\/title>/);
    expect(page.text).toMatch(/<code>product<\/code><\/td>\s*<td>fragment<\/td>\s*<td class="number">0<\/td>\s*<td class="number">12<\/td>/);
    expect(page.text).toMatch(/<span class="memory-entries">\d+<\/span> entries/);

    await client().get('/').expect(200);
    expect(await eventually(async () => fragmentCount((await client().get('/_cache')).text, 'hits'), 2, 1000)).toBe(2);
  });
});

describe('hitRatioChart', () => {
  const sampleAt = (at: number, hits: number, misses: number, since = 0): StatsSample => {
    const none = { hits: 0, misses: 0, stale: 0 };
    return { at, since, byKind: { fragment: { hits, misses, stale: 0 }, response: none, memoized: none, value: none } };
  };
  const samples = [sampleAt(0, 0, 0), sampleAt(1000, 1, 1), sampleAt(2000, 1, 1), sampleAt(3000, 4, 1), sampleAt(4000, 4, 2)];
  const ratiosAndReads = (chart: ReturnType<typeof hitRatioChart>) => chart.series[0].points.map((point) => [point.ratio, point.reads]);

  test('plots the ratio over a window of intervals, breaking the line where a window had no reads', () => {
    const chart = hitRatioChart(samples, { windowSamples: 1, width: 340, height: 140 });
    expect(chart.series.map((series) => series.kind)).toEqual(['fragment']); // kinds without reads have no line
    expect(ratiosAndReads(chart)).toEqual([
      [0.5, 2],
      [1, 3],
      [0, 1],
    ]);
    const { left, right, top, bottom } = chart.plot;
    const [fragment] = chart.series;
    expect(fragment.points.map((point) => point.x)).toEqual([left + (right - left) / 4, left + (3 * (right - left)) / 4, right]);
    expect(fragment.points.map((point) => point.y)).toEqual([(top + bottom) / 2, top, bottom]);
    expect(fragment.path).toBe(`M${left + (right - left) / 4} ${(top + bottom) / 2} M${left + (3 * (right - left)) / 4} ${top} L${right} ${bottom}`);
    expect(chart.spanSeconds).toBe(4);
  });

  test('a wider window smooths single intervals and bridges quiet ones', () => {
    const chart = hitRatioChart(samples, { windowSamples: 2 });
    expect(ratiosAndReads(chart)).toEqual([
      [0.5, 2],
      [0.5, 2],
      [1, 3],
      [0.75, 4],
    ]);
    expect(chart.series[0].path).not.toContain(' M');
  });

  test('counts from zero after the stats were reset', () => {
    const chart = hitRatioChart([sampleAt(0, 50, 50, 0), sampleAt(1000, 60, 50, 0), sampleAt(2000, 3, 1, 900)], { windowSamples: 6 });
    expect(ratiosAndReads(chart)).toEqual([
      [1, 10],
      [0.75, 4],
    ]);
  });

  test('has no line before two samples', () => {
    expect(hitRatioChart([sampleAt(0, 5, 5)]).series).toEqual([]);
  });
});

/** A count in the dashboard's "By kind" table, fragment row. */
function fragmentCount(html: string, column: 'hits' | 'misses'): number {
  const row = /<tr data-kind="fragment">[\s\S]*?<\/tr>/.exec(html)?.[0] ?? '';
  const cell = new RegExp(`<td class="number ${column}">([\\d,]+)</td>`).exec(row);
  if (!cell) throw new Error(`no fragment ${column} in:\n${html}`);
  return Number(cell[1].replace(/,/g, ''));
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
