// The chaos suite's judge (scripts/chaos/checks.js) on made-up histories: each invariant must
// catch what it is there to catch, and pass what is allowed (a failed read answers as a miss, a
// failed inc may have been applied). The suite itself runs with `npm run chaos`.
import { coherence, failedWriteWindow, increments, judge, lateLandings, type CallRecord, type Run } from '../scripts/chaos/checks';

let clock = 0;
const call = (kind: CallRecord['kind'], key: string, fields: Partial<CallRecord> = {}): CallRecord => ({ kind, key, at: (clock += 10), ms: 1, phase: 'load', ...fields });
const set = (key: string, v: string, ok = true) => call('set', key, { v, ok });
const get = (key: string, r: string | null) => call('get', key, { r });
const del = (key: string, ok = true) => call('del', key, { ok });
const inc = (key: string, r: number | null) => call('inc', key, { r });

describe('lateLandings', () => {
  it('passes the last acknowledged value, and misses', () => {
    expect(lateLandings([set('k', 'a'), get('k', 'a'), get('k', null), del('k'), get('k', null), set('k', 'b'), get('k', 'b')])).toMatchObject({
      failedRead: 0,
      late: 0,
      resurrected: 0,
      unexplained: 0,
    });
  });

  it('finds a failed set read back, and one read after a later change', () => {
    expect(lateLandings([set('k', 'a'), set('k', 'b', false), get('k', 'b')])).toMatchObject({ failedRead: 1, late: 0 });
    expect(lateLandings([set('k', 'b', false), set('k', 'c'), get('k', 'b')])).toMatchObject({ failedRead: 0, late: 1 });
    expect(lateLandings([set('k', 'b', false), del('k', false), get('k', 'b')])).toMatchObject({ late: 1 });
  });

  it('finds a value back after a later delete or set, and values never written', () => {
    expect(lateLandings([set('k', 'a'), del('k'), get('k', 'a')])).toMatchObject({ resurrected: 1 });
    expect(lateLandings([set('k', 'a'), set('k', 'b'), get('k', 'a')])).toMatchObject({ resurrected: 1 });
    expect(lateLandings([set('k', 'a'), get('k', 'z')])).toMatchObject({ unexplained: 1 });
    expect(lateLandings([set('k', 'a'), get('other', 'a')])).toMatchObject({ unexplained: 1 });
  });
});

describe('increments', () => {
  it('counts each acknowledged inc once; a failed one may have been applied', () => {
    expect(increments([inc('c', 1), inc('c', 2), inc('c', null), inc('c', 4), inc('c', null), inc('c', 5)])).toEqual({
      applied: 4,
      lost: 0,
      doubled: 0,
      failedApplied: 1,
    });
  });

  it('finds an inc lost or applied twice', () => {
    expect(increments([inc('c', 1), inc('c', 2), inc('c', 2)])).toMatchObject({ lost: 1, doubled: 0 });
    expect(increments([inc('c', 1), inc('c', 3)])).toMatchObject({ lost: 0, doubled: 1 });
  });

  it('judges a counter read back like an inc that adds nothing, failed incs landing later included', () => {
    const readBack = (r: number) => call('counter', 'c', { r, phase: 'after' });
    expect(increments([inc('c', 1), readBack(1)])).toMatchObject({ lost: 0, doubled: 0, failedApplied: 0 });
    expect(increments([inc('c', 1), inc('c', null), readBack(2), inc('c', 3), readBack(3)])).toMatchObject({ doubled: 0, failedApplied: 1 });
    expect(increments([inc('c', 1), readBack(2)])).toMatchObject({ doubled: 1 });
    expect(increments([inc('c', 2), readBack(1)])).toMatchObject({ lost: 1 });
  });
});

describe('failedWriteWindow', () => {
  const limits = { operationTimeoutMs: 50, lockWaitMs: 1000, computeMs: 5, marginMs: 100, closeMs: 2500 };

  it('runs from the fault to the end of the last failed write, bounded by the recovery plus 0.5 s', () => {
    const records = [set('a', 'x', false), inc('c', null), set('b', 'y'), del('d', false)];
    const window = failedWriteWindow({ logs: [records], stalls: [[]], limits, faultAt: records[0].at - 5, recoveredAt: records[0].at + 100 });
    expect(window).toMatchObject({ failed: 2, windowMs: 16, boundMs: 605 });
  });

  it('gives keys whose shard never failed a window of their own', () => {
    const records = [set('lost', 'x', false), set('spared', 'y', false)];
    const window = failedWriteWindow({ logs: [records], stalls: [[]], limits, faultAt: 0, recoveredAt: 2000, unaffected: (key) => key === 'spared' });
    expect(window).toMatchObject({ failed: 2, unaffectedFailed: 1, unaffectedWindowMs: records[1].at + 1 });
  });

  it('excuses a write that timed out only because its process was stalled, not one that failed at once', () => {
    const timedOut = set('a', 'x', false);
    timedOut.ms = 120;
    const stalls = [[{ at: timedOut.at + 10, ms: 100 }]];
    const window = failedWriteWindow({ logs: [[timedOut, set('b', 'y', false)]], stalls, limits, faultAt: 0, recoveredAt: 0 });
    expect(window).toMatchObject({ failed: 1, excused: 1 });
  });
});

describe('coherence', () => {
  it('fails a change acknowledged after recovery and served stale, not one before', () => {
    expect(coherence({ stale: [{ ackAt: 90, seenAt: 190 }], fills: [300] }, 100)).toEqual({ staleBefore: 1, staleAfter: 0, staleUntilMs: 0, refilledAfterMs: 200 });
    expect(coherence({ stale: [{ ackAt: 150, seenAt: 250 }], fills: [] }, 100)).toMatchObject({ staleAfter: 1, staleUntilMs: 150, refilledAfterMs: undefined });
  });
});

describe('judge', () => {
  const limits = { operationTimeoutMs: 50, lockWaitMs: 1000, computeMs: 5, marginMs: 100, closeMs: 2500 };
  const run = (changes: Partial<Run> = {}): Run => ({
    logs: [[set('k', 'a'), get('k', 'a'), inc('c', 1), call('page', '/page/1', { ok: true }), call('memo', 'm1', { ok: true })]],
    stalls: [[]],
    probe: { stale: [], fills: [2000] },
    faultAt: 1000,
    recoveredAt: 1500,
    readBacks: [true, true],
    closes: [{ final: 20, spareDuringFault: 300 }],
    limits,
    ...changes,
  });

  it('passes a clean run, one cell per column', () => {
    const { cells, failures } = judge(run());
    expect(failures).toEqual([]);
    expect(Object.keys(cells)).toEqual(['recovery', 'calls', 'errors', 'window', 'slowest', 'late', 'incs', 'l1', 'close']);
    expect(cells.recovery).toBe('0.50 s');
  });

  it('fails each invariant with the numbers', () => {
    const { failures } = judge(
      run({
        logs: [[call('get', 'k', { thrown: 'boom' }), call('page', '/page/1', { ok: false, status: 500 }), call('set', 'k', { v: 'a', ok: true, ms: 400 })]],
        probe: { stale: [{ ackAt: 1600, seenAt: 1700 }], fills: [] },
        readBacks: [true, false],
        closes: [{ final: 3000 }],
      }),
    );
    expect(failures.map((f) => f.split(':')[0])).toEqual(['callers', 'slowest call', 'late landing', 'L1', 'close()']);
  });

  it('excuses what of a slow call its process was stalled for (a busy machine)', () => {
    const slow = call('set', 'k', { v: 'a', ok: true, ms: 400 });
    const stalled = judge(run({ logs: [[slow]], stalls: [[{ at: slow.at - 100, ms: 350 }]] }));
    expect(stalled.failures).toEqual([]);
    expect(stalled.cells.slowest).toBe('✓ set 400 ms (deadline 50; 250 ms stalled)');
  });
});
