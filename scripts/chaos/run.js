#!/usr/bin/env node
// The chaos suite (`npm run chaos`): each fault on each topology where it applies, under steady
// load from two processes, on topologies of its own (free ports from 20000-29000; the shared
// ones of the tests are never touched). One table row per fault and topology; the invariants and
// how they are judged: checks.js and docs/scaling-out.md ("Faults, proven").
//
//   node scripts/chaos/run.js [--ci] [--list] [filter…]
//
// --ci: the subset CI runs (the faults marked `ci` in topologies.js), under 3 minutes.
// --client=ioredis: the caches run on a thin store over ioredis 6 (ioredis-store.js) instead of the
//   library's own Redis routing (no L1 then: its column says so).
// --logs=<dir>: every row's raw record (calls, stalls, probe, fault and recovery times) as JSON there.
// filter: rows whose "topology fault" contains every one (case-insensitive), e.g. cluster sigkill.
// Exits 1 when an invariant failed, 2 when a scenario could not run. Needs dist/ (npm run chaos
// builds it when out of date) and redis-server.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { topologies } = require('./topologies');
const { runScenario } = require('./scenario');

const COLUMNS = {
  recovery: 'recovered after',
  calls: 'calls',
  errors: 'callers never throw, pages never error',
  window: 'failed-write window ≤ recovery + 0.5 s',
  slowest: 'slowest call (deadline + 100 ms)',
  late: 'no late landing',
  incs: 'incs applied exactly once',
  l1: 'L1 coherent ≤ 100 ms after recovery',
  close: 'close() ≤ 2.5 s',
};

const args = process.argv.slice(2);
const ci = args.includes('--ci');
const logs = args.find((arg) => arg.startsWith('--logs='))?.slice('--logs='.length);
const client = args.find((arg) => arg.startsWith('--client='))?.slice('--client='.length);
if (client !== undefined && client !== 'ioredis') throw new Error(`chaos: --client=${client}: only ioredis is known`);
if (client) process.env.KFC_CHAOS_CLIENT = client;
const filters = args.filter((arg) => !arg.startsWith('--')).map((f) => f.toLowerCase());
const rows = topologies
  .flatMap((topology) => topology.faults.map((fault) => ({ topology, fault, name: `${topology.name} ${fault.name}` })))
  .filter((row) => (!ci || row.fault.ci) && filters.every((f) => row.name.toLowerCase().includes(f)));

if (args.includes('--list')) {
  for (const row of rows) console.log(`${row.fault.ci ? 'ci ' : '   '} ${row.topology.name} | ${row.fault.name}`);
  process.exit(0);
}

/**
 * The load processes run a copy of dist/ taken now: a rebuild during the run (npm test, an editor)
 * must not change the code under test halfway. Under node_modules/, so that the copy finds the
 * library's dependencies as dist/ does.
 */
function snapshotLibrary() {
  const root = path.join(__dirname, '..', '..');
  const dir = path.join(root, 'node_modules', '.cache', `kfc-chaos-${process.pid}`);
  if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('chaos: dist/ is missing; npm run chaos builds it');
  fs.cpSync(path.join(root, 'dist'), dir, { recursive: true });
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  process.env.KFC_CHAOS_LIBRARY = dir;
}

// Interrupted: exit handlers stop the servers (server.js, redis-topology.js' watchdog); the load
// processes exit when their IPC channel closes.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

function markdown(results) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [
    line(['topology', 'fault', ...Object.values(COLUMNS)]),
    line(Array(2 + Object.keys(COLUMNS).length).fill('---')),
    ...results.map(({ row, cells }) => line([row.topology.name, row.fault.name, ...Object.keys(COLUMNS).map((c) => cells[c] ?? '')])),
  ].join('\n');
}

async function main() {
  const started = performance.now();
  snapshotLibrary();
  const results = [];
  let broken = false;
  for (const row of rows) {
    const rowStarted = performance.now();
    let result;
    try {
      result = await runScenario(row.topology, row.fault, logs && path.join(logs, `${row.name.replace(/[^\w]+/g, '-')}.json`));
    } catch (err) {
      broken = true;
      result = { cells: { recovery: `could not run: ${err.message}` }, failures: [`could not run: ${err.stack}`] };
    }
    results.push({ row, ...result });
    const seconds = ((performance.now() - rowStarted) / 1000).toFixed(1);
    console.log(`[chaos] ${row.name}: ${result.failures.length ? '✗' : '✓'} (${seconds} s)`);
    for (const failure of result.failures) console.log(`          ✗ ${failure}`);
  }
  const failed = results.filter((r) => r.failures.length);
  console.log(`\n${markdown(results)}\n`);
  console.log(`[chaos] ${rows.length} rows, ${failed.length} with a failed invariant, in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return broken ? 2 : failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
