'use strict';
// What `require('koa-fragment-cache')` and a memory-store `new Cache()` load, in a fresh process:
// prints one JSON line for test/package/newcomer.js (module count, time, optional peers loaded and
// the require chain that loaded each, or the error when requiring failed).
const OPTIONAL = ['@keyv/redis', '@redis/client', 'keyv', 'prom-client'];

const before = new Set(Object.keys(require.cache));
const builtinsBefore = new Set(process.moduleLoadList);
const started = process.hrtime.bigint();
const result = { ms: 0, files: 0, packages: [], builtins: 0, optionalLoaded: [], error: undefined };
let cache;
try {
  const { Cache } = require('koa-fragment-cache');
  cache = new Cache();
} catch (err) {
  const stack = (err.requireStack || []).filter((file) => file !== __filename);
  result.error = { message: err.message.split('\n')[0], code: err.code, requireStack: stack };
}
result.ms = Number(process.hrtime.bigint() - started) / 1e6;

const loaded = Object.keys(require.cache).filter((file) => !before.has(file));
result.files = loaded.length;
result.builtins = process.moduleLoadList.filter((entry) => !builtinsBefore.has(entry) && entry.startsWith('NativeModule ')).length;
const packageOf = (file) => {
  const match = /.*node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file);
  return match ? match[1].replace(/\\/g, '/') : undefined;
};
result.packages = [...new Set(loaded.map(packageOf).filter(Boolean))].sort();

/** The shortest require chain from the library's entry point to `target` (module.children). */
function chainTo(target) {
  const entry = loaded.find((file) => packageOf(file) === 'koa-fragment-cache');
  if (!entry) return [target];
  const queue = [[require.cache[entry]]];
  const seen = new Set([entry]);
  while (queue.length) {
    const chain = queue.shift();
    const last = chain[chain.length - 1];
    if (last.id === target) return chain.map((m) => m.id);
    for (const child of last.children) {
      if (!seen.has(child.id)) {
        seen.add(child.id);
        queue.push([...chain, child]);
      }
    }
  }
  return [target];
}
const short = (file) => file.replace(/.*node_modules[\\/]/, '');
for (const name of OPTIONAL) {
  const first = loaded.find((file) => packageOf(file) === name);
  if (first) result.optionalLoaded.push({ name, file: short(first), chain: chainTo(first).map(short) });
}

// The subpaths the package exports: these resolve whether or not their peers are installed.
result.resolves = {};
for (const specifier of ['koa-fragment-cache/package.json', 'koa-fragment-cache/metrics']) {
  try {
    result.resolves[specifier] = short(require.resolve(specifier));
  } catch (err) {
    result.resolves[specifier] = `ERROR ${err.code}: ${err.message.split('\n')[0]}`;
  }
}
console.log(JSON.stringify(result));
Promise.resolve(cache && cache.close()).then(() => process.exit(0));
