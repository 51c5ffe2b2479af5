// The sim-versus-real comparisons of a `--mode both` run (RunReport.comparisons, made by
// src/scenario/compare.ts) as rows the HTML page and the JUnit file both show: every difference,
// DIFF (unexplained, fails the run) or KNOWN (a knownDifferences entry covers it), then every
// listed entry that matched nothing, STALE.
import type { Comparison } from "../scenario/compare.ts";
import { groupDigits } from "./format.ts";

export type DifferenceStatus = "DIFF" | "KNOWN" | "STALE";

export interface ComparisonRow {
  status: DifferenceStatus;
  /** The observation path; for STALE the listed pattern. */
  observation: string;
  /** Absent for STALE (nothing was observed to differ). */
  sim?: string;
  real?: string;
  /** KNOWN and STALE: the entry's reason, the pattern as listed and its file:line. */
  reason?: string;
  pattern?: string;
  source?: string;
}

export function comparisonRows(c: Comparison): ComparisonRow[] {
  const rows: ComparisonRow[] = c.differences.map((d) =>
    d.known === undefined
      ? { status: "DIFF", observation: d.observation, sim: d.sim, real: d.real }
      : {
          status: "KNOWN",
          observation: d.observation,
          sim: d.sim,
          real: d.real,
          reason: d.known.reason,
          pattern: d.known.pattern,
          ...(d.known.source !== undefined ? { source: d.known.source } : {}),
        },
  );
  for (const k of c.stale) rows.push({ status: "STALE", observation: k.observation, reason: k.reason, pattern: k.observation, ...(k.source !== undefined ? { source: k.source } : {}) });
  return rows;
}

export function comparisonCounts(c: Comparison): Record<DifferenceStatus, number> {
  const known = c.differences.filter((d) => d.known !== undefined).length;
  return { DIFF: c.differences.length - known, KNOWN: known, STALE: c.stale.length };
}

/** "1 unexplained difference, 2 known, 1 stale known difference" / "no difference" / "not compared: real skipped". */
export function comparisonSummary(c: Comparison): string {
  if (c.notCompared !== undefined) return `not compared: ${c.notCompared}`;
  const n = comparisonCounts(c);
  const parts: string[] = [];
  if (n.DIFF) parts.push(`${groupDigits(n.DIFF)} unexplained difference${n.DIFF === 1 ? "" : "s"}`);
  if (n.KNOWN) parts.push(`${groupDigits(n.KNOWN)} known difference${n.KNOWN === 1 ? "" : "s"}`);
  if (n.STALE) parts.push(`${groupDigits(n.STALE)} stale known difference${n.STALE === 1 ? "" : "s"}`);
  if (!c.differences.length) parts.unshift("no difference");
  return parts.join(", ");
}
