// Topologies for the netns tests: the quickstart file, and small inline ones.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadTopology, type Topology } from "../../../src/topology/index.ts";
import { repoRoot } from "../../helpers/paths.ts";

const reader = { readFile: (p: string) => readFileSync(p, "utf8") };

export function topologyFromText(text: string, file = "inline.yaml"): Topology {
  return loadTopology(text, file, reader).topology;
}

export function quickstart(): Topology {
  const file = join(repoRoot, "topologies/quickstart.yaml");
  return loadTopology(readFileSync(file, "utf8"), file, reader).topology;
}

/** Two segments (MTU 1400 and 1500) joined by a router; one link with its own MTU, one link down. */
export const MTU_TOPOLOGY = `
apiVersion: birdcage/v1
kind: Topology
metadata: { name: mtu-test }
segments:
  - { name: seg-a, subnet: 10.91.1.0/24, mtu: 1400 }
  - { name: seg-b, subnet: 10.91.2.0/24 }
routers:
  - name: r1
    interfaces:
      - { segment: seg-a, address: 10.91.1.1/24 }
      - { segment: seg-b, address: 10.91.2.1/24 }
    staticRoutes:
      - { prefix: 10.99.0.0/16, via: 10.91.2.20 }
nodes:
  - { name: a1, segment: seg-a, address: 10.91.1.10/24, gateway: 10.91.1.1 }
  - { name: a2, segment: seg-a, address: 10.91.1.11/24, gateway: 10.91.1.1 }
  - { name: b1, segment: seg-b, address: 10.91.2.10/24, gateway: 10.91.2.1 }
  - { name: b2, segment: seg-b, address: 10.91.2.11/24, gateway: 10.91.2.1 }
links:
  - { endpoints: [b1, seg-b], mtu: 1300 }
  - { endpoints: [b2, seg-b], down: true, latencyMs: 2, loss: 0.19 }
`;

/** N nodes split over two segments joined by a router (for the kill -9 / gc tests and the benchmark). */
export function twoSegments(n: number, name = "two-seg"): string {
  const nodes = Array.from({ length: n }, (_, i) => {
    const seg = i % 2 === 0 ? "a" : "b";
    const net = seg === "a" ? 1 : 2;
    return `  - { name: n${i + 1}, segment: seg-${seg}, address: 10.92.${net}.${10 + i}/24, gateway: 10.92.${net}.1 }`;
  });
  return `apiVersion: birdcage/v1
kind: Topology
metadata: { name: ${name} }
segments:
  - { name: seg-a, subnet: 10.92.1.0/24 }
  - { name: seg-b, subnet: 10.92.2.0/24 }
routers:
  - name: r1
    interfaces:
      - { segment: seg-a, address: 10.92.1.1/24 }
      - { segment: seg-b, address: 10.92.2.1/24 }
nodes:
${nodes.join("\n")}
`;
}
