// Node agents on one ManualClock, one LoopbackNetwork and one MemoryDatastore, each with a
// MemoryDataplane: a small cluster whose decisions (routes, encapsulation, sessions) tests read.
import { LoopbackNetwork } from "../../../src/core/bgp/loopback.ts";
import { ManualClock } from "../../../src/core/bgp/manual-clock.ts";
import { MemoryDatastore } from "../../../src/core/datastore/memory.ts";
import { MemoryDataplane, NodeAgent, type ClusterNode, type ClusterView, type NodeAgentConfig } from "../../../src/core/agent/index.ts";

export interface LabNode {
  agent: NodeAgent;
  dataplane: MemoryDataplane;
  logs: string[];
  /** "peer from->to" for every session state change. */
  states: string[];
}

export class ClusterLab {
  clock = new ManualClock();
  net = new LoopbackNetwork(this.clock, 1);
  store = new MemoryDatastore();
  nodes = new Map<string, LabNode>();

  constructor(public view: ClusterView, private readonly extra: Partial<NodeAgentConfig> = {}) {}

  /** An agent for every node of the view (not started). */
  build(): this {
    for (const n of this.view.nodes) this.add(n);
    return this;
  }

  add(n: ClusterNode, extra: Partial<NodeAgentConfig> = {}): LabNode {
    const dataplane = new MemoryDataplane();
    const logs: string[] = [];
    const states: string[] = [];
    const host = (n.address ?? n.addressV6)!.split("/")[0]!;
    const agent = new NodeAgent(
      {
        name: n.name,
        ...(n.address ? { address: n.address } : {}),
        ...(n.addressV6 ? { addressV6: n.addressV6 } : {}),
        ...(n.asNumber !== undefined ? { asNumber: n.asNumber } : {}),
        ...(n.labels ? { labels: n.labels } : {}),
        ...(n.routeReflectorClusterID ? { routeReflectorClusterID: n.routeReflectorClusterID } : {}),
        cluster: this.view,
        ...this.extra,
        ...extra,
      },
      { clock: this.clock, transport: this.net.transport(host), datastore: this.store, dataplane, log: (l) => logs.push(l), onPeerState: (p, f, t) => states.push(`${p} ${f}->${t}`) },
    );
    const node = { agent, dataplane, logs, states };
    this.nodes.set(n.name, node);
    return node;
  }

  node(name: string): LabNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  async startAll(): Promise<void> {
    for (const n of this.nodes.values()) await n.agent.start();
  }

  /** Lets virtual time pass in 100 ms steps, settling the agents' async work between steps. */
  async run(seconds: number): Promise<void> {
    for (let i = 0; i < seconds * 10; i++) {
      this.clock.advance(100);
      for (const n of this.nodes.values()) await n.agent.idle();
    }
  }

  /** "prefix kind encap via" lines of one node's table, for readable assertions. */
  table(name: string): string[] {
    return this.node(name).dataplane.routesText().map((r) => [r.prefix, r.kind, r.encap, r.nextHops.join(",") || r.device || ""].join(" ").trim());
  }

  established(): boolean {
    return [...this.nodes.values()].every((n) => n.agent.sessions().every((s) => s.state === "Established"));
  }
}

export const pool = (cidr: string, spec: Record<string, unknown> = {}) => ({ metadata: { name: `pool-${cidr}` }, spec: { cidr, ...spec } });
