// What the scenarios serve and render: the 10 KB HTML body, and a catalog page of product cards
// (cached as fragments, inlined as ready strings, uncached, included) with the templates for each.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** The body of every HTTP hit/miss subject. */
const BODY_BYTES = 10 * 1024;

/** `bytes` of HTML (ASCII, so bytes = characters), as a string. */
function htmlPage(bytes = BODY_BYTES) {
  return '<!doctype html><main>'.padEnd(bytes - 7, '<p>cached page text</p>') + '</main>';
}

// What a real catalog card does: a link with a slug, a responsive image, formatted prices with a
// discount, a star rating loop, badges, a few features and a truncated description (about 1 KB).
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

/** The filters the card uses, on any environment. */
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
 * A folder (one per process, removed at exit) with the page templates:
 * cached.njk      every card a `{% cache 3600, "product", p.id %}` fragment
 * misses.njk      the same with the render number as a vary value: every fragment a new key
 * uncached.njk    the cards without the tag
 * inlined.njk     the cards as ready strings (`{{ html | safe }}`): the limit a page of hits could reach
 * include.njk     `{% for p in products %}{% include "card.njk" %}{% endfor %}`
 * holes.njk       cached.njk with a `{% nocache %}` hole in every card (filled on every hit)
 * floorasync.njk / floorsync.njk   diagnostic tags (floorExtension) in place of `{% cache %}`
 */
let dir;
function views() {
  if (dir) return dir;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-bench-views-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const loop = (open, close) => `<main>{% for p in products %}${open}${CARD}${close}{% endfor %}</main>`;
  const files = {
    'card.njk': CARD,
    'cached.njk': loop('{% cache 3600, "product", p.id %}', '{% endcache %}'),
    'misses.njk': loop('{% cache 60, "product", p.id, render %}', '{% endcache %}'),
    'uncached.njk': loop('', ''),
    'inlined.njk': '<main>{% for html in cards %}{{ html | safe }}{% endfor %}</main>',
    'include.njk': '<main>{% for p in products %}{% include "card.njk" %}{% endfor %}</main>',
    'holes.njk': loop('{% cache 3600, "product-with-hole", p.id %}', '<p>{% nocache %}in your cart: {{ cart[p.id] or 0 }}{% endnocache %}</p>{% endcache %}'),
    'floorasync.njk': loop('{% floorasync 3600, "product", p.id %}', '{% endfloorasync %}'),
    'floorsync.njk': loop('{% floorsync 3600, "product", p.id %}', '{% endfloorsync %}'),
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** nunjucks without the cache extension, with the card's filters. */
function plainEnvironment() {
  const nunjucks = require('nunjucks');
  return addFilters(new nunjucks.Environment(new nunjucks.FileSystemLoader(views())));
}

/** nunjucks with the cache extension on `cache` (the library's createEnvironment), with the filters. */
function cachedEnvironment(cache) {
  const { createEnvironment } = require('../../dist');
  return addFilters(createEnvironment({ cache, views: views() }));
}

/** A function rendering `name` with `context` (or `context()`) on `env`, resolving the HTML. */
function renderWith(env, name, context) {
  return () => new Promise((resolve, reject) => env.render(name, typeof context === 'function' ? context() : context, (err, html) => (err ? reject(err) : resolve(html))));
}

/** The cards of `products` as HTML, rendered without any cache. */
function renderCards(products) {
  const plain = plainEnvironment();
  return products.map((p) => plain.render('card.njk', { p, currency: 'EUR' }));
}

/**
 * A diagnostic tag answering every fragment from `cards` (a Map id → HTML) with no key, store or
 * stats: through nunjucks' async extension call (as `{% cache %}` is) or its sync one. Beside the
 * real tag, they split a hit's cost into nunjucks' extension machinery and the library's work.
 */
function floorExtension(tag, cards, async) {
  const nunjucks = require('nunjucks');
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

module.exports = { BODY_BYTES, htmlPage, CARD, makeProducts, addFilters, views, plainEnvironment, cachedEnvironment, renderWith, renderCards, floorExtension };
