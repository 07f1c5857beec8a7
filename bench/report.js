// Rewrites the generated parts of BENCHMARKS.md from bench/results/*.json, and draws the charts in
// bench/charts/*.svg (plain SVG written here; no chart library). Everything else in BENCHMARKS.md
// is prose kept by hand: only the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` is
// replaced. A scenario without results keeps what its section had.
//
//   node bench/report.js [--out DIR]   (default: BENCHMARKS.md and bench/charts/ in the repository;
//                                       with --out, a copy of BENCHMARKS.md and the charts go to DIR)
const fs = require('node:fs');
const path = require('node:path');
const { resultsDir } = require('./lib');

const root = path.join(__dirname, '..');
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex === -1 ? undefined : path.resolve(process.argv[outIndex + 1]);
const docFile = path.join(outDir ?? root, 'BENCHMARKS.md');
const chartDir = outDir ? path.join(outDir, 'charts') : path.join(__dirname, 'charts');

function readResult(name) {
  const file = path.join(resultsDir(), `${name}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
}

// ---- Markdown --------------------------------------------------------------------------------

const cell = (value) => (value === true ? '✅' : value === false ? '❌' : value === undefined || value === null ? '–' : String(value).replace(/\|/g, '\\|'));

function markdownTable(rows) {
  if (!rows?.length) return '_no rows_';
  const keys = Object.keys(rows[0]);
  return [`| ${keys.join(' | ')} |`, `| ${keys.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${keys.map((k) => cell(row[k])).join(' | ')} |`)].join('\n');
}

/** "Measured <date> on <machine>": each section says when and where its numbers came from. */
function provenance(result) {
  const m = result.machine;
  const settings = result.quick ? ' **quick settings (smoke run), not for comparison**' : '';
  return `_Run ${result.at.slice(0, 16).replace('T', ' ')} UTC, ${m.cpus} × ${m.cpu}, Node ${m.node}, load average ${m.loadAverage?.[0] ?? '?'} at the end.${settings}_`;
}

const chartLink = (name, alt) => `![${alt}](bench/charts/${name}.svg)`;

// ---- SVG -------------------------------------------------------------------------------------

const esc = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

function svg(width, height, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>\n<rect width="100%" height="100%" fill="#fff"/>\n${body.join('\n')}\n</svg>\n`;
}

/** Horizontal bars of `rows` ({ label, value }), with optional dashed target lines. */
function barChart({ title, rows, targets = [], unit = '' }) {
  const left = 270;
  const barWidth = 420;
  const rowHeight = 26;
  const top = 40;
  const max = Math.max(...rows.map((r) => r.value), ...targets.map((t) => t.value)) * 1.1;
  const x = (value) => left + (value / max) * barWidth;
  const height = top + rows.length * rowHeight + 30;
  const body = [`<text x="10" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`];
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    body.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(row.label)}</text>`);
    body.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, x(row.value) - left)}" height="${rowHeight - 8}" fill="${row.color ?? COLORS[0]}"/>`);
    body.push(`<text x="${x(row.value) + 5}" y="${y + 15}">${esc(row.value)}${esc(unit)}</text>`);
  });
  // Labels left and right of their lines in turn, so that close targets stay readable.
  targets.forEach((target, i) => {
    body.push(`<line x1="${x(target.value)}" x2="${x(target.value)}" y1="${top - 4}" y2="${height - 26}" stroke="#111" stroke-dasharray="4 3"/>`);
    body.push(`<text x="${x(target.value) + (i % 2 ? -4 : 4)}" y="${height - 12}" text-anchor="${i % 2 ? 'end' : 'start'}">${esc(target.label)}</text>`);
  });
  return svg(left + barWidth + 80, height, body);
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

const sections = {
  machine() {
    const run = readResult('run');
    if (!run) return undefined;
    const m = run.machine;
    return [
      `Last full run: ${run.at.slice(0, 16).replace('T', ' ')} UTC, ${run.totalSeconds} s in all${run.quick ? ' (quick settings)' : ''}; Redis: ${run.redis}.`,
      '',
      `Machine: ${m.cpus} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; load average ${m.loadAverage.join(' / ')} at the end (other engineers' tests share it).`,
      '',
      markdownTable(run.runs),
    ].join('\n');
  },

  targets() {
    const names = ['response', 'fragments', 'miss-overhead', 'stampede', 'size-scaling', 'soak', 'faults'];
    const rows = names.flatMap((name) => (readResult(name)?.targets ?? []).map((t) => ({ scenario: name, target: t.target, measured: t.measured, met: t.met })));
    return rows.length ? markdownTable(rows) : undefined;
  },

  response() {
    const r = readResult('response');
    if (!r) return undefined;
    charts.response = barChart({
      title: `Response hits, 10 KB: requests/s ÷ bare Koa (median of ${r.rounds} rounds)`,
      rows: r.rows.map((row, i) => ({ label: row.route, value: row['÷ bare Koa'], color: COLORS[i % COLORS.length] })),
      targets: [
        { value: 0.95, label: '0.95' },
        { value: 0.9, label: '0.9' },
      ],
      unit: '×',
    });
    return [provenance(r), '', markdownTable(r.rows), '', markdownTable(r.targets), '', chartLink('response', 'Response hits ÷ bare Koa')].join('\n');
  },

  fragments() {
    const r = readResult('fragments');
    if (!r) return undefined;
    charts.fragments = barChart({
      title: `${r.fragments}-fragment page, all hits: pages/s ÷ the inlined page`,
      rows: r.rows.flatMap((row) => [
        { label: `${row.store}: {% cache %} hits`, value: row['cached ÷ inlined'], color: COLORS[0] },
        { label: `${row.store}: async tag floor`, value: row['async floor ÷ inlined'], color: COLORS[6] },
        { label: `${row.store}: sync tag floor`, value: row['sync floor ÷ inlined'], color: COLORS[2] },
      ]),
      targets: [{ value: 0.85, label: 'target 0.85' }],
      unit: '×',
    });
    return [provenance(r), '', markdownTable(r.rows), '', markdownTable(r.targets), '', chartLink('fragments', 'Fragment page ÷ inlined')].join('\n');
  },

  scaling() {
    const r = readResult('scaling');
    if (!r) return undefined;
    return [provenance(r), '', `A page of ${r.fragments} fragments (${r.pageBytes} bytes) over HTTP, every fragment a hit (bench/scaling.js):`, '', markdownTable(r.rows)].join('\n');
  },

  'miss-overhead'() {
    const r = readResult('miss-overhead');
    if (!r) return undefined;
    return [provenance(r), '', markdownTable(r.rows), '', markdownTable(r.targets)].join('\n');
  },

  stampede() {
    const r = readResult('stampede');
    if (!r) return undefined;
    return [provenance(r), '', markdownTable(r.rows), '', markdownTable(r.targets)].join('\n');
  },

  'size-scaling'() {
    const r = readResult('size-scaling');
    if (!r) return undefined;
    charts['size-fragments'] = lineChart({
      title: 'Cost per fragment as a page grows',
      xLabel: 'fragments per page (log)',
      yLabel: 'µs per fragment',
      xLog: true,
      series: [
        { name: 'all hits', markers: true, points: r.sizes.map((s) => ({ x: s['fragments per page'], y: s['µs per fragment (hits)'] })) },
        { name: 'inlined', markers: true, dashed: true, points: r.sizes.map((s) => ({ x: s['fragments per page'], y: s['µs per page (inlined)'] / s['fragments per page'] })) },
      ],
    });
    charts['size-keys'] = lineChart({
      title: `Memory store, maxBytes ${r.maxBytes / 2 ** 20} MiB: a 50-hit page and RSS as keys grow`,
      xLabel: 'keys written (log)',
      yLabel: 'µs per page / MiB',
      xLog: true,
      series: [
        { name: 'µs per 50-hit page', markers: true, points: r.keys.map((k) => ({ x: k['keys written'], y: k['µs per 50-hit page'] })) },
        { name: 'RSS MiB', markers: true, points: r.keys.map((k) => ({ x: k['keys written'], y: k['RSS MiB'] })) },
        { name: 'MiB accounted', markers: true, dashed: true, points: r.keys.map((k) => ({ x: k['keys written'], y: k['MiB accounted'] })) },
      ],
    });
    return [
      provenance(r),
      '',
      markdownTable(r.sizes),
      '',
      chartLink('size-fragments', 'Cost per fragment by page size'),
      '',
      markdownTable(r.keys),
      '',
      chartLink('size-keys', 'Hit cost and RSS by number of keys'),
    ].join('\n');
  },

  soak() {
    const r = readResult('soak');
    if (!r) return undefined;
    charts.soak = lineChart({
      title: `Soak, ${r.seconds} s: the app's RSS, live heap (after a full GC) and store size`,
      xLabel: 'seconds',
      yLabel: 'MiB',
      series: [
        { name: 'RSS MiB', points: r.samples.map((s) => ({ x: s.seconds, y: s.rssMiB })) },
        { name: 'live heap MiB', points: r.samples.map((s) => ({ x: s.seconds, y: s.heapMiB })) },
        { name: 'store MiB', dashed: true, points: r.samples.map((s) => ({ x: s.seconds, y: s.cacheMiB })) },
      ],
    });
    const mix = Object.entries(r.mix).map(([request, count]) => `${request} ${count}`).join(', ');
    return [
      provenance(r),
      '',
      `Store: ${r.store ?? 'memory'}; ${r.workers} clients; samples every ${r.sampleSeconds} s. Requests: ${mix}.`,
      '',
      markdownTable(r.rows),
      '',
      markdownTable(r.targets),
      '',
      chartLink('soak', 'Soak RSS'),
    ].join('\n');
  },

  faults() {
    const r = readResult('faults');
    if (!r) return undefined;
    const bands = [
      { from: r.events.pause, to: r.events.resume, label: 'paused' },
      { from: r.events.kill, to: r.events.restart, label: 'killed' },
    ];
    const series = (pick) => Object.entries(r.buckets).map(([name, buckets]) => ({ name, points: buckets.map((b) => ({ x: b.at / 1000, y: pick(b) })) }));
    charts['faults-latency'] = lineChart({ title: `p99 latency per ${r.bucketMs} ms while Redis is paused and killed`, xLabel: 'seconds', yLabel: 'p99 ms', bands, series: series((b) => b.p99Ms) });
    charts['faults-hits'] = lineChart({ title: `Hit ratio per ${r.bucketMs} ms`, xLabel: 'seconds', yLabel: 'hit ratio', yMax: 1.05, bands, series: series((b) => b.hitRatio) });
    return [
      provenance(r),
      '',
      `Timeline (s from the start of the load): paused ${r.events.pause}–${r.events.resume}, killed ${r.events.kill}, answering again ${r.events.restart}, end ${r.timeline.end}.`,
      '',
      markdownTable(r.rows),
      '',
      markdownTable(r.targets),
      '',
      chartLink('faults-latency', 'p99 latency during faults'),
      '',
      chartLink('faults-hits', 'Hit ratio during faults'),
    ].join('\n');
  },
};

function main() {
  if (!fs.existsSync(path.join(root, 'BENCHMARKS.md'))) throw new Error('BENCHMARKS.md is missing: it holds the prose the results go into');
  let doc = fs.readFileSync(path.join(root, 'BENCHMARKS.md'), 'utf8');
  const updated = [];
  for (const [name, render] of Object.entries(sections)) {
    const pattern = new RegExp(`(<!-- bench:${name} -->)[\\s\\S]*?(<!-- /bench:${name} -->)`);
    if (!pattern.test(doc)) {
      console.warn(`report: BENCHMARKS.md has no <!-- bench:${name} --> section`);
      continue;
    }
    const text = render();
    if (text === undefined) continue;
    doc = doc.replace(pattern, (_, open, close) => `${open}\n${text}\n${close}`);
    updated.push(name);
  }
  fs.mkdirSync(chartDir, { recursive: true });
  for (const [name, content] of Object.entries(charts)) fs.writeFileSync(path.join(chartDir, `${name}.svg`), content);
  fs.mkdirSync(path.dirname(docFile), { recursive: true });
  fs.writeFileSync(docFile, doc);
  console.log(`report: ${path.relative(process.cwd(), docFile)} (${updated.join(', ') || 'nothing'}), ${Object.keys(charts).length} charts in ${path.relative(process.cwd(), chartDir)}`);
}

main();
