// The topology as a graphology graph: one vertex per segment, router and node (keyed by name), one
// edge per attachment of a node or router to a segment, carrying the L2/L3 properties the simulator
// needs (address, latency, loss, MTU, bandwidth, down). Links override the segment's defaults on
// their attachment. Use graphology for the model and per-source queries; for bulk all-pairs route
// computation export to arrays (see reference/toolchain.md §4).
import { MultiUndirectedGraph } from "graphology";
import type { Topology } from "./model.ts";

export type VertexAttributes =
  | { type: "segment"; subnet?: string; subnetV6?: string; mtu: number }
  | { type: "router"; asNumber?: number }
  | { type: "node"; address?: string; addressV6?: string; asNumber: number; labels: Record<string, string> };

export interface AttachmentAttributes {
  /** The node or router end. */
  element: string;
  segment: string;
  address?: string;
  addressV6?: string;
  latencyMs: number;
  loss: number;
  mtu: number;
  bandwidthMbps?: number;
  down: boolean;
}

export type TopologyGraph = MultiUndirectedGraph<VertexAttributes, AttachmentAttributes>;

/** Key of the attachment edge between an element and a segment. */
export const attachmentKey = (element: string, segment: string): string => `${element}@${segment}`;

export function buildGraph(t: Topology): TopologyGraph {
  const g: TopologyGraph = new MultiUndirectedGraph<VertexAttributes, AttachmentAttributes>();
  const segs = new Map(t.segments.map((s) => [s.name, s]));
  for (const s of t.segments) {
    g.addNode(s.name, { type: "segment", mtu: s.mtu, ...(s.subnet ? { subnet: s.subnet } : {}), ...(s.subnetV6 ? { subnetV6: s.subnetV6 } : {}) });
  }
  const links = new Map(t.links.map((l) => [l.endpoints.map(String).sort().join("\u0000"), l]));
  const attach = (element: string, segment: string, address: string | undefined, addressV6: string | undefined) => {
    const s = segs.get(segment);
    if (!s) throw new Error(`buildGraph: unknown segment ${segment} (the topology was not checked)`);
    const l = links.get([element, segment].sort().join("\u0000"));
    g.addUndirectedEdgeWithKey(attachmentKey(element, segment), element, segment, {
      element,
      segment,
      ...(address ? { address } : {}),
      ...(addressV6 ? { addressV6 } : {}),
      latencyMs: l?.latencyMs ?? s.latencyMs,
      loss: l?.loss ?? s.loss,
      mtu: l?.mtu ?? s.mtu,
      ...(l?.bandwidthMbps !== undefined ? { bandwidthMbps: l.bandwidthMbps } : {}),
      down: l?.down ?? false,
    });
  };
  for (const r of t.routers) {
    g.addNode(r.name, { type: "router", ...(r.bgp ? { asNumber: r.bgp.asNumber } : {}) });
    for (const i of r.interfaces) attach(r.name, i.segment, i.address, i.addressV6);
  }
  for (const n of t.nodes) {
    g.addNode(n.name, { type: "node", asNumber: n.asNumber, labels: n.labels, ...(n.address ? { address: n.address } : {}), ...(n.addressV6 ? { addressV6: n.addressV6 } : {}) });
    attach(n.name, n.segment, n.address, n.addressV6);
  }
  return g;
}
