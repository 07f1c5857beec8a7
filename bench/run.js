// `npm run bench`: every scenario of bench/scenarios/ (see bench/README.md) in `order`, each in a
// process of its own, against a private redis-server started for the run (BENCH_REDIS_URL to use
// another); each writes bench/results/<name>.json, then bench/report.js regenerates the results
// part of BENCHMARKS.md and bench/charts/. HTTP scenarios need wrk: installed with
// `apt-get install -y wrk` when missing.
//
//   node bench/run.js [scenario…] [--smoke] [--list]
//
// scenario: names (file names without .js; default: all but the opt-in ones, i.e. the soak).
// --smoke: the CI smoke run: BENCH_QUICK settings, every scenario (a 3-second soak), results and
//   report in a temporary folder (removed when it passed), nothing in the repository touched.
// --list: the scenarios, their kind and order.
// BENCH_CPU_PROF=<dir>: V8 CPU profiles of every subject server (<scenario>.<subject>.cpuprofile)
//   and of each scenario process (<scenario>.cpuprofile: the render loops) into <dir>.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { listScenarios } = require('./lib/scenarios');
const { cleanups, profileFlags, startRedis } = require('./lib/child');
const { ensureWrk } = require('./lib/wrk');
const { round, table, machine } = require('./lib/common');

/** No scenario may run longer than this, unless it says otherwise (`limitSeconds`: the soak). */
const SCENARIO_LIMIT_S = 300;

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const named = args.filter((arg) => !arg.startsWith('--'));
const all = listScenarios();

if (args.includes('--list')) {
  console.log(table(all.map((s) => ({ scenario: s.name, kind: s.kind, order: s.order, 'opt-in': s.optIn, title: s.title }))));
  process.exit(0);
}
const unknown = named.filter((name) => !all.some((s) => s.name === name));
if (unknown.length) {
  console.error(`unknown scenario(s) ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen = all.filter((s) => (named.length ? named.includes(s.name) : smoke || !s.optIn));

function runScenario(scenario, env) {
  const limitS = scenario.spec.limitSeconds ?? SCENARIO_LIMIT_S;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...profileFlags(scenario.name), path.join(__dirname, 'lib', 'scenario.js'), scenario.name], { env, stdio: 'inherit' });
    // SIGTERM first: the scenario's own handlers stop the servers, wrk and redis-servers it started.
    let killer;
    const timer = setTimeout(() => {
      console.error(`\n${scenario.name}: still running after ${limitS} s, stopping it`);
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    }, limitS * 1000);
    // Interrupted (Ctrl-C, SIGTERM): the scenario is told to stop too, and cleans up after itself.
    const forward = () => child.kill('SIGTERM');
    cleanups.add(forward);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      cleanups.delete(forward);
      resolve({ seconds: (performance.now() - started) / 1000, ok: code === 0, code: code ?? signal });
    });
  });
}

function redisServerVersion() {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(probe.stdout ?? '')?.[1];
}

async function main() {
  const command = smoke ? 'npm run bench:smoke' : named.length ? `node bench/run.js ${named.join(' ')}` : 'npm run bench';
  const env = { ...process.env, BENCH_RUN_ID: new Date().toISOString(), BENCH_COMMAND: command };
  let smokeDir;
  if (smoke) {
    env.BENCH_QUICK = '1';
    env.SOAK_SECONDS = env.SOAK_SECONDS || '3';
    // Given a BENCH_RESULTS_DIR, the smoke run's results and report stay there (and are kept).
    if (!env.BENCH_RESULTS_DIR) env.BENCH_RESULTS_DIR = smokeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-bench-smoke-'));
  }
  const quick = env.BENCH_QUICK === '1';
  let wrk;
  if (chosen.some((s) => s.kind === 'http')) {
    try {
      wrk = ensureWrk();
    } catch (err) {
      console.error(err.message);
      process.exit(1);
    }
  }
  const redis = env.BENCH_REDIS_URL ? undefined : await startRedis();
  if (redis) env.BENCH_REDIS_URL = redis.url;
  const started = performance.now();
  const runs = [];
  try {
    for (const scenario of chosen) {
      console.log(`\n=== ${scenario.title} (bench/scenarios/${scenario.name}.js, ${scenario.kind}) ===`);
      runs.push({ scenario: scenario.name, ...(await runScenario(scenario, env)) });
    }
  } finally {
    await redis?.stop();
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const rows = runs.map((r) => ({ scenario: r.scenario, seconds: round(r.seconds, 1), outcome: r.ok ? 'ok' : `failed (${r.code})` }));
  console.log(`\n${table(rows)}\n\ntotal ${round(totalSeconds, 1)} s${quick ? ' (quick settings)' : ''}`);

  // The report's run line: only a run of every default scenario (or the smoke run) writes it.
  if (named.length === 0) {
    const dir = env.BENCH_RESULTS_DIR || path.join(__dirname, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const run = {
      runId: env.BENCH_RUN_ID,
      at: new Date().toISOString(),
      command,
      quick,
      totalSeconds: round(totalSeconds, 1),
      wrk,
      redis: redis ? `private redis-server ${redisServerVersion() ?? ''}`.trim() : env.BENCH_REDIS_URL,
      machine: machine(),
      runs: rows,
    };
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(run, null, 2));
  }

  const failed = runs.some((r) => !r.ok);
  if (runs.some((r) => r.ok)) {
    const report = [path.join(__dirname, 'report.js'), ...(smoke ? ['--out', env.BENCH_RESULTS_DIR] : [])];
    const code = await new Promise((resolve) => spawn(process.execPath, report, { env, stdio: 'inherit' }).on('exit', resolve));
    if (code !== 0) process.exitCode = 1;
  }
  if (failed) process.exitCode = 1;
  if (smokeDir && !process.exitCode) fs.rmSync(smokeDir, { recursive: true, force: true });
  else if (smokeDir) console.error(`smoke results kept in ${smokeDir}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
