// The simulated network's state: hosts (nodes and routers) with interfaces on L2 segments, each host
// with its FIB, tunnel devices, pods and policy. Built once from a loaded Topology; forwarding
// (forward.ts) walks it, SimDataplane and the BGP route sinks change it.
import { buildGraph } from "../../src/topology/graph.ts";
import type { Topology } from "../../src/topology/model.ts";
import { parseIP, parsePrefix, type Family, type IPAddress, type Prefix } from "../../src/core/net/ip.ts";
import type { TunnelDevice, WorkloadInterface } from "../../src/core/agent/dataplane.ts";
import type { PolicySet } from "../../src/core/policy/policy-set.ts";
import { EntryInterner, Fib } from "./fib.ts";

/** An address as a map key: IPv4 as a number, IPv6 as a bigint (they never compare equal). */
export type AddrKey = number | bigint;
export const addrKey = (a: IPAddress): AddrKey => (a.family === 4 ? Number(a.value) : a.value);

export interface IfaceAddress {
  readonly addr: IPAddress;
  readonly subnet: Prefix;
}

export interface Iface {
  readonly host: Host;
  readonly segment: SegmentState;
  /** attachmentKey: "element@segment". */
  readonly key: string;
  readonly v4?: IfaceAddress;
  readonly v6?: IfaceAddress;
  readonly mtu: number;
  readonly latencyMs: number;
  readonly loss: number;
  readonly bandwidthMbps?: number;
  down: boolean;
}

export interface SegmentState {
  readonly name: string;
  readonly ifaces: Iface[];
  /** Interface addresses on the segment (what ARP / neighbour discovery would resolve). */
  readonly byAddr: Map<AddrKey, Iface>;
}

export interface Host {
  readonly name: string;
  readonly kind: "node" | "router";
  readonly ifaces: Iface[];
  readonly fib: Fib;
  down: boolean;
  /** Addresses the host itself answers to (interfaces, tunnel devices), with what they are. */
  readonly local: Map<AddrKey, string>;
  readonly tunnels: Map<"ipip" | "vxlan", TunnelDevice>;
  readonly workloads: Map<string, WorkloadInterface>;
  readonly workloadByDevice: Map<string, WorkloadInterface>;
  readonly workloadByAddr: Map<AddrKey, WorkloadInterface>;
  policy?: PolicySet;
  /** The node address (first interface address for a router), source of tunnelled packets. */
  primary4?: IPAddress;
  primary6?: IPAddress;
}

export const describeHost = (h: Host): string => (h.kind === "router" ? `router ${h.name}` : h.name);

/** Everything the forwarding walk and the dataplanes share. */
export class NetState {
  readonly hosts = new Map<string, Host>();
  readonly segments = new Map<string, SegmentState>();
  readonly ifaceByKey = new Map<string, Iface>();
  /** Tunnel addresses → the host owning them (the VTEP / IPIP endpoint to send to). */
  readonly tunnelOwner = new Map<AddrKey, Host>();
  /** Every interface and tunnel address → its host. */
  readonly addrOwner = new Map<AddrKey, Host>();
  readonly interner = new EntryInterner();
  /** IP pools: what natOutgoing masquerades (pools with natOutgoing) and what it leaves alone (any pool). */
  pools: { prefix: Prefix; natOutgoing: boolean }[] = [];
  /** Bumped when link or host state, local addresses or pods change (FIB changes have their own counters). */
  stateGen = 0;
  /** Bumped on every change that may move a path: FIB batches and everything stateGen counts. */
  version = 0;

  constructor(topology: Topology) {
    const graph = buildGraph(topology);
    this.setPools(topology.cluster.ipPools.map((p) => ({ cidr: p.spec.cidr, natOutgoing: p.spec.natOutgoing === true && p.spec.disabled !== true })));
    for (const s of topology.segments) this.segments.set(s.name, { name: s.name, ifaces: [], byAddr: new Map() });
    const newHost = (name: string, kind: "node" | "router"): Host => {
      const h: Host = {
        name,
        kind,
        ifaces: [],
        fib: new Fib(this.interner),
        down: false,
        local: new Map(),
        tunnels: new Map(),
        workloads: new Map(),
        workloadByDevice: new Map(),
        workloadByAddr: new Map(),
      };
      this.hosts.set(name, h);
      return h;
    };
    for (const r of topology.routers) newHost(r.name, "router");
    for (const n of topology.nodes) newHost(n.name, "node");

    graph.forEachEdge((key, a) => {
      const host = this.hosts.get(a.element);
      const segment = this.segments.get(a.segment);
      if (host === undefined || segment === undefined) return;
      const ifa = (text: string | undefined): IfaceAddress | undefined => {
        if (text === undefined) return undefined;
        const slash = text.indexOf("/");
        return { addr: parseIP(slash < 0 ? text : text.slice(0, slash)), subnet: parsePrefix(text, { strict: false }) };
      };
      const v4 = ifa(a.address);
      const v6 = ifa(a.addressV6);
      const iface: Iface = {
        host,
        segment,
        key,
        ...(v4 ? { v4 } : {}),
        ...(v6 ? { v6 } : {}),
        mtu: a.mtu,
        latencyMs: a.latencyMs,
        loss: a.loss,
        ...(a.bandwidthMbps !== undefined ? { bandwidthMbps: a.bandwidthMbps } : {}),
        down: a.down,
      };
      host.ifaces.push(iface);
      segment.ifaces.push(iface);
      this.ifaceByKey.set(key, iface);
      for (const x of [v4, v6]) {
        if (x === undefined) continue;
        segment.byAddr.set(addrKey(x.addr), iface);
        host.local.set(addrKey(x.addr), `its address on ${segment.name}`);
        this.addrOwner.set(addrKey(x.addr), host);
        host.fib.set(x.subnet, this.interner.intern({ kind: "unicast", nextHops: [], encap: "none", device: segment.name, owner: "connected", source: "connected" }));
        if (x.addr.family === 4) host.primary4 ??= x.addr;
        else host.primary6 ??= x.addr;
      }
    });

    for (const n of topology.nodes) {
      const h = this.hosts.get(n.name)!;
      // The node address is the primary one whatever order the graph lists attachments in.
      if (n.address !== undefined) h.primary4 = parseIP(n.address.split("/")[0]!);
      if (n.addressV6 !== undefined) h.primary6 = parseIP(n.addressV6.split("/")[0]!);
      if (n.gateway !== undefined) {
        const gw = parseIP(n.gateway);
        h.fib.set(defaultPrefix(gw.family), this.interner.intern({ kind: "unicast", nextHops: [gw], encap: "none", owner: "static", source: "static" }));
      }
    }
    for (const r of topology.routers) {
      const h = this.hosts.get(r.name)!;
      // Static routes to one prefix through several next hops form one multipath (ECMP) route.
      const byPrefix = new Map<string, { prefix: Prefix; hops: IPAddress[] }>();
      for (const s of r.staticRoutes) {
        const prefix = parsePrefix(s.prefix, { strict: false });
        const k = `${prefix.family}/${prefix.addr}/${prefix.len}`;
        const g = byPrefix.get(k) ?? { prefix, hops: [] };
        g.hops.push(parseIP(s.via));
        byPrefix.set(k, g);
      }
      for (const g of byPrefix.values()) h.fib.set(g.prefix, this.interner.intern({ kind: "unicast", nextHops: g.hops, encap: "none", owner: "static", source: "static" }));
    }
  }

  setPools(pools: readonly { cidr: string; natOutgoing: boolean }[]): void {
    const parsed: { prefix: Prefix; natOutgoing: boolean }[] = [];
    for (const p of pools) {
      try {
        parsed.push({ prefix: parsePrefix(p.cidr, { strict: false }), natOutgoing: p.natOutgoing });
      } catch {
        // an invalid pool CIDR was reported when the resource was loaded; it masquerades nothing
      }
    }
    this.pools = parsed;
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (h === undefined) throw new Error(`unknown host "${name}" (not a node or router of the topology)`);
    return h;
  }

  iface(element: string, segment: string): Iface {
    const i = this.ifaceByKey.get(`${element}@${segment}`);
    if (i === undefined) throw new Error(`${element} is not attached to segment ${segment}`);
    return i;
  }
}

export const defaultPrefix = (family: Family): Prefix => ({ family, addr: 0n, len: 0 });
