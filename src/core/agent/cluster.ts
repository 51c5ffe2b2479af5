// The cluster as one node agent sees it: the nodes (Calico Node resources reduced to what BGP needs),
// IP pools, the BGPConfiguration and BGPPeers. Plain data, so a topology (src/topology), a scenario
// or a real datastore can all hand it over. The shapes are structural subsets of the model types
// (src/core/model), so a loaded IPPool, BGPPeer, BGPConfiguration or TopologyNode passes straight in.
import { parseIP, parsePrefix, formatIP, type IPAddress, type Prefix } from "../net/ip.ts";
import type { IpPoolInput } from "../ipam/pools.ts";

/** Calico's default AS (BGPConfiguration asNumber, confd global as_num). */
export const DEFAULT_AS_NUMBER = 64512;
export const DEFAULT_BGP_PORT = 179;

export interface ClusterNode {
  name: string;
  /** IPv4 address WITH prefix length, as Node.spec.bgp.ipv4Address ("192.168.1.10/24"). */
  address?: string;
  /** IPv6 address with prefix length (Node.spec.bgp.ipv6Address). */
  addressV6?: string;
  /** Node.spec.bgp.asNumber; default: the cluster's. */
  asNumber?: number;
  labels?: Readonly<Record<string, string>>;
  /** Node.spec.bgp.routeReflectorClusterID: the node is a route reflector of this cluster. */
  routeReflectorClusterID?: string;
}

/** The BGPPeer fields the agent understands (Calico v3 BGPPeer). */
export interface BgpPeerResource {
  metadata: { name: string };
  spec: {
    node?: string;
    nodeSelector?: string;
    /** "IP", "IPv4:port" or "[IPv6]:port". */
    peerIP?: string;
    asNumber?: number;
    peerSelector?: string;
    /** Auto (default): a peering towards a Calico node is mirrored on that node. */
    reversePeering?: "Auto" | "Manual";
    /** Graceful-restart time offered to this peer (Go duration, e.g. "120s"). */
    maxRestartTime?: string;
    /** BGP keepalive time (Go duration); the hold time is three times it. */
    keepaliveTime?: string;
    /** "Self": next hop self on routes sent to this peer (also for reflected ones). */
    nextHopMode?: "Auto" | "Self" | "Keep";
  };
}

/** The BGPConfiguration fields the agent understands (the global "default" object). */
export interface BgpConfigurationResource {
  spec: {
    nodeToNodeMeshEnabled?: boolean;
    asNumber?: number;
    listenPort?: number;
    bindMode?: "None" | "NodeIP";
    /** Graceful-restart time of mesh sessions (Go duration); BIRD's default 120 s when unset. */
    nodeMeshMaxRestartTime?: string;
  };
}

export interface ClusterView {
  /** Every node of the cluster (the agent's own entry is taken from its config). */
  nodes: readonly ClusterNode[];
  /** IPPools (Calico v3 objects or flat specs with a name). */
  ipPools: readonly IpPoolInput[];
  bgpConfiguration?: BgpConfigurationResource;
  bgpPeers?: readonly BgpPeerResource[];
  /**
   * MTU of tunnel devices and pod interfaces (the topology's tunnelMTU, ICP's calico_tunnel_mtu).
   * Default: the agent's host MTU minus the overhead of the encapsulations in use (as Felix).
   */
  tunnelMTU?: number;
}

export const clusterAs = (view: ClusterView): number => view.bgpConfiguration?.spec.asNumber ?? DEFAULT_AS_NUMBER;
export const meshEnabled = (view: ClusterView): boolean => view.bgpConfiguration?.spec.nodeToNodeMeshEnabled ?? true;
export const listenPort = (view: ClusterView): number => view.bgpConfiguration?.spec.listenPort ?? DEFAULT_BGP_PORT;
export const nodeAs = (view: ClusterView, n: ClusterNode): number => n.asNumber ?? clusterAs(view);

/** The address part of "a.b.c.d/len" (or of a bare address), canonical text; undefined when absent. */
export function hostAddress(cidr: string | undefined): string | undefined {
  if (cidr === undefined || cidr === "") return undefined;
  const ip = parseIP(cidr.split("/")[0]!);
  return formatIP(ip.family, ip.value);
}

/**
 * The subnet a node address with prefix length lies in ("10.0.1.5/24" → 10.0.1.0/24). A bare
 * address counts as a host route (/32, /128): then, as in Calico, every other node looks cross-subnet.
 */
export function nodeSubnet(cidr: string | undefined): Prefix | undefined {
  if (cidr === undefined || cidr === "") return undefined;
  return parsePrefix(cidr, { strict: false });
}

export function nodeIP(cidr: string | undefined): IPAddress | undefined {
  const a = hostAddress(cidr);
  return a === undefined ? undefined : parseIP(a);
}

/**
 * A Go duration ("90s", "1m30s", "2h", "1500ms") in seconds, as Calico's BGPPeer and BGPConfiguration
 * durations are written; undefined for anything else.
 */
export function durationSeconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === "0") return 0;
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < t.length) {
    re.lastIndex = at;
    const m = re.exec(t);
    if (!m) return undefined;
    total += Number(m[1]) * unit[m[2]!]!;
    at = re.lastIndex;
  }
  return at === 0 ? undefined : total;
}
