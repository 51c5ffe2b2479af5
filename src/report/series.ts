// Turns a scenario's raw observations into chart-sized data: per-node counts, histograms,
// downsampled time series and BGP messages per interval. The HTML must stay small for 10,000
// nodes and long runs, so everything here is bounded.
import type { Sample, ScenarioResult } from "../scenario/result.ts";
import { compareStrings, groupDigits, formatMs } from "./format.ts";
import type { Column } from "./svg.ts";

export interface NodeCounts {
  node: string;
  /** Established sessions seen from this node. */
  sessions: number;
  routes: number;
}

/** Established sessions and routes per node at the end of the run, sorted by node name. */
export function perNodeCounts(s: ScenarioResult): NodeCounts[] {
  const byNode = new Map<string, NodeCounts>();
  const get = (node: string): NodeCounts => {
    let c = byNode.get(node);
    if (!c) byNode.set(node, (c = { node, sessions: 0, routes: 0 }));
    return c;
  };
  for (const x of s.final.sessions) {
    const c = get(x.node);
    if (x.state === "Established") c.sessions++;
  }
  for (const r of s.final.routes) get(r.node).routes++;
  return [...byNode.values()].sort((a, b) => compareStrings(a.node, b.node));
}

/**
 * Integer-valued histogram: one bin per value when the range is small, else at most `maxBins`
 * bins of equal integer width. Columns span [lo, hi + 1).
 */
export function histogram(values: number[], what: string, maxBins = 30): Column[] {
  if (!values.length) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const width = Math.max(1, Math.ceil((hi - lo + 1) / maxBins));
  const bins = Math.floor((hi - lo) / width) + 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.floor((v - lo) / width)]!++;
  return counts.map((count, i) => {
    const x0 = lo + i * width;
    const x1 = x0 + width;
    const range = width === 1 ? `${groupDigits(x0)}` : `${groupDigits(x0)}–${groupDigits(x1 - 1)}`;
    return { x0, x1, value: count, label: range, title: `${groupDigits(count)} node${count === 1 ? "" : "s"} with ${range} ${what}` };
  });
}

/**
 * Keeps the shape of a long series with at most ~4 points per bucket (first, min, max, last: the
 * M4 method), so spikes survive downsampling. Points must be in time order.
 */
export function downsample(points: [number, number][], buckets: number, xMax: number): [number, number][] {
  if (points.length <= buckets * 4 || xMax <= 0) return points;
  const out: [number, number][] = [];
  let i = 0;
  for (let b = 0; b < buckets && i < points.length; b++) {
    const end = b === buckets - 1 ? Infinity : ((b + 1) / buckets) * xMax;
    const start = i;
    let min = i;
    let max = i;
    while (i < points.length && points[i]![0] < end) {
      if (points[i]![1] < points[min]![1]) min = i;
      if (points[i]![1] > points[max]![1]) max = i;
      i++;
    }
    if (i === start) continue;
    for (const k of [...new Set([start, min, max, i - 1])].sort((a, b) => a - b)) out.push(points[k]!);
  }
  return out;
}

/** A "nice" number at least v: 1, 2, 5 × 10^k. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].map((m) => m * mag).find((x) => x >= v - 1e-9) ?? 10 * mag);
}

/**
 * BGP messages per interval from the samples. Sample.bgpMessages is the running total since the
 * start (like Counters.bgpMessages.total); a drop (a counter that restarted) counts as 0. Intervals
 * have a round width of at least the sampling period, with at most ~100 of them.
 */
export function messageColumns(samples: Sample[], duration: number): { columns: Column[]; width: number } {
  if (samples.length < 1) return { columns: [], width: 0 };
  const end = Math.max(duration, samples[samples.length - 1]!.t, 1);
  const gaps: number[] = [];
  for (let i = 1; i < samples.length; i++) gaps.push(samples[i]!.t - samples[i - 1]!.t);
  gaps.sort((a, b) => a - b);
  const period = gaps.length ? gaps[Math.floor(gaps.length / 2)]! : 0;
  const width = niceCeil(Math.max(end / 100, period));
  const counts = new Array<number>(Math.ceil(end / width) || 1).fill(0);
  let prev = 0;
  for (const s of samples) {
    const delta = Math.max(0, s.bgpMessages - prev);
    prev = s.bgpMessages;
    // A sample at t counts the messages of (t_prev, t]: put them in the interval that holds t.
    const k = Math.min(counts.length - 1, Math.max(0, Math.ceil(s.t / width) - 1));
    counts[k]! += delta;
  }
  const columns = counts.map((value, k) => ({
    x0: k * width,
    x1: (k + 1) * width,
    value,
    title: `${groupDigits(value)} BGP messages from ${formatMs(k * width)} to ${formatMs((k + 1) * width)}`,
  }));
  return { columns, width };
}
