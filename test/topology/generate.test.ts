import { describe, expect, test } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatProblems } from "../../src/core/model/index.ts";
import { bgpPeerings, loadTopology, parseTopology, topologyToJSON } from "../../src/topology/index.ts";
import { repoRoot } from "../helpers/paths.ts";

const reader = { readFile: (p: string) => readFileSync(join(repoRoot, p), "utf8") };
const head = "apiVersion: birdcage/v1\nkind: Topology\nmetadata: { name: g }\n";
const gen = (spec: string, extra = "") => loadTopology(`${head}generate: ${spec}\n${extra}`, "g.yaml", reader).topology;
const problems = (spec: string) => formatProblems(parseTopology(`${head}generate: ${spec}\n`, "g.yaml", reader).problems).trimEnd();

describe("generators", () => {
  test("racks with ToRs: rack segments, fabric, node addresses from .10, gateways, static routes between racks", () => {
    const t = gen("{ nodes: 10, racks: 3, torRouters: true }");
    expect(t.segments.map((s) => `${s.name} ${s.subnet}`)).toEqual(["rack-01 10.0.1.0/24", "rack-02 10.0.2.0/24", "rack-03 10.0.3.0/24", "fabric 10.255.255.0/24"]);
    expect(t.nodes.map((n) => `${n.name} ${n.segment} ${n.address} ${n.gateway}`)).toEqual([
      "node-01 rack-01 10.0.1.10/24 10.0.1.1",
      "node-02 rack-01 10.0.1.11/24 10.0.1.1",
      "node-03 rack-01 10.0.1.12/24 10.0.1.1",
      "node-04 rack-01 10.0.1.13/24 10.0.1.1",
      "node-05 rack-02 10.0.2.10/24 10.0.2.1",
      "node-06 rack-02 10.0.2.11/24 10.0.2.1",
      "node-07 rack-02 10.0.2.12/24 10.0.2.1",
      "node-08 rack-02 10.0.2.13/24 10.0.2.1",
      "node-09 rack-03 10.0.3.10/24 10.0.3.1",
      "node-10 rack-03 10.0.3.11/24 10.0.3.1",
    ]);
    expect(t.routers[1]).toEqual({
      name: "tor-02",
      interfaces: [
        { segment: "rack-02", address: "10.0.2.1/24" },
        { segment: "fabric", address: "10.255.255.2/24" },
      ],
      staticRoutes: [
        { prefix: "10.0.1.0/24", via: "10.255.255.1" },
        { prefix: "10.0.3.0/24", via: "10.255.255.3" },
      ],
    });
    expect(t.nodes[0]!.labels).toEqual({ rack: "rack-01" });
    expect(t.cluster.nodeToNodeMesh).toBe(true);
  });

  test("a base CIDR is split into the smallest rack subnets that fit", () => {
    const t = gen("{ nodes: 40, racks: 2, torRouters: true, rackSubnet: 10.8.0.0/16 }");
    expect(t.segments.slice(0, 2).map((s) => s.subnet)).toEqual(["10.8.0.0/27", "10.8.0.32/27"]);
    expect(t.nodes[39]!.address).toBe("10.8.0.61/27");
  });

  test("per-rack route reflectors: labels, cluster IDs, BGPPeers, mesh off", () => {
    const t = gen("{ nodes: 12, racks: 2, torRouters: true, routeReflectors: { perRack: 2 } }");
    const rrs = t.nodes.filter((n) => n.labels["route-reflector"] === "true");
    expect(rrs.map((n) => `${n.name} ${n.routeReflectorClusterID}`)).toEqual(["node-01 244.0.0.1", "node-02 244.0.0.1", "node-07 244.0.0.2", "node-08 244.0.0.2"]);
    expect(t.cluster.nodeToNodeMesh).toBe(false);
    expect(t.cluster.bgpConfiguration.spec.nodeToNodeMeshEnabled).toBe(false);
    expect(t.cluster.bgpPeers.map((p) => [p.metadata.name, p.spec.nodeSelector, p.spec.peerSelector])).toEqual([
      ["rack-01-to-rr", "rack == 'rack-01'", "rack == 'rack-01' && route-reflector == 'true'"],
      ["rack-02-to-rr", "rack == 'rack-02'", "rack == 'rack-02' && route-reflector == 'true'"],
      ["rr-mesh", "route-reflector == 'true'", "route-reflector == 'true'"],
    ]);
    const p = bgpPeerings(t);
    // Per rack: 4 clients x 2 RRs + the RR pair; plus the 4 cross-rack RR pairs.
    expect(p).toHaveLength(2 * (4 * 2 + 1) + 4);
    expect(p.find((x) => x.a === "node-03" && x.b === "node-01")?.reflected ?? p.find((x) => x.a === "node-01" && x.b === "node-03")?.reflected).toBe(true);
    expect(p.some((x) => (x.a === "node-03" && x.b === "node-09") || (x.a === "node-09" && x.b === "node-03"))).toBe(false);
  });

  test("global route reflectors spread over racks; one cluster ID", () => {
    const t = gen("{ nodes: 30, racks: 3, torRouters: true, routeReflectors: { global: 4 } }");
    const rrs = t.nodes.filter((n) => n.routeReflectorClusterID !== undefined);
    expect(rrs.map((n) => n.name)).toEqual(["node-01", "node-02", "node-11", "node-21"]);
    expect(new Set(rrs.map((n) => n.routeReflectorClusterID))).toEqual(new Set(["244.0.0.1"]));
    expect(bgpPeerings(t)).toHaveLength(26 * 4 + 6);
  });

  test("ToR BGP: routers peer with their rack's nodes, nodes get BGPPeers to their ToR", () => {
    const t = gen("{ nodes: 4, racks: 2, torRouters: true, torBgp: true, torAsNumber: 65100 }");
    expect(t.routers.map((r) => r.bgp)).toEqual([
      { asNumber: 65100, routerId: "10.255.255.1", peers: [{ nodeSelector: "rack == 'rack-01'", routeReflectorClient: false }] },
      { asNumber: 65101, routerId: "10.255.255.2", peers: [{ nodeSelector: "rack == 'rack-02'", routeReflectorClient: false }] },
    ]);
    expect(t.cluster.bgpPeers.map((p) => [p.metadata.name, p.spec.peerIP, p.spec.asNumber])).toEqual([
      ["rack-01-to-tor", "10.0.1.1", 65100],
      ["rack-02-to-tor", "10.0.2.1", 65101],
    ]);
    const ebgp = bgpPeerings(t).filter((p) => p.type === "eBGP");
    expect(ebgp.map((p) => `${p.a}-${p.b}`).sort()).toEqual(["node-01-tor-01", "node-02-tor-01", "node-03-tor-02", "node-04-tor-02"]);
  });

  test("explicit elements next to generated ones; the same input expands identically", () => {
    const extra = "routers:\n  - name: edge\n    interfaces: [{ segment: fabric, address: 10.255.255.200/24 }]\n";
    const a = gen("{ nodes: 6, racks: 2, torRouters: true }", extra);
    expect(a.routers.map((r) => r.name)).toEqual(["tor-01", "tor-02", "edge"]);
    expect(JSON.stringify(topologyToJSON(a))).toBe(JSON.stringify(topologyToJSON(gen("{ nodes: 6, racks: 2, torRouters: true }", extra))));
  });

  test("generator problems point at the generate fields", () => {
    expect(problems("{ nodes: 10, racks: 2 }")).toBe("g.yaml:4:31: generate.racks: racks > 1 needs torRouters: true (nothing would connect the rack segments)");
    expect(problems("{ nodes: 10, racks: 2, nodesPerRack: 3, torRouters: true }")).toMatch(/^g\.yaml:4:48: generate\.nodesPerRack: 2 racks of 3 hold 6 nodes/);
    expect(problems("{ nodes: 300, racks: 2, torRouters: true, rackSubnet: 10.0.0.0/24 }")).toMatch(/^g\.yaml:4:\d+: generate\.rackSubnet: .*cannot be split/);
    expect(problems(`{ nodes: 300, rackSubnet: "10.0.{rack}.0/24" }`)).toMatch(/generate\.rackSubnet: rack 1's subnet 10\.0\.1\.0\/24 has room for fewer than 300 nodes/);
    expect(problems("{ nodes: 0 }")).toMatch(/^g\.yaml:4:20: generate\.nodes: /);
  });

  test("a generated name that clashes with an explicit one is reported", () => {
    const r = parseTopology(`${head}generate: { nodes: 2 }\nnodes:\n  - { name: node-01, segment: rack-01, address: 10.0.1.50/24 }\n`, "g.yaml", reader);
    expect(formatProblems(r.problems)).toBe('g.yaml:6:13: duplicate name "node-01" (already used by a node)\n');
  });

  test("example topologies load with the expected sizes", () => {
    const load = (f: string) => loadTopology(readFileSync(join(repoRoot, f), "utf8"), f, reader).topology;
    const rack = load("topologies/rack-rr.yaml");
    expect([rack.segments.length, rack.routers.length, rack.nodes.length]).toEqual([11, 10, 200]);
    expect(rack.nodes.filter((n) => n.labels["route-reflector"] === "true")).toHaveLength(20);
    const mesh = load("topologies/mesh-100.yaml");
    expect(bgpPeerings(mesh)).toHaveLength(4950);
    const q = load("topologies/quickstart.yaml");
    expect(q.cluster).toMatchObject({ tunnelMTU: 1430, ipAutodetectionMethod: "interface=eth0" });
    expect(q.cluster.ipPools[0]!.spec.ipipMode).toBe("CrossSubnet");
  });
});
