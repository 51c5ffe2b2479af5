// The simulated network: routing across routers, explained drops, encapsulation, MTU, link and host
// failures, policy at the pods, underlay paths for the simulated TCP.
import { describe, expect, test } from "@jest/globals";
import { SimEngine } from "../../../sim/engine.ts";
import { SimNetwork, type TraceSpec } from "../../../sim/net/network.ts";
import { parseIP, parsePrefix } from "../../../src/core/net/ip.ts";
import type { DataplaneRoute } from "../../../src/core/agent/dataplane.ts";
import { PolicySet, namespaceToProfile, podToEndpoint } from "../../../src/core/policy/index.ts";
import { loadTopology } from "../../../src/topology/index.ts";

const reader = { readFile: (p: string): string => { throw new Error(`no file ${p}`); } };

// node-1, node-2 on seg-a behind r1; node-3 on seg-b behind r2; r1 and r2 joined by "core".
// Static routes join the node subnets; 10.8.0.0/16 loops between r1 and r2 on purpose.
function topo(links = "", extraSegA = "") {
  const text = `
apiVersion: birdcage/v1
kind: Topology
metadata: { name: t }
segments:
  - { name: seg-a, subnet: 192.168.1.0/24, subnetV6: "fd00:1::/64", latencyMs: 0.1${extraSegA} }
  - { name: seg-b, subnet: 192.168.2.0/24, latencyMs: 0.2 }
  - { name: core, subnet: 10.255.0.0/24, latencyMs: 1 }
routers:
  - name: r1
    interfaces:
      - { segment: seg-a, address: 192.168.1.1/24 }
      - { segment: core, address: 10.255.0.1/24 }
    staticRoutes:
      - { prefix: 192.168.2.0/24, via: 10.255.0.2 }
      - { prefix: 10.8.0.0/16, via: 10.255.0.2 }
  - name: r2
    interfaces:
      - { segment: seg-b, address: 192.168.2.1/24 }
      - { segment: core, address: 10.255.0.2/24 }
    staticRoutes:
      - { prefix: 192.168.1.0/24, via: 10.255.0.1 }
      - { prefix: 10.8.0.0/16, via: 10.255.0.1 }
nodes:
  - { name: node-1, segment: seg-a, address: 192.168.1.10/24, addressV6: "fd00:1::10/64", gateway: 192.168.1.1 }
  - { name: node-2, segment: seg-a, address: 192.168.1.11/24, addressV6: "fd00:1::11/64", gateway: 192.168.1.1 }
  - { name: node-3, segment: seg-b, address: 192.168.2.10/24, gateway: 192.168.2.1 }
${links}
cluster:
  podCIDR: 10.1.0.0/16
  encapsulation: { type: ipip, mode: CrossSubnet }
  tunnelMTU: 1430
`;
  return loadTopology(text, "t.yaml", reader).topology;
}

const uni = (prefix: string, nextHops: string[], encap: DataplaneRoute["encap"] = "none"): DataplaneRoute => ({ prefix: parsePrefix(prefix), kind: "unicast", nextHops: nextHops.map(parseIP), encap });
const blackhole = (prefix: string): DataplaneRoute => ({ prefix: parsePrefix(prefix), kind: "blackhole", nextHops: [], encap: "none" });
const pod = (ns: string, name: string, ip: string, mtu = 1430) => ({ key: `${ns}/${name}`, namespace: ns, name, device: `cali-${name}`, addresses: [ip], mtu });

/** Pods a (node-1, 10.1.1.5), b (node-2, 10.1.2.5), c (node-3, 10.1.3.5); each node a tunnel and a blackhole for its block. */
function cluster(opts: { links?: string; encapCross?: "ipip" | "vxlan"; encapSame?: "none" | "ipip"; tunnelMtu?: number; extraSegA?: string } = {}) {
  const net = new SimNetwork(topo(opts.links, opts.extraSegA), new SimEngine({ seed: 7 }));
  const cross = opts.encapCross ?? "ipip";
  const same = opts.encapSame ?? "none";
  const mtu = opts.tunnelMtu ?? 1430;
  const nodes = [
    { name: "node-1", addr: "192.168.1.10", block: "10.1.1.0/26", pod: pod("shop", "a", "10.1.1.5") },
    { name: "node-2", addr: "192.168.1.11", block: "10.1.2.0/26", pod: pod("shop", "b", "10.1.2.5") },
    { name: "node-3", addr: "192.168.2.10", block: "10.1.3.0/26", pod: pod("shop", "c", "10.1.3.5") },
  ];
  for (const n of nodes) {
    const dp = net.dataplane(n.name);
    dp.setTunnel({ type: cross, address: n.block.replace(/\/26$/, ""), mtu });
    dp.addWorkload(n.pod);
    const add = [blackhole(n.block)];
    for (const m of nodes) {
      if (m === n) continue;
      const sameSubnet = m.addr.startsWith("192.168.1.") === n.addr.startsWith("192.168.1.");
      add.push(uni(m.block, [m.addr], sameSubnet ? same : cross));
    }
    dp.applyRoutes({ add, remove: [] });
  }
  return net;
}

const probe = (fromHost: string, src: string, dst: string, more: Partial<TraceSpec> = {}): TraceSpec => ({ fromHost, src, dst, protocol: "tcp", srcPort: 40000, dstPort: 80, size: 100, df: true, ...more });

describe("routing through FIBs", () => {
  test("connected and static routes carry node-1 to node-3 across two routers; latency sums the segments", () => {
    const net = cluster({ links: "links:\n  - { endpoints: [node-3, seg-b], latencyMs: 2 }" });
    const p = net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 1500);
    expect(p).toEqual({
      ok: true,
      // seg-a 0.1, core 1, seg-b: node-3's attachment overrides the segment's 0.2 with 2
      latencyMs: 3.1,
      loss: 0,
      links: [
        { element: "node-1", segment: "seg-a" },
        { element: "r1", segment: "seg-a" },
        { element: "r1", segment: "core" },
        { element: "r2", segment: "core" },
        { element: "r2", segment: "seg-b" },
        { element: "node-3", segment: "seg-b" },
      ],
      mtu: 1500,
    });
    // Same segment: one hop, the segment's latency.
    const q = net.underlayPath("node-1", "192.168.1.10", "192.168.1.11", 100);
    expect(q.ok && q.latencyMs).toBe(0.1);
    // To a router's own address.
    const r = net.underlayPath("node-3", "192.168.2.10", "10.255.0.1", 100);
    expect(r.ok && r.links.map((l) => `${l.element}@${l.segment}`)).toEqual(["node-3@seg-b", "r2@seg-b", "r2@core", "r1@core"]);
    // A host's own address needs no link.
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.1.10", 100)).toEqual({ ok: true, latencyMs: 0, loss: 0, links: [] });
  });

  test("routes(): connected, static, workload, ipam and bgp routes sorted by prefix", () => {
    const net = cluster();
    expect(net.routes("r1").map((r) => `${r.prefix} ${r.source} ${r.nextHops.join(",")}`)).toEqual([
      "10.8.0.0/16 static 10.255.0.2",
      "10.255.0.0/24 connected ",
      "192.168.1.0/24 connected ",
      "192.168.2.0/24 static 10.255.0.2",
    ]);
    expect(net.routes("node-1").map((r) => `${r.prefix} ${r.kind} ${r.source} ${r.encap}`)).toEqual([
      "0.0.0.0/0 unicast static none",
      "10.1.1.0/26 blackhole ipam none",
      "10.1.1.5/32 local workload none",
      "10.1.2.0/26 unicast bgp none",
      "10.1.3.0/26 unicast bgp ipip",
      "192.168.1.0/24 unicast connected none",
      "fd00:1::/64 unicast connected none",
    ]);
  });

  test("a router without the route drops the packet and names itself and the prefix", () => {
    const net = cluster();
    // node-1 routes the block natively via its gateway; r1 has no route for pod addresses.
    net.dataplane("node-1").applyRoutes({ add: [uni("10.1.3.0/26", ["192.168.1.1"])], remove: [] });
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5"));
    expect(r.outcome).toBe("dropped");
    expect(r.dropKind).toBe("no-route");
    expect(r.reason).toBe("dropped at router r1: no route to 10.1.3.0/26 (destination 10.1.3.5)");
    expect(r.hops.map((h) => h.at)).toEqual(["node-1", "node-1", "r1"]);
    expect(r.hops[1]).toEqual({ at: "node-1", action: "route 10.1.3.0/26 via 192.168.1.1: sent on seg-a (mtu 1500)", out: "seg-a", size: 100 });
  });

  test("BGP routes of a router (routeSink) carry pod traffic natively; withdrawing them drops it again", () => {
    const net = cluster();
    net.dataplane("node-1").applyRoutes({ add: [uni("10.1.3.0/26", ["192.168.1.1"])], remove: [] });
    net.routeSink("r1").apply({ add: [{ prefix: parsePrefix("10.1.3.0/26"), kind: "unicast", nextHops: [parseIP("10.255.0.2")] }], remove: [] });
    net.routeSink("r2").apply({ add: [{ prefix: parsePrefix("10.1.3.0/26"), kind: "unicast", nextHops: [parseIP("192.168.2.10")] }], remove: [] });
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5"));
    expect(r.outcome).toBe("delivered");
    expect(r.encap).toBe("none");
    expect(r.hops.map((h) => h.at)).toEqual(["node-1", "node-1", "r1", "r2", "node-3", "node-3"]);
    expect(net.routes("r1").find((x) => x.prefix === "10.1.3.0/26")).toEqual({ node: "r1", prefix: "10.1.3.0/26", kind: "unicast", nextHops: ["10.255.0.2"], encap: "none", source: "bgp" });
    net.routeSink("r2").apply({ add: [], remove: [parsePrefix("10.1.3.0/26")] });
    expect(net.trace(probe("node-1", "10.1.1.5", "10.1.3.5")).reason).toBe("dropped at router r2: no route to 10.1.3.0/26 (destination 10.1.3.5)");
  });

  test("an unallocated address of a node's own block hits its blackhole", () => {
    const net = cluster();
    const r = net.trace(probe("node-2", "10.1.2.5", "10.1.1.9"));
    expect(r.outcome).toBe("dropped");
    expect(r.dropKind).toBe("blackhole");
    expect(r.reason).toBe("dropped at node-1: blackhole route 10.1.1.0/26 (no pod has 10.1.1.9)");
  });

  test("ECMP: flows spread over the next hops, each flow keeps its path", () => {
    const net = cluster();
    net.dataplane("node-1").applyRoutes({ add: [uni("10.9.0.0/16", ["192.168.1.11", "192.168.1.1"])], remove: [] });
    const firstHop = (port: number) => net.trace(probe("node-1", "10.1.1.5", "10.9.0.1", { srcPort: port })).hops.find((h) => h.out === "seg-a")!.action;
    const seen = new Set<string>();
    for (let port = 40000; port < 40040; port++) {
      const a = firstHop(port);
      expect(a).toMatch(/via 192\.168\.1\.(11|1) \(ECMP 2 paths\)/);
      expect(firstHop(port)).toBe(a);
      seen.add(a);
    }
    expect(seen.size).toBe(2);
  });

  test("static routes to one prefix through two routers are one ECMP route", () => {
    const text = `
apiVersion: birdcage/v1
kind: Topology
metadata: { name: diamond }
segments:
  - { name: left, subnet: 10.0.1.0/24 }
  - { name: core-a, subnet: 10.0.2.0/24 }
  - { name: core-b, subnet: 10.0.3.0/24 }
  - { name: right, subnet: 10.0.4.0/24 }
routers:
  - name: ra
    interfaces: [{ segment: left, address: 10.0.1.1/24 }, { segment: core-a, address: 10.0.2.1/24 }, { segment: core-b, address: 10.0.3.1/24 }]
    staticRoutes: [{ prefix: 10.0.4.0/24, via: 10.0.2.2 }, { prefix: 10.0.4.0/24, via: 10.0.3.2 }]
  - name: rb
    interfaces: [{ segment: core-a, address: 10.0.2.2/24 }, { segment: right, address: 10.0.4.1/24 }]
  - name: rc
    interfaces: [{ segment: core-b, address: 10.0.3.2/24 }, { segment: right, address: 10.0.4.2/24 }]
nodes:
  - { name: n1, segment: left, address: 10.0.1.10/24, gateway: 10.0.1.1 }
  - { name: n2, segment: right, address: 10.0.4.10/24, gateway: 10.0.4.1 }
`;
    const net = new SimNetwork(loadTopology(text, "d.yaml", reader).topology, new SimEngine());
    expect(net.routes("ra").find((r) => r.prefix === "10.0.4.0/24")).toEqual({ node: "ra", prefix: "10.0.4.0/24", kind: "unicast", nextHops: ["10.0.2.2", "10.0.3.2"], encap: "none", source: "static" });
    const via = new Set<string>();
    for (let port = 1000; port < 1020; port++) {
      const r = net.trace(probe("n1", "10.0.1.10", "10.0.4.10", { srcPort: port }));
      expect(r.outcome).toBe("delivered");
      via.add(r.hops.map((h) => h.at).join(" "));
    }
    expect([...via].sort()).toEqual(["n1 ra rb n2", "n1 ra rc n2"]);
  });

  test("a routing loop ends when TTL runs out", () => {
    const net = cluster();
    const r = net.trace(probe("node-1", "192.168.1.10", "10.8.0.1"));
    expect(r.dropKind).toBe("ttl");
    expect(r.reason).toMatch(/^dropped at router r[12]: TTL exceeded/);
    expect(r.hops.filter((h) => h.at === "r1").length).toBeGreaterThan(20);
  });

  test("IPv6 on a segment: connected delivery between nodes", () => {
    const net = cluster();
    const r = net.trace(probe("node-1", "fd00:1::10", "fd00:1::11"));
    expect(r.outcome).toBe("delivered");
    expect(r.hops.at(-1)).toEqual({ at: "node-2", action: "delivered to node-2 (fd00:1::11 is its address on seg-a)" });
    expect(net.trace(probe("node-1", "fd00:1::10", "fd00:9::1")).reason).toBe("dropped at node-1: no route to fd00:9::1");
  });
});

describe("pods on one node and traffic leaving the cluster", () => {
  test("pod to pod on the same node: egress and ingress at one node, no link crossed", () => {
    const net = cluster();
    net.dataplane("node-1").addWorkload(pod("shop", "a2", "10.1.1.6", 1400));
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.1.6", { size: 1410, df: false, protocol: "udp" }));
    expect(r.outcome).toBe("fragmented");
    expect(r.pathMtu).toBe(1400);
    expect(r.latencyMs).toBe(0);
    expect(r.hops.map((h) => h.action)).toEqual([
      "left pod shop/a on cali-a",
      "packet of 1410 bytes exceeds the MTU 1400 of pod shop/a2's interface, no DF: fragmented, now 2 pieces of at most 1396 bytes",
      "route 10.1.1.6/32 to pod interface cali-a2 (mtu 1400)",
      "delivered to pod shop/a2",
    ]);
    expect(r.deliveredTo).toBe("pod shop/a2");
  });

  test("pod to outside: default routes up to the edge, where the destination is unknown", () => {
    const net = cluster();
    const r = net.trace(probe("node-1", "10.1.1.5", "203.0.113.9"));
    expect(r.reason).toBe("dropped at router r1: no route to 203.0.113.9");
    // A router's address is a destination outside the pod network that answers.
    const ok = net.trace(probe("node-3", "10.1.3.5", "10.255.0.1"));
    expect(ok.outcome).toBe("delivered");
    expect(ok.deliveredTo).toBe("host r1");
    // The cluster shorthand's pool has natOutgoing: the pod's address leaves node-3 as node-3's.
    expect(ok.hops.find((h) => h.action.startsWith("natOutgoing"))).toEqual({ at: "node-3", action: "natOutgoing (pool 10.1.0.0/16): source 10.1.3.5 masqueraded to 192.168.2.10", out: "seg-b" });
    const seen: string[] = [];
    net.onPacket = (l, p) => seen.push(`${l.element}@${l.segment} ${p.src}>${p.dst}`);
    net.trace(probe("node-3", "10.1.3.5", "10.255.0.1"));
    expect(seen[0]).toBe("node-3@seg-b 192.168.2.10>10.255.0.1");
    // Without natOutgoing the pod address goes out as it is.
    net.setPools([{ cidr: "10.1.0.0/16", natOutgoing: false }]);
    seen.length = 0;
    const plain = net.trace(probe("node-3", "10.1.3.5", "10.255.0.1"));
    expect(plain.hops.some((h) => h.action.startsWith("natOutgoing"))).toBe(false);
    expect(seen[0]).toBe("node-3@seg-b 10.1.3.5>10.255.0.1");
    expect(net.hostOf("10.255.0.1")).toBe("r1");
    expect(net.hostOf("10.255.0.9")).toBeUndefined();
  });

  test("IPv6 without DF: the sending host fragments to the link MTU", () => {
    const net = cluster({ links: "links:\n  - { endpoints: [node-1, seg-a], mtu: 1400 }" });
    const r = net.trace(probe("node-1", "fd00:1::10", "fd00:1::11", { size: 1480, df: false, protocol: "udp" }));
    expect(r.outcome).toBe("fragmented");
    expect(r.fragments).toBe(2);
    expect(net.trace(probe("node-1", "fd00:1::10", "fd00:1::11", { size: 1480, df: true })).reason).toBe(
      "dropped at node-1: packet of 1480 bytes exceeds the MTU 1400 of seg-a and may not be fragmented (EMSGSIZE)",
    );
  });
});

describe("encapsulation and MTU", () => {
  test("IPIP CrossSubnet: native inside the subnet, +20 bytes across it, decapsulated at the remote node", () => {
    const net = cluster();
    const same = net.trace(probe("node-1", "10.1.1.5", "10.1.2.5", { size: 1400 }));
    expect(same.outcome).toBe("delivered");
    expect(same.encap).toBe("none");
    expect(same.hops.filter((h) => h.out === "seg-a").map((h) => h.size)).toEqual([1400]);
    const cross = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5", { size: 1400 }));
    expect(cross.outcome).toBe("delivered");
    expect(cross.encap).toBe("ipip");
    expect(cross.pathMtu).toBe(1430);
    expect(cross.hops.map((h) => [h.at, h.out ?? "", h.size ?? 0])).toEqual([
      ["node-1", "cali-a", 1400],
      ["node-1", "tunl0", 1420],
      ["node-1", "seg-a", 1420],
      ["r1", "core", 1420],
      ["r2", "seg-b", 1420],
      ["node-3", "", 1400],
      ["node-3", "cali-c", 1400],
      ["node-3", "", 0],
    ]);
    expect(cross.hops[1]!.action).toBe("route 10.1.3.0/26 via 192.168.2.10 dev tunl0: encapsulated ipip 192.168.1.10 → 192.168.2.10 (+20 bytes, tunnel mtu 1430)");
    expect(cross.hops[5]!.action).toBe("decapsulated ipip from 192.168.1.10 (-20 bytes)");
    expect(cross.deliveredTo).toBe("pod shop/c");
  });

  test("IPIP Always: encapsulated inside the subnet too", () => {
    const net = cluster({ encapSame: "ipip" });
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.2.5", { size: 1000 }));
    expect(r.outcome).toBe("delivered");
    expect(r.encap).toBe("ipip");
    expect(r.hops.filter((h) => h.out === "seg-a").map((h) => h.size)).toEqual([1020]);
  });

  test("VXLAN adds 50 bytes; a next hop that is the remote tunnel address maps to its node (VTEP)", () => {
    const net = cluster({ encapCross: "vxlan", tunnelMtu: 1450 });
    net.dataplane("node-1").applyRoutes({ add: [uni("10.1.3.0/26", ["10.1.3.0"], "vxlan")], remove: [] });
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5", { size: 1400 }));
    expect(r.outcome).toBe("delivered");
    expect(r.encap).toBe("vxlan");
    expect(r.hops[1]!.action).toBe("route 10.1.3.0/26 via 10.1.3.0 dev vxlan.calico: encapsulated vxlan 192.168.1.10 → 192.168.2.10 (+50 bytes, tunnel mtu 1450)");
    expect(r.hops.filter((h) => h.out === "core").map((h) => h.size)).toEqual([1450]);
  });

  test("VXLAN over IPv6 adds 70 bytes; without a tunnel MTU the link's minus the overhead applies", () => {
    const net = cluster();
    net.dataplane("node-1").addWorkload(pod("shop", "v6a", "fd00:10:1::5", 1500));
    net.dataplane("node-2").addWorkload(pod("shop", "v6b", "fd00:10:2::5", 1500));
    net.dataplane("node-1").applyRoutes({ add: [uni("fd00:10:2::/122", ["fd00:1::11"], "vxlan")], remove: [] });
    const r = net.trace(probe("node-1", "fd00:10:1::5", "fd00:10:2::5", { size: 1400 }));
    expect(r.outcome).toBe("delivered");
    expect(r.hops.filter((h) => h.out === "seg-a").map((h) => h.size)).toEqual([1470]);
    expect(r.pathMtu).toBe(1430);
    const big = net.trace(probe("node-1", "fd00:10:1::5", "fd00:10:2::5", { size: 1480, df: false }));
    expect(big.reason).toBe("dropped at node-1: packet of 1480 bytes exceeds tunnel MTU 1430, ICMPv6 packet-too-big (mtu 1430) sent");
  });

  test("tunnel MTU 1430 and a 1480-byte packet: DF drops it with frag-needed, without DF it is fragmented", () => {
    const net = cluster();
    const df = net.trace(probe("node-1", "192.168.1.10", "10.1.3.5", { size: 1480, df: true }));
    expect(df.outcome).toBe("dropped");
    expect(df.dropKind).toBe("mtu");
    expect(df.reason).toBe("dropped at node-1: packet of 1480 bytes exceeds tunnel MTU 1430 with DF set, ICMP frag-needed (mtu 1430) sent");
    expect(df.pathMtu).toBe(1430);

    const frag = net.trace(probe("node-1", "192.168.1.10", "10.1.3.5", { size: 1480, df: false, protocol: "udp" }));
    expect(frag.outcome).toBe("fragmented");
    expect(frag.fragments).toBe(2);
    // 1460 payload bytes → 1408 + 52, each with its 20-byte header, then +20 for IPIP.
    expect(frag.hops.filter((h) => h.out === "core").map((h) => h.size)).toEqual([1448]);
    expect(frag.hops.find((h) => h.action.includes("fragmented"))!.action).toBe("packet of 1480 bytes exceeds tunnel MTU 1430, no DF: fragmented, now 2 pieces of at most 1428 bytes");
    expect(frag.deliveredTo).toBe("pod shop/c");
  });

  test("the pod interface MTU: a pod cannot send more than its MTU with DF", () => {
    const net = cluster();
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.2.5", { size: 1480 }));
    expect(r.reason).toBe("dropped at node-1: packet of 1480 bytes exceeds the MTU 1430 of pod shop/a's interface with DF set (the pod's stack refuses it: EMSGSIZE)");
    // From the host to the pod, the pod interface is the narrow link.
    const h = net.trace(probe("node-2", "192.168.1.11", "10.1.2.5", { size: 1480 }));
    expect(h.reason).toBe("dropped at node-2: packet of 1480 bytes exceeds the MTU 1430 of pod shop/b's interface with DF set, ICMP frag-needed (mtu 1430) sent");
  });

  test("an attachment with a smaller MTU is an MTU black hole: the frame vanishes without ICMP", () => {
    const net = cluster({ links: "links:\n  - { endpoints: [node-3, seg-b], mtu: 1400 }" });
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5", { size: 1400 }));
    expect(r.outcome).toBe("dropped");
    expect(r.dropKind).toBe("mtu");
    expect(r.reason).toBe("dropped at node-3: frame of 1420 bytes exceeds the MTU 1400 of node-3@seg-b (MTU black hole: the receiver drops it and no ICMP is sent)");
    expect(r.pathMtu).toBe(1380);
    // The underlay path reports the same limit to the transport.
    const u = net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 1450);
    expect(u).toEqual({ ok: false, at: "node-3", reason: "dropped at node-3: packet of 1450 bytes exceeds the path MTU 1400", kind: "mtu" });
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 1400).ok).toBe(true);
  });
});

describe("failures", () => {
  test("a link down drops at the sender; restoring it restores the path (cache invalidated)", () => {
    const net = cluster();
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100).ok).toBe(true);
    net.setLinkDown("r1", "core", true);
    expect(net.isLinkDown("r1", "core")).toBe(true);
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100)).toEqual({ ok: false, at: "r1", reason: "dropped at router r1: link r1@core is down", kind: "link-down" });
    const t = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5"));
    expect(t.dropKind).toBe("link-down");
    // The receiving side's attachment down drops too.
    net.setLinkDown("r1", "core", false);
    net.setLinkDown("node-3", "seg-b", true);
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100)).toEqual({ ok: false, at: "r2", reason: "dropped at router r2: link node-3@seg-b is down", kind: "link-down" });
    net.setLinkDown("node-3", "seg-b", false);
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100).ok).toBe(true);
  });

  test("a host down drops what reaches it", () => {
    const net = cluster();
    const v0 = net.version();
    net.setHostDown("r2", true);
    expect(net.isHostDown("r2")).toBe(true);
    expect(net.version()).toBeGreaterThan(v0);
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5"));
    expect(r.outcome).toBe("dropped");
    expect(r.dropKind).toBe("host-down");
    expect(r.reason).toBe("dropped at router r2: r2 is down");
    net.setHostDown("r2", false);
    expect(net.trace(probe("node-1", "10.1.1.5", "10.1.3.5")).outcome).toBe("delivered");
    // A pod on a node that is down sends nothing.
    net.setHostDown("node-1", true);
    const src = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5"));
    expect([src.reason, src.hops.length]).toEqual(["dropped at node-1: node-1 is down", 1]);
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100)).toEqual({ ok: false, at: "node-1", reason: "dropped at node-1: node-1 is down", kind: "host-down" });
  });

  test("FIB changes on the path invalidate cached underlay paths", () => {
    const net = cluster();
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100).ok).toBe(true);
    const v0 = net.version();
    net.routeSink("r1").apply({ add: [{ prefix: parsePrefix("192.168.2.0/25"), kind: "blackhole", nextHops: [] }], remove: [] });
    expect(net.version()).toBeGreaterThan(v0);
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100)).toEqual({ ok: false, at: "r1", reason: "dropped at router r1: blackhole route 192.168.2.0/25 (no pod has 192.168.2.10)", kind: "blackhole" });
    net.routeSink("r1").apply({ add: [], remove: [parsePrefix("192.168.2.0/25")] });
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100).ok).toBe(true);
  });

  test("link loss: underlayPath reports the probability; traces draw it from the seeded stream", () => {
    const net = cluster({ extraSegA: ", loss: 0.5" });
    const u = net.underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100);
    expect(u.ok && u.loss).toBe(0.5);
    const outcomes = Array.from({ length: 200 }, () => net.trace(probe("node-1", "10.1.1.5", "10.1.3.5")).outcome);
    const lost = outcomes.filter((o) => o === "dropped").length;
    expect(lost).toBeGreaterThan(60);
    expect(lost).toBeLessThan(140);
    expect(net.trace(probe("node-1", "10.1.1.5", "10.1.3.5", { loss: false })).outcome).toBe("delivered");
  });
});

describe("policy at the pods", () => {
  const eps = [
    podToEndpoint({ name: "a", namespace: "shop", labels: { app: "a" }, ips: ["10.1.1.5"] }),
    podToEndpoint({ name: "b", namespace: "shop", labels: { app: "b" }, ips: ["10.1.2.5"] }),
    podToEndpoint({ name: "c", namespace: "shop", labels: { app: "c" }, ips: ["10.1.3.5"] }),
  ];
  const policySet = () =>
    new PolicySet({
      profiles: [namespaceToProfile({ name: "shop" })],
      endpoints: eps,
      policies: [
        // a may not talk to b at all; c only admits port 443.
        { kind: "NetworkPolicy", name: "a-egress", namespace: "shop", spec: { selector: "app == 'a'", types: ["Egress"], egress: [{ action: "Deny", destination: { selector: "app == 'b'" } }, { action: "Allow" }] } },
        { kind: "NetworkPolicy", name: "c-ingress", namespace: "shop", spec: { selector: "app == 'c'", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [443] } }] } },
      ],
    });
  const withPolicy = () => {
    const net = cluster();
    const ps = policySet();
    for (const n of ["node-1", "node-2", "node-3"]) net.dataplane(n).setPolicy(ps);
    return net;
  };

  test("egress deny at the source pod names the tier, policy and rule", () => {
    const r = withPolicy().trace(probe("node-1", "10.1.1.5", "10.1.2.5"));
    expect(r.outcome).toBe("dropped");
    expect(r.dropKind).toBe("policy");
    expect(r.reason).toBe("dropped at node-1: egress policy of pod shop/a: denied by tier default, policy shop/a-egress, rule 0");
    expect(r.hops).toHaveLength(1);
  });

  test("ingress deny at the destination pod, after the whole path", () => {
    const net = withPolicy();
    const r = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5", { dstPort: 80 }));
    expect(r.outcome).toBe("dropped");
    expect(r.reason).toBe("dropped at node-3: ingress policy of pod shop/c: denied at the end of tier default (no policy in the tier allowed or passed it)");
    expect(r.hops[0]!.action).toBe("egress policy of pod shop/a: allowed by tier default, policy shop/a-egress, rule 1");
    const ok = net.trace(probe("node-1", "10.1.1.5", "10.1.3.5", { dstPort: 443 }));
    expect(ok.outcome).toBe("delivered");
    expect(ok.hops.at(-2)!.action).toBe("ingress policy of pod shop/c: allowed by tier default, policy shop/c-ingress, rule 0");
  });

  test("host-to-host underlay paths ignore pod policy", () => {
    expect(withPolicy().underlayPath("node-1", "192.168.1.10", "192.168.2.10", 100).ok).toBe(true);
  });
});

describe("dataplane and capture", () => {
  test("removing routes, pods and tunnels takes them out of forwarding", () => {
    const net = cluster();
    const dp = net.dataplane("node-3");
    dp.removeWorkload("shop/c");
    expect(net.trace(probe("node-1", "10.1.1.5", "10.1.3.5")).dropKind).toBe("blackhole");
    dp.applyRoutes({ add: [], remove: [parsePrefix("10.1.3.0/26")] });
    // Without its blackhole, node-3 sends the pod address to its default route.
    expect(net.trace(probe("node-1", "10.1.1.5", "10.1.3.5")).reason).toBe("dropped at router r2: no route to 10.1.3.0/26 (destination 10.1.3.5)");
    expect(net.routes("node-3").map((r) => r.prefix)).toEqual(["0.0.0.0/0", "10.1.1.0/26", "10.1.2.0/26", "192.168.2.0/24"]);
    expect(net.hostOf("10.1.3.0")).toBe("node-3");
    dp.removeTunnel("ipip");
    expect(net.hostOf("10.1.3.0")).toBeUndefined();
    // Without tunl0, node-3 cannot take IPIP in.
    dp.addWorkload(pod("shop", "c", "10.1.3.5"));
    expect(net.trace(probe("node-1", "10.1.1.5", "10.1.3.5")).reason).toBe("dropped at node-3: ipip packet from 192.168.1.10 but node-3 has no tunl0 device (IPIP not enabled there)");
    expect(() => net.dataplane("r1")).toThrow(/router/);
    expect(() => net.trace(probe("nope", "10.1.1.5", "10.1.3.5"))).toThrow(/unknown host "nope"/);
  });

  test("onPacket sees each packet on both attachments of every segment crossed, with the outer header", () => {
    const net = cluster();
    const seen: string[] = [];
    const times: number[] = [];
    net.onPacket = (link, p) => {
      seen.push(`${link.element}@${link.segment} ${p.src}>${p.dst} ${p.size}${p.encap ? ` ${p.encap.type} ${p.encap.src}>${p.encap.dst}` : ""}`);
      times.push(p.timeMs ?? -1);
    };
    net.trace(probe("node-1", "10.1.1.5", "10.1.3.5"));
    // Stamped with virtual time: seg-a 0.1 ms, core 1 ms, seg-b 0.2 ms.
    expect(times.map((t) => Math.round(t * 1000) / 1000)).toEqual([0, 0.1, 0.1, 1.1, 1.1, 1.3]);
    expect(seen).toEqual([
      "node-1@seg-a 10.1.1.5>10.1.3.5 120 ipip 192.168.1.10>192.168.2.10",
      "r1@seg-a 10.1.1.5>10.1.3.5 120 ipip 192.168.1.10>192.168.2.10",
      "r1@core 10.1.1.5>10.1.3.5 120 ipip 192.168.1.10>192.168.2.10",
      "r2@core 10.1.1.5>10.1.3.5 120 ipip 192.168.1.10>192.168.2.10",
      "r2@seg-b 10.1.1.5>10.1.3.5 120 ipip 192.168.1.10>192.168.2.10",
      "node-3@seg-b 10.1.1.5>10.1.3.5 120 ipip 192.168.1.10>192.168.2.10",
    ]);
    expect(net.address("node-3")).toBe("192.168.2.10");
    expect(net.address("node-1", 6)).toBe("fd00:1::10");
    expect(net.hostNames()).toEqual(["node-1", "node-2", "node-3", "r1", "r2"]);
    net.setLinkDown("r2", "core", true);
    expect(net.attachments().filter((a) => a.element === "r2")).toEqual([
      { element: "r2", segment: "core", mtu: 1500, down: true },
      { element: "r2", segment: "seg-b", mtu: 1500, down: false },
    ]);
    net.setLinkDown("r2", "core", false);
    // Packets others move (the transport's segments) go through the same hook.
    seen.length = 0;
    const path = net.underlayPath("node-1", "192.168.1.10", "192.168.1.11", 60);
    net.capture(path.ok ? path.links : [], { src: "192.168.1.10", dst: "192.168.1.11", protocol: "tcp", size: 60 });
    expect(seen).toEqual(["node-1@seg-a 192.168.1.10>192.168.1.11 60", "node-2@seg-a 192.168.1.10>192.168.1.11 60"]);
  });

  test("a fragment of a fragment: two narrower links in a row, no DF", () => {
    const net = cluster({ links: "links:\n  - { endpoints: [r1, core], mtu: 1000 }\n  - { endpoints: [r2, seg-b], mtu: 600 }\n  - { endpoints: [node-3, seg-b], mtu: 600 }" });
    const r = net.trace(probe("node-1", "192.168.1.10", "192.168.2.10", { size: 1400, df: false, protocol: "udp" }));
    expect(r.outcome).toBe("fragmented");
    // 1380 payload bytes: 976 + 404 at r1, then 976 → 576 + 400 at r2: pieces 596, 420, 424.
    expect(r.fragments).toBe(3);
    expect(r.pathMtu).toBe(600);
    expect(r.hops.filter((h) => h.action.includes("fragmented")).map((h) => `${h.at}: ${h.action}`)).toEqual([
      "r1: packet of 1400 bytes exceeds the MTU 1000 of core, no DF: fragmented, now 2 pieces of at most 996 bytes",
      "r2: packet of 996 bytes exceeds the MTU 600 of seg-b, no DF: fragmented, now 3 pieces of at most 596 bytes",
    ]);
  });

  test("bad probes are refused with a reason", () => {
    const net = cluster();
    expect(() => net.trace(probe("node-1", "10.1.1.5", "10.1.3.5", { size: 10 }))).toThrow(/not an IP packet size/);
    expect(() => net.trace(probe("node-1", "10.1.1.5", "not-an-ip"))).toThrow(/invalid IP address/);
    expect(() => net.trace(probe("node-1", "10.1.1.5", "fd00::1"))).toThrow(/different IP families/);
    expect(() => net.setLinkDown("node-1", "seg-b", true)).toThrow(/node-1 is not attached to segment seg-b/);
  });
});
