// Runs one scenario and writes bench/results/<name>.json: `node bench/lib/scenario.js <name>`
// (bench/run.js starts one such process per scenario). BENCH_QUICK=1 for a smoke-sized run;
// BENCH_ROUNDS / BENCH_SECONDS / BENCH_SLICE_MS override the rounds and their length.
'use strict';

const { quick, REDIS_URL, table, writeResult } = require('./common');
const { evaluateRows, checkRow, rowCells, subjectTable } = require('./rows');
const { listScenarios } = require('./scenarios');

async function main() {
  const name = process.argv[2];
  const entry = listScenarios().find((s) => s.name === name);
  if (!entry) throw new Error(`no scenario ${name}: see bench/scenarios/`);
  const { spec, file } = entry;
  // before(): what the subjects need around them (e.g. a Redis Cluster); its env reaches every
  // subject (server processes inherit this process's environment).
  const around = await spec.before?.({ quick, redisUrl: REDIS_URL });
  if (around?.env) Object.assign(process.env, around.env);
  let result;
  try {
    if (spec.kind === 'http') result = await require('./http').runHttp(spec, file, name);
    else if (spec.kind === 'render') result = await require('./render').runRender(spec);
    else result = await spec.run({ quick, redisUrl: REDIS_URL });
  } finally {
    await around?.close?.();
  }
  result.kind = spec.kind;
  const rows = spec.kind === 'custom' ? (result.rows ?? []).map(checkRow) : evaluateRows(spec.rows, result);

  console.log(`\n${entry.title}${quick ? ' (quick settings: numbers not meaningful)' : ''}\n`);
  if (result.subjects) console.log(`${table(subjectTable(result))}\n`);
  for (const t of result.tables ?? []) console.log(`${t.caption ? `${t.caption}\n\n` : ''}${table(t.rows)}\n`);
  if (rows.length) console.log(table(rows.map(rowCells)));
  const written = writeResult(name, { title: entry.title, order: entry.order, about: spec.about, ...result, rows });
  console.log(`\nwrote ${written}`);
}

// Exits when done, whatever a scenario left open (a Redis client's socket must not hang the run).
main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
