// Shared by the SimBackend tests: topologies from topologies/ (optionally edited) and a started backend.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { SimBackend, type SimBackendOptions } from "../../sim/backend.ts";
import type { RouteObservation } from "../../src/scenario/backend.ts";
import { loadTopology, type Topology } from "../../src/topology/index.ts";
import { repoRoot } from "../helpers/paths.ts";

export function topologyFile(name: string, edit?: (text: string) => string): Topology {
  const file = resolve(repoRoot, "topologies", name);
  const text = readFileSync(file, "utf8");
  return loadTopology(edit ? edit(text) : text, file, { readFile: (p) => readFileSync(resolve(dirname(file), p), "utf8") }).topology;
}

export async function started(t: Topology, options: SimBackendOptions = {}, seed = 1): Promise<SimBackend> {
  const b = new SimBackend(options);
  await b.start(t, { seed });
  return b;
}

/** node -> prefix -> route, for lookups in assertions. */
export function routeTable(routes: RouteObservation[]): Map<string, Map<string, RouteObservation>> {
  const m = new Map<string, Map<string, RouteObservation>>();
  for (const r of routes) {
    let n = m.get(r.node);
    if (!n) m.set(r.node, (n = new Map()));
    n.set(r.prefix, r);
  }
  return m;
}

/** The blocks each node owns (affinity host:<node>), from the backend's IPAM view. */
export async function blocksByNode(b: SimBackend): Promise<Map<string, string[]>> {
  const m = new Map<string, string[]>();
  for (const blk of (await b.ipam()).blocks) {
    const node = blk.affinity?.replace(/^host:/, "");
    if (node === undefined) continue;
    m.set(node, [...(m.get(node) ?? []), blk.cidr]);
  }
  return m;
}

/**
 * Two segments joined by r1 (AS 65000), which peers eBGP with every node (passively, by selector);
 * the nodes peer with r1 by BGPPeer; no encapsulation, no node-to-node mesh. Kept here rather than in
 * topologies/ so the tests do not move when the examples do.
 */
export const EBGP_ROUTER = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: ebgp-router }
segments:
  - { name: seg-a, subnet: 192.168.1.0/24, latencyMs: 0.1 }
  - { name: seg-b, subnet: 192.168.2.0/24, latencyMs: 0.1 }
routers:
  - name: r1
    interfaces:
      - { segment: seg-a, address: 192.168.1.1/24 }
      - { segment: seg-b, address: 192.168.2.1/24 }
    bgp:
      asNumber: 65000
      routerId: 192.168.1.1
      peers:
        - { nodeSelector: all() }
nodes:
  - { name: node-1, segment: seg-a, address: 192.168.1.10/24, gateway: 192.168.1.1, labels: { segment: a } }
  - { name: node-2, segment: seg-a, address: 192.168.1.11/24, gateway: 192.168.1.1, labels: { segment: a } }
  - { name: node-3, segment: seg-b, address: 192.168.2.10/24, gateway: 192.168.2.1, labels: { segment: b } }
  - { name: node-4, segment: seg-b, address: 192.168.2.11/24, gateway: 192.168.2.1, labels: { segment: b } }
cluster:
  podCIDR: 10.1.0.0/16
  encapsulation: { type: none }
  nodeToNodeMesh: false
  bgpPeers:
    - metadata: { name: to-r1-a }
      spec: { nodeSelector: "segment == 'a'", peerIP: 192.168.1.1, asNumber: 65000 }
    - metadata: { name: to-r1-b }
      spec: { nodeSelector: "segment == 'b'", peerIP: 192.168.2.1, asNumber: 65000 }
`;

export function inlineTopology(text: string): Topology {
  return loadTopology(text, "inline.yaml", { readFile: () => "" }).topology;
}

