// Small inline-SVG chart functions for report.html: a time chart (step lines with vertical markers),
// horizontal bars and columns (histograms, counts per time interval). Colours come from CSS classes
// in the page, so the charts follow light and dark mode; every chart has a <title> and <desc> for
// screen readers. All text is escaped: names come from user-written scenarios.
import { escapeAttr, escapeText, groupDigits } from "./format.ts";

export interface Series {
  label: string;
  /** CSS class suffix: the line is drawn with class "ln ln-<cls>". */
  cls: string;
  /** [t, value] in time order; drawn as a step line (the value holds until the next point). */
  points: [number, number][];
}

export interface Marker {
  t: number;
  /** Short text drawn at the top (a step number); empty for none. */
  label: string;
  /** Tooltip. */
  title: string;
  /** "fail" | "restore" | "wait" | "error" | "step" | "assert" */
  cls: string;
}

/** A shaded time span under the lines, e.g. a wait step: "wait" (converged) or "nowait" (timed out). */
export interface Band {
  t0: number;
  t1: number;
  title: string;
  cls: string;
}

export interface Bar {
  label: string;
  value: number;
}

export interface Column {
  x0: number;
  x1: number;
  value: number;
  title: string;
  /** Axis label of a categorical column (histogram bin): "3" or "10–19". */
  label?: string;
}

interface Frame {
  id: string;
  title: string;
  desc: string;
}

const n1 = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Largest value (at least `floor`), without spreading a big array onto the stack. */
export function maxOf(values: Iterable<number>, floor = 0): number {
  let max = floor;
  for (const v of values) if (v > max) max = v;
  return max;
}

/** Round numbers for an axis from 0 to at least max: 0, 2, 4 ... or 0, 500, 1000 ... */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  // Up to the first tick at or above max, so no value is drawn above the axis.
  const ticks: number[] = [0];
  for (let k = 1; ticks[ticks.length - 1]! < max; k++) ticks.push(Math.round(k * step * 1e6) / 1e6);
  return ticks;
}

/** An axis for times in ms: ticks and how to print them ("ms" below 10 s, seconds above). */
export function timeAxis(maxMs: number): { ticks: number[]; unit: string; fmt: (ms: number) => string } {
  if (maxMs < 10_000) return { ticks: niceTicks(Math.max(maxMs, 1)), unit: "ms", fmt: (ms) => groupDigits(ms, 1) };
  return { ticks: niceTicks(maxMs / 1000).map((s) => s * 1000), unit: "s", fmt: (ms) => groupDigits(ms / 1000, 2) };
}

function open(f: Frame, w: number, h: number): string {
  return (
    `<svg class="chart" role="img" aria-labelledby="${escapeAttr(f.id)}-t ${escapeAttr(f.id)}-d" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" preserveAspectRatio="xMinYMin meet">` +
    `<title id="${escapeAttr(f.id)}-t">${escapeText(f.title)}</title><desc id="${escapeAttr(f.id)}-d">${escapeText(f.desc)}</desc>`
  );
}

function legend(items: { label: string; cls: string; shape: "line" | "box" }[], x: number, y: number): string {
  let out = "";
  let cx = x;
  for (const it of items) {
    out +=
      it.shape === "line"
        ? `<line class="ln ln-${escapeAttr(it.cls)}" x1="${cx}" y1="${y - 4}" x2="${cx + 18}" y2="${y - 4}"/>`
        : `<rect class="bx bx-${escapeAttr(it.cls)}" x="${cx}" y="${y - 9}" width="10" height="10"/>`;
    out += `<text class="lg" x="${cx + 22}" y="${y}">${escapeText(it.label)}</text>`;
    cx += 30 + it.label.length * 6.5;
  }
  return out;
}

function yAxis(ticks: number[], y: (v: number) => number, left: number, right: number): string {
  return ticks
    .map((v) => `<line class="grid" x1="${left}" x2="${right}" y1="${n1(y(v))}" y2="${n1(y(v))}"/><text class="tick" x="${left - 6}" y="${n1(y(v) + 4)}" text-anchor="end">${escapeText(groupDigits(v, 2))}</text>`)
    .join("");
}

function xAxisTime(maxMs: number, x: (t: number) => number, bottom: number, w: number): string {
  const ax = timeAxis(maxMs);
  const ticks = ax.ticks.filter((t) => t <= maxMs * 1.0001);
  return (
    ticks.map((t) => `<line class="axis" x1="${n1(x(t))}" x2="${n1(x(t))}" y1="${bottom}" y2="${bottom + 4}"/><text class="tick" x="${n1(x(t))}" y="${bottom + 16}" text-anchor="middle">${escapeText(ax.fmt(t))}</text>`).join("") +
    `<text class="axlabel" x="${w / 2}" y="${bottom + 30}" text-anchor="middle">scenario time (${ax.unit})</text>`
  );
}

/** A step-line chart over scenario time with vertical markers for steps and failures. */
export function timeChart(
  f: Frame & {
    xMax: number;
    series: Series[];
    markers: Marker[];
    bands?: Band[];
    yLabel: string;
    width?: number;
    height?: number;
    /** A shared y scale for small multiples. */
    yMax?: number;
    /** Drawn top left instead of the legend (small multiples). */
    heading?: string;
  },
): string {
  const w = f.width ?? 760;
  const h = f.height ?? 240;
  const m = { l: 60, r: 16, t: 34, b: 40 };
  const xMax = f.xMax > 0 ? f.xMax : 1;
  const yMaxData = f.yMax ?? maxOf(f.series.flatMap((s) => s.points.map((p) => (Number.isFinite(p[1]) ? p[1] : 0))));
  const ticks = niceTicks(Math.max(yMaxData, 1), f.heading !== undefined ? 2 : 4);
  const yMax = ticks[ticks.length - 1] ?? 1;
  const x = (t: number): number => m.l + (Math.min(Math.max(t, 0), xMax) / xMax) * (w - m.l - m.r);
  const y = (v: number): number => h - m.b - (v / yMax) * (h - m.t - m.b);
  let out = open(f, w, h);
  out += yAxis(ticks, y, m.l, w - m.r);
  out += `<line class="axis" x1="${m.l}" x2="${w - m.r}" y1="${h - m.b}" y2="${h - m.b}"/>`;
  out += xAxisTime(xMax, x, h - m.b, w);
  out += `<text class="axlabel" transform="translate(14 ${(h - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">${escapeText(f.yLabel)}</text>`;
  for (const b of f.bands ?? []) {
    const bx = x(b.t0);
    out += `<rect class="band band-${escapeAttr(b.cls)}" x="${n1(bx)}" y="${m.t}" width="${n1(Math.max(1, x(b.t1) - bx))}" height="${h - m.t - m.b}"><title>${escapeText(b.title)}</title></rect>`;
  }
  // Up to 60 markers are full-height lines; more become a rug of short ticks above the plot.
  const rug = f.markers.filter((mk) => mk.cls !== "assert").length > 60;
  const labelled = !rug && f.markers.filter((mk) => mk.label !== "").length <= 40;
  // Labels that would touch merge into one ("1,2", or "3–9" for more) instead of overprinting.
  const groups: { x: number; items: string[] }[] = [];
  const text = (items: string[]): string => (items.length <= 3 ? items.join(",") : `${items[0]}–${items[items.length - 1]}`);
  const anchor = (lx: number): "start" | "middle" | "end" => (lx > w - m.r - 24 ? "end" : lx < m.l + 12 ? "start" : "middle");
  // Horizontal extent of a label at lx (10px digits are about 6px wide), given its anchor.
  const extent = (lx: number, s: string): [number, number] => {
    const wd = s.length * 6;
    const a = anchor(lx);
    return a === "start" ? [lx, lx + wd] : a === "end" ? [lx - wd, lx] : [lx - wd / 2, lx + wd / 2];
  };
  if (labelled) {
    for (const mk of [...f.markers].filter((m2) => m2.label !== "" && m2.cls !== "assert").sort((a, b) => a.t - b.t)) {
      groups.push({ x: x(mk.t), items: [mk.label] });
      // Merge backwards while the last label touches the one before it (a merged label is wider).
      for (let k = groups.length - 1; k > 0; k--) {
        const a = groups[k - 1]!;
        const b = groups[k]!;
        if (extent(b.x, text(b.items))[0] >= extent(a.x, text(a.items))[1] + 4) break;
        a.items.push(...b.items);
        groups.pop();
      }
    }
  }
  const labels = groups.map((g) => ({ x: g.x, text: text(g.items) }));
  for (const mk of f.markers) {
    const mx = n1(x(mk.t));
    if (mk.cls === "assert") {
      out += `<g class="mk mk-assert"><title>${escapeText(mk.title)}</title><path d="M${mx} ${m.t + 8}l-5 -8h10z"/></g>`;
      continue;
    }
    const [y1, y2] = rug ? [m.t - 12, m.t - 2] : [m.t, h - m.b];
    out += `<g class="mk mk-${escapeAttr(mk.cls)}"><title>${escapeText(mk.title)}</title><line x1="${mx}" x2="${mx}" y1="${y1}" y2="${y2}"/></g>`;
  }
  for (const l of labels) out += `<text class="mklabel" x="${n1(l.x)}" y="${m.t - 3}" text-anchor="${anchor(l.x)}">${escapeText(l.text)}</text>`;
  for (const s of f.series) {
    if (!s.points.length) continue;
    let d = "";
    let last: number | undefined;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(t) || !Number.isFinite(v)) continue;
      const px = n1(x(t));
      const py = n1(y(v));
      d += last === undefined ? `M${px} ${py}` : `H${px}V${py}`;
      last = v;
    }
    d += `H${n1(x(xMax))}`;
    out += `<path class="ln ln-${escapeAttr(s.cls)}" d="${d}"><title>${escapeText(s.label)}</title></path>`;
  }
  out +=
    f.heading !== undefined
      ? `<text class="heading" x="${m.l}" y="14">${escapeText(f.heading)}</text>`
      : legend(f.series.map((s) => ({ label: s.label, cls: s.cls, shape: "line" as const })), m.l, 14);
  return out + "</svg>";
}

/** Horizontal bars, one row per label. */
export function barChart(f: Frame & { bars: Bar[]; cls: string; width?: number }): string {
  const w = f.width ?? 370;
  const row = 14;
  const m = { l: 110, r: 50, t: 8, b: 8 };
  const h = m.t + m.b + Math.max(1, f.bars.length) * row;
  const max = maxOf(f.bars.map((b) => b.value), 1);
  let out = open(f, w, h);
  f.bars.forEach((b, i) => {
    const y = m.t + i * row;
    const bw = (b.value / max) * (w - m.l - m.r);
    const label = b.label.length > 17 ? `${b.label.slice(0, 16)}…` : b.label;
    out +=
      `<g><title>${escapeText(`${b.label}: ${groupDigits(b.value)}`)}</title>` +
      `<text class="tick" x="${m.l - 6}" y="${y + 10}" text-anchor="end">${escapeText(label)}</text>` +
      `<rect class="bx bx-${escapeAttr(f.cls)}" x="${m.l}" y="${y + 2}" width="${n1(Math.max(bw, b.value > 0 ? 1 : 0))}" height="${row - 4}"/>` +
      `<text class="tick" x="${n1(m.l + bw + 4)}" y="${y + 10}">${escapeText(groupDigits(b.value))}</text></g>`;
  });
  return out + "</svg>";
}

/**
 * Vertical columns: over scenario time (`time`: columns at their x0..x1 in ms) or as categories
 * (histogram bins side by side, each labelled with its `label`).
 */
export function columnChart(
  f: Frame & { columns: Column[]; cls: string; xLabel: string; yLabel: string; time?: boolean; xMax?: number; width?: number; height?: number },
): string {
  const w = f.width ?? 760;
  const h = f.height ?? 220;
  const m = { l: 60, r: 16, t: 16, b: 40 };
  const n = f.columns.length;
  const span = f.time ? maxOf(f.columns.map((c) => c.x1), Math.max(f.xMax ?? 0, 1)) : Math.max(n, 1);
  const ticks = niceTicks(maxOf(f.columns.map((c) => c.value), 1), 4);
  const yMax = ticks[ticks.length - 1] ?? 1;
  const x = (v: number): number => m.l + (v / span) * (w - m.l - m.r);
  const y = (v: number): number => h - m.b - (v / yMax) * (h - m.t - m.b);
  let out = open(f, w, h);
  out += yAxis(ticks, y, m.l, w - m.r);
  out += `<line class="axis" x1="${m.l}" x2="${w - m.r}" y1="${h - m.b}" y2="${h - m.b}"/>`;
  const every = Math.max(1, Math.ceil(n / 15));
  f.columns.forEach((c, i) => {
    const [a, b] = f.time ? [c.x0, c.x1] : [i, i + 1];
    const cx = (x(a) + x(b)) / 2;
    if (c.value > 0) {
      const top = Math.min(y(c.value), y(0) - 1);
      out += `<rect class="bx bx-${escapeAttr(f.cls)}" x="${n1(x(a))}" y="${n1(top)}" width="${n1(Math.max(1, x(b) - x(a) - 1))}" height="${n1(y(0) - top)}"><title>${escapeText(c.title)}</title></rect>`;
    }
    if (!f.time && i % every === 0) {
      out += `<text class="tick" x="${n1(cx)}" y="${h - m.b + 14}" text-anchor="middle">${escapeText(c.label ?? String(i))}</text>`;
    }
  });
  if (f.time) out += xAxisTime(span, x, h - m.b, w);
  else out += `<text class="axlabel" x="${w / 2}" y="${h - m.b + 30}" text-anchor="middle">${escapeText(f.xLabel)}</text>`;
  out += `<text class="axlabel" transform="translate(14 ${(h - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">${escapeText(f.yLabel)}</text>`;
  return out + "</svg>";
}
