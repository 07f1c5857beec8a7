// A 50-product catalog page: every product fragment a cache hit, vs the same page with the
// fragments inlined as ready strings (the limit), vs no caching at all. Render cost only.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const nunjucks = require('nunjucks');
const { Cache, createEnvironment } = require('../dist');
const { interleave, table, writeResult } = require('./lib');

const CARD = `<article class="card">
  <h2>{{ p.name | title }}</h2>
  <p class="price">{{ "%.2f" | replace("%.2f", p.price) }} {{ currency }}</p>
  <ul>{% for f in p.features %}<li>{{ f | capitalize }}</li>{% endfor %}</ul>
  <p>{{ p.description | truncate(80) }}</p>
</article>`;

const products = Array.from({ length: 50 }, (_, i) => ({
  id: i,
  name: `product number ${i}`,
  price: 10 + i,
  description: 'A sturdy, well-made thing that does exactly what it says on the tin, and then some more.',
  features: ['light', 'strong', 'cheap', 'green'],
}));

function views() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-bench-'));
  fs.writeFileSync(path.join(dir, 'cached.njk'), `<main>{% for p in products %}{% cache 300, "product", p.id %}${CARD}{% endcache %}{% endfor %}</main>`);
  fs.writeFileSync(path.join(dir, 'uncached.njk'), `<main>{% for p in products %}${CARD}{% endfor %}</main>`);
  fs.writeFileSync(path.join(dir, 'inlined.njk'), '<main>{% for html in cards %}{{ html | safe }}{% endfor %}</main>');
  fs.writeFileSync(path.join(dir, 'card.njk'), CARD);
  return dir;
}

const renderWith = (env, name, context) => () =>
  new Promise((resolve, reject) => env.render(name, context, (err, html) => (err ? reject(err) : resolve(html))));

async function scenario(label, cache) {
  const dir = views();
  const env = createEnvironment({ cache, views: dir });
  const plain = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir));
  const context = { products, currency: 'EUR' };
  const cards = products.map((p) => plain.render('card.njk', { p, currency: 'EUR' }));
  const cached = renderWith(env, 'cached.njk', context);
  const inlined = renderWith(plain, 'inlined.njk', { cards });
  const uncached = renderWith(plain, 'uncached.njk', context);
  const [a, b] = [await cached(), await inlined()];
  if (a !== b) throw new Error('cached and inlined pages differ');
  const rate = await interleave({ cached, inlined, uncached });
  return {
    store: label,
    'cached pages/s': Math.round(rate.cached),
    'inlined pages/s': Math.round(rate.inlined),
    'uncached pages/s': Math.round(rate.uncached),
    'cached ÷ inlined': +(rate.cached / rate.inlined).toFixed(3),
    'cached ÷ uncached': +(rate.cached / rate.uncached).toFixed(2),
  };
}

async function main() {
  const rows = [await scenario('memory', new Cache())];
  console.log('\nFragment page: 50 product fragments, all hits (higher is better)\n');
  console.log(table(rows));
  console.log(`\nwrote ${writeResult('fragments', { rows })}`);
}

if (require.main === module) main().catch((err) => (console.error(err), process.exit(1)));
module.exports = { scenario, views, products };
