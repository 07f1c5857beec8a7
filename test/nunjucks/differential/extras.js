/**
 * The filters and globals every case's Environment gets, on both sides. Async filters answer in
 * setImmediate; the sync-equivalent rendering registers the same functions as sync filters.
 */
const filters = {
  shout: (value) => `${value}`.toUpperCase(),
  wrap: (value, left = '(', right = ')') => `${left}${value}${right}`,
  refuse: (value) => {
    throw new Error(`refuse got ${value}`);
  },
  later: (value) => `~${value}~`,
  laterRefuse: (value) => {
    throw new Error(`laterRefuse got ${value}`);
  },
};

const ASYNC_FILTERS = new Set(['later', 'laterRefuse']);

const globals = {
  site: 'Shop',
  greet: (name) => `hello ${name}`,
  explode: () => {
    throw new Error('explode() was called');
  },
};

function addExtras(env, { asyncFilters }) {
  for (const [name, fn] of Object.entries(filters)) {
    if (asyncFilters && ASYNC_FILTERS.has(name)) env.addFilter(name, asAsync(fn), true);
    else env.addFilter(name, fn);
  }
  for (const [name, value] of Object.entries(globals)) env.addGlobal(name, value);
}

function asAsync(fn) {
  return (...args) => {
    const cb = args.pop();
    setImmediate(() => {
      let result;
      try {
        result = fn(...args);
      } catch (err) {
        return cb(err);
      }
      cb(null, result);
    });
  };
}

module.exports = { addExtras };
