// Topologies: the file format (schema.ts), loading with positions (load.ts), generators
// (generate.ts), semantic checks (check.ts), the graphology graph (graph.ts), the BGP sessions a
// topology configures (peerings.ts) and exports (export.ts). Pure TypeScript, no node: imports; the
// caller passes a TopologyReader for the files a topology refers to. See docs/topology.md.
export { TOPOLOGY_API_VERSION, topologyFileSchema, type TopologyFile } from "./schema.ts";
export { encapOf, loadTopology, looksLikeTopology, parseTopology, parseTopologyDocument, resolveRelative, type TopologyParseResult, type TopologyReader } from "./load.ts";
export { expandGenerator, FIRST_NODE_OFFSET } from "./generate.ts";
export { attachmentKey, buildGraph, type AttachmentAttributes, type TopologyGraph, type VertexAttributes } from "./graph.ts";
export { bgpPeerings, type Peering } from "./peerings.ts";
export { CLAB_IMAGES, topologyToClab, topologyToDot, topologyToJSON } from "./export.ts";
export {
  ENCAP_OVERHEAD,
  type ClusterSettings,
  type EncapType,
  type Link,
  type Origin,
  type Router,
  type RouterInterface,
  type RouterPeer,
  type Segment,
  type Topology,
  type TopologyNode,
  type TopologyOrigins,
} from "./model.ts";
