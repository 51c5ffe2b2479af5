// Topology loading at scale: parse + generate + check + graph + BGP session list for generated
// clusters of 1,000 to 20,000 nodes (global route reflectors), and a 1,000-node full mesh.
// Run: npx tsx bench/topology-load.ts
import { bgpPeerings, buildGraph, parseTopology } from "../src/topology/index.ts";

const reader = { readFile: (): string => { throw new Error("no files"); } };
const spec = (nodes: number, racks: number, rr: string) =>
  `apiVersion: birdcage/v1\nkind: Topology\nmetadata: { name: b }\ngenerate:\n  nodes: ${nodes}\n  racks: ${racks}\n  rackSubnet: 10.0.0.0/8\n  torRouters: ${racks > 1}\n${rr}`;

const cases: [string, string][] = [
  ["1,000 nodes, 20 racks, 4 global RRs", spec(1000, 20, "  routeReflectors: { global: 4 }\n")],
  ["10,000 nodes, 100 racks, 4 global RRs", spec(10000, 100, "  routeReflectors: { global: 4 }\n")],
  ["20,000 nodes, 200 racks, 2 RRs per rack", spec(20000, 200, "  routeReflectors: { perRack: 2 }\n")],
  ["1,000 nodes, one segment, full mesh", spec(1000, 1, "")],
];
parseTopology(cases[0]![1], "warm.yaml", reader);
for (const [name, text] of cases) {
  const t0 = performance.now();
  const r = parseTopology(text, "b.yaml", reader);
  const t1 = performance.now();
  if (!r.topology) throw new Error(r.problems.map((p) => p.message).join("\n"));
  const g = buildGraph(r.topology);
  const t2 = performance.now();
  const sessions = bgpPeerings(r.topology).length;
  const t3 = performance.now();
  console.log(
    `${name}: load+check ${(t1 - t0).toFixed(0)} ms, graph ${(t2 - t1).toFixed(0)} ms (${g.order} vertices, ${g.size} edges), ` +
      `${sessions.toLocaleString("en")} BGP sessions listed in ${(t3 - t2).toFixed(0)} ms`,
  );
}
