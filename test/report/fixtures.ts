// Hand-built RunReports for the report tests: a passing and a failing scenario with every field
// used, text full of markup and control characters, and a deterministic 10,000-node run.
import { compareRuns, type Comparison } from "../../src/scenario/compare.ts";
import type { RunReport, Sample, ScenarioResult } from "../../src/scenario/result.ts";
import type { RouteObservation, SessionObservation } from "../../src/scenario/backend.ts";
import { rng } from "../helpers/rng.ts";

/** Markup, quotes, an XML-forbidden control (ESC, BEL, NUL), CDATA end, a lone surrogate, non-ASCII. */
export const NASTY = `<script>alert("x")</script> & 'q' \u001b[31m\u0007\u0000 ]]> \uD800 naïve→ok`;

const counters = (total: number) => ({
  bgpMessages: { total, open: 6, update: total - 20, keepalive: 14, notification: 0, routeRefresh: 0 },
  bgpBytes: total * 41,
  events: total * 3,
});

function samples(until: number, every: number, sessions: (t: number) => number, routes: (t: number) => number): Sample[] {
  const out: Sample[] = [];
  let msgs = 0;
  for (let t = 0; t <= until; t += every) {
    msgs += sessions(t) + (t % (every * 4) === 0 ? 3 : 1);
    out.push({ t, sessionsEstablished: sessions(t), routes: routes(t), bgpMessages: msgs });
  }
  return out;
}

export function passingScenario(): ScenarioResult {
  const sessions: SessionObservation[] = [
    { node: "node-1", peer: "192.168.1.2", peerName: "node-2", state: "Established", type: "iBGP", prefixesReceived: 1, prefixesSent: 1 },
    { node: "node-1", peer: "192.168.1.3", peerName: "node-3", state: "Established", type: "iBGP", prefixesReceived: 1, prefixesSent: 1 },
    { node: "node-2", peer: "192.168.1.1", peerName: "node-1", state: "Established", type: "iBGP", prefixesReceived: 1, prefixesSent: 1 },
  ];
  const routes: RouteObservation[] = [
    { node: "node-1", prefix: "10.1.1.0/26", kind: "blackhole", nextHops: [], encap: "none", source: "ipam" },
    { node: "node-1", prefix: "10.1.2.0/26", kind: "unicast", nextHops: ["192.168.1.2"], encap: "ipip", source: "bgp" },
    { node: "node-2", prefix: "10.1.1.0/26", kind: "unicast", nextHops: ["192.168.1.1"], encap: "ipip", source: "bgp" },
  ];
  return {
    scenario: { name: "full mesh converges", file: "scenarios/mesh.yaml", description: "Three nodes, one segment." },
    topology: { name: "three-nodes", file: "topologies/three.yaml", nodes: 3, routers: 0, segments: 1 },
    mode: "sim",
    seed: 42,
    passed: true,
    assertions: [
      { name: "all BGP sessions established", kind: "sessions", passed: true, expected: "6 established", actual: "6 established", at: 1234.5678, step: 1, source: "scenarios/mesh.yaml:12:5" },
      { name: "pod a/web-1 reaches b/db-1 on tcp/5432", kind: "reachability", passed: true, expected: "delivered", actual: "delivered", details: ["node-1: route 10.1.2.0/26 via 192.168.1.2 (ipip, +20 bytes)"], at: 1300, step: 2 },
    ],
    steps: [
      { index: 0, kind: "createPods", description: "create 2 pods", start: 0, end: 10 },
      { index: 1, kind: "wait", description: "wait converged (took 1,224.568 ms)", start: 10, end: 1234.5678, convergence: { converged: true, took: 1224.5678 } },
      { index: 2, kind: "probe", description: "probe a/web-1 → b/db-1 tcp/5432", start: 1234.5678, end: 1300 },
    ],
    duration: 1300,
    final: { sessions, routes, ipam: { blocks: [{ cidr: "10.1.1.0/26", affinity: "node-1", allocated: 1, size: 64 }], inUse: 2, problems: [] }, counters: counters(120) },
    probes: [
      {
        name: "a/web-1 → b/db-1 tcp/5432",
        at: 1300,
        outcome: "delivered",
        hops: [
          { at: "node-1", action: "egress policy allowed (no policy)" },
          { at: "node-1", action: "route 10.1.2.0/26 via 192.168.1.2 (ipip, +20 bytes)", out: "tunl0", size: 120 },
          { at: "node-2", action: "delivered to b/db-1" },
        ],
        pathMtu: 1480,
        encap: "ipip",
      },
    ],
    timeline: [
      { t: 5, node: "node-1", kind: "session", text: "node-1 ↔ node-2 Established" },
      { t: 10, kind: "step", text: "create 2 pods" },
    ],
    samples: samples(1300, 100, (t) => Math.min(6, Math.floor(t / 200)), (t) => Math.min(3, Math.floor(t / 400))),
  };
}

export function failingScenario(): ScenarioResult {
  const s = passingScenario();
  return {
    ...s,
    scenario: { name: "link failure on seg-b", file: "scenarios/link-fail.yaml" },
    passed: false,
    duration: 5000.0004,
    assertions: [
      ...s.assertions,
      {
        name: "pod a/web-1 reaches c/cache-1 on tcp/6379",
        kind: "reachability",
        passed: false,
        expected: "delivered",
        actual: "dropped at router r1: no route to 10.1.3.0/26",
        details: ["node-1: route 10.1.3.0/26 via 192.168.2.1", "r1: no route to 10.1.3.0/26"],
        at: 4000.1234567,
        step: 4,
        source: "scenarios/link-fail.yaml:30:7",
      },
    ],
    steps: [
      ...s.steps,
      { index: 3, kind: "fail", description: "fail link node-3@seg-b", start: 2000, end: 2000 },
      { index: 4, kind: "wait", description: "wait converged", start: 2000, end: 4000.1234567, convergence: { converged: false, took: 2000.1234567 } },
      { index: 5, kind: "restore", description: "restore link node-3@seg-b", start: 4500, end: 4500, error: "link node-3@seg-b: no such element" },
    ],
    probes: [
      ...s.probes,
      {
        name: "a/web-1 → c/cache-1 tcp/6379",
        at: 4000,
        outcome: "dropped",
        reason: "dropped at router r1: no route to 10.1.3.0/26",
        dropKind: "no-route",
        hops: [{ at: "node-1", action: "route 10.1.3.0/26 via 192.168.2.1", out: "eth0", size: 100 }, { at: "r1", action: "lookup 10.1.3.0/26: no route" }],
        encap: "none",
      },
    ],
    samples: samples(5000, 100, (t) => (t < 2000 ? 6 : 4), (t) => (t < 2000 ? 3 : 2)),
  };
}

/** Every user-written text field carries NASTY. */
export function nastyScenario(): ScenarioResult {
  const s = failingScenario();
  return {
    ...s,
    scenario: { name: `mesh ${NASTY}`, file: `scenarios/${NASTY}.yaml`, description: NASTY },
    topology: { ...s.topology, name: NASTY, file: NASTY },
    assertions: s.assertions.map((a) => ({ ...a, name: `${a.name} ${NASTY}`, expected: NASTY, actual: NASTY, details: [NASTY], source: NASTY })),
    steps: s.steps.map((st) => ({ ...st, description: NASTY, ...(st.error !== undefined ? { error: NASTY } : {}) })),
    probes: s.probes.map((p) => ({ ...p, name: NASTY, ...(p.reason ? { reason: NASTY } : {}), hops: p.hops.map((h) => ({ ...h, at: NASTY, action: NASTY })) })),
    timeline: s.timeline.map((e) => ({ ...e, text: NASTY })),
    final: {
      ...s.final,
      sessions: s.final.sessions.map((x, i) => ({ ...x, node: i === 0 ? NASTY : x.node, state: i === 0 ? "Active" : x.state })),
      ipam: { ...s.final.ipam, problems: [NASTY] },
    },
  };
}

export function report(...scenarios: ScenarioResult[]): RunReport {
  return { birdcage: "0.1.0", passed: scenarios.every((s) => s.passed), scenarios };
}

/**
 * A `--mode both` run of the mesh scenario, compared by the real compareRuns: the session
 * node-1 → node-2 is Active in real mode (DIFF), real mode has an extra route on node-2 that a
 * knownDifferences entry explains (KNOWN), and a second entry matches nothing (STALE).
 */
export function bothModesReport(): RunReport {
  const sim = passingScenario();
  const real: ScenarioResult = { ...passingScenario(), mode: "real" };
  const [first, ...rest] = real.final.sessions;
  real.final = {
    ...real.final,
    sessions: [{ ...first!, state: "Active" }, ...rest],
    routes: [...real.final.routes, { node: "node-2", prefix: "192.168.9.0/24", kind: "unicast", nextHops: [], encap: "none", source: "connected" }],
  };
  const comparison = compareRuns(sim, real, [
    { observation: "routes/node-2", reason: "the kernel keeps the connected route of the old uplink", source: "scenarios/mesh.yaml:41" },
    { observation: "probes/big-ping*", reason: "real ping reports fragmentation needed before the tunnel", source: "scenarios/mesh.yaml:43" },
  ]);
  return { birdcage: "0.1.0", passed: false, scenarios: [sim, real], comparisons: [comparison] };
}

/** A comparison with the given parts, for one scenario file of the mesh fixture. */
export function comparison(parts: Partial<Comparison>): Comparison {
  return { file: "scenarios/mesh.yaml", scenario: "full mesh converges", differences: [], stale: [], passed: true, ...parts };
}

/** A 10,000-node route-reflector run: 2 RRs, every node peers with both, 3 routes per node, long sampled timeline, many steps and assertions. */
export function bigScenario(nodes = 10_000): ScenarioResult {
  const r = rng(7);
  const name = (i: number): string => `node-${String(i).padStart(5, "0")}`;
  const sessions: SessionObservation[] = [];
  const routes: RouteObservation[] = [];
  for (let i = 0; i < nodes; i++) {
    for (const rr of ["rr-1", "rr-2"]) {
      sessions.push({ node: name(i), peer: rr === "rr-1" ? "192.168.0.1" : "192.168.0.2", peerName: rr, state: r() < 0.001 ? "Active" : "Established", type: "iBGP", prefixesReceived: 1, prefixesSent: 1 });
    }
    const extra = Math.floor(r() * 4);
    for (let k = 0; k < 2 + extra; k++) routes.push({ node: name(i), prefix: `10.${(i >> 8) & 255}.${i & 255}.${k * 64}/26`, kind: "unicast", nextHops: ["192.168.0.1"], encap: "ipip", source: "bgp" });
  }
  const duration = 600_000;
  const samplesOut: Sample[] = [];
  let msgs = 0;
  for (let t = 0; t <= duration; t += 50) {
    const up = Math.min(nodes * 2, Math.floor((t / 60_000) * nodes * 2));
    msgs += Math.floor(r() * 400);
    samplesOut.push({ t, sessionsEstablished: up, routes: Math.min(routes.length, Math.floor(t / 30)), bgpMessages: msgs });
  }
  const steps = Array.from({ length: 3000 }, (_, i) => ({ index: i, kind: i % 10 === 0 ? "fail" : i % 10 === 5 ? "restore" : "advance", description: `step ${i}`, start: i * 200, end: i * 200 + 100 }));
  const assertions = Array.from({ length: 5000 }, (_, i) => ({ name: `node ${name(i)} has its routes`, kind: "routes", passed: i % 997 !== 0, expected: "3 routes", actual: i % 997 !== 0 ? "3 routes" : "2 routes", details: ["a", "b"], at: i * 100, step: i % 3000 }));
  return {
    scenario: { name: "10,000 nodes with route reflectors", file: "scenarios/rr-10k.yaml" },
    topology: { name: "rr-10k", file: "topologies/rr-10k.yaml", nodes, routers: 2, segments: 100 },
    mode: "sim",
    seed: 7,
    passed: false,
    assertions,
    steps,
    duration,
    final: { sessions, routes, ipam: { blocks: [], inUse: nodes * 10, problems: Array.from({ length: 500 }, (_, i) => `leak ${i}`) }, counters: counters(msgs) },
    probes: Array.from({ length: 1000 }, (_, i) => ({ name: `probe ${i}`, at: i * 500, outcome: i % 50 === 0 ? ("dropped" as const) : ("delivered" as const), ...(i % 50 === 0 ? { reason: "policy", dropKind: "policy" } : {}), hops: Array.from({ length: 4 }, (_, h) => ({ at: name(h), action: `hop ${h}` })), encap: "ipip" as const })),
    timeline: Array.from({ length: 20_000 }, (_, i) => ({ t: i * 30, kind: "route" as const, node: name(i % nodes), text: `route change ${i}` })),
    samples: samplesOut,
  };
}
