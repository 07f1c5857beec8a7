// A scenario's rows: each a measure of its subjects' rounds, with a goal or none.
'use strict';

const { summary, round } = require('./common');

/** `goal` as written in a scenario (a number: the minimum) → { min, max, text }. */
function normalizeGoal(goal, unit = '×') {
  if (goal === undefined || goal === null) return undefined;
  if (typeof goal === 'number') return { min: goal, text: `≥ ${Number.isInteger(goal) ? goal.toFixed(1) : goal}${unit}` };
  const text = goal.text ?? [goal.min !== undefined && `≥ ${goal.min}${unit}`, goal.max !== undefined && `≤ ${goal.max}${unit}`].filter(Boolean).join(' and ');
  return { min: goal.min, max: goal.max, text };
}

/**
 * Evaluates the rows of an http or render scenario against its subjects' samples (one per round,
 * `samples[i].rate` the requests or renders per second of round i):
 *  - { subject, baseline }: each round's subject rate ÷ baseline rate (same round), unit ×;
 *  - { value(result) }: a number, or one number per round.
 * Each gets its median and min–max over rounds, and `met` when it has a goal.
 */
function evaluateRows(rows = [], result) {
  return rows.map((row) => {
    let values;
    let unit = row.unit;
    if (row.value) {
      const value = row.value(result);
      values = Array.isArray(value) ? value : [value];
    } else {
      const subject = result.subjects[row.subject]?.samples;
      const baseline = result.subjects[row.baseline]?.samples;
      if (!subject || !baseline) throw new Error(`row "${row.measure}": no subject ${row.subject} or baseline ${row.baseline}`);
      values = subject.map((s, i) => s.rate / baseline[i].rate);
      unit ??= '×';
    }
    unit ??= '';
    const stats = summary(values);
    const goal = normalizeGoal(row.goal, unit);
    const met = goal ? (goal.min === undefined || stats.median >= goal.min) && (goal.max === undefined || stats.median <= goal.max) : undefined;
    const digits = row.digits ?? 3;
    return {
      measure: row.measure,
      ...(row.short && { short: row.short }),
      goal,
      unit,
      median: round(stats.median, digits),
      min: round(stats.min, digits),
      max: round(stats.max, digits),
      rounds: values.length,
      met,
      ...(row.slower && { slowerPercent: round((1 / stats.median - 1) * 100, 1) }),
      why: row.why || undefined,
      values: values.map((v) => round(v, 4)),
    };
  });
}

/** A row as a console/markdown table line. */
function rowCells(row) {
  const value = (v) => (v === undefined ? '–' : `${v}${row.unit}`);
  const median = row.slowerPercent !== undefined ? `${value(row.median)} (${row.slowerPercent >= 0 ? `${row.slowerPercent} % slower` : `${-row.slowerPercent} % faster`})` : value(row.median);
  return {
    measure: row.measure,
    goal: row.goal?.text ?? '–',
    measured: row.check ? row.value : median,
    'spread (min–max)': row.check || row.rounds < 2 ? '–' : `${value(row.min)} – ${value(row.max)}`,
    rounds: row.check ? '–' : row.rounds,
    met: row.met,
    why: row.met === false ? row.why ?? '—' : '',
  };
}


/** A custom scenario's row ({ measure, goal: text, value, met, why }) as stored. */
function checkRow(row) {
  return { measure: row.measure, goal: row.goal === undefined ? undefined : { text: String(row.goal) }, unit: row.unit ?? '', value: row.value, met: row.met, why: row.why || undefined, check: true };
}

/** One line per subject: medians and min–max over rounds. */
function subjectTable(result) {
  return Object.entries(result.subjects).map(([name, s]) => {
    const rate = summary(s.samples.map((x) => x.rate));
    const row = { subject: s.label ?? name };
    if (result.kind === 'http') {
      row['req/s'] = Math.round(rate.median);
      row['req/s min–max'] = s.samples.length > 1 ? `${Math.round(rate.min)} – ${Math.round(rate.max)}` : '–';
      row['p99 ms'] = round(summary(s.samples.map((x) => x.p99Ms)).median, 2);
      row['server µs CPU/req'] = round(summary(s.samples.map((x) => x.cpuUsPerRequest)).median, 1);
      row['server CPU %'] = round(summary(s.samples.map((x) => x.serverCpuPercent)).median);
      row['body bytes'] = s.bodyBytes;
    } else {
      row['renders/s'] = round(rate.median, rate.median < 100 ? 1 : 0);
      row['renders/s min–max'] = s.samples.length > 1 ? `${round(rate.min, rate.min < 100 ? 1 : 0)} – ${round(rate.max, rate.max < 100 ? 1 : 0)}` : '–';
      row['µs per render'] = round(1e6 / rate.median, 1);
      row['output bytes'] = s.outputBytes;
    }
    return row;
  });
}

module.exports = { normalizeGoal, evaluateRows, checkRow, rowCells, subjectTable };
