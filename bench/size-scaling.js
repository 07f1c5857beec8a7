// Scenario 5, scaling with size: what a fragment hit costs
//  - as a page holds 1 → 10 → 100 → 1000 fragments, all hits, beside the same page inlined; every
//    size in one interleaved run (each call renders a size's page often enough to take about as
//    long as the others), so the sizes compare side by side;
//  - as the memory store holds 1e3 → 1e6 keys under a fixed maxBytes: one child process per key
//    count (so each RSS is its own), all filled first, then measured in rotating rounds across the
//    processes. Past maxBytes the LRU evicts, so entries and RSS stay bounded; the page is rendered
//    from entries still resident. BENCH_QUICK=1: smaller sizes, fewer rounds.
const { Cache, createEnvironment, makeTemplateFragmentKey } = require('../dist');
const { addFilters, makeProducts, pages, renderCards, renderWith, views } = require('./fragments');
const { quick, interleave, median, round, runMain, serveChild, startChild, table, writeResult } = require('./lib');

const PAGE_SIZES = quick ? [1, 10, 100] : [1, 10, 100, 1000];
const KEY_COUNTS = quick ? [1e3, 1e4] : [1e3, 1e4, 1e5, 1e6];
const MAX_BYTES = 256 * 2 ** 20;
/** Fragments rendered per call of every page-size variant, so calls cost about the same. */
const FRAGMENTS_PER_CALL = quick ? 200 : 2000;
const KEY_ROUNDS = quick ? 2 : 9;

async function pageSizes() {
  const variants = {};
  for (const size of PAGE_SIZES) {
    const { page } = await pages(new Cache(), makeProducts(size));
    const reps = Math.max(1, Math.round(FRAGMENTS_PER_CALL / size));
    for (const kind of ['cached', 'inlined']) {
      variants[`${kind} ${size}`] = async () => {
        for (let i = 0; i < reps; i++) await page[kind]();
      };
    }
    variants[`cached ${size}`].reps = reps;
  }
  const rate = await interleave(variants, { rounds: quick ? 2 : 9, iterations: quick ? 2 : 10, warmup: 2 });
  return PAGE_SIZES.map((size) => {
    const { reps } = variants[`cached ${size}`];
    const pageUs = (kind) => 1e6 / (rate[`${kind} ${size}`] * reps);
    return {
      'fragments per page': size,
      'µs per page (hits)': round(pageUs('cached'), 1),
      'µs per page (inlined)': round(pageUs('inlined'), 1),
      'µs per fragment (hits)': round(pageUs('cached') / size, 3),
      'hits ÷ inlined (speed)': round(rate.ratio(`cached ${size}`, `inlined ${size}`), 3),
    };
  });
}

/** Child: a memory cache filled with `keys` distinct product cards, measured on request. */
function serveKeys() {
  const keys = Number(process.env.SCALING_KEYS);
  const cache = new Cache({ maxBytes: MAX_BYTES });
  const dir = views();
  const env = addFilters(createEnvironment({ cache, views: dir }));
  let resident = [];
  serveChild({
    async ready() {
      const started = performance.now();
      const [card] = renderCards(makeProducts(1));
      for (let id = 0; id < keys; id++) {
        // A string of its own per entry, as rendered fragments are (a shared one would hide the memory).
        await cache.set(makeTemplateFragmentKey('product', [id]), card.replace('data-id="0"', `data-id="${id}"`), 0);
      }
      const fillSeconds = (performance.now() - started) / 1000;
      // The most recently stored entries are the ones the LRU kept (peeking them also decodes each
      // once, as its first hit would).
      for (let id = keys - 1; id >= 0 && cache.peek(makeTemplateFragmentKey('product', [id])) !== undefined; id--) resident.push({ id });
      resident = resident.reverse();
      global.gc();
      const { entries, bytes } = cache.memoryUsage();
      return { entries, accountedMiB: bytes / 2 ** 20, rssMiB: process.memoryUsage().rss / 2 ** 20, fillSeconds };
    },
    /** Pages of 50 hits, each on 50 resident keys picked at random; resolves pages/second. */
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

async function keyCounts() {
  const children = [];
  try {
    const filled = {};
    for (const keys of KEY_COUNTS) {
      // --expose-gc: the fill's garbage is collected before RSS is read.
      const child = await startChild(__filename, ['keys'], { env: { SCALING_KEYS: String(keys) }, execArgv: ['--expose-gc'] });
      children.push(child);
      filled[keys] = child.ready;
    }
    const samples = Object.fromEntries(KEY_COUNTS.map((keys) => [keys, []]));
    const measure = (i) => children[i].ask('measure', { iterations: quick ? 50 : 400 });
    for (let i = 0; i < children.length; i++) await measure(i); // warm up
    for (let r = 0; r < KEY_ROUNDS; r++) {
      for (let j = 0; j < children.length; j++) {
        const i = (j + r) % children.length;
        samples[KEY_COUNTS[i]].push(await measure(i));
      }
    }
    const first = samples[KEY_COUNTS[0]];
    return KEY_COUNTS.map((keys) => ({
      'keys written': keys,
      'entries resident': filled[keys].entries,
      'MiB accounted': round(filled[keys].accountedMiB, 1),
      'RSS MiB': round(filled[keys].rssMiB),
      'µs per 50-hit page': round(1e6 / median(samples[keys]), 1),
      [`÷ ${KEY_COUNTS[0]} keys (speed)`]: round(median(samples[keys].map((s, r) => s / first[r])), 3),
      'fill s': round(filled[keys].fillSeconds, 1),
    }));
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

async function main() {
  const sizes = await pageSizes();
  const keys = await keyCounts();
  console.log('\nHit cost as fragments per page grow (one interleaved run)\n');
  console.log(table(sizes));
  console.log(`\nHit cost as the memory store's keys grow (maxBytes ${MAX_BYTES / 2 ** 20} MiB; rounds rotated across processes)\n`);
  console.log(table(keys));
  console.log(`\nwrote ${writeResult('size-scaling', { maxBytes: MAX_BYTES, sizes, keys })}`);
}

if (process.argv[2] === 'keys') serveKeys();
else runMain(module, main);
