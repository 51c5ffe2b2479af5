// The result of running one scenario: the data behind report.json, the JUnit file and report.html.
// Plain JSON with stable ordering; only virtual/scenario time appears here (wall-clock figures go to
// stdout or wall.json), so the same inputs and seed give a byte-identical report.json in the simulator.
import type { Comparison } from "./compare.ts";
import type { BackendMode, Counters, IpamObservation, ProbeResult, RouteObservation, SessionObservation, TimelineEvent } from "./backend.ts";

export interface AssertionResult {
  /** Readable name, e.g. "all BGP sessions established" or "pod a/web-1 reaches b/db-1 on tcp/5432". */
  name: string;
  /** The assertion kind as written in the scenario (sessions, routes, reachability, mtu, ipam, convergence, messages). */
  kind: string;
  passed: boolean;
  /** What was expected and what was seen, in words (shown on failure, kept on success). */
  expected: string;
  actual: string;
  /** Extra explanation, e.g. a probe's hop list or the sessions that were not up. */
  details?: string[];
  /** Scenario time (ms) when it was checked. */
  at: number;
  /** Index of the step that checked it; file:line of the assertion in the scenario. */
  step: number;
  source?: string;
}

export interface StepResult {
  index: number;
  /** The step's kind: createPods, apply, fail, restore, wait, probe, assert, advance... */
  kind: string;
  /** A one-line description: "fail link node-3@seg-b", "wait converged (took 1,234 ms)". */
  description: string;
  start: number;
  end: number;
  /** Set for wait steps. */
  convergence?: { converged: boolean; took: number };
  error?: string;
}

/** Periodic samples for the charts: sessions established and routes per node over time. */
export interface Sample {
  t: number;
  sessionsEstablished: number;
  routes: number;
  bgpMessages: number;
  perNode?: Record<string, { sessions: number; routes: number }>;
}

export interface ScenarioResult {
  scenario: { name: string; file: string; description?: string };
  topology: { name: string; file: string; nodes: number; routers: number; segments: number };
  mode: BackendMode;
  seed: number;
  passed: boolean;
  /** Why the scenario did not run in this mode (the backend cannot run it here, e.g. no IPIP in the kernel); passed stays true. */
  skipped?: string;
  assertions: AssertionResult[];
  steps: StepResult[];
  /** Scenario time at the end of the run (ms). */
  duration: number;
  final: {
    sessions: SessionObservation[];
    routes: RouteObservation[];
    ipam: IpamObservation;
    counters: Counters;
  };
  probes: (ProbeResult & { name: string; at: number })[];
  timeline: TimelineEvent[];
  samples: Sample[];
}

/** What `birdcage run` writes as report.json: one entry per scenario file. */
export interface RunReport {
  birdcage: string;
  /** Every assertion passed, and (--mode both) no sim/real difference outside the scenario's known ones. */
  passed: boolean;
  scenarios: ScenarioResult[];
  /** --mode both: sim versus real, one entry per scenario file. */
  comparisons?: Comparison[];
}
