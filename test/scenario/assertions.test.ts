import { describe, expect, test } from "@jest/globals";
import type { AssertionSpec, Counters, IpamObservation, ProbeResult, RouteObservation, SessionObservation, TopologyFacts } from "../../src/scenario/index.ts";
import {
  countHolds,
  countText,
  evaluateConvergence,
  evaluateIpam,
  evaluateMatrix,
  evaluateMessages,
  evaluateMtu,
  evaluateReachability,
  evaluateRoutes,
  evaluateSessions,
  expectedVerdict,
  formatDuration,
  hopLines,
  matrixMembers,
  parseDuration,
} from "../../src/scenario/index.ts";

type Of<K extends AssertionSpec["kind"]> = Extract<AssertionSpec, { kind: K }>;
const named = { name: "x", source: "s.yaml:1" };

const facts: TopologyFacts = {
  nodes: ["node-1", "node-2", "node-3"],
  routers: ["r1"],
  nameByAddress: new Map([
    ["192.168.1.10", "node-1"],
    ["192.168.1.11", "node-2"],
    ["192.168.2.10", "node-3"],
  ]),
  peerings: [
    { a: "node-1", b: "node-2", source: "mesh", type: "iBGP", reflected: false },
    { a: "node-1", b: "node-3", source: "mesh", type: "iBGP", reflected: false },
    { a: "node-2", b: "node-3", source: "mesh", type: "iBGP", reflected: false },
  ],
};

const session = (node: string, peer: string, state: SessionObservation["state"] = "Established"): SessionObservation => ({ node, peer, state, type: "iBGP", prefixesReceived: 1, prefixesSent: 1 });
const fullMesh = (): SessionObservation[] => [
  session("node-1", "192.168.1.11"),
  session("node-1", "192.168.2.10"),
  session("node-2", "192.168.1.10"),
  session("node-2", "192.168.2.10"),
  session("node-3", "192.168.1.10"),
  session("node-3", "192.168.1.11"),
];

describe("durations and counts", () => {
  test("parse and format", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("5")).toEqual({ error: expect.stringContaining("expected a duration") });
    expect(parseDuration("5 s")).toEqual({ error: expect.any(String) });
    expect(parseDuration("")).toEqual({ error: expect.any(String) });
    expect([0, 250, 1500, 60_000, 90_000, 3_600_000, 0.5, 88_980.2, 1.2345, 61_000.5].map(formatDuration)).toEqual(["0s", "250ms", "1.5s", "1m", "1m30s", "1h", "0.5ms", "1m28.98s", "1.234ms", "1m1s"]);
    // What it prints, it reads back.
    for (const ms of [250, 1500, 90_000, 3_600_000, 88_980, 61_500]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
  test("count bounds", () => {
    expect(countHolds({ under: 3 }, 2)).toBe(true);
    expect(countHolds({ under: 3 }, 3)).toBe(false);
    expect(countHolds({ atLeast: 1, atMost: 2 }, 3)).toBe(false);
    expect(countHolds({ exactly: 0 }, 0)).toBe(true);
    expect(countHolds({ over: 5 }, 5)).toBe(false);
    expect(countText({ atLeast: 1, under: 1000 })).toBe("at least 1 and fewer than 1,000");
  });
});

describe("sessions", () => {
  const all: Of<"sessions"> = { ...named, kind: "sessions", established: "all" };
  test("every configured session up passes", () => {
    const v = evaluateSessions(all, fullMesh(), facts);
    expect(v).toEqual({ passed: true, expected: "every BGP session established (3 configured)", actual: "3 of 3 sessions established" });
  });
  test("a session not established is named with its peer and state", () => {
    const s = fullMesh();
    s[1] = session("node-1", "192.168.2.10", "Active");
    const v = evaluateSessions(all, s, facts);
    expect(v.passed).toBe(false);
    expect(v.actual).toBe("2 of 3 sessions established");
    expect(v.details).toEqual(["not established: node-1 -> node-3 (192.168.2.10): Active"]);
  });
  test("a configured session the backend does not report fails", () => {
    const s = fullMesh().filter((x) => !(x.node === "node-2" && x.peer === "192.168.2.10") && !(x.node === "node-3" && x.peer === "192.168.1.11"));
    const v = evaluateSessions(all, s, facts);
    expect(v.passed).toBe(false);
    expect(v.details).toEqual(["configured but not seen: node-2 -- node-3 (mesh)"]);
    expect(evaluateSessions(all, [], facts).details?.[0]).toBe("the backend reports no BGP sessions");
  });
  test("counts, per node", () => {
    const s = fullMesh();
    s[0] = session("node-1", "192.168.1.11", "Connect");
    const v = evaluateSessions({ ...named, kind: "sessions", node: "node-1", established: { atLeast: 2 } }, s, facts);
    expect(v).toMatchObject({ passed: false, expected: "at least 2 BGP sessions established on node-1", actual: "1 of 2 sessions established on node-1" });
    expect(evaluateSessions({ ...named, kind: "sessions", node: "node-2", established: { exactly: 2 } }, s, facts).passed).toBe(true);
  });
});

describe("routes", () => {
  const ipam: IpamObservation = {
    blocks: [
      { cidr: "10.1.0.0/26", affinity: "host:node-1", allocated: 1, size: 64 },
      { cidr: "10.1.0.64/26", affinity: "host:node-2", allocated: 1, size: 64 },
      { cidr: "10.1.0.128/26", affinity: "node-3", allocated: 1, size: 64 },
    ],
    inUse: 3,
    problems: [],
  };
  const route = (node: string, prefix: string): RouteObservation => ({ node, prefix, kind: "unicast", nextHops: ["192.168.1.1"], encap: "ipip", source: "bgp" });
  const complete = (): RouteObservation[] =>
    facts.nodes.flatMap((n) => ipam.blocks.map((b, i) => (b.affinity?.endsWith(n) ? { ...route(n, b.cidr), kind: "blackhole" as const, nextHops: [], source: "ipam" } : route(n, ipam.blocks[i]!.cidr))));

  test("pod blocks of every other node, on every node", () => {
    const a: Of<"routes"> = { ...named, kind: "routes", node: "all", present: [], absent: [], podBlocksOf: "all" };
    expect(evaluateRoutes(a, complete(), ipam, facts)).toEqual({ passed: true, expected: "3 nodes: routes to the pod blocks of every other node (6 checks)", actual: "all 6 hold" });
    const missing = complete().filter((r) => !(r.node === "node-3" && r.prefix === "10.1.0.64/26"));
    const v = evaluateRoutes(a, missing, ipam, facts);
    expect(v).toMatchObject({ passed: false, actual: "1 of 6 do not hold", details: ["node-3: no route to 10.1.0.64/26 (pod block of node-2)"] });
  });
  test("present and absent prefixes on one node; unexpected routes explained", () => {
    const a: Of<"routes"> = { ...named, kind: "routes", node: "node-1", present: ["10.1.0.64/26", "10.9.0.0/16"], absent: ["10.1.0.128/26"] };
    const v = evaluateRoutes(a, complete(), undefined, facts);
    expect(v.passed).toBe(false);
    expect(v.details).toEqual(["node-1: no route to 10.9.0.0/16", "node-1: unexpected route 10.1.0.128/26 (unicast via 192.168.1.1, from bgp)"]);
  });
  test("pod blocks of a node that has none, or no blocks at all", () => {
    const a: Of<"routes"> = { ...named, kind: "routes", node: "node-1", present: [], absent: [], podBlocksOf: ["node-3"] };
    expect(evaluateRoutes(a, [], { ...ipam, blocks: ipam.blocks.slice(0, 2) }, facts).details).toEqual(["node-3 has no IPAM block"]);
    expect(evaluateRoutes({ ...a, podBlocksOf: "all" }, [], { blocks: [], inUse: 0, problems: [] }, facts)).toMatchObject({ passed: false, details: [expect.stringContaining("no IPAM blocks exist yet")] });
  });
});

const delivered: ProbeResult = {
  outcome: "delivered",
  hops: [
    { at: "node-1", action: "egress policy: no policy applies, allowed" },
    { at: "node-1", action: "route 10.1.0.128/26 via 192.168.2.10 (ipip, +20 bytes)", out: "tunl0", size: 120 },
    { at: "node-3", action: "delivered to shop/db-1" },
  ],
  pathMtu: 1480,
  encap: "ipip",
};
const dropped: ProbeResult = { outcome: "dropped", reason: "dropped at node-3: denied by policy shop/db-only (ingress)", dropKind: "policy", hops: [{ at: "node-3", action: "ingress policy denied" }], encap: "none" };

describe("flows", () => {
  const flow = { from: { pod: "shop/web-1" }, to: { pod: "shop/db-1" }, protocol: "tcp" as const, port: 5432 };
  test("reachable / unreachable, with the hops as details", () => {
    expect(evaluateReachability({ ...named, kind: "reachable", flow }, delivered)).toEqual({
      passed: true,
      expected: "delivered",
      actual: "delivered",
      details: [
        "node-1: egress policy: no policy applies, allowed",
        "node-1: route 10.1.0.128/26 via 192.168.2.10 (ipip, +20 bytes) -> tunl0 [120 B]",
        "node-3: delivered to shop/db-1",
        "path MTU 1480",
        "encapsulation ipip",
      ],
    });
    const v = evaluateReachability({ ...named, kind: "reachable", flow }, dropped);
    expect(v).toMatchObject({ passed: false, actual: "dropped: dropped at node-3: denied by policy shop/db-only (ingress)", details: ["node-3: ingress policy denied"] });
    expect(evaluateReachability({ ...named, kind: "unreachable", flow }, dropped).passed).toBe(true);
  });
  test("a long path keeps its first and last hops", () => {
    const loop: ProbeResult = { outcome: "dropped", reason: "TTL exceeded", dropKind: "ttl", encap: "none", hops: Array.from({ length: 64 }, (_, i) => ({ at: i % 2 ? "r1" : "node-1", action: `hop ${i + 1}` })) };
    const lines = hopLines(loop);
    expect(lines).toHaveLength(24);
    expect(lines[0]).toBe("node-1: hop 1");
    expect(lines[12]).toBe("... 41 more hops ...");
    expect(lines[23]).toBe("r1: hop 64");
  });
  test("mtu outcome must match", () => {
    const big = { ...flow, protocol: "icmp" as const, size: 1480, df: true };
    const v = evaluateMtu({ ...named, kind: "mtu", flow: big, expect: "dropped" }, { ...dropped, reason: "dropped at node-1: 1480 > path MTU 1460 with DF", dropKind: "mtu", pathMtu: 1460 });
    expect(v).toMatchObject({ passed: true, expected: "1480-byte packet with DF dropped", actual: "dropped: dropped at node-1: 1480 > path MTU 1460 with DF (path MTU 1460)" });
    expect(evaluateMtu({ ...named, kind: "mtu", flow: big, expect: "fragmented" }, delivered).passed).toBe(false);
  });
});

describe("policy matrix", () => {
  const pods = ["shop/db-1", "shop/web-1", "shop/web-2", "tools/curl"];
  const a: Of<"matrix"> = {
    ...named,
    kind: "matrix",
    pods: "all",
    protocol: "tcp",
    port: 5432,
    default: "allow",
    expect: [
      { from: "*", to: "shop/db-1", verdict: "deny" },
      { from: "shop/web-1", to: "shop/db-1", verdict: "allow" },
    ],
  };
  test("expectations: default first, later entries win; patterns", () => {
    expect(expectedVerdict(a, "shop/web-1", "shop/db-1")).toBe("allow");
    expect(expectedVerdict(a, "shop/web-2", "shop/db-1")).toBe("deny");
    expect(expectedVerdict(a, "tools/curl", "shop/web-2")).toBe("allow");
    expect(matrixMembers(["shop/*"], pods)).toEqual(["shop/db-1", "shop/web-1", "shop/web-2"]);
    expect(matrixMembers("all", pods)).toEqual(pods);
  });
  test("observed cells compared; loopback ignored; mismatches listed and marked in the table", () => {
    const truth = (from: string, to: string) => to !== "shop/db-1" || from === "shop/web-1";
    const ok = evaluateMatrix(a, pods, (f, t) => (truth(f, t) ? delivered : dropped));
    expect(ok).toMatchObject({ passed: true, actual: "all 12 pairs as expected" });
    // tools/curl reaches the database although it should not.
    const v = evaluateMatrix(a, pods, (f, t) => (truth(f, t) || f === "tools/curl" ? delivered : dropped));
    expect(v.passed).toBe(false);
    expect(v.actual).toBe("1 of 12 pairs differ");
    expect(v.details).toEqual([
      "tools/curl -> shop/db-1: expected deny, got allow (delivered)",
      "observed (rows = client, columns = server; . allowed, X blocked, ! differs from expected):",
      "  1 shop/db-1   -  .  .  . ",
      "  2 shop/web-1  .  -  .  . ",
      "  3 shop/web-2  X  .  -  . ",
      "  4 tools/curl  .! .  .  - ",
    ]);
  });
  test("a matrix with fewer than two pods checks nothing and fails", () => {
    expect(evaluateMatrix(a, ["shop/db-1"], () => delivered)).toMatchObject({ passed: false, actual: "fewer than two pods: nothing to check" });
  });
});

describe("ipam, convergence, messages", () => {
  const ipam: IpamObservation = { blocks: [{ cidr: "10.1.0.0/26", affinity: "host:node-1", allocated: 2, size: 64 }], inUse: 2, problems: ["address 10.1.0.5 allocated without a handle"] };
  test("ipam blocks per node, problems, addresses in use", () => {
    expect(evaluateIpam({ ...named, kind: "ipam", blocks: { node: "node-1", atLeast: 1 } }, ipam)).toMatchObject({ passed: true, expected: "at least 1 block affine to node-1", actual: "1 block affine to node-1" });
    const v = evaluateIpam({ ...named, kind: "ipam", blocks: { node: "node-2", atLeast: 1 }, problems: { exactly: 0 }, inUse: { exactly: 2 } }, ipam);
    expect(v).toMatchObject({ passed: false, actual: "0 blocks affine to node-2, 1 IPAM problem, 2 addresses in use" });
    expect(v.details).toEqual(["problem: address 10.1.0.5 allocated without a handle", "block 10.1.0.0/26: node-1, 2/64 allocated"]);
  });
  test("convergence uses the last wait", () => {
    const a: Of<"convergence"> = { ...named, kind: "convergence", converged: true, under: 5000 };
    expect(evaluateConvergence(a, { converged: true, took: 1234, step: 2 })).toEqual({ passed: true, expected: "converged in under 5s", actual: "converged after 1.234s (wait at step 3)" });
    expect(evaluateConvergence(a, { converged: true, took: 5000, step: 2 }).passed).toBe(false);
    expect(evaluateConvergence(a, { converged: false, took: 60000, step: 0 })).toMatchObject({ passed: false, actual: "not converged after 1m (wait at step 1)" });
    expect(evaluateConvergence(a, undefined).passed).toBe(false);
  });
  test("messages since the start or the last wait", () => {
    const c = (update: number, bytes: number): Counters => ({ bgpMessages: { total: update + 10, open: 2, update, keepalive: 8, notification: 0, routeRefresh: 0 }, bgpBytes: bytes });
    const a: Of<"messages"> = { ...named, kind: "messages", since: "last-wait", counts: [{ field: "updates", count: { under: 100 } }, { field: "bytes", count: { atMost: 5000 } }] };
    expect(evaluateMessages(a, c(150, 9000), c(60, 5000))).toEqual({ passed: true, expected: "updates fewer than 100, bytes at most 5,000 since the last wait", actual: "updates 90, bytes 4,000 since the last wait" });
    expect(evaluateMessages({ ...a, since: "start" }, c(150, 9000), undefined).passed).toBe(false);
  });
});
