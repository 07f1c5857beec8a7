// Subjects that say what they expect while measured ('hits' or 'misses') are held to it: their
// probe() counters ({ hits, misses }) must not move the other way during a round.
'use strict';

/** `after - before` for every field of a probe's counters. */
function delta(before, after) {
  if (!before || !after) return undefined;
  return Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - (before[key] ?? 0)]));
}

function checkExpectation(name, subject, probe) {
  if (!subject.expect || !probe) return;
  const wrong = subject.expect === 'hits' ? 'misses' : 'hits';
  if (probe[wrong]) throw new Error(`${name}: ${probe[wrong]} ${wrong} while measured (expected only ${subject.expect})`);
  if (!probe[subject.expect]) throw new Error(`${name}: no ${subject.expect} counted while measured`);
}

module.exports = { delta, checkExpectation };
