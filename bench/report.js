// Regenerates the results part of BENCHMARKS.md (between `<!-- bench:results -->` and
// `<!-- /bench:results -->`; the text above it is kept as written) and the charts in
// bench/charts/*.svg (plain SVG drawn here) from bench/results/*.json, merged with the report
// already there:
//   - the run line (bench/results/run.json, written by a run of every default scenario; else the
//     one the report shows), and which scenarios come from other runs (when, by what command);
//   - Goals: every row with a numeric goal (http and render scenarios): median over rounds,
//     min–max, met, and for a missed goal the row's `why` as its scenario file says it now (— until
//     someone writes it); a row not from the run above carries its own date;
//   - Checks: the pass/fail rows of custom scenarios;
//   - a section per scenario: its subjects and all its rows, or its tables.
// A scenario whose result is missing or older than its section stays as the report has it (its
// section, its rows in Goals and Checks, its charts): running one scenario rewrites only its own.
// Charts that neither a new result nor a kept section asks for are deleted.
//
//   node bench/report.js [--out DIR]   (default: BENCHMARKS.md and bench/charts/ in the repository;
//                                       with --out, a copy of BENCHMARKS.md and the charts go to DIR)
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { readResult } = require('./lib/common');
const { rowCells, subjectTable } = require('./lib/rows');
const { listScenarios } = require('./lib/scenarios');

const root = path.join(__dirname, '..');
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex === -1 ? undefined : path.resolve(process.argv[outIndex + 1]);
const docFile = path.join(outDir ?? root, 'BENCHMARKS.md');
const chartDir = outDir ? path.join(outDir, 'charts') : path.join(__dirname, 'charts');

// ---- Markdown --------------------------------------------------------------------------------

const cell = (value) => (value === true ? '✅' : value === false ? '❌' : value === undefined || value === null || value === '' ? (value === '' ? '' : '–') : String(value).replace(/\|/g, '\\|'));

function markdownTable(rows) {
  if (!rows?.length) return '_no rows_';
  const keys = Object.keys(rows[0]);
  return [`| ${keys.join(' | ')} |`, `| ${keys.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${keys.map((k) => cell(row[k])).join(' | ')} |`)].join('\n');
}

const when = (iso) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

// ---- SVG -------------------------------------------------------------------------------------

const esc = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

function svg(width, height, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>\n<rect width="100%" height="100%" fill="#fff"/>\n${body.join('\n')}\n</svg>\n`;
}

/**
 * The goal rows as horizontal bars (median), a whisker for min–max over rounds and a dashed tick
 * at each row's own goal; green when met, red when not. The ratios (unit ×) share one axis, with
 * its ticks and the 1× line; a row in another unit (round trips, ms) is drawn below them on a
 * scale of its own, its goal labelled on the tick. Each median is written in a column of its own,
 * with its unit, at the right.
 */
function goalChart(rows) {
  const left = 300;
  const barWidth = 400;
  const rowHeight = 30;
  const top = 40;
  const ratios = rows.filter((r) => r.unit === '×');
  const others = rows.filter((r) => r.unit !== '×');
  const extent = (r) => Math.max(r.max ?? r.median, r.median, r.goal.min ?? 0, r.goal.max ?? 0);
  const body = [`<text x="10" y="22" font-size="14" font-weight="bold">Goals: median over rounds (bar), min–max (whisker), goal (dashed)</text>`];
  let y = top;

  const drawRow = (row, x, goalLabels) => {
    const color = row.met ? '#16a34a' : '#dc2626';
    body.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(row.label)}</text>`);
    body.push(`<rect x="${left}" y="${y + 5}" width="${Math.max(1, x(row.median) - left)}" height="${rowHeight - 12}" fill="${color}" opacity="0.75"/>`);
    if (row.rounds > 1 && row.max > row.min) {
      body.push(`<line x1="${x(row.min)}" x2="${x(row.max)}" y1="${y + 14}" y2="${y + 14}" stroke="#111"/>`);
      for (const v of [row.min, row.max]) body.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${y + 9}" y2="${y + 19}" stroke="#111"/>`);
    }
    for (const g of [row.goal.min, row.goal.max].filter((v) => v !== undefined)) {
      body.push(`<line x1="${x(g)}" x2="${x(g)}" y1="${y + 1}" y2="${y + rowHeight - 3}" stroke="#111" stroke-width="2" stroke-dasharray="3 2"/>`);
    }
    if (goalLabels) body.push(`<text x="${x(row.goal.max ?? row.goal.min) + 5}" y="${y + 10}" font-size="10" fill="#4b5563">goal ${esc(row.goal.text)}</text>`);
    const unit = row.unit === '×' ? '×' : row.unit || '';
    body.push(`<text x="${left + barWidth + 12}" y="${y + 17}">${esc(row.median)}${esc(unit)}</text>`);
    y += rowHeight;
  };

  if (ratios.length) {
    const max = Math.max(1.1, ...ratios.map(extent)) * 1.05;
    const x = (value) => left + (Math.min(value, max) / max) * barWidth;
    const from = y;
    for (const row of ratios) drawRow(row, x, false);
    // The shared axis: ticks at round ratios, the 1× line stronger (the baseline's own speed).
    const ticks = niceTicks(0, max).filter((t) => t <= max);
    for (const t of ticks) {
      body.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${from}" y2="${y}" stroke="${t === 1 ? '#9ca3af' : '#e5e7eb'}"/>`);
      body.push(`<text x="${x(t)}" y="${y + 14}" text-anchor="middle" font-size="11" fill="#4b5563">${esc(+t.toPrecision(4))}×</text>`);
    }
    if (!ticks.includes(1)) body.push(`<line x1="${x(1)}" x2="${x(1)}" y1="${from}" y2="${y}" stroke="#9ca3af"/>`);
    y += 24;
  }
  if (others.length) {
    body.push(`<text x="10" y="${y + 12}" font-size="11" fill="#4b5563">Not ratios: each row on a scale of its own (0 at the left), its goal labelled.</text>`);
    y += 20;
    for (const row of others) {
      const max = extent(row) * 1.25 || 1;
      drawRow(row, (value) => left + (Math.min(value, max) / max) * barWidth, true);
    }
  }
  return svg(left + barWidth + 90, y + 12, body);
}

/** About five round-numbered ticks (steps of 1, 2 or 5 × 10^n) from `from` to `to`. */
function niceTicks(from, to) {
  const rough = (to - from) / 5 || 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= rough);
  const ticks = [];
  for (let t = Math.ceil(from / step) * step; t <= to + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

/**
 * Lines of `series` ({ name, points: [{ x, y }] }) on linear or log axes, with shaded `bands`
 * ({ from, to, label }) along x. Points with y undefined break the line.
 */
function lineChart({ title, series, xLabel, yLabel, xLog = false, yMin = 0, yMax, bands = [], width = 720, height = 300 }) {
  const m = { left: 60, right: 150, top: 36, bottom: 44 };
  const all = series.flatMap((s) => s.points).filter((p) => p.y !== undefined);
  const xs = all.map((p) => p.x);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const top = yMax ?? Math.max(...all.map((p) => p.y)) * 1.1;
  const fx = xLog ? Math.log10 : (v) => v;
  const px = (v) => m.left + ((fx(v) - fx(x0)) / (fx(x1) - fx(x0) || 1)) * (width - m.left - m.right);
  const py = (v) => height - m.bottom - ((v - yMin) / (top - yMin || 1)) * (height - m.top - m.bottom);
  const body = [`<text x="10" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`];
  for (const band of bands) {
    body.push(`<rect x="${px(band.from)}" y="${m.top}" width="${px(band.to) - px(band.from)}" height="${height - m.top - m.bottom}" fill="#fde68a" opacity="0.6"/>`);
    body.push(`<text x="${(px(band.from) + px(band.to)) / 2}" y="${m.top + 12}" text-anchor="middle">${esc(band.label)}</text>`);
  }
  // Axes, with ticks at the data's x values (log) or at five even steps.
  body.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${height - m.bottom}" y2="${height - m.bottom}" stroke="#111"/>`);
  body.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${height - m.bottom}" stroke="#111"/>`);
  const xTicks = xLog ? [...new Set(xs)] : niceTicks(x0, x1);
  for (const t of xTicks) body.push(`<text x="${px(t)}" y="${height - m.bottom + 16}" text-anchor="middle">${esc(+t.toPrecision(4))}</text>`);
  for (const v of niceTicks(yMin, top)) {
    body.push(`<text x="${m.left - 6}" y="${py(v) + 4}" text-anchor="end">${esc(+v.toPrecision(4))}</text>`);
    body.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${py(v)}" y2="${py(v)}" stroke="#e5e7eb"/>`);
  }
  body.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
  body.push(`<text x="14" y="${(m.top + height - m.bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(m.top + height - m.bottom) / 2})">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = s.color ?? COLORS[i % COLORS.length];
    const segments = [[]];
    for (const p of s.points) {
      if (p.y === undefined) segments.push([]);
      else segments.at(-1).push(`${px(p.x).toFixed(1)},${py(Math.min(p.y, top)).toFixed(1)}`);
    }
    for (const seg of segments.filter((seg) => seg.length)) {
      body.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${seg.join(' ')}"/>`);
      if (s.markers) for (const point of seg) body.push(`<circle cx="${point.split(',')[0]}" cy="${point.split(',')[1]}" r="3" fill="${color}"/>`);
    }
    body.push(`<line x1="${width - m.right + 10}" x2="${width - m.right + 30}" y1="${m.top + 10 + i * 18}" y2="${m.top + 10 + i * 18}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    body.push(`<text x="${width - m.right + 35}" y="${m.top + 14 + i * 18}">${esc(s.name)}</text>`);
  });
  return svg(width, height, body);
}

// ---- Sections --------------------------------------------------------------------------------

const charts = {};

function drawCharts(result) {
  for (const chart of result.charts ?? []) {
    if (chart.type === 'line') charts[chart.name] = lineChart(chart);
  }
  return (result.charts ?? []).map((chart) => `![${chart.title}](bench/charts/${chart.name}.svg)`);
}

function settingsLine(result) {
  const s = result.settings ?? {};
  if (result.kind === 'http') {
    const warmup = s.warmupSeconds ? ` after ${s.warmupSeconds} s of warm-up each` : '';
    return `\`wrk -t${s.threads} -c${s.connections} -d${s.seconds}s\` on loopback, ${s.rounds} interleaved round(s) (one run per subject per round${warmup}), one server process per subject`;
  }
  if (result.kind === 'render') return `in-process render loop, ${s.rounds} interleaved round(s) of ${s.sliceMs} ms per subject, a full GC before each`;
  return undefined;
}

function provenance(result, run) {
  const other = run && result.runId !== run.runId ? ' (not the run above)' : '';
  const quick = result.quick ? ' **Quick settings: not for comparison.**' : '';
  const settings = settingsLine(result);
  return `_${when(result.at)}${other}; ${settings ? `${settings}; ` : ''}load average ${result.machine.loadAverage?.[0] ?? '?'} at the end.${quick}_`;
}

function section(entry, result, run) {
  const parts = [`### ${entry.title}`, dataComment(entry, result), '', `\`bench/scenarios/${entry.name}.js\` (${result.kind}). ${result.about ?? ''}`.trim(), '', provenance(result, run)];
  if (result.subjects) parts.push('', markdownTable(subjectTable(result)));
  for (const t of result.tables ?? []) parts.push('', ...(t.caption ? [t.caption, ''] : []), markdownTable(t.rows));
  // Rows with a goal are in Goals and Checks above; here the others.
  const others = (result.rows ?? []).filter((r) => !r.goal);
  if (others.length) parts.push('', markdownTable(others.map(rowCells).map(({ measure, measured, 'spread (min–max)': spread, rounds }) => ({ measure, measured, 'spread (min–max)': spread, rounds }))));
  const links = drawCharts(result);
  if (links.length) parts.push('', links.join('\n\n'));
  return parts.join('\n');
}

// ---- Merging with the report already there ---------------------------------------------------
//
// A run of some scenarios (`node bench/run.js response`, `npm run soak`) leaves the others as the
// last report has them: each scenario's section carries, in an HTML comment under its heading,
// what the Goals and Checks tables and the charts need of it (its rows with a goal, its date and
// run, its charts). A scenario's section is rewritten only from a result newer than that.

const DATA = /^<!-- bench:data (.*) -->$/m;
const RUN = /^<!-- bench:run (.*) -->$/m;

/** A row as a later report needs it: without every round's value. */
const withoutValues = (row) => Object.fromEntries(Object.entries(row).filter(([key]) => key !== 'values'));

/** What a later report keeps of a scenario's result: its date and run, its charts, its rows with a goal. */
function dataOf(entry, result) {
  return {
    scenario: entry.name,
    at: result.at,
    runId: result.runId,
    command: result.command,
    quick: result.quick || undefined,
    charts: (result.charts ?? []).map((chart) => chart.name),
    rows: (result.rows ?? []).filter((r) => r.goal).map(withoutValues),
  };
}

/** The comment under a section's heading holding `dataOf` (JSON has no `--` then). */
function dataComment(entry, result) {
  return `<!-- bench:data ${JSON.stringify(dataOf(entry, result)).replace(/--/g, '-\\u002d')} -->`;
}

/**
 * The report as it stands: its run (from the comment beside the run line) and its sections by
 * scenario name (their text as written, and their data). A section without data (written by an
 * older report.js) is not kept.
 */
function previousReport(block) {
  const runData = RUN.exec(block)?.[1];
  const sections = new Map();
  const at = block.indexOf('\n## Scenarios');
  if (at !== -1) {
    for (const text of block.slice(at).split(/\n(?=### )/).slice(1)) {
      const json = DATA.exec(text)?.[1];
      if (!json) continue;
      const data = JSON.parse(json);
      sections.set(data.scenario, { data, text: text.trimEnd() });
    }
  }
  return { run: runData ? JSON.parse(runData) : undefined, sections };
}

function runLine(run) {
  if (!run) return '_No full run yet: `npm run bench`._';
  const m = run.machine;
  return [
    `Run: ${when(run.at)}, \`${run.command}\`, ${run.totalSeconds} s${run.quick ? ' **(quick settings: not for comparison)**' : ''}; wrk ${run.wrk ?? '–'}; Redis: ${run.redis}.`,
    '',
    `Machine: ${m.cpus} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; load average ${m.loadAverage.join(' / ')} at the end.`,
    '',
    `<!-- bench:run ${JSON.stringify({ runId: run.runId, at: run.at, command: run.command, totalSeconds: run.totalSeconds, quick: run.quick, wrk: run.wrk, redis: run.redis, machine: m })} -->`,
  ].join('\n');
}

/** Which scenarios are not from the run above, grouped by their own run: when and by what command. */
function otherRunsLine(entries, run) {
  const groups = new Map();
  for (const { entry, data } of entries) {
    if (run && data.runId === run.runId) continue;
    const key = data.runId ?? data.at;
    if (!groups.has(key)) groups.set(key, { at: data.at, command: data.command, quick: data.quick, titles: [] });
    const group = groups.get(key);
    group.titles.push(entry.title);
    if (data.at < group.at) group.at = data.at; // when that run began
  }
  if (groups.size === 0) return undefined;
  const said = [...groups.values()]
    .sort((a, b) => a.at.localeCompare(b.at))
    .map((g) => `${g.titles.join(', ')}: ${when(g.at)}${g.command ? ` (\`${g.command}\`${g.quick ? ', quick settings' : ''})` : ''}`);
  return `${run ? 'Not from the run above (their rows carry their own date)' : 'Scenarios run'}: ${said.join('; ')}.`;
}

function main() {
  if (!fs.existsSync(path.join(root, 'BENCHMARKS.md'))) throw new Error('BENCHMARKS.md is missing: it holds the text the results go under');
  const doc = fs.readFileSync(path.join(root, 'BENCHMARKS.md'), 'utf8');
  const pattern = /(<!-- bench:results -->)([\s\S]*?)(<!-- \/bench:results -->)/;
  const block = pattern.exec(doc)?.[2];
  if (block === undefined) throw new Error('BENCHMARKS.md has no <!-- bench:results --> … <!-- /bench:results --> block');
  const previous = previousReport(block);

  // The run line: the newer of the last full run's result and the one the report shows.
  const runResult = readResult('run');
  const run = runResult && (!previous.run || runResult.at >= previous.run.at) ? runResult : previous.run;

  // Per scenario (those of bench/scenarios/ only): a result newer than its section, else its section.
  const entries = listScenarios().flatMap((entry) => {
    const result = readResult(entry.name);
    const kept = previous.sections.get(entry.name);
    // A file from an older harness (no `kind`) is not read.
    if (result?.kind && (!kept || result.at > kept.data.at)) return [{ entry, result, data: dataOf(entry, result) }];
    return kept ? [{ entry, kept: kept.text, data: kept.data }] : [];
  });

  const mark = (data) => (run && data.runId !== run.runId ? ` (${when(data.at)})` : '');
  // A missed goal's why as its scenario says it now (the explanation belongs to the code, not the
  // run), else as its result had it.
  const whyNow = (entry, row) => entry.spec.rows?.find((r) => r.measure === row.measure)?.why || row.why;
  const rowsOf = (check) =>
    entries.flatMap(({ entry, data }) => data.rows.filter((r) => !!r.check === check).map((r) => ({ ...r, measure: r.measure + mark(data), why: whyNow(entry, r) })));
  const goals = rowsOf(false);
  const checks = rowsOf(true);

  const others = otherRunsLine(entries, run);
  const parts = [runLine(run), ...(others ? ['', others] : []), '', '## Goals', ''];
  if (goals.length) {
    parts.push('Median over rounds of each round\'s ratio (subject ÷ baseline, measured side by side); spread: min–max over rounds.', '');
    parts.push(markdownTable(goals.map(rowCells)), '', '![Goals](bench/charts/goals.svg)');
    charts.goals = goalChart(goals.map((r) => ({ ...r, label: r.short ?? (r.measure.length > 44 ? `${r.measure.slice(0, 42)}…` : r.measure) })));
  } else parts.push('_no results_');
  parts.push('', '## Checks', '', checks.length ? markdownTable(checks.map(rowCells).map(({ measure, goal, measured, met, why }) => ({ measure, goal, measured, met, why }))) : '_no results_');
  parts.push('', '## Scenarios');
  for (const { entry, result, kept } of entries) parts.push('', result ? section(entry, result, run) : kept);

  const text = parts.join('\n');
  fs.mkdirSync(path.dirname(docFile), { recursive: true });
  fs.writeFileSync(docFile, doc.replace(pattern, (_, open, _old, close) => `${open}\n${text}\n${close}`));

  // Charts: those drawn now, those of the sections kept (copied along with --out), no others.
  const keptCharts = new Set(entries.filter((e) => e.kept).flatMap((e) => e.data.charts ?? []));
  const repoCharts = path.join(__dirname, 'charts');
  fs.mkdirSync(chartDir, { recursive: true });
  for (const file of fs.readdirSync(chartDir)) {
    const name = file.slice(0, -4);
    if (file.endsWith('.svg') && !charts[name] && !keptCharts.has(name)) fs.rmSync(path.join(chartDir, file));
  }
  for (const [name, content] of Object.entries(charts)) fs.writeFileSync(path.join(chartDir, `${name}.svg`), content);
  if (chartDir !== repoCharts) {
    for (const name of keptCharts) {
      const from = path.join(repoCharts, `${name}.svg`);
      if (fs.existsSync(from)) fs.copyFileSync(from, path.join(chartDir, `${name}.svg`));
    }
  }
  const fresh = entries.filter((e) => e.result).map((e) => e.entry.name);
  const kept = entries.filter((e) => e.kept).map((e) => e.entry.name);
  console.log(
    `report: ${path.relative(process.cwd(), docFile)} (new: ${fresh.join(', ') || 'none'}; kept: ${kept.join(', ') || 'none'}), ` +
      `${Object.keys(charts).length} charts drawn, ${keptCharts.size} kept, in ${path.relative(process.cwd(), chartDir) || '.'}`,
  );
}

main();
