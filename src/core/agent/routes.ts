// From BGP best paths to the node's routing table: the encapsulation decision for each route.
//
// Calico (calico-semantics.md §4.6; felix/calc/l3_route_resolver.go and BIRD's kernel filter
// `if (bgp_next_hop ~ <local network>) then krt_tunnel=""; else krt_tunnel="tunl0"`):
// - a prefix inside an IP pool with vxlanMode / ipipMode Always is encapsulated (vxlan.calico / tunl0);
// - CrossSubnet encapsulates only when the next hop is outside the node's own subnet, which is the
//   node address's prefix length (Node.spec.bgp.ipv4Address "10.0.1.5/24"); a node recorded as /32
//   therefore encapsulates to everyone, as in Calico;
// - Never, and prefixes outside every pool (an external router's routes), are routed natively.
// For a prefix of an IPIP/VXLAN pool whose block owner is known (block affinities, block-owners.ts)
// the route goes to the owner's node address, as Felix programs it; the CrossSubnet test uses that
// address too. Otherwise (borrowed /32s, owner unknown, pools without encapsulation) the BGP next hop
// decides, as BIRD's kernel filter does. In a mesh or behind route reflectors both are the same node.
import { formatPrefix, parsePrefix, prefixContains, prefixContainsAddress, type IPAddress, type Prefix } from "../net/ip.ts";
import type { RouteEntry } from "../bgp/ports.ts";
import type { Pool } from "../ipam/pools.ts";
import type { DataplaneRoute, Encapsulation } from "./dataplane.ts";

/** Calico's tunnel device names. */
export const IPIP_DEVICE = "tunl0";
export const VXLAN_DEVICE = "vxlan.calico";
export const VXLAN_V6_DEVICE = "vxlan-v6.calico";

/** Calico's VXLAN defaults (FelixConfiguration vxlanVNI, vxlanPort). */
export const VXLAN_VNI = 4096;
export const VXLAN_PORT = 4789;

/** Outer header overhead (Felix int_dataplane.go): IPIP 20, VXLAN over IPv4 50, over IPv6 70. */
export const ENCAP_OVERHEAD = { ipip: 20, vxlan: 50, vxlanV6: 70 } as const;

export interface EncapContext {
  pools: readonly Pool[];
  /** The node's own subnets (address with prefix length), per family. */
  subnets: { readonly 4?: Prefix; readonly 6?: Prefix };
  /** The address of the node owning exactly this block, when known. */
  owner?: (prefix: Prefix) => IPAddress | undefined;
}

/** The pool a prefix lies in (pools never overlap), if any. */
export function poolOf(pools: readonly Pool[], prefix: Prefix): Pool | undefined {
  for (const p of pools) if (prefixContains(p.cidr, prefix)) return p;
  return undefined;
}

/** The encapsulation of a route to `prefix` via `nextHops`, by the pool's mode and the node's subnet. */
export function encapFor(prefix: Prefix, nextHops: readonly IPAddress[], ctx: EncapContext): Encapsulation {
  return encapInPool(poolOf(ctx.pools, prefix), prefix, nextHops, ctx);
}

/** encapFor with the prefix's pool already looked up. */
function encapInPool(pool: Pool | undefined, prefix: Prefix, nextHops: readonly IPAddress[], ctx: EncapContext): Encapsulation {
  if (!pool) return "none";
  // (No [type, mode] tuple: this runs for every route on every node.)
  const vxlan = pool.vxlanMode !== "Never";
  if (!vxlan && pool.ipipMode === "Never") return "none";
  const type = vxlan ? "vxlan" : "ipip";
  const mode = vxlan ? pool.vxlanMode : pool.ipipMode;
  if (mode === "Always") return type;
  // CrossSubnet: native when every next hop is on our own subnet.
  const subnet = ctx.subnets[prefix.family];
  if (nextHops.length === 0 || subnet === undefined) return type;
  for (const h of nextHops) if (!prefixContainsAddress(subnet, h)) return type;
  return "none";
}

export function tunnelDeviceFor(encap: Encapsulation, family: 4 | 6): string | undefined {
  if (encap === "ipip") return IPIP_DEVICE;
  if (encap === "vxlan") return family === 4 ? VXLAN_DEVICE : VXLAN_V6_DEVICE;
  return undefined;
}

/** A speaker RouteEntry (best path or own blackhole) as a dataplane route. */
export function dataplaneRoute(entry: RouteEntry, ctx: EncapContext): DataplaneRoute {
  return bgpRoute(entry.prefix, entry.kind, entry.nextHops, ctx);
}

/** dataplaneRoute for a RouteEntry given by its parts. */
export function bgpRoute(prefix: Prefix, kind: RouteEntry["kind"], hops: IPAddress[], ctx: EncapContext): DataplaneRoute {
  if (kind === "blackhole") return { prefix, kind: "blackhole", nextHops: [], encap: "none" };
  const pool = poolOf(ctx.pools, prefix);
  const owner = pool && (pool.ipipMode !== "Never" || pool.vxlanMode !== "Never") ? ctx.owner?.(prefix) : undefined;
  if (owner) return ownerRoute(prefix, owner, encapInPool(pool, prefix, [owner], ctx));
  // The speaker's next-hop list is not changed by anyone (it is shared by the paths of an UPDATE): no copy.
  const encap = encapInPool(pool, prefix, hops, ctx); // (one pool lookup per route, not two)
  const device = tunnelDeviceFor(encap, prefix.family);
  return device ? { prefix, kind: "unicast", nextHops: hops, encap, device } : { prefix, kind: "unicast", nextHops: hops, encap };
}

// Routes to a block's owner are the same on every node that decides the same encapsulation (all of
// them in a full mesh): one shared route object per (owner address, block, encapsulation) instead of
// a route and a next-hop list per node. Keyed by the owner's address object (the agents of a cluster
// view share those, agent.ts addressesOf), so the cache goes with the view.
const ENCAP_INDEX: Readonly<Record<Encapsulation, number>> = { none: 0, ipip: 1, vxlan: 2 };
const byOwner = new WeakMap<IPAddress, { hops: IPAddress[]; routes: (Map<RouteKey, DataplaneRoute> | undefined)[] }>();

function ownerRoute(prefix: Prefix, owner: IPAddress, encap: Encapsulation): DataplaneRoute {
  let o = byOwner.get(owner);
  if (o === undefined) byOwner.set(owner, (o = { hops: [owner], routes: [] }));
  const i = ENCAP_INDEX[encap];
  const routes = (o.routes[i] ??= new Map());
  const k = routeKey(prefix);
  const shared = routes.get(k);
  if (shared !== undefined) return shared;
  const nextHops = o.hops;
  const device = tunnelDeviceFor(encap, prefix.family);
  const r: DataplaneRoute = device ? { prefix, kind: "unicast", nextHops, encap, device } : { prefix, kind: "unicast", nextHops, encap };
  routes.set(k, r);
  return r;
}

/** A pod's route on its node: deliver to the pod interface. */
export function workloadRoute(address: IPAddress, device: string): DataplaneRoute {
  return { prefix: { family: address.family, addr: address.value, len: address.family === 4 ? 32 : 128 }, kind: "local", nextHops: [], encap: "none", device };
}

/**
 * A route's key in the agent's tables: a number for IPv4, text for IPv6. An IPv4 prefix up to /26 with
 * its host bits clear (every pod block) keys as the int32 address | length, which V8 keeps unboxed
 * (a small integer: no heap number per key, cheap to hash); others as address + (length + 1) / 128,
 * which is never an integer (exact: 39 bits). No string is built per IPv4 route.
 */
export type RouteKey = number | string;

export const routeKey = (p: Prefix): RouteKey => {
  if (p.family !== 4) return formatPrefix(p);
  const a = Number(p.addr);
  return p.len <= 26 && (a & 63) === 0 ? (a | p.len) | 0 : a + (p.len + 1) / 128;
};

/** The prefix of a route key (the inverse of routeKey). */
export function prefixOfKey(k: RouteKey): Prefix {
  if (typeof k === "string") return parsePrefix(k);
  if (Number.isInteger(k)) return { family: 4, addr: BigInt((k & ~63) >>> 0), len: k & 63 };
  const a = Math.floor(k);
  return { family: 4, addr: BigInt(a), len: Math.round((k - a) * 128) - 1 };
}

/** Whether the dataplane would be told the same thing for both routes (what routeSignature compares, without building it). */
export function sameRoute(a: DataplaneRoute, b: DataplaneRoute): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind || a.encap !== b.encap || (a.device ?? "") !== (b.device ?? "") || a.mtu !== b.mtu) return false;
  const x = a.nextHops;
  const y = b.nextHops;
  if (x === y) return true;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i]!.family !== y[i]!.family || x[i]!.value !== y[i]!.value) return false;
  return true;
}

/** A comparable signature of a route (what the dataplane would be told). */
export function routeSignature(r: DataplaneRoute): string {
  return `${r.kind}|${r.encap}|${r.device ?? ""}|${r.mtu ?? ""}|${r.nextHops.map((h) => `${h.family}:${h.value.toString(16)}`).join(",")}`;
}
