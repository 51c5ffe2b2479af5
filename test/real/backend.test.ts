// RealBackend through the scenario runner, for real: three nodes on two segments behind a plain
// router, VXLAN CrossSubnet, agents over etcd's unix socket, pods wired by the CNI plugin. Sessions
// come up, pods reach each other (ICMP, UDP, TCP; across the router through vxlan.calico), a DF
// packet bigger than the pod MTU is dropped, a deny-all ingress policy written to etcd stops traffic
// and deleting it lets it through again, a cut link and its repair show up, and after the run no
// namespace, agent or etcd is left.
// A router that speaks BGP runs the standalone speaker. IPIP scenarios are reported skipped on a
// kernel without the ipip module.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BackendUnavailable, ipipAvailable, RealBackend } from "../../real/backend.ts";
import { listNetns } from "../../real/netns/index.ts";
import { loadScenario, runScenario, type Scenario } from "../../src/scenario/index.ts";
import type { ScenarioResult } from "../../src/scenario/result.ts";
import { etcdSkipReason } from "../helpers/etcd.ts";
import { netnsUnavailable } from "../helpers/netns.ts";
import { repoRoot } from "../helpers/paths.ts";

const TOPOLOGY = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: real-backend-test }
segments:
  - { name: seg-a, subnet: 192.168.81.0/24 }
  - { name: seg-b, subnet: 192.168.82.0/24 }
routers:
  - name: r1
    interfaces:
      - { segment: seg-a, address: 192.168.81.1/24 }
      - { segment: seg-b, address: 192.168.82.1/24 }
nodes:
  - { name: node-1, segment: seg-a, address: 192.168.81.10/24, gateway: 192.168.81.1 }
  - { name: node-2, segment: seg-a, address: 192.168.81.11/24, gateway: 192.168.81.1 }
  - { name: node-3, segment: seg-b, address: 192.168.82.10/24, gateway: 192.168.82.1 }
cluster:
  podCIDR: 10.81.0.0/16
  encapsulation: { type: vxlan, mode: CrossSubnet }
`;

const SCENARIO = `apiVersion: birdcage/v1
kind: Scenario
metadata: { name: real-backend }
topology: topology.yaml
steps:
  - wait: { timeout: 90s }
  - pods: { perNode: 1, namespace: demo }
  - wait: { timeout: 60s }
  - probe: { name: across, from: demo/pod-node-1-1, to: demo/pod-node-3-1, protocol: icmp, size: 1450 }
  - assert:
      - sessions: { established: all }
      - routes: { node: node-1, podBlocksOf: all }
      - reachable: { from: demo/pod-node-1-1, to: demo/pod-node-3-1, protocol: icmp }
      - reachable: { from: demo/pod-node-1-1, to: demo/pod-node-3-1, protocol: udp, port: 53 }
      - reachable: { from: demo/pod-node-3-1, to: demo/pod-node-2-1, protocol: tcp, port: 8080 }
      - reachable: { from: demo/pod-node-1-1, to: demo/pod-node-2-1, protocol: icmp }
      - mtu: { from: demo/pod-node-1-1, to: demo/pod-node-3-1, size: 1450, expect: delivered }
      - name: the pod MTU stops a 1500-byte DF packet before the tunnel
        mtu: { from: demo/pod-node-1-1, to: demo/pod-node-3-1, size: 1500, df: true, expect: dropped }
      - name: without DF the pod's kernel fragments it and it arrives
        mtu: { from: demo/pod-node-1-1, to: demo/pod-node-3-1, size: 1500, df: false, expect: fragmented }
  - apply:
      - apiVersion: projectcalico.org/v3
        kind: NetworkPolicy
        metadata: { name: deny-ingress, namespace: demo }
        spec: { selector: all(), types: [Ingress] }
  - advance: 5s
  - assert:
      - unreachable: { from: demo/pod-node-1-1, to: demo/pod-node-2-1, protocol: icmp }
  - delete:
      - apiVersion: projectcalico.org/v3
        kind: NetworkPolicy
        metadata: { name: deny-ingress, namespace: demo }
        spec: { selector: all(), types: [Ingress] }
  - advance: 5s
  - assert:
      - reachable: { from: demo/pod-node-1-1, to: demo/pod-node-2-1, protocol: icmp }
  - fail: { link: node-3@seg-b }
  - wait: { timeout: 60s }
  - assert:
      - unreachable: { from: demo/pod-node-1-1, to: demo/pod-node-3-1, protocol: icmp }
      - routes: { node: node-1, podBlocksOf: [node-2] }
  - restore: { link: node-3@seg-b }
  - wait: { timeout: 60s }
  - assert:
      - sessions: { established: all }
      - reachable: { from: demo/pod-node-1-1, to: demo/pod-node-3-1, protocol: icmp }
`;

const IPIP_TOPOLOGY = TOPOLOGY.replace("type: vxlan, mode: CrossSubnet", "type: ipip, mode: Always");

const skip = netnsUnavailable() ?? etcdSkipReason();
const suite = skip === undefined || process.env.CI === "true" ? describe : (title: string, fn: () => void) => (console.warn(`skipping ${title}: ${skip}`), describe.skip(title, fn));

suite("RealBackend through the scenario runner (root, ip, etcd)", () => {
  const dir = mkdtempSync(join(tmpdir(), "bc-real-backend-test-"));
  const load = (scenario: string, topology: string, name = "scenario.yaml"): Scenario => {
    writeFileSync(join(dir, "topology.yaml"), topology);
    writeFileSync(join(dir, name), scenario);
    return loadScenario(scenario, join(dir, name), { readFile: (p: string) => readFileSync(p, "utf8") });
  };

  let backend: RealBackend;
  let result: ScenarioResult;
  let runId: string | undefined;
  let pids: number[] = [];
  let reachableAt: number | undefined;

  beforeAll(async () => {
    if (skip !== undefined) throw new Error(skip);
    backend = new RealBackend();
    const t0 = performance.now();
    result = await runScenario(load(SCENARIO, TOPOLOGY), backend, {
      seed: 1,
      onStep: (step) => {
        runId ??= backend.runId;
        if (step.kind === "probe") {
          pids = backend.processIds();
          reachableAt = Math.round(performance.now() - t0);
        }
      },
    });
    const waits = result.steps.filter((s) => s.convergence !== undefined).map((s) => `${(s.convergence!.took / 1000).toFixed(1)} s`);
    console.log(`real backend: ${(result.duration / 1000).toFixed(1)} s scenario time; start to the first probe step (pods created, routing converged) ${((reachableAt ?? 0) / 1000).toFixed(1)} s wall; waits converged after ${waits.join(", ")}`);
  }, 400_000);

  afterAll(async () => {
    await backend?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test("every assertion passes: sessions, pod routes, ICMP/UDP/TCP between pods, the MTU edge, a policy applied and deleted, a link failure and its restore", () => {
    const failed = result.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.actual}`);
    const errors = result.steps.filter((s) => s.error !== undefined).map((s) => `${s.description}: ${s.error}`);
    expect([...failed, ...errors]).toEqual([]);
    expect(result.passed).toBe(true);
    expect(result.assertions.length).toBe(19); // 4 waits + 15 facts
  });

  test("observations have the simulator's shapes", () => {
    // 3 nodes in a full mesh: 6 Established sessions, each with the peer's node name.
    expect(result.final.sessions).toHaveLength(6);
    expect(result.final.sessions.every((s) => s.state === "Established" && s.type === "iBGP" && s.peerName?.startsWith("node-"))).toBe(true);
    const node1 = result.final.routes.filter((r) => r.node === "node-1");
    // Its own block as a blackhole from IPAM, its pod as a workload route, node-3's block through VXLAN
    // (across the router), node-2's natively (same segment), the default route via the gateway.
    expect(node1.filter((r) => r.kind === "blackhole" && r.source === "ipam")).toHaveLength(1);
    expect(node1.filter((r) => r.kind === "local" && r.source === "workload")).toHaveLength(1);
    expect(node1.filter((r) => r.source === "bgp").map((r) => [r.encap, r.nextHops])).toEqual(expect.arrayContaining([["vxlan", ["192.168.82.10"]], ["none", ["192.168.81.11"]]]));
    expect(node1).toContainEqual({ node: "node-1", prefix: "0.0.0.0/0", kind: "unicast", nextHops: ["192.168.81.1"], encap: "none", source: "static" });
    expect(result.final.ipam.problems).toEqual([]);
    expect(result.final.ipam.blocks.map((b) => b.affinity).sort()).toEqual(["host:node-1", "host:node-2", "host:node-3"]);
    const across = result.probes.find((p) => p.outcome === "delivered" && p.encap === "vxlan");
    expect(across?.hops.map((h) => h.at)).toEqual(["pod demo/pod-node-1-1", "node-1", "node-3", "pod demo/pod-node-3-1"]);
    expect(across?.pathMtu).toBe(1450);
    // The daemons' own counts (their control sockets): OPENs, KEEPALIVEs and UPDATEs went out.
    expect(result.final.counters.bgpMessages.open).toBeGreaterThanOrEqual(6);
    expect(result.final.counters.bgpMessages.update).toBeGreaterThan(0);
    // Chart samples: 3 speakers in a full mesh are 3 established pairs at most.
    expect(Math.max(...result.samples.map((x) => x.sessionsEstablished))).toBe(3);
    expect(result.samples.some((x) => x.perNode?.["node-1"] !== undefined && x.perNode["r1"] !== undefined)).toBe(true);
    // The link failure showed at node-1 when the hold timer ran out, and healed after the restore.
    const texts = result.timeline.map((e) => `${e.node ?? ""}: ${e.text}`);
    expect(texts).toContain("node-3: link node-3@seg-b down");
    expect(texts).toContain("node-1: session with node-3 down (Established -> Idle)");
    const waits = result.steps.filter((s) => s.kind === "wait");
    expect(waits.map((w) => w.convergence?.converged)).toEqual([true, true, true, true]);
  });

  test("after the run: no namespace of the run, no agent, no etcd", async () => {
    expect(runId).toMatch(/^[a-z0-9]{6,12}$/);
    expect((await listNetns()).filter((n) => n.startsWith(`bc-${runId}`))).toEqual([]);
    expect(pids.length).toBe(4); // etcd + 3 agents
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    await backend.stop(); // a second stop is harmless
  });

  test("scenarios/two-segments-bgp-router.yaml: the router runs the BGP speaker and peers with every node", async () => {
    const file = join(repoRoot, "scenarios/two-segments-bgp-router.yaml");
    const sc = loadScenario(readFileSync(file, "utf8"), file, { readFile: (p: string) => readFileSync(p, "utf8") });
    const r = await runScenario(sc, new RealBackend(), { seed: 1 });
    expect(r.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.actual}`)).toEqual([]);
    const r1 = r.final.sessions.filter((x) => x.node === "r1");
    expect(r1.map((x) => `${x.peerName} ${x.state} ${x.type}`)).toEqual(["node-1 Established iBGP", "node-2 Established iBGP", "node-3 Established iBGP", "node-4 Established iBGP"]);
    // Every allocated block (the nodes with pods) reached r1 over BGP, next hop its node.
    expect(r.final.ipam.blocks.length).toBeGreaterThan(0);
    expect(r.final.routes.filter((x) => x.node === "r1" && x.source === "bgp").map((x) => x.prefix).sort()).toEqual(r.final.ipam.blocks.map((b) => b.cidr).sort());
  }, 300_000);

  test("an IPIP scenario is skipped with the reason when the kernel has no ipip module", async () => {
    if (await ipipAvailable()) {
      console.log("skipped: this kernel has the ipip module, so IPIP scenarios run");
      return;
    }
    const r = await runScenario(load(SCENARIO, IPIP_TOPOLOGY, "ipip.yaml"), new RealBackend(), { seed: 1 });
    expect(r.skipped).toBe(new BackendUnavailable("IPIP is not available on this kernel (no ipip module): scenario skipped").message);
    expect(r.passed).toBe(true);
    expect(r.assertions).toEqual([]);
  }, 60_000);

  test("an inline topology is refused with a clear error (the agents read a topology file)", async () => {
    const inline = SCENARIO.replace("topology: topology.yaml", `topology:\n${TOPOLOGY.split("\n").filter((l) => !/^(apiVersion|kind):/.test(l)).map((l) => `  ${l}`).join("\n")}`);
    const r = await runScenario(load(inline, TOPOLOGY, "inline.yaml"), new RealBackend(), { seed: 1 });
    expect(r.passed).toBe(false);
    expect(r.assertions[0]?.actual).toMatch(/real mode needs a topology file/);
  }, 60_000);
});
