// The "simulator and real mode compared" part of report.html: when a scenario ran in both modes
// (`birdcage run --mode both`), its assertions, probes and final figures side by side, with the
// rows where the two worlds disagree first and highlighted.
import type { ScenarioResult } from "../scenario/result.ts";
import { groupDigits, truncate } from "./format.ts";
import { HTML_LIMITS, note, pick, t, table } from "./html-common.ts";

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

/** One table per scenario that ran in both modes; "" when none did. */
export function comparisonSection(scenarios: ScenarioResult[]): string {
  const pairs = modePairs(scenarios);
  if (!pairs.length) return "";
  let out = `<section class="scenario" id="compare" aria-labelledby="compare-h"><h2 id="compare-h">Simulator and real mode compared</h2>`;
  out += note("Assertions and probes are matched by name (a repeated name by its order); the timing of the two worlds differs, so only outcomes and final figures are compared.");
  for (const { sim, real, simIndex, realIndex } of pairs) {
    const all = rows(sim, real);
    const differs = (r: Row): boolean => r.sim !== r.real;
    // Verdicts compare on PASS/FAIL only: the words in `actual` may differ between worlds (timings).
    const verdictDiffers = (r: Row): boolean => (r.what.startsWith("assertion: ") ? r.sim.slice(0, 4) !== r.real.slice(0, 4) : differs(r));
    const disagreeing = all.filter(verdictDiffers).length;
    const ordered = [...all.filter(verdictDiffers), ...all.filter((r) => !verdictDiffers(r))];
    const { shown, note: cut } = pick(ordered, HTML_LIMITS.assertions, verdictDiffers);
    const body = shown.map(
      (r) => `<tr class="${verdictDiffers(r) ? "failed" : ""}"><td>${t(truncate(r.what, HTML_LIMITS.cell))}</td><td>${t(r.sim)}</td><td>${t(r.real)}</td></tr>`,
    );
    out +=
      `<h3><a href="#s${simIndex + 1}">${t(sim.scenario.name)}</a> (<a href="#s${realIndex + 1}">real</a>): ` +
      `${disagreeing === 0 ? "the two modes agree" : `${t(groupDigits(disagreeing))} difference${disagreeing === 1 ? "" : "s"}`}</h3>` +
      table(`${sim.scenario.file}: simulator against real mode`, ["what", "simulator", "real"], body) +
      note(cut);
  }
  return out + "</section>";
}
