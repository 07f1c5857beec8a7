// Fragment page: a catalog page of 50 product cards, each a `{% cache %}` fragment, rendered in
// this process (no HTTP): all hits on the memory store against the same page with the cards inlined
// as ready strings; beside it the page uncached, with every fragment a miss, all hits on Redis + L1,
// and two diagnostic tags (floors) that answer each card from a Map through nunjucks' async and
// sync extension calls: what nunjucks' machinery alone costs.
'use strict';

const { REDIS_URL } = require('../lib/common');
const { makeProducts, renderCards, plainEnvironment, cachedEnvironment, renderWith, floorExtension } = require('../lib/content');

const products = makeProducts(50);
const context = { products, currency: 'EUR' };

/** Fragment hits and misses, and the calls the cache made to its store (one per Redis round trip). */
function fragmentProbe(cache) {
  let storeCalls = 0;
  cache.on('storeCall', () => storeCalls++);
  return () => {
    const { hits, misses, stale } = cache.stats().byKind.fragment;
    return { hits: hits + stale, misses, storeCalls };
  };
}

/** The 50-fragment page (`template`) on a Cache made with `options`, all hits after the first render. */
function cachedPage(options, template = 'cached.njk', variables = context) {
  const { Cache } = require('../../dist');
  const cache = new Cache(options);
  cache.on('error', (err) => console.error(`cache: ${err.message}`));
  return {
    render: renderWith(cachedEnvironment(cache), template, variables),
    probe: fragmentProbe(cache),
    async close() {
      await cache.clear();
      await cache.close();
    },
  };
}

function floor(tag, async) {
  const env = plainEnvironment();
  const cards = renderCards(products);
  env.addExtension(tag, floorExtension(tag, new Map(products.map((p, i) => [p.id, cards[i]])), async));
  return renderWith(env, `${tag}.njk`, context);
}

module.exports = {
  title: 'Fragment page',
  order: 30,
  kind: 'render',
  about:
    '50 product cards (about 1 KB each) per page; render() in a loop, subjects alternating per round. ' +
    'The page of hits beats the inlined one because a loop holding cache tags binds `loop.*` straight into its frame, where ' +
    "plain nunjucks' `for` calls Frame.set (splitting each dotted name) 8 times per item; the floors show what nunjucks' extension calls alone cost.",
  sameOutput: ['cached', 'inlined', 'uncached', 'misses', 'redis-l1', 'redis', 'async floor', 'sync floor'],
  subjects: {
    cached: { label: '50 {% cache %} hits, memory store', expect: 'hits', setup: () => cachedPage() },
    inlined: { label: 'the cards inlined as strings', setup: () => renderWith(plainEnvironment(), 'inlined.njk', { cards: renderCards(products) }) },
    uncached: { label: 'the cards rendered, no cache', setup: () => renderWith(plainEnvironment(), 'uncached.njk', context) },
    misses: {
      label: '50 {% cache %} misses, memory store',
      expect: 'misses',
      setup: () => {
        const { Cache } = require('../../dist');
        const cache = new Cache();
        let render = 0;
        return { render: renderWith(cachedEnvironment(cache), 'misses.njk', () => ({ ...context, render: ++render })), probe: fragmentProbe(cache), close: () => cache.close() };
      },
    },
    'redis-l1': {
      label: '50 {% cache %} hits, Redis + L1',
      expect: 'hits',
      setup: () => cachedPage({ store: REDIS_URL, keyPrefix: `kfc-bench-fragments-${process.pid}`, operationTimeoutMs: 1000 }),
    },
    redis: {
      label: '50 {% cache %} hits, Redis without L1',
      expect: 'hits',
      setup: () => cachedPage({ store: REDIS_URL, l1: false, keyPrefix: `kfc-bench-fragments-nol1-${process.pid}`, operationTimeoutMs: 1000 }),
    },
    holes: {
      label: '50 {% cache %} hits, each with a {% nocache %} hole, memory store',
      expect: 'hits',
      setup: () => cachedPage(undefined, 'holes.njk', { ...context, cart: { 3: 1, 7: 2 } }),
    },
    'async floor': { label: 'diagnostic: a Map through the async extension call', setup: () => floor('floorasync', true) },
    'sync floor': { label: 'diagnostic: a Map through the sync extension call', setup: () => floor('floorsync', false) },
  },
  rows: [
    {
      measure: '50-fragment page of hits (a nunjucks page with 50 `{% cache %}` tags, all hits) vs the same page with the fragments inlined as strings',
      subject: 'cached',
      baseline: 'inlined',
      goal: 0.9,
      short: '50-fragment page of hits ÷ inlined',
    },
    { measure: 'page of hits vs the page uncached', subject: 'cached', baseline: 'uncached', digits: 2 },
    {
      measure: '50-fragment page of misses (each fragment rendered and stored, under a new key each render) vs the same page without the tag',
      subject: 'misses',
      baseline: 'uncached',
      goal: 0.9,
      short: '50-fragment page of misses ÷ untagged',
      why: 'each fragment miss costs about 16 µs over the inline card: 7 µs GC (50 new entries per render kept in the 64 MiB store until evicted, then collected as old objects), 6 µs ours (the key, flattening the HTML, the entry header), 2 µs lru-cache; 0.9× leaves about 2 µs (profile: [docs/performance.md](docs/performance.md#fragment-misses))',
    },
    { measure: 'page of hits on Redis + L1 vs inlined', subject: 'redis-l1', baseline: 'inlined' },
    { measure: 'page of hits on Redis without L1 vs inlined', subject: 'redis', baseline: 'inlined' },
    {
      measure: 'Redis round trips per 50-fragment page of hits without L1 (collection multi-get)',
      value: (result) => result.subjects.redis.samples.map((sample) => sample.probe.storeCalls / sample.renders),
      goal: { max: 3 },
      digits: 2,
    },
    { measure: 'page of hits with a {% nocache %} hole in each fragment vs the same page without holes', subject: 'holes', baseline: 'cached' },
    { measure: 'async floor vs inlined (nunjucks async extension call alone)', subject: 'async floor', baseline: 'inlined' },
    { measure: 'sync floor vs inlined (nunjucks sync extension call alone)', subject: 'sync floor', baseline: 'inlined' },
  ],
};
