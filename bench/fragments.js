// Scenario 2, fragment page: a 50-product catalog page with every product fragment a cache hit, vs
// the same page with the fragments inlined as ready strings (the limit: what a hit could at best
// cost), vs no caching at all, and two diagnostic "floor" tags (below) that show how much of a hit's
// cost is nunjucks' async extension machinery. Render cost only, in-process, the pages in
// alternating rounds (lib.interleave); ratios are medians of each round's ratio. Once on the memory
// store, once on Redis with the in-process tier (L1) warm. Build first: npx tsc -p tsconfig.build.json.
// The page helpers are shared with miss-overhead.js and size-scaling.js.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const nunjucks = require('nunjucks');
const { Cache, createEnvironment } = require('../dist');
const { REDIS_URL, interleave, median, round, runMain, table, writeResult } = require('./lib');

// What a real catalog card does: a link with a slug, a responsive image, formatted prices with a
// discount, a star rating loop, badges, a few features and a truncated description. No more: a
// heavier card would only flatter the cached ÷ uncached ratio.
const CARD = `<article class="card{% if p.stock == 0 %} sold-out{% endif %}" data-id="{{ p.id }}">
  <a href="/products/{{ p.id }}-{{ p.name | slug }}">
    <img src="{{ p.image }}?w=320" srcset="{{ p.image }}?w=640 2x" alt="{{ p.name }}" width="320" height="240" loading="lazy">
    <h2>{{ p.name | title }}</h2>
  </a>
  <p class="price">{% if p.discount %}<s>{{ p.price | money(currency) }}</s> <strong>{{ (p.price * (100 - p.discount) / 100) | money(currency) }}</strong>{% else %}<strong>{{ p.price | money(currency) }}</strong>{% endif %}</p>
  <p class="rating" title="{{ p.rating }} out of 5">{% for i in range(5) %}<span class="star{% if i < p.rating %} on{% endif %}">★</span>{% endfor %} <small>({{ p.reviews }} reviews)</small></p>
  <ul class="badges">{% if p.discount %}<li class="sale">−{{ p.discount }} %</li>{% endif %}{% if p.isNew %}<li class="new">New</li>{% endif %}{% if p.stock > 0 and p.stock < 5 %}<li class="low">Only {{ p.stock }} left</li>{% endif %}</ul>
  <ul class="features">{% for f in p.features %}<li>{{ f | capitalize }}</li>{% endfor %}</ul>
  <p class="description">{{ p.description | truncate(120) }}</p>
  <button type="submit" name="add" value="{{ p.id }}"{% if p.stock == 0 %} disabled{% endif %}>{{ "Sold out" if p.stock == 0 else "Add to cart" }}</button>
</article>`;

/** `n` products with the spread of a real catalog: some discounted, some new, some nearly sold out. */
function makeProducts(n) {
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    name: `product number ${i} <deluxe & co>`,
    image: `/images/products/${i}.jpg`,
    price: 10 + ((i * 37) % 190) + 0.99,
    discount: i % 3 === 0 ? 10 + (i % 4) * 5 : 0,
    isNew: i % 7 === 0,
    stock: (i * 13) % 11,
    rating: 1 + ((i * 7) % 5),
    reviews: (i * 31) % 400,
    description:
      'A sturdy, well-made thing that does exactly what it says on the tin, and then some more: ' +
      'built to last, easy to clean, and backed by a two-year guarantee.',
    features: ['light', 'strong', 'cheap', 'green'],
  }));
}

const products = makeProducts(50);

/** The filters the card uses, on any environment (a real app formats prices once per currency). */
function addFilters(env) {
  const formats = new Map();
  env.addFilter('money', (amount, currency) => {
    let format = formats.get(currency);
    if (!format) formats.set(currency, (format = new Intl.NumberFormat('en-IE', { style: 'currency', currency })));
    return format.format(amount);
  });
  env.addFilter('slug', (text) => String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''));
  return env;
}

/**
 * Two diagnostic tags that answer every fragment from a Map of ready strings, with no key, store or
 * stats: `{% floorasync %}` through nunjucks' async extension call (as `{% cache %}` must be, so its
 * loop compiles to asyncEach) and `{% floorsync %}` through its sync one. Measured beside the real
 * tag, they split a hit's cost into what nunjucks' async machinery takes and what the library takes.
 */
function floorExtension(tag, cards, async) {
  const { SafeString } = nunjucks.runtime;
  return {
    tags: [tag],
    parse(parser, nodes) {
      const token = parser.nextToken();
      const args = parser.parseSignature(null, true);
      parser.advanceAfterBlockEnd(token.value);
      const body = parser.parseUntilBlocks(`end${tag}`);
      parser.advanceAfterBlockEnd();
      return new (async ? nodes.CallExtensionAsync : nodes.CallExtension)(this, 'run', args, [body]);
    },
    run: async
      ? (_context, _timeout, _name, id, _body, cb) => cb(null, new SafeString(cards.get(id)))
      : (_context, _timeout, _name, id) => new SafeString(cards.get(id)),
  };
}

/** A folder with the page templates: cached fragments, no cache, the inlined cards, the floors. */
function views() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-bench-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const loop = (open, close) => `<main>{% for p in products %}${open}${CARD}${close}{% endfor %}</main>`;
  fs.writeFileSync(path.join(dir, 'cached.njk'), loop('{% cache 300, "product", p.id %}', '{% endcache %}'));
  fs.writeFileSync(path.join(dir, 'uncached.njk'), loop('', ''));
  fs.writeFileSync(path.join(dir, 'inlined.njk'), '<main>{% for html in cards %}{{ html | safe }}{% endfor %}</main>');
  for (const tag of ['floorasync', 'floorsync']) fs.writeFileSync(path.join(dir, `${tag}.njk`), loop(`{% ${tag} 300, "product", p.id %}`, `{% end${tag} %}`));
  fs.writeFileSync(path.join(dir, 'card.njk'), CARD);
  return dir;
}

/** nunjucks without the cache tag, with the card's filters. */
const plainEnvironment = (dir) => addFilters(new nunjucks.Environment(new nunjucks.FileSystemLoader(dir)));

/** The product cards of `list` as HTML, rendered without any cache. */
const renderCards = (list, plain = plainEnvironment(views())) => list.map((p) => plain.render('card.njk', { p, currency: 'EUR' }));

const renderWith = (env, name, context) => () =>
  new Promise((resolve, reject) => env.render(name, context, (err, html) => (err ? reject(err) : resolve(html))));

/**
 * The pages for `list`, as functions resolving their HTML: `cached` (fragments through `cache`),
 * `inlined` (the cards as ready strings), `uncached`, and with `floors` the two diagnostic floors.
 * The first render of `cached` stores the fragments; every page is checked to be byte-identical.
 */
async function pages(cache, list, { dir = views(), floors = false } = {}) {
  const env = addFilters(createEnvironment({ cache, views: dir }));
  const plain = plainEnvironment(dir);
  const context = { products: list, currency: 'EUR' };
  const cards = renderCards(list, plain);
  const page = {
    cached: renderWith(env, 'cached.njk', context),
    inlined: renderWith(plain, 'inlined.njk', { cards }),
    uncached: renderWith(plain, 'uncached.njk', context),
  };
  if (floors) {
    const byId = new Map(list.map((p, i) => [p.id, cards[i]]));
    plain.addExtension('floorasync', floorExtension('floorasync', byId, true));
    plain.addExtension('floorsync', floorExtension('floorsync', byId, false));
    page['async tag floor'] = renderWith(plain, 'floorasync.njk', context);
    page['sync tag floor'] = renderWith(plain, 'floorsync.njk', context);
  }
  const inlined = await page.inlined();
  for (const [name, render] of Object.entries(page)) if ((await render()) !== inlined) throw new Error(`the ${name} page differs from the inlined one`);
  if ((await page.cached()) !== inlined) throw new Error('the page of hits differs from the page of misses');
  return { page, bytes: Buffer.byteLength(inlined) };
}

/** µs a page of `n` fragments spends per fragment beyond the inlined page: median over rounds. */
function perFragmentOver(rate, name, n) {
  return median(rate.samples[name].map((s, i) => ((1 / s - 1 / rate.samples.inlined[i]) * 1e6) / n));
}

async function scenario(label, cache, options) {
  const { page, bytes } = await pages(cache, products, { floors: true });
  const missesBefore = cache.stats().byKind.fragment.misses;
  const rate = await interleave(page, options);
  if (cache.stats().byKind.fragment.misses !== missesBefore) throw new Error(`${label}: a fragment missed while measuring`);
  return {
    store: label,
    'cached pages/s': Math.round(rate.cached),
    'inlined pages/s': Math.round(rate.inlined),
    'uncached pages/s': Math.round(rate.uncached),
    'cached ÷ inlined': round(rate.ratio('cached', 'inlined'), 3),
    'cached ÷ uncached': round(rate.ratio('cached', 'uncached'), 2),
    'µs/hit over inlined': round(perFragmentOver(rate, 'cached', products.length), 3),
    'async floor ÷ inlined': round(rate.ratio('async tag floor', 'inlined'), 3),
    'sync floor ÷ inlined': round(rate.ratio('sync tag floor', 'inlined'), 3),
    'page bytes': bytes,
  };
}

async function main() {
  const rows = [await scenario('memory', new Cache())];
  const redis = new Cache({ store: REDIS_URL, keyPrefix: `kfc-bench-fragments-${process.pid}`, operationTimeoutMs: 1000 });
  try {
    rows.push(await scenario('Redis + L1 (warm)', redis));
  } finally {
    await redis.clear();
    await redis.close();
  }
  const targets = rows.flatMap((row) => [
    { target: `${row.store}: ≥ 0.85× the inlined page`, measured: row['cached ÷ inlined'], met: row['cached ÷ inlined'] >= 0.85 },
    { target: `${row.store}: ≥ 8× the uncached page`, measured: row['cached ÷ uncached'], met: row['cached ÷ uncached'] >= 8 },
  ]);
  console.log(`\nFragment page: ${products.length} product fragments, all hits (higher is better)\n`);
  console.log(table(rows));
  console.log(`\n${table(targets)}`);
  console.log(`\nwrote ${writeResult('fragments', { fragments: products.length, rows, targets })}`);
}

runMain(module, main);
module.exports = { scenario, views, products, makeProducts, addFilters, pages, plainEnvironment, renderCards, renderWith, CARD };
