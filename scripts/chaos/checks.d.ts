/** The chaos suite's invariants over recorded calls (see checks.js). */

/** One call a load process made (load.js): `at` in ms since the epoch, `phase` 'load', 'fence', or a read back's. */
export interface CallRecord {
  kind: 'set' | 'del' | 'get' | 'inc' | 'counter' | 'memo' | 'page' | 'spare';
  key: string;
  at: number;
  ms: number;
  phase: string;
  /** set: the value written. */
  v?: string;
  /** set, del, memo, page, spare: what it answered (memo, page: whether the answer was right). */
  ok?: boolean;
  /** get, inc, counter: the value answered (null: a miss, or a failed inc). */
  r?: string | number | null;
  /** page: the HTTP status. */
  status?: number;
  thrown?: string;
}

export interface Probe {
  stale: Array<{ ackAt: number; seenAt: number }>;
  fills: number[];
}

export interface Limits {
  operationTimeoutMs: number;
  lockWaitMs: number;
  computeMs: number;
  marginMs: number;
  closeMs: number;
}

export interface Run {
  /** One list per load process, in the order it recorded them. */
  logs: CallRecord[][];
  /** Per load process: when its event loop did not run (ms since the epoch, and for how long). */
  stalls: Array<Array<{ at: number; ms: number }>>;
  /** Undefined when the caches had no L1 (chaos --client). */
  probe?: Probe;
  faultAt: number;
  recoveredAt: number;
  unaffected?: (key: string) => boolean;
  readBacks: boolean[];
  closes: Array<Record<string, number>>;
  limits: Limits;
}

export function judge(run: Run): { cells: Record<string, string>; failures: string[] };

export function lateLandings(records: CallRecord[]): {
  failedRead: number;
  late: number;
  resurrected: number;
  unexplained: number;
  examples: string[];
};

export function increments(records: CallRecord[]): { applied: number; lost: number; doubled: number; failedApplied: number };

export function failedWriteWindow(run: Pick<Run, 'logs' | 'stalls' | 'limits' | 'faultAt' | 'recoveredAt' | 'unaffected'>): {
  failed: number;
  /** Writes that ran out of time only because their process was stalled: not counted. */
  excused: number;
  afterRecovery: number;
  lastAfterRecoveryMs: number;
  windowMs: number;
  boundMs: number;
  unaffectedFailed: number;
  unaffectedWindowMs: number;
};

export function coherence(
  probe: Probe,
  recoveredAt: number,
): { staleBefore: number; staleAfter: number; staleUntilMs: number; refilledAfterMs: number | undefined };
