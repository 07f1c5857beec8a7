// The invariants of the chaos suite, judged from what the load processes recorded (load.js) and
// what the driver's L1 probe saw (scenario.js). Pure functions: test/chaos.test.ts feeds them
// made-up histories. `judge(run)` gives one table row: a cell per invariant and the failures.
'use strict';

/** Calls that may throw nothing, and pages and memoized values that must be right. */
function callerErrors(records) {
  const thrown = records.filter((r) => r.thrown !== undefined);
  const wrong = records.filter((r) => (r.kind === 'page' || r.kind === 'memo') && r.thrown === undefined && !r.ok);
  return { calls: records.length, thrown: thrown.length, wrong: wrong.length, example: (thrown[0] ?? wrong[0]) && JSON.stringify(thrown[0] ?? wrong[0]) };
}

const failedWrite = (r) => (r.kind === 'set' && r.ok === false) || (r.kind === 'inc' && r.r === null);

/** How much of [at, at + ms] the process's event loop was stalled (a busy machine, not the cache). */
function stalledDuring(stalls, at, ms) {
  let stalled = 0;
  for (const s of stalls) stalled += Math.max(0, Math.min(at + ms, s.at + s.ms) - Math.max(at, s.at));
  return stalled;
}

/**
 * From the fault to the end of the last write that failed (a set not stored, an inc without a
 * value; a delete's answer does not say whether it failed), under load. Bound: the recovery time
 * plus 0.5 s; keys whose shard never failed get 0.5 s. A write that ran out of time only because
 * its own process was stalled (it would have been within the deadline without the stall) is
 * excused here: it measured the machine, not the topology. (Its value may still land: lateLandings.)
 */
function failedWriteWindow({ logs, stalls, limits, faultAt, recoveredAt, unaffected }) {
  const failed = [];
  let excused = 0;
  logs.forEach((records, i) => {
    for (const r of records) {
      if (r.phase !== 'load' || !failedWrite(r) || r.at + r.ms < faultAt) continue;
      if (r.ms >= limits.operationTimeoutMs && r.ms - stalledDuring(stalls[i], r.at, r.ms) < limits.operationTimeoutMs) excused++;
      else failed.push(r);
    }
  });
  const windowOf = (list) => Math.max(0, ...list.map((r) => r.at + r.ms - faultAt));
  const spared = unaffected ? failed.filter((r) => unaffected(r.key)) : [];
  const late = failed.filter((r) => r.at + r.ms > recoveredAt);
  return {
    failed: failed.length,
    excused,
    afterRecovery: late.length,
    lastAfterRecoveryMs: Math.max(0, ...late.map((r) => r.at + r.ms - recoveredAt)),
    windowMs: windowOf(failed),
    boundMs: recoveredAt - faultAt + 500,
    unaffectedFailed: spared.length,
    unaffectedWindowMs: windowOf(spared),
  };
}

/** The deadline of each kind of call: its store calls in a row, plus the lock wait and the compute of a miss. */
function deadlines({ operationTimeoutMs: op, lockWaitMs, computeMs }) {
  // memoize miss: lookup, lock, (wait, lookup), write, unlock; page miss: index and variant read
  // twice, lock, (wait), variant and index written, unlock.
  return { set: op, get: op, del: op, inc: op, spare: op, memo: 6 * op + lockWaitMs + computeMs, page: 9 * op + lockWaitMs + computeMs };
}

/** The slowest call under load against its deadline, after what its process's stalls excuse: the worst. */
function slowest(logs, stalls, limits) {
  const due = deadlines(limits);
  let worst = { kind: '-', ms: 0, deadlineMs: 0, stalledMs: 0, over: -Infinity };
  logs.forEach((records, i) => {
    for (const r of records) {
      if (r.phase !== 'load' || !(r.kind in due)) continue;
      const stalledMs = stalledDuring(stalls[i], r.at, r.ms);
      const over = r.ms - stalledMs - due[r.kind];
      if (over > worst.over) worst = { kind: r.kind, ms: r.ms, deadlineMs: due[r.kind], stalledMs, over };
    }
  });
  return worst;
}

/**
 * Every read of a key (by the worker that owns it, or read back after the load) against that
 * worker's writes before it. Allowed: a miss (a failed read answers as one), or what the last
 * acknowledged write left (a value, or nothing after a delete). Found:
 * - failedRead: the value of a set reported failed, with no acknowledged change since;
 * - late: the value of a set reported failed, read after a later acknowledged set or a delete;
 * - resurrected: the value of an acknowledged set, read after a later acknowledged set or a delete
 *   (a change lost, or an older write landing over it);
 * - unexplained: a value this key was never given.
 */
function lateLandings(records) {
  const keys = new Map();
  const found = { failedRead: 0, late: 0, resurrected: 0, unexplained: 0, examples: [] };
  const note = (what, r, write) => {
    found[what]++;
    const how = write && `written ${Math.round(r.at - write.at)} ms before, ${write.ok ? 'acknowledged' : `failed after ${Math.round(write.ms)} ms`}`;
    if (found.examples.length < 3) found.examples.push(`${what}: ${r.key}=${r.r} read (${r.phase}) ${how ?? ''}`.trim());
  };
  for (const r of records) {
    if (r.kind !== 'set' && r.kind !== 'del' && r.kind !== 'get') continue;
    let k = keys.get(r.key);
    if (!k) keys.set(r.key, (k = { current: null, unsure: new Map(), before: new Map() }));
    if (r.kind === 'get') {
      if (r.r === null || r.r === k.current?.v) continue;
      const write = k.unsure.get(r.r) ?? k.before.get(r.r);
      note(k.unsure.has(r.r) ? 'failedRead' : !write ? 'unexplained' : write.ok ? 'resurrected' : 'late', r, write);
    } else if (r.kind === 'set' && !r.ok) k.unsure.set(r.v, r);
    else {
      // An acknowledged set, or a delete (whose process counts it done even when Redis failed).
      if (k.current) k.before.set(k.current.v, k.current);
      for (const [v, write] of k.unsure) k.before.set(v, write);
      k.unsure.clear();
      k.current = r.kind === 'set' ? r : null;
    }
  }
  return found;
}

/**
 * Each worker's counter: its incs run one after another, so each value returned must be the
 * previous one plus one, plus any of the failed incs since that were applied after all. The
 * counter read back after the load (and after the fence) is judged the same way. Counts are of
 * increments: `lost` acknowledged ones missing, `doubled` ones applied once too often.
 */
function increments(records) {
  const counters = new Map();
  const found = { applied: 0, lost: 0, doubled: 0, failedApplied: 0 };
  for (const r of records) {
    if ((r.kind !== 'inc' && r.kind !== 'counter') || (r.kind === 'counter' && r.r === null)) continue;
    let c = counters.get(r.key);
    if (!c) counters.set(r.key, (c = { last: 0, failed: 0 }));
    if (r.r === null) {
      c.failed++;
      continue;
    }
    const extra = r.r - c.last - (r.kind === 'inc' ? 1 : 0);
    if (r.kind === 'inc') found.applied++;
    if (extra < 0) found.lost -= extra;
    else if (extra > c.failed) found.doubled += extra - c.failed;
    else found.failedApplied += extra;
    c.failed = Math.max(0, c.failed - Math.max(0, extra));
    c.last = r.r;
  }
  return found;
}

/**
 * The L1 probe (`stale`: changes another process still served from its L1 100 ms after they were
 * acknowledged; `fills`: when that process's L1 held the last value it read): a change acknowledged
 * at or after recovery and served stale is a failure; so is an L1 never filled again after it.
 */
function coherence(probe, recoveredAt) {
  const staleAfter = probe.stale.filter((s) => s.ackAt >= recoveredAt);
  const filledAt = probe.fills.find((at) => at >= recoveredAt);
  return {
    staleBefore: probe.stale.length - staleAfter.length,
    staleAfter: staleAfter.length,
    staleUntilMs: Math.max(0, ...staleAfter.map((s) => s.seenAt - recoveredAt)),
    refilledAfterMs: filledAt === undefined ? undefined : filledAt - recoveredAt,
  };
}

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const plural = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** One row: `cells` by column, `failures` saying what broke. */
function judge(run) {
  const records = run.logs.flat();
  const failures = [];
  const cell = (label, ok, text, detail) => {
    if (!ok) failures.push(`${label}: ${detail ?? text}`);
    return `${ok ? '✓' : '✗'} ${text}`;
  };

  const errors = callerErrors(records);
  const window = failedWriteWindow(run);
  const slow = slowest(run.logs, run.stalls, run.limits);
  const late = run.logs.map(lateLandings).reduce((a, b) => ({
    failedRead: a.failedRead + b.failedRead,
    late: a.late + b.late,
    resurrected: a.resurrected + b.resurrected,
    unexplained: a.unexplained + b.unexplained,
    examples: [...a.examples, ...b.examples],
  }));
  const incs = increments(records);
  // No probe: the caches had no L1 (a store of another client, chaos --client).
  const l1 = run.probe && coherence(run.probe, run.recoveredAt);
  const closeMs = Math.max(...run.closes.flatMap((c) => Object.values(c)));

  const unaffectedOk = window.unaffectedWindowMs <= 500;
  const landings = [
    late.failedRead && plural(late.failedRead, 'failed set') + ' read back',
    late.late && `${plural(late.late, 'failed set')} read after a later change`,
    late.resurrected && `${plural(late.resurrected, 'overwritten/deleted value')} back`,
    late.unexplained && plural(late.unexplained, 'unexplained value'),
    incs.failedApplied && `${plural(incs.failedApplied, 'failed inc')} applied`,
    !run.readBacks.every(Boolean) && 'not read back (reads kept failing)',
  ].filter(Boolean);
  const cells = {
    recovery: s(run.recoveredAt - run.faultAt),
    calls: String(errors.calls),
    errors: cell('callers', errors.thrown + errors.wrong === 0, errors.thrown + errors.wrong === 0 ? 'none' : `${errors.thrown} thrown, ${errors.wrong} wrong`, `e.g. ${errors.example}`),
    window: cell(
      'failed-write window',
      window.windowMs <= window.boundMs && unaffectedOk,
      `${s(window.windowMs)} (bound ${s(window.boundMs)}; ${window.failed} failed${window.excused ? `, ${window.excused} more while stalled` : ''})` +
        (run.unaffected ? `; other shards ${window.unaffectedFailed} failed` : ''),
      `${s(window.windowMs)} > ${s(window.boundMs)}: ${window.afterRecovery} of ${window.failed} failed writes ended after recovery, the last ${s(window.lastAfterRecoveryMs)} after it` +
        (run.unaffected ? `; on shards that never failed: ${window.unaffectedFailed}, over ${s(window.unaffectedWindowMs)}` : ''),
    ),
    slowest: cell(
      'slowest call',
      slow.over <= run.limits.marginMs,
      `${slow.kind} ${Math.round(slow.ms)} ms (deadline ${slow.deadlineMs}${slow.stalledMs >= 1 ? `; ${Math.round(slow.stalledMs)} ms stalled` : ''})`,
    ),
    late: cell('late landing', landings.length === 0, landings.join(', ') || 'none', [...landings, ...late.examples.map((e) => `e.g. ${e}`)].join('; ')),
    incs: cell('incs', incs.lost + incs.doubled === 0, incs.lost + incs.doubled === 0 ? `${incs.applied} once` : `${incs.lost} lost, ${incs.doubled} doubled of ${incs.applied}`),
    l1: !l1
      ? '– no L1'
      : cell(
          'L1',
          l1.staleAfter === 0 && l1.refilledAfterMs !== undefined,
          l1.staleAfter
            ? `stale until +${Math.round(l1.staleUntilMs)} ms`
            : l1.refilledAfterMs === undefined
              ? 'not filled again'
              : `filled again +${Math.round(l1.refilledAfterMs)} ms`,
        ),
    close: cell('close()', closeMs <= run.limits.closeMs, `≤ ${Math.round(closeMs)} ms`),
  };
  return { cells, failures };
}

module.exports = { judge, lateLandings, increments, failedWriteWindow, coherence };
