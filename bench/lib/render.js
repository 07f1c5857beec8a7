// Runs a `kind: 'render'` scenario: every subject's render() in this process, in time slices of
// `sliceMs`, alternating subjects round after round (A, B, C, A, B, C, …), after a full GC before
// each slice (so one subject's garbage is not collected on another's time). Per round and
// subject: renders/second.
'use strict';

const v8 = require('node:v8');
const vm = require('node:vm');
const { quick } = require('./common');
const { delta, checkExpectation } = require('./expect');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

function settingsOf(scenario) {
  const env = (name) => (process.env[name] ? Number(process.env[name]) : undefined);
  return {
    rounds: env('BENCH_ROUNDS') ?? (quick ? 2 : scenario.rounds ?? 15),
    sliceMs: env('BENCH_SLICE_MS') ?? (quick ? 30 : scenario.sliceMs ?? 200),
  };
}

/** Renders back to back for `ms`; resolves renders/second, renders and seconds. */
async function slice(render, ms) {
  gc();
  let n = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(ms * 1e6));
  let now;
  do {
    await render();
    n++;
    now = process.hrtime.bigint();
  } while (now < until);
  const seconds = Number(now - start) / 1e9;
  return { rate: n / seconds, renders: n, seconds };
}

async function runRender(scenario) {
  const settings = settingsOf(scenario);
  const names = Object.keys(scenario.subjects);
  const set = {};
  try {
    for (const name of names) {
      const built = await scenario.subjects[name].setup();
      set[name] = typeof built === 'function' ? { render: built } : built;
    }
    // First renders (they store the fragments of the subjects that cache), then the output check.
    const outputs = {};
    for (const name of names) {
      await set[name].render();
      outputs[name] = await set[name].render();
    }
    const same = scenario.sameOutput === true ? names : scenario.sameOutput ?? [];
    for (const name of same.slice(1)) if (outputs[name] !== outputs[same[0]]) throw new Error(`${name} renders differently from ${same[0]}`);

    for (const name of names) await slice(set[name].render, settings.sliceMs);
    const samples = Object.fromEntries(names.map((name) => [name, []]));
    for (let r = 0; r < settings.rounds; r++) {
      for (const name of names) {
        const before = set[name].probe?.();
        const timed = await slice(set[name].render, settings.sliceMs);
        const probe = delta(before, set[name].probe?.());
        checkExpectation(name, scenario.subjects[name], probe);
        samples[name].push({ ...timed, probe });
      }
    }
    const subjects = Object.fromEntries(names.map((name) => [name, { label: scenario.subjects[name].label ?? name, outputBytes: Buffer.byteLength(outputs[name]), samples: samples[name] }]));
    return { settings, subjects };
  } finally {
    for (const name of names) await set[name]?.close?.();
  }
}

module.exports = { runRender };
