import type { CacheKind } from '../index';
import type { StatsSample } from './stats-history';

export interface ChartPoint {
  x: number;
  y: number;
  /** The hit ratio over the window ending there, 0..1. */
  ratio: number;
  /** Reads in that window. */
  reads: number;
}

export interface ChartSeries {
  kind: CacheKind;
  /** SVG path data; a new segment starts after each window without reads. */
  path: string;
  points: ChartPoint[];
}

export interface HitRatioChart {
  width: number;
  height: number;
  /** The plotting area inside the margins. */
  plot: { left: number; top: number; right: number; bottom: number };
  series: ChartSeries[];
  /** Horizontal grid lines at 0, 25, 50, 75 and 100 %. */
  gridLines: { y: number; label: string }[];
  /** How much time the chart spans, in seconds. */
  spanSeconds: number;
}

export interface HitRatioChartOptions {
  /** How many sampling intervals each point's ratio covers. Default 6. */
  windowSamples?: number;
  width?: number;
  height?: number;
}

const KINDS: readonly CacheKind[] = ['fragment', 'response', 'memoized', 'value'];
const MARGIN = { left: 44, right: 12, top: 12, bottom: 24 };

/**
 * The geometry of the hit-ratio chart: for each kind and sample, the share of reads that were hits
 * (or stale serves) over the last few intervals, not since the start, so that a change shows
 * within a window while a single unlucky interval does not make the line jump. Windows without
 * reads have no point; kinds without any reads have no line.
 */
export function hitRatioChart(samples: readonly StatsSample[], { windowSamples = 6, width = 960, height = 240 }: HitRatioChartOptions = {}): HitRatioChart {
  const plot = { left: MARGIN.left, top: MARGIN.top, right: width - MARGIN.right, bottom: height - MARGIN.bottom };
  const yOf = (ratio: number) => round(plot.bottom - ratio * (plot.bottom - plot.top));
  const first = samples[0]?.at ?? 0;
  const span = Math.max((samples[samples.length - 1]?.at ?? 0) - first, 1);
  const xOf = (at: number) => round(plot.left + ((at - first) / span) * (plot.right - plot.left));

  const series = KINDS.flatMap((kind): ChartSeries[] => {
    const points: (ChartPoint | undefined)[] = [];
    for (let i = 1; i < samples.length; i++) {
      const counted = readsBetween(windowStart(samples, i, windowSamples), samples[i], kind);
      points.push(counted.reads === 0 ? undefined : { x: xOf(samples[i].at), y: yOf(counted.ratio), ...counted });
    }
    const drawn = points.filter((point) => point !== undefined);
    if (drawn.length === 0) return [];
    const path = points
      .map((point, i) => point && `${points[i - 1] ? 'L' : 'M'}${point.x} ${point.y}`)
      .filter(Boolean)
      .join(' ');
    return [{ kind, path, points: drawn }];
  });

  return {
    width,
    height,
    plot,
    series,
    gridLines: [0, 0.25, 0.5, 0.75, 1].map((ratio) => ({ y: yOf(ratio), label: `${ratio * 100}%` })),
    spanSeconds: Math.round((samples.length < 2 ? 0 : span) / 1000),
  };
}

/** The sample the window ending at sample `i` starts from; undefined when the counters were reset just before `i`. */
function windowStart(samples: readonly StatsSample[], i: number, windowSamples: number): StatsSample | undefined {
  let start = i - 1;
  while (start > 0 && start > i - windowSamples && samples[start - 1].since === samples[i].since) start--;
  return samples[start].since === samples[i].since ? samples[start] : undefined;
}

/** Reads of `kind` since `before` (or since the counters were reset) and the share that were hits. */
function readsBetween(before: StatsSample | undefined, after: StatsSample, kind: CacheKind): { reads: number; ratio: number } {
  const base = before?.byKind[kind] ?? { hits: 0, misses: 0, stale: 0 };
  const now = after.byKind[kind];
  const served = now.hits - base.hits + (now.stale - base.stale);
  const reads = served + (now.misses - base.misses);
  return { reads, ratio: reads === 0 ? 0 : served / reads };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
