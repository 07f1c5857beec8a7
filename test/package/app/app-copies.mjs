/* global console, process */
// An app whose Environment comes from a second copy of nunjucks, as with koa-views or koa-nunjucks-2:
// the app's own nunjucks is 3.2.3 (the copy koa-fragment-cache resolves), while views-lib makes the
// Environment with the nunjucks@3.2.4 npm installed under it. The app adds the extension the way the
// README's "bring your own Environment" users do. test/package/newcomer.js runs it (no build step).
//
//   GET /outcome  {"added":true} or {"refused":"<the error addExtension threw>"}
//   GET /page     views/page.njk: a cache tag with an escaped value and an include of a cache tag in a loop
//   GET /guarded  views/guarded.njk: a cache tag inside {% macro %}; 500 {"error": message} when it fails
// Every page answer carries x-fragments: "miss=N hit=N", the fragment outcomes of that render.
import Koa from 'koa';
import { createRequire } from 'node:module';
import path from 'node:path';
import viewsLib from 'views-lib';
import { Cache, CacheExtension } from 'koa-fragment-cache';

const appNunjucks = createRequire(import.meta.url)('nunjucks/package.json').version;
const cache = new Cache();
const env = viewsLib.createViews(path.resolve('views'));

let outcome;
try {
  env.addExtension('CacheExtension', new CacheExtension(cache));
  outcome = { added: true };
} catch (err) {
  outcome = { refused: String(err?.message ?? err) };
}

const counts = { hit: 0, miss: 0 };
cache.on('hit', (event) => event.kind === 'fragment' && counts.hit++);
cache.on('miss', (event) => event.kind === 'fragment' && counts.miss++);

const render = (name, context) =>
  new Promise((resolve, reject) => env.render(name, context, (err, html) => (err ? reject(err) : resolve(html))));
const pages = { '/page': 'page.njk', '/guarded': 'guarded.njk' };

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.path === '/outcome') {
    ctx.body = { ...outcome, nunjucks: { app: appNunjucks, env: viewsLib.nunjucksVersion } };
    return;
  }
  const name = pages[ctx.path];
  if (!name) return;
  const before = { ...counts };
  try {
    ctx.type = 'html';
    ctx.body = await render(name, { v: '<b>', ps: [1, 2, 3] });
  } catch (err) {
    ctx.status = 500;
    ctx.body = { error: String(err?.message ?? err) };
  }
  ctx.set('x-fragments', `miss=${counts.miss - before.miss} hit=${counts.hit - before.hit}`);
});

const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
process.once('SIGTERM', () => server.close(() => void cache.close()));
