// The simulated network: the topology's nodes and routers with their interfaces, FIBs, tunnels, pods
// and policy, and the questions the rest of the simulator asks of it — the dataplane of a node, the
// route sink of a BGP router, link and host failures, host-to-host paths for the simulated TCP, and
// explained probes (traceroute) for scenarios.
import { comparePrefixes, formatAddress, formatPrefix, parseIP, type IPAddress } from "../../src/core/net/ip.ts";
import type { RouteSink } from "../../src/core/bgp/ports.ts";
import type { ProbeResult, RouteObservation } from "../../src/scenario/backend.ts";
import type { Topology } from "../../src/topology/model.ts";
import type { SimEngine } from "../engine.ts";
import type { RandomStream } from "../random.ts";
import { SimDataplane, SimRouteSink } from "./dataplane.ts";
import { directPath, directWalk, walk, type DirectPath, type LinkRef, type PacketHook, type PacketInfo, type WalkResult } from "./forward.ts";
import { addrKey, NetState, type Host } from "./hosts.ts";

export type { LinkRef, PacketHook, PacketInfo } from "./forward.ts";

export interface TraceSpec {
  /** The node or router the packet starts on (the source pod's node for a pod). */
  fromHost: string;
  src: string;
  dst: string;
  protocol: "tcp" | "udp" | "icmp";
  srcPort?: number;
  dstPort?: number;
  /** IP packet size in bytes. */
  size: number;
  df: boolean;
  /** Draw link loss from the engine's "probe-loss" stream (default true); false ignores loss. */
  loss?: boolean;
}

export interface TraceResult extends ProbeResult {
  /** Most pieces the packet was in at once (1 = not fragmented). */
  fragments: number;
  /** One-way latency of the links crossed. */
  latencyMs: number;
  /** "pod ns/name" or "host name" when delivered. */
  deliveredTo?: string;
}

export type UnderlayResult = DirectPath | { ok: false; at: string; reason: string; kind: string };

/**
 * A walked host path, kept small (there is one per connection direction: a million in a 1,000-node
 * mesh): the answer for packets up to the path MTU, made once, and what else a bigger or dropped
 * packet needs.
 */
interface CacheEntry {
  stateGen: number;
  hosts: Host[];
  gens: number[];
  /** The answer when the packet fits (undefined: the walk dropped it). */
  ok: UnderlayResult | undefined;
  pathMtu: number | undefined;
  pathMtuAt: string | undefined;
  drop: UnderlayResult | undefined;
}

export class SimNetwork {
  readonly #net: NetState;
  readonly #engine: SimEngine;
  readonly #dataplanes = new Map<string, SimDataplane>();
  readonly #sinks = new Map<string, SimRouteSink>();
  readonly #paths = new Map<string, CacheEntry>();
  readonly #ips = new Map<string, IPAddress>();
  #probeLoss: RandomStream | undefined;
  /** Called for every data packet a trace puts on a link (both attachments of each segment crossed). */
  onPacket?: PacketHook;

  constructor(topology: Topology, engine: SimEngine) {
    this.#net = new NetState(topology);
    this.#engine = engine;
  }

  /**
   * The cluster's IP pools as natOutgoing sees them (set from the topology at start; call again when
   * pools change). `natOutgoing` should be false for disabled pools.
   */
  setPools(pools: readonly { cidr: string; natOutgoing: boolean }[]): void {
    this.#net.setPools(pools);
  }

  /** Every attachment (element@segment) with its MTU and state, sorted by element then segment. */
  attachments(): { element: string; segment: string; mtu: number; down: boolean }[] {
    return [...this.#net.ifaceByKey.values()]
      .map((i) => ({ element: i.host.name, segment: i.segment.name, mtu: i.mtu, down: i.down }))
      .sort((a, b) => (a.element < b.element ? -1 : a.element > b.element ? 1 : a.segment < b.segment ? -1 : a.segment > b.segment ? 1 : 0));
  }

  /** Node and router names, sorted. */
  hostNames(): string[] {
    return [...this.#net.hosts.keys()].sort();
  }

  /** The node's address (a router's first interface address) of a family. */
  address(host: string, family: 4 | 6 = 4): string | undefined {
    const h = this.#net.host(host);
    const a = family === 4 ? h.primary4 : h.primary6;
    return a === undefined ? undefined : formatAddress(a);
  }

  /** A number that changes whenever any path may have changed (route batches, links, hosts, addresses). */
  version(): number {
    return this.#net.version;
  }

  /** The host that owns an interface or tunnel address, if any. */
  hostOf(address: string): string | undefined {
    return this.#net.addrOwner.get(addrKey(this.#ip(address)))?.name;
  }

  /** The Dataplane a node's agent programs (one per node, created on first use). */
  dataplane(node: string): SimDataplane {
    let dp = this.#dataplanes.get(node);
    if (dp === undefined) {
      const h = this.#net.host(node);
      if (h.kind !== "node") throw new Error(`${node} is a router, not a node: routers take BGP routes through routeSink()`);
      dp = new SimDataplane(this.#net, h);
      this.#dataplanes.set(node, dp);
    }
    return dp;
  }

  /** Where a router's (or node's) BGP speaker puts its best paths: native routes owned by "bgp". */
  routeSink(host: string): RouteSink {
    let s = this.#sinks.get(host);
    if (s === undefined) {
      s = new SimRouteSink(this.#net, this.#net.host(host));
      this.#sinks.set(host, s);
    }
    return s;
  }

  setLinkDown(element: string, segment: string, down: boolean): void {
    const i = this.#net.iface(element, segment);
    if (i.down !== down) {
      i.down = down;
      this.#net.stateGen++;
      this.#net.version++;
    }
  }

  isLinkDown(element: string, segment: string): boolean {
    return this.#net.iface(element, segment).down;
  }

  setHostDown(name: string, down: boolean): void {
    const h = this.#net.host(name);
    if (h.down !== down) {
      h.down = down;
      this.#net.stateGen++;
      this.#net.version++;
    }
  }

  isHostDown(name: string): boolean {
    return this.#net.host(name).down;
  }

  /**
   * The path a host's own packet from `src` to `dst` takes through the FIBs (no policy: BGP's port
   * 179 is in Calico's failsafe list anyway). Cached per (host, src, dst) until a FIB on the path,
   * a link, a host or a local address changes. `memo: false` for a caller that keeps paths itself
   * (the simulator backend: one entry per connection direction would be kept twice).
   */
  underlayPath(fromHost: string, src: string, dst: string, sizeBytes: number, opts: { memo?: boolean } = {}): UnderlayResult {
    const memo = opts.memo !== false;
    let direct = true;
    if (!memo) {
      // Kept by nobody here: the one-segment case's answer without a walk result or cache entry.
      const p = directPath(this.#net.host(fromHost), this.#ip(src), this.#ip(dst));
      if (p !== undefined && (p.mtu === undefined || sizeBytes <= p.mtu)) return p;
      direct = p !== undefined; // (too big: the general case below says where it drops)
    }
    const key = `${fromHost}\u0000${src}\u0000${dst}`;
    let c = memo ? this.#paths.get(key) : undefined;
    if (c === undefined || !this.#fresh(c)) {
      const from = this.#net.host(fromHost);
      const s = this.#ip(src);
      const d = this.#ip(dst);
      const r = (direct ? directWalk(from, s, d) : undefined) ?? walk(this.#net, { from, src: s, dst: d, protocol: "tcp", size: 0, df: true }, { explain: false, policy: false });
      const dropped = r.outcome === "dropped";
      c = {
        stateGen: this.#net.stateGen,
        hosts: r.visited,
        gens: r.visited.map((h) => h.fib.gen),
        ok: dropped
          ? undefined
          : {
              ok: true,
              latencyMs: r.latencyMs,
              loss: r.lossProbability,
              links: r.links,
              ...(r.pathMtu !== undefined ? { mtu: r.pathMtu } : {}),
              ...(r.bandwidthMbps !== undefined ? { bandwidthMbps: r.bandwidthMbps } : {}),
            },
        pathMtu: r.pathMtu,
        pathMtuAt: r.pathMtuAt,
        drop: dropped ? { ok: false, at: r.at ?? fromHost, reason: r.reason ?? "dropped", kind: r.dropKind ?? "unknown" } : undefined,
      };
      if (memo) this.#paths.set(key, c);
    }
    if (c.ok === undefined) return c.drop as UnderlayResult;
    if (c.pathMtu !== undefined && sizeBytes > c.pathMtu) {
      const at = c.pathMtuAt ?? fromHost;
      return { ok: false, at, reason: `dropped at ${this.#describe(at)}: packet of ${sizeBytes} bytes exceeds the path MTU ${c.pathMtu}`, kind: "mtu" };
    }
    // Shared by every caller: treat as read-only.
    return c.ok;
  }

  /** Sends a packet record to the capture hook on each of the links (for the transport's segments). */
  capture(links: readonly LinkRef[], packet: PacketInfo): void {
    if (this.onPacket === undefined) return;
    for (const l of links) this.onPacket(l, packet);
  }

  /** One probe packet, explained hop by hop. Throws on an unknown host or a malformed address. */
  trace(spec: TraceSpec): TraceResult {
    const from = this.#net.host(spec.fromHost);
    const src = parseIP(spec.src);
    const dst = parseIP(spec.dst);
    if (!Number.isInteger(spec.size) || spec.size < (src.family === 4 ? 20 : 40) || spec.size > 65535) {
      throw new Error(`probe size ${spec.size} is not an IP packet size (${src.family === 4 ? 20 : 40}-65535)`);
    }
    if ((spec.loss ?? true) && this.#probeLoss === undefined) this.#probeLoss = this.#engine.rng("probe-loss");
    const r = walk(
      this.#net,
      {
        from,
        src,
        dst,
        protocol: spec.protocol,
        ...(spec.srcPort !== undefined ? { srcPort: spec.srcPort } : {}),
        ...(spec.dstPort !== undefined ? { dstPort: spec.dstPort } : {}),
        size: spec.size,
        df: spec.df,
      },
      {
        explain: true,
        policy: true,
        ...(spec.loss ?? true ? { lossRng: this.#probeLoss! } : {}),
        ...(this.onPacket !== undefined ? { onPacket: this.onPacket, startMs: this.#engine.now() } : {}),
      },
    );
    return {
      outcome: r.outcome,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      ...(r.dropKind !== undefined ? { dropKind: r.dropKind } : {}),
      hops: r.hops,
      ...(r.pathMtu !== undefined ? { pathMtu: r.pathMtu } : {}),
      encap: r.encap,
      fragments: r.fragments,
      latencyMs: r.latencyMs,
      ...(r.deliveredTo !== undefined ? { deliveredTo: r.deliveredTo } : {}),
    };
  }

  /** The host's active routes (one per prefix), sorted by prefix. */
  routes(host: string): RouteObservation[] {
    const h = this.#net.host(host);
    const out: { p: import("../../src/core/net/ip.ts").Prefix; r: RouteObservation }[] = [];
    for (const { prefix, entry } of h.fib.entries()) {
      out.push({
        p: prefix,
        r: {
          node: host,
          prefix: formatPrefix(prefix),
          kind: entry.kind,
          nextHops: entry.nextHops.map((a: IPAddress) => formatAddress(a)),
          encap: entry.encap,
          source: entry.source,
        },
      });
    }
    return out.sort((a, b) => comparePrefixes(a.p, b.p)).map((x) => x.r);
  }

  /** Routes held by the host (all owners), for figures. */
  routeCount(host: string): number {
    return this.#net.host(host).fib.size;
  }

  /**
   * parseIP through a memo: it validates with several regular expressions and builds a bigint, and
   * every new connection asks for its two addresses (a million times in a 1,000-node mesh, most of
   * the simulator's allocation there). Node and router addresses are few; the memo is dropped
   * whenever it gets large, so pods coming and going cannot grow it without bound.
   */
  #ip(text: string): IPAddress {
    let a = this.#ips.get(text);
    if (a === undefined) {
      a = parseIP(text);
      if (this.#ips.size >= 65536) this.#ips.clear();
      this.#ips.set(text, a);
    }
    return a;
  }

  #fresh(c: CacheEntry): boolean {
    if (c.stateGen !== this.#net.stateGen) return false;
    for (let i = 0; i < c.hosts.length; i++) if (c.hosts[i]!.fib.gen !== c.gens[i]) return false;
    return true;
  }

  #describe(name: string): string {
    const h = this.#net.hosts.get(name);
    return h?.kind === "router" ? `router ${name}` : name;
  }
}
