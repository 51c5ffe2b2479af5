// Running a scenario through the Backend interface: start the world, run the steps in order, judge
// the assertions on what the backend observes, sample sessions/routes/messages for the charts, and
// return the ScenarioResult. Nothing here reads the wall clock or draws random numbers, and every
// list is built in step order or sorted, so the same scenario, backend and seed give the same result.
// A failing step is reported (the step's error and a failed assertion), never thrown.
import { bgpPeerings } from "../topology/peerings.ts";
import type { Topology } from "../topology/model.ts";
import {
  evaluateConvergence,
  evaluateIpam,
  evaluateMatrix,
  evaluateMessages,
  evaluateMtu,
  evaluateReachability,
  evaluateRoutes,
  evaluateSessions,
  matrixMembers,
  sessionPairs,
  type TopologyFacts,
  type Verdict,
  type WaitRecord,
} from "./assertions.ts";
import type { Backend, Counters, IpamObservation, ProbeResult, RouteObservation, SessionObservation, TimelineEvent } from "./backend.ts";
import { formatDuration } from "./duration.ts";
import { flowToProbe, type AssertionSpec, type Scenario, type Step } from "./model.ts";
import type { AssertionResult, Sample, ScenarioResult, StepResult } from "./result.ts";

export interface RunOptions {
  /** The run's seed (the CLI's --seed, else the scenario's, else 1). */
  seed: number;
  pcapDir?: string;
  /** Diagnostics (never part of the result). */
  log?: (line: string) => void;
  /** Scenario time between samples during wait and advance steps (default 1000 ms). */
  samplePeriodMs?: number;
  /** Per-node figures in samples only up to this many nodes and routers (default 50). */
  perNodeSampleLimit?: number;
  /** Called before each step (progress bars). */
  onStep?: (step: Step, done: number, total: number) => void;
}

/** The seed a run uses: the option, else the scenario's, else 1. */
export function effectiveSeed(scenario: Scenario, seed?: number): number {
  return seed ?? scenario.seed ?? 1;
}

export function topologyFacts(t: Topology): TopologyFacts {
  const nameByAddress = new Map<string, string>();
  const strip = (a: string | undefined) => a?.split("/")[0];
  for (const n of t.nodes) for (const a of [n.address, n.addressV6]) if (a) nameByAddress.set(strip(a)!, n.name);
  for (const r of t.routers) for (const i of r.interfaces) for (const a of [i.address, i.addressV6]) if (a) nameByAddress.set(strip(a)!, r.name);
  return { nodes: t.nodes.map((n) => n.name), routers: t.routers.map((r) => r.name), nameByAddress, peerings: bgpPeerings(t) };
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const sortSessions = (s: SessionObservation[]): SessionObservation[] => [...s].sort((a, b) => cmp(a.node, b.node) || cmp(a.peer, b.peer));
export const sortRoutes = (r: RouteObservation[]): RouteObservation[] => [...r].sort((a, b) => cmp(a.node, b.node) || cmp(a.prefix, b.prefix) || cmp(a.kind, b.kind));

/** A wait or advance is cut into at most this many slices (a sample after each). */
export const MAX_SAMPLES_PER_STEP = 2000;

const EMPTY_COUNTERS: Counters = { bgpMessages: { total: 0, open: 0, update: 0, keepalive: 0, notification: 0, routeRefresh: 0 }, bgpBytes: 0 };
const EMPTY_IPAM: IpamObservation = { blocks: [], inUse: 0, problems: [] };

class Run {
  readonly facts: TopologyFacts;
  readonly assertions: AssertionResult[] = [];
  readonly steps: StepResult[] = [];
  readonly samples: Sample[] = [];
  readonly probes: ScenarioResult["probes"] = [];
  readonly stepEvents: TimelineEvent[] = [];
  /** How many backend timeline events existed when each step event was made (for causal order). */
  readonly stepEventAfter: number[] = [];
  lastWait: WaitRecord | undefined;
  lastWaitCounters: Counters | undefined;
  /** Reference point for convergence: the start of the last step that changed the network. */
  changedAt = 0;
  readonly period: number;
  readonly perNodeLimit: number;

  constructor(
    readonly scenario: Scenario,
    readonly backend: Backend,
    readonly options: RunOptions,
  ) {
    this.facts = topologyFacts(scenario.topology);
    this.period = Math.max(1, options.samplePeriodMs ?? 1000);
    this.perNodeLimit = options.perNodeSampleLimit ?? 50;
  }

  backendEventCount(): number {
    try {
      return this.backend.timeline().length;
    } catch {
      return Number.MAX_SAFE_INTEGER;
    }
  }

  async sample(): Promise<void> {
    const b = this.backend;
    const t = b.now();
    const counters = await b.counters();
    let s: Sample;
    const small = this.facts.nodes.length + this.facts.routers.length <= this.perNodeLimit;
    if (b.sample) {
      const c = await b.sample();
      s = { t, sessionsEstablished: c.sessionsEstablished, routes: c.routes, bgpMessages: counters.bgpMessages.total, ...(small && c.perNode ? { perNode: sortedRecord(c.perNode) } : {}) };
    } else {
      const sessions = await b.sessions();
      const routes = await b.routes();
      const up = sessions.filter((x) => x.state === "Established");
      const pairs = sessionPairs(sessions, this.facts).filter((p) => p.established).length;
      let perNode: Record<string, { sessions: number; routes: number }> | undefined;
      if (small) {
        perNode = {};
        for (const n of [...this.facts.nodes, ...this.facts.routers].sort()) perNode[n] = { sessions: 0, routes: 0 };
        for (const x of up) (perNode[x.node] ??= { sessions: 0, routes: 0 }).sessions++;
        for (const r of routes) (perNode[r.node] ??= { sessions: 0, routes: 0 }).routes++;
        perNode = sortedRecord(perNode);
      }
      s = { t, sessionsEstablished: pairs, routes: routes.length, bgpMessages: counters.bgpMessages.total, ...(perNode ? { perNode } : {}) };
    }
    // Two samples at one instant stay when they differ (a failure step drops sessions at once: the
    // chart shows a vertical edge, not a slope); an identical repeat is left out.
    const last = this.samples[this.samples.length - 1];
    if (!last || JSON.stringify(last) !== JSON.stringify(s)) this.samples.push(s);
  }

  /** Samples, swallowing errors (a sample is not worth failing a step for). */
  async trySample(): Promise<void> {
    try {
      await this.sample();
    } catch (e) {
      this.options.log?.(`sample at ${this.backend.now()} ms failed: ${errorText(e)}`);
    }
  }

  fail(step: number, name: string, kind: string, expected: string, actual: string, source?: string, details?: string[]): void {
    this.assertions.push({ name, kind, passed: false, expected, actual, ...(details ? { details } : {}), at: this.backend.now(), step, ...(source !== undefined ? { source } : {}) });
  }

  async runStep(step: Step): Promise<StepResult> {
    const b = this.backend;
    const start = b.now();
    this.stepEvents.push({ t: start, kind: "step", text: `step ${step.index + 1}: ${step.description}` });
    this.stepEventAfter.push(this.backendEventCount());
    const result: StepResult = { index: step.index, kind: step.kind, description: step.description, start, end: start };
    try {
      switch (step.kind) {
        case "pods":
          this.changedAt = start;
          await b.createPods(step.pods);
          break;
        case "deletePods":
          this.changedAt = start;
          await b.deletePods(step.pods);
          break;
        case "apply":
          this.changedAt = start;
          await b.applyResources(step.resources);
          break;
        case "delete":
          this.changedAt = start;
          await b.deleteResources(step.resources);
          break;
        case "fail":
          this.changedAt = start;
          await b.fail(step.target, step.options);
          break;
        case "restore":
          this.changedAt = start;
          await b.restore(step.target);
          break;
        case "advance":
          await this.advance(step.ms);
          break;
        case "wait": {
          const conv = await this.wait(step);
          result.convergence = conv;
          result.description = `${step.description}: ${conv.converged ? `converged after ${formatDuration(conv.took)}` : "did not converge"}`;
          break;
        }
        case "probe": {
          const p = await b.probe(step.spec);
          this.probes.push({ name: step.name, at: b.now(), ...p });
          result.description = `${step.description}: ${p.outcome}${p.reason ? ` (${p.reason})` : ""}`;
          break;
        }
        case "assert":
          for (const a of step.assertions) await this.check(a, step.index);
          break;
      }
    } catch (e) {
      result.error = errorText(e);
      this.fail(step.index, `step ${step.index + 1} (${step.description}) runs without error`, "step", "no error", `error: ${result.error}`, step.source);
    }
    result.end = b.now();
    if (step.kind !== "wait" && step.kind !== "advance") await this.trySample();
    return result;
  }

  /** The slice for a wait or advance of `ms`: the sample period, longer for very long spans. */
  slice(ms: number): number {
    return Math.max(this.period, ms / MAX_SAMPLES_PER_STEP);
  }

  async advance(ms: number): Promise<void> {
    const end = this.backend.now() + ms;
    const slice = this.slice(ms);
    while (this.backend.now() < end) {
      const before = this.backend.now();
      await this.backend.advance(Math.min(slice, end - before));
      await this.trySample();
      if (this.backend.now() <= before) break; // a backend that does not move time must not hang us
    }
  }

  /** Waits in slices of the sample period; a wait that times out is a failed assertion. */
  async wait(step: Extract<Step, { kind: "wait" }>): Promise<{ converged: boolean; took: number }> {
    const b = this.backend;
    this.lastWaitCounters = await b.counters();
    const deadline = b.now() + step.timeoutMs;
    const slice = this.slice(step.timeoutMs);
    let r = { converged: false, at: b.now(), took: 0 };
    for (;;) {
      const before = b.now();
      r = await b.waitConverged(Math.max(0, Math.min(slice, deadline - before)), this.changedAt);
      await this.trySample();
      if (r.converged || b.now() >= deadline || b.now() <= before) break;
    }
    const took = r.converged ? r.took : b.now() - this.changedAt;
    this.lastWait = { converged: r.converged, took, step: step.index };
    const name = `routing converges within ${formatDuration(step.timeoutMs)} (wait at step ${step.index + 1})`;
    this.assertions.push({
      name,
      kind: "wait",
      passed: r.converged,
      expected: `converged within ${formatDuration(step.timeoutMs)}`,
      actual: r.converged ? `converged after ${formatDuration(took)}` : `not converged after ${formatDuration(b.now() - this.changedAt)}`,
      at: b.now(),
      step: step.index,
      source: step.source,
    });
    return { converged: r.converged, took };
  }

  async check(a: AssertionSpec, stepIndex: number): Promise<void> {
    let v: Verdict;
    try {
      v = await this.verdict(a);
    } catch (e) {
      v = { passed: false, expected: "the observation to succeed", actual: `error: ${errorText(e)}` };
    }
    this.assertions.push({ name: a.name, kind: a.kind, passed: v.passed, expected: v.expected, actual: v.actual, ...(v.details && v.details.length > 0 ? { details: v.details } : {}), at: this.backend.now(), step: stepIndex, source: a.source });
  }

  async verdict(a: AssertionSpec): Promise<Verdict> {
    const b = this.backend;
    switch (a.kind) {
      case "sessions":
        return evaluateSessions(a, sortSessions(await b.sessions()), this.facts);
      case "routes": {
        const routes = a.node === "all" ? await b.routes() : await b.routes(a.node);
        const ipam = a.podBlocksOf !== undefined ? await b.ipam() : undefined;
        return evaluateRoutes(a, sortRoutes(routes), ipam, this.facts);
      }
      case "reachable":
      case "unreachable":
        return evaluateReachability(a, await b.probe(flowToProbe(a.flow)));
      case "mtu":
        return evaluateMtu(a, await b.probe(flowToProbe(a.flow)));
      case "matrix": {
        const all = (await b.pods()).map((p) => `${p.namespace}/${p.name}`).sort(cmp);
        const members = matrixMembers(a.pods, all);
        const results = new Map<string, ProbeResult>();
        for (const from of members) {
          for (const to of members) {
            if (from === to) continue;
            results.set(`${from}\u0000${to}`, await b.probe({ from: { pod: from }, to: { pod: to }, protocol: a.protocol, ...(a.port !== undefined ? { port: a.port } : {}) }));
          }
        }
        return evaluateMatrix(a, members, (from, to) => results.get(`${from}\u0000${to}`));
      }
      case "ipam":
        return evaluateIpam(a, await b.ipam());
      case "convergence":
        return evaluateConvergence(a, this.lastWait);
      case "messages":
        return evaluateMessages(a, await b.counters(), a.since === "last-wait" ? this.lastWaitCounters : undefined);
    }
  }
}

function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => cmp(a, b)));
}

/**
 * Merges the backend's timeline with the runner's step events: each step event goes before the
 * backend events that came after it began (so a failure step precedes the events it caused, even at
 * the same instant), then a stable sort by time keeps that order among equal times.
 */
function mergeTimeline(steps: TimelineEvent[], after: number[], backend: TimelineEvent[]): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  let s = 0;
  for (let i = 0; i <= backend.length; i++) {
    while (s < steps.length && (after[s] ?? 0) <= i) out.push(steps[s++]!);
    if (i < backend.length) out.push(backend[i]!);
  }
  while (s < steps.length) out.push(steps[s++]!);
  return out.map((e, i) => ({ e, i })).sort((x, y) => x.e.t - y.e.t || x.i - y.i).map((x) => x.e);
}

/** Runs every step of `scenario` on `backend` (which it starts and stops). Never throws. */
export async function runScenario(scenario: Scenario, backend: Backend, options: RunOptions): Promise<ScenarioResult> {
  const run = new Run(scenario, backend, options);
  const t = scenario.topology;
  let started = false;
  let skipped: string | undefined;
  try {
    await backend.start(t, { seed: options.seed, ...(options.pcapDir !== undefined ? { pcapDir: options.pcapDir } : {}), ...(options.log ? { log: options.log } : {}) });
    started = true;
  } catch (e) {
    // A backend that cannot run this scenario on this machine says so (e.g. real mode without IPIP): skipped, not failed.
    if (e instanceof Error && (e as Error & { skipped?: unknown }).skipped === true) skipped = e.message;
    else run.fail(-1, "the backend starts", "step", `the ${backend.mode} backend starts`, `error: ${errorText(e)}`, `${scenario.file}:1`);
  }
  const safeNow = () => {
    try {
      return backend.now();
    } catch {
      return 0;
    }
  };
  run.changedAt = safeNow();
  if (started) {
    await run.trySample();
    for (const step of scenario.steps) {
      options.onStep?.(step, run.steps.length, scenario.steps.length);
      run.steps.push(await run.runStep(step));
    }
  } else if (skipped === undefined) {
    for (const step of scenario.steps) run.steps.push({ index: step.index, kind: step.kind, description: step.description, start: 0, end: 0, error: "not run: the backend did not start" });
  }

  const observe = async <T>(what: string, f: () => Promise<T>, fallback: T): Promise<T> => {
    if (!started) return fallback;
    try {
      return await f();
    } catch (e) {
      run.fail(scenario.steps.length, `final ${what} can be observed`, "step", `the backend reports ${what}`, `error: ${errorText(e)}`);
      return fallback;
    }
  };
  const final = {
    sessions: sortSessions(await observe("sessions", () => backend.sessions(), [] as SessionObservation[])),
    routes: sortRoutes(await observe("routes", () => backend.routes(), [] as RouteObservation[])),
    ipam: await observe("IPAM", () => backend.ipam(), EMPTY_IPAM),
    counters: await observe("counters", () => backend.counters(), EMPTY_COUNTERS),
  };
  const duration = safeNow();
  let timeline: TimelineEvent[] = [];
  try {
    timeline = mergeTimeline(run.stepEvents, run.stepEventAfter, backend.timeline());
  } catch (e) {
    timeline = run.stepEvents;
    options.log?.(`timeline: ${errorText(e)}`);
  }
  try {
    await backend.stop();
  } catch (e) {
    run.fail(scenario.steps.length, "the backend stops cleanly", "step", "stop() succeeds", `error: ${errorText(e)}`);
  }

  return {
    scenario: { name: scenario.name, file: scenario.file, ...(scenario.description !== undefined ? { description: scenario.description } : {}) },
    topology: { name: t.name, file: scenario.topologyFile, nodes: t.nodes.length, routers: t.routers.length, segments: t.segments.length },
    mode: backend.mode,
    seed: options.seed,
    passed: run.assertions.every((a) => a.passed) && run.steps.every((s) => s.error === undefined),
    ...(skipped !== undefined ? { skipped } : {}),
    assertions: run.assertions,
    steps: run.steps,
    duration,
    final,
    probes: run.probes,
    timeline,
    samples: run.samples,
  };
}
