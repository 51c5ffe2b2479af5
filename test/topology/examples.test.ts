// Every committed example topology loads without a problem, and implies the sessions its comment says.
import { describe, expect, test } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { bgpPeerings, parseTopology } from "../../src/topology/index.ts";
import { formatProblems } from "../../src/core/model/index.ts";
import { repoRoot } from "../helpers/paths.ts";

const dir = join(repoRoot, "topologies");
const reader = { readFile: (p: string) => readFileSync(join(repoRoot, p), "utf8") };
const load = (f: string) => {
  const file = join("topologies", f);
  const r = parseTopology(readFileSync(join(repoRoot, file), "utf8"), file, reader);
  if (!r.topology) throw new Error(formatProblems(r.problems));
  return r.topology;
};

const expected: Record<string, { nodes: number; sessions: number; encap: string }> = {
  "two-segments-ipip.yaml": { nodes: 4, sessions: 6, encap: "ipip Always" },
  "two-segments-noencap.yaml": { nodes: 4, sessions: 6, encap: "none" },
  "two-segments-bgp-router.yaml": { nodes: 4, sessions: 4, encap: "none" },
  "vxlan-crosssubnet.yaml": { nodes: 4, sessions: 6, encap: "vxlan CrossSubnet" },
  "mtu-too-large.yaml": { nodes: 4, sessions: 6, encap: "ipip Always" },
  "two-route-reflectors.yaml": { nodes: 6, sessions: 9, encap: "none" },
  "cluster-1000.yaml": { nodes: 1000, sessions: 3990, encap: "none" },
};

describe("example topologies", () => {
  test.each(readdirSync(dir).filter((f) => f.endsWith(".yaml")))("%s loads", (f) => {
    expect(dirname(join(dir, f))).toBe(dir);
    const t = load(f);
    expect(t.nodes.length).toBeGreaterThan(0);
  });

  test.each(Object.entries(expected))("%s: nodes, sessions, encapsulation", (f, want) => {
    const t = load(f);
    const pool = t.cluster.ipPools[0]!.spec;
    const encap = pool.ipipMode !== "Never" ? `ipip ${pool.ipipMode}` : pool.vxlanMode !== "Never" ? `vxlan ${pool.vxlanMode}` : "none";
    expect({ nodes: t.nodes.length, sessions: bgpPeerings(t).length, encap }).toEqual(want);
  });

  test("the MTU examples: 1430 given, 1500 misconfigured, VXLAN auto 1450", () => {
    expect(load("two-segments-ipip.yaml").cluster.tunnelMTU).toBe(1430);
    expect(load("mtu-too-large.yaml").cluster.tunnelMTU).toBe(1500);
    expect(load("vxlan-crosssubnet.yaml").cluster).toMatchObject({ tunnelMTU: 1450, tunnelMTUFrom: "auto" });
  });
});
