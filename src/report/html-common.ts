// Pieces shared by the sections of report.html: row limits, badges, notes, tables, and picking
// the rows worth showing when there are too many.
import { escapeText, groupDigits } from "./format.ts";

/** Row limits: report.json keeps everything, the page shows what a person can read. */
export const HTML_LIMITS = {
  assertions: 500,
  steps: 500,
  probes: 200,
  hops: 100,
  sessionsDown: 100,
  timeline: 300,
  ipamProblems: 100,
  /** Rows of a sim-versus-real differences table (DIFF and STALE rows first). */
  differences: 500,
  /** Step markers on a time chart (more than 60 become short ticks; beyond this, errors and failures first). */
  markers: 500,
  /** Per-node small multiples over time, when the samples have per-node figures. */
  nodeTimeCharts: 12,
  /** Above this many nodes the per-node bars become histograms. */
  barNodes: 100,
  /** Time-series buckets (about four points each). */
  seriesBuckets: 400,
  /** Text longer than this in a table cell is cut (details keep more). */
  cell: 2000,
} as const;

export const t = escapeText;

export function badge(passed: boolean): string {
  return passed ? `<span class="badge pass">PASS</span>` : `<span class="badge fail">FAIL</span>`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${groupDigits(n)} ${n === 1 ? one : many}`;
}

/** Picks at most `limit` items, the important ones first, and returns them in their original order. */
export function pick<T>(items: T[], limit: number, important: (x: T) => boolean): { shown: T[]; note: string } {
  if (items.length <= limit) return { shown: items, note: "" };
  const keep = new Set<number>();
  items.forEach((x, i) => keep.size < limit && important(x) && keep.add(i));
  for (let i = 0; i < items.length && keep.size < limit; i++) keep.add(i);
  const shown = items.filter((_, i) => keep.has(i));
  return { shown, note: `Showing ${groupDigits(shown.length)} of ${groupDigits(items.length)}; report.json has them all.` };
}

export function note(text: string): string {
  return text ? `<p class="note">${t(text)}</p>` : "";
}

export function table(caption: string, head: string[], rows: string[], numeric: number[] = []): string {
  const th = head.map((h, i) => `<th scope="col"${numeric.includes(i) ? ` class="num"` : ""}>${t(h)}</th>`).join("");
  return `<div class="tablewrap"><table><caption class="note">${t(caption)}</caption><thead><tr>${th}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}
