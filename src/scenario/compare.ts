// Sim versus real (`birdcage run --mode both`): every observation of the two runs of a scenario that
// differs — assertion verdicts, probe outcomes, final BGP sessions and final routes — each under a path
// such as `routes/node-3/10.0.1.0/26`. A scenario may list known differences, each with the reason the
// two worlds differ there; a difference matching one is reported as known (with that reason) and does
// not fail the run, any other difference does, and a listed entry that matched nothing is stale.
import type { ScenarioResult } from "./result.ts";

/** A scenario's `knownDifferences` entry. */
export interface KnownDifference {
  /** An observation path or glob: `routes/node-3` (everything below it too), `sessions/*`, `assertions/pod * reaches *`. */
  observation: string;
  reason: string;
  /** file:line of the entry in the scenario. */
  source?: string;
}

/** The top levels of an observation path. */
export const OBSERVATION_KINDS = ["assertions", "probes", "sessions", "routes"] as const;

export interface Difference {
  /** e.g. "sessions/node-1/node-2", "routes/node-3/10.0.1.0/26", "assertions/all BGP sessions established". */
  observation: string;
  sim: string;
  real: string;
  /** Set when a knownDifferences entry covers it. */
  known?: { pattern: string; reason: string; source?: string };
}

export interface Comparison {
  file: string;
  scenario: string;
  /** Why the two runs were not compared (one was skipped); then differences is empty. */
  notCompared?: string;
  differences: Difference[];
  /** Listed known differences that matched no difference of this run. */
  stale: KnownDifference[];
  /** No difference outside the known ones. */
  passed: boolean;
}

/** Problems of an observation pattern, or undefined when it is usable. */
export function observationProblem(pattern: string): string | undefined {
  const head = pattern.split("/")[0]!;
  if (head === "*") return undefined;
  if (!(OBSERVATION_KINDS as readonly string[]).includes(head)) return `an observation starts with one of ${OBSERVATION_KINDS.join(", ")} (or *), e.g. routes/node-3; got "${head}"`;
  if (pattern.endsWith("/")) return "an observation path does not end with /";
  return undefined;
}

const patterns = new Map<string, RegExp>();
/**
 * `*` matches any text (slashes included); a pattern matches a path itself and everything below it
 * (`routes/node-3` matches `routes/node-3/10.0.1.0/26`).
 */
export function observationMatches(pattern: string, path: string): boolean {
  let re = patterns.get(pattern);
  if (re === undefined) {
    const body = pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
    re = new RegExp(`^${body}(?:/.*)?$`, "s");
    patterns.set(pattern, re);
  }
  return re.test(path);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const verdict = (passed: boolean | undefined): string => (passed === undefined ? "absent" : passed ? "PASS" : "FAIL");

/** Every observation that differs between the two runs, sorted by path (without the known marks). */
export function differences(sim: ScenarioResult, real: ScenarioResult): Difference[] {
  const out: Difference[] = [];
  // Assertion verdicts, matched by step and name (the same assertion in both runs).
  const realBy = new Map(real.assertions.map((a) => [`${a.step}\u0000${a.name}`, a]));
  for (const a of sim.assertions) {
    const k = `${a.step}\u0000${a.name}`;
    const b = realBy.get(k);
    realBy.delete(k);
    if (b === undefined || a.passed !== b.passed) out.push({ observation: `assertions/${a.name}`, sim: `${verdict(a.passed)} (${a.actual})`, real: b === undefined ? "absent" : `${verdict(b.passed)} (${b.actual})` });
  }
  for (const b of realBy.values()) out.push({ observation: `assertions/${b.name}`, sim: "absent", real: `${verdict(b.passed)} (${b.actual})` });

  // Probe outcomes, matched by name and position among probes of that name.
  const probeKeys = (r: ScenarioResult) => {
    const seen = new Map<string, number>();
    return new Map(r.probes.map((p) => {
      const n = (seen.get(p.name) ?? 0) + 1;
      seen.set(p.name, n);
      return [n === 1 ? p.name : `${p.name}#${n}`, p.outcome] as const;
    }));
  };
  const [sp, rp] = [probeKeys(sim), probeKeys(real)];
  for (const k of new Set([...sp.keys(), ...rp.keys()])) if (sp.get(k) !== rp.get(k)) out.push({ observation: `probes/${k}`, sim: sp.get(k) ?? "absent", real: rp.get(k) ?? "absent" });

  // Final sessions: state per node and peer.
  const sessions = (r: ScenarioResult) => new Map(r.final.sessions.map((s) => [`sessions/${s.node}/${s.peerName ?? s.peer}`, s.state as string]));
  const [ss, rs] = [sessions(sim), sessions(real)];
  for (const k of new Set([...ss.keys(), ...rs.keys()])) if (ss.get(k) !== rs.get(k)) out.push({ observation: k, sim: ss.get(k) ?? "absent", real: rs.get(k) ?? "absent" });

  // Final routes: which prefixes each node has, and how (kind, encapsulation). Not the next hops: for
  // a BGP next hop behind a router the kernel holds the resolved gateway (the router, as BIRD's
  // `gateway recursive`) where the simulator reports the BGP next hop; both forward the same way.
  const routes = (r: ScenarioResult) => {
    const m = new Map<string, string[]>();
    for (const x of r.final.routes) {
      const k = `routes/${x.node}/${x.prefix}`;
      m.set(k, [...(m.get(k) ?? []), `${x.kind}${x.encap !== "none" ? ` (${x.encap})` : ""}`]);
    }
    return new Map([...m].map(([k, v]) => [k, v.sort().join("; ")]));
  };
  const [sr, rr] = [routes(sim), routes(real)];
  for (const k of new Set([...sr.keys(), ...rr.keys()])) if (sr.get(k) !== rr.get(k)) out.push({ observation: k, sim: sr.get(k) ?? "absent", real: rr.get(k) ?? "absent" });

  return out.sort((a, b) => cmp(a.observation, b.observation));
}

/** Compares the sim and real runs of one scenario against its known differences. */
export function compareRuns(sim: ScenarioResult, real: ScenarioResult, known: readonly KnownDifference[] = []): Comparison {
  const base = { file: sim.scenario.file, scenario: sim.scenario.name };
  if (sim.skipped !== undefined || real.skipped !== undefined) {
    return { ...base, notCompared: `${sim.skipped !== undefined ? "sim" : "real"} skipped`, differences: [], stale: [], passed: true };
  }
  const used = new Set<KnownDifference>();
  const diffs = differences(sim, real).map((d): Difference => {
    const k = known.find((x) => observationMatches(x.observation, d.observation));
    if (k === undefined) return d;
    used.add(k);
    return { ...d, known: { pattern: k.observation, reason: k.reason, ...(k.source !== undefined ? { source: k.source } : {}) } };
  });
  return { ...base, differences: diffs, stale: known.filter((k) => !used.has(k)), passed: diffs.every((d) => d.known !== undefined) };
}
