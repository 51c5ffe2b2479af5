// Pods with a fixed address (a scenario's `ip:`, Calico's cni.projectcalico.org/ipAddrs) in real
// mode: the CNI plugin gets exactly that address from IPAM, the pod is reachable at it, and an address
// already taken or outside every pool fails that pods step with IPAM's reason while the run goes on.
// Needs root, ip and etcd: skipped with the reason otherwise, failing under CI=true.
import { afterAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RealBackend } from "../../real/backend.ts";
import { listNetns } from "../../real/netns/index.ts";
import { loadScenario, runScenario } from "../../src/scenario/index.ts";
import { etcdSkipReason } from "../helpers/etcd.ts";
import { netnsUnavailable } from "../helpers/netns.ts";

const TOPOLOGY = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: fixed-ip }
segments:
  - { name: lan, subnet: 192.168.92.0/24 }
nodes:
  - { name: node-1, segment: lan, address: 192.168.92.10/24 }
  - { name: node-2, segment: lan, address: 192.168.92.11/24 }
cluster:
  podCIDR: 10.92.0.0/16
  encapsulation: { type: vxlan, mode: CrossSubnet }
`;

const SCENARIO = `apiVersion: birdcage/v1
kind: Scenario
metadata: { name: fixed-ip }
topology: topology.yaml
steps:
  - wait: { timeout: 120s }
  - pods:
      - { name: auto-1, namespace: demo, node: node-1 }
      - { name: pinned, namespace: demo, node: node-2, ip: 10.92.200.9 }
  - wait: { timeout: 60s }
  - assert:
      - routes: { node: node-1, present: [10.92.200.0/26] }
      - reachable: { from: demo/auto-1, to: 10.92.200.9, protocol: icmp }
      - reachable: { from: demo/pinned, to: demo/auto-1, protocol: tcp, port: 8080 }
      - ipam: { inUse: 4 }
  - pods: [ { name: dup, namespace: demo, node: node-1, ip: 10.92.200.9 } ]
  - pods: [ { name: outside, namespace: demo, node: node-1, ip: 10.50.0.1 } ]
  - assert:
      - name: the failed pods took no address
        ipam: { inUse: 4, problems: 0 }
`;

const skip = netnsUnavailable() ?? etcdSkipReason();
const suite = skip === undefined || process.env.CI === "true" ? describe : describe.skip;
if (skip !== undefined && process.env.CI !== "true") console.warn(`skipping fixed pod addresses in real mode: ${skip}`);

suite("fixed pod addresses in real mode (root, ip, etcd)", () => {
  const dir = mkdtempSync(join(tmpdir(), "bc-fixed-ip-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("the pod gets exactly its address and is reachable there; a taken or out-of-pool address fails its step with IPAM's reason", async () => {
    if (skip !== undefined) throw new Error(skip);
    writeFileSync(join(dir, "topology.yaml"), TOPOLOGY);
    writeFileSync(join(dir, "scenario.yaml"), SCENARIO);
    const backend = new RealBackend();
    let runId: string | undefined;
    const r = await runScenario(loadScenario(SCENARIO, join(dir, "scenario.yaml"), { readFile: (p: string) => readFileSync(p, "utf8") }), backend, {
      seed: 1,
      onStep: () => void (runId ??= backend.runId),
    });
    // Step errors become failed "step N runs without error" assertions: exactly the two bad pods steps.
    const failed = r.assertions.filter((a) => !a.passed).map((a) => a.name);
    expect(failed).toEqual([expect.stringMatching(/^step 5 .*runs without error$/), expect.stringMatching(/^step 6 .*runs without error$/)]);
    const errors = r.steps.filter((s) => s.error !== undefined).map((s) => s.error);
    expect(errors).toEqual([expect.stringMatching(/10\.92\.200\.9 already assigned/), expect.stringMatching(/10\.50\.0\.1 is not in a configured pool/)]);
    // 2 pods + the 2 nodes' VXLAN tunnel addresses; the pinned address sits in a block of node-2.
    const pinnedBlock = r.final.ipam.blocks.find((b) => b.cidr === "10.92.200.0/26");
    expect(pinnedBlock?.affinity).toBe("host:node-2");
    expect((await listNetns()).filter((n) => runId !== undefined && n.startsWith(`bc-${runId}`))).toEqual([]);
  }, 400_000);
});
