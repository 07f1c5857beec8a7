// Shared by the runner and the scenarios: settings, statistics, tables, machine facts, result files.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** BENCH_QUICK=1 (and the smoke run): one short round of everything, numbers meaningless. */
const quick = process.env.BENCH_QUICK === '1';
/** Redis for the scenarios that need one; `npm run bench` points it at a private redis-server. */
const REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The p-th percentile (0–100, nearest rank); undefined for an empty list. */
function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Median, min and max of a list (the spread reported everywhere is min–max over rounds). */
function summary(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** `value` rounded to `digits` decimals, as a number (for tables and JSON). */
function round(value, digits = 0) {
  return value === undefined || value === null || Number.isNaN(value) ? undefined : +value.toFixed(digits);
}

/** A plain-text table of `rows` (objects with the same keys), for the console. */
function table(rows) {
  if (!rows.length) return '(no rows)';
  const keys = Object.keys(rows[0]);
  const text = (v) => (v === undefined || v === null ? '–' : v === true ? 'yes' : v === false ? 'NO' : String(v));
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => text(r[k]).length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(keys.map((k) => text(r[k]))))].join('\n');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function machine() {
  return {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model?.trim(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((n) => round(n, 2)),
  };
}

/** Where results go: bench/results, or BENCH_RESULTS_DIR (the smoke run keeps its own). */
function resultsDir() {
  return process.env.BENCH_RESULTS_DIR || path.join(__dirname, '..', 'results');
}

function writeResult(name, result) {
  const dir = resultsDir();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  // The command that ran it (bench/run.js says which), shown when its section is not from the full run.
  const command = process.env.BENCH_COMMAND || `node bench/lib/scenario.js ${name}`;
  const stamped = { scenario: name, at: new Date().toISOString(), runId: process.env.BENCH_RUN_ID, command, quick, machine: machine(), ...result };
  fs.writeFileSync(file, JSON.stringify(stamped, null, 2));
  return file;
}

function readResult(name) {
  const file = path.join(resultsDir(), `${name}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
}

module.exports = { quick, REDIS_URL, median, percentile, summary, round, table, sleep, machine, resultsDir, writeResult, readResult };
