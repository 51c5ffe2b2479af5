// The "Sim versus real" part of report.html: when a scenario ran in both modes (`birdcage run
// --mode both`), the run's comparison (RunReport.comparisons: each difference DIFF, KNOWN with its
// reason and file:line, or a STALE known-difference entry) and, folded below it, its assertions,
// probes and final figures side by side. A report without `comparisons` (written before they
// existed) gets the side-by-side table alone.
import type { Comparison } from "../scenario/compare.ts";
import type { RunReport, ScenarioResult } from "../scenario/result.ts";
import { groupDigits, truncate } from "./format.ts";
import { HTML_LIMITS, badge, note, pick, t, table } from "./html-common.ts";
import { comparisonCounts, comparisonRows, comparisonSummary, type ComparisonRow, type DifferenceStatus } from "./sim-vs-real.ts";

interface Row {
  what: string;
  sim: string;
  real: string;
}

/** Pairs of (sim, real) results of the same scenario file and name, in the order of the sim runs. */
export function modePairs(scenarios: ScenarioResult[]): { sim: ScenarioResult; real: ScenarioResult; simIndex: number; realIndex: number }[] {
  const key = (s: ScenarioResult): string => `${s.scenario.file}\u0000${s.scenario.name}`;
  const reals = new Map<string, number>();
  scenarios.forEach((s, i) => s.mode === "real" && !reals.has(key(s)) && reals.set(key(s), i));
  const out: { sim: ScenarioResult; real: ScenarioResult; simIndex: number; realIndex: number }[] = [];
  scenarios.forEach((s, i) => {
    const r = reals.get(key(s));
    if (s.mode === "sim" && r !== undefined) {
      out.push({ sim: s, real: scenarios[r]!, simIndex: i, realIndex: r });
      reals.delete(key(s));
    }
  });
  return out;
}

/** Keys that tell repeated names apart: "name", "name #2", ... in order of appearance. */
function keyed<T>(items: T[], name: (x: T) => string): Map<string, T> {
  const seen = new Map<string, number>();
  const out = new Map<string, T>();
  for (const x of items) {
    const n = (seen.get(name(x)) ?? 0) + 1;
    seen.set(name(x), n);
    out.set(n === 1 ? name(x) : `${name(x)} #${n}`, x);
  }
  return out;
}

function rows(sim: ScenarioResult, real: ScenarioResult): Row[] {
  const out: Row[] = [];
  const verdict = (a?: { passed: boolean; actual: string }): string => (a ? `${a.passed ? "PASS" : "FAIL"}: ${truncate(a.actual, 300)}` : "—");
  const sa = keyed(sim.assertions, (a) => a.name);
  const ra = keyed(real.assertions, (a) => a.name);
  for (const k of new Set([...sa.keys(), ...ra.keys()])) out.push({ what: `assertion: ${k}`, sim: verdict(sa.get(k)), real: verdict(ra.get(k)) });
  const outcome = (p?: { outcome: string; dropKind?: string }): string => (p ? `${p.outcome}${p.dropKind ? ` (${p.dropKind})` : ""}` : "—");
  const sp = keyed(sim.probes, (p) => p.name);
  const rp = keyed(real.probes, (p) => p.name);
  for (const k of new Set([...sp.keys(), ...rp.keys()])) out.push({ what: `probe: ${k}`, sim: outcome(sp.get(k)), real: outcome(rp.get(k)) });
  const established = (s: ScenarioResult): string => `${groupDigits(s.final.sessions.filter((x) => x.state === "Established").length)} of ${groupDigits(s.final.sessions.length)}`;
  out.push({ what: "BGP sessions established at the end", sim: established(sim), real: established(real) });
  out.push({ what: "routes at the end", sim: groupDigits(sim.final.routes.length), real: groupDigits(real.final.routes.length) });
  out.push({ what: "IPAM addresses in use", sim: groupDigits(sim.final.ipam.inUse), real: groupDigits(real.final.ipam.inUse) });
  out.push({ what: "IPAM problems", sim: groupDigits(sim.final.ipam.problems.length), real: groupDigits(real.final.ipam.problems.length) });
  return out;
}

/** The side-by-side table of one pair, disagreements first; and how many rows disagree. */
function sideBySide(sim: ScenarioResult, real: ScenarioResult): { html: string; disagreeing: number } {
  const all = rows(sim, real);
  // Verdicts compare on PASS/FAIL only: the words in `actual` may differ between worlds (timings).
  const differs = (r: Row): boolean => (r.what.startsWith("assertion: ") ? r.sim.slice(0, 4) !== r.real.slice(0, 4) : r.sim !== r.real);
  const ordered = [...all.filter(differs), ...all.filter((r) => !differs(r))];
  const { shown, note: cut } = pick(ordered, HTML_LIMITS.assertions, differs);
  const body = shown.map((r) => `<tr class="${differs(r) ? "failed" : ""}"><td>${t(truncate(r.what, HTML_LIMITS.cell))}</td><td>${t(r.sim)}</td><td>${t(r.real)}</td></tr>`);
  return { html: table(`${sim.scenario.file}: simulator against real mode`, ["what", "simulator", "real"], body) + note(cut), disagreeing: all.filter(differs).length };
}

const STATUS_BADGE: Record<DifferenceStatus, string> = { DIFF: "fail", KNOWN: "neutral", STALE: "warn" };
const statusBadge = (s: DifferenceStatus, n?: number): string => `<span class="badge ${STATUS_BADGE[s]}">${s}${n === undefined ? "" : ` ${t(groupDigits(n))}`}</span>`;

function differenceRow(r: ComparisonRow): string {
  const cell = (s: string | undefined): string => (s === undefined ? `<span class="muted">—</span>` : t(truncate(s, HTML_LIMITS.cell)));
  let why = "";
  if (r.status === "KNOWN") why = `${cell(r.reason)}${r.pattern !== r.observation ? ` <span class="muted">(listed as ${t(truncate(r.pattern ?? "", 300))})</span>` : ""}`;
  if (r.status === "STALE") why = `${cell(r.reason)} <span class="muted">— matched no difference of this run; remove the entry once the worlds agree</span>`;
  return (
    `<tr class="${r.status === "DIFF" ? "failed" : r.status === "STALE" ? "stale" : "known"}"><td>${statusBadge(r.status)}</td>` +
    `<td class="mono">${t(truncate(r.observation, HTML_LIMITS.cell))}</td><td>${cell(r.sim)}</td><td>${cell(r.real)}</td>` +
    `<td>${why}</td><td class="mono">${r.source !== undefined ? t(r.source) : ""}</td></tr>`
  );
}

/** The comparison's counts and its table of differences (DIFF first when cut). */
function differencesPart(c: Comparison): string {
  const n = comparisonCounts(c);
  let out = `<p class="counts">${statusBadge("DIFF", n.DIFF)} ${statusBadge("KNOWN", n.KNOWN)} ${statusBadge("STALE", n.STALE)}</p>`;
  if (c.notCompared !== undefined) return out + note(`Not compared: ${c.notCompared}.`);
  const all = comparisonRows(c);
  if (!all.length) return out + note("No difference: the same verdicts, probe outcomes, final sessions and routes in both worlds.");
  const { shown, note: cut } = pick(all, HTML_LIMITS.differences, (r) => r.status !== "KNOWN");
  out += table(`${c.file}: differences between the simulator and real mode`, ["status", "observation", "simulator", "real", "reason", "listed at"], shown.map(differenceRow));
  return out + note(cut ? `${cut} Every DIFF and STALE row is included.` : "");
}

type Pair = ReturnType<typeof modePairs>[number];

function heading(name: string, pair: Pair | undefined, verdict: string, c?: Comparison): string {
  const links = pair ? `<a href="#s${pair.simIndex + 1}">${t(name)}</a> (<a href="#s${pair.realIndex + 1}">real</a>)` : t(name);
  return `<h3>${c ? `${badge(c.passed)} ` : ""}${links}: ${t(verdict)}</h3>`;
}

/** "Sim versus real": one part per scenario that ran in both modes; "" for a single-mode run. */
export function comparisonSection(report: RunReport): string {
  const pairs = modePairs(report.scenarios);
  const comparisons = report.comparisons ?? [];
  if (!pairs.length && !comparisons.length) return "";
  const key = (file: string, name: string): string => `${file}\u0000${name}`;
  const byKey = new Map(comparisons.map((c) => [key(c.file, c.scenario), c]));
  let out = `<section class="scenario${comparisons.every((c) => c.passed) ? "" : " failed"}" id="compare" aria-labelledby="compare-h"><h2 id="compare-h">Sim versus real</h2>`;
  if (!comparisons.length) out += note("Assertions and probes are matched by name (a repeated name by its order); the timing of the two worlds differs, so only outcomes and final figures are compared.");
  else {
    out += note(
      "DIFF: the two worlds differ and the scenario's knownDifferences do not explain it (fails the run). KNOWN: listed in knownDifferences, with its reason. STALE: a listed entry that matched nothing this time.",
    );
  }
  const done = new Set<Comparison>();
  for (const pair of pairs) {
    const c = byKey.get(key(pair.sim.scenario.file, pair.sim.scenario.name));
    const side = sideBySide(pair.sim, pair.real);
    if (c === undefined || done.has(c)) {
      // No comparison recorded: the side-by-side table is all there is.
      out += heading(pair.sim.scenario.name, pair, side.disagreeing === 0 ? "the two modes agree" : `${groupDigits(side.disagreeing)} difference${side.disagreeing === 1 ? "" : "s"}`) + side.html;
      continue;
    }
    done.add(c);
    out +=
      heading(c.scenario, pair, comparisonSummary(c), c) +
      differencesPart(c) +
      `<details><summary>all assertions, probes and final figures side by side</summary>${note("Matched by name (a repeated name by its order); timings differ between the worlds, so only outcomes and final figures are compared.")}${side.html}</details>`;
  }
  // A comparison whose runs are not in the report (they are kept in order otherwise).
  for (const c of comparisons) if (!done.has(c)) out += heading(c.scenario, undefined, comparisonSummary(c), c) + differencesPart(c);
  return out + "</section>";
}
