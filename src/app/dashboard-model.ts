import type { Cache } from '../index';
import type { CacheKind, Counts } from '../index';
import { hitRatioChart, type HitRatioChart } from './hit-ratio-chart';
import type { StatsHistory } from './stats-history';

export interface NamedCounts extends Counts {
  name: string;
  kind: CacheKind;
}

/** What the dashboard shows: everything read from the cache's own counters, no store is walked. */
export interface DashboardModel {
  byKind: { kind: CacheKind; counts: Counts }[];
  mostHits: NamedCounts[];
  mostMisses: NamedCounts[];
  /** What process memory holds, if the cache keeps anything there. */
  memory?: { entries: number; bytes: number };
  chart: HitRatioChart;
  /** How many seconds each point of the chart covers. */
  windowSeconds: number;
  countingSince: Date;
}

const TOP = 8;
/** Each point of the chart covers this many sampling intervals (30 s at the default 5 s). */
const CHART_WINDOW_SAMPLES = 6;

export function dashboardModel(cache: Cache, history: StatsHistory): DashboardModel {
  const stats = cache.stats();
  const named = Object.entries(stats.byName).map(([name, counts]) => ({ name, ...counts }));
  return {
    byKind: Object.entries(stats.byKind).map(([kind, counts]) => ({ kind: kind as CacheKind, counts })),
    mostHits: top(named, (item) => item.hits + item.stale),
    mostMisses: top(named, (item) => item.misses),
    memory: cache.memoryUsage(),
    chart: hitRatioChart(history.samples(), { windowSamples: CHART_WINDOW_SAMPLES }),
    windowSeconds: (CHART_WINDOW_SAMPLES * history.intervalMs) / 1000,
    countingSince: new Date(stats.since),
  };
}

/** The TOP items with the highest score, leaving out those that scored nothing. */
function top(items: NamedCounts[], score: (item: NamedCounts) => number): NamedCounts[] {
  return items
    .filter((item) => score(item) > 0)
    .sort((a, b) => score(b) - score(a) || a.name.localeCompare(b.name))
    .slice(0, TOP);
}
