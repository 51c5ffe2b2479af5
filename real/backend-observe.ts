// Reading a real-mode world back as the scenario runner's observations: kernel routes (`ip -j route`)
// as RouteObservation in the simulator's shapes, so `--mode both` compares like with like.
import type { RouteObservation } from "../src/scenario/backend.ts";

/** One entry of `ip -j route show`. */
export interface IpRoute {
  dst?: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  nexthops?: { gateway?: string; dev?: string }[];
}

/** Linux writes a host route without its length; the reports always carry one. */
function prefixOf(dst: string, v6: boolean): string {
  if (dst === "default") return v6 ? "::/0" : "0.0.0.0/0";
  return dst.includes("/") ? dst : `${dst}/${v6 ? 128 : 32}`;
}

/**
 * A kernel route as the simulator describes it: the node's own blocks (proto 201 blackholes) are
 * "ipam", routes to pods (cali* devices) "workload" with kind "local", vxlan.calico / tunl0 routes
 * carry their encapsulation, `proto kernel` routes are "connected", the agent's others "bgp" and
 * anything else (default route, a router's static routes) "static".
 */
export function routeObservation(node: string, r: IpRoute, v6 = false): RouteObservation | undefined {
  if (r.dst === undefined) return undefined;
  const prefix = prefixOf(r.dst, v6);
  const devs = [r.dev, ...(r.nexthops ?? []).map((h) => h.dev)].filter((d): d is string => d !== undefined);
  const hops = [r.gateway, ...(r.nexthops ?? []).map((h) => h.gateway)].filter((g): g is string => g !== undefined).sort();
  const encap = devs.includes("vxlan.calico") ? "vxlan" : devs.includes("tunl0") ? "ipip" : "none";
  if (r.type === "blackhole" || r.type === "unreachable" || r.type === "prohibit") {
    return { node, prefix, kind: "blackhole", nextHops: [], encap: "none", source: r.protocol === "201" || r.protocol === "bird" ? "ipam" : "static" };
  }
  if (devs.some((d) => d.startsWith("cali"))) return { node, prefix, kind: "local", nextHops: [], encap: "none", source: "workload" };
  if (r.protocol === "kernel") return { node, prefix, kind: "unicast", nextHops: hops, encap: "none", source: "connected" };
  const source = r.protocol === "201" || r.protocol === "bird" ? "bgp" : "static";
  return { node, prefix, kind: "unicast", nextHops: hops, encap, source };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function sortRoutes(routes: RouteObservation[]): RouteObservation[] {
  return routes.sort((a, b) => cmp(a.node, b.node) || cmp(a.prefix, b.prefix));
}
