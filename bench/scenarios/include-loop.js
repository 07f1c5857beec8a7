// Include loop: `{% for p in products %}{% include "card.njk" %}{% endfor %}` over 500 products,
// on nunjucks with the cache extension installed (no `{% cache %}` tag in the page) and on plain
// nunjucks: what installing the extension costs a page that does not use it.
'use strict';

const { makeProducts, plainEnvironment, cachedEnvironment, renderWith } = require('../lib/content');

const context = { products: makeProducts(500), currency: 'EUR' };

module.exports = {
  title: 'Include loop',
  order: 40,
  kind: 'render',
  about: '500 includes of the product card (about 1 KB each) per page; render() in a loop, subjects alternating per round.',
  sameOutput: true,
  rounds: 15,
  sliceMs: 300,
  subjects: {
    extension: {
      label: 'extension installed',
      setup: () => {
        const { Cache } = require('../../dist');
        const cache = new Cache();
        return { render: renderWith(cachedEnvironment(cache), 'include.njk', context), close: () => cache.close() };
      },
    },
    plain: { label: 'plain nunjucks', setup: () => renderWith(plainEnvironment(), 'include.njk', context) },
  },
  rows: [
    {
      measure: '500-item include loop (`{% for p in products %}{% include "card.njk" %}{% endfor %}`), extension installed vs plain nunjucks',
      subject: 'extension',
      baseline: 'plain',
      goal: { min: 1 / 1.1, text: '≥ 0.9× (and ≤ 10 % slower)' },
      slower: true,
      short: '500 includes: extension ÷ plain',
    },
  ],
};
