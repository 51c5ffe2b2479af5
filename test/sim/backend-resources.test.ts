// SimBackend: resources applied during a run (policy, BGP configuration and peers), determinism,
// packet captures and the registry entry.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { SimBackend } from "../../sim/backend.ts";
import type { AnyResource } from "../../src/core/model/index.ts";
import { loadResources } from "../../src/core/model/index.ts";
import { createBackend, unregisterBackend } from "../../src/scenario/backends.ts";
import type { PodSpec } from "../../src/scenario/backend.ts";
import { readTcpSegments, tcpStreams } from "../helpers/pcap.ts";
import { started, topologyFile } from "./backend-helpers.ts";

const pods: PodSpec[] = [
  { name: "web", namespace: "default", node: "node-1", labels: { app: "web" } },
  { name: "db", namespace: "default", node: "node-3", labels: { app: "db" } },
  { name: "other", namespace: "default", node: "node-4", labels: { app: "other" } },
];

const resources = (yaml: string): AnyResource[] => loadResources(yaml, "test.yaml").entries.map((e) => e.resource);

describe("SimBackend resources", () => {
  test("a GlobalNetworkPolicy applied mid-run is enforced at the destination pod; deleting it lifts it", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    await b.waitConverged(60_000, 0);
    await b.createPods(pods);
    await b.waitConverged(60_000, b.now());
    const flow = { from: { pod: "default/web" }, to: { pod: "default/db" }, protocol: "tcp" as const, port: 5432 };
    const flowOther = { from: { pod: "default/other" }, to: { pod: "default/db" }, protocol: "tcp" as const, port: 5432 };
    expect((await b.probe(flow)).outcome).toBe("delivered");
    const policy = resources(`
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: db-from-web }
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: app == 'web' }
      destination: { ports: [5432] }
`);
    await b.applyResources(policy);
    expect((await b.probe(flow)).outcome).toBe("delivered");
    const denied = await b.probe(flowOther);
    expect(denied.outcome).toBe("dropped");
    expect(denied.dropKind).toBe("policy");
    expect(denied.hops[denied.hops.length - 1]!.at).toBe("node-3");
    await b.deleteResources(policy);
    expect((await b.probe(flowOther)).outcome).toBe("delivered");
    await b.stop();
  });

  test("a policy that does not compile is refused and the world keeps the previous one", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    await b.createPods(pods);
    await b.waitConverged(60_000, 0);
    const bad = resources(`
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: nosuchtier.in-missing-tier }
spec:
  tier: nosuchtier
  selector: all()
  types: [Ingress]
`);
    await expect(b.applyResources(bad)).rejects.toThrow(/nosuchtier/);
    // Rolled back: the next policy rebuild (a new pod) does not trip over it.
    await expect(b.createPods([{ name: "late", namespace: "default", node: "node-2", labels: {} }])).resolves.toHaveLength(1);
    expect((await b.probe({ from: { pod: "default/web" }, to: { pod: "default/db" }, protocol: "icmp" })).outcome).toBe("delivered");
    await b.stop();
  });

  test("turning the mesh off withdraws every session and route; a BGPPeer to one node brings back only that node's routes", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    await b.waitConverged(60_000, 0);
    await b.createPods(pods);
    await b.waitConverged(60_000, b.now());
    await b.applyResources(resources(`
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { nodeToNodeMeshEnabled: false }
`));
    expect((await b.waitConverged(60_000, b.now())).converged).toBe(true);
    expect(await b.sessions()).toEqual([]);
    expect((await b.routes()).filter((r) => r.source === "bgp")).toEqual([]);
    expect((await b.probe({ from: { pod: "default/web" }, to: { pod: "default/db" }, protocol: "icmp" })).outcome).toBe("dropped");

    // node-1 peers with everyone else explicitly (mirrored on each, reversePeering Auto).
    await b.applyResources(resources(`
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: all-to-node-1 }
spec: { nodeSelector: all(), peerIP: 192.168.1.10, asNumber: 64512 }
`));
    expect((await b.waitConverged(60_000, b.now())).converged).toBe(true);
    const s = await b.sessions();
    expect(s).toHaveLength(6);
    expect(s.every((x) => x.state === "Established")).toBe(true);
    // node-1 is no route reflector: node-3 learns node-1's block only, node-4 does not learn node-3's.
    expect((await b.probe({ from: { pod: "default/web" }, to: { pod: "default/db" }, protocol: "icmp" })).outcome).toBe("delivered");
    const notReflected = await b.probe({ from: { pod: "default/other" }, to: { pod: "default/db" }, protocol: "icmp" });
    expect(notReflected.outcome).toBe("dropped");
    expect(notReflected.dropKind).toBe("no-route");
    await b.stop();
  });
});

describe("SimBackend determinism, captures, registry", () => {
  async function run(seed: number, pcapDir?: string): Promise<string> {
    const b = new SimBackend();
    await b.start(topologyFile("quickstart.yaml"), { seed, ...(pcapDir ? { pcapDir } : {}) });
    const c1 = await b.waitConverged(60_000, 0);
    await b.createPods(pods);
    const c2 = await b.waitConverged(60_000, b.now());
    const t = b.now();
    await b.fail({ kind: "link", element: "node-4", segment: "seg-b" });
    const c3 = await b.waitConverged(300_000, t);
    await b.restore({ kind: "link", element: "node-4", segment: "seg-b" });
    const c4 = await b.waitConverged(300_000, b.now());
    const probe = await b.probe({ from: { pod: "default/web" }, to: { pod: "default/other" }, protocol: "icmp" });
    const out = JSON.stringify({
      c: [c1, c2, c3, c4],
      sessions: await b.sessions(),
      routes: await b.routes(),
      pods: await b.pods(),
      ipam: await b.ipam(),
      counters: await b.counters(),
      probe,
      timeline: b.timeline(),
      sample: await b.sample(),
    });
    await b.stop();
    return out;
  }

  test("the same topology and seed give identical observations", async () => {
    const a = await run(7);
    const b = await run(7);
    expect(b).toBe(a);
    expect(JSON.parse(a).timeline.length).toBeGreaterThan(10);
  });

  test("with pcapDir, every attachment that carried BGP or probe packets gets a capture file on stop", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bc-simpcap-"));
    try {
      await run(3, dir);
      const files = readdirSync(dir).sort();
      expect(files).toEqual(expect.arrayContaining(["node-1__seg-a.pcap", "node-4__seg-b.pcap", "r1__seg-a.pcap"]));
      // node-1's attachment carries its BGP sessions: SYNs to port 179 and, in a stream, an OPEN
      // (marker of 16 0xff octets, type 1) after the handshake.
      const segs = readTcpSegments(join(dir, "node-1__seg-a.pcap"));
      expect(segs.some((x) => x.dstPort === 179 && (x.flags & 2) !== 0)).toBe(true);
      const streams = tcpStreams(segs, { onGap: "stop" }).filter((x) => x.data.length >= 19);
      expect(streams.length).toBeGreaterThan(0);
      // Every stream starts with a message header; its first message is an OPEN, or the Cease /
      // Connection Rejected (6/5) of a peer still Idle after node-4's link came back.
      for (const st of streams) {
        expect([...st.data.subarray(0, 16)].every((b) => b === 0xff)).toBe(true);
        const first = [...st.data.subarray(18, st.data[18] === 3 ? 21 : 19)];
        expect([[1], [3, 6, 5]]).toContainEqual(first);
      }
      expect(streams.filter((st) => st.data[18] === 1).length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("sim/register.ts makes createBackend('sim') a SimBackend", async () => {
    await import("../../sim/register.ts");
    const b = createBackend("sim");
    expect(b).toBeInstanceOf(SimBackend);
    expect(b.mode).toBe("sim");
    expect(b.now()).toBe(0);
    await expect(b.sessions()).rejects.toThrow(/not started/);
    unregisterBackend("sim");
  });
});
