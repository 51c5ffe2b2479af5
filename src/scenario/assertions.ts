// Evaluating assertions on observations: one pure function per kind, each turning what the backend
// saw into a verdict with the expectation and the observation in words, and details that explain
// a failure (the sessions that are not up, the routes missing, a probe's hops, the matrix cells
// that differ). No backend calls here: the runner observes, these judge.
import { formatPrefix, parsePrefix } from "../core/net/ip.ts";
import type { Peering } from "../topology/peerings.ts";
import type { Counters, IpamObservation, ProbeResult, RouteObservation, SessionObservation } from "./backend.ts";
import { formatDuration } from "./duration.ts";
import type { AssertionSpec, MessageField } from "./model.ts";
import { countHolds, countNoun, countText, listText, numberNoun } from "./names.ts";

export interface Verdict {
  passed: boolean;
  expected: string;
  actual: string;
  details?: string[];
}

/** What the assertions need to know of the topology. */
export interface TopologyFacts {
  /** Node names, in topology order. */
  nodes: string[];
  routers: string[];
  /** Node or router name by interface address (no prefix length). */
  nameByAddress: Map<string, string>;
  /** The sessions the configuration implies (bgpPeerings). */
  peerings: Peering[];
}

type Of<K extends AssertionSpec["kind"]> = Extract<AssertionSpec, { kind: K }>;

/** At most `max` lines, then "... N more". */
export function capped(lines: string[], max = 20): string[] {
  return lines.length <= max ? lines : [...lines.slice(0, max), `... ${lines.length - max} more`];
}

const normPrefix = (p: string): string => {
  try {
    return formatPrefix(parsePrefix(p, { strict: false }));
  } catch {
    return p;
  }
};

/** Calico writes block affinities as "host:node-1"; backends may give the bare node name. */
export const affinityNode = (affinity: string | null): string | null => (affinity === null ? null : affinity.startsWith("host:") ? affinity.slice(5) : affinity);

export function peerNameOf(s: SessionObservation, facts: TopologyFacts): string {
  return s.peerName ?? facts.nameByAddress.get(s.peer) ?? s.peer;
}

/**
 * Sessions as pairs of speakers (what `birdcage topo` counts): each session is usually observed from
 * both ends; a pair counts as established when every observation of it is Established.
 */
export function sessionPairs(sessions: readonly SessionObservation[], facts: TopologyFacts): { key: string; established: boolean; observations: SessionObservation[] }[] {
  const pairs = new Map<string, { key: string; established: boolean; observations: SessionObservation[] }>();
  for (const s of sessions) {
    const peer = peerNameOf(s, facts);
    const key = s.node < peer ? `${s.node} -- ${peer}` : `${peer} -- ${s.node}`;
    let p = pairs.get(key);
    if (!p) pairs.set(key, (p = { key, established: true, observations: [] }));
    p.observations.push(s);
    if (s.state !== "Established") p.established = false;
  }
  return [...pairs.values()];
}

export function evaluateSessions(a: Of<"sessions">, sessions: readonly SessionObservation[], facts: TopologyFacts): Verdict {
  const mine = a.node === undefined ? sessions : sessions.filter((s) => s.node === a.node);
  const pairs = sessionPairs(mine, facts);
  const up = pairs.filter((p) => p.established).length;
  const down = mine.filter((s) => s.state !== "Established");
  const downLines = down.map((s) => `${s.node} -> ${peerNameOf(s, facts)}${peerNameOf(s, facts) !== s.peer ? ` (${s.peer})` : ""}: ${s.state}`);
  const where = a.node !== undefined ? ` on ${a.node}` : "";
  const actual = `${up} of ${pairs.length} sessions established${where}`;
  if (a.established !== "all") {
    return {
      passed: countHolds(a.established, up),
      expected: `${countNoun(a.established, "BGP session")} established${where}`,
      actual,
      ...(down.length > 0 ? { details: capped(downLines.map((l) => `not established: ${l}`)) } : {}),
    };
  }
  // "all": every observed session up, and every configured session observed on at least one side.
  const seen = new Set(mine.map((s) => `${s.node}\u0000${peerNameOf(s, facts)}`));
  const configured = facts.peerings.filter((p) => a.node === undefined || p.a === a.node || p.b === a.node);
  const missing = configured.filter((p) => !seen.has(`${p.a}\u0000${p.b}`) && !seen.has(`${p.b}\u0000${p.a}`));
  const details = [...downLines.map((l) => `not established: ${l}`), ...missing.map((p) => `configured but not seen: ${p.a} -- ${p.b} (${p.source})`)];
  const passed = down.length === 0 && missing.length === 0 && (mine.length > 0 || configured.length === 0);
  if (mine.length === 0 && configured.length > 0) details.unshift("the backend reports no BGP sessions");
  return {
    passed,
    expected: `every BGP session established${where} (${configured.length} configured)`,
    actual: `${actual}${missing.length > 0 ? `, ${missing.length} configured not seen` : ""}`,
    ...(details.length > 0 ? { details: capped(details) } : {}),
  };
}

export function evaluateRoutes(a: Of<"routes">, routes: readonly RouteObservation[], ipam: IpamObservation | undefined, facts: TopologyFacts): Verdict {
  const nodes = a.node === "all" ? facts.nodes : [a.node];
  const byNode = new Map<string, Set<string>>();
  for (const r of routes) {
    let set = byNode.get(r.node);
    if (!set) byNode.set(r.node, (set = new Set()));
    set.add(normPrefix(r.prefix));
  }
  const blocks = (ipam?.blocks ?? []).map((b) => ({ cidr: normPrefix(b.cidr), node: affinityNode(b.affinity) }));
  const problems: string[] = [];
  let expectedCount = 0;
  let wrong = 0;
  if (a.podBlocksOf !== undefined) {
    if (blocks.length === 0) problems.push("no IPAM blocks exist yet (no pods?), so there are no pod blocks to route to");
    if (Array.isArray(a.podBlocksOf)) for (const n of a.podBlocksOf) if (!blocks.some((b) => b.node === n)) problems.push(`${n} has no IPAM block`);
  }
  for (const node of nodes) {
    const have = byNode.get(node) ?? new Set<string>();
    const want = a.present.map(normPrefix);
    if (a.podBlocksOf !== undefined) {
      const owners = a.podBlocksOf === "all" ? null : new Set(a.podBlocksOf);
      for (const b of blocks) if (b.node !== null && b.node !== node && (owners === null || owners.has(b.node))) want.push(b.cidr);
    }
    for (const p of [...new Set(want)]) {
      expectedCount++;
      if (!have.has(p)) {
        wrong++;
        const owner = blocks.find((b) => b.cidr === p)?.node;
        problems.push(`${node}: no route to ${p}${owner ? ` (pod block of ${owner})` : ""}`);
      }
    }
    for (const p of a.absent.map(normPrefix)) {
      expectedCount++;
      if (have.has(p)) {
        wrong++;
        const r = routes.find((x) => x.node === node && normPrefix(x.prefix) === p)!;
        problems.push(`${node}: unexpected route ${p} (${r.kind}${r.nextHops.length > 0 ? ` via ${r.nextHops.join(", ")}` : ""}, from ${r.source})`);
      }
    }
  }
  const who = a.node === "all" ? `${nodes.length} nodes` : a.node;
  return {
    passed: problems.length === 0,
    expected: `${who}: ${[a.present.length ? `routes to ${listText(a.present)}` : "", a.absent.length ? `no route to ${listText(a.absent)}` : "", a.podBlocksOf !== undefined ? `routes to the pod blocks of ${a.podBlocksOf === "all" ? "every other node" : listText(a.podBlocksOf)}` : ""].filter(Boolean).join("; ")} (${expectedCount} checks)`,
    actual: problems.length === 0 ? `all ${expectedCount} hold` : `${wrong} of ${expectedCount} do not hold${problems.length > wrong ? `; ${problems.length - wrong} other problem${problems.length - wrong === 1 ? "" : "s"}` : ""}`,
    ...(problems.length > 0 ? { details: capped(problems) } : {}),
  };
}

/**
 * One line per hop: "node-1: route 10.1.3.0/26 via 192.168.2.10 (ipip) -> tunl0 [1420 B]". A long
 * path (a routing loop runs to the TTL) keeps its first and last hops around an elision.
 */
export function hopLines(p: ProbeResult, max = 24): string[] {
  const lines = p.hops.map((h) => `${h.at}: ${h.action}${h.out !== undefined ? ` -> ${h.out}` : ""}${h.size !== undefined ? ` [${h.size} B]` : ""}`);
  if (lines.length <= max) return lines;
  const head = Math.ceil((max - 1) / 2);
  const tail = max - 1 - head;
  return [...lines.slice(0, head), `... ${lines.length - head - tail} more hops ...`, ...lines.slice(lines.length - tail)];
}

function probeText(p: ProbeResult): string {
  return `${p.outcome}${p.reason !== undefined ? `: ${p.reason}` : ""}`;
}

export function evaluateReachability(a: Of<"reachable" | "unreachable">, probe: ProbeResult): Verdict {
  const reached = probe.outcome !== "dropped";
  const passed = a.kind === "reachable" ? reached : !reached;
  return {
    passed,
    expected: a.kind === "reachable" ? "delivered" : "dropped",
    actual: probeText(probe),
    details: [...hopLines(probe), ...(probe.pathMtu !== undefined ? [`path MTU ${probe.pathMtu}`] : []), ...(probe.encap !== "none" ? [`encapsulation ${probe.encap}`] : [])],
  };
}

export function evaluateMtu(a: Of<"mtu">, probe: ProbeResult): Verdict {
  return {
    passed: probe.outcome === a.expect,
    expected: `${a.flow.size}-byte packet${a.flow.df ? " with DF" : ""} ${a.expect}`,
    actual: `${probeText(probe)}${probe.pathMtu !== undefined ? ` (path MTU ${probe.pathMtu})` : ""}`,
    details: hopLines(probe),
  };
}

/** "shop/web-1" matches "shop/web-1", "shop/*" and "*". */
export function podMatches(pattern: string, pod: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("/*")) return pod.startsWith(pattern.slice(0, -1));
  return pattern === pod;
}

/** The pods a matrix covers: every pod given (in the order seen), or those matching the patterns. */
export function matrixMembers(spec: "all" | string[], pods: readonly string[]): string[] {
  if (spec === "all") return [...pods];
  return pods.filter((p) => spec.some((s) => podMatches(s, p)));
}

/** The expected verdict for one ordered pair: the default, then each entry in order (later wins). */
export function expectedVerdict(a: Of<"matrix">, from: string, to: string): "allow" | "deny" {
  let v = a.default;
  for (const e of a.expect) if (podMatches(e.from, from) && podMatches(e.to, to)) v = e.verdict;
  return v;
}

/**
 * The policy truth table: every ordered pair of distinct pods (loopback is left out, as the
 * Kubernetes e2e tests do), observed verdict against the expected one. `observe(from, to)` gives
 * the probe of that pair.
 */
export function evaluateMatrix(a: Of<"matrix">, pods: readonly string[], observe: (from: string, to: string) => ProbeResult | undefined): Verdict {
  const mismatches: string[] = [];
  const rows: string[] = [];
  let cells = 0;
  for (const from of pods) {
    let row = "";
    for (const to of pods) {
      if (from === to) {
        row += " - ";
        continue;
      }
      cells++;
      const p = observe(from, to);
      const got = p === undefined ? "deny" : p.outcome === "dropped" ? "deny" : "allow";
      const want = expectedVerdict(a, from, to);
      const mark = got === "allow" ? "." : "X";
      const differs = got !== want || p === undefined;
      if (differs) mismatches.push(`${from} -> ${to}: expected ${want}, got ${p === undefined ? "no probe" : `${got} (${probeText(p)})`}`);
      row += ` ${mark}${differs ? "!" : " "}`;
    }
    rows.push(row);
  }
  const width = Math.max(...pods.map((p) => p.length), 0);
  const table = [
    `observed (rows = client, columns = server; . allowed, X blocked, ! differs from expected):`,
    ...pods.map((p, i) => `${String(i + 1).padStart(3)} ${p.padEnd(width)} ${rows[i]}`),
  ];
  return {
    passed: mismatches.length === 0 && cells > 0,
    expected: `${cells} pod pair${cells === 1 ? "" : "s"} as the expectation says (default ${a.default}${a.expect.length > 0 ? `, ${a.expect.length} override${a.expect.length === 1 ? "" : "s"}` : ""})`,
    actual: cells === 0 ? "fewer than two pods: nothing to check" : mismatches.length === 0 ? `all ${cells} pairs as expected` : `${mismatches.length} of ${cells} pairs differ`,
    details: [...capped(mismatches), ...(pods.length <= 30 ? table : [])],
  };
}

export function evaluateIpam(a: Of<"ipam">, ipam: IpamObservation): Verdict {
  const expected: string[] = [];
  const actual: string[] = [];
  let passed = true;
  if (a.blocks) {
    const { node, ...c } = a.blocks;
    const n = ipam.blocks.filter((b) => node === undefined || affinityNode(b.affinity) === node).length;
    expected.push(`${countNoun(c, "block")}${node !== undefined ? ` affine to ${node}` : ""}`);
    actual.push(`${numberNoun(n, "block")}${node !== undefined ? ` affine to ${node}` : ""}`);
    passed = countHolds(c, n) && passed;
  }
  if (a.problems) {
    expected.push(countNoun(a.problems, "IPAM problem"));
    actual.push(numberNoun(ipam.problems.length, "IPAM problem"));
    passed = countHolds(a.problems, ipam.problems.length) && passed;
  }
  if (a.inUse) {
    expected.push(`${countNoun(a.inUse, "address", "addresses")} in use`);
    actual.push(`${numberNoun(ipam.inUse, "address", "addresses")} in use`);
    passed = countHolds(a.inUse, ipam.inUse) && passed;
  }
  const blockLines = ipam.blocks.map((b) => `block ${b.cidr}: ${affinityNode(b.affinity) ?? "no affinity"}, ${b.allocated}/${b.size} allocated`);
  return { passed, expected: expected.join(", "), actual: actual.join(", "), details: capped([...ipam.problems.map((p) => `problem: ${p}`), ...blockLines]) };
}

export interface WaitRecord {
  converged: boolean;
  /** ms from the wait's reference point to convergence (or the timeout). */
  took: number;
  /** The step that waited. */
  step: number;
}

export function evaluateConvergence(a: Of<"convergence">, last: WaitRecord | undefined): Verdict {
  const expected = a.converged ? `converged${a.under !== undefined ? ` in under ${formatDuration(a.under)}` : ""}` : "not converged";
  if (!last) return { passed: false, expected, actual: "no wait step ran before this assertion" };
  const passed = last.converged === a.converged && (a.under === undefined || !last.converged || last.took < a.under);
  return { passed, expected, actual: `${last.converged ? "converged" : "not converged"} after ${formatDuration(last.took)} (wait at step ${last.step + 1})` };
}

const COUNTER_OF: Record<MessageField, (c: Counters) => number> = {
  total: (c) => c.bgpMessages.total,
  updates: (c) => c.bgpMessages.update,
  keepalives: (c) => c.bgpMessages.keepalive,
  notifications: (c) => c.bgpMessages.notification,
  opens: (c) => c.bgpMessages.open,
  bytes: (c) => c.bgpBytes,
};

export function evaluateMessages(a: Of<"messages">, now: Counters, baseline: Counters | undefined): Verdict {
  const values = a.counts.map((c) => ({ ...c, value: COUNTER_OF[c.field](now) - (baseline ? COUNTER_OF[c.field](baseline) : 0) }));
  const since = a.since === "last-wait" ? " since the last wait" : "";
  return {
    passed: values.every((v) => countHolds(v.count, v.value)),
    expected: values.map((v) => `${v.field} ${countText(v.count)}`).join(", ") + since,
    actual: values.map((v) => `${v.field} ${v.value.toLocaleString("en-US")}`).join(", ") + since,
  };
}
