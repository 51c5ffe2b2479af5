// Reading a real-mode world back as the scenario runner's observations: kernel routes (`ip -j route`)
// as RouteObservation in the simulator's shapes, so `--mode both` compares like with like, and the BGP
// message counters of every agent and BGP router (their control sockets' `counters`) as Counters.
import type { MessageCounters } from "../src/core/bgp/index.ts";
import type { Counters, RouteObservation } from "../src/scenario/backend.ts";
import { queryControl } from "./control-socket.ts";

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

/** A daemon of the run that answers `counters` on its control socket (`birdcage agent`, `birdcage bgp speaker`). */
export interface CounterSource {
  name: string;
  socket: string;
  /** False while it is stopped or crashed: its last reading still counts. */
  running: boolean;
}

type Sent = Pick<MessageCounters, "messages" | "bytes" | "open" | "update" | "keepalive" | "notification" | "routeRefresh">;
const FIELDS = ["messages", "bytes", "open", "update", "keepalive", "notification", "routeRefresh"] as const;
const zero = (): Sent => ({ messages: 0, bytes: 0, open: 0, update: 0, keepalive: 0, notification: 0, routeRefresh: 0 });

/**
 * BGP messages sent by all speakers since the start of the run, as the simulator counts them. A
 * process counts from its own start: when a restarted agent reports fewer messages than before, the
 * earlier process's last reading is kept as a base, so the totals never go down (a crashed agent's
 * messages after its last reading are lost).
 */
export class RunCounters {
  readonly #last = new Map<string, Sent>();
  readonly #base = new Map<string, Sent>();

  async read(sources: readonly CounterSource[], timeoutMs = 5_000): Promise<Counters> {
    await Promise.all(
      sources
        .filter((s) => s.running)
        .map(async (s) => {
          const reply = await queryControl(s.socket, "counters", timeoutMs);
          const sent = (reply["counters"] as { sent?: Partial<MessageCounters> } | undefined)?.sent;
          if (sent === undefined) throw new Error(`${s.name}: no counters in the control socket's answer (${JSON.stringify(reply).slice(0, 200)})`);
          const now = zero();
          for (const f of FIELDS) now[f] = Number(sent[f] ?? 0);
          const last = this.#last.get(s.name);
          if (last !== undefined && now.messages < last.messages) this.#base.set(s.name, add(this.#base.get(s.name) ?? zero(), last));
          this.#last.set(s.name, now);
        }),
    );
    const total = zero();
    for (const m of [...this.#base.values(), ...this.#last.values()]) for (const f of FIELDS) total[f] += m[f];
    return { bgpMessages: { total: total.messages, open: total.open, update: total.update, keepalive: total.keepalive, notification: total.notification, routeRefresh: total.routeRefresh }, bgpBytes: total.bytes };
  }
}

function add(a: Sent, b: Sent): Sent {
  const out = zero();
  for (const f of FIELDS) out[f] = a[f] + b[f];
  return out;
}
