// Renders the corpus with plain nunjucks, in a process that never loads koa-fragment-cache: the
// extension patches nunjucks' prototypes, so the jest process cannot show what plain nunjucks does.
// Usage: node plain-renderer.js <views root> <results file>
const fs = require('node:fs');
const path = require('node:path');
const nunjucks = require('nunjucks');
const { cases } = require('./corpus');
const { addExtras } = require('./extras');
const { makeLoader } = require('./loaders');
const { renderCase } = require('./render');
const { stripCacheTags } = require('./strip-cache-tags');

/**
 * The case with its cache tags stripped; `syncEquivalent`: with the sync loader and sync filters,
 * the right output where plain nunjucks loses output of async includes in for/if (nunjucks#792).
 */
function renderPlain(kase, root, syncEquivalent) {
  const strip = (source) => stripCacheTags(source, kase.options.tags);
  const loader = makeLoader(syncEquivalent ? 'sync' : kase.loader, path.join(root, kase.id), strip);
  const env = new nunjucks.Environment(loader, { ...kase.options });
  addExtras(env, { asyncFilters: !syncEquivalent });
  return renderCase(env, kase, kase.source === undefined ? undefined : strip(kase.source));
}

/** Modules of this repository, other than this folder's, that this process loaded: must be none. */
function repositoryModulesLoaded() {
  const repository = path.resolve(__dirname, '../../..');
  return Object.keys(require.cache).filter(
    (file) => file.startsWith(repository + path.sep) && !file.startsWith(__dirname + path.sep) && !file.includes(`${path.sep}node_modules${path.sep}`),
  );
}

async function main(root, resultsFile) {
  const results = {};
  for (const kase of cases) {
    const expected = await renderPlain(kase, root, kase.expect === 'sync-equivalent');
    // A case marked 'plain' claims plain nunjucks gets it right: the sync rendering shows whether it does.
    const sync = kase.expect === 'plain' ? await renderPlain(kase, root, true) : undefined;
    results[kase.id] = { expected, sync };
  }
  fs.writeFileSync(resultsFile, JSON.stringify({ results, repositoryModules: repositoryModulesLoaded() }));
}

main(...process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  },
);
