// SimBackend end to end: real agents (BGP + IPAM + policy) on the simulated network and TCP, from
// cold start to convergence, pods and probes, and the failure semantics (link, node crash / stop,
// router), all in virtual time.
import { describe, expect, test } from "@jest/globals";
import type { SimBackend } from "../../sim/backend.ts";
import type { PodSpec, SessionObservation } from "../../src/scenario/backend.ts";
import { blocksByNode, EBGP_ROUTER, inlineTopology, routeTable, started, topologyFile } from "./backend-helpers.ts";

const NODES = ["node-1", "node-2", "node-3", "node-4"];
const SEGMENT: Record<string, string> = { "node-1": "seg-a", "node-2": "seg-a", "node-3": "seg-b", "node-4": "seg-b" };
const onePodPerNode: PodSpec[] = NODES.map((n, i) => ({ name: `web-${i + 1}`, namespace: "default", node: n, labels: { app: "web" } }));

const established = (s: SessionObservation[]) => s.filter((x) => x.state === "Established");

// With the node-to-node mesh on as well, every node also re-advertises the others' blocks to an
// eBGP router (as Calico's export filter does); r1's decision then picks the lowest router ID
// (node-1) for node-4's block and the packet loops, where real routers would keep the oldest eBGP
// path (RFC 5004). So the router topology here has the mesh off.
const bgpRouter = () => inlineTopology(EBGP_ROUTER);

async function expectMeshRoutes(b: SimBackend, nodes = NODES): Promise<void> {
  const table = routeTable(await b.routes());
  const blocks = await blocksByNode(b);
  for (const n of nodes) {
    for (const other of nodes) {
      if (other === n) continue;
      for (const cidr of blocks.get(other) ?? []) {
        const r = table.get(n)?.get(cidr);
        expect(r).toBeDefined();
        expect(r!.kind).toBe("unicast");
        expect(r!.source).toBe("bgp");
        expect(r!.encap).toBe(SEGMENT[n] === SEGMENT[other] ? "none" : "ipip");
      }
    }
  }
}

describe("SimBackend on quickstart (2 segments, router without BGP, IPIP CrossSubnet)", () => {
  test("converges with the 6 mesh sessions Established and every node's block on every other node", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    const c = await b.waitConverged(60_000, 0);
    expect(c.converged).toBe(true);
    expect(c.took).toBe(c.at);
    expect(c.at).toBeGreaterThan(0);
    const s = await b.sessions();
    expect(s).toHaveLength(12); // 6 sessions, seen from both ends
    expect(established(s)).toHaveLength(12);
    expect(new Set(s.map((x) => [x.node, x.peerName].sort().join("|"))).size).toBe(6);
    expect(s.every((x) => x.type === "iBGP")).toBe(true);
    // IPIP tunnel addresses gave every node a block before any pod.
    const blocks = await blocksByNode(b);
    expect([...blocks.keys()].sort()).toEqual(NODES);
    await expectMeshRoutes(b);
    await b.stop();
    await b.stop(); // twice is fine
  });

  test("pods get addresses from their node's block, reach each other across segments (ipip) and inside one (native)", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    await b.waitConverged(60_000, 0);
    const pods = await b.createPods(onePodPerNode);
    expect(pods.map((p) => p.mtu)).toEqual([1430, 1430, 1430, 1430]);
    const c = await b.waitConverged(60_000, b.now());
    expect(c.converged).toBe(true);
    const blocks = await blocksByNode(b);
    for (const p of pods) {
      const [cidr] = blocks.get(p.node)!;
      const [net, len] = cidr!.split("/");
      const base = net!.split(".").map(Number);
      const ip = p.ips[0]!.split(".").map(Number);
      const size = 2 ** (32 - Number(len));
      expect(ip.slice(0, 3)).toEqual(base.slice(0, 3));
      expect(ip[3]! - base[3]!).toBeLessThan(size);
    }
    const across = await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-3" }, protocol: "tcp", port: 80 });
    expect(across.outcome).toBe("delivered");
    expect(across.encap).toBe("ipip");
    expect(across.pathMtu).toBe(1430);
    expect(across.hops.map((h) => h.at)).toContain("r1");
    const inside = await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-2" }, protocol: "icmp" });
    expect(inside.outcome).toBe("delivered");
    expect(inside.encap).toBe("none");
    expect(b.timeline().filter((e) => e.kind === "probe")).toHaveLength(2);
    expect((await b.pods()).map((p) => p.name)).toEqual(["web-1", "web-2", "web-3", "web-4"]);
    const ipam = await b.ipam();
    expect(ipam.problems).toEqual([]);
    expect(ipam.inUse).toBe(8); // 4 tunnel addresses + 4 pods
    await b.deletePods([{ name: "web-4", namespace: "default" }]);
    expect((await b.ipam()).inUse).toBe(7);
    const gone = await b.probe({ from: { pod: "default/web-1" }, to: { address: pods[3]!.ips[0]! }, protocol: "icmp" });
    expect(gone.outcome).toBe("dropped");
    await b.stop();
  });

  test("without encapsulation, a router that does not speak BGP drops cross-segment pod traffic: no route at r1", async () => {
    const b = await started(topologyFile("two-segments-noencap.yaml"));
    expect((await b.waitConverged(60_000, 0)).converged).toBe(true);
    await b.createPods(onePodPerNode);
    await b.waitConverged(60_000, b.now());
    const across = await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-3" }, protocol: "icmp" });
    expect(across.outcome).toBe("dropped");
    expect(across.dropKind).toBe("no-route");
    expect(across.reason).toMatch(/r1/);
    expect(across.encap).toBe("none");
    const inside = await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-2" }, protocol: "icmp" });
    expect(inside.outcome).toBe("delivered");
    await b.stop();
  });

  test("a router peering eBGP with the nodes carries pod routes without encapsulation", async () => {
    const b = await started(bgpRouter());
    expect((await b.waitConverged(60_000, 0)).converged).toBe(true);
    await b.createPods(onePodPerNode);
    expect((await b.waitConverged(60_000, b.now())).converged).toBe(true);
    const s = await b.sessions();
    const router = s.filter((x) => x.node === "r1");
    expect(router).toHaveLength(4);
    expect(router.every((x) => x.state === "Established" && x.type === "eBGP")).toBe(true);
    const blocks = await blocksByNode(b);
    const r1 = routeTable(await b.routes("r1")).get("r1")!;
    for (const n of NODES) for (const cidr of blocks.get(n) ?? []) expect(r1.get(cidr)?.source).toBe("bgp");
    const across = await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-4" }, protocol: "tcp", port: 443 });
    expect(across.outcome).toBe("delivered");
    expect(across.encap).toBe("none");
    await b.stop();
  });
});

describe("SimBackend with a router as the nodes' route reflector", () => {
  test("iBGP reflection keeps the originating node as next hop: pod traffic crosses r1 natively", async () => {
    const rr = EBGP_ROUTER.replace(/65000/g, "64512").replace("{ nodeSelector: all() }", "{ nodeSelector: all(), routeReflectorClient: true }");
    const b = await started(inlineTopology(rr));
    expect((await b.waitConverged(60_000, 0)).converged).toBe(true);
    await b.createPods(onePodPerNode);
    expect((await b.waitConverged(60_000, b.now())).converged).toBe(true);
    const s = await b.sessions();
    expect(s.filter((x) => x.node === "r1" && x.state === "Established" && x.type === "iBGP")).toHaveLength(4);
    const blocks = await blocksByNode(b);
    const node1 = routeTable(await b.routes("node-1")).get("node-1")!;
    expect(node1.get(blocks.get("node-4")![0]!)?.nextHops).toEqual(["192.168.2.11"]);
    const across = await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-4" }, protocol: "icmp" });
    expect(across.outcome).toBe("delivered");
    expect(across.encap).toBe("none");
    await b.stop();
  });
});

describe("SimBackend failures", () => {
  test("link down: sessions over it drop after the hold time and routing converges; restore brings them back", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    await b.waitConverged(60_000, 0);
    await b.createPods(onePodPerNode);
    await b.waitConverged(60_000, b.now());
    const blocks = await blocksByNode(b);
    const node4Block = blocks.get("node-4")![0]!;

    const failAt = b.now();
    await b.fail({ kind: "link", element: "node-4", segment: "seg-b" });
    const c = await b.waitConverged(300_000, failAt);
    expect(c.converged).toBe(true);
    // Nothing tells the peers but the hold timer: 90 s after the last keepalive they got (sent every 30 s).
    expect(c.took).toBeGreaterThan(60_000);
    expect(c.took).toBeLessThanOrEqual(90_000 + 50);
    const s = await b.sessions();
    const toNode4 = s.filter((x) => x.peerName === "node-4" || x.node === "node-4");
    expect(toNode4).toHaveLength(6);
    expect(toNode4.some((x) => x.state === "Established")).toBe(false);
    expect(established(s)).toHaveLength(6); // the triangle of nodes 1-3
    const table = routeTable(await b.routes());
    for (const n of ["node-1", "node-2", "node-3"]) expect(table.get(n)!.has(node4Block)).toBe(false);
    expect((await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-4" }, protocol: "icmp" })).outcome).toBe("dropped");
    expect(b.timeline().some((e) => e.kind === "failure" && e.text.includes("node-4@seg-b"))).toBe(true);

    const restoreAt = b.now();
    await b.restore({ kind: "link", element: "node-4", segment: "seg-b" });
    const back = await b.waitConverged(300_000, restoreAt);
    expect(back.converged).toBe(true);
    expect(established(await b.sessions())).toHaveLength(12);
    await expectMeshRoutes(b);
    expect((await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-4" }, protocol: "icmp" })).outcome).toBe("delivered");
    await b.stop();
  });

  test("node crash (kill -9): peers keep its routes as stale under graceful restart until it returns; the restarted agent finds its pods", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    await b.waitConverged(60_000, 0);
    const pods = await b.createPods(onePodPerNode);
    await b.waitConverged(60_000, b.now());
    const node3Block = (await blocksByNode(b)).get("node-3")![0]!;

    await b.fail({ kind: "node", name: "node-3" }, { how: "crash" });
    const c = await b.waitConverged(60_000, b.now());
    expect(c.converged).toBe(true);
    // Well inside the 120 s restart time: the block is still routed (stale) and forwarding works,
    // since node-3's kernel kept its routes.
    await b.advance(30_000);
    const node1 = b.internals.agents.get("node-1")!;
    const stale = node1.speaker.routes().filter((r) => r.prefix === node3Block);
    expect(stale.length).toBeGreaterThan(0);
    expect(stale.every((r) => r.stale)).toBe(true);
    expect(routeTable(await b.routes("node-1")).get("node-1")!.get(node3Block)?.source).toBe("bgp");
    expect((await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-3" }, protocol: "icmp" })).outcome).toBe("delivered");
    expect((await b.sessions()).some((x) => x.node === "node-3")).toBe(false);
    expect(() => b.internals.agents.get("node-3")).not.toThrow();
    await expect(b.createPods([{ name: "late", namespace: "default", node: "node-3", labels: {} }])).rejects.toThrow(/crashed/);

    const restoreAt = b.now();
    await b.restore({ kind: "node", name: "node-3" });
    const back = await b.waitConverged(60_000, restoreAt);
    expect(back.converged).toBe(true);
    expect(established(await b.sessions())).toHaveLength(12);
    expect(node1.speaker.routes().filter((r) => r.prefix === node3Block).every((r) => !r.stale)).toBe(true);
    // Same pod, same address (IPAM handle reused), reachable again through the new agent.
    expect((await b.pods()).find((p) => p.name === "web-3")!.ips).toEqual(pods[2]!.ips);
    expect(b.internals.agents.get("node-3")!.pods().map((p) => p.name)).toEqual(["web-3"]);
    expect((await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-3" }, protocol: "icmp" })).outcome).toBe("delivered");
    await expectMeshRoutes(b);
    expect((await b.ipam()).problems).toEqual([]);
    await b.stop();
  });

  test("node stop (clean): peers get a Cease and flush its routes at once", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    await b.waitConverged(60_000, 0);
    await b.createPods(onePodPerNode);
    await b.waitConverged(60_000, b.now());
    const node2Block = (await blocksByNode(b)).get("node-2")![0]!;
    const before = (await b.counters()).bgpMessages.notification;
    const at = b.now();
    await b.fail({ kind: "node", name: "node-2" }, { how: "stop" });
    const c = await b.waitConverged(60_000, at);
    expect(c.converged).toBe(true);
    expect(c.took).toBeLessThan(100); // no hold timer involved
    expect((await b.counters()).bgpMessages.notification - before).toBe(3);
    for (const n of ["node-1", "node-3", "node-4"]) expect(routeTable(await b.routes(n)).get(n)!.has(node2Block)).toBe(false);
    // BIRD's kernel protocol is `persist`: node-2 keeps its routes and still sends (one way).
    expect((await b.probe({ from: { pod: "default/web-2" }, to: { pod: "default/web-4" }, protocol: "icmp" })).outcome).toBe("delivered");
    expect((await b.probe({ from: { pod: "default/web-4" }, to: { pod: "default/web-2" }, protocol: "icmp" })).outcome).toBe("dropped");
    await b.restore({ kind: "node", name: "node-2" });
    expect((await b.waitConverged(60_000, b.now())).converged).toBe(true);
    expect(established(await b.sessions())).toHaveLength(12);
    await expectMeshRoutes(b);
    await b.stop();
  });

  test("a BGP router losing power: its sessions time out, cross-segment traffic stops; back up, routes return", async () => {
    const b = await started(bgpRouter());
    await b.waitConverged(60_000, 0);
    await b.createPods(onePodPerNode);
    await b.waitConverged(60_000, b.now());
    const at = b.now();
    await b.fail({ kind: "router", name: "r1" });
    const down = await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-3" }, protocol: "icmp" });
    expect(down.outcome).toBe("dropped");
    const c = await b.waitConverged(300_000, at);
    expect(c.converged).toBe(true);
    expect(c.took).toBeGreaterThan(60_000);
    expect(c.took).toBeLessThanOrEqual(90_000 + 50);
    expect((await b.sessions()).filter((x) => x.node === "r1")).toEqual([]);
    expect(established(await b.sessions())).toEqual([]);
    await b.restore({ kind: "router", name: "r1" });
    expect((await b.waitConverged(300_000, b.now())).converged).toBe(true);
    expect((await b.sessions()).filter((x) => x.node === "r1" && x.state === "Established")).toHaveLength(4);
    expect((await b.probe({ from: { pod: "default/web-1" }, to: { pod: "default/web-3" }, protocol: "icmp" })).outcome).toBe("delivered");
    await expect(b.fail({ kind: "router", name: "nope" })).rejects.toThrow(/no router/);
    await expect(b.fail({ kind: "link", element: "node-1", segment: "seg-b" })).rejects.toThrow(/not attached/);
    await b.stop();
  });
});

describe("SimBackend convergence detection", () => {
  test("a link written down in the topology: its node's sessions are stably failing at once; restored, they come up", async () => {
    const t = topologyFile("quickstart.yaml", (text) => text.replace("cluster:", "links:\n  - { endpoints: [seg-b, node-4], down: true }\ncluster:"));
    const b = await started(t);
    const r = await b.waitConverged(60_000, 0);
    expect(r.converged).toBe(true);
    expect(b.now()).toBeLessThan(1000); // no grace period: the path is known to be down
    expect(established(await b.sessions())).toHaveLength(6);
    await b.restore({ kind: "link", element: "node-4", segment: "seg-b" });
    expect((await b.waitConverged(120_000, b.now())).converged).toBe(true);
    expect(established(await b.sessions())).toHaveLength(12);
    await b.stop();
  });

  test("a timeout reports converged: false at the current time", async () => {
    const b = await started(topologyFile("quickstart.yaml"));
    const r = await b.waitConverged(0, 0);
    expect(r).toEqual({ converged: false, at: 0, took: 0 });
    await b.stop();
  });

  test("waiting in slices (as the runner does) finds the same convergence point as one long wait", async () => {
    const one = await started(topologyFile("quickstart.yaml"));
    const whole = await one.waitConverged(60_000, 0);
    await one.stop();
    const sliced = await started(topologyFile("quickstart.yaml"));
    let r = await sliced.waitConverged(0.1, 0);
    let calls = 1;
    while (!r.converged && calls < 10_000) {
      r = await sliced.waitConverged(0.1, 0);
      calls++;
    }
    expect(calls).toBeGreaterThan(3);
    expect(r).toEqual(whole);
    await sliced.stop();
  });

  test("a session that cannot come up (peering configured on one side only) is settled after the grace period", async () => {
    // r1 peers with every node, but no BGPPeer tells the nodes about r1: its sessions stay Active.
    const t = inlineTopology(EBGP_ROUTER.slice(0, EBGP_ROUTER.indexOf("  nodeToNodeMesh: false")));
    const b = await started(t, { graceMs: 10_000 });
    const r = await b.waitConverged(60_000, 0);
    expect(r.converged).toBe(true);
    expect(r.at).toBeLessThan(100); // the mesh (on again here) came up at once
    expect(b.now()).toBeGreaterThanOrEqual(10_000); // but the verdict waited for r1's sessions' grace
    const router = (await b.sessions()).filter((s) => s.node === "r1");
    expect(router).toHaveLength(4);
    expect(router.some((s) => s.state === "Established")).toBe(false);
    await b.stop();
  });
});

