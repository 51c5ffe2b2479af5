// The node agent: one node's brain, the same code in the simulator and in a real namespace. It wires
// a BGP Speaker (peers as Calico's confd computes them), an IPAM client (blocks, tunnel and pod
// addresses) and the policy to the ports: Clock, Transport, Datastore and Dataplane. What Calico
// splits between calico-node's startup, confd + BIRD and Felix's route and workload handling:
//
//   start()      tunnel addresses (IPIP / VXLAN pools) and devices, originate the node's affine
//                blocks (blackholes) and borrowed /32s with Calico's export filter, start the speaker
//   addPod()     IPAM address (handle k8s-pod-network.<ns>.<name>), a "local" route on the pod's
//                cali interface, the workload, and a new origination when a block was claimed
//   BGP routes   best paths become unicast routes with the pool's encapsulation (routes.ts)
//   updateCluster(view)  nodes, pools and BGP resources changed: peers added/removed, routes re-decided
//
// Everything is callback/promise based on the ports; no timers of its own, no I/O.
import { Speaker, type PeerConfig, type SessionState } from "../bgp/index.ts";
import { calicoExport } from "../bgp/calico-export.ts";
import type { Clock, RouteChanges, RouteEntry, Transport } from "../bgp/ports.ts";
import type { Datastore, Watch } from "../datastore/port.ts";
import { Ipam } from "../ipam/ipam.ts";
import { HOST_PREFIX } from "../ipam/keys.ts";
import { normalizePool, type Pool } from "../ipam/pools.ts";
import { fnv32 } from "../ipam/prng.ts";
import { compareAddressText, formatIP, parseIP, type IPAddress, type Prefix } from "../net/ip.ts";
import type { PolicySet } from "../policy/policy-set.ts";
import { workloadInterfaceName } from "../policy/render/plan.ts";
import { clusterAs, hostAddress, listenPort, nodeIP, nodeSubnet, type ClusterNode, type ClusterView } from "./cluster.ts";
import type { Dataplane, DataplaneRoute, TunnelDevice } from "./dataplane.ts";
import { routeText, type RouteText } from "./memory-dataplane.ts";
import { nodePeerMap, type AgentPeer } from "./peers.ts";
import { BlockOwners } from "./block-owners.ts";
import { bgpRoute, ENCAP_OVERHEAD, prefixOfKey, routeKey, sameRoute, VXLAN_PORT, VXLAN_VNI, workloadRoute, type EncapContext, type RouteKey } from "./routes.ts";

export interface NodeAgentConfig {
  /** The node's name (Calico Node name; the IPAM host). */
  name: string;
  /** IPv4 address WITH prefix length ("10.0.1.5/24"): the prefix decides CrossSubnet. */
  address?: string;
  /** IPv6 address with prefix length. */
  addressV6?: string;
  /** Default: the cluster's AS (BGPConfiguration asNumber, else 64512). */
  asNumber?: number;
  /** Default: the IPv4 address; without one, an IPv4-formatted hash of the name (CALICO_ROUTER_ID=hash). */
  routerId?: string;
  routeReflectorClusterID?: string;
  labels?: Readonly<Record<string, string>>;
  /** The cluster: nodes, pools, BGPConfiguration, BGPPeers, tunnel MTU. */
  cluster: ClusterView;
  /** BGP listen port. Default: BGPConfiguration listenPort, else 179. */
  bgpPort?: number;
  /** Address the speaker listens on. Default: the node's address (IPv4, else IPv6; "::" when it has both). */
  listenAddress?: string;
  /** MTU of the node's uplink, for tunnel and pod MTUs when the cluster gives no tunnelMTU. Default 1500. */
  hostMTU?: number;
  /**
   * Graceful restart (RFC 4724) towards every peer; default { restartTime: 120 } (BIRD's). `restarting`:
   * this agent replaces one that crashed (R bit; End-of-RIB once the blocks are originated again).
   */
  gracefulRestart?: { restartTime?: number; restarting?: boolean } | false;
  /** Session timers (seconds) for every peer, e.g. short hold times in a simulation. */
  peerTimers?: Pick<PeerConfig, "holdTime" | "connectRetryTime" | "connectDelay" | "errorWaitTime">;
}

export interface NodeAgentPorts {
  clock: Clock;
  transport: Transport;
  /** IPAM's store (in memory, or etcd): the agent runs `new Ipam(datastore, ...)` on it. */
  datastore: Datastore;
  dataplane: Dataplane;
  log?: (event: string) => void;
  /** Wall time in ms since the epoch for IPAM claim times. Default: clock.now(). */
  wallClock?: () => number;
  /** Every BGP session state change (the peer's address), e.g. for a timeline. */
  onPeerState?: (peer: string, from: SessionState, to: SessionState) => void;
  /** Whether `log` also gets a line per BGP session state change. Default true. */
  logPeerStates?: boolean;
}

/** A pod to start on this node. */
export interface AgentPodSpec {
  name: string;
  namespace: string;
  labels?: Readonly<Record<string, string>>;
  /** A fixed address (Calico's cni.projectcalico.org/ipAddrs), assigned with IPAM's assignIP. */
  ip?: string;
  serviceAccount?: string;
}

export interface AgentPod {
  name: string;
  namespace: string;
  node: string;
  labels: Record<string, string>;
  ips: string[];
  /** Host-side interface (cali + hash). */
  device: string;
  mtu: number;
  /** The addresses taken from another node's block (advertised as /32, /128). */
  borrowed: string[];
  serviceAccount?: string;
}

export interface AgentSession {
  peer: string;
  /** The peer's node name when it is a Calico node. */
  peerNode?: string;
  state: SessionState;
  type: "iBGP" | "eBGP";
  /** "mesh" or "bgppeer/<name>". */
  source: string;
  routeReflectorClient: boolean;
  passive: boolean;
  prefixesReceived: number;
  prefixesAccepted: number;
  prefixesSent: number;
  uptime: number;
  lastError: string | null;
}

/** Where an installed route came from: a BGP best path, the node's own block (IPAM), or a local pod. */
export type RouteSource = "bgp" | "ipam" | "workload";

export interface AgentRoute extends RouteText {
  source: RouteSource;
}

export interface AgentStatus {
  node: string;
  asNumber: number;
  routerId: string;
  running: boolean;
  sessions: AgentSession[];
  /** The routes the agent installed, sorted by prefix. */
  routes: AgentRoute[];
  pods: AgentPod[];
  tunnels: TunnelDevice[];
  /** Prefixes originated in BGP (affine blocks, borrowed addresses), sorted. */
  originated: string[];
  /** Bumped on every change of the installed routes. */
  routeVersion: number;
  /** Clock time of the last change of the installed routes (-1: none yet). */
  lastRouteChange: number;
}

/** bgpRoutes' mark of our own blackholes (by identity). */
const BLACKHOLE: IPAddress[] = [];

/** An installed route's source follows from its kind (effective(): pods' routes, own blocks, best paths). */
const SOURCE_OF: Readonly<Record<DataplaneRoute["kind"], RouteSource>> = { local: "workload", blackhole: "ipam", unicast: "bgp" };

const BGP_PEER_PORT = 179;

export class NodeAgent {
  readonly name: string;
  readonly asNumber: number;
  readonly routerId: string;
  readonly ipam: Ipam;
  readonly speaker: Speaker;
  private readonly config: NodeAgentConfig;
  private readonly ports: NodeAgentPorts;
  private self: ClusterNode;
  private view: ClusterView;
  private pools: Pool[] = [];
  private encap: EncapContext;
  private peerMap = new Map<string, AgentPeer>();
  /**
   * The speaker's routes by prefix: a best path's next hops (the speaker's list, shared with its
   * paths) or BLACKHOLE. Not the RouteEntry: in a mesh the installed route is shared between agents
   * (routes.ts) and the entry and its prefix would be each agent's own copy of the same thing.
   */
  private readonly bgpRoutes = new Map<RouteKey, IPAddress[]>();
  private readonly localRoutes = new Map<RouteKey, DataplaneRoute>();
  private readonly installed = new Map<RouteKey, DataplaneRoute>();
  private readonly podMap = new Map<string, AgentPod>();
  private readonly podOps = new Map<string, Promise<unknown>>();
  private readonly tunnelMap = new Map<"ipip" | "vxlan", TunnelDevice>();
  private readonly blockOwners = new BlockOwners();
  private nodeAddresses: NodeAddresses = new Map();
  private originated: string[] = [];
  private exportSig = "";
  private watch: Watch | undefined;
  private running = false;
  private listeners: ((agent: NodeAgent) => void)[] = [];
  private originQueued: Promise<void> | undefined;
  private originTail: Promise<void> = Promise.resolve();
  private pending = new Set<Promise<unknown>>();
  routeVersion = 0;
  lastRouteChange = -1;

  constructor(config: NodeAgentConfig, ports: NodeAgentPorts) {
    if (!config.name) throw new RangeError("a node agent needs a node name");
    if (!config.address && !config.addressV6) throw new RangeError(`node ${config.name}: an IPv4 or IPv6 address (with prefix length) is required`);
    this.config = config;
    this.ports = ports;
    this.name = config.name;
    this.view = config.cluster;
    const v4 = hostAddress(config.address);
    this.asNumber = config.asNumber ?? clusterAs(config.cluster);
    this.routerId = config.routerId ?? v4 ?? hashRouterId(config.name);
    this.self = {
      name: config.name,
      ...(config.address ? { address: config.address } : {}),
      ...(config.addressV6 ? { addressV6: config.addressV6 } : {}),
      asNumber: this.asNumber,
      labels: config.labels ?? {},
      ...(config.routeReflectorClusterID ? { routeReflectorClusterID: config.routeReflectorClusterID } : {}),
    };
    this.pools = normalizePools(config.cluster);
    this.encap = this.encapContext();
    this.ipam = new Ipam(ports.datastore, {
      pools: () => this.view.ipPools,
      clock: ports.wallClock ?? (() => ports.clock.now()),
      hostLabels: (host) => (host === this.name ? (this.self.labels ?? {}) : (this.view.nodes.find((n) => n.name === host)?.labels ?? {})),
    });
    const gr = config.gracefulRestart;
    this.speaker = new Speaker(
      {
        asNumber: this.asNumber,
        routerId: this.routerId,
        ...(config.routeReflectorClusterID ? { clusterId: config.routeReflectorClusterID } : {}),
        listen: { address: this.listenAddress(), port: config.bgpPort ?? listenPort(config.cluster) },
        gracefulRestart: gr === false ? false : { restartTime: gr?.restartTime ?? 120, ...(gr?.restarting ? { restarting: true, forwarding: true } : {}) },
        // Calico imports everything (BGPFilters aside); a policy also lifts RFC 8212's eBGP default deny.
        importPolicy: () => true,
        exportPolicy: () => false,
        log: (e) => this.log(e),
        logStates: ports.logPeerStates !== false,
        onPeerState: (peer, from, to) => ports.onPeerState?.(peer, from, to),
      },
      { clock: ports.clock, transport: ports.transport, sink: { apply: (c) => this.onBgpRoutes(c) } },
    );
    this.reconcilePeers();
  }

  // ------------------------------------------------------------------------------------- lifecycle

  /**
   * Brings the node up: tunnel devices (with IPAM tunnel addresses), the originated blocks and the
   * export filter, then the speaker (listening, connecting to its peers).
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.reconcileTunnels();
      // Every node's block affinities: ours decide what we originate, the others where tunnels go.
      const list = await this.ports.datastore.list(HOST_PREFIX);
      if (!this.running) return; // stopped meanwhile
      this.blockOwners.load(list.items, { store: this.ports.datastore, prefix: HOST_PREFIX, revision: list.revision });
      const mine = `${HOST_PREFIX}${this.name}/`;
      this.watch = this.ports.datastore.watch(
        HOST_PREFIX,
        list.revision + 1,
        (ev) => {
          const changed = this.blockOwners.apply(ev);
          if (changed) this.sync([routeKey(changed)]);
          // A failure is logged by refreshOrigination's queue.
          if (ev.key.startsWith(mine)) void this.track(this.refreshOrigination()).catch(() => undefined);
        },
        (e) => this.log(`affinity watch ended: ${e.message}`),
      );
      await this.refreshOrigination();
    } catch (e) {
      this.running = false;
      this.watch?.cancel();
      this.watch = undefined;
      throw e;
    }
    if (!this.running) return;
    this.speaker.start();
    // Our originated set is complete: a restarting speaker may now send End-of-RIB.
    this.speaker.ready();
  }

  /** Stops the speaker cleanly (Cease to every peer; learned routes are withdrawn) and the watch. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.watch?.cancel();
    this.watch = undefined;
    this.speaker.stop();
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Resolves when no background work (origination refresh, pod operation) is in flight. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.originTail;
  }

  /** Called after every change of the installed routes (for convergence measurement). */
  onChange(cb: (agent: NodeAgent) => void): () => void {
    this.listeners.push(cb);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== cb);
    };
  }

  // ------------------------------------------------------------------------------------- cluster

  /**
   * The cluster changed (nodes, pools, BGPConfiguration, BGPPeers, tunnel MTU): peers are added and
   * removed, routes re-decided, tunnels reconciled, origination refreshed. The node's own entry in
   * the view may change its labels; its address, AS and route-reflector cluster ID stay as configured.
   */
  async updateCluster(view: ClusterView): Promise<void> {
    const pools = normalizePools(view);
    this.view = view;
    // The node's own labels may change with its Node resource (pool and BGPPeer selectors follow).
    const labels = view.nodes.find((n) => n.name === this.name)?.labels;
    if (labels !== undefined) this.self = { ...this.self, labels };
    this.pools = pools;
    this.encap = this.encapContext();
    this.reconcilePeers();
    // Encapsulation depends on the pools: re-decide every BGP route.
    this.sync(this.bgpRoutes.keys());
    if (this.running) {
      await this.reconcileTunnels();
      await this.refreshOrigination();
    }
  }

  get cluster(): ClusterView {
    return this.view;
  }

  /** The peers this node is configured with (Calico's rules, peers.ts). */
  configuredPeers(): AgentPeer[] {
    return [...this.peerMap.values()];
  }

  private reconcilePeers(): void {
    const want = nodePeerMap(this.view, this.self);
    if (this.peerMap.size === 0) {
      // (The constructor: every peer is new, and the map nodePeerMap built is the one to keep.)
      for (const p of want.values()) this.speaker.addPeer(this.peerConfig(p));
      this.peerMap = want;
      return;
    }
    for (const [addr, old] of this.peerMap) {
      const w = want.get(addr);
      if (!w || !sameSession(w, old)) {
        this.speaker.removePeer(addr);
        this.peerMap.delete(addr);
      }
    }
    for (const [addr, p] of want) {
      if (this.peerMap.has(addr)) {
        this.peerMap.set(addr, p); // same session; source/type labels may have changed
        continue;
      }
      this.speaker.addPeer(this.peerConfig(p));
      this.peerMap.set(addr, p);
    }
  }

  /** The speaker's configuration of a peer. */
  private peerConfig(p: AgentPeer): PeerConfig {
    // Without session timers or BGPPeer options it says exactly what the AgentPeer says (port only when
    // not 179, as nodePeers has it; the speaker reads PeerConfig's fields, never the labels type,
    // source, peerNode): the AgentPeer itself, not a copy per peer (a full mesh has N² of them).
    if (this.config.peerTimers === undefined && p.options === undefined) return p;
    return {
      address: p.address,
      asNumber: p.asNumber,
      ...(p.port !== undefined && p.port !== BGP_PEER_PORT ? { port: p.port } : {}),
      localAddress: p.localAddress,
      passive: p.passive,
      routeReflectorClient: p.routeReflectorClient,
      ...this.config.peerTimers,
      ...this.peerOptions(p),
    };
  }

  /** BGPPeer / BGPConfiguration session settings as speaker peer options. */
  private peerOptions(p: AgentPeer): Partial<PeerConfig> {
    const o = p.options;
    if (!o) return {};
    const out: Partial<PeerConfig> = {};
    if (o.restartTime !== undefined && this.config.gracefulRestart !== false) out.gracefulRestart = { restartTime: o.restartTime };
    // BIRD's hold time is three keepalives; our speaker derives keepalives from the hold time.
    if (o.keepaliveTime !== undefined) out.holdTime = o.keepaliveTime === 0 ? 0 : Math.max(3, Math.round(o.keepaliveTime * 3));
    if (o.nextHopSelf) out.nextHopSelf = true;
    return out;
  }

  private listenAddress(): string {
    if (this.config.listenAddress) return this.config.listenAddress;
    const v4 = hostAddress(this.config.address);
    const v6 = hostAddress(this.config.addressV6);
    if (v4 && v6) return "::";
    return (v4 ?? v6)!;
  }

  private encapContext(): EncapContext {
    const s4 = nodeSubnet(this.config.address);
    const s6 = nodeSubnet(this.config.addressV6);
    this.nodeAddresses = addressesOf(this.view.nodes);
    const owner = (prefix: Prefix): IPAddress | undefined => {
      const host = this.blockOwners.owner(prefix);
      return host === undefined || host === this.name ? undefined : this.nodeAddresses.get(host)?.[prefix.family];
    };
    return { pools: this.pools, subnets: { ...(s4 ? { 4: s4 } : {}), ...(s6 ? { 6: s6 } : {}) }, owner };
  }

  // ------------------------------------------------------------------------------------- MTU and tunnels

  /** Encapsulations some enabled pool uses (Felix enables a tunnel when any pool needs it). */
  private encapsInUse(): ("ipip" | "vxlan")[] {
    const on = (m: string) => m === "Always" || m === "CrossSubnet";
    const out: ("ipip" | "vxlan")[] = [];
    if (this.pools.some((p) => !p.disabled && p.family === 4 && on(p.ipipMode))) out.push("ipip");
    if (this.pools.some((p) => !p.disabled && p.family === 4 && on(p.vxlanMode))) out.push("vxlan");
    return out;
  }

  tunnelMTU(kind: "ipip" | "vxlan"): number {
    return this.view.tunnelMTU ?? (this.config.hostMTU ?? 1500) - ENCAP_OVERHEAD[kind];
  }

  /**
   * The pod interface MTU: the cluster's tunnel MTU, else the smallest MTU of the encapsulations in
   * use (IPIP −20, VXLAN −50, VXLAN over IPv6 −70, as Felix), else the host MTU.
   */
  podMTU(): number {
    if (this.view.tunnelMTU !== undefined) return this.view.tunnelMTU;
    const host = this.config.hostMTU ?? 1500;
    const v6vxlan = this.pools.some((p) => !p.disabled && p.family === 6 && (p.vxlanMode === "Always" || p.vxlanMode === "CrossSubnet"));
    return Math.min(host, ...this.encapsInUse().map((k) => host - ENCAP_OVERHEAD[k]), ...(v6vxlan ? [host - ENCAP_OVERHEAD.vxlanV6] : []));
  }

  private async reconcileTunnels(): Promise<void> {
    const want = new Set(this.encapsInUse());
    for (const kind of ["ipip", "vxlan"] as const) {
      const have = this.tunnelMap.get(kind);
      if (!want.has(kind)) {
        if (have) {
          this.ports.dataplane.removeTunnel(kind);
          this.tunnelMap.delete(kind);
        }
        continue;
      }
      let address = have?.address;
      if (address === undefined) {
        try {
          address = await this.ipam.assignTunnelAddress(this.name, kind);
        } catch (e) {
          this.log(`no ${kind} tunnel address: ${e instanceof Error ? e.message : String(e)}`);
          continue;
        }
      }
      const dev: TunnelDevice = { type: kind, address, mtu: this.tunnelMTU(kind), ...(kind === "vxlan" ? { vni: VXLAN_VNI, port: VXLAN_PORT } : {}) };
      if (have && have.mtu === dev.mtu && have.address === dev.address) continue;
      this.tunnelMap.set(kind, dev);
      this.ports.dataplane.setTunnel(dev);
    }
  }

  // ------------------------------------------------------------------------------------- pods

  /**
   * Starts a pod on this node: addresses from IPAM (one per family with an enabled pool; an existing
   * allocation of the same handle is reused, so re-adding after an agent restart is safe), the pod's
   * interface and its local routes, and a new origination when IPAM claimed a block or borrowed.
   */
  addPod(spec: AgentPodSpec): Promise<AgentPod> {
    const key = `${spec.namespace}/${spec.name}`;
    return this.serialize(key, () => this.doAddPod(spec, key));
  }

  /** Removes a pod: its addresses go back to IPAM, its routes and interface away, origination refreshed. */
  removePod(pod: { name: string; namespace: string }): Promise<void> {
    const key = `${pod.namespace}/${pod.name}`;
    return this.serialize(key, () => this.doRemovePod(pod, key));
  }

  pods(): AgentPod[] {
    return [...this.podMap.values()].sort((a, b) => cmp(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  }

  pod(namespace: string, name: string): AgentPod | undefined {
    return this.podMap.get(`${namespace}/${name}`);
  }

  /** Calico CNI's handle for a pod (containerID there; namespace and name here, one sandbox per pod). */
  static handleId(namespace: string, name: string): string {
    return `k8s-pod-network.${namespace}.${name}`;
  }

  private async doAddPod(spec: AgentPodSpec, key: string): Promise<AgentPod> {
    const existing = this.podMap.get(key);
    if (existing) return existing;
    if (!spec.name || !spec.namespace) throw new RangeError("a pod needs a name and a namespace");
    const handleId = NodeAgent.handleId(spec.namespace, spec.name);
    let ips = await this.ipam.addressesByHandle(handleId);
    let borrowed: string[] = [];
    const attrs = { namespace: spec.namespace, pod: spec.name, node: this.name };
    if (ips.length === 0 && spec.ip !== undefined) {
      const r = await this.ipam.assignIP({ address: spec.ip, host: this.name, handleId, attrs });
      ips = [r.address];
      if (r.borrowed) borrowed = [r.address];
    } else if (ips.length === 0) {
      const wants = (family: 4 | 6) => this.pools.some((p) => p.family === family && !p.disabled && p.allowedUses.includes("Workload")) && (family === 4 ? !!this.config.address : !!this.config.addressV6);
      const num4 = wants(4) ? 1 : 0;
      const num6 = wants(6) ? 1 : 0;
      if (num4 + num6 === 0) throw new RangeError(`pod ${key}: no enabled IP pool for workloads in a family node ${this.name} has an address of`);
      const r = await this.ipam.autoAssign({ host: this.name, handleId, num4, num6, attrs });
      ips = [...r.ipv4, ...r.ipv6];
      borrowed = r.borrowed;
    }
    const device = workloadInterfaceName(spec.namespace, spec.name);
    const pod: AgentPod = {
      name: spec.name,
      namespace: spec.namespace,
      node: this.name,
      labels: { ...spec.labels },
      ips,
      device,
      mtu: this.podMTU(),
      borrowed,
      ...(spec.serviceAccount !== undefined ? { serviceAccount: spec.serviceAccount } : {}),
    };
    this.podMap.set(key, pod);
    this.ports.dataplane.addWorkload({ key, namespace: spec.namespace, name: spec.name, device, addresses: ips, mtu: pod.mtu });
    const keys: RouteKey[] = [];
    for (const ip of ips) {
      const r = workloadRoute(parseIP(ip), device);
      const k = routeKey(r.prefix);
      this.localRoutes.set(k, r);
      keys.push(k);
    }
    this.sync(keys);
    await this.refreshOrigination();
    return pod;
  }

  private async doRemovePod(pod: { name: string; namespace: string }, key: string): Promise<void> {
    const known = this.podMap.get(key);
    await this.ipam.releaseByHandle(NodeAgent.handleId(pod.namespace, pod.name));
    if (!known) return;
    this.podMap.delete(key);
    this.ports.dataplane.removeWorkload(key);
    const keys: RouteKey[] = [];
    for (const ip of known.ips) {
      const k = routeKey(workloadRoute(parseIP(ip), known.device).prefix);
      this.localRoutes.delete(k);
      keys.push(k);
    }
    this.sync(keys);
    await this.refreshOrigination();
  }

  private serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.podOps.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.podOps.set(key, tail);
    void tail.then(() => {
      if (this.podOps.get(key) === tail) this.podOps.delete(key);
    });
    return this.track(next);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const done = () => this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  // ------------------------------------------------------------------------------------- policy

  /** The policy the node enforces (build it with policySetFor: all the cluster's pods as endpoints). */
  setPolicy(policy: PolicySet): void {
    this.ports.dataplane.setPolicy(policy);
  }

  // ------------------------------------------------------------------------------------- origination

  /**
   * Re-reads the node's affine blocks and borrowed addresses from IPAM and makes the speaker
   * originate exactly those (calicoOriginatedRoutes) under Calico's export filter. Calls made while
   * one is queued share it; each caller's changes are visible to the run it waits for.
   */
  refreshOrigination(): Promise<void> {
    if (this.originQueued) return this.originQueued;
    const run = this.originTail.then(async () => {
      this.originQueued = undefined;
      await this.originate();
    });
    this.originQueued = run;
    this.originTail = run.catch((e: unknown) => this.log(`origination failed: ${e instanceof Error ? e.message : String(e)}`));
    return run;
  }

  private async originate(): Promise<void> {
    const [blocks, borrowed] = await Promise.all([this.ipam.affineBlocks(this.name), this.ipam.borrowedAddresses(this.name)]);
    const pools = this.pools.map((p) => ({ cidr: p.cidrText, disableBGPExport: p.disableBGPExport }));
    const { routes, exportPolicy } = calicoExport({ pools, blocks, borrowed });
    const sig = JSON.stringify([pools, blocks, borrowed.map((b) => b.address)]);
    // A new export filter re-evaluates every peer's Adj-RIB-Out: only when its inputs changed.
    if (sig !== this.exportSig) {
      this.exportSig = sig;
      this.speaker.setExportPolicy(exportPolicy);
    }
    this.speaker.setOriginated(routes);
    this.originated = routes.map((r) => `${formatIP(r.prefix.family, r.prefix.addr)}/${r.prefix.len}`);
  }

  // ------------------------------------------------------------------------------------- routes

  private onBgpRoutes(changes: RouteChanges): void {
    // A prefix appears once per batch (RouteSink), and deciding one prefix reads only its own
    // entries: each is decided as it is recorded, in the batch's order (removals first).
    if (changes.add.length + changes.remove.length === 1) return this.onBgpRoute(changes.add[0], changes.remove[0]);
    const add: DataplaneRoute[] = [];
    const remove: Prefix[] = [];
    for (const p of changes.remove) {
      const k = routeKey(p);
      this.bgpRoutes.delete(k);
      this.decide(k, add, remove);
    }
    for (const r of changes.add) {
      const k = routeKey(r.prefix);
      this.bgpRoutes.set(k, r.kind === "blackhole" ? BLACKHOLE : r.nextHops);
      this.decide(k, add, remove, r.prefix);
    }
    this.apply(add, remove);
  }

  /**
   * onBgpRoutes for a batch of one change (the usual UPDATE in a mesh): decide as it does, with the
   * Dataplane batch's lists made at their size (an empty list's first push reserves 17 slots).
   */
  private onBgpRoute(r: RouteEntry | undefined, removed: Prefix | undefined): void {
    let k: RouteKey;
    if (r !== undefined) {
      k = routeKey(r.prefix);
      this.bgpRoutes.set(k, r.kind === "blackhole" ? BLACKHOLE : r.nextHops);
    } else {
      k = routeKey(removed!);
      this.bgpRoutes.delete(k);
    }
    const want = this.effective(k, r?.prefix);
    const have = this.installed.get(k);
    if (!want) {
      if (have) {
        this.installed.delete(k);
        this.apply([], [have.prefix]);
      }
      return;
    }
    if (have && sameRoute(have, want)) return;
    this.installed.set(k, want);
    this.apply([want], []);
  }

  /** The route this prefix should have: a pod's own, else the BGP one (a best path or our blackhole). */
  private effective(k: RouteKey, prefix?: Prefix): DataplaneRoute | undefined {
    const local = this.localRoutes.get(k);
    if (local) return local;
    const hops = this.bgpRoutes.get(k);
    if (hops === undefined) return undefined;
    // The prefix: the new entry's, else the installed route's (same key, same prefix), else from the key.
    const p = prefix ?? this.installed.get(k)?.prefix ?? prefixOfKey(k);
    return hops === BLACKHOLE ? bgpRoute(p, "blackhole", hops, this.encap) : bgpRoute(p, "unicast", hops, this.encap);
  }

  /** Brings the installed table in line for these prefixes; one Dataplane batch. */
  private sync(keys: Iterable<RouteKey>): void {
    const add: DataplaneRoute[] = [];
    const remove: Prefix[] = [];
    for (const k of new Set(keys)) this.decide(k, add, remove);
    this.apply(add, remove);
  }

  private decide(k: RouteKey, add: DataplaneRoute[], remove: Prefix[], prefix?: Prefix): void {
    const want = this.effective(k, prefix);
    const have = this.installed.get(k);
    if (!want) {
      if (have) {
        this.installed.delete(k);
        remove.push(have.prefix);
      }
      return;
    }
    if (have && sameRoute(have, want)) return; // (same kind, so the same source)
    this.installed.set(k, want); // a fresh or shared, never changed object (routes.ts)
    add.push(want);
  }

  private apply(add: DataplaneRoute[], remove: Prefix[]): void {
    if (add.length === 0 && remove.length === 0) return;
    this.ports.dataplane.applyRoutes({ add, remove });
    this.routeVersion++;
    this.lastRouteChange = this.ports.clock.now();
    for (const cb of this.listeners) cb(this);
  }

  /** The installed routes, sorted by prefix. */
  routes(): AgentRoute[] {
    return [...this.installed.values()]
      .sort((a, b) => a.prefix.family - b.prefix.family || (a.prefix.addr < b.prefix.addr ? -1 : a.prefix.addr > b.prefix.addr ? 1 : a.prefix.len - b.prefix.len))
      .map((r) => ({ ...routeText(r), source: SOURCE_OF[r.kind] }));
  }

  // ------------------------------------------------------------------------------------- status

  sessions(): AgentSession[] {
    return this.speaker
      .peers()
      .map((s) => {
        const p = this.peerMap.get(s.address);
        return {
          peer: s.address,
          ...(p?.peerNode !== undefined ? { peerNode: p.peerNode } : {}),
          state: s.state,
          type: s.asNumber === this.asNumber ? ("iBGP" as const) : ("eBGP" as const),
          source: p?.source ?? "",
          routeReflectorClient: p?.routeReflectorClient ?? false,
          passive: p?.passive ?? false,
          prefixesReceived: s.prefixesReceived,
          prefixesAccepted: s.prefixesAccepted,
          prefixesSent: s.prefixesSent,
          uptime: s.uptime,
          lastError: s.lastError,
        };
      })
      .sort((a, b) => compareAddressText(a.peer, b.peer));
  }

  status(): AgentStatus {
    return {
      node: this.name,
      asNumber: this.asNumber,
      routerId: this.routerId,
      running: this.running,
      sessions: this.sessions(),
      routes: this.routes(),
      pods: this.pods(),
      tunnels: [...this.tunnelMap.values()].sort((a, b) => cmp(a.type, b.type)),
      originated: [...this.originated],
      routeVersion: this.routeVersion,
      lastRouteChange: this.lastRouteChange,
    };
  }

  private log(event: string): void {
    this.ports.log?.(`${this.name}: ${event}`);
  }
}

function normalizePools(view: ClusterView): Pool[] {
  return view.ipPools.map((p) => normalizePool(p));
}

/** CALICO_ROUTER_ID=hash: an IPv4-formatted 32-bit hash of the node name (never 0). */
function hashRouterId(name: string): string {
  const h = fnv32(name) || 1;
  return formatIP(4, BigInt(h));
}

type NodeAddresses = Map<string, { 4?: IPAddress; 6?: IPAddress }>;
// Parsed node addresses per nodes array, shared by the agents of one view (see peers.ts).
const addressCache = new WeakMap<readonly ClusterNode[], NodeAddresses>();

function addressesOf(nodes: readonly ClusterNode[]): NodeAddresses {
  let m = addressCache.get(nodes);
  if (!m) {
    m = new Map();
    for (const n of nodes) {
      const a4 = safe(() => nodeIP(n.address));
      const a6 = safe(() => nodeIP(n.addressV6));
      m.set(n.name, { ...(a4 ? { 4: a4 } : {}), ...(a6 ? { 6: a6 } : {}) });
    }
    addressCache.set(nodes, m);
  }
  return m;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);


/** Whether two configurations of a peer give the same speaker session (else it is re-created). */
function sameSession(a: AgentPeer, b: AgentPeer): boolean {
  if (a.asNumber !== b.asNumber || a.port !== b.port || a.localAddress !== b.localAddress || a.passive !== b.passive || a.routeReflectorClient !== b.routeReflectorClient) return false;
  const x = a.options ?? {};
  const y = b.options ?? {};
  return x.restartTime === y.restartTime && x.keepaliveTime === y.keepaliveTime && x.nextHopSelf === y.nextHopSelf;
}
