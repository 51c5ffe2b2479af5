// The Backend interface: everything the scenario runner asks of a world. The simulator (sim/backend)
// and real mode (real/backend) implement it, so one scenario file runs in both and their observations
// can be compared field by field (`--mode both`). All observation types are plain JSON data with
// stable ordering (sorted by node, then peer / prefix), so reports are byte-identical across runs.
import type { Topology } from "../topology/model.ts";
import type { AnyResource } from "../core/model/resources.ts";

export type BackendMode = "sim" | "real";

export interface BackendOptions {
  seed: number;
  /** Write per-link packet captures here (classic pcap), when set. */
  pcapDir?: string;
  /** Progress and diagnostics (never part of the report). */
  log?: (line: string) => void;
}

/** A pod the scenario creates. */
export interface PodSpec {
  name: string;
  namespace: string;
  node: string;
  labels: Record<string, string>;
  /** Optional fixed address (Calico's cni.projectcalico.org/ipAddrs). */
  ip?: string;
}

export interface PodInfo {
  name: string;
  namespace: string;
  node: string;
  ips: string[];
  /** Pod interface MTU. */
  mtu: number;
}

/** What a failure or restore step acts on. */
export type Target =
  | { kind: "link"; element: string; segment: string }
  | { kind: "node"; name: string }
  | { kind: "router"; name: string };

export interface FailOptions {
  /** Node crash: "crash" (kill -9, peers keep stale routes under graceful restart) or "stop" (clean shutdown, Cease). */
  how?: "crash" | "stop";
}

export interface SessionObservation {
  /** Node or router name. */
  node: string;
  /** Peer address. */
  peer: string;
  /** The peer's node or router name when it is in the topology. */
  peerName?: string;
  state: "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";
  type: "iBGP" | "eBGP";
  prefixesReceived: number;
  prefixesSent: number;
}

export interface RouteObservation {
  /** Node or router name. */
  node: string;
  prefix: string;
  kind: "unicast" | "blackhole" | "local";
  nextHops: string[];
  encap: "none" | "ipip" | "vxlan";
  /** Where it came from: "bgp", "static", "connected", "ipam" (own blocks), "workload". */
  source: string;
}

/** Source or destination of a probe: a pod ("ns/name"), a node or router by name, or a bare address. */
export type Endpoint = { pod: string } | { node: string } | { address: string };

export interface ProbeSpec {
  from: Endpoint;
  to: Endpoint;
  protocol: "tcp" | "udp" | "icmp";
  port?: number;
  /** IP packet size in bytes (default 64 for icmp, 100 otherwise). */
  size?: number;
  /** Don't Fragment (default true for tcp, false otherwise, as Linux does with PMTU discovery). */
  df?: boolean;
}

export interface Hop {
  /** Node or router name where this hop happened. */
  at: string;
  /** What happened: e.g. "egress policy allowed by tier default / policy allow-web rule 0",
   *  "route 10.1.3.0/26 via 192.168.2.10 (ipip, +20 bytes)", "forwarded on seg-b mtu 1500". */
  action: string;
  /** Interface or segment the packet leaves on. */
  out?: string;
  /** Packet size on the wire at this hop (with encapsulation). */
  size?: number;
}

export type ProbeOutcome = "delivered" | "fragmented" | "dropped";

export interface ProbeResult {
  outcome: ProbeOutcome;
  /** Why it was dropped, in words: "dropped at router r1: no route to 10.1.3.0/26". */
  reason?: string;
  /** "policy" | "no-route" | "blackhole" | "mtu" | "link-down" | "host-down" | "ttl" | "loss" when dropped. */
  dropKind?: string;
  hops: Hop[];
  /** The smallest MTU on the path (path MTU), when known. */
  pathMtu?: number;
  /** Encapsulation used on the way, if any. */
  encap: "none" | "ipip" | "vxlan";
}

export interface IpamObservation {
  blocks: { cidr: string; affinity: string | null; allocated: number; size: number }[];
  /** Pods per node, and addresses in use in total. */
  inUse: number;
  /** Problems `ipam check` reports (leaked addresses, blocks without affinity, handle mismatches). */
  problems: string[];
}

export interface Counters {
  /** BGP messages sent in total and by type since the start of the run. */
  bgpMessages: { total: number; open: number; update: number; keepalive: number; notification: number; routeRefresh: number };
  bgpBytes: number;
  /** Simulator only: events processed. */
  events?: number;
}

export interface ConvergenceResult {
  converged: boolean;
  /** Scenario time (ms) when the last routing change happened (the convergence point). */
  at: number;
  /** ms from the wait's reference point (the last failure/restore/change step) to convergence. */
  took: number;
}

/** A point on the report's timeline. */
export interface TimelineEvent {
  /** Scenario time in ms. */
  t: number;
  node?: string;
  kind: "session" | "route" | "step" | "failure" | "restore" | "probe" | "note";
  text: string;
}

/** Counts for the charts, sampled often: established sessions and installed routes, in total and per node. */
export interface SampleCounts {
  /** Established sessions counted once per pair of speakers (as `birdcage topo` and the sessions assertion count). */
  sessionsEstablished: number;
  routes: number;
  perNode?: Record<string, { sessions: number; routes: number }>;
}

export interface Backend {
  readonly mode: BackendMode;
  /** Builds the world for the topology and starts every agent. */
  start(topology: Topology, options: BackendOptions): Promise<void>;
  /** Scenario time in ms: virtual time in the simulator, wall time since start for real. */
  now(): number;
  createPods(pods: PodSpec[]): Promise<PodInfo[]>;
  deletePods(pods: { name: string; namespace: string }[]): Promise<void>;
  /** Calico / Kubernetes resources (policies, namespaces, BGP peers, pools...) applied to the cluster. */
  applyResources(resources: AnyResource[]): Promise<void>;
  deleteResources(resources: AnyResource[]): Promise<void>;
  fail(target: Target, options?: FailOptions): Promise<void>;
  restore(target: Target): Promise<void>;
  /** Lets time pass (virtual in the simulator). */
  advance(ms: number): Promise<void>;
  /**
   * Waits until routing is stable (every configured session settled, no route change for the
   * backend's quiet period) or the timeout passes. Convergence time is measured from `since`.
   * The runner calls it in slices of its sample period (e.g. 60 calls of 1 s for a 60 s timeout,
   * sampling between them), so it must judge stability from the network's state and history (time
   * of the last routing change), not from what happened within one call.
   */
  waitConverged(timeoutMs: number, since: number): Promise<ConvergenceResult>;
  sessions(): Promise<SessionObservation[]>;
  routes(node?: string): Promise<RouteObservation[]>;
  pods(): Promise<PodInfo[]>;
  probe(spec: ProbeSpec): Promise<ProbeResult>;
  ipam(): Promise<IpamObservation>;
  counters(): Promise<Counters>;
  timeline(): TimelineEvent[];
  /**
   * Optional, cheap counts for the charts (the runner samples at every step and every sample period
   * during waits). Without it the runner counts sessions() and routes() itself, which copies every
   * route of every node.
   */
  sample?(): Promise<SampleCounts>;
  /** Stops agents and removes everything the backend created. Safe to call twice. */
  stop(): Promise<void>;
}
