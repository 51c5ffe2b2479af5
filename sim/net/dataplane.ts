// The simulator's Dataplane (src/core/agent/dataplane.ts) for one node: the agent's routes go into the
// node's FIB, tunnel devices and pods into its host state, and the PolicySet is what forwarding
// evaluates at the node's pods. And the RouteSink a BGP-speaking router's best paths go into.
import { parseIP, type Prefix } from "../../src/core/net/ip.ts";
import type { Dataplane, DataplaneRoute, DataplaneRouteChanges, TunnelDevice, WorkloadInterface } from "../../src/core/agent/dataplane.ts";
import type { RouteChanges, RouteSink } from "../../src/core/bgp/ports.ts";
import type { PolicySet } from "../../src/core/policy/policy-set.ts";
import type { RouteSource } from "./fib.ts";
import { addrKey, type Host, type NetState } from "./hosts.ts";

const SOURCE_OF: Readonly<Record<DataplaneRoute["kind"], RouteSource>> = { unicast: "bgp", blackhole: "ipam", local: "workload" };

/** "10.1.3.5", "10.1.3.5/32" or "fd00::5/128" → the host prefix of the address. */
function hostPrefix(text: string): Prefix {
  const a = parseIP(text.split("/")[0]!);
  return { family: a.family, addr: a.value, len: a.family === 4 ? 32 : 128 };
}

export class SimDataplane implements Dataplane {
  constructor(
    private readonly net: NetState,
    private readonly host: Host,
  ) {}

  get name(): string {
    return this.host.name;
  }

  applyRoutes(changes: DataplaneRouteChanges): void {
    const fib = this.host.fib;
    this.net.version++;
    for (const p of changes.remove) fib.delete(p, "agent");
    const reg = this.net.interner;
    for (const r of changes.add) {
      const entry =
        r.kind === "unicast" ? reg.route("unicast", r.nextHops, r.encap, "agent", "bgp", r.device, r.mtu) : reg.route(r.kind, [], "none", "agent", SOURCE_OF[r.kind], r.device, r.mtu);
      fib.set(r.prefix, entry);
    }
  }

  setTunnel(tunnel: TunnelDevice): void {
    this.removeTunnel(tunnel.type);
    this.host.tunnels.set(tunnel.type, { ...tunnel });
    const a = parseIP(tunnel.address.split("/")[0]!);
    this.host.local.set(addrKey(a), `its ${tunnel.type === "ipip" ? "tunl0" : "vxlan.calico"} address`);
    this.net.tunnelOwner.set(addrKey(a), this.host);
    this.net.addrOwner.set(addrKey(a), this.host);
    this.net.stateGen++;
    this.net.version++;
  }

  removeTunnel(type: "ipip" | "vxlan"): void {
    const t = this.host.tunnels.get(type);
    if (t === undefined) return;
    this.host.tunnels.delete(type);
    const k = addrKey(parseIP(t.address.split("/")[0]!));
    // Interface addresses stay local even if a tunnel reused one.
    if (!this.host.ifaces.some((i) => (i.v4 && addrKey(i.v4.addr) === k) || (i.v6 && addrKey(i.v6.addr) === k))) {
      this.host.local.delete(k);
      if (this.net.addrOwner.get(k) === this.host) this.net.addrOwner.delete(k);
    }
    if (this.net.tunnelOwner.get(k) === this.host) this.net.tunnelOwner.delete(k);
    this.net.stateGen++;
    this.net.version++;
  }

  /** Registers the pod and its host routes to the pod interface (what Felix does when a workload comes up). */
  addWorkload(workload: WorkloadInterface): void {
    this.removeWorkload(workload.key);
    const w = { ...workload, addresses: [...workload.addresses] };
    this.host.workloads.set(w.key, w);
    this.host.workloadByDevice.set(w.device, w);
    for (const text of w.addresses) {
      const p = hostPrefix(text);
      this.host.workloadByAddr.set(addrKey({ family: p.family, value: p.addr }), w);
      this.host.fib.set(p, this.net.interner.intern({ kind: "local", nextHops: [], encap: "none", device: w.device, owner: "workload", source: "workload" }));
    }
    this.net.stateGen++;
    this.net.version++;
  }

  removeWorkload(key: string): void {
    const w = this.host.workloads.get(key);
    if (w === undefined) return;
    this.host.workloads.delete(key);
    if (this.host.workloadByDevice.get(w.device) === w) this.host.workloadByDevice.delete(w.device);
    for (const text of w.addresses) {
      const p = hostPrefix(text);
      const k = addrKey({ family: p.family, value: p.addr });
      if (this.host.workloadByAddr.get(k) === w) this.host.workloadByAddr.delete(k);
      this.host.fib.delete(p, "workload");
    }
    this.net.stateGen++;
    this.net.version++;
  }

  setPolicy(policy: PolicySet): void {
    this.host.policy = policy;
  }
}

/** BGP best paths of a router's speaker, installed as native routes owned by "bgp". */
export class SimRouteSink implements RouteSink {
  constructor(
    private readonly net: NetState,
    private readonly host: Host,
  ) {}

  apply(changes: RouteChanges): void {
    const fib = this.host.fib;
    this.net.version++;
    for (const p of changes.remove) fib.delete(p, "bgp");
    for (const r of changes.add) {
      fib.set(r.prefix, this.net.interner.route(r.kind, r.kind === "unicast" ? r.nextHops : [], "none", "bgp", "bgp"));
    }
  }
}
