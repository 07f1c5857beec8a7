/** mulberry32: a tiny seeded PRNG, so the seed in a test title reproduces its templates exactly. */
function seededRandom(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return {
    int,
    chance: (p) => next() < p,
    pick: (list) => list[int(list.length)],
    /** One of the `[value, weight]` pairs' values, chosen by weight. */
    weighted: (pairs) => {
      let roll = next() * pairs.reduce((sum, [, w]) => sum + w, 0);
      for (const [value, w] of pairs) if ((roll -= w) < 0) return value;
      return pairs[pairs.length - 1][0];
    },
  };
}

module.exports = { seededRandom };
