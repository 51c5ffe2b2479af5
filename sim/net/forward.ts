// Forwarding one packet hop by hop through the hosts' FIBs: policy at the source pod's egress,
// longest-prefix match and ECMP at each host, IPIP/VXLAN encapsulation when the route says so (the
// outer packet then travels natively and is decapsulated by the host owning its destination), MTU
// checks at each interface (DF: drop and ICMP fragmentation-needed; no DF: fragment), link and host
// state, link loss, TTL, and ingress policy at the destination pod. With `explain` every step is
// written out as a Hop; without it (underlay paths for the simulated TCP) no text is built.
import { formatAddress, formatPrefix, prefixContainsAddress, type IPAddress, type Prefix } from "../../src/core/net/ip.ts";
import { describeDecision } from "../../src/core/policy/explain.ts";
import type { DirectionResult, EndpointRef } from "../../src/core/policy/policy-set.ts";
import type { Hop, ProbeOutcome } from "../../src/scenario/backend.ts";
import type { RandomStream } from "../random.ts";
import { flowHash, pickNextHop, type FibEntry } from "./fib.ts";
import { addrKey, describeHost, type Host, type Iface, type NetState } from "./hosts.ts";

/** An attachment crossed: the element's interface on a segment. */
export interface LinkRef {
  element: string;
  segment: string;
}

/** What a packet capture sees on one link. */
export interface PacketInfo {
  src: string;
  dst: string;
  protocol: string;
  /** Bytes on the wire (with the outer header when encapsulated). */
  size: number;
  encap?: { type: "ipip" | "vxlan"; src: string; dst: string };
  payload?: Uint8Array;
  /** Virtual time the packet is on this attachment: sent (sender's side) or received (receiver's side). */
  timeMs?: number;
}

export type PacketHook = (link: LinkRef, packet: PacketInfo) => void;

export interface WalkInput {
  from: Host;
  src: IPAddress;
  dst: IPAddress;
  protocol: "tcp" | "udp" | "icmp";
  srcPort?: number;
  dstPort?: number;
  size: number;
  df: boolean;
}

export interface WalkOptions {
  explain: boolean;
  /** Apply egress and ingress policy (false for host-to-host underlay traffic). */
  policy: boolean;
  /** Draw each link's loss from this stream; without it loss only adds to `lossProbability`. */
  lossRng?: RandomStream;
  onPacket?: PacketHook;
  /** Virtual time the packet starts at (captures are stamped from it). */
  startMs?: number;
}

export interface WalkResult {
  outcome: ProbeOutcome;
  reason?: string;
  dropKind?: string;
  /** The host where the packet was dropped. */
  at?: string;
  hops: Hop[];
  /** Smallest MTU the (inner) packet met, and where. */
  pathMtu?: number;
  pathMtuAt?: string;
  encap: "none" | "ipip" | "vxlan";
  /** Most pieces the packet was in at once (1 when never fragmented). */
  fragments: number;
  latencyMs: number;
  /** Probability that one packet is lost on the links crossed (independent losses combined). */
  lossProbability: number;
  links: LinkRef[];
  /** Hosts whose FIB was consulted, for cache validation. */
  visited: Host[];
  /** Smallest bandwidth on the path, when any link sets one. */
  bandwidthMbps?: number;
  /** "pod ns/name" or "host name" for a delivered packet. */
  deliveredTo?: string;
}

/** One LinkRef per attachment, shared by every path that crosses it (paths are kept per connection). */
const linkRefs = new WeakMap<Iface, LinkRef>();
function linkRef(i: Iface): LinkRef {
  let r = linkRefs.get(i);
  if (r === undefined) {
    r = { element: i.host.name, segment: i.segment.name };
    linkRefs.set(i, r);
  }
  return r;
}

const TTL = 64;
const MAX_STEPS = 1024;

interface Outer {
  type: "ipip" | "vxlan";
  overhead: number;
  src: IPAddress;
  dst: IPAddress;
  /** Inner piece sizes at encapsulation (the decapsulating host reassembles outer fragments). */
  innerSizes: number[];
}

export function overheadOf(type: "ipip" | "vxlan", family: 4 | 6): number {
  if (type === "ipip") return family === 4 ? 20 : 40;
  return family === 4 ? 50 : 70;
}

/** Splits IP packets larger than `mtu` into fragments (8-byte aligned payloads, same header size). */
function fragment(sizes: number[], mtu: number, header: number): number[] {
  const per = Math.floor((mtu - header) / 8) * 8;
  const out: number[] = [];
  for (const s of sizes) {
    if (s <= mtu || per <= 0) {
      out.push(s);
      continue;
    }
    let payload = s - header;
    while (payload > per) {
      out.push(header + per);
      payload -= per;
    }
    out.push(header + payload);
  }
  return out;
}

const who = (ref: EndpointRef | undefined): string =>
  ref === undefined ? "" : ref.kind === "workload" ? `pod ${ref.namespace !== undefined ? `${ref.namespace}/` : ""}${ref.name}` : `host endpoint ${ref.name}`;

/**
 * The common underlay case without walk()'s machinery (its per-call closures were the simulator's
 * largest allocation in a full mesh): a packet of size 0 between two hosts on one segment, by a
 * connected route, with nothing in the way. Gives exactly what walk(net, { from, src, dst, size: 0,
 * df: true }, { explain: false, policy: false }) gives in that case; undefined in any other case
 * (a pod source, local delivery, no or another kind of route, encapsulation, a down host or link,
 * more than one hop), where the caller walks.
 */
export function directWalk(from: Host, src: IPAddress, dst: IPAddress): WalkResult | undefined {
  const nb = directNeighbour(from, src, dst);
  if (nb === undefined) return undefined;
  const iface = directIface;
  let pathMtu = iface.mtu;
  let pathMtuAt = from.name;
  if (nb.mtu < pathMtu) {
    pathMtu = nb.mtu;
    pathMtuAt = nb.host.name;
  }
  const bandwidth = Math.min(iface.bandwidthMbps ?? Infinity, nb.bandwidthMbps ?? Infinity);
  const loss = Math.max(iface.loss, nb.loss);
  return {
    outcome: "delivered",
    hops: [],
    ...(pathMtu !== Infinity ? { pathMtu, pathMtuAt } : {}),
    encap: "none",
    fragments: 1,
    latencyMs: Math.max(iface.latencyMs, nb.latencyMs),
    lossProbability: 1 - (loss > 0 ? 1 - loss : 1),
    links: [linkRef(iface), linkRef(nb)],
    visited: [from, nb.host],
    ...(bandwidth !== Infinity ? { bandwidthMbps: bandwidth } : {}),
    deliveredTo: `host ${nb.host.name}`,
  };
}

/** What a host-to-host path gives a packet up to its MTU (SimNetwork.underlayPath's answer when it works). */
export interface DirectPath {
  ok: true;
  latencyMs: number;
  /** Probability that one packet is lost on the way (link losses combined). */
  loss: number;
  /** Attachments crossed, in order (sender's then receiver's for each segment). */
  links: LinkRef[];
  /** Path MTU, when any link was crossed. */
  mtu?: number;
  /** Smallest bandwidth set on the links crossed. */
  bandwidthMbps?: number;
}

/** A one-segment path's figures, shared by every answer with the same ones (a mesh has one or a few). */
class PathTerms {
  constructor(
    readonly latencyMs: number,
    readonly loss: number,
    readonly mtu: number | undefined,
    readonly bandwidthMbps: number | undefined,
  ) {}
}

/** Every PathTerms made so far, up to a few (beyond them each answer gets its own: still correct). */
const terms: PathTerms[] = [];
const MAX_TERMS = 64;

function termsOf(latencyMs: number, loss: number, mtu: number | undefined, bandwidthMbps: number | undefined): PathTerms {
  for (let k = 0; k < terms.length; k++) {
    const t = terms[k]!;
    if (Object.is(t.latencyMs, latencyMs) && Object.is(t.loss, loss) && t.mtu === mtu && t.bandwidthMbps === bandwidthMbps) return t;
  }
  const t = new PathTerms(latencyMs, loss, mtu, bandwidthMbps);
  if (terms.length < MAX_TERMS) terms.push(t);
  return t;
}

/**
 * directPath's answer: kept by the connection direction that asked (one per directed host pair in a
 * mesh), so it is its own links list (the two attachments, as elements) plus the shared figures:
 * 40 B + 2 elements, no separate links array, no heap numbers of its own.
 */
class DirectAnswer extends Array<LinkRef> implements DirectPath {
  // Array methods that make a new array (map, filter, slice) make a plain one.
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
  readonly terms: PathTerms;
  constructor(a: LinkRef, b: LinkRef, terms: PathTerms) {
    super(a, b); // (two arguments: the elements, packed, exactly two slots)
    this.terms = terms;
  }
  get links(): LinkRef[] {
    return this;
  }
  get ok(): true {
    return true;
  }
  get latencyMs(): number {
    return this.terms.latencyMs;
  }
  get loss(): number {
    return this.terms.loss;
  }
  get mtu(): number | undefined {
    return this.terms.mtu;
  }
  get bandwidthMbps(): number | undefined {
    return this.terms.bandwidthMbps;
  }
}

/**
 * directWalk's case as the path answer itself, with nothing else built (no walk result, no visited
 * list): the same latency, loss, links, MTU and bandwidth underlayPath would take from directWalk.
 * The answer's fields are getters (own: links and the shared figures): read it, do not spread it.
 */
export function directPath(from: Host, src: IPAddress, dst: IPAddress): DirectPath | undefined {
  const nb = directNeighbour(from, src, dst);
  if (nb === undefined) return undefined;
  const iface = directIface;
  const pathMtu = nb.mtu < iface.mtu ? nb.mtu : iface.mtu;
  const bandwidth = Math.min(iface.bandwidthMbps ?? Infinity, nb.bandwidthMbps ?? Infinity);
  const loss = Math.max(iface.loss, nb.loss);
  const latencyMs = Math.max(iface.latencyMs, nb.latencyMs);
  const lossP = 1 - (loss > 0 ? 1 - loss : 1);
  const t = termsOf(latencyMs, lossP, pathMtu !== Infinity ? pathMtu : undefined, bandwidth !== Infinity ? bandwidth : undefined);
  return new DirectAnswer(linkRef(iface), linkRef(nb), t);
}

/** The sender's interface of the last directNeighbour that found one (saves a result object). */
let directIface: Iface = undefined as unknown as Iface;

/** The receiving interface in directWalk's case (its sending interface in directIface), else undefined. */
function directNeighbour(from: Host, src: IPAddress, dst: IPAddress): Iface | undefined {
  if (src.family !== dst.family || from.down) return undefined;
  if (from.workloadByAddr.get(addrKey(src)) !== undefined) return undefined;
  const dKey = addrKey(dst);
  if (from.local.has(dKey)) return undefined;
  const e = from.fib.lookup(dst);
  if (e === undefined || e.kind !== "unicast" || e.nextHops.length !== 0 || e.encap !== "none") return undefined;
  // resolveConnected(from, e, dst) without its closure and result object.
  let iface: Iface | undefined;
  for (const i of from.ifaces) {
    if (i.segment.name === e.device) {
      iface = i;
      break;
    }
  }
  iface ??= onLink(from, dst);
  if (iface === undefined || iface.down) return undefined;
  const nb = iface.segment.byAddr.get(dKey);
  if (nb === undefined || nb.down || nb.host.down || !nb.host.local.has(dKey)) return undefined;
  directIface = iface;
  return nb;
}

export function walk(net: NetState, input: WalkInput, opts: WalkOptions): WalkResult {
  const { explain } = opts;
  const hops: Hop[] = [];
  const links: LinkRef[] = [];
  const visited: Host[] = [];
  const family = input.src.family;
  const header = family === 4 ? 20 : 40;
  const hash = flowHash(input.src.value, input.dst.value, input.protocol === "tcp" ? 6 : input.protocol === "udp" ? 17 : 1, input.srcPort ?? 0, input.dstPort ?? 0);
  const needText = explain || opts.policy || opts.onPacket !== undefined;
  const srcText = needText ? formatAddress(input.src) : "";
  const dstText = needText ? formatAddress(input.dst) : "";
  const flow = { src: srcText, dst: dstText, protocol: input.protocol, ...(input.srcPort !== undefined ? { srcPort: input.srcPort } : {}), ...(input.dstPort !== undefined ? { dstPort: input.dstPort } : {}) };

  let host = input.from;
  let sizes = [input.size];
  let maxPieces = 1;
  let fragmented = false;
  let outer: Outer | undefined;
  let usedEncap: "none" | "ipip" | "vxlan" = "none";
  let pathMtu = Infinity;
  let pathMtuAt: string | undefined;
  let latencyMs = 0;
  let survive = 1;
  let bandwidth = Infinity;
  let ttl = TTL;
  let forwarded = false; // the packet has left its origin host (TTL counts from then)
  const srcPod = host.workloadByAddr.get(addrKey(input.src));
  // Calico's natOutgoing: a pool address leaving its node for a destination outside every pool is
  // masqueraded to the outgoing interface's address (the flow keeps its pod address for policy).
  let natSrc: IPAddress | undefined;
  const natPool = srcPod !== undefined ? net.pools.find((p) => p.natOutgoing && prefixContainsAddress(p.prefix, input.src)) : undefined;
  const natEligible = natPool !== undefined && !net.pools.some((p) => prefixContainsAddress(p.prefix, input.dst));
  // The most specific route that matched each destination so far, to say which prefix is missing.
  // (one for the packet's own destination, one for the outer header's while encapsulated).
  let innerMatch: Prefix | undefined;
  let outerMatch: { key: bigint; prefix: Prefix } | undefined;

  const hop = (at: Host, action: string, out?: string, size?: number): void => {
    if (explain) hops.push({ at: at.name, action, ...(out !== undefined ? { out } : {}), ...(size !== undefined ? { size } : {}) });
  };
  const result = (outcome: ProbeOutcome, extra: Partial<WalkResult>): WalkResult => ({
    outcome,
    hops,
    ...(pathMtu !== Infinity ? { pathMtu, ...(pathMtuAt !== undefined ? { pathMtuAt } : {}) } : {}),
    encap: usedEncap,
    fragments: maxPieces,
    latencyMs,
    lossProbability: 1 - survive,
    links,
    visited,
    ...(bandwidth !== Infinity ? { bandwidthMbps: bandwidth } : {}),
    ...extra,
  });
  const drop = (at: Host, dropKind: string, why: string): WalkResult => {
    const reason = `dropped at ${describeHost(at)}: ${why}`;
    hop(at, reason);
    return result("dropped", { reason, dropKind, at: at.name });
  };
  const noteMtu = (mtu: number, at: string): void => {
    if (mtu < pathMtu) {
      pathMtu = mtu;
      pathMtuAt = at;
    }
  };
  const setSizes = (next: number[]): void => {
    if (next.length > sizes.length) fragmented = true;
    sizes = next;
    if (sizes.length > maxPieces) maxPieces = sizes.length;
  };
  const wire = (): number => Math.max(...sizes);
  const policyHop = (at: Host, r: DirectionResult): WalkResult | undefined => {
    if (r.decision.kind === "not-an-endpoint") return undefined;
    const text = `${r.direction} policy of ${who(r.endpoint)}: ${describeDecision(r.decision)}`;
    if (!r.allowed) return drop(at, "policy", text);
    hop(at, text);
    return undefined;
  };
  /** MTU check at an interface the packet leaves by (the sender decides: frag-needed or fragment). */
  /** `what` names the limit with its value, e.g. "tunnel MTU 1430", "the MTU 1500 of seg-a". */
  const egressMtu = (at: Host, mtu: number, what: string, innerMtu: number): WalkResult | undefined => {
    const size = wire();
    if (size <= mtu) return undefined;
    // IPv6 has no DF bit: only the sender fragments, a forwarding host answers Packet Too Big.
    if (family === 6 && (forwarded || srcPod !== undefined)) {
      return drop(at, "mtu", `packet of ${size} bytes exceeds ${what}, ICMPv6 packet-too-big (mtu ${innerMtu}) sent`);
    }
    if (input.df && family === 4) {
      return drop(at, "mtu", `packet of ${size} bytes exceeds ${what} with DF set, ICMP frag-needed (mtu ${innerMtu}) sent`);
    }
    if (input.df) return drop(at, "mtu", `packet of ${size} bytes exceeds ${what} and may not be fragmented (EMSGSIZE)`);
    setSizes(fragment(sizes, mtu, header));
    hop(at, `packet of ${size} bytes exceeds ${what}, no DF: fragmented, now ${sizes.length} pieces of at most ${wire()} bytes`);
    return undefined;
  };

  if (input.src.family !== input.dst.family) throw new Error(`source ${formatAddress(input.src)} and destination ${formatAddress(input.dst)} are different IP families`);

  if (host.down) {
    visited.push(host);
    return drop(host, "host-down", `${host.name} is down`);
  }
  // The source pod: its interface MTU, then its egress policy (Felix filters what leaves the pod).
  if (srcPod !== undefined) {
    noteMtu(srcPod.mtu, host.name);
    if (input.size > srcPod.mtu) {
      if (input.df) return drop(host, "mtu", `packet of ${input.size} bytes exceeds the MTU ${srcPod.mtu} of pod ${srcPod.key}'s interface with DF set (the pod's stack refuses it: EMSGSIZE)`);
      setSizes(fragment(sizes, srcPod.mtu, header));
      hop(host, `pod ${srcPod.key} fragments the ${input.size}-byte packet to its interface MTU ${srcPod.mtu}: ${sizes.length} pieces`);
    }
  }
  if (opts.policy && host.policy !== undefined && (srcPod !== undefined || host.local.has(addrKey(input.src)))) {
    const r = host.policy.evaluate(flow).egress;
    const dropped = policyHop(host, r);
    if (dropped) return dropped;
  }
  if (srcPod !== undefined) hop(host, `left pod ${srcPod.key} on ${srcPod.device}`, srcPod.device, wire());

  for (let step = 0; step < MAX_STEPS; step++) {
    if (visited[visited.length - 1] !== host) visited.push(host);
    if (host.down) return drop(host, "host-down", `${host.name} is down`);
    const dst = outer ? outer.dst : input.dst;
    const dKey = addrKey(dst);

    if (host.local.has(dKey)) {
      if (outer !== undefined) {
        const o = outer;
        // Only a tunnel device takes encapsulated packets in (tunl0 for protocol 4, vxlan.calico on UDP
        // 4789). IPv4 only: the Dataplane port has no IPv6 tunnel device (vxlan-v6.calico) to check.
        if (o.dst.family === 4 && !host.tunnels.has(o.type)) {
          return drop(host, "no-route", `${o.type} packet from ${formatAddress(o.src)} but ${host.name} has no ${o.type === "ipip" ? "tunl0" : "vxlan.calico"} device (${o.type === "ipip" ? "IPIP" : "VXLAN"} not enabled there)`);
        }
        outer = undefined;
        setSizes(o.innerSizes);
        hop(host, `decapsulated ${o.type} from ${formatAddress(o.src)} (-${o.overhead} bytes)`, undefined, wire());
        continue;
      }
      if (opts.policy && host.policy !== undefined) {
        const dropped = policyHop(host, host.policy.evaluate(flow).ingress);
        if (dropped) return dropped;
      }
      hop(host, `delivered to ${host.name} (${explain ? formatAddress(dst) : ""} is ${host.local.get(dKey)})`);
      return result(fragmented ? "fragmented" : "delivered", { deliveredTo: `host ${host.name}` });
    }

    const e = host.fib.lookup(dst);
    const len = host.fib.matchedLen;
    if (e === undefined) {
      const m = outer === undefined ? innerMatch : outerMatch?.key === dst.value ? outerMatch.prefix : undefined;
      return drop(host, "no-route", `no route to ${m !== undefined ? `${formatPrefix(m)} (destination ${formatAddress(dst)})` : formatAddress(dst)}`);
    }
    const prefix: Prefix = { family: dst.family, addr: dst.value & maskFor(dst.family, len), len };
    const prefixText = explain ? formatPrefix(prefix) : "";
    // Keep the most specific prefix seen for this destination: a later "no route" names it.
    if (len > 0) {
      if (outer === undefined) {
        if (innerMatch === undefined || innerMatch.len < len) innerMatch = prefix;
      } else if (outerMatch === undefined || outerMatch.key !== dst.value || outerMatch.prefix.len < len) outerMatch = { key: dst.value, prefix };
    }

    if (e.kind === "blackhole") return drop(host, "blackhole", `blackhole route ${formatPrefix(prefix)} (no pod has ${formatAddress(dst)})`);

    if (e.kind === "local") {
      const pod = e.device !== undefined ? host.workloadByDevice.get(e.device) : undefined;
      if (outer !== undefined || pod === undefined) return drop(host, "no-route", `route ${formatPrefix(prefix)} points at pod interface ${e.device ?? "?"}, which does not exist`);
      noteMtu(pod.mtu, host.name);
      const m = egressMtu(host, pod.mtu, `the MTU ${pod.mtu} of pod ${pod.key}'s interface`, pod.mtu);
      if (m) return m;
      hop(host, `route ${prefixText} to pod interface ${pod.device} (mtu ${pod.mtu})`, pod.device, wire());
      if (opts.policy && host.policy !== undefined) {
        const dropped = policyHop(host, host.policy.evaluate(flow).ingress);
        if (dropped) return dropped;
      }
      hop(host, `delivered to pod ${pod.key}`);
      return result(fragmented ? "fragmented" : "delivered", { deliveredTo: `pod ${pod.key}` });
    }

    // unicast
    const nh = e.nextHops.length === 0 ? dst : pickNextHop(e, hash)!;
    const ecmp = e.nextHops.length > 1 ? ` (ECMP ${e.nextHops.length} paths)` : "";

    if (e.encap !== "none" && outer === undefined) {
      const type = e.encap;
      const vtep = net.tunnelOwner.get(addrKey(nh));
      const outerDst = vtep !== undefined ? ((nh.family === 4 ? vtep.primary4 : vtep.primary6) ?? nh) : nh;
      const outerSrc = outerDst.family === 4 ? host.primary4 : host.primary6;
      if (outerSrc === undefined) return drop(host, "no-route", `route ${formatPrefix(prefix)} needs a ${type} tunnel from an IPv${outerDst.family} address, and ${host.name} has none`);
      const overhead = overheadOf(type, outerDst.family);
      const tunnel = host.tunnels.get(type);
      const device = tunnel !== undefined ? (type === "ipip" ? "tunl0" : "vxlan.calico") : (e.device ?? (type === "ipip" ? "tunl0" : "vxlan.calico"));
      let tmtu = e.mtu ?? tunnel?.mtu;
      if (tmtu === undefined) {
        const under = resolve(net, host, outerDst, hash, 0);
        tmtu = (typeof under === "string" ? 1500 : under.iface.mtu) - overhead;
      }
      noteMtu(tmtu, host.name);
      const m = egressMtu(host, tmtu, `tunnel MTU ${tmtu}`, tmtu);
      if (m) return m;
      outer = { type, overhead, src: outerSrc, dst: outerDst, innerSizes: sizes };
      usedEncap = type;
      setSizes(sizes.map((s) => s + overhead));
      if (explain) {
        hop(host, `route ${prefixText} via ${formatAddress(nh)}${ecmp} dev ${device}: encapsulated ${type} ${formatAddress(outerSrc)} → ${formatAddress(outerDst)} (+${overhead} bytes, tunnel mtu ${tmtu})`, device, wire());
      }
      continue;
    }

    // Native transmission on a segment.
    const r = e.nextHops.length === 0 ? resolveConnected(host, e, nh) : resolve(net, host, nh, hash, 0);
    if (typeof r === "string") return drop(host, "no-route", r);
    const { iface, via } = r;
    if (forwarded || srcPod !== undefined) {
      if (--ttl <= 0) return drop(host, "ttl", `TTL exceeded (the packet went round ${TTL} hops: a routing loop?)`);
    }
    const overhead = outer?.overhead ?? 0;
    noteMtu(iface.mtu - overhead, host.name);
    const m = egressMtu(host, iface.mtu, `the MTU ${iface.mtu} of ${iface.segment.name}`, iface.mtu - overhead);
    if (m) return m;
    if (explain) {
      const how = e.nextHops.length === 0 ? "directly connected" : `via ${formatAddress(via)}${ecmp}`;
      hop(host, `route ${prefixText} ${how}${outer ? ` (outer ${formatAddress(outer.src)} → ${formatAddress(outer.dst)})` : ""}: sent on ${iface.segment.name} (mtu ${iface.mtu})`, iface.segment.name, wire());
    }
    if (natEligible && natSrc === undefined && outer === undefined && host === input.from) {
      const a = family === 4 ? iface.v4?.addr : iface.v6?.addr;
      if (a !== undefined) {
        natSrc = a;
        hop(host, `natOutgoing (pool ${formatPrefix(natPool.prefix)}): source ${srcText} masqueraded to ${formatAddress(a)}`, iface.segment.name);
      }
    }
    if (iface.down) return drop(host, "link-down", `link ${iface.key} is down`);
    const nb = iface.segment.byAddr.get(addrKey(via));
    if (nb === undefined) return drop(host, "no-route", `no host answers for ${formatAddress(via)} on ${iface.segment.name} (neighbour unresolved)`);
    if (nb.down) return drop(host, "link-down", `link ${nb.key} is down`);
    links.push(linkRef(iface), linkRef(nb));
    const crossing = Math.max(iface.latencyMs, nb.latencyMs);
    if (opts.onPacket !== undefined) {
      const o = outer;
      const t0 = (opts.startMs ?? 0) + latencyMs;
      for (const s of sizes) {
        const p: PacketInfo = { src: natSrc !== undefined ? formatAddress(natSrc) : srcText, dst: dstText, protocol: input.protocol, size: s, ...(o ? { encap: { type: o.type, src: formatAddress(o.src), dst: formatAddress(o.dst) } } : {}) };
        opts.onPacket({ element: host.name, segment: iface.segment.name }, { ...p, timeMs: t0 });
        opts.onPacket({ element: nb.host.name, segment: iface.segment.name }, { ...p, timeMs: t0 + crossing });
      }
    }
    latencyMs += crossing;
    const bw = Math.min(iface.bandwidthMbps ?? Infinity, nb.bandwidthMbps ?? Infinity);
    if (bw < bandwidth) bandwidth = bw;
    const loss = Math.max(iface.loss, nb.loss);
    forwarded = true;
    if (nb.host.down) {
      visited.push(nb.host);
      return drop(nb.host, "host-down", `${nb.host.name} is down`);
    }
    noteMtu(nb.mtu - overhead, nb.host.name);
    if (wire() > nb.mtu) {
      visited.push(nb.host);
      return drop(nb.host, "mtu", `frame of ${wire()} bytes exceeds the MTU ${nb.mtu} of ${nb.key} (MTU black hole: the receiver drops it and no ICMP is sent)`);
    }
    if (loss > 0) {
      survive *= 1 - loss;
      if (opts.lossRng !== undefined && opts.lossRng.float() < loss) {
        return drop(nb.host, "loss", `lost on ${iface.segment.name} (loss probability ${loss})`);
      }
    }
    host = nb.host;
  }
  return drop(host, "ttl", "too many forwarding steps (a loop?)");
}

function maskFor(family: 4 | 6, len: number): bigint {
  const bits = family === 4 ? 32 : 128;
  return len === 0 ? 0n : ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - len)) - 1n);
}

/** The interface of a connected route (its device is the segment); the next hop is the destination. */
function resolveConnected(host: Host, e: FibEntry, dst: IPAddress): { iface: Iface; via: IPAddress } | string {
  const iface = host.ifaces.find((i) => i.segment.name === e.device) ?? onLink(host, dst);
  return iface === undefined ? `connected route on ${e.device ?? "?"} but ${host.name} has no interface there` : { iface, via: dst };
}

function onLink(host: Host, a: IPAddress): Iface | undefined {
  for (const i of host.ifaces) {
    const x = a.family === 4 ? i.v4 : i.v6;
    if (x !== undefined && (a.value & maskFor(a.family, x.subnet.len)) === x.subnet.addr) return i;
  }
  return undefined;
}

/** The interface and on-link neighbour for a next hop, recursing through the FIB like the kernel's nexthop resolution. */
export function resolve(net: NetState, host: Host, nh: IPAddress, hash: number, depth: number): { iface: Iface; via: IPAddress } | string {
  const direct = onLink(host, nh);
  if (direct !== undefined) return { iface: direct, via: nh };
  if (depth >= 4) return `next hop ${formatAddress(nh)} does not resolve to a connected network`;
  const e = host.fib.lookup(nh);
  if (e === undefined || e.kind !== "unicast" || e.encap !== "none") return `next hop ${formatAddress(nh)} is not on a subnet of ${host.name}`;
  if (e.nextHops.length === 0) return resolveConnected(host, e, nh);
  return resolve(net, host, pickNextHop(e, hash)!, hash, depth + 1);
}
