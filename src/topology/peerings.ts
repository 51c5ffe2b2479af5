// The BGP sessions a topology configures: the Calico nodes' sessions as each node's agent computes
// them (src/core/agent/peers.ts: node-to-node mesh without route reflectors, BGPPeer resources with
// node/nodeSelector and peerIP/peerSelector, mirrored peerings) plus the routers' own peers. Each
// session appears once (an unordered pair), under the first rule that creates it.
import { peerRelations, type ClusterView } from "../core/agent/index.ts";
import { parseSelector } from "../core/policy/selector/index.ts";
import type { Topology, TopologyNode } from "./model.ts";

export interface Peering {
  /** A node or router name. */
  a: string;
  /** A node or router name, or an address outside the topology. */
  b: string;
  /** "mesh", "bgppeer/<name>" or "router/<name>". */
  source: string;
  type: "iBGP" | "eBGP";
  /** True when one side reflects routes to the other (cluster IDs, or a router's routeReflectorClient). */
  reflected: boolean;
}

const ip = (a: string | undefined) => a?.split("/")[0];

/** The cluster as the node agents see it (nodes, pools, BGPConfiguration, BGPPeers, tunnel MTU). */
export function topologyClusterView(t: Topology): ClusterView {
  return {
    nodes: t.nodes,
    ipPools: t.cluster.ipPools,
    bgpConfiguration: { spec: { ...t.cluster.bgpConfiguration.spec, nodeToNodeMeshEnabled: t.cluster.nodeToNodeMesh, asNumber: t.cluster.asNumber } },
    bgpPeers: t.cluster.bgpPeers,
    tunnelMTU: t.cluster.tunnelMTU,
  };
}

export function bgpPeerings(t: Topology): Peering[] {
  const out: Peering[] = [];
  const seen = new Set<string>();
  const byAddr = new Map<string, { name: string; as?: number }>();
  for (const n of t.nodes) for (const a of [n.address, n.addressV6]) if (a) byAddr.set(ip(a)!, { name: n.name, as: n.asNumber });
  for (const r of t.routers) for (const i of r.interfaces) for (const a of [i.address, i.addressV6]) if (a) byAddr.set(ip(a)!, { name: r.name, ...(r.bgp ? { as: r.bgp.asNumber } : {}) });
  const nodeByName = new Map(t.nodes.map((n) => [n.name, n]));
  const rrPair = (x: TopologyNode | undefined, y: TopologyNode | undefined) =>
    x !== undefined && y !== undefined && (x.routeReflectorClusterID ?? "") !== (y.routeReflectorClusterID ?? "") && (x.routeReflectorClusterID !== undefined || y.routeReflectorClusterID !== undefined);
  const add = (a: string, b: string, source: string, asA: number | undefined, asB: number | undefined, reflected: boolean) => {
    if (a === b) return;
    const key = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
    if (seen.has(key)) return;
    seen.add(key);
    const ibgp = asA !== undefined && asA === asB;
    out.push({ a, b, source, type: ibgp ? "iBGP" : "eBGP", reflected: ibgp && reflected });
  };

  const inMesh = (n: TopologyNode | undefined) => t.cluster.nodeToNodeMesh && n !== undefined && n.routeReflectorClusterID === undefined;
  for (const r of peerRelations(topologyClusterView(t), undefined, { oneWay: true })) {
    const local = nodeByName.get(r.local.name);
    const remote = r.remote ? nodeByName.get(r.remote.name) : undefined;
    if (r.source === "mesh") {
      // Each mesh pair comes once: no entry in the (large) dedupe set.
      out.push({ a: r.local.name, b: r.remote!.name, source: "mesh", type: local!.asNumber === remote!.asNumber ? "iBGP" : "eBGP", reflected: false });
      continue;
    }
    if (inMesh(local) && inMesh(remote)) continue; // already listed by the mesh
    const other = r.remote ? undefined : byAddr.get(r.address ?? "");
    add(r.local.name, remote?.name ?? other?.name ?? r.address ?? "", r.source, local?.asNumber, r.asNumber ?? remote?.asNumber ?? other?.as, rrPair(local, remote));
  }
  for (const r of t.routers) {
    if (!r.bgp) continue;
    const source = `router/${r.name}`;
    for (const p of r.bgp.peers) {
      if (p.address !== undefined) {
        const remote = byAddr.get(p.address);
        add(r.name, remote?.name ?? p.address, source, r.bgp.asNumber, p.asNumber ?? remote?.as, p.routeReflectorClient);
      } else {
        const sel = p.nodeSelector !== undefined ? parseSelector(p.nodeSelector) : undefined;
        const nodes = p.node !== undefined ? [nodeByName.get(p.node)].filter((n): n is TopologyNode => !!n) : t.nodes.filter((n) => sel!.matches(n.labels));
        for (const n of nodes) add(r.name, n.name, source, r.bgp.asNumber, p.asNumber ?? n.asNumber, p.routeReflectorClient);
      }
    }
  }
  return out;
}
