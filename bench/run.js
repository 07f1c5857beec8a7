// `npm run bench`: every scenario of issue #7 in order, each in a process of its own (a crash or a
// heap one scenario leaves behind cannot skew the next), against a redis-server started for the
// run (so no other user of 127.0.0.1:6379 competes with it or sees its keys; BENCH_REDIS_URL to use
// another). Each scenario prints its tables and writes bench/results/<name>.json; then bench/report.js
// rewrites the result sections of BENCHMARKS.md and the charts in bench/charts/ from those files.
//
//   node bench/run.js [scenario…] [--soak] [--smoke]
//
// scenario: names below (default all but soak). --soak adds the soak (its own length: SOAK_SECONDS,
// default 600; `npm run soak` runs it alone). --smoke: the CI smoke run — BENCH_QUICK settings, a
// 3-second soak, results and report in a temporary folder, nothing in the repository touched.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SCENARIOS = [
  { name: 'response', file: 'response.js', title: '1. Response hits' },
  { name: 'fragments', file: 'fragments.js', title: '2. Fragment page' },
  { name: 'scaling', file: 'scaling.js', title: '2b. Fragment page over HTTP, Redis + L1', optional: true },
  { name: 'miss-overhead', file: 'miss-overhead.js', title: '3. Miss overhead' },
  { name: 'stampede', file: 'stampede.js', title: '4. Stampede' },
  { name: 'size-scaling', file: 'size-scaling.js', title: '5. Scaling with size' },
  { name: 'soak', file: 'soak.js', title: '6. Soak', soak: true },
  { name: 'faults', file: 'faults.js', title: '7. Faults under load' },
];
/** No scenario may run longer than this (the soak: its own length plus this). */
const SCENARIO_LIMIT_S = 300;

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const named = args.filter((arg) => !arg.startsWith('--'));
const unknown = named.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length) {
  console.error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen = SCENARIOS.filter((s) => (named.length ? named.includes(s.name) : !s.soak || smoke || args.includes('--soak')));

function runScenario(scenario, env) {
  const file = path.join(__dirname, scenario.file);
  if (!fs.existsSync(file)) return Promise.resolve({ skipped: 'not there (yet)' });
  const limitS = SCENARIO_LIMIT_S + (scenario.soak ? Number(env.SOAK_SECONDS || 600) : 0);
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { env, stdio: 'inherit' });
    // SIGTERM first: the scenario's own handlers stop the servers and redis-servers it started.
    const timer = setTimeout(() => {
      console.error(`\n${scenario.name}: still running after ${limitS} s, stopping it`);
      child.kill('SIGTERM');
    }, limitS * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ seconds: (performance.now() - started) / 1000, ok: code === 0, code: code ?? signal });
    });
  });
}

async function main() {
  const { quick, resultsDir, startRedis, round, table, writeResult } = require('./lib');
  const env = { ...process.env };
  // A smoke run's own temporary folder is removed once it passed (kept to look at when it failed).
  let smokeDir;
  if (smoke) {
    env.BENCH_QUICK = '1';
    env.SOAK_SECONDS = env.SOAK_SECONDS || '3';
    if (!env.BENCH_RESULTS_DIR) env.BENCH_RESULTS_DIR = smokeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-bench-smoke-'));
  }
  process.env.BENCH_RESULTS_DIR = env.BENCH_RESULTS_DIR ?? '';
  const redis = env.BENCH_REDIS_URL ? undefined : await startRedis();
  if (redis) env.BENCH_REDIS_URL = redis.url;
  const started = performance.now();
  const runs = [];
  try {
    for (const scenario of chosen) {
      console.log(`\n=== ${scenario.title} (bench/${scenario.file}) ===`);
      const outcome = await runScenario(scenario, env);
      if (outcome.skipped) console.log(`skipped: bench/${scenario.file} is ${outcome.skipped}`);
      runs.push({ scenario: scenario.name, ...outcome });
    }
  } finally {
    await redis?.stop();
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const rows = runs.map((r) => ({ scenario: r.scenario, seconds: r.seconds === undefined ? '–' : round(r.seconds, 1), outcome: r.skipped ? 'skipped' : r.ok ? 'ok' : `failed (${r.code})` }));
  console.log(`\n${table(rows)}\n\ntotal ${round(totalSeconds, 1)} s${quick || smoke ? ' (quick settings)' : ''}`);
  // The report's "last full run" line: only a run of every scenario sets it.
  if (named.length === 0) {
    const redisVersion = redis ? await redisServerVersion() : undefined;
    const redisUsed = redis ? `private redis-server ${redisVersion ?? ''}`.trim() : env.BENCH_REDIS_URL;
    writeResult('run', { totalSeconds: round(totalSeconds, 1), redis: redisUsed, runs: rows, quick: quick || smoke });
  }

  const failed = runs.some((r) => r.ok === false);
  if (!failed || runs.some((r) => r.ok)) {
    const report = [path.join(__dirname, 'report.js')];
    if (smoke) report.push('--out', resultsDir());
    const code = await new Promise((resolve) => spawn(process.execPath, report, { env, stdio: 'inherit' }).on('exit', resolve));
    if (code !== 0) process.exitCode = 1;
  }
  if (failed) process.exitCode = 1;
  if (smokeDir && !process.exitCode) fs.rmSync(smokeDir, { recursive: true, force: true });
  else if (smokeDir) console.error(`smoke results kept in ${smokeDir}`);
}

function redisServerVersion() {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn('redis-server', ['--version']);
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', () => resolve(undefined));
    child.on('exit', () => resolve(/v=(\S+)/.exec(out)?.[1]));
  });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
