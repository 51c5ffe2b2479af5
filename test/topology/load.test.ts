import { describe, expect, test } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatProblems } from "../../src/core/model/index.ts";
import { parseTopology, loadTopology, resolveRelative, bgpPeerings } from "../../src/topology/index.ts";
import { repoRoot } from "../helpers/paths.ts";

const files = new Map<string, string>();
const reader = {
  readFile: (p: string) => {
    const t = files.get(p);
    if (t === undefined) throw new Error("no such file");
    return t;
  },
};
const head = "apiVersion: birdcage/v1\nkind: Topology\nmetadata: { name: t }\n";
const problemsOf = (body: string) => formatProblems(parseTopology(head + body, "t.yaml", reader).problems).trimEnd().split("\n").filter(Boolean);
const okBody = `segments:
  - { name: a, subnet: 10.0.0.0/24 }
nodes:
  - { name: n1, segment: a, address: 10.0.0.10/24 }
  - { name: n2, segment: a, address: 10.0.0.11/24 }
`;

describe("schema errors with positions", () => {
  test("wrong apiVersion/kind and unknown fields", () => {
    expect(formatProblems(parseTopology("apiVersion: v1\nkind: Topology\nmetadata: { name: x }\n", "x.yaml", reader).problems)).toContain('x.yaml:1:13: apiVersion: expected "birdcage/v1"');
    expect(problemsOf(okBody + "extra: 1\n")).toEqual([expect.stringMatching(/^t\.yaml:9:1: extra: unknown field; expected one of: apiVersion, kind, metadata, generate/)]);
  });

  test("bad values point at the value", () => {
    expect(problemsOf("segments:\n  - { name: a, subnet: 10.0.0.1/24, mtu: 20 }\n")).toEqual([
      't.yaml:5:24: segments[0].subnet: "10.0.0.1/24" has host bits set; did you mean 10.0.0.0/24?',
      "t.yaml:5:42: segments[0].mtu: MTU must be at least 68 (the IPv4 minimum)",
    ]);
    expect(problemsOf("nodes:\n  - { name: n1, segment: a, address: 10.0.0.1 }\n")[0]).toMatch(/^t\.yaml:5:38: nodes\[0\]\.address: expected an address with a prefix length/);
  });

  test("YAML syntax errors", () => {
    expect(problemsOf("segments: [\n")[0]).toMatch(/^t\.yaml:\d+:\d+: invalid YAML/);
  });
});

describe("semantic checks", () => {
  test("dangling references, addresses outside subnets, duplicates, overlaps", () => {
    const p = problemsOf(`segments:
  - { name: a, subnet: 10.0.0.0/24 }
  - { name: b, subnet: 10.0.0.128/25 }
  - { name: a, subnet: 10.9.0.0/24 }
nodes:
  - { name: n1, segment: c, address: 10.0.0.5/24 }
  - { name: n2, segment: a, address: 10.0.1.5/24 }
  - { name: n3, segment: a, address: 10.0.0.0/24 }
  - { name: n4, segment: a, address: 10.0.0.7/16 }
  - { name: n5, segment: a, address: 10.0.0.8/24, gateway: 10.0.0.1 }
  - { name: n6, segment: a, address: 10.0.0.8/24 }
`);
    expect(p).toEqual([
      't.yaml:6:24: subnet: 10.0.0.128/25 overlaps segment a\'s 10.0.0.0/24',
      't.yaml:7:13: duplicate name "a" (already used by a segment)',
      't.yaml:9:26: segment: unknown segment "c" (segments: a, b)',
      "t.yaml:10:38: address: 10.0.1.5/24 is outside segment a's subnet 10.0.0.0/24",
      "t.yaml:11:38: address: 10.0.0.0/24 is the network address of 10.0.0.0/24",
      "t.yaml:12:38: address: prefix length /16 differs from segment a's /24",
      "t.yaml:13:60: gateway: 10.0.0.1 is not the address of a router",
      "t.yaml:14:38: address: address 10.0.0.8 is already used by node n5",
    ]);
  });

  test("routers: interfaces, static routes, BGP peers; BGPPeer resources; links", () => {
    const p = problemsOf(`segments:
  - { name: a, subnet: 10.0.0.0/24 }
routers:
  - name: r
    interfaces: [{ segment: a, address: 10.0.0.1/24 }, { segment: x, address: 10.1.0.1/24 }]
    staticRoutes: [{ prefix: 10.2.0.0/16, via: 10.3.0.1 }]
    bgp:
      asNumber: 65000
      peers:
        - { node: nope }
        - { address: 10.0.0.99, asNumber: 64512 }
        - { nodeSelector: "rack ==" }
nodes:
  - { name: n1, segment: a, address: 10.0.0.10/24 }
links:
  - { endpoints: [n1, r] }
  - { endpoints: [zz, a] }
cluster:
  resources:
    - apiVersion: projectcalico.org/v3
      kind: BGPPeer
      metadata: { name: p }
      spec: { node: ghost, peerIP: 192.0.2.1, asNumber: 65001 }
`);
    expect(p).toEqual([
      't.yaml:8:67: interfaces[1].segment: unknown segment "x" (segments: a)',
      "t.yaml:9:48: staticRoutes[0].via: 10.3.0.1 is not on any of router r's interface subnets",
      't.yaml:13:19: bgp.peers[0].node: unknown node "nope"',
      "t.yaml:14:22: bgp.peers[1].address: no node or router has address 10.0.0.99",
      "t.yaml:15:27: bgp.peers[2].nodeSelector: invalid selector: expected a quoted string after == but found end of selector at column 8",
      "t.yaml:19:18: endpoints: a link is one attachment: a node or router, and a segment (got node n1 and router r)",
      't.yaml:20:19: endpoints[0]: unknown segment, router or node "zz"',
      't.yaml:26:21: spec.node: no node "ghost" in the topology',
      "t.yaml:26:36: spec.peerIP: no node or router in the topology has address 192.0.2.1",
    ]);
  });

  test("a router peer selector that matches no node", () => {
    const r = "routers:\n  - name: r\n    interfaces: [{ segment: a, address: 10.0.0.1/24 }]\n    bgp: { asNumber: 65000, peers: [{ nodeSelector: \"rack == 'x'\" }] }\n";
    expect(problemsOf(okBody + r)).toEqual([expect.stringMatching(/^t\.yaml:12:53: bgp\.peers\[0\]\.nodeSelector: rack == 'x' matches no node$/)]);
  });

  test("two links for one attachment", () => {
    expect(problemsOf(okBody + "links:\n  - { endpoints: [n1, a], mtu: 1400 }\n  - { endpoints: [a, n1], loss: 0.5 }\n")).toEqual(["t.yaml:11:18: endpoints: n1–a already has a link (links[0])"]);
  });

  test("problems inside referenced resource files point into those files", () => {
    files.set("dir/pools.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: { name: p }\nspec: { cidr: 10.5.0.1/16 }\n");
    const r = parseTopology(head + okBody + "cluster:\n  resources: [pools.yaml, missing.yaml]\n", "dir/t.yaml", reader);
    const text = formatProblems(r.problems);
    expect(text).toContain('dir/pools.yaml:4:15: spec.cidr: IP pool CIDR is not strictly masked');
    expect(text).toMatch(/dir\/t\.yaml:10:27: cluster\.resources\[1\]: cannot read dir\/missing\.yaml/);
  });

  test("inline resource problems point into the topology file", () => {
    const p = problemsOf(okBody + "cluster:\n  resources:\n    - { apiVersion: projectcalico.org/v3, kind: IPPool, metadata: { name: p }, spec: { cidr: 10.5.0.0/16, blockSize: 99 } }\n");
    expect(p).toEqual([expect.stringMatching(/^t\.yaml:11:\d+: spec\.blockSize/)]);
  });

  test("an IP pool overlapping a segment is reported at the pool", () => {
    expect(problemsOf(okBody + "cluster:\n  podCIDR: 10.0.0.0/16\n")).toEqual(["t.yaml:10:12: IP pool default-ipv4-ippool (10.0.0.0/16) overlaps segment a's subnet 10.0.0.0/24"]);
    files.set("overlap.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: { name: p }\nspec: { cidr: 10.0.0.0/8 }\n");
    expect(problemsOf(okBody + "cluster:\n  resources: [overlap.yaml]\n")).toEqual(["overlap.yaml:4:15: IP pool p (10.0.0.0/8) overlaps segment a's subnet 10.0.0.0/24"]);
  });

  test("cluster shorthand conflicts with given pools", () => {
    files.set("pools.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: { name: p }\nspec: { cidr: 10.5.0.0/16 }\n");
    const p = problemsOf(okBody + "cluster:\n  resources: [pools.yaml]\n  podCIDR: 10.9.0.0/16\n");
    expect(p).toEqual(["t.yaml:11:12: cluster.podCIDR: describes the default pool, but IP pools are given (set it on the IPPool instead)"]);
    expect(problemsOf(okBody + "cluster:\n  ipAutodetectionMethod: bogus=1\n")[0]).toMatch(/^t\.yaml:10:26: cluster\.ipAutodetectionMethod: /);
  });
});

describe("cluster settings", () => {
  test("defaults: IPIP Always pool 192.168.0.0/16, mesh on, tunnel MTU auto = min MTU - 20", () => {
    const { topology: t } = loadTopology(head + okBody, "t.yaml", reader);
    expect(t.cluster.ipPools.map((p) => [p.spec.cidr, p.spec.ipipMode, p.spec.vxlanMode, p.spec.blockSize])).toEqual([["192.168.0.0/16", "Always", "Never", 26]]);
    expect(t.cluster).toMatchObject({ asNumber: 64512, nodeToNodeMesh: true, tunnelMTU: 1480, tunnelMTUFrom: "auto", ipAutodetectionMethod: "first-found" });
    expect(t.nodes.map((n) => n.asNumber)).toEqual([64512, 64512]);
  });

  test("VXLAN CrossSubnet shorthand, AS override, tunnel MTU given", () => {
    const body = okBody.replace("address: 10.0.0.11/24 }", "address: 10.0.0.11/24, asNumber: 65001 }");
    const { topology: t } = loadTopology(head + body + "cluster:\n  encapsulation: { type: vxlan, mode: CrossSubnet }\n  asNumber: 64600\n", "t.yaml", reader);
    expect(t.cluster.ipPools[0]!.spec).toMatchObject({ ipipMode: "Never", vxlanMode: "CrossSubnet" });
    expect(t.cluster.tunnelMTU).toBe(1450);
    expect(t.nodes.map((n) => n.asNumber)).toEqual([64600, 65001]);
    expect(bgpPeerings(t)).toEqual([{ a: "n1", b: "n2", source: "mesh", type: "eBGP", reflected: false }]);
  });

  test("ipPools, bgpConfiguration and bgpPeers inline, apiVersion and kind implied", () => {
    const body = okBody.replace("address: 10.0.0.10/24 }", 'address: 10.0.0.10/24, labels: { rr: "yes" } }');
    const cluster = `cluster:
  ipPools:
    - metadata: { name: pool-a }
      spec: { cidr: 10.1.0.0/16, vxlanMode: CrossSubnet }
  bgpConfiguration:
    spec: { asNumber: 64600, nodeToNodeMeshEnabled: false }
  bgpPeers:
    - metadata: { name: to-rr }
      spec: { nodeSelector: "!has(rr)", peerSelector: "has(rr)" }
`;
    const { topology: t } = loadTopology(head + body + cluster, "t.yaml", reader);
    expect(t.cluster.ipPools.map((p) => [p.metadata.name, p.spec.vxlanMode, p.spec.blockSize])).toEqual([["pool-a", "CrossSubnet", 26]]);
    expect(t.cluster).toMatchObject({ asNumber: 64600, nodeToNodeMesh: false, tunnelMTU: 1450 });
    expect(bgpPeerings(t)).toEqual([{ a: "n2", b: "n1", source: "bgppeer/to-rr", type: "iBGP", reflected: false }]);
    expect(problemsOf(okBody + "cluster:\n  bgpPeers:\n    - { metadata: { name: x }, spec: { peerIP: 10.0.0.10 } }\n")).toEqual(["t.yaml:11:48: spec.peerIP: asNumber is required with peerIP"]);
  });

  test("icp.yaml takes pool, tunnel MTU and autodetection from the ICP config.yaml", () => {
    const f = "topologies/icp.yaml";
    const { topology: t } = loadTopology(readFileSync(join(repoRoot, f), "utf8"), f, { readFile: (p) => readFileSync(join(repoRoot, p), "utf8") });
    expect(t.cluster.ipPools.map((p) => [p.metadata.name, p.spec.cidr, p.spec.ipipMode])).toEqual([["default-ipv4-ippool", "10.1.0.0/16", "Always"]]);
    expect(t.cluster).toMatchObject({ tunnelMTU: 1430, tunnelMTUFrom: "icp", ipAutodetectionMethod: "interface=eth0", autodetection: { kind: "interface", patterns: ["eth0"] } });
  });

  test("resolveRelative", () => {
    expect(resolveRelative("topologies/icp.yaml", "../examples/x.yaml")).toBe("examples/x.yaml");
    expect(resolveRelative("/a/b/t.yaml", "c.yaml")).toBe("/a/b/c.yaml");
    expect(resolveRelative("t.yaml", "./c.yaml")).toBe("c.yaml");
    expect(resolveRelative("t.yaml", "/abs.yaml")).toBe("/abs.yaml");
  });
});
