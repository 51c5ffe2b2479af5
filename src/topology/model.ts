// The loaded topology: everything explicit and expanded (generators run, defaults applied, cluster
// settings resolved from inline resources, resource files and ICP config.yaml). Plain data: the
// graph (graph.ts) and the exports are built from it.
import type { AutodetectionMethod } from "../core/model/icp.ts";
import type { BGPConfiguration, BGPPeer, IPPool } from "../core/model/calico.ts";
import type { SourcePos } from "../core/model/problems.ts";
import type { Path } from "../core/model/yaml-source.ts";

/** Where an element was written (generated elements point at `generate`), and how to find its fields. */
export interface Origin {
  readonly pos: SourcePos;
  /** The position of a field of the element (a generated element answers with `pos`). */
  at(path: Path, options?: { key?: boolean }): SourcePos;
  readonly generated: boolean;
}

export interface Segment {
  name: string;
  /** Strict CIDRs as written, e.g. "192.168.1.0/24". */
  subnet?: string;
  subnetV6?: string;
  mtu: number;
  latencyMs: number;
  loss: number;
}

export interface RouterInterface {
  segment: string;
  /** Address with prefix length, e.g. "192.168.1.1/24". */
  address?: string;
  addressV6?: string;
}

export interface RouterPeer {
  address?: string;
  node?: string;
  nodeSelector?: string;
  asNumber?: number;
  routeReflectorClient: boolean;
}

export interface Router {
  name: string;
  interfaces: RouterInterface[];
  staticRoutes: { prefix: string; via: string }[];
  bgp?: { asNumber: number; routerId?: string; peers: RouterPeer[] };
}

export interface TopologyNode {
  name: string;
  segment: string;
  address?: string;
  addressV6?: string;
  gateway?: string;
  labels: Record<string, string>;
  /** The node's AS: its own override, else the cluster's. */
  asNumber: number;
  /** Set only when given in the file or by a generator. */
  asNumberOverride?: number;
  routeReflectorClusterID?: string;
}

export interface Link {
  endpoints: [string, string];
  latencyMs?: number;
  loss?: number;
  mtu?: number;
  bandwidthMbps?: number;
  down: boolean;
}

export type EncapType = "ipip" | "vxlan" | "none";

export interface ClusterSettings {
  ipPools: IPPool[];
  /** The global BGPConfiguration "default" (given or synthesized). */
  bgpConfiguration: BGPConfiguration;
  bgpPeers: BGPPeer[];
  /** The cluster AS (BGPConfiguration default asNumber). */
  asNumber: number;
  nodeToNodeMesh: boolean;
  /** MTU of tunnel and pod interfaces. */
  tunnelMTU: number;
  /** "given" (file), "icp" (config.yaml), or "auto" (min segment MTU minus the encapsulation overhead, as calico-node detects). */
  tunnelMTUFrom: "given" | "icp" | "auto";
  ipAutodetectionMethod: string;
  autodetection: AutodetectionMethod;
}

export interface Topology {
  name: string;
  description?: string;
  /** The file it was loaded from. */
  file: string;
  segments: Segment[];
  routers: Router[];
  nodes: TopologyNode[];
  links: Link[];
  cluster: ClusterSettings;
}

/** Positions of the elements of a loaded topology (kept apart so the model stays plain data). */
export interface TopologyOrigins {
  readonly segments: Map<string, Origin>;
  readonly routers: Map<string, Origin>;
  readonly nodes: Map<string, Origin>;
  readonly links: Origin[];
  /** Aligned with Topology.segments / routers / nodes (duplicates keep their own position). */
  readonly segmentAt: Origin[];
  readonly routerAt: Origin[];
  readonly nodeAt: Origin[];
}

/** Encapsulation overhead in bytes of IPv4 outer headers: IPIP 20, VXLAN 50 (as Calico subtracts). */
export const ENCAP_OVERHEAD: Readonly<Record<EncapType, number>> = { ipip: 20, vxlan: 50, none: 0 };
