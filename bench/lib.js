// Shared by the bench scripts: interleaved timing rounds, medians, result files.
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const quick = process.env.BENCH_QUICK === '1';

/** Median of a list of numbers. */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs every variant `iterations` times per round, alternating variants round by round, so drift
 * on a shared machine hits them all alike. Resolves the median operations/second of each.
 */
async function interleave(variants, { rounds = quick ? 3 : 15, iterations = quick ? 50 : 400 } = {}) {
  const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (const run of Object.values(variants)) for (let i = 0; i < 20; i++) await run(); // warm up
  for (let round = 0; round < rounds; round++) {
    const order = Object.entries(variants);
    if (round % 2) order.reverse();
    for (const [name, run] of order) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await run();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      samples[name].push(iterations / seconds);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, median(s)]));
}

function machine() {
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

function writeResult(name, result) {
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ scenario: name, at: new Date().toISOString(), quick, machine: machine(), ...result }, null, 2));
  return file;
}

function table(rows) {
  const widths = Object.keys(rows[0]).map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  return [line(Object.keys(rows[0])), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(Object.values(r)))].join('\n');
}

module.exports = { quick, median, interleave, writeResult, table };
