// The simulator backend: a whole cluster in one process, in virtual time (docs/simulator.md).
//
//   SimEngine ── SimNetwork (FIBs, links, forwarding, probes)
//            └─ SimTransportNetwork (TCP over the network's paths, carrying real BGP bytes)
//   one MemoryDatastore (the cluster's etcd, IPAM's CAS semantics), one NodeAgent per node, a plain
//   Speaker per BGP router, and the scenario's resources (ClusterResources).
//
// Time only moves inside the engine. Agents' IPAM work is promise based (the datastore answers from
// the microtask queue), so every world-changing call does its work at the current virtual instant,
// waits for the agents to be idle, and only then lets the engine run: the same inputs and seed give
// the same events in the same order, hence identical observations.
import { ipamObservation } from "../src/scenario/ipam-observation.ts";
import { MemoryDatastore } from "../src/core/datastore/memory.ts";
import { NodeAgent, policySetFor } from "../src/core/agent/index.ts";
import type { SessionState } from "../src/core/bgp/session.ts";
import { Speaker } from "../src/core/bgp/speaker.ts";
import { Ipam } from "../src/core/ipam/index.ts";
import { compareAddressText, formatIP, parseIP } from "../src/core/net/ip.ts";
import type { AnyResource } from "../src/core/model/index.ts";
import type {
  Backend,
  BackendOptions,
  ConvergenceResult,
  Counters,
  Endpoint,
  FailOptions,
  IpamObservation,
  PodInfo,
  PodSpec,
  ProbeResult,
  ProbeSpec,
  RouteObservation,
  SampleCounts,
  SessionObservation,
  Target,
  TimelineEvent,
} from "../src/scenario/backend.ts";
import type { Router, Topology, TopologyNode } from "../src/topology/model.ts";
import { ConvergenceTracker, type SessionRecord } from "./backend/convergence.ts";
import { RecordingDataplane, RecordingSink, sampleNames, type RouteChangeHook } from "./backend/recording.ts";
import { ClusterResources } from "./backend/resources.ts";
import { localAddressFor, routerSpeakerConfig } from "./backend/routers.ts";
import { DEFAULT_TIMELINE_LIMIT, SAMPLE, Timeline } from "./backend/timeline.ts";
import { SimEngine } from "./engine.ts";
import { SimNetwork } from "./net/index.ts";
import { PcapWriter } from "./pcap.ts";
import { SimTransportNetwork, type Underlay, type UnderlayPath } from "./transport.ts";

export interface SimBackendOptions {
  /**
   * How long nothing may move (route, session, UPDATE) before the network counts as converged.
   * Default: 3 × the longest one-way path latency the topology can have + 5 ms (at least 1 s when a
   * link loses packets, so a retransmission after TCP's 200 ms minimum RTO is waited for).
   */
  quietMs?: number;
  /** How long a session with a working path may stay down before it counts as stably failing (30 s). */
  graceMs?: number;
  /** BGP timers (seconds) for every session of nodes and routers, e.g. short hold times. */
  peerTimers?: { holdTime?: number; connectRetryTime?: number; connectDelay?: number; errorWaitTime?: number };
  /** Graceful restart time (s) the agents advertise (default 120, BIRD's). */
  restartTime?: number;
  timelineLimit?: number;
}

interface NodeSlot {
  topo: TopologyNode;
  agent: NodeAgent | undefined;
  dataplane: RecordingDataplane | undefined;
  state: "up" | "crashed" | "stopped";
}

interface RouterSlot {
  topo: Router;
  speaker: Speaker | undefined;
  sink: RecordingSink | undefined;
  up: boolean;
}

interface PodSlot {
  spec: PodSpec;
  info: PodInfo;
}

interface World {
  topology: Topology;
  engine: SimEngine;
  network: SimNetwork;
  transport: SimTransportNetwork;
  datastore: MemoryDatastore;
  ipam: Ipam;
  resources: ClusterResources;
  nodes: Map<string, NodeSlot>;
  routers: Map<string, RouterSlot>;
  pods: Map<string, PodSlot>;
  /** Address (canonical text) → node or router name. */
  owners: Map<string, string>;
  tracker: ConvergenceTracker;
  timeline: Timeline;
  quietMs: number;
  /** What is failed now ("link:e@s", "node:n", "router:r"); empty means every path is up. */
  failed: Set<string>;
  pathMemo: Map<string, boolean>;
  /** Nodes restarted after a crash whose leftover kernel routes are pruned once they converge. */
  prune: Set<string>;
  pcap: PcapWriter | undefined;
  pcapDir: string | undefined;
  log: ((line: string) => void) | undefined;
  /** Established sessions per host, for sample(). */
  established: Map<string, number>;
  policyInUse: boolean;
  /** Bumped whenever host-to-host paths may have changed (the transport's path cache key). */
  paths: { version: number };
}

const NOTE_LINE = /graceful restart|restart timer expired|NOTIFICATION/;
const NO_NAMES = { added: [], removed: [] };
const NO_MEMO = { memo: false } as const;
/** Source port of probes (fixed, so ECMP hashing and reports are reproducible). */
const PROBE_SRC_PORT = 40000;

const canonical = (a: string): string => {
  const ip = parseIP(a);
  return formatIP(ip.family, ip.value);
};
const addrOf = (cidr: string | undefined): string | undefined => (cidr === undefined ? undefined : canonical(cidr.split("/")[0]!));
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);


/** Lets promise continuations (the agents' IPAM work, datastore watches) run to completion. */
const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SimBackend implements Backend {
  readonly mode = "sim" as const;
  readonly #options: SimBackendOptions;
  #w: World | undefined;
  #stopped = false;

  constructor(options: SimBackendOptions = {}) {
    this.#options = options;
  }

  // ------------------------------------------------------------------------------------------- lifecycle

  async start(topology: Topology, options: BackendOptions): Promise<void> {
    if (this.#w !== undefined || this.#stopped) throw new Error("this simulator backend was already started; create a new one per run");
    const engine = new SimEngine({ seed: options.seed });
    const network = new SimNetwork(topology, engine);
    const owners = new Map<string, string>();
    for (const n of topology.nodes) for (const a of [n.address, n.addressV6]) if (a) owners.set(addrOf(a)!, n.name);
    for (const r of topology.routers) for (const i of r.interfaces) for (const a of [i.address, i.addressV6]) if (a) owners.set(addrOf(a)!, r.name);
    // Paths between hosts change with failures and restores, and with routers' BGP routes; the
    // pod routes agents install do not carry node-to-node traffic. Telling the transport so lets it
    // keep a connection's path instead of re-walking the FIBs for every flight.
    const paths = { version: 0 };
    // Paths are not kept here as well: the transport keeps each connection direction's path, and
    // a cold start asks for every path once (a key string and a map entry per direction, a million
    // at 1,000 nodes, for no hit). A new connection after a failure walks the FIBs again.
    const underlay: Underlay = {
      underlayPath: (host, src, dst, size) => network.underlayPath(host, src, dst, size, NO_MEMO),
      hostOf: (a) => owners.get(a) ?? network.hostOf(a),
      sourceAddress: (host, dst) => network.address(host, dst.includes(":") ? 6 : 4),
      version: () => paths.version,
    };
    let pcap: PcapWriter | undefined;
    if (options.pcapDir !== undefined) {
      pcap = new PcapWriter({ clock: engine });
      const writer = pcap;
      network.onPacket = (link, p) =>
        writer.writeDataPacket(`${link.element}@${link.segment}`, {
          src: p.src,
          dst: p.dst,
          protocol: p.protocol === "tcp" || p.protocol === "udp" ? p.protocol : "icmp",
          size: p.size - (p.encap ? overhead(p.encap.type) : 0),
          encap: p.encap?.type ?? "none",
          ...(p.encap ? { outerSrc: p.encap.src, outerDst: p.encap.dst } : {}),
        });
    }
    const transport = new SimTransportNetwork(engine, underlay, pcap ? { capture: pcap } : {});
    const datastore = new MemoryDatastore();
    const resources = new ClusterResources();
    resources.apply([...topology.cluster.ipPools, topology.cluster.bgpConfiguration, ...topology.cluster.bgpPeers] as AnyResource[]);
    const w: World = {
      topology,
      engine,
      network,
      transport,
      datastore,
      ipam: new Ipam(datastore, { pools: () => this.#world().resources.clusterView(topology).ipPools, clock: () => engine.now() }),
      resources,
      nodes: new Map(topology.nodes.map((n) => [n.name, { topo: n, agent: undefined, dataplane: undefined, state: "up" }])),
      routers: new Map(topology.routers.map((r) => [r.name, { topo: r, speaker: undefined, sink: undefined, up: true }])),
      pods: new Map(),
      owners,
      tracker: new ConvergenceTracker(this.#options.graceMs ?? 30_000),
      timeline: new Timeline(this.#options.timelineLimit ?? DEFAULT_TIMELINE_LIMIT),
      quietMs: this.#options.quietMs ?? defaultQuiet(topology),
      failed: new Set(topology.links.filter((l) => l.down).map((l) => linkKey(topology, l.endpoints))),
      pathMemo: new Map(),
      prune: new Set(),
      pcap,
      pcapDir: options.pcapDir,
      log: options.log,
      established: new Map(),
      policyInUse: false,
      paths,
    };
    this.#w = w;
    const view = resources.clusterView(topology);
    const agents: NodeAgent[] = [];
    for (const slot of w.nodes.values()) agents.push(this.#newAgent(slot, view, false));
    await Promise.all(agents.map((a) => a.start()));
    for (const r of w.routers.values()) if (r.topo.bgp) this.#startRouter(r);
    await this.#settle(agents);
    options.log?.(`simulator: ${topology.nodes.length} nodes, ${w.routers.size} routers, ${w.tracker.size} session ends configured, quiet period ${w.quietMs} ms`);
  }

  now(): number {
    return this.#w?.engine.now() ?? 0;
  }

  async stop(): Promise<void> {
    const w = this.#w;
    if (w === undefined) return;
    this.#w = undefined;
    this.#stopped = true;
    // The world is dropped whole: no engine runs any more, so stopping each speaker (a Cease per
    // session into a network nobody moves) would only cost time. Closing the store ends the agents' watches.
    for (const s of w.nodes.values()) s.dataplane?.detach();
    for (const r of w.routers.values()) r.sink?.detach();
    await w.datastore.close();
    if (w.pcap !== undefined && w.pcapDir !== undefined) {
      const files = w.pcap.flush(w.pcapDir);
      w.log?.(`simulator: ${files.length} capture files in ${w.pcapDir}`);
    }
  }

  #world(): World {
    if (this.#w === undefined) throw new Error(this.#stopped ? "the simulator backend was stopped" : "the simulator backend is not started");
    return this.#w;
  }

  // ------------------------------------------------------------------------------------------- agents and routers

  #newAgent(slot: NodeSlot, view: ReturnType<ClusterResources["clusterView"]>, restarting: boolean): NodeAgent {
    const w = this.#world();
    const n = slot.topo;
    const name = n.name;
    const dataplane = new RecordingDataplane(name, w.network.dataplane(name), this.#routeHook);
    const restartTime = this.#options.restartTime ?? 120;
    const prefix = `${name}: `;
    const agent = new NodeAgent(
      {
        name,
        ...(n.address ? { address: n.address } : {}),
        ...(n.addressV6 ? { addressV6: n.addressV6 } : {}),
        ...(n.asNumberOverride !== undefined ? { asNumber: n.asNumberOverride } : {}),
        ...(n.routeReflectorClusterID ? { routeReflectorClusterID: n.routeReflectorClusterID } : {}),
        labels: n.labels,
        cluster: view,
        hostMTU: attachmentMtu(w.topology, n),
        gracefulRestart: { restartTime, ...(restarting ? { restarting: true } : {}) },
        ...(this.#options.peerTimers ? { peerTimers: this.#options.peerTimers } : {}),
      },
      {
        clock: w.engine.clock("bgp"),
        transport: w.transport.transport(name, addrOf(n.address) ?? addrOf(n.addressV6)),
        datastore: w.datastore,
        dataplane,
        log: (line) => this.#agentLog(name, line.startsWith(prefix) ? line.slice(prefix.length) : line),
        // State changes come through onPeerState: no log line each (the timeline takes notes only).
        logPeerStates: false,
        onPeerState: (peer, from, to) => this.#sessionChange(name, peer, from, to),
      },
    );
    slot.agent = agent;
    slot.dataplane = dataplane;
    slot.state = "up";
    return agent;
  }

  #startRouter(slot: RouterSlot): void {
    const w = this.#world();
    const r = slot.topo;
    const config = routerSpeakerConfig(w.topology, r);
    const timers = this.#options.peerTimers;
    const sink = new RecordingSink(r.name, w.network.routeSink(r.name), this.#routeHook);
    const speaker = new Speaker(
      {
        ...config,
        peers: (config.peers ?? []).map((p) => ({ ...p, ...timers })),
        onPeerState: (address, from, to) => this.#sessionChange(r.name, address, from, to),
        logStates: false,
        log: (line) => {
          if (NOTE_LINE.test(line)) this.#note(r.name, line);
        },
      },
      { clock: w.engine.clock("bgp"), transport: w.transport.transport(r.name), sink },
    );
    slot.speaker = speaker;
    slot.sink = sink;
    slot.up = true;
    speaker.start();
  }

  #agentLog(node: string, text: string): void {
    // State changes come through onPeerState; the log gives the notes (restarts, NOTIFICATIONs).
    if (NOTE_LINE.test(text)) this.#note(node, text);
  }

  #note(host: string, text: string): void {
    const w = this.#w;
    if (w === undefined) return;
    w.timeline.add({ t: w.engine.now(), node: host, kind: "note", text });
  }

  #sessionChange(host: string, peer: string, from: SessionState, to: SessionState): void {
    const w = this.#w;
    if (w === undefined) return;
    const t = w.engine.now();
    const peerHost = w.owners.get(peer);
    w.tracker.sessionChange(host, peer, peerHost, from, to, t);
    if (to === "Established" || from === "Established") {
      const d = to === "Established" ? 1 : -1;
      w.established.set(host, (w.established.get(host) ?? 0) + d);
      const who = peerHost ?? peer;
      // A full timeline only counts what it leaves out: no text built (a mesh has a million of these).
      if (w.timeline.full) w.timeline.skip(t);
      else w.timeline.add({ t, node: host, kind: "session", text: to === "Established" ? `session with ${who} Established` : `session with ${who} down (${from} -> ${to})` });
    }
  }

  readonly #routeHook: RouteChangeHook = (host, add, remove) => {
    const w = this.#w;
    if (w === undefined) return;
    const t = w.engine.now();
    w.tracker.routeChange(t);
    if (w.routers.has(host)) w.paths.version++;
    if (w.timeline.full) w.timeline.routes(t, host, add.length, remove.length, NO_NAMES);
    else w.timeline.routes(t, host, add.length, remove.length, sampleNames(add, remove, SAMPLE));
  };

  /** Waits until the given agents (default: all running) have no IPAM work in flight. */
  async #settle(agents?: readonly NodeAgent[]): Promise<void> {
    const w = this.#world();
    const list = agents ?? [...w.nodes.values()].flatMap((s) => (s.agent ? [s.agent] : []));
    await macrotask();
    await Promise.all(list.map((a) => a.idle()));
    await macrotask();
  }

  /** Runs the engine to virtual time `until`, noting when UPDATEs leave (activity for convergence). */
  #run(until: number): void {
    const w = this.#world();
    const totals = w.transport.totals;
    let updates = totals.update;
    const tracker = w.tracker;
    const engine = w.engine;
    engine.run({
      until,
      stopWhen: () => {
        if (totals.update !== updates) {
          updates = totals.update;
          tracker.updateSent(engine.now());
        }
        return false;
      },
    });
  }

  // ------------------------------------------------------------------------------------------- time

  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance: ${ms} ms is not a duration`);
    const w = this.#world();
    this.#run(w.engine.now() + ms);
    await macrotask();
  }

  async waitConverged(timeoutMs: number, since: number): Promise<ConvergenceResult> {
    const w = this.#world();
    const { engine, tracker, quietMs } = w;
    const deadline = engine.now() + Math.max(0, timeoutMs);
    let step = quietMs;
    for (;;) {
      const t = engine.now();
      const last = tracker.lastActivity();
      if (t - last >= quietMs && tracker.unsettled(t, this.#pathUp()).length === 0) {
        if (w.prune.size > 0 && this.#pruneLeftovers()) continue;
        const at = Math.max(tracker.lastRoutingChange(), since);
        return { converged: true, at, took: at - since };
      }
      if (t >= deadline) return { converged: false, at: t, took: t - since };
      const target = Math.min(deadline, Math.max(last + quietMs, t + step));
      this.#run(target);
      // While only timers tick (a hold timer to run out), look less often; after activity, closely again.
      step = tracker.lastActivity() > last ? quietMs : Math.min(step * 2, 1000);
      // Engine events never start IPAM work (only the calls above do), so one turn of the event loop
      // is enough to keep promise continuations from piling up.
      await macrotask();
    }
  }

  /** Whether two hosts' BGP speakers can reach each other now; undefined when nothing is failed. */
  #pathUp(): ((r: SessionRecord) => boolean) | undefined {
    const w = this.#world();
    if (w.failed.size === 0) return undefined;
    return (r) => {
      const peerHost = r.peerHost;
      if (peerHost === undefined) return false;
      const key = `${r.host}\u0000${peerHost}`;
      let up = w.pathMemo.get(key);
      if (up === undefined) {
        up = this.#speakerUp(r.host) && this.#speakerUp(peerHost) && this.#reaches(r.host, r.peer) && this.#reaches(peerHost, this.#localAddress(r.host, r.peer));
        w.pathMemo.set(key, up);
      }
      return up;
    };
  }

  #speakerUp(host: string): boolean {
    const w = this.#world();
    const n = w.nodes.get(host);
    if (n !== undefined) return n.state === "up";
    const r = w.routers.get(host);
    return r !== undefined && r.up && r.speaker !== undefined;
  }

  #reaches(from: string, dst: string | undefined): boolean {
    const w = this.#world();
    if (dst === undefined) return false;
    const src = this.#localAddress(from, dst);
    if (src === undefined) return false;
    return w.network.underlayPath(from, src, dst, 40).ok;
  }

  #localAddress(host: string, peer: string): string | undefined {
    const w = this.#world();
    const r = w.routers.get(host);
    if (r !== undefined) return localAddressFor(r.topo, peer);
    return w.network.address(host, peer.includes(":") ? 6 : 4);
  }

  #worldChanged(): void {
    const w = this.#world();
    w.paths.version++;
    w.pathMemo.clear();
    w.tracker.worldChanged(w.engine.now());
  }

  /**
   * A restarted node found the kernel routes of its previous life (kill -9 and BIRD's `persist' leave them).
   * Once it has converged, what it did not install again goes, as BIRD's kernel protocol prunes after a
   * graceful restart. Returns true when something was removed (a routing change).
   */
  #pruneLeftovers(): boolean {
    const w = this.#world();
    let changed = false;
    for (const name of [...w.prune].sort()) {
      w.prune.delete(name);
      const slot = w.nodes.get(name)!;
      if (slot.agent === undefined || slot.dataplane === undefined) continue;
      const mine = new Set(slot.agent.routes().map((r) => r.prefix));
      const leftovers = w.network.routes(name).filter((r) => (r.source === "bgp" || r.source === "ipam" || r.source === "workload") && !mine.has(r.prefix));
      if (leftovers.length === 0) continue;
      slot.dataplane.applyRoutes({ add: [], remove: leftovers.map((r) => parsePrefixText(r.prefix)) });
      w.timeline.add({ t: w.engine.now(), node: name, kind: "note", text: `${leftovers.length} routes left from before the restart removed` });
      changed = true;
    }
    return changed;
  }

  // ------------------------------------------------------------------------------------------- pods

  async createPods(pods: PodSpec[]): Promise<PodInfo[]> {
    const w = this.#world();
    const seen = new Set<string>();
    for (const p of pods) {
      const key = `${p.namespace}/${p.name}`;
      if (w.pods.has(key) || seen.has(key)) throw new Error(`pod ${key} already exists`);
      seen.add(key);
      const slot = w.nodes.get(p.node);
      if (slot === undefined) throw new Error(`pod ${key}: no node named ${p.node}`);
      if (slot.agent === undefined || slot.state !== "up") throw new Error(`pod ${key}: node ${p.node} is ${slot.state}, its agent cannot start pods`);
    }
    const results = await Promise.allSettled(
      pods.map((p) => w.nodes.get(p.node)!.agent!.addPod({ name: p.name, namespace: p.namespace, labels: p.labels, ...(p.ip !== undefined ? { ip: p.ip } : {}) })),
    );
    const infos: PodInfo[] = [];
    const errors: string[] = [];
    results.forEach((r, i) => {
      const spec = pods[i]!;
      if (r.status === "rejected") {
        errors.push(`pod ${spec.namespace}/${spec.name}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
        return;
      }
      const info: PodInfo = { name: spec.name, namespace: spec.namespace, node: spec.node, ips: [...r.value.ips], mtu: r.value.mtu };
      w.pods.set(`${spec.namespace}/${spec.name}`, { spec, info });
      infos.push(info);
    });
    this.#applyPolicy();
    await this.#settle();
    if (errors.length > 0) throw new Error(errors.join("; "));
    return infos;
  }

  async deletePods(pods: { name: string; namespace: string }[]): Promise<void> {
    const w = this.#world();
    const work: Promise<void>[] = [];
    for (const p of pods) {
      const key = `${p.namespace}/${p.name}`;
      const slot = w.pods.get(key);
      if (slot === undefined) throw new Error(`pod ${key} does not exist`);
      const node = w.nodes.get(slot.spec.node)!;
      w.pods.delete(key);
      // A pod on a node whose agent is down is deleted from the API; IPAM is released by a fresh client.
      if (node.agent !== undefined && node.state === "up") work.push(node.agent.removePod(p));
      else work.push(w.ipam.releaseByHandle(NodeAgent.handleId(p.namespace, p.name)).then(() => undefined));
    }
    await Promise.all(work);
    this.#applyPolicy();
    await this.#settle();
  }

  async pods(): Promise<PodInfo[]> {
    const w = this.#world();
    return [...w.pods.values()].map((p) => ({ ...p.info, ips: [...p.info.ips] })).sort((a, b) => cmp(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  }

  /** Rebuilds the cluster's PolicySet and gives it to every running agent (Felix sees the whole cluster). */
  #applyPolicy(): void {
    const w = this.#world();
    const loaded = w.resources.loaded();
    const hasPolicy = loaded.entries.some((e) => e.key !== "IPPool" && e.key !== "BGPPeer" && e.key !== "BGPConfiguration");
    if (!hasPolicy && w.pods.size === 0 && !w.policyInUse) return;
    const policy = policySetFor(
      loaded,
      [...w.pods.values()].map((p) => ({ name: p.spec.name, namespace: p.spec.namespace, node: p.spec.node, labels: p.spec.labels, ips: p.info.ips })),
    );
    w.policyInUse = true;
    for (const s of w.nodes.values()) if (s.agent !== undefined && s.state === "up") s.agent.setPolicy(policy);
  }

  // ------------------------------------------------------------------------------------------- resources

  async applyResources(resources: AnyResource[]): Promise<void> {
    await this.#changeResources(resources, "apply");
  }

  async deleteResources(resources: AnyResource[]): Promise<void> {
    await this.#changeResources(resources, "delete");
  }

  async #changeResources(list: AnyResource[], how: "apply" | "delete"): Promise<void> {
    const w = this.#world();
    const before = w.resources.snapshot();
    const change = how === "apply" ? w.resources.apply(list) : w.resources.delete(list);
    try {
      // Policy first: a PolicySet that does not compile rolls the whole change back.
      if (change.policy) this.#applyPolicy();
    } catch (e) {
      w.resources.restore(before);
      throw e;
    }
    if (change.cluster) {
      const view = w.resources.clusterView(w.topology);
      const running = [...w.nodes.values()].filter((s) => s.agent !== undefined && s.state === "up");
      await Promise.all(running.map((s) => s.agent!.updateCluster(view)));
      // Peers may have been added or removed: take the session list from the agents again.
      for (const s of running) this.#resyncSessions(s);
    }
    await this.#settle();
  }

  #resyncSessions(slot: NodeSlot): void {
    const w = this.#world();
    const name = slot.topo.name;
    w.tracker.unregisterHost(name);
    let up = 0;
    for (const s of slot.agent?.sessions() ?? []) {
      w.tracker.register(name, s.peer, w.owners.get(s.peer), s.state, w.engine.now());
      if (s.state === "Established") up++;
    }
    w.established.set(name, up);
  }

  // ------------------------------------------------------------------------------------------- failures

  async fail(target: Target, options: FailOptions = {}): Promise<void> {
    const w = this.#world();
    const t = w.engine.now();
    switch (target.kind) {
      case "link": {
        this.#checkLink(target.element, target.segment);
        w.network.setLinkDown(target.element, target.segment, true);
        w.failed.add(`link:${target.element}@${target.segment}`);
        w.timeline.add({ t, node: target.element, kind: "failure", text: `link ${target.element}@${target.segment} down` });
        break;
      }
      case "node": {
        const slot = w.nodes.get(target.name);
        if (slot === undefined) throw new Error(`fail: no node named ${target.name}`);
        if (slot.state !== "up" || slot.agent === undefined) throw new Error(`fail: node ${target.name} is already ${slot.state}`);
        const how = options.how ?? "crash";
        const agent = slot.agent;
        if (how === "crash") {
          // kill -9 of calico-node: the kernel resets its TCP connections (no NOTIFICATION, so peers
          // keep its routes as stale under graceful restart) and keeps the routes it had installed.
          w.transport.crashHost(target.name, { reset: true });
          slot.dataplane?.detach();
          agent.stop();
          slot.state = "crashed";
        } else {
          // Clean shutdown: Cease to every peer (they flush its routes at once). Calico's BIRD kernel
          // protocol is `persist`, so the node's own routes stay in its kernel and it keeps forwarding.
          slot.dataplane?.detach();
          agent.stop();
          slot.state = "stopped";
        }
        slot.agent = undefined;
        slot.dataplane = undefined;
        w.tracker.unregisterHost(target.name);
        w.established.set(target.name, 0);
        w.failed.add(`node:${target.name}`);
        w.timeline.add({ t, node: target.name, kind: "failure", text: how === "crash" ? `node ${target.name}: calico-node killed (kill -9)` : `node ${target.name}: calico-node stopped` });
        break;
      }
      case "router": {
        const slot = w.routers.get(target.name);
        if (slot === undefined) throw new Error(`fail: no router named ${target.name}`);
        if (!slot.up) throw new Error(`fail: router ${target.name} is already down`);
        // Power loss: no RST, no NOTIFICATION; peers notice when their hold timers run out.
        w.network.setHostDown(target.name, true);
        if (slot.speaker !== undefined) {
          w.transport.crashHost(target.name, { reset: false });
          slot.sink?.detach();
          slot.speaker.stop();
          // The FIB is gone with the power; static and connected routes come back with the config.
          const bgp = w.network.routes(target.name).filter((r) => r.source === "bgp");
          if (bgp.length > 0) w.network.routeSink(target.name).apply({ add: [], remove: bgp.map((r) => parsePrefixText(r.prefix)) });
          w.tracker.unregisterHost(target.name);
          w.established.set(target.name, 0);
        }
        slot.speaker = undefined;
        slot.sink = undefined;
        slot.up = false;
        w.failed.add(`router:${target.name}`);
        w.timeline.add({ t, node: target.name, kind: "failure", text: `router ${target.name} down` });
        break;
      }
    }
    this.#worldChanged();
    await this.#settle();
  }

  async restore(target: Target): Promise<void> {
    const w = this.#world();
    const t = w.engine.now();
    switch (target.kind) {
      case "link": {
        this.#checkLink(target.element, target.segment);
        w.network.setLinkDown(target.element, target.segment, false);
        w.failed.delete(`link:${target.element}@${target.segment}`);
        w.timeline.add({ t, node: target.element, kind: "restore", text: `link ${target.element}@${target.segment} up` });
        break;
      }
      case "node": {
        const slot = w.nodes.get(target.name);
        if (slot === undefined) throw new Error(`restore: no node named ${target.name}`);
        if (slot.state === "up") throw new Error(`restore: node ${target.name} is running`);
        const crashed = slot.state === "crashed";
        if (crashed) w.transport.reviveHost(target.name);
        // A new calico-node: after a crash it restarts gracefully (R bit, End-of-RIB once its blocks
        // are read back from IPAM); after a clean stop it starts afresh.
        const agent = this.#newAgent(slot, w.resources.clusterView(w.topology), crashed);
        await agent.start();
        const mine = [...w.pods.values()].filter((p) => p.spec.node === target.name);
        // Felix finds its pods again (same IPAM handles, so the same addresses).
        await Promise.all(mine.map((p) => agent.addPod({ name: p.spec.name, namespace: p.spec.namespace, labels: p.spec.labels })));
        w.prune.add(target.name);
        w.failed.delete(`node:${target.name}`);
        this.#applyPolicy();
        w.timeline.add({ t, node: target.name, kind: "restore", text: `node ${target.name}: calico-node started${crashed ? " (graceful restart)" : ""}` });
        break;
      }
      case "router": {
        const slot = w.routers.get(target.name);
        if (slot === undefined) throw new Error(`restore: no router named ${target.name}`);
        if (slot.up) throw new Error(`restore: router ${target.name} is up`);
        w.network.setHostDown(target.name, false);
        if (slot.topo.bgp) {
          w.transport.reviveHost(target.name);
          this.#startRouter(slot);
        }
        slot.up = true;
        w.failed.delete(`router:${target.name}`);
        w.timeline.add({ t, node: target.name, kind: "restore", text: `router ${target.name} up` });
        break;
      }
    }
    this.#worldChanged();
    await this.#settle();
  }

  #checkLink(element: string, segment: string): void {
    const w = this.#world();
    const ok = w.topology.nodes.some((n) => n.name === element && n.segment === segment) || w.topology.routers.some((r) => r.name === element && r.interfaces.some((i) => i.segment === segment));
    if (!ok) throw new Error(`no link ${element}@${segment}: ${element} is not attached to segment ${segment}`);
  }

  // ------------------------------------------------------------------------------------------- observations

  async sessions(): Promise<SessionObservation[]> {
    const w = this.#world();
    const out: SessionObservation[] = [];
    for (const s of w.nodes.values()) {
      if (s.agent === undefined || s.state !== "up") continue;
      for (const x of s.agent.sessions()) {
        const peerName = x.peerNode ?? w.owners.get(x.peer);
        out.push({ node: s.topo.name, peer: x.peer, ...(peerName !== undefined ? { peerName } : {}), state: x.state, type: x.type, prefixesReceived: x.prefixesReceived, prefixesSent: x.prefixesSent });
      }
    }
    for (const r of w.routers.values()) {
      if (r.speaker === undefined) continue;
      for (const p of r.speaker.peers()) {
        const peerName = w.owners.get(p.address);
        out.push({
          node: r.topo.name,
          peer: p.address,
          ...(peerName !== undefined ? { peerName } : {}),
          state: p.state,
          type: p.asNumber === r.speaker.asNumber ? "iBGP" : "eBGP",
          prefixesReceived: p.prefixesReceived,
          prefixesSent: p.prefixesSent,
        });
      }
    }
    return out.sort((a, b) => cmp(a.node, b.node) || compareAddressText(a.peer, b.peer));
  }

  async routes(node?: string): Promise<RouteObservation[]> {
    const w = this.#world();
    if (node !== undefined) {
      if (!w.nodes.has(node) && !w.routers.has(node)) throw new Error(`routes: no node or router named ${node}`);
      return w.network.routes(node);
    }
    return w.network.hostNames().flatMap((h) => w.network.routes(h));
  }

  async sample(): Promise<SampleCounts> {
    const w = this.#world();
    const perNode: Record<string, { sessions: number; routes: number }> = {};
    let sessions = 0;
    let routes = 0;
    for (const h of w.network.hostNames()) {
      const s = w.established.get(h) ?? 0;
      const r = w.network.routeCount(h);
      sessions += s;
      routes += r;
      perNode[h] = { sessions: s, routes: r };
    }
    return { sessionsEstablished: sessions, routes, perNode };
  }

  async probe(spec: ProbeSpec): Promise<ProbeResult> {
    const w = this.#world();
    // Families: the destination's first address decides, unless the source has none of that family.
    const first = this.#resolve(spec.to, "to", undefined);
    const src = this.#resolve(spec.from, "from", first.address.includes(":") ? 6 : 4);
    const dst = this.#resolve(spec.to, "to", src.address.includes(":") ? 6 : 4);
    const size = spec.size ?? (spec.protocol === "icmp" ? 64 : 100);
    const df = spec.df ?? spec.protocol === "tcp";
    const r = w.network.trace({
      fromHost: src.host,
      src: src.address,
      dst: dst.address,
      protocol: spec.protocol,
      ...(spec.protocol !== "icmp" ? { srcPort: PROBE_SRC_PORT } : {}),
      ...(spec.port !== undefined ? { dstPort: spec.port } : {}),
      size,
      df,
    });
    const result: ProbeResult = {
      outcome: r.outcome,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      ...(r.dropKind !== undefined ? { dropKind: r.dropKind } : {}),
      hops: r.hops,
      ...(r.pathMtu !== undefined ? { pathMtu: r.pathMtu } : {}),
      encap: r.encap,
    };
    const what = `${spec.protocol}${spec.port !== undefined ? `/${spec.port}` : ""} ${endpointText(spec.from)} -> ${endpointText(spec.to)}`;
    w.timeline.add({ t: w.engine.now(), node: src.host, kind: "probe", text: `probe ${what}: ${r.outcome}${r.reason ? ` (${r.reason})` : ""}` });
    return result;
  }

  /** A probe end as (host it starts on, address), preferring `family` when the end has both. */
  #resolve(e: Endpoint, side: "from" | "to", family: 4 | 6 | undefined): { host: string; address: string } {
    const w = this.#world();
    if ("pod" in e) {
      const key = e.pod.includes("/") ? e.pod : `default/${e.pod}`;
      const p = w.pods.get(key);
      if (p === undefined) throw new Error(`probe ${side}: no pod ${key}`);
      const ips = p.info.ips;
      const ip = ips.find((a) => family === undefined || a.includes(":") === (family === 6)) ?? ips[0];
      if (ip === undefined) throw new Error(`probe ${side}: pod ${key} has no address`);
      return { host: p.spec.node, address: ip };
    }
    if ("node" in e) {
      if (!w.nodes.has(e.node) && !w.routers.has(e.node)) throw new Error(`probe ${side}: no node or router named ${e.node}`);
      const a = (family !== undefined ? w.network.address(e.node, family) : undefined) ?? w.network.address(e.node, 4) ?? w.network.address(e.node, 6);
      if (a === undefined) throw new Error(`probe ${side}: ${e.node} has no address`);
      return { host: e.node, address: a };
    }
    let address: string;
    try {
      address = canonical(e.address);
    } catch {
      throw new Error(`probe ${side}: "${e.address}" is not an IP address`);
    }
    if (side === "to") return { host: w.owners.get(address) ?? "", address };
    const owner = w.owners.get(address) ?? w.network.hostOf(address) ?? [...w.pods.values()].find((p) => p.info.ips.includes(address))?.spec.node;
    if (owner === undefined) throw new Error(`probe from ${address}: no node, router or pod has that address`);
    return { host: owner, address };
  }

  async ipam(): Promise<IpamObservation> {
    const w = this.#world();
    return ipamObservation(w.ipam, w.datastore, { pods: [...w.pods.values()].map((p) => p.spec), nodes: w.topology.nodes.map((n) => n.name) });
  }

  async counters(): Promise<Counters> {
    const w = this.#world();
    const s = w.transport.totals;
    return {
      bgpMessages: { total: s.messages, open: s.open, update: s.update, keepalive: s.keepalive, notification: s.notification, routeRefresh: s.routeRefresh },
      bgpBytes: s.bytes,
      events: w.engine.stats.processed,
    };
  }

  timeline(): TimelineEvent[] {
    return this.#w?.timeline.list() ?? [];
  }

  // ------------------------------------------------------------------------------------------- for tests and benches

  /** The engine, network and transport of the running world (read-only use: figures, white-box tests). */
  get internals(): { engine: SimEngine; network: SimNetwork; transport: SimTransportNetwork; datastore: MemoryDatastore; agents: ReadonlyMap<string, NodeAgent> } {
    const w = this.#world();
    const agents = new Map<string, NodeAgent>();
    for (const [k, s] of w.nodes) if (s.agent) agents.set(k, s.agent);
    return { engine: w.engine, network: w.network, transport: w.transport, datastore: w.datastore, agents };
  }
}

/** "link:element@segment" for a link's endpoints, whichever order they were written in. */
function linkKey(t: Topology, [a, b]: [string, string]): string {
  return t.segments.some((s) => s.name === a) ? `link:${b}@${a}` : `link:${a}@${b}`;
}

function endpointText(e: Endpoint): string {
  return "pod" in e ? e.pod : "node" in e ? e.node : e.address;
}

function overhead(type: "ipip" | "vxlan"): number {
  return type === "ipip" ? 20 : 50;
}

function parsePrefixText(text: string) {
  const [a, len] = text.split("/");
  const ip = parseIP(a!);
  return { family: ip.family, addr: ip.value, len: Number(len) };
}

/** The MTU of a node's attachment (link override, else its segment's). */
function attachmentMtu(t: Topology, n: TopologyNode): number {
  const link = t.links.find((l) => (l.endpoints[0] === n.name && l.endpoints[1] === n.segment) || (l.endpoints[1] === n.name && l.endpoints[0] === n.segment));
  return link?.mtu ?? t.segments.find((s) => s.name === n.segment)?.mtu ?? 1500;
}

/**
 * 3 × the longest one-way path a packet can take (every segment crossed once, each crossing paying
 * the sender's and receiver's attachment latency) + 5 ms; at least 1 s if any link loses packets.
 */
export function defaultQuiet(t: Topology): number {
  const lat = new Map<string, number>();
  for (const s of t.segments) lat.set(s.name, s.latencyMs);
  let maxAttach = Math.max(0, ...t.segments.map((s) => s.latencyMs));
  let lossy = t.segments.some((s) => s.loss > 0);
  for (const l of t.links) {
    if (l.latencyMs !== undefined) maxAttach = Math.max(maxAttach, l.latencyMs);
    if ((l.loss ?? 0) > 0) lossy = true;
  }
  const path = 2 * maxAttach * Math.max(1, t.segments.length);
  const quiet = Math.ceil(3 * path + 5);
  return lossy ? Math.max(quiet, 1000) : quiet;
}
