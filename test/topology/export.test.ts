import { describe, expect, test } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadTopology, topologyToClab, topologyToDot, topologyToJSON, buildGraph, attachmentKey } from "../../src/topology/index.ts";
import { repoRoot } from "../helpers/paths.ts";
import { validateJsonSchema } from "./clab-schema.ts";

const reader = { readFile: (p: string) => readFileSync(join(repoRoot, p), "utf8") };
const load = (f: string) => loadTopology(readFileSync(join(repoRoot, f), "utf8"), f, reader).topology;
const schema = JSON.parse(readFileSync(join(repoRoot, "test/data/containerlab/clab.schema.json"), "utf8")) as Record<string, unknown>;

describe("containerlab export", () => {
  for (const f of ["topologies/quickstart.yaml", "topologies/rack-rr.yaml", "topologies/mesh-100.yaml", "topologies/icp.yaml"]) {
    test(`${f} passes containerlab's schema (excerpt)`, () => {
      const clab = topologyToClab(load(f));
      expect(validateJsonSchema(schema, clab)).toEqual([]);
    });
  }

  test("the schema check does reject what containerlab rejects", () => {
    const clab = topologyToClab(load("topologies/quickstart.yaml")) as { topology: { nodes: Record<string, Record<string, unknown>>; links: { endpoints: string[] }[] } };
    const bad = structuredClone(clab);
    bad.topology.links[0]!.endpoints = ["r1-eth1", "bc-1:p1"];
    (bad.topology.nodes["r1"] as Record<string, unknown>).colour = "red";
    (bad as Record<string, unknown>).name = "-bad";
    const errors = validateJsonSchema(schema, bad);
    expect(errors).toEqual(
      expect.arrayContaining([expect.stringContaining("endpoints[0]"), expect.stringContaining("nodes.r1: matches 0 of oneOf"), expect.stringContaining("$.name")]),
    );
  });

  test("quickstart: bridges per segment, one veth per attachment, addresses and gateways by exec", () => {
    const clab = topologyToClab(load("topologies/quickstart.yaml")) as { name: string; topology: { nodes: Record<string, { kind: string; exec?: string[] }>; links: { endpoints: string[] }[] } };
    expect(clab.name).toBe("quickstart");
    expect(Object.entries(clab.topology.nodes).filter(([, n]) => n.kind === "bridge").map(([k]) => k)).toEqual(["bc-1", "bc-2"]);
    expect(clab.topology.links).toHaveLength(6); // r1 twice + 4 nodes
    expect(clab.topology.links[0]!.endpoints).toEqual(["r1:eth1", "bc-1:bc-1p1"]);
    expect(clab.topology.nodes["node-3"]!.exec).toEqual(["ip link set eth1 mtu 1500", "ip addr add 192.168.2.10/24 dev eth1", "ip route add default via 192.168.2.1 dev eth1"]);
  });
});

describe("other exports and the graph", () => {
  test("JSON export is the expanded topology and is stable", () => {
    const a = JSON.stringify(topologyToJSON(load("topologies/rack-rr.yaml")));
    const b = JSON.stringify(topologyToJSON(load("topologies/rack-rr.yaml")));
    expect(a).toBe(b);
    const j = JSON.parse(a) as { nodes: unknown[]; routers: unknown[]; cluster: { bgpPeers: { metadata: { name: string } }[] } };
    expect(j.nodes).toHaveLength(200);
    expect(j.routers).toHaveLength(10);
    expect(j.cluster.bgpPeers.map((p) => p.metadata.name)).toContain("rr-mesh");
  });

  test("dot: vertices and attachment edges, sessions dashed", () => {
    const dot = topologyToDot(load("topologies/quickstart.yaml"));
    expect(dot).toMatch(/^graph "quickstart" \{/);
    expect(dot).toContain('"r1" -- "seg-b" [label="192.168.2.1/24"');
    expect(dot).toContain('label="seg-a\\n192.168.1.0/24\\nMTU 1500"');
    expect(dot).toContain('"node-1" -- "node-2" [style=dashed');
    expect(dot.trim().endsWith("}")).toBe(true);
    expect(topologyToDot(load("topologies/mesh-100.yaml"))).toContain("// 4950 BGP sessions left out");
  });

  test("graph: vertices per element, an attachment edge each, link properties applied", () => {
    const text = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: g }
segments:
  - { name: a, subnet: 10.0.0.0/24, latencyMs: 1 }
routers:
  - name: r
    interfaces: [{ segment: a, address: 10.0.0.1/24 }]
nodes:
  - { name: n1, segment: a, address: 10.0.0.2/24 }
  - { name: n2, segment: a, address: 10.0.0.3/24 }
links:
  - { endpoints: [n2, a], latencyMs: 5, loss: 0.1, mtu: 1400, bandwidthMbps: 100, down: true }
`;
    const g = buildGraph(loadTopology(text, "g.yaml", reader).topology);
    expect(g.order).toBe(4);
    expect(g.size).toBe(3);
    expect(g.getNodeAttribute("r", "type")).toBe("router");
    expect(g.getEdgeAttributes(attachmentKey("n1", "a"))).toMatchObject({ latencyMs: 1, loss: 0, mtu: 1500, down: false, address: "10.0.0.2/24" });
    expect(g.getEdgeAttributes(attachmentKey("n2", "a"))).toMatchObject({ latencyMs: 5, loss: 0.1, mtu: 1400, bandwidthMbps: 100, down: true });
    expect(g.neighbors("a").sort()).toEqual(["n1", "n2", "r"]);
  });
});
