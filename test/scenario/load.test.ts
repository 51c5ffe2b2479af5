import { describe, expect, test } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { formatProblems } from "../../src/core/model/index.ts";
import { parseScenario, loadScenario, type Step } from "../../src/scenario/index.ts";
import { repoRoot } from "../helpers/paths.ts";

const topology = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: two }
segments:
  - { name: seg-a, subnet: 192.168.1.0/24 }
  - { name: seg-b, subnet: 192.168.2.0/24 }
routers:
  - name: r1
    interfaces:
      - { segment: seg-a, address: 192.168.1.1/24 }
      - { segment: seg-b, address: 192.168.2.1/24 }
nodes:
  - { name: node-1, segment: seg-a, address: 192.168.1.10/24, gateway: 192.168.1.1 }
  - { name: node-2, segment: seg-b, address: 192.168.2.10/24, gateway: 192.168.2.1 }
cluster: { podCIDR: 10.1.0.0/16 }
`;
const files = new Map<string, string>([
  ["topologies/two.yaml", topology],
  ["scenarios/policy.yaml", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: { name: deny-all }\nspec: { selector: all() }\n"],
  ["scenarios/bad-policy.yaml", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: { name: x }\nspec: { selector: all(), bogus: 1 }\n"],
]);
const reader = {
  readFile: (p: string) => {
    const t = files.get(p);
    if (t === undefined) throw new Error("no such file");
    return t;
  },
};
const head = "apiVersion: birdcage/v1\nkind: Scenario\nmetadata: { name: s }\ntopology: ../topologies/two.yaml\n";
/** Problems of a scenario body (after the 4 header lines, so line 5 is the body's first line). */
const problemsOf = (body: string, file = "scenarios/s.yaml") => formatProblems(parseScenario(head + body, file, reader).problems).trimEnd().split("\n").filter(Boolean);
const load = (body: string) => loadScenario(head + body, "scenarios/s.yaml", reader);
const pods = "steps:\n  - pods:\n      - { name: web-1, namespace: shop, node: node-1, labels: { app: web } }\n      - { name: db-1, namespace: shop, node: node-2 }\n";

describe("a valid scenario", () => {
  test("topology resolved relative to the scenario file; steps, defaults and readable names", () => {
    const s = load(
      pods +
        `  - wait: { timeout: 30s }
  - fail: { link: node-2@seg-b }
  - fail: { node: node-1, how: crash }
  - restore: { router: r1 }
  - advance: 1m30s
  - probe: { from: shop/web-1, to: shop/db-1, port: 5432 }
  - assert:
      - sessions: { established: all }
      - sessions: { node: node-1, established: { atLeast: 1 } }
      - routes: { node: node-1, present: [10.1.0.0/26], absent: [10.9.0.0/16] }
      - routes: { node: all, podBlocksOf: all }
      - reachable: { from: shop/web-1, to: shop/db-1, protocol: TCP, port: 5432 }
      - unreachable: { from: shop/web-1, to: 192.168.2.10, protocol: icmp }
      - mtu: { from: shop/web-1, to: shop/db-1, size: 1480, expect: dropped }
      - matrix: { port: 80, expect: { default: deny, "shop/* -> shop/db-1": allow } }
      - ipam: { blocks: { node: node-1, atLeast: 1 }, problems: 0 }
      - convergence: { under: 5s }
      - name: quiet after the wait
        messages: { updates: { under: 1000 }, since: last-wait }
`,
    );
    expect(s.topology.name).toBe("two");
    expect(s.topologyFile).toBe("topologies/two.yaml");
    expect(s.steps.map((x) => x.description)).toEqual([
      "create 2 pods on node-1 and node-2",
      "wait until converged (timeout 30s)",
      "fail link node-2@seg-b",
      "fail node node-1 (crash)",
      "restore router r1",
      "advance 1m30s",
      "probe shop/web-1 -> shop/db-1 tcp/5432",
      "assert 11 facts",
    ]);
    expect(s.steps[5]).toMatchObject({ kind: "advance", ms: 90_000 });
    expect(s.steps[3]).toMatchObject({ kind: "fail", target: { kind: "node", name: "node-1" }, options: { how: "crash" } });
    const assert = s.steps[7] as Extract<Step, { kind: "assert" }>;
    expect(assert.assertions.map((a) => a.name)).toEqual([
      "no unestablished BGP sessions",
      "at least 1 BGP session established on node-1",
      "node-1 has a route to 10.1.0.0/26 and has no route to 10.9.0.0/16",
      "every node has routes to the pod blocks of every other node",
      "flow shop/web-1 -> shop/db-1 tcp/5432 succeeds",
      "flow shop/web-1 -> 192.168.2.10 icmp fails",
      "1480-byte icmp packet shop/web-1 -> shop/db-1 with DF is dropped",
      "policy matrix over all pods on tcp/80 matches",
      "node-1 has at least 1 IPAM block, no IPAM problems",
      "routing converged in under 5s",
      "quiet after the wait",
    ]);
    expect(assert.assertions[4]).toMatchObject({ kind: "reachable", flow: { from: { pod: "shop/web-1" }, to: { pod: "shop/db-1" }, protocol: "tcp", port: 5432 }, source: "scenarios/s.yaml:20" });
    expect(assert.assertions[5]).toMatchObject({ flow: { to: { address: "192.168.2.10" }, protocol: "icmp" } });
    expect(assert.assertions[7]).toMatchObject({ kind: "matrix", pods: "all", default: "deny", expect: [{ from: "shop/*", to: "shop/db-1", verdict: "allow" }] });
    expect(assert.assertions[10]).toMatchObject({ name: "quiet after the wait", kind: "messages", since: "last-wait", counts: [{ field: "updates", count: { under: 1000 } }] });
  });

  test("pod generator, resources from files and inline, inline topology", () => {
    const text = `apiVersion: birdcage/v1
kind: Scenario
metadata: { name: gen }
topology:
  metadata: { name: inline }
  segments: [ { name: seg-a, subnet: 10.0.0.0/24 } ]
  nodes:
    - { name: n1, segment: seg-a, address: 10.0.0.10/24 }
    - { name: n2, segment: seg-a, address: 10.0.0.11/24 }
seed: 7
steps:
  - pods: { perNode: 2, namespace: load, namePrefix: app, labels: { app: load } }
  - apply:
      - policy.yaml
      - apiVersion: v1
        kind: Namespace
        metadata: { name: load }
  - delete: policy.yaml
  - deletePods: [load/app-n1-1]
`;
    const s = loadScenario(text, "scenarios/gen.yaml", reader);
    expect(s.seed).toBe(7);
    expect(s.topology.name).toBe("inline");
    expect(s.topologyFile).toBe("scenarios/gen.yaml");
    const p = s.steps[0] as Extract<Step, { kind: "pods" }>;
    expect(p.pods.map((x) => `${x.namespace}/${x.name}@${x.node}`)).toEqual(["load/app-n1-1@n1", "load/app-n1-2@n1", "load/app-n2-1@n2", "load/app-n2-2@n2"]);
    expect(p.description).toBe("create 2 pods per node on all 2 nodes (4 in load)");
    expect(s.steps[1]).toMatchObject({ kind: "apply", description: "apply 2 resources (GlobalNetworkPolicy deny-all, Namespace load)" });
    expect(s.steps[2]).toMatchObject({ kind: "delete", description: "delete 1 resource (GlobalNetworkPolicy deny-all)" });
    expect(s.steps[3]).toMatchObject({ kind: "deletePods", pods: [{ namespace: "load", name: "app-n1-1" }] });
  });

  test("every example in scenarios/ loads", () => {
    const dir = join(repoRoot, "scenarios");
    const fsReader = { readFile: (p: string) => readFileSync(p, "utf8") };
    const names = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
    expect(names).toContain("quickstart-link-failure.yaml");
    for (const f of names) {
      const r = parseScenario(readFileSync(join(dir, f), "utf8"), join(dir, f), fsReader);
      expect(formatProblems(r.problems)).toBe("");
    }
  });
});

describe("errors at file:line:col", () => {
  test("header: wrong kind, unknown field, bad seed, no steps", () => {
    expect(formatProblems(parseScenario("apiVersion: birdcage/v1\nkind: Scenari\nmetadata: { name: s }\ntopology: t.yaml\nsteps: [ { advance: 1s } ]\n", "s.yaml", reader).problems)).toBe('s.yaml:2:7: kind: expected "Scenario", got string "Scenari"\n');
    expect(problemsOf("seed: -1\nsteps: []\nextra: true\n")).toEqual([
      expect.stringMatching(/^scenarios\/s\.yaml:5:7: seed: /),
      "scenarios/s.yaml:6:8: steps: a scenario needs at least one step",
      expect.stringMatching(/^scenarios\/s\.yaml:7:1: extra: unknown field; expected one of: apiVersion, kind, metadata, topology, seed, steps/),
    ]);
  });

  test("topology file missing or invalid", () => {
    expect(formatProblems(parseScenario(head.replace("two.yaml", "nope.yaml") + "steps: [ { advance: 1s } ]\n", "scenarios/s.yaml", reader).problems)).toBe(
      "scenarios/s.yaml:4:11: topology: cannot read topologies/nope.yaml: no such file\n",
    );
    files.set("topologies/bad.yaml", topology.replace("node-2, segment: seg-b", "node-2, segment: seg-z"));
    expect(problemsOf("steps: [ { advance: 1s } ]\n").length).toBe(0);
    const bad = formatProblems(parseScenario(head.replace("two.yaml", "bad.yaml") + "steps: [ { advance: 1s } ]\n", "scenarios/s.yaml", reader).problems);
    expect(bad).toMatch(/^topologies\/bad\.yaml:14:\d+: .*seg-z/);
  });

  test("an inline topology's problems point into the scenario file, under topology", () => {
    const text = "apiVersion: birdcage/v1\nkind: Scenario\nmetadata: { name: s }\ntopology:\n  metadata: { name: t }\n  segments: [ { name: a, subnet: 10.0.0.0/24 } ]\n  nodes: [ { name: n1, segment: b, address: 10.0.0.5/24 } ]\n  extra: 1\nsteps: [ { advance: 1s } ]\n";
    expect(formatProblems(parseScenario(text, "s.yaml", reader).problems).trimEnd().split("\n")).toEqual([expect.stringMatching(/^s\.yaml:8:3: topology\.extra: unknown field; expected one of: /)]);
    const text2 = text.replace("  extra: 1\n", "");
    expect(formatProblems(parseScenario(text2, "s.yaml", reader).problems)).toBe('s.yaml:7:33: topology.segment: unknown segment "b" (segments: a)\n');
  });

  test("unknown step kind, two kinds in one item, not a mapping", () => {
    expect(problemsOf("steps:\n  - fial: { node: node-1 }\n  - { wait: {}, advance: 1s }\n  - just text\n")).toEqual([
      "scenarios/s.yaml:6:5: steps[0].fial: unknown step; expected one of: wait, pods, deletePods, apply, delete, fail, restore, advance, probe, assert",
      "scenarios/s.yaml:7:17: steps[1]: one step per list item, found wait and advance",
      "scenarios/s.yaml:8:5: steps[2]: expected a mapping with one step, e.g. - wait: { timeout: 60s }",
    ]);
  });

  test("bad values: durations, ports, protocols, sizes, unknown fields inside a step", () => {
    expect(problemsOf("steps:\n  - wait: { timeout: 60 }\n  - advance: 5 sec\n  - wait: { timout: 5s }\n")).toEqual([
      "scenarios/s.yaml:6:22: steps[0].wait.timeout: expected a duration such as 500ms, 5s, 2m or 1m30s",
      'scenarios/s.yaml:7:14: steps[1].advance: expected a duration such as 500ms, 5s, 2m or 1m30s, got "5 sec"',
      "scenarios/s.yaml:8:13: steps[2].wait.timout: unknown field; expected one of: converged, timeout",
    ]);
    expect(problemsOf(pods + "  - probe: { from: shop/web-1, to: shop/db-1, protocol: sctp, port: 70000, size: 10 }\n  - probe: { from: shop/web-1, to: shop/db-1 }\n")).toEqual([
      'scenarios/s.yaml:9:57: steps[1].probe.protocol: expected one of "tcp", "udp", "icmp", got string "sctp"',
      "scenarios/s.yaml:9:69: steps[1].probe.port: ports are 1-65535",
      "scenarios/s.yaml:9:82: steps[1].probe.size: a packet is at least 20 bytes (the IPv4 header)",
      "scenarios/s.yaml:10:5: steps[2].probe.port: a tcp flow needs a port",
    ]);
  });

  test("references: pods on unknown nodes, unknown links, nodes and routers", () => {
    expect(problemsOf("steps:\n  - pods: [ { name: a, node: node-9 }, { name: b, node: r1 } ]\n  - fail: { link: node-1@seg-b }\n  - fail: { link: node-7@seg-a }\n  - fail: { link: node-1@seg-q }\n  - fail: { node: r1 }\n  - restore: { router: node-1 }\n  - fail: { link: node-1 }\n")).toEqual([
      'scenarios/s.yaml:6:30: steps[0].pods[0].node: unknown node "node-9"',
      'scenarios/s.yaml:6:57: steps[0].pods[1].node: unknown node "r1" (a router; pods run on nodes)',
      "scenarios/s.yaml:7:19: steps[1].fail.link: node-1 is not attached to seg-b (its links: node-1@seg-a)",
      'scenarios/s.yaml:8:19: steps[2].fail.link: unknown node or router "node-7"',
      'scenarios/s.yaml:9:19: steps[3].fail.link: unknown segment "seg-q"',
      'scenarios/s.yaml:10:19: steps[4].fail.node: unknown node "r1" (a router: use router:)',
      'scenarios/s.yaml:11:24: steps[5].restore.router: unknown router "node-1" (a node: use node:)',
      'scenarios/s.yaml:12:19: steps[6].fail.link: expected an attachment as "element@segment", e.g. node-3@seg-b',
    ]);
  });

  test("probes and assertions naming pods that do not exist (yet, or any more)", () => {
    expect(
      problemsOf(
        "steps:\n  - probe: { from: shop/web-1, to: node-2, protocol: icmp }\n" +
          pods.replace("steps:\n", "") +
          "  - deletePods: [shop/db-1, shop/nope]\n  - assert:\n      - reachable: { from: shop/web-1, to: shop/db-1, port: 80 }\n      - unreachable: { from: shop/web-1, to: moon, protocol: icmp }\n",
      ),
    ).toEqual([
      "scenarios/s.yaml:6:20: steps[0].probe.from: pod shop/web-1 is created later (step 2), not before this step",
      "scenarios/s.yaml:10:29: steps[2].deletePods[1]: unknown pod shop/nope (pods are made by an earlier pods step)",
      "scenarios/s.yaml:12:44: steps[3].assert[0].reachable.to: pod shop/db-1 was deleted at scenarios/s.yaml:10",
      'scenarios/s.yaml:13:46: steps[3].assert[1].unreachable.to: unknown endpoint "moon": expected a pod "namespace/name", a node or router of the topology, or an IP address',
    ]);
    expect(problemsOf(pods + "  - pods: [ { name: web-1, namespace: shop, node: node-2 } ]\n")).toEqual(["scenarios/s.yaml:9:13: steps[1].pods[0]: pod shop/web-1 already exists (made at scenarios/s.yaml:7)"]);
  });

  test("assertion problems: unknown kind, bad counts, prefixes, matrix keys, convergence without a wait", () => {
    expect(
      problemsOf(
        pods +
          `  - assert:
      - sesions: { established: all }
      - sessions: { established: some }
      - routes: { node: node-1, present: [10.1.0.1/26] }
      - routes: { node: node-3, absent: [10.1.0.0/26] }
      - matrix: { port: 80, expect: { "shop/web-1 => shop/db-1": allow } }
      - matrix: { port: 80, expect: { "shop/web-1 -> shop/x": allow } }
      - convergence: { under: 1s }
      - ipam: { blocks: { node: node-1 } }
      - messages: { updates: -1 }
      - { name: "", sessions: {} }
`,
      ),
    ).toEqual([
      "scenarios/s.yaml:10:9: steps[1].assert[0].sesions: unknown assertion; expected one of: sessions, routes, reachable, unreachable, matrix, mtu, ipam, convergence, messages, name",
      'scenarios/s.yaml:11:34: steps[1].assert[1].sessions.established: expected "all", got string "some"',
      'scenarios/s.yaml:12:43: steps[1].assert[2].routes.present[0]: "10.1.0.1/26" has host bits set; did you mean 10.1.0.0/26?',
      'scenarios/s.yaml:13:25: steps[1].assert[3].routes.node: unknown node or router "node-3"',
      'scenarios/s.yaml:14:39: steps[1].assert[4].matrix.expect: expected "FROM -> TO" (pods "namespace/name", patterns "namespace/*" or "*") or "default", got "shop/web-1 => shop/db-1"',
      "scenarios/s.yaml:15:39: steps[1].assert[5].matrix.expect: unknown pod shop/x (pods are made by an earlier pods step)",
      "scenarios/s.yaml:16:9: steps[1].assert[6].convergence: there is no wait step before this assertion (convergence is measured by wait)",
      "scenarios/s.yaml:17:25: steps[1].assert[7].ipam.blocks: expected at least one of exactly, atLeast, atMost, under, over",
      "scenarios/s.yaml:18:30: steps[1].assert[8].messages.updates: expected a number >= 0",
      "scenarios/s.yaml:19:17: steps[1].assert[9].name: expected a non-empty string",
    ]);
  });

  test("a pods generator that would make too many pods", () => {
    expect(problemsOf("steps:\n  - pods: { perNode: 1000, nodes: [node-1, node-2] }\n")).toEqual([]);
    files.set("topologies/big.yaml", "apiVersion: birdcage/v1\nkind: Topology\nmetadata: { name: big }\ngenerate: { nodes: 300, rackSubnet: 10.0.0.0/16 }\n");
    const r = parseScenario(head.replace("two.yaml", "big.yaml") + "steps:\n  - pods: { perNode: 1000 }\n", "scenarios/s.yaml", reader);
    expect(formatProblems(r.problems)).toBe("scenarios/s.yaml:6:22: steps[0].pods.perNode: 1000 pods on each of 300 nodes is 300,000 pods; at most 200,000 per step\n");
  });

  test("resources: unreadable file and a bad resource point into their own files", () => {
    expect(problemsOf("steps:\n  - apply: [ missing.yaml, bad-policy.yaml ]\n  - apply: { apiVersion: v1, kind: Namespace, metadata: { name: Bad_Name } }\n")).toEqual([
      expect.stringMatching(/^scenarios\/bad-policy\.yaml:4:\d+: spec\.bogus: unknown field/),
      "scenarios/s.yaml:6:14: steps[0].apply[0]: cannot read scenarios/missing.yaml: no such file",
      "scenarios/s.yaml:7:65: metadata.name: must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character",
      "scenarios/s.yaml:7:65: metadata.name: a namespace name must be a DNS-1123 label (lower case alphanumeric characters or '-', at most 63)",
    ]);
  });

  test("YAML syntax errors and empty files", () => {
    expect(problemsOf("steps: [\n")[0]).toMatch(/^scenarios\/s\.yaml:\d+:\d+: invalid YAML/);
    expect(formatProblems(parseScenario("", "e.yaml", reader).problems)).toBe("e.yaml:1:1: empty file: expected a Scenario (apiVersion: birdcage/v1, kind: Scenario)\n");
  });
});
