/**
 * One hand-written case: `main` is rendered as main.njk from the case's own folder (with
 * `string: true`, through renderString instead), with `data` — plain arrays, objects and
 * primitives, copied for each render, or a function making it (Maps, iterables, functions).
 * `more` may hold: files (the other templates), options (Environment options), loader
 * ('sync' | 'async'), expect ('plain' | 'sync-equivalent'), fails (plain nunjucks is meant to
 * error: the corpus checks it does) and timeoutMs.
 */
function page(title, main, data = {}, more = {}) {
  return { title, main, data, ...more };
}

module.exports = { page };
