// The BGP sessions a topology configures, as Calico computes them for each node (the node-to-node
// mesh, BGPPeer resources with node/nodeSelector and peerIP/peerSelector) plus the routers' own
// peers. Each session appears once (an unordered pair), under the first rule that creates it.
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

export function bgpPeerings(t: Topology): Peering[] {
  const out: Peering[] = [];
  const seen = new Set<string>();
  const byAddr = new Map<string, { name: string; as?: number }>();
  for (const n of t.nodes) for (const a of [n.address, n.addressV6]) if (a) byAddr.set(ip(a)!, { name: n.name, as: n.asNumber });
  for (const r of t.routers) for (const i of r.interfaces) for (const a of [i.address, i.addressV6]) if (a) byAddr.set(ip(a)!, { name: r.name, ...(r.bgp ? { as: r.bgp.asNumber } : {}) });
  const nodeByName = new Map(t.nodes.map((n) => [n.name, n]));
  const rrPair = (x: TopologyNode | undefined, y: TopologyNode | undefined) =>
    x !== undefined && y !== undefined && (x.routeReflectorClusterID ?? "") !== (y.routeReflectorClusterID ?? "") && (x.routeReflectorClusterID !== undefined || y.routeReflectorClusterID !== undefined);
  const mesh = t.cluster.nodeToNodeMesh;
  const add = (a: string, b: string, source: string, asA: number | undefined, asB: number | undefined, reflected: boolean) => {
    if (a === b) return;
    // With the mesh on, every node pair is already listed (so the mesh needs no dedupe set).
    if (mesh && source !== "mesh" && nodeByName.has(a) && nodeByName.has(b)) return;
    if (source === "mesh") {
      out.push({ a, b, source, type: asA !== undefined && asA === asB ? "iBGP" : "eBGP", reflected });
      return;
    }
    const key = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ a, b, source, type: asA !== undefined && asA === asB ? "iBGP" : "eBGP", reflected });
  };

  if (mesh) {
    for (let i = 0; i < t.nodes.length; i++) {
      const x = t.nodes[i]!;
      for (let j = i + 1; j < t.nodes.length; j++) {
        const y = t.nodes[j]!;
        add(x.name, y.name, "mesh", x.asNumber, y.asNumber, rrPair(x, y));
      }
    }
  }
  for (const p of t.cluster.bgpPeers) {
    const s = p.spec;
    const sel = s.nodeSelector !== undefined ? parseSelector(s.nodeSelector) : undefined;
    const locals = s.node !== undefined ? [nodeByName.get(s.node)].filter((n): n is TopologyNode => !!n) : sel ? t.nodes.filter((n) => sel.matches(n.labels)) : t.nodes;
    const source = `bgppeer/${p.metadata.name}`;
    if (s.peerIP !== undefined) {
      const addr = s.peerIP.replace(/^\[(.*)\]:\d+$/, "$1").replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1");
      const remote = byAddr.get(addr);
      for (const n of locals) add(n.name, remote?.name ?? addr, source, n.asNumber, s.asNumber ?? remote?.as, false);
    } else if (s.peerSelector !== undefined) {
      const psel = parseSelector(s.peerSelector);
      const remotes = t.nodes.filter((n) => psel.matches(n.labels));
      for (const n of locals) for (const r of remotes) add(n.name, r.name, source, n.asNumber, r.asNumber, rrPair(n, r));
    }
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
