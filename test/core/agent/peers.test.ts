import { describe, expect, test } from "@jest/globals";
import { ClusterLab, pool } from "./cluster-lab.ts";
import { durationSeconds, MemoryDataplane, NodeAgent, nodePeers, peerRelations, type ClusterNode, type ClusterView } from "../../../src/core/agent/index.ts";
import { LoopbackNetwork } from "../../../src/core/bgp/loopback.ts";
import { ManualClock } from "../../../src/core/bgp/manual-clock.ts";
import { MemoryDatastore } from "../../../src/core/datastore/memory.ts";
import { fnv32 } from "../../../src/core/ipam/index.ts";
import { Speaker } from "../../../src/core/bgp/speaker.ts";
import type { RouteChanges } from "../../../src/core/bgp/ports.ts";
import { formatIP, formatPrefix } from "../../../src/core/net/ip.ts";

const peersOf = (v: ClusterView, name: string) =>
  nodePeers(v, v.nodes.find((n) => n.name === name)!).map((p) => `${p.address} as${p.asNumber} ${p.type} ${p.source}${p.passive ? " passive" : ""}${p.routeReflectorClient ? " rr-client" : ""}${p.port ? ` port ${p.port}` : ""}`);

const rrCluster = (): ClusterView => ({
  nodes: [
    { name: "rr-1", address: "10.0.0.10/24", labels: { "route-reflector": "true" }, routeReflectorClusterID: "244.0.0.1" },
    { name: "rr-2", address: "10.0.0.11/24", labels: { "route-reflector": "true" }, routeReflectorClusterID: "244.0.0.1" },
    { name: "c-1", address: "10.0.0.21/24" },
    { name: "c-2", address: "10.0.0.22/24" },
    { name: "c-3", address: "10.0.0.23/24" },
  ],
  ipPools: [pool("10.1.0.0/16", { ipipMode: "Never" })],
  bgpConfiguration: { spec: { nodeToNodeMeshEnabled: false } },
  bgpPeers: [{ metadata: { name: "peer-with-rrs" }, spec: { nodeSelector: "all()", peerSelector: "route-reflector == 'true'" } }],
});

describe("which peers a node has (confd's rules; the passive rule as issue 3 words it)", () => {
  test("mesh: every other node, lexical passive rule (Go string order), listen port from BGPConfiguration", () => {
    const v: ClusterView = {
      nodes: [
        { name: "a", address: "10.0.0.9/24" },
        { name: "b", address: "10.0.0.10/24" },
        { name: "c", address: "10.0.0.2/24", asNumber: 65010 },
      ],
      ipPools: [],
      bgpConfiguration: { spec: { listenPort: 1790 } },
    };
    // "10.0.0.10" < "10.0.0.9" < "10.0.0.2"... as text: the higher text waits, the lower one connects,
    // so b (10.0.0.10) connects to a (10.0.0.9), and c (10.0.0.2) waits for both.
    expect(peersOf(v, "a")).toEqual(["10.0.0.10 as64512 iBGP mesh passive port 1790", "10.0.0.2 as65010 eBGP mesh passive port 1790"]);
    expect(peersOf(v, "b")).toEqual(["10.0.0.9 as64512 iBGP mesh port 1790", "10.0.0.2 as65010 eBGP mesh port 1790"]);
    expect(peersOf(v, "c")).toEqual(["10.0.0.9 as64512 eBGP mesh port 1790", "10.0.0.10 as64512 eBGP mesh passive port 1790"]);
  });

  test("route reflectors skip the mesh; clients are rr clients, reflectors of one cluster plain iBGP", () => {
    const v = rrCluster();
    v.bgpConfiguration = { spec: { nodeToNodeMeshEnabled: true } };
    // Mesh on: clients mesh among themselves, never with the reflectors (those come from the BGPPeer).
    expect(peersOf(v, "c-1")).toEqual(["10.0.0.22 as64512 iBGP mesh", "10.0.0.23 as64512 iBGP mesh", "10.0.0.10 as64512 iBGP bgppeer/peer-with-rrs passive", "10.0.0.11 as64512 iBGP bgppeer/peer-with-rrs passive"]);
    expect(peersOf(v, "rr-1")).toEqual([
      "10.0.0.11 as64512 iBGP bgppeer/peer-with-rrs",
      "10.0.0.21 as64512 iBGP bgppeer/peer-with-rrs rr-client",
      "10.0.0.22 as64512 iBGP bgppeer/peer-with-rrs rr-client",
      "10.0.0.23 as64512 iBGP bgppeer/peer-with-rrs rr-client",
    ]);
  });

  test("BGPPeer: node, nodeSelector, peerIP with port, mirrored peerings, Manual reverse peering", () => {
    const nodes: ClusterNode[] = [
      { name: "a", address: "10.0.0.1/24", labels: { rack: "r1" } },
      { name: "b", address: "10.0.0.2/24", labels: { rack: "r1" } },
      { name: "c", address: "10.0.1.3/24", labels: { rack: "r2" } },
    ];
    const v: ClusterView = {
      nodes,
      ipPools: [],
      bgpConfiguration: { spec: { nodeToNodeMeshEnabled: false } },
      bgpPeers: [
        { metadata: { name: "tor" }, spec: { nodeSelector: "rack == 'r1'", peerIP: "10.0.0.254:1179", asNumber: 65001 } },
        { metadata: { name: "a-to-c" }, spec: { node: "a", peerIP: "10.0.1.3", asNumber: 64512 } },
        { metadata: { name: "b-to-c" }, spec: { node: "b", peerSelector: "rack == 'r2'", reversePeering: "Manual" } },
      ],
    };
    expect(peersOf(v, "a")).toEqual(["10.0.0.254 as65001 eBGP bgppeer/tor port 1179", "10.0.1.3 as64512 iBGP bgppeer/a-to-c"]);
    expect(peersOf(v, "b")).toEqual(["10.0.0.254 as65001 eBGP bgppeer/tor port 1179", "10.0.1.3 as64512 iBGP bgppeer/b-to-c"]);
    // c gets the mirror of a's peerIP peering, not of b's (Manual).
    expect(peersOf(v, "c")).toEqual(["10.0.0.1 as64512 iBGP bgppeer/a-to-c passive"]);
    expect(peerRelations(v).map((r) => `${r.local.name}->${r.remote?.name ?? r.address} ${r.source}`)).toEqual([
      "a->10.0.0.254 bgppeer/tor",
      "b->10.0.0.254 bgppeer/tor",
      "a->c bgppeer/a-to-c",
      "c->a bgppeer/a-to-c",
      "b->c bgppeer/b-to-c",
    ]);
  });

  test("IPv6 sessions beside IPv4 ones; a node without IPv4 gets a hashed router ID", () => {
    const v: ClusterView = {
      nodes: [
        { name: "a", address: "10.0.0.1/24", addressV6: "fd00::1/64" },
        { name: "b", address: "10.0.0.2/24", addressV6: "fd00::2/64" },
        { name: "c", addressV6: "fd00::3/64" },
      ],
      ipPools: [],
    };
    expect(peersOf(v, "a")).toEqual(["10.0.0.2 as64512 iBGP mesh", "fd00::2 as64512 iBGP mesh", "fd00::3 as64512 iBGP mesh"]);
    expect(peersOf(v, "c")).toEqual(["fd00::1 as64512 iBGP mesh passive", "fd00::2 as64512 iBGP mesh passive"]);
    const clock = new ManualClock();
    const agent = new NodeAgent(
      { name: "c", addressV6: "fd00::3/64", cluster: v },
      { clock, transport: new LoopbackNetwork(clock).transport("fd00::3"), datastore: new MemoryDatastore(), dataplane: new MemoryDataplane() },
    );
    expect(agent.routerId).toBe(formatIP(4, BigInt(fnv32("c"))));
    expect(agent.configuredPeers().map((p) => `${p.address} from ${p.localAddress}`)).toEqual(["fd00::1 from fd00::3", "fd00::2 from fd00::3"]);
  });
});

describe("scale", () => {
  test("30,000 nodes with two route reflectors: relations listed without blowing the stack", () => {
    const nodes: ClusterNode[] = Array.from({ length: 30000 }, (_, i) => ({
      name: `n${i}`,
      address: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/8`,
      ...(i < 2 ? { labels: { rr: "y" }, routeReflectorClusterID: "244.0.0.1" } : {}),
    }));
    const v: ClusterView = { nodes, ipPools: [], bgpConfiguration: { spec: { nodeToNodeMeshEnabled: false } }, bgpPeers: [{ metadata: { name: "to-rr" }, spec: { peerSelector: "has(rr)" } }] };
    // Every node to both RRs (the RRs to each other too), each mirrored on the other end.
    expect(peerRelations(v)).toHaveLength(2 * (30000 * 2 - 2));
    expect(peerRelations(v, undefined, { oneWay: true })).toHaveLength(30000 * 2 - 2);
    expect(nodePeers(v, nodes[0]!)).toHaveLength(29999);
  });
});

describe("session settings from BGPPeer and BGPConfiguration", () => {
  test("Go durations", () => {
    expect(["120s", "1m30s", "2h", "1500ms", "0", "90", "", "5x", "1.5s"].map(durationSeconds)).toEqual([120, 90, 7200, 1.5, 0, undefined, undefined, undefined, 1.5]);
  });

  test("keepaliveTime, maxRestartTime and nextHopMode reach the sessions (both ends of a mirrored peering)", async () => {
    const v: ClusterView = {
      nodes: [
        { name: "n1", address: "10.0.0.1/24" },
        { name: "n2", address: "10.0.0.2/24" },
        { name: "n3", address: "10.0.0.3/24" },
      ],
      ipPools: [pool("10.1.0.0/16")],
      bgpConfiguration: { spec: { nodeMeshMaxRestartTime: "45s" } },
      bgpPeers: [{ metadata: { name: "fast" }, spec: { node: "n1", peerIP: "10.0.0.2", asNumber: 64512, keepaliveTime: "10s", maxRestartTime: "30s", nextHopMode: "Self" } }],
    };
    // The mesh rule names n2 first (mesh before BGPPeers): confd keeps the first, so n1-n2 is a mesh session.
    expect(nodePeers(v, v.nodes[0]!).map((p) => `${p.address} ${p.source} ${JSON.stringify(p.options)}`)).toEqual([
      '10.0.0.2 mesh {"restartTime":45}',
      '10.0.0.3 mesh {"restartTime":45}',
    ]);
    const noMesh: ClusterView = { ...v, bgpConfiguration: { spec: { nodeToNodeMeshEnabled: false } } };
    expect(nodePeers(noMesh, v.nodes[1]!).map((p) => `${p.address} ${p.source} ${JSON.stringify(p.options)}`)).toEqual(['10.0.0.1 bgppeer/fast {"restartTime":30,"keepaliveTime":10,"nextHopSelf":true}']);
    const lab = new ClusterLab(noMesh).build();
    await lab.startAll();
    await lab.run(3);
    for (const [me, peer] of [["n1", "10.0.0.2"], ["n2", "10.0.0.1"]] as const) {
      const session = lab.node(me).agent.speaker.session(peer)!;
      expect(session.state).toBe("Established");
      expect(session.negotiated!.holdTime).toBe(30);
      expect(session.negotiated!.peerGracefulRestart?.restartTime).toBe(30);
    }
  });
});

describe("sessions and routes through the peers", () => {
  test("route reflector topology: clients learn each other's blocks via the RRs, next hop the originating client", async () => {
    const lab = new ClusterLab(rrCluster()).build();
    await lab.startAll();
    await lab.run(3);
    expect(lab.established()).toBe(true);
    expect(lab.node("c-1").agent.sessions().map((s) => `${s.peerNode} ${s.source}`)).toEqual(["rr-1 bgppeer/peer-with-rrs", "rr-2 bgppeer/peer-with-rrs"]);
    expect(lab.node("rr-1").agent.sessions().filter((s) => s.routeReflectorClient).map((s) => s.peerNode)).toEqual(["c-1", "c-2", "c-3"]);
    const pods = [];
    for (const n of ["c-1", "c-2", "c-3", "rr-1"]) pods.push(await lab.node(n).agent.addPod({ name: `p-${n}`, namespace: "default" }));
    await lab.run(1);
    const block = (n: string) => lab.node(n).agent.status().originated[0]!;
    expect(lab.table("c-1")).toEqual(
      expect.arrayContaining([`${block("c-2")} unicast none 10.0.0.22`, `${block("c-3")} unicast none 10.0.0.23`, `${block("rr-1")} unicast none 10.0.0.10`]),
    );
    // The reflected path carries ORIGINATOR_ID and the cluster ID.
    const viaRR = lab.node("c-1").agent.speaker.routes().find((r) => r.prefix === block("c-2") && r.best)!;
    expect(viaRR.originatorId).toBe("10.0.0.22");
    expect(viaRR.clusterList).toEqual(["244.0.0.1"]);
    // rr-1 stops (Cease to its peers): its block goes, the clients' routes still flow via rr-2.
    lab.node("rr-1").agent.stop();
    await lab.run(2);
    expect(lab.table("c-1")).toContain(`${block("c-2")} unicast none 10.0.0.22`);
    expect(lab.table("c-1").some((l) => l.startsWith(block("rr-1")))).toBe(false);
  });

  test("behind an eBGP router: IPIP/VXLAN routes go to the block owner (Felix), unencapsulated ones to the BGP next hop", async () => {
    const cluster = (mode: Record<string, unknown>): ClusterView => ({
      nodes: [
        { name: "n1", address: "10.0.1.1/24", asNumber: 65101 },
        { name: "n2", address: "10.0.2.1/24", asNumber: 65102 },
      ],
      ipPools: [pool("10.1.0.0/16", mode)],
      bgpConfiguration: { spec: { nodeToNodeMeshEnabled: false } },
      bgpPeers: [{ metadata: { name: "tor" }, spec: { peerIP: "10.0.0.254", asNumber: 65001 } }],
    });
    const run = async (mode: Record<string, unknown>) => {
      const lab = new ClusterLab(cluster(mode)).build();
      const router = new Speaker(
        {
          asNumber: 65001,
          routerId: "10.0.0.254",
          listen: { address: "10.0.0.254" },
          peers: [
            { address: "10.0.1.1", asNumber: 65101 },
            { address: "10.0.2.1", asNumber: 65102 },
          ],
          importPolicy: () => true,
          exportPolicy: () => true,
        },
        { clock: lab.clock, transport: lab.net.transport("10.0.0.254") },
      );
      router.start();
      await lab.startAll();
      for (const n of ["n1", "n2"]) await lab.node(n).agent.addPod({ name: `p-${n}`, namespace: "default" });
      await lab.run(3);
      router.stop();
      return { lab, block2: lab.node("n2").agent.status().originated[0]! };
    };
    const always = await run({ ipipMode: "Always" });
    expect(always.lab.node("n1").agent.speaker.bestRoutes().get(always.block2)?.nextHop).toBe("10.0.0.254");
    expect(always.lab.table("n1")).toContain(`${always.block2} unicast ipip 10.0.2.1`);
    const cross = await run({ vxlanMode: "CrossSubnet" });
    expect(cross.lab.table("n1")).toContain(`${cross.block2} unicast vxlan 10.0.2.1`);
    const never = await run({ ipipMode: "Never" });
    expect(never.lab.table("n1")).toContain(`${never.block2} unicast none 10.0.0.254`);
  });

  test("eBGP to an external router by peerIP: its routes are native, ours exported only inside pools", async () => {
    const v: ClusterView = {
      nodes: [{ name: "n1", address: "10.0.0.1/24" }],
      ipPools: [pool("10.1.0.0/16", { ipipMode: "Always" })],
      bgpConfiguration: { spec: { nodeToNodeMeshEnabled: false } },
      bgpPeers: [{ metadata: { name: "tor" }, spec: { peerIP: "10.0.0.254", asNumber: 65001 } }],
    };
    const lab = new ClusterLab(v).build();
    const received: string[] = [];
    const router = new Speaker(
      { asNumber: 65001, routerId: "10.0.0.254", listen: { address: "10.0.0.254" }, peers: [{ address: "10.0.0.1", asNumber: 64512 }], importPolicy: () => true, exportPolicy: () => true },
      {
        clock: lab.clock,
        transport: lab.net.transport("10.0.0.254"),
        sink: { apply: (c: RouteChanges) => received.push(...c.add.map((r) => formatPrefix(r.prefix))) },
      },
    );
    router.start();
    router.originate("192.168.50.0/24");
    router.originate("10.1.200.0/24");
    await lab.startAll();
    await lab.run(3);
    expect(lab.node("n1").agent.sessions().map((s) => `${s.peer} ${s.type} ${s.state}`)).toEqual(["10.0.0.254 eBGP Established"]);
    // Outside the pools: native via the router; inside an IPIP Always pool: through the tunnel.
    expect(lab.table("n1")).toContain("192.168.50.0/24 unicast none 10.0.0.254");
    expect(lab.table("n1")).toContain("10.1.200.0/24 unicast ipip 10.0.0.254");
    // The router learns n1's block (the tunnel address claimed it) and nothing else from n1.
    expect(received).toEqual([lab.node("n1").agent.status().originated[0]]);
    router.stop();
  });
});
