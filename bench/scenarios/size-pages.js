// Page size: pages of 1, 10, 100 and 1000 `{% cache %}` hits (memory store), each beside the same
// page with the cards inlined, all in one interleaved run: what a hit costs as pages grow (past 32
// nested synchronous hits the tag continues in a microtask so that a page cannot overflow the stack).
'use strict';

const { makeProducts, renderCards, plainEnvironment, cachedEnvironment, renderWith } = require('../lib/content');

const SIZES = [1, 10, 100, 1000];

const subjects = {};
const rows = [];
for (const size of SIZES) {
  const products = makeProducts(size);
  subjects[`hits ${size}`] = {
    label: `${size} hits`,
    expect: 'hits',
    setup: () => {
      const { Cache } = require('../../dist');
      const cache = new Cache();
      const probe = () => {
        const { hits, misses } = cache.stats().byKind.fragment;
        return { hits, misses };
      };
      return { render: renderWith(cachedEnvironment(cache), 'cached.njk', { products, currency: 'EUR' }), probe, close: () => cache.close() };
    },
  };
  subjects[`inlined ${size}`] = { label: `${size} inlined`, setup: () => renderWith(plainEnvironment(), 'inlined.njk', { cards: renderCards(products) }) };
  rows.push({ measure: `${size}-fragment page of hits vs inlined`, subject: `hits ${size}`, baseline: `inlined ${size}` });
  rows.push({
    measure: `${size}-fragment page: µs per hit over an inlined card`,
    unit: ' µs',
    value: (result) => result.subjects[`hits ${size}`].samples.map((s, i) => ((1 / s.rate - 1 / result.subjects[`inlined ${size}`].samples[i].rate) * 1e6) / size),
  });
}

module.exports = {
  title: 'Page size',
  order: 50,
  kind: 'render',
  about: 'Pages of 1 to 1000 product-card fragments, all hits on the memory store, beside the same page inlined.',
  rounds: 9,
  sliceMs: 150,
  subjects,
  rows,
};
