// Store size: the memory store holding 1e3 to 1e6 distinct ~1 KB fragments under maxBytes 256 MiB,
// one child process per key count (so each RSS is its own), all filled first, then pages of 50 hits
// on random resident keys measured in rotating rounds across the processes. Past maxBytes the LRU
// evicts, so entries, accounted bytes and RSS stay bounded.
'use strict';

const { median, round } = require('../lib/common');

const MAX_BYTES = 256 * 2 ** 20;

/** Child: a memory cache filled with SIZE_KEYS distinct product cards, measured on request. */
function serveKeys() {
  const { Cache, makeTemplateFragmentKey } = require('../../dist');
  const { makeProducts, cachedEnvironment, renderWith } = require('../lib/content');
  const { serveChild } = require('../lib/child');
  const keys = Number(process.env.SIZE_KEYS);
  const cache = new Cache({ maxBytes: MAX_BYTES });
  const env = cachedEnvironment(cache);
  let resident = [];
  serveChild({
    async ready() {
      const started = performance.now();
      // Filled by rendering the page, 50 new cards at a time: entries as the tag stores them (with the
      // template's digest, which a hit checks), each a string of its own (a shared one would hide the memory).
      const cards = makeProducts(50);
      const fillContext = { currency: 'EUR', products: [] };
      const fill = renderWith(env, 'cached.njk', fillContext);
      for (let from = 0; from < keys; from += cards.length) {
        fillContext.products = cards.slice(0, keys - from).map((product, i) => ({ ...product, id: from + i }));
        await fill();
      }
      const fillSeconds = (performance.now() - started) / 1000;
      // The most recently stored entries are the ones the LRU kept (peeking decodes each once, as a first hit would).
      for (let id = keys - 1; id >= 0 && cache.peek(makeTemplateFragmentKey('product', [id])) !== undefined; id--) resident.push({ id });
      resident = resident.reverse();
      global.gc();
      global.gc();
      // The store's entries and bytes (the bound applies to them); the heap still in use after a
      // collection is what is really held (RSS also keeps pages the fill's garbage took).
      const { entries, bytes } = cache.memoryUsage().parts.store;
      const { rss, heapUsed } = process.memoryUsage();
      return { entries, accountedMiB: bytes / 2 ** 20, heapMiB: heapUsed / 2 ** 20, rssMiB: rss / 2 ** 20, fillSeconds };
    },
    /** Pages of 50 hits on resident keys picked at random; resolves pages/second. */
    async measure({ iterations }) {
      const context = { currency: 'EUR', products: [] };
      const render = renderWith(env, 'cached.njk', context);
      const missesBefore = cache.stats().byKind.fragment.misses;
      const started = performance.now();
      for (let i = 0; i < iterations; i++) {
        const from = Math.floor(Math.random() * Math.max(1, resident.length - 50));
        context.products = resident.slice(from, from + 50);
        await render();
      }
      const seconds = (performance.now() - started) / 1000;
      if (cache.stats().byKind.fragment.misses !== missesBefore) throw new Error('a fragment missed while measured');
      return iterations / seconds;
    },
  });
}

async function run({ quick }) {
  const { startChild } = require('../lib/child');
  const counts = quick ? [1e3, 1e4] : [1e3, 1e4, 1e5, 1e6];
  const rounds = quick ? 2 : 9;
  const children = [];
  try {
    const filled = {};
    for (const keys of counts) {
      // --expose-gc: the fill's garbage is collected before RSS is read.
      const child = await startChild(__filename, ['keys'], { env: { SIZE_KEYS: String(keys) }, execArgv: ['--expose-gc'], profile: `size-keys.${keys}` });
      children.push(child);
      filled[keys] = child.ready;
    }
    const samples = Object.fromEntries(counts.map((keys) => [keys, []]));
    const measure = (i) => children[i].ask('measure', { iterations: quick ? 50 : 400 });
    for (let i = 0; i < children.length; i++) await measure(i); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < children.length; j++) {
        const i = (j + r) % children.length;
        samples[counts[i]].push(await measure(i));
      }
    }
    const first = samples[counts[0]];
    const keyRows = counts.map((keys) => ({
      'keys written': keys,
      'entries resident': filled[keys].entries,
      'MiB accounted': round(filled[keys].accountedMiB, 1),
      'heap MiB': round(filled[keys].heapMiB),
      'RSS MiB': round(filled[keys].rssMiB),
      'µs per 50-hit page': round(1e6 / median(samples[keys]), 1),
      [`speed ÷ ${counts[0]} keys`]: round(median(samples[keys].map((s, r) => s / first[r])), 3),
      'fill s': round(filled[keys].fillSeconds, 1),
    }));
    const largest = keyRows.at(-1);
    return {
      settings: { maxBytes: MAX_BYTES, rounds },
      tables: [{ caption: `Memory store, maxBytes ${MAX_BYTES / 2 ** 20} MiB (median of ${rounds} rotating rounds)`, rows: keyRows }],
      rows: [
        {
          measure: `memory store bounded: ${largest['keys written']} keys written under maxBytes ${MAX_BYTES / 2 ** 20} MiB`,
          goal: `≤ ${MAX_BYTES / 2 ** 20} MiB accounted`,
          value: `${largest['MiB accounted']} MiB, ${largest['entries resident']} entries, heap ${largest['heap MiB']} MiB, RSS ${largest['RSS MiB']} MiB`,
          met: filled[largest['keys written']].accountedMiB <= MAX_BYTES / 2 ** 20,
        },
      ],
      charts: [
        {
          name: 'size-keys',
          type: 'line',
          title: `Memory store, maxBytes ${MAX_BYTES / 2 ** 20} MiB: a 50-hit page and RSS as keys grow`,
          xLabel: 'keys written (log)',
          yLabel: 'µs per page / MiB',
          xLog: true,
          series: [
            { name: 'µs per 50-hit page', markers: true, points: keyRows.map((k) => ({ x: k['keys written'], y: k['µs per 50-hit page'] })) },
            { name: 'RSS MiB', markers: true, points: keyRows.map((k) => ({ x: k['keys written'], y: k['RSS MiB'] })) },
            { name: 'heap MiB', markers: true, points: keyRows.map((k) => ({ x: k['keys written'], y: k['heap MiB'] })) },
            { name: 'MiB accounted', markers: true, dashed: true, points: keyRows.map((k) => ({ x: k['keys written'], y: k['MiB accounted'] })) },
          ],
        },
      ],
      samples,
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

module.exports = { title: 'Store size', order: 60, kind: 'custom', about: 'Hit cost, entries and RSS as the memory store fills past its bound.', run };

if (require.main === module && process.argv[2] === 'keys') serveKeys();
