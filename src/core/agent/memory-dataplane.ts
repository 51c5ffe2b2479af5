// A Dataplane that only records: the routing table, tunnel devices, workloads and the policy, as the
// agent last set them. No forwarding. Useful wherever the agent's decisions are the point: tests,
// `birdcage` tools that show what a node would program, and comparing the simulator's FIB with a
// real node's. Longest-prefix lookup is a linear scan (tables here are small).
import { formatIP, formatPrefix, parseIP, parsePrefix, prefixContainsAddress, comparePrefixes, type IPAddress, type Prefix } from "../net/ip.ts";
import type { PolicySet } from "../policy/policy-set.ts";
import type { Dataplane, DataplaneRoute, DataplaneRouteChanges, TunnelDevice, WorkloadInterface } from "./dataplane.ts";

/** A route as plain JSON-able text. */
export interface RouteText {
  prefix: string;
  kind: DataplaneRoute["kind"];
  nextHops: string[];
  encap: DataplaneRoute["encap"];
  device?: string;
  mtu?: number;
}

export function routeText(r: DataplaneRoute): RouteText {
  return {
    prefix: formatPrefix(r.prefix),
    kind: r.kind,
    nextHops: r.nextHops.map((h) => formatIP(h.family, h.value)),
    encap: r.encap,
    ...(r.device !== undefined ? { device: r.device } : {}),
    ...(r.mtu !== undefined ? { mtu: r.mtu } : {}),
  };
}

export class MemoryDataplane implements Dataplane {
  private readonly table = new Map<string, DataplaneRoute>();
  private readonly tunnelMap = new Map<"ipip" | "vxlan", TunnelDevice>();
  private readonly workloadMap = new Map<string, WorkloadInterface>();
  private policySet: PolicySet | undefined;
  /** Number of applyRoutes batches that changed something. */
  changes = 0;

  applyRoutes(changes: DataplaneRouteChanges): void {
    let changed = false;
    for (const p of changes.remove) changed = this.table.delete(formatPrefix(p)) || changed;
    for (const r of changes.add) {
      this.table.set(formatPrefix(r.prefix), { ...r, nextHops: [...r.nextHops] });
      changed = true;
    }
    if (changed) this.changes++;
  }

  setTunnel(tunnel: TunnelDevice): void {
    this.tunnelMap.set(tunnel.type, { ...tunnel });
  }

  removeTunnel(type: "ipip" | "vxlan"): void {
    this.tunnelMap.delete(type);
  }

  addWorkload(workload: WorkloadInterface): void {
    this.workloadMap.set(workload.key, { ...workload, addresses: [...workload.addresses] });
  }

  removeWorkload(key: string): void {
    this.workloadMap.delete(key);
  }

  setPolicy(policy: PolicySet): void {
    this.policySet = policy;
  }

  /** The table, sorted by prefix (family, address, length). */
  routes(): DataplaneRoute[] {
    return [...this.table.values()].sort((a, b) => comparePrefixes(a.prefix, b.prefix));
  }

  /** The table as text, sorted. */
  routesText(): RouteText[] {
    return this.routes().map(routeText);
  }

  /** The route for exactly this prefix. */
  route(prefix: Prefix | string): DataplaneRoute | undefined {
    return this.table.get(typeof prefix === "string" ? normalise(prefix) : formatPrefix(prefix));
  }

  /** Longest-prefix match for an address. */
  lookup(address: IPAddress | string): DataplaneRoute | undefined {
    const a = typeof address === "string" ? parseIP(address) : address;
    let best: DataplaneRoute | undefined;
    for (const r of this.table.values()) {
      if (prefixContainsAddress(r.prefix, a) && (!best || r.prefix.len > best.prefix.len)) best = r;
    }
    return best;
  }

  tunnels(): TunnelDevice[] {
    return [...this.tunnelMap.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  tunnel(type: "ipip" | "vxlan"): TunnelDevice | undefined {
    return this.tunnelMap.get(type);
  }

  workloads(): WorkloadInterface[] {
    return [...this.workloadMap.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  workload(key: string): WorkloadInterface | undefined {
    return this.workloadMap.get(key);
  }

  policy(): PolicySet | undefined {
    return this.policySet;
  }
}

function normalise(text: string): string {
  try {
    return formatPrefix(parsePrefix(text, { strict: false }));
  } catch {
    return text;
  }
}
