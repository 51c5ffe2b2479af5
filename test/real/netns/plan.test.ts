import { describe, expect, test } from "@jest/globals";
import { netemArgs, planNetns } from "../../../real/netns/plan.ts";
import { clabPlan } from "../../../real/netns/clab.ts";
import { IFNAME_MAX } from "../../../real/netns/names.ts";
import { MTU_TOPOLOGY, quickstart, topologyFromText, twoSegments } from "./topo.ts";

describe("netns plan", () => {
  test("quickstart: one namespace per node and router plus the fabric, veth ends in their namespaces", () => {
    const p = planNetns(quickstart(), "abc123");
    expect(p.namespaces).toEqual(["bc-abc123_fabric", "bc-abc123-r1", "bc-abc123-node-1", "bc-abc123-node-2", "bc-abc123-node-3", "bc-abc123-node-4"]);
    expect(p.netnsBatch[0]).toBe("netns add bc-abc123_fabric");
    expect(p.segments.map((s) => [s.name, s.bridge, s.mtu, s.ports])).toEqual([
      ["seg-a", "bc-s1", 1500, ["bc-s1p1", "bc-s1p2", "bc-s1p3"]],
      ["seg-b", "bc-s2", 1500, ["bc-s2p1", "bc-s2p2", "bc-s2p3"]],
    ]);
    expect(p.fabricBatch).toContain("link add bc-s2p1 mtu 1500 type veth peer name eth1 mtu 1500 netns bc-abc123-r1");
    expect(p.fabricBatch).toContain("link set bc-s2p1 alias bc:abc123 master bc-s2 up");
    const node3 = p.elements.find((e) => e.name === "node-3")!;
    expect(node3.batch).toEqual(["link set lo up", "link set eth0 alias bc:abc123 up", "addr add 192.168.2.10/24 dev eth0", "route add default via 192.168.2.1 dev eth0"]);
    const r1 = p.elements.find((e) => e.name === "r1")!;
    expect(r1.interfaces.map((i) => `${i.ifname}:${i.address}`)).toEqual(["eth0:192.168.1.1/24", "eth1:192.168.2.1/24"]);
    expect(r1.sysctl).toContain("net.ipv4.ip_forward=1");
    expect(node3.sysctl).toEqual([]);
    // quickstart's segments have 0.1 ms latency: half on each end of every attachment
    expect(node3.tc).toEqual(["qdisc add dev eth0 root netem delay 50us"]);
    expect(p.fabricTc).toContain("qdisc add dev bc-s2p2 root netem delay 50us");
    expect(p.fabricDownBatch).toEqual([]);
  });

  test("segment MTU, a link's own MTU, static routes, a link that starts down, loss split over both ends", () => {
    const p = planNetns(topologyFromText(MTU_TOPOLOGY), "mtu001");
    const seg = new Map(p.segments.map((s) => [s.name, s]));
    expect(seg.get("seg-a")!.mtu).toBe(1400);
    expect(p.fabricBatch.at(-2)).toBe("link set bc-s1 mtu 1400");
    const b1 = p.elements.find((e) => e.name === "b1")!.interfaces[0]!;
    expect(b1.mtu).toBe(1300);
    expect(p.fabricBatch).toContain(`link add ${b1.fabricPort} mtu 1300 type veth peer name eth0 mtu 1300 netns bc-mtu001-b1`);
    const b2 = p.elements.find((e) => e.name === "b2")!;
    expect(b2.interfaces[0]!.down).toBe(true);
    expect(p.fabricDownBatch).toEqual([`link set ${b2.interfaces[0]!.fabricPort} down`]);
    expect(b2.tc).toEqual(["qdisc add dev eth0 root netem delay 1000us loss 10%"]);
    expect(p.elements.find((e) => e.name === "r1")!.batch).toContain("route add 10.99.0.0/16 via 10.91.2.20");
    expect(p.elements.find((e) => e.name === "a1")!.tc).toEqual([]);
  });

  test("netem arguments: half the latency per end, per-end loss that compounds to the link's", () => {
    expect(netemArgs({ latencyMs: 0, loss: 0 })).toBeUndefined();
    expect(netemArgs({ latencyMs: 0.05, loss: 0 })).toBe("netem delay 25us");
    expect(netemArgs({ latencyMs: 0, loss: 0.36 })).toBe("netem loss 20%");
    expect(netemArgs({ latencyMs: 1, loss: 0, bandwidthMbps: 100 })).toBe("netem delay 500us rate 100mbit");
  });

  test("IPv6 addresses without DAD and an IPv6 default route", () => {
    const t = topologyFromText(`
apiVersion: birdcage/v1
kind: Topology
metadata: { name: v6 }
segments: [{ name: s, subnetV6: "fd00:1::/64" }]
routers: [{ name: r, interfaces: [{ segment: s, addressV6: "fd00:1::1/64" }] }]
nodes: [{ name: n, segment: s, addressV6: "fd00:1::10/64", gateway: "fd00:1::1" }]
`);
    const n = planNetns(t, "v6test").elements.find((e) => e.name === "n")!;
    expect(n.batch).toContain("addr add fd00:1::10/64 dev eth0 nodad");
    expect(n.batch).toContain("route add ::/0 via fd00:1::1 dev eth0");
    expect(n.sysctl).toEqual(["net.ipv6.conf.eth0.accept_dad=0"]);
  });

  test("a 2,000-node generated topology: every interface name unique in its namespace and at most 15 characters", () => {
    const t = topologyFromText(`
apiVersion: birdcage/v1
kind: Topology
metadata: { name: big }
generate: { nodes: 2000, racks: 40, rackSubnet: "10.0.{rack}.0/24", torRouters: true }
`);
    const p = planNetns(t, "big001");
    expect(p.elements.length).toBe(2040);
    const fabricNames = [...p.segments.map((s) => s.bridge), ...p.segments.flatMap((s) => s.ports)];
    expect(new Set(fabricNames).size).toBe(fabricNames.length);
    expect(Math.max(...fabricNames.map((n) => n.length))).toBeLessThanOrEqual(IFNAME_MAX);
    expect(new Set(p.namespaces).size).toBe(p.namespaces.length);
    for (const e of p.elements) expect(new Set(e.interfaces.map((i) => i.ifname)).size).toBe(e.interfaces.length);
  });
});

describe("containerlab command plan", () => {
  test("quickstart: bridges of the run, deploy, and the reverse on down", () => {
    const p = clabPlan(quickstart(), "abc123", "/tmp/bc-abc123.clab.yaml");
    expect(p.up).toEqual([
      ["ip", "link", "add", "bc-abc123b1", "type", "bridge"],
      ["ip", "link", "set", "bc-abc123b1", "alias", "bc:abc123", "mtu", "1500", "up"],
      ["ip", "link", "add", "bc-abc123b2", "type", "bridge"],
      ["ip", "link", "set", "bc-abc123b2", "alias", "bc:abc123", "mtu", "1500", "up"],
      ["containerlab", "deploy", "-t", "/tmp/bc-abc123.clab.yaml"],
    ]);
    expect(p.down).toEqual([
      ["containerlab", "destroy", "-t", "/tmp/bc-abc123.clab.yaml", "--cleanup"],
      ["ip", "link", "del", "bc-abc123b1"],
      ["ip", "link", "del", "bc-abc123b2"],
    ]);
    expect(p.labName).toBe("bc-abc123-quickstart");
    const topo = p.topology as { name: string; topology: { nodes: Record<string, { kind: string }>; links: { endpoints: string[] }[] } };
    expect(topo.name).toBe("bc-abc123-quickstart");
    expect(topo.topology.nodes["bc-abc123b1"]!.kind).toBe("bridge");
    expect(topo.topology.nodes["bc-1"]).toBeUndefined();
    expect(topo.topology.links[0]!.endpoints).toEqual(["r1:eth1", "bc-abc123b1:bc-abc123p1"]);
    const ports = topo.topology.links.map((l) => l.endpoints[1]!.split(":")[1]!);
    expect(new Set(ports).size).toBe(6);
    for (const port of ports) expect(port.length).toBeLessThanOrEqual(IFNAME_MAX);
  });

  test("a run id too long for containerlab's host-side interface names is refused", () => {
    expect(() => clabPlan(topologyFromText(twoSegments(4)), "abcdefghijkl")).toThrow(/longer than 15/);
  });
});
