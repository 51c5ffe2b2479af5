import { describe, expect, test } from "@jest/globals";
import { loadScenario, MAX_SAMPLES_PER_STEP, runScenario, type Scenario } from "../../src/scenario/index.ts";
import { ScriptedTestBackend, type ScriptOptions } from "./scripted-backend.ts";

const topology = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: three }
segments: [ { name: seg-a, subnet: 192.168.1.0/24 } ]
nodes:
  - { name: node-1, segment: seg-a, address: 192.168.1.10/24 }
  - { name: node-2, segment: seg-a, address: 192.168.1.11/24 }
  - { name: node-3, segment: seg-a, address: 192.168.1.12/24 }
cluster: { podCIDR: 10.1.0.0/16 }
`;
const reader = { readFile: (p: string) => (p === "t.yaml" ? topology : (() => { throw new Error("no such file"); })()) };
const scenario = (steps: string): Scenario => loadScenario(`apiVersion: birdcage/v1\nkind: Scenario\nmetadata: { name: s }\ntopology: t.yaml\nseed: 3\nsteps:\n${steps}`, "s.yaml", reader);

const story = `  - wait: { timeout: 10s }
  - assert:
      - sessions: { established: all }
      - convergence: { under: 2s }
  - pods:
      - { name: web-1, namespace: shop, node: node-1 }
      - { name: db-1, namespace: shop, node: node-3 }
  - wait: { timeout: 10s }
  - probe: { from: shop/web-1, to: shop/db-1, port: 5432 }
  - assert:
      - routes: { node: all, podBlocksOf: all }
      - reachable: { from: shop/web-1, to: shop/db-1, port: 5432 }
      - mtu: { from: shop/web-1, to: shop/db-1, size: 1500, expect: dropped }
      - ipam: { blocks: { atLeast: 2 }, problems: 0, inUse: 2 }
      - matrix: { port: 5432, expect: { default: allow } }
  - fail: { node: node-3 }
  - wait: { timeout: 10s }
  - assert:
      - unreachable: { from: shop/web-1, to: shop/db-1, port: 5432 }
      - messages: { updates: { atMost: 1 }, since: last-wait }
  - restore: { node: node-3 }
  - advance: 3s
  - assert:
      - sessions: { established: all }
`;

describe("runScenario with the scripted test backend", () => {
  test("a passing run: steps in order, assertions named, waits measured, probes kept", async () => {
    const b = new ScriptedTestBackend();
    const r = await runScenario(scenario(story), b, { seed: 3 });
    expect(r.assertions.filter((a) => !a.passed)).toEqual([]);
    expect(r.passed).toBe(true);
    expect(r.mode).toBe("sim");
    expect(r.seed).toBe(3);
    expect(r.scenario).toEqual({ name: "s", file: "s.yaml" });
    expect(r.topology).toEqual({ name: "three", file: "t.yaml", nodes: 3, routers: 0, segments: 1 });
    expect(r.assertions.map((a) => `${a.step}:${a.kind}:${a.name}`)).toEqual([
      "0:wait:routing converges within 10s (wait at step 1)",
      "1:sessions:no unestablished BGP sessions",
      "1:convergence:routing converged in under 2s",
      "3:wait:routing converges within 10s (wait at step 4)",
      "5:routes:every node has routes to the pod blocks of every other node",
      "5:reachable:flow shop/web-1 -> shop/db-1 tcp/5432 succeeds",
      "5:mtu:1500-byte icmp packet shop/web-1 -> shop/db-1 with DF is dropped",
      "5:ipam:the cluster has at least 2 IPAM blocks, no IPAM problems, exactly 2 addresses in use",
      "5:matrix:policy matrix over all pods on tcp/5432 matches",
      "7:wait:routing converges within 10s (wait at step 8)",
      "8:unreachable:flow shop/web-1 -> shop/db-1 tcp/5432 fails",
      "8:messages:at most 1 BGP UPDATE message since the last wait",
      "11:sessions:no unestablished BGP sessions",
    ]);
    expect(r.assertions[2]).toMatchObject({ expected: "converged in under 2s", actual: "converged after 1.5s (wait at step 1)", at: 1500, source: "s.yaml:10" });
    expect(r.steps.map((s) => [s.kind, s.start, s.end])).toEqual([
      ["wait", 0, 1500],
      ["assert", 1500, 1500],
      ["pods", 1500, 1500],
      ["wait", 1500, 1800],
      ["probe", 1800, 1800],
      ["assert", 1800, 1800],
      ["fail", 1800, 1800],
      ["wait", 1800, 2600],
      ["assert", 2600, 2600],
      ["restore", 2600, 2600],
      ["advance", 2600, 5600],
      ["assert", 5600, 5600],
    ]);
    expect(r.steps[3]).toMatchObject({ description: "wait until converged (timeout 10s): converged after 300ms", convergence: { converged: true, took: 300 } });
    expect(r.steps[4]!.description).toBe("probe shop/web-1 -> shop/db-1 tcp/5432: delivered");
    expect(r.probes).toEqual([{ name: "shop/web-1 -> shop/db-1 tcp/5432", at: 1800, outcome: "delivered", hops: expect.any(Array), pathMtu: 1480, encap: "ipip" }]);
    expect(r.duration).toBe(5600);
    expect(r.final.sessions).toHaveLength(6);
    expect(r.final.sessions.map((s) => s.node)).toEqual(["node-1", "node-1", "node-2", "node-2", "node-3", "node-3"]);
    expect(r.final.ipam.inUse).toBe(2);
    expect(b.stopped).toBe(1);
  });

  test("samples at start, after steps, and every sample period during waits and advances; identical repeats left out", async () => {
    const r = await runScenario(scenario(story), new ScriptedTestBackend(), { seed: 3, samplePeriodMs: 500 });
    const ts = r.samples.map((s) => s.t);
    // 1500 twice (the pods step adds a block: one more UPDATE), 1800 twice (node-3 fails), 2600 twice
    // (restore); the repeats after the assert steps, identical, are left out.
    expect(ts).toEqual([0, 500, 1000, 1500, 1500, 1800, 1800, 2300, 2600, 2600, 3100, 3600, 4100, 4600, 5100, 5600]);
    expect(r.samples[0]).toEqual({ t: 0, sessionsEstablished: 0, routes: 0, bgpMessages: 0, perNode: { "node-1": { sessions: 0, routes: 0 }, "node-2": { sessions: 0, routes: 0 }, "node-3": { sessions: 0, routes: 0 } } });
    expect(r.samples[3]).toMatchObject({ t: 1500, sessionsEstablished: 3 });
    // With node-3 failed its sessions drop, and come back 1.2 s after the restore.
    expect(r.samples.find((s) => s.t === 2300)!.sessionsEstablished).toBe(1);
    expect(r.samples.find((s) => s.t === 4100)!.sessionsEstablished).toBe(3);
  });

  test("the backend's sample() is used when it has one; per-node figures dropped above the limit", async () => {
    const b = new ScriptedTestBackend({ withSample: true });
    const r = await runScenario(scenario(story), b, { seed: 3, perNodeSampleLimit: 2 });
    // One sample() per sampling point (identical repeats are not kept).
    expect(b.calls.filter((c) => c === "sample").length).toBeGreaterThanOrEqual(r.samples.length);
    expect(r.samples.map((s) => [s.t, s.sessionsEstablished])).toEqual([[0, 0], [1000, 0], [1500, 3], [1500, 3], [1800, 3], [1800, 1], [2600, 1], [2600, 1], [3600, 1], [4600, 3], [5600, 3]]);
    expect(r.samples.every((s) => s.perNode === undefined)).toBe(true);
  });

  test("a very long advance is cut into at most MAX_SAMPLES_PER_STEP slices", async () => {
    const b = new ScriptedTestBackend();
    const r = await runScenario(scenario("  - advance: 1000h\n"), b, { seed: 1 });
    expect(b.calls.filter((c) => c === "advance").length).toBe(MAX_SAMPLES_PER_STEP);
    expect(r.duration).toBe(3_600_000_000);
    expect(r.samples.length).toBeLessThanOrEqual(MAX_SAMPLES_PER_STEP + 1);
  });

  test("the timeline merges the runner's step events with the backend's, in time order", async () => {
    const r = await runScenario(scenario(story), new ScriptedTestBackend(), { seed: 3 });
    const t = r.timeline;
    for (let i = 1; i < t.length; i++) expect(t[i]!.t).toBeGreaterThanOrEqual(t[i - 1]!.t);
    expect(t.filter((e) => e.kind === "step").map((e) => e.text)).toHaveLength(12);
    const failAt = t.findIndex((e) => e.kind === "step" && e.text.startsWith("step 7: fail node node-3"));
    expect(t[failAt + 1]).toEqual({ t: 1800, kind: "failure", text: "node-3 down", node: "node-3" });
  });

  test("the same scenario and seed give the same result, byte for byte", async () => {
    const a = JSON.stringify(await runScenario(scenario(story), new ScriptedTestBackend(), { seed: 3 }));
    const b = JSON.stringify(await runScenario(scenario(story), new ScriptedTestBackend(), { seed: 3 }));
    expect(a).toBe(b);
  });

  test("failed assertions carry expected, actual and details", async () => {
    const opts: ScriptOptions = { allow: (from, to) => !(from === "shop/web-1" && to === "shop/db-1") };
    const r = await runScenario(scenario(story), new ScriptedTestBackend(opts), { seed: 3 });
    expect(r.passed).toBe(false);
    const failed = r.assertions.filter((a) => !a.passed);
    expect(failed.map((a) => a.name)).toEqual(["flow shop/web-1 -> shop/db-1 tcp/5432 succeeds", "policy matrix over all pods on tcp/5432 matches"]);
    expect(failed[0]).toMatchObject({
      expected: "delivered",
      actual: "dropped: dropped at node-3: denied by policy",
      details: ["node-1: sent tcp/5432 to shop/db-1", "node-3: ingress policy denied", "encapsulation ipip"],
      step: 5,
      source: "s.yaml:18",
    });
    expect(failed[1]!.details![0]).toBe("shop/web-1 -> shop/db-1: expected allow, got deny (dropped: dropped at node-3: denied by policy)");
  });

  test("a wait that times out is a failed assertion, sampled along the way", async () => {
    const r = await runScenario(scenario("  - wait: { timeout: 3s }\n  - assert: [ { convergence: { under: 1s } } ]\n"), new ScriptedTestBackend({ neverConverges: true }), { seed: 1 });
    expect(r.passed).toBe(false);
    expect(r.assertions.map((a) => [a.kind, a.passed, a.actual])).toEqual([
      ["wait", false, "not converged after 3s"],
      ["convergence", false, "not converged after 3s (wait at step 1)"],
    ]);
    expect(r.samples.map((s) => s.t)).toEqual([0, 1000, 2000, 3000]);
    expect(r.steps[0]).toMatchObject({ convergence: { converged: false, took: 3000 }, description: "wait until converged (timeout 3s): did not converge" });
  });

  test("an exception in a step is reported, the run goes on, the backend is stopped", async () => {
    const b = new ScriptedTestBackend({ throwIn: ["fail", "ipam"] });
    const r = await runScenario(scenario(story), b, { seed: 3 });
    expect(r.passed).toBe(false);
    expect(r.steps[6]).toMatchObject({ kind: "fail", error: "fail failed on purpose (test)" });
    const failed = r.assertions.filter((a) => !a.passed);
    expect(failed.map((a) => [a.kind, a.name, a.actual])).toEqual([
      ["routes", "every node has routes to the pod blocks of every other node", "error: ipam failed on purpose (test)"],
      ["ipam", "the cluster has at least 2 IPAM blocks, no IPAM problems, exactly 2 addresses in use", "error: ipam failed on purpose (test)"],
      ["step", "step 7 (fail node node-3) runs without error", "error: fail failed on purpose (test)"],
      // node-3 never failed, so the flow still goes through.
      ["unreachable", "flow shop/web-1 -> shop/db-1 tcp/5432 fails", "delivered"],
      ["step", "final IPAM can be observed", "error: ipam failed on purpose (test)"],
    ]);
    expect(failed.map((a) => a.kind)).toEqual(["routes", "ipam", "step", "unreachable", "step"]);
    expect(failed[2]!.actual).toBe("error: fail failed on purpose (test)");
    expect(r.steps.length).toBe(12);
    expect(b.calls).toContain("restore");
    expect(b.stopped).toBe(1);
  });

  test("a backend that cannot start: every step marked not run, no crash", async () => {
    const b = new ScriptedTestBackend({ throwIn: ["start"] });
    const r = await runScenario(scenario(story), b, { seed: 3 });
    expect(r.passed).toBe(false);
    expect(r.assertions).toEqual([{ name: "the backend starts", kind: "step", passed: false, expected: "the sim backend starts", actual: "error: start failed on purpose (test)", at: 0, step: -1, source: "s.yaml:1" }]);
    expect(r.steps.every((s) => s.error === "not run: the backend did not start")).toBe(true);
    expect(b.calls).toEqual(["start", "timeline", "stop"]);
  });
});
