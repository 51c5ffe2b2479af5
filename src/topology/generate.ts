// Generators: `generate: { nodes: 2000, racks: 40, ... }` expanded deterministically into rack
// segments, ToR routers, nodes with rack and route-reflector labels, and the BGPPeer resources
// Calico would be given for that design. Same input, same output, element for element.
import { bgpPeerSchema, type BGPPeer } from "../core/model/calico.ts";
import type { Problem, SourcePos } from "../core/model/problems.ts";
import { formatIP, formatPrefix, parsePrefix, prefixSize, subnetAt, subnetCount, type Prefix } from "../core/net/ip.ts";
import type { Router, Segment, TopologyNode } from "./model.ts";
import type { GenerateSpec } from "./schema.ts";

export interface Generated {
  segments: Segment[];
  routers: Router[];
  nodes: TopologyNode[];
  bgpPeers: BGPPeer[];
  /** Route reflectors are used: the node-to-node mesh is to be off. */
  usesRouteReflectors: boolean;
}

/** Host offset of the first node in a rack subnet (.1 is the ToR, a few left free). */
export const FIRST_NODE_OFFSET = 10;

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

/** `clusterAS` is the AS the nodes use (cluster default). `at(field)` locates a field of `generate`. */
export function expandGenerator(g: GenerateSpec, clusterAS: number, at: (field: string) => SourcePos): { generated?: Generated; problems: Problem[] } {
  const problems: Problem[] = [];
  const fail = (field: string, message: string) => {
    problems.push({ ...at(field), message: `generate.${field}: ${message}` });
    return { problems };
  };
  const racks = g.racks;
  const perRack = g.nodesPerRack ?? Math.ceil(g.nodes / racks);
  if (perRack * racks < g.nodes) return fail("nodesPerRack", `${racks} racks of ${perRack} hold ${perRack * racks} nodes, fewer than nodes: ${g.nodes}`);
  if (racks > 1 && !g.torRouters) return fail("racks", "racks > 1 needs torRouters: true (nothing would connect the rack segments)");
  if (g.torBgp && !g.torRouters) return fail("torBgp", "torBgp needs torRouters: true");

  // Rack subnets.
  const need = BigInt(FIRST_NODE_OFFSET + perRack + 1);
  const subnets: Prefix[] = [];
  if (g.rackSubnet.includes("{rack}")) {
    for (let r = 1; r <= racks; r++) {
      const text = g.rackSubnet.replaceAll("{rack}", String(r));
      let p: Prefix;
      try {
        p = parsePrefix(text, { strict: true });
      } catch (e) {
        return fail("rackSubnet", `rack ${r}: ${(e as Error).message}`);
      }
      subnets.push(p);
    }
  } else {
    let base: Prefix;
    try {
      base = parsePrefix(g.rackSubnet, { strict: true });
    } catch (e) {
      return fail("rackSubnet", `expected a template with {rack} (e.g. 10.0.{rack}.0/24) or a base CIDR: ${(e as Error).message}`);
    }
    const bits = base.family === 4 ? 32 : 128;
    let len = g.rackPrefixLength ?? bits;
    if (g.rackPrefixLength === undefined) while (len > base.len && prefixSize({ ...base, len }) < need) len--;
    if (len < base.len || subnetCount(base, len) < BigInt(racks)) {
      return fail("rackSubnet", `${g.rackSubnet} cannot be split into ${racks} rack subnets of /${len}`);
    }
    for (let r = 0; r < racks; r++) subnets.push(subnetAt(base, len, BigInt(r)));
  }
  for (const [i, s] of subnets.entries()) {
    if (s.family !== 4) return fail("rackSubnet", "rack subnets must be IPv4");
    if (prefixSize(s) < need) return fail("rackSubnet", `rack ${i + 1}'s subnet ${formatPrefix(s)} has room for fewer than ${perRack} nodes from .${FIRST_NODE_OFFSET}`);
  }
  const fabric = parsePrefix(g.fabricSubnet, { strict: true });
  if (g.torRouters && prefixSize(fabric) < BigInt(racks + 2)) return fail("fabricSubnet", `${g.fabricSubnet} has room for fewer than ${racks} ToR routers`);

  const rw = Math.max(2, String(racks).length);
  const nw = Math.max(2, String(g.nodes).length);
  const rackName = (r: number) => `rack-${pad(r, rw)}`;
  const torName = (r: number) => `tor-${pad(r, rw)}`;
  const addr = (p: Prefix, offset: number) => formatIP(p.family, p.addr + BigInt(offset));
  const torFabric = (r: number) => addr(fabric, r);

  const segments: Segment[] = subnets.map((s, i) => ({ name: rackName(i + 1), subnet: formatPrefix(s), mtu: g.mtu, latencyMs: g.latencyMs, loss: 0 }));
  if (g.torRouters) segments.push({ name: "fabric", subnet: g.fabricSubnet, mtu: g.mtu, latencyMs: g.latencyMs, loss: 0 });

  // Route reflectors: perRack → the first k nodes of every rack; global → spread one per rack in turn.
  const rr = g.routeReflectors;
  const nodes: TopologyNode[] = [];
  const rackOf: number[] = [];
  for (let i = 0; i < g.nodes; i++) rackOf.push(Math.floor(i / perRack) + 1);
  const slotInRack = (i: number) => i - (rackOf[i]! - 1) * perRack;
  const isRR = new Set<number>();
  if (rr && "perRack" in rr) {
    for (let i = 0; i < g.nodes; i++) if (slotInRack(i) < rr.perRack) isRR.add(i);
  } else if (rr && "global" in rr) {
    if (rr.global > g.nodes) return fail("routeReflectors", `global: ${rr.global} is more than the ${g.nodes} nodes`);
    for (let k = 0; isRR.size < rr.global; k++) {
      for (let r = 1; r <= racks && isRR.size < rr.global; r++) {
        const i = (r - 1) * perRack + k;
        if (i < g.nodes && rackOf[i] === r) isRR.add(i);
      }
      if (k > perRack) break;
    }
  }
  const nodeAS = g.asNumber ?? clusterAS;
  for (let i = 0; i < g.nodes; i++) {
    const r = rackOf[i]!;
    const subnet = subnets[r - 1]!;
    const labels: Record<string, string> = { rack: rackName(r) };
    const node: TopologyNode = {
      name: `${g.namePrefix}-${pad(i + 1, nw)}`,
      segment: rackName(r),
      address: `${addr(subnet, FIRST_NODE_OFFSET + slotInRack(i))}/${subnet.len}`,
      labels,
      asNumber: nodeAS,
      ...(g.asNumber !== undefined ? { asNumberOverride: g.asNumber } : {}),
    };
    if (g.torRouters) node.gateway = addr(subnet, 1);
    if (isRR.has(i)) {
      labels["route-reflector"] = "true";
      node.routeReflectorClusterID = rr && "perRack" in rr ? `244.0.${Math.floor(r / 256)}.${r % 256}` : "244.0.0.1";
    }
    nodes.push(node);
  }

  const routers: Router[] = [];
  if (g.torRouters) {
    for (let r = 1; r <= racks; r++) {
      const subnet = subnets[r - 1]!;
      const router: Router = {
        name: torName(r),
        interfaces: [
          { segment: rackName(r), address: `${addr(subnet, 1)}/${subnet.len}` },
          { segment: "fabric", address: `${torFabric(r)}/${fabric.len}` },
        ],
        staticRoutes: subnets.flatMap((s, j) => (j === r - 1 ? [] : [{ prefix: formatPrefix(s), via: torFabric(j + 1) }])),
      };
      if (g.torBgp) {
        router.bgp = { asNumber: g.torAsNumber + r - 1, routerId: torFabric(r), peers: [{ nodeSelector: `rack == '${rackName(r)}'`, routeReflectorClient: false }] };
      }
      routers.push(router);
    }
  }

  // BGPPeer resources as a Calico operator would write them for this design.
  const peer = (name: string, spec: Record<string, unknown>): BGPPeer =>
    bgpPeerSchema.parse({ apiVersion: "projectcalico.org/v3", kind: "BGPPeer", metadata: { name }, spec });
  const bgpPeers: BGPPeer[] = [];
  if (rr && "global" in rr) {
    bgpPeers.push(peer("peer-with-route-reflectors", { nodeSelector: "all()", peerSelector: "route-reflector == 'true'" }));
  } else if (rr && "perRack" in rr) {
    for (let r = 1; r <= racks; r++) {
      bgpPeers.push(peer(`${rackName(r)}-to-rr`, { nodeSelector: `rack == '${rackName(r)}'`, peerSelector: `rack == '${rackName(r)}' && route-reflector == 'true'` }));
    }
    bgpPeers.push(peer("rr-mesh", { nodeSelector: "route-reflector == 'true'", peerSelector: "route-reflector == 'true'" }));
  }
  if (g.torBgp) {
    for (let r = 1; r <= racks; r++) {
      bgpPeers.push(peer(`${rackName(r)}-to-tor`, { nodeSelector: `rack == '${rackName(r)}'`, peerIP: addr(subnets[r - 1]!, 1), asNumber: g.torAsNumber + r - 1 }));
    }
  }
  return { generated: { segments, routers, nodes, bgpPeers, usesRouteReflectors: rr !== undefined }, problems };
}
