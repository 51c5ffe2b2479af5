// A topology router that speaks BGP, as a plain Speaker: its peers from `routers[].bgp.peers`
// (by address, node name or node selector), each bound to the router's interface on the peer's
// subnet so the next hop it advertises is reachable. Routers are not Calico nodes: they accept and
// pass on every route (an explicit accept-all policy, since RFC 8212 would otherwise make eBGP
// sessions carry nothing) and they never originate pod blocks. Towards nodes (peers given by node
// or selector) a router is passive, like a ToR with a listen range: the nodes connect. Two active
// ends with the core's un-jittered timers can lock into rejecting each other (Cease 6/5) forever
// after both went through error-wait at the same moment; peers by address stay active.
import type { PeerConfig, SpeakerConfig } from "../../src/core/bgp/speaker.ts";
import { parseIP, parsePrefix, prefixContainsAddress, type Prefix } from "../../src/core/net/ip.ts";
import { parseSelector } from "../../src/core/policy/selector/index.ts";
import type { Router, Topology, TopologyNode } from "../../src/topology/model.ts";

const addrOf = (cidr: string | undefined): string | undefined => cidr?.split("/")[0];

interface RouterAddress {
  address: string;
  subnet: Prefix;
}

function routerAddresses(r: Router): RouterAddress[] {
  const out: RouterAddress[] = [];
  for (const i of r.interfaces) {
    for (const a of [i.address, i.addressV6]) if (a !== undefined) out.push({ address: addrOf(a)!, subnet: parsePrefix(a, { strict: false }) });
  }
  return out;
}

/** The router's address on the peer's subnet (else its first of the peer's family). */
export function localAddressFor(r: Router, peer: string): string | undefined {
  const ip = parseIP(peer);
  const mine = routerAddresses(r).filter((a) => a.subnet.family === ip.family);
  return (mine.find((a) => prefixContainsAddress(a.subnet, ip)) ?? mine[0])?.address;
}

export function routerPeers(t: Topology, r: Router): PeerConfig[] {
  const bgp = r.bgp;
  if (bgp === undefined) return [];
  const out: PeerConfig[] = [];
  const seen = new Set<string>();
  const add = (address: string, asNumber: number, rrClient: boolean, passive: boolean) => {
    if (seen.has(address)) return;
    const localAddress = localAddressFor(r, address);
    if (localAddress === undefined) return; // no interface of that family: the session cannot exist
    seen.add(address);
    out.push({ address, asNumber, localAddress, ...(passive ? { passive: true } : {}), ...(rrClient ? { routeReflectorClient: true } : {}) });
  };
  const nodeByName = new Map(t.nodes.map((n) => [n.name, n]));
  const ownerAs = new Map<string, number>();
  for (const n of t.nodes) for (const a of [n.address, n.addressV6]) if (a) ownerAs.set(addrOf(a)!, n.asNumber);
  for (const o of t.routers) for (const i of o.interfaces) for (const a of [i.address, i.addressV6]) if (a && o.bgp) ownerAs.set(addrOf(a)!, o.bgp.asNumber);
  const addNode = (n: TopologyNode, asNumber: number | undefined, rrClient: boolean) => {
    for (const a of [n.address, n.addressV6]) if (a !== undefined) add(addrOf(a)!, asNumber ?? n.asNumber, rrClient, true);
  };
  for (const p of bgp.peers) {
    if (p.address !== undefined) {
      const as = p.asNumber ?? ownerAs.get(p.address);
      if (as !== undefined) add(p.address, as, p.routeReflectorClient, false);
    } else if (p.node !== undefined) {
      const n = nodeByName.get(p.node);
      if (n) addNode(n, p.asNumber, p.routeReflectorClient);
    } else if (p.nodeSelector !== undefined) {
      const sel = parseSelector(p.nodeSelector);
      for (const n of t.nodes) if (sel.matches(n.labels)) addNode(n, p.asNumber, p.routeReflectorClient);
    }
  }
  return out;
}

export function routerSpeakerConfig(t: Topology, r: Router): SpeakerConfig {
  const bgp = r.bgp!;
  const first4 = r.interfaces.map((i) => addrOf(i.address)).find((a) => a !== undefined);
  const routerId = bgp.routerId ?? first4;
  if (routerId === undefined) throw new Error(`router ${r.name}: needs bgp.routerId (it has no IPv4 interface address)`);
  return {
    asNumber: bgp.asNumber,
    routerId,
    // "::" accepts IPv4 and IPv6 peers in the simulated transport.
    listen: { address: "::" },
    importPolicy: () => true,
    exportPolicy: () => true,
    peers: routerPeers(t, r),
  };
}
