// The whole corpus, built the same way in the jest process and in the plain renderer's process.
const { generate } = require('./generator');
const { hasCacheTags } = require('./strip-cache-tags');

const DEFAULT_TIMEOUT_MS = 3000;
const SEEDS = [101, 202, 303, 404];
const PER_SEED = 50;

const groups = [
  ['issue', "the issue's cases", require('./cases/issue')],
  ['tags', 'tags', require('./cases/tags')],
  ['loops', 'loops', require('./cases/loops')],
  ['filters', 'filters', require('./cases/filters')],
  ['options', 'whitespace control, autoescape, throwOnUndefined and delimiters', require('./cases/whitespace-and-options')],
  ['async', 'async filters, async loops and the async loader', require('./cases/async')],
  ['errors', 'errors', require('./cases/errors')],
  ['cache', 'templates holding cache tags', require('./cases/cache-tags')],
];

/**
 * A case as both sides use it. `id` names its folder under the views root; without `main` no
 * main.njk is written (a missing template); `context()` makes fresh data for each render;
 * `cached` says it holds cache tags, so the extension side renders it twice (cold, then warm).
 */
function normalise(spec, id, generated) {
  const { section, title, main, data = {}, string = false, files = {}, options = {}, loader = 'sync', expect = 'plain', output } = spec;
  const written = string || main === undefined ? files : { 'main.njk': main, ...files };
  const sources = string ? [main, ...Object.values(files)] : Object.values(written);
  return {
    id,
    section,
    title,
    files: written,
    template: 'main.njk',
    source: string ? main : undefined,
    context: typeof data === 'function' ? data : () => copy(data),
    options,
    loader,
    expect,
    fails: generated ? undefined : spec.fails === true,
    output,
    cached: sources.some((source) => hasCacheTags(source, options.tags)),
    timeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    generated,
  };
}

/**
 * A deep copy of plain data, made in the realm that calls it: structuredClone's objects come from
 * Node's own realm, not jest's, and the cache tag refuses objects whose prototype it does not know.
 */
function copy(value) {
  if (Array.isArray(value)) return value.map(copy);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  return value;
}

const handWritten = groups.flatMap(([key, section, specs]) => specs.map((spec, i) => normalise({ section, ...spec }, `${key}-${i}`, false)));
const generated = SEEDS.flatMap((seed) => generate(seed, PER_SEED).map((spec, i) => normalise(spec, `gen-${seed}-${i}`, true)));

module.exports = { handWritten, generated, cases: [...handWritten, ...generated] };
