// A TEST backend for the runner's unit tests: a scripted toy world, not a simulator. Sessions come
// up a fixed time after start/restore, routes to every node's pod block follow, probes are decided
// by a table the test gives. It is deterministic and small so the runner's own behaviour (step
// order, sampling, waits, errors, result shape) can be checked exactly. The real thing is sim/backend.
import type {
  Backend,
  BackendMode,
  ConvergenceResult,
  Counters,
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
} from "../../src/scenario/backend.ts";
import type { AnyResource } from "../../src/core/model/resources.ts";
import type { Topology } from "../../src/topology/model.ts";
import { bgpPeerings } from "../../src/topology/peerings.ts";

export interface ScriptOptions {
  /** ms after start/restore until a node's sessions are Established (default 1200). */
  sessionDelay?: number;
  /** ms after a change until routes settle (default 300). */
  routeDelay?: number;
  /** Never converge (a flapping world). */
  neverConverges?: boolean;
  /** Method names that throw when called. */
  throwIn?: string[];
  /** Allowed flows by "from -> to:port" (pods as ns/name); anything else between pods is denied by "policy". */
  allow?: (from: string, to: string, port: number | undefined) => boolean;
  /** Provide the optional sample() method. */
  withSample?: boolean;
  /** The mode it reports (default "sim"): a test backend may stand in for either world. */
  mode?: BackendMode;
}

const endpointName = (e: ProbeSpec["from"]): string => ("pod" in e ? e.pod : "node" in e ? e.node : e.address);

export class ScriptedTestBackend implements Backend {
  readonly mode: BackendMode;
  private t = 0;
  private topology!: Topology;
  private readonly upAt = new Map<string, number>();
  private readonly down = new Set<string>();
  private readonly blocks = new Map<string, string>();
  private readonly podList: PodInfo[] = [];
  /** Time of the last routing change (the convergence point when it is not in the future). */
  private settleAt = 0;
  private readonly events: TimelineEvent[] = [];
  private updates = 0;
  readonly calls: string[] = [];
  stopped = 0;
  sample?: () => Promise<SampleCounts>;

  constructor(private readonly opts: ScriptOptions = {}) {
    this.mode = opts.mode ?? "sim";
    if (opts.withSample) {
      this.sample = async () => {
        this.call("sample");
        const s = await this.sessions();
        const r = await this.routes();
        // Pairs of speakers, as the contract counts them: each session is listed from both ends here.
        return { sessionsEstablished: s.filter((x) => x.state === "Established").length / 2, routes: r.length };
      };
    }
  }

  private call(name: string): void {
    this.calls.push(name);
    if (this.opts.throwIn?.includes(name)) throw new Error(`${name} failed on purpose (test)`);
  }
  private get sessionDelay() {
    return this.opts.sessionDelay ?? 1200;
  }
  private get routeDelay() {
    return this.opts.routeDelay ?? 300;
  }
  private change(text: string, node?: string, settle = this.t + this.routeDelay): void {
    this.settleAt = Math.max(this.settleAt, settle);
    this.updates += 1;
    this.events.push({ t: this.t, kind: "route", text, ...(node ? { node } : {}) });
  }

  async start(topology: Topology): Promise<void> {
    this.call("start");
    this.topology = topology;
    for (const n of topology.nodes) this.upAt.set(n.name, this.sessionDelay);
    this.settleAt = this.sessionDelay + this.routeDelay;
    this.events.push({ t: 0, kind: "note", text: "started" });
  }
  now(): number {
    return this.t;
  }
  async createPods(pods: PodSpec[]): Promise<PodInfo[]> {
    this.call("createPods");
    const out: PodInfo[] = [];
    for (const p of pods) {
      const idx = this.topology.nodes.findIndex((n) => n.name === p.node);
      if (!this.blocks.has(p.node)) {
        this.blocks.set(p.node, `10.1.${idx}.0/26`);
        this.change(`block 10.1.${idx}.0/26 for ${p.node}`, p.node);
      }
      const info = { name: p.name, namespace: p.namespace, node: p.node, ips: [`10.1.${idx}.${this.podList.filter((x) => x.node === p.node).length + 1}`], mtu: 1480 };
      this.podList.push(info);
      out.push(info);
    }
    return out;
  }
  async deletePods(pods: { name: string; namespace: string }[]): Promise<void> {
    this.call("deletePods");
    for (const p of pods) {
      const i = this.podList.findIndex((x) => x.name === p.name && x.namespace === p.namespace);
      if (i >= 0) this.podList.splice(i, 1);
    }
  }
  async applyResources(_r: AnyResource[]): Promise<void> {
    this.call("applyResources");
  }
  async deleteResources(_r: AnyResource[]): Promise<void> {
    this.call("deleteResources");
  }
  private nodeOf(t: Target): string {
    return t.kind === "link" ? t.element : t.name;
  }
  async fail(target: Target, _o?: FailOptions): Promise<void> {
    this.call("fail");
    const n = this.nodeOf(target);
    this.down.add(n);
    this.events.push({ t: this.t, kind: "failure", text: `${n} down`, node: n });
    this.change(`routes via ${n} withdrawn`, n, this.t + 800);
  }
  async restore(target: Target): Promise<void> {
    this.call("restore");
    const n = this.nodeOf(target);
    this.down.delete(n);
    this.upAt.set(n, this.t + this.sessionDelay);
    this.events.push({ t: this.t, kind: "restore", text: `${n} up`, node: n });
    this.change(`routes via ${n} back`, n, this.t + this.sessionDelay + this.routeDelay);
  }
  async advance(ms: number): Promise<void> {
    this.call("advance");
    this.t += ms;
  }
  async waitConverged(timeoutMs: number, since: number): Promise<ConvergenceResult> {
    this.call("waitConverged");
    if (!this.opts.neverConverges && this.settleAt <= this.t + timeoutMs) {
      this.t = Math.max(this.t, this.settleAt);
      return { converged: true, at: this.settleAt, took: Math.max(0, this.settleAt - since) };
    }
    this.t += timeoutMs;
    return { converged: false, at: this.t, took: this.t - since };
  }
  private up(n: string): boolean {
    return !this.down.has(n) && this.t >= (this.upAt.get(n) ?? Infinity);
  }
  async sessions(): Promise<SessionObservation[]> {
    this.call("sessions");
    const addr = new Map(this.topology.nodes.map((n) => [n.name, n.address!.split("/")[0]!]));
    const out: SessionObservation[] = [];
    for (const p of bgpPeerings(this.topology)) {
      const state = this.up(p.a) && this.up(p.b) ? "Established" : "Active";
      out.push({ node: p.a, peer: addr.get(p.b)!, state, type: p.type, prefixesReceived: 0, prefixesSent: 0 });
      out.push({ node: p.b, peer: addr.get(p.a)!, state, type: p.type, prefixesReceived: 0, prefixesSent: 0 });
    }
    return out;
  }
  async routes(node?: string): Promise<RouteObservation[]> {
    this.call("routes");
    const out: RouteObservation[] = [];
    const settled = this.t >= this.settleAt;
    for (const n of this.topology.nodes) {
      if (node !== undefined && n.name !== node) continue;
      if (this.down.has(n.name)) continue;
      for (const [owner, cidr] of this.blocks) {
        if (owner === n.name) out.push({ node: n.name, prefix: cidr, kind: "blackhole", nextHops: [], encap: "none", source: "ipam" });
        else if (settled && this.up(owner) && this.up(n.name)) out.push({ node: n.name, prefix: cidr, kind: "unicast", nextHops: ["192.168.1.1"], encap: "ipip", source: "bgp" });
      }
    }
    return out;
  }
  async pods(): Promise<PodInfo[]> {
    this.call("pods");
    return [...this.podList];
  }
  async probe(spec: ProbeSpec): Promise<ProbeResult> {
    this.call("probe");
    const from = endpointName(spec.from);
    const to = endpointName(spec.to);
    const toNode = this.podList.find((p) => `${p.namespace}/${p.name}` === to)?.node ?? to;
    const fromNode = this.podList.find((p) => `${p.namespace}/${p.name}` === from)?.node ?? from;
    const hops = [{ at: fromNode, action: `sent ${spec.protocol}${spec.port !== undefined ? `/${spec.port}` : ""} to ${to}` }];
    if (this.down.has(toNode)) return { outcome: "dropped", reason: `dropped at ${fromNode}: no route to ${to}`, dropKind: "no-route", hops, encap: "none" };
    if ((spec.size ?? 100) > 1480 && spec.df) return { outcome: "dropped", reason: `dropped at ${fromNode}: ${spec.size} > path MTU 1480 with DF`, dropKind: "mtu", hops, pathMtu: 1480, encap: "ipip" };
    const allow = this.opts.allow ?? (() => true);
    if (!allow(from, to, spec.port)) return { outcome: "dropped", reason: `dropped at ${toNode}: denied by policy`, dropKind: "policy", hops: [...hops, { at: toNode, action: "ingress policy denied" }], encap: "ipip" };
    return { outcome: "delivered", hops: [...hops, { at: toNode, action: `delivered to ${to}` }], pathMtu: 1480, encap: "ipip" };
  }
  async ipam(): Promise<IpamObservation> {
    this.call("ipam");
    const blocks = [...this.blocks].map(([node, cidr]) => ({ cidr, affinity: `host:${node}`, allocated: this.podList.filter((p) => p.node === node).length, size: 64 })).sort((a, b) => (a.cidr < b.cidr ? -1 : 1));
    return { blocks, inUse: this.podList.length, problems: [] };
  }
  async counters(): Promise<Counters> {
    this.call("counters");
    const keepalive = Math.floor(this.t / 1000);
    return { bgpMessages: { total: this.updates + keepalive, open: 0, update: this.updates, keepalive, notification: 0, routeRefresh: 0 }, bgpBytes: this.updates * 50 + keepalive * 19 };
  }
  timeline(): TimelineEvent[] {
    this.call("timeline");
    return [...this.events];
  }
  async stop(): Promise<void> {
    this.call("stop");
    this.stopped++;
  }
}
