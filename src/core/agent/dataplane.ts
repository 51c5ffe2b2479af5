// The Dataplane port: what a node agent asks of the forwarding plane. The simulator implements it
// as an in-memory FIB plus policy filter (sim/), real mode as kernel routes, tunnel devices and
// nftables/iptables (real/). Calls are synchronous and idempotent from the agent's side; an
// implementation that does I/O queues and batches the work, and reports failures through `errors`.
import type { IPAddress, Prefix } from "../net/ip.ts";
import type { PolicySet } from "../policy/policy-set.ts";

export type Encapsulation = "none" | "ipip" | "vxlan";

/**
 * One route of the node's routing table.
 * - "unicast": forward to nextHops (ECMP when several). With encap "ipip"/"vxlan" the packet is
 *   encapsulated towards the next hop (the remote node's address, Calico's `onlink` via tunl0 /
 *   vxlan.calico) and leaves with the tunnel MTU; with "none" it is routed natively.
 * - "blackhole": drop (Calico's route for each of its own blocks, so unallocated addresses in a block
 *   are not sent to the default route).
 * - "local": a workload on this node: deliver to the pod interface `device`.
 */
export interface DataplaneRoute {
  prefix: Prefix;
  kind: "unicast" | "blackhole" | "local";
  /** Next hops of a unicast route; empty otherwise. */
  nextHops: IPAddress[];
  encap: Encapsulation;
  /** The pod interface of a "local" route (e.g. cali1234abcd), the tunnel device for encapsulated routes. */
  device?: string;
  /** Route MTU when it differs from the outgoing interface's (Calico sets none; reserved). */
  mtu?: number;
}

export interface DataplaneRouteChanges {
  /** Routes to install or replace, keyed by prefix. A prefix appears at most once per batch. */
  add: DataplaneRoute[];
  remove: Prefix[];
}

/** A tunnel device of the node (tunl0 for IPIP, vxlan.calico for VXLAN). */
export interface TunnelDevice {
  type: "ipip" | "vxlan";
  /** The tunnel address IPAM gave the node (Calico's IPv4IPIPTunnelAddr / IPv4VXLANTunnelAddr). */
  address: string;
  mtu: number;
  /** VXLAN only: VNI (Calico: 4096) and UDP port (Calico: 4789). */
  vni?: number;
  port?: number;
}

/** A pod as the node's dataplane sees it. */
export interface WorkloadInterface {
  /** "namespace/name". */
  key: string;
  namespace: string;
  name: string;
  /** Host-side interface name (workloadInterfaceName: cali + hash). */
  device: string;
  addresses: string[];
  mtu: number;
}

export interface Dataplane {
  applyRoutes(changes: DataplaneRouteChanges): void;
  /** Creates or updates a tunnel device; `remove` takes it away. */
  setTunnel(tunnel: TunnelDevice): void;
  removeTunnel(type: "ipip" | "vxlan"): void;
  /** A pod came up on this node (interface created, addresses assigned) or went away. */
  addWorkload(workload: WorkloadInterface): void;
  removeWorkload(key: string): void;
  /**
   * The policy the node enforces: the cluster's whole PolicySet (tiers, policies, profiles, every
   * endpoint so selectors resolve). The dataplane applies it to the local workloads: egress at the
   * source pod, ingress at the destination pod (the simulator evaluates it, real mode renders it).
   */
  setPolicy(policy: PolicySet): void;
}
