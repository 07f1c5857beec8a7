// Top frames of V8 CPU profiles (`BENCH_CPU_PROF=<dir> node bench/run.js …` writes them), as
// Markdown tables, several profiles side by side: self time by place (the library, each package,
// node's JS, each native), the frames with the most self time, then the inclusive time of the
// library's own functions (dist/). Idle samples are left out; "busy" is the rest (JS, natives,
// GC, "(program)").
//
//   node bench/top-frames.js [--rows 15] [--results <dir>] [--own /dist/] [--only <text>] [label=]file[@count] …
//
// --only: the self-time table keeps only frames whose name or place holds <text> (e.g. dist/).
// label: the profile's column heading (default: its file name). count: requests (or renders) it
// served, to show µs per request; or --results <dir> (a bench/results folder): for a subject's
// profile <scenario>.<subject>.cpuprofile, the requests of <dir>/<scenario>.json's measured rounds,
// scaled by its warm-up (warm-up + rounds × seconds over rounds × seconds: about as many requests
// per second while warming up). Without a count, shares of busy time only.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

function parseArgs(argv) {
  const options = { rows: 15, own: '/dist/', only: undefined, results: undefined, profiles: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--rows') options.rows = Number(argv[++i]);
    else if (arg === '--own') options.own = argv[++i];
    else if (arg === '--only') options.only = argv[++i];
    else if (arg === '--results') options.results = argv[++i];
    else {
      const eq = arg.indexOf('=');
      const label = eq > 0 && !arg.slice(0, eq).includes('/') ? arg.slice(0, eq) : undefined;
      const rest = label ? arg.slice(eq + 1) : arg;
      const at = /@(\d+)$/.exec(rest);
      const file = at ? rest.slice(0, at.index) : rest;
      options.profiles.push({ file, label: label ?? path.basename(file, '.cpuprofile'), count: at ? Number(at[1]) : undefined });
    }
  }
  return options;
}

/** Requests a subject's server answered in a run, from its result (measured rounds plus warm-up). */
function requestsFromResults(dir, file) {
  const [scenario, subject] = path.basename(file, '.cpuprofile').split('.');
  const resultFile = path.join(dir, `${scenario}.json`);
  if (!subject || !fs.existsSync(resultFile)) return undefined;
  const result = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
  const samples = result.subjects?.[subject]?.samples;
  if (!samples?.length || !result.settings) return undefined;
  const { rounds, seconds, warmupSeconds = 0 } = result.settings;
  const measured = samples.reduce((sum, s) => sum + s.requests, 0);
  return Math.round((measured * (warmupSeconds + rounds * seconds)) / (rounds * seconds));
}

/** The library's own code: under `own` (dist/), not in a package. */
const isOwn = (url, own) => !!url && url.includes(own) && !url.includes('/node_modules/');

/** Where a frame lives, short: dist/… (no line: profiles of two versions line up), a package name, node:…, (eval) (nunjucks' compiled templates) or (native). */
function whereOf(url, own, scriptId) {
  if (!url) return scriptId && scriptId !== '0' ? '(eval)' : '(native)';
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = file.slice(modules + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const ownAt = file.lastIndexOf(own);
  if (ownAt >= 0) return `${own.replace(/^\//, '')}${file.slice(ownAt + own.length)}`;
  if (file.startsWith('node:')) return file;
  return path.basename(file);
}

/** Self and inclusive time (µs) per frame of one profile. */
function analyse(profile, own) {
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const frameOf = new Map();
  for (const node of profile.nodes) {
    const { functionName, url, scriptId } = node.callFrame;
    const where = whereOf(url, own, String(scriptId));
    const name = functionName || '(anonymous)';
    const ours = isOwn(url, own);
    // Places: the library (dist/), each package, node's own JS, compiled templates, each native by name.
    const place = ours ? own.replace(/^\/|\/$/g, '') : where === '(native)' ? name : where.startsWith('node:') ? 'node:*' : where;
    frameOf.set(node.id, { key: `${name} ${where}`, name, where, own: ours, place });
  }
  const self = new Map();
  const place = new Map();
  const inclusive = new Map();
  let busy = 0;
  let idle = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // A sample lasts until the next one.
    const us = i + 1 < samples.length ? timeDeltas[i + 1] : 0;
    const frame = frameOf.get(samples[i]);
    if (frame.name === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    self.set(frame.key, (self.get(frame.key) ?? 0) + us);
    place.set(frame.place, (place.get(frame.place) ?? 0) + us);
    const seen = new Set();
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
      const f = frameOf.get(id);
      if (f.own && !seen.has(f.key)) {
        seen.add(f.key);
        inclusive.set(f.key, (inclusive.get(f.key) ?? 0) + us);
      }
    }
  }
  const frames = new Map([...frameOf.values()].map((f) => [f.key, f]));
  const places = new Map([...place.keys()].map((key) => [key, { key, name: key, where: '' }]));
  return { self, place, inclusive, busy, idle, frames: new Map([...frames, ...places]) };
}

function cell(us, busy, count) {
  if (!us) return '–';
  const share = `${((us / busy) * 100).toFixed(1)} %`;
  return count ? `${(us / count).toFixed(1)} (${share})` : share;
}

function topTable(title, analysed, which, rows, only) {
  // Ranked by the largest share in any column.
  const keys = new Set(analysed.flatMap((a) => [...a[which].keys()]).filter((key) => !only || key.includes(only)));
  const rank = (key) => Math.max(...analysed.map((a) => (a[which].get(key) ?? 0) / a.busy));
  const top = [...keys].sort((a, b) => rank(b) - rank(a)).slice(0, rows);
  const frame = (key) => analysed.find((a) => a.frames.has(key)).frames.get(key);
  const unit = analysed.every((a) => a.count) ? 'µs per request (% of busy)' : '% of busy';
  const byPlace = which === 'place';
  const lines = [
    `${title}, ${unit}:`,
    '',
    `| ${byPlace ? 'place' : 'frame | where'} | ${analysed.map((a) => a.label).join(' | ')} |`,
    `| --- ${byPlace ? '' : '| --- '}| ${analysed.map(() => '---').join(' | ')} |`,
    ...top.map((key) => `| ${byPlace ? key : `\`${frame(key).name}\` | ${frame(key).where}`} | ${analysed.map((a) => cell(a[which].get(key), a.busy, a.count)).join(' | ')} |`),
  ];
  return lines.join('\n');
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!options.profiles.length) {
    console.error('usage: node bench/top-frames.js [--rows 15] [--results <dir>] [--own /dist/] [--only <text>] [label=]file[@count] …');
    process.exit(2);
  }
  const analysed = options.profiles.map(({ file, label, count }) => ({
    label,
    count: count ?? (options.results ? requestsFromResults(options.results, file) : undefined),
    ...analyse(JSON.parse(fs.readFileSync(file, 'utf8')), options.own),
  }));
  const totals = analysed.map((a) => {
    const gc = [...a.self].filter(([key]) => key.startsWith('(garbage collector)')).reduce((sum, [, us]) => sum + us, 0);
    const ownSelf = [...a.self].filter(([key]) => a.frames.get(key).own).reduce((sum, [, us]) => sum + us, 0);
    const per = (us) => (a.count ? `${(us / a.count).toFixed(1)} µs/req` : `${((us / a.busy) * 100).toFixed(1)} %`);
    return `| ${a.label} | ${a.count ?? '–'} | ${per(a.busy)} | ${per(ownSelf)} | ${per(gc)} |`;
  });
  console.log(['| profile | requests | busy | own code (self) | GC |', '| --- | --- | --- | --- | --- |', ...totals].join('\n'));
  console.log();
  console.log(topTable('Self time by place (the library, a package, node:*, a native)', analysed, 'place', options.rows));
  console.log();
  console.log(topTable(`Self time${options.only ? ` of frames in ${options.only}` : ''}`, analysed, 'self', options.rows, options.only));
  console.log();
  console.log(topTable(`Inclusive time of own functions (${options.own})`, analysed, 'inclusive', options.rows));
}

main();
