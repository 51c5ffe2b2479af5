// Wrappers around the network's Dataplane (a node's forwarding plane) and RouteSink (a router's FIB)
// that report every change to the backend, for convergence detection and the timeline. They keep
// nothing themselves: at 10,000 nodes the FIBs are the biggest thing in memory, and the network
// already holds them once. The BGP speaker only hands over real changes, so counting is enough.
import type { Dataplane, DataplaneRouteChanges, TunnelDevice, WorkloadInterface } from "../../src/core/agent/dataplane.ts";
import type { RouteChanges, RouteSink } from "../../src/core/bgp/ports.ts";
import { formatPrefix, type Prefix } from "../../src/core/net/ip.ts";
import type { PolicySet } from "../../src/core/policy/index.ts";

/**
 * Called after each batch that changed something: `add` are installs and replacements. The batch's
 * own arrays, not copies or a closure (one batch per UPDATE per node in a mesh); see sampleNames.
 */
export type RouteChangeHook = (host: string, add: readonly { prefix: Prefix }[], remove: readonly Prefix[]) => void;

/** The first `max` prefixes of a batch as text, installs first. */
export function sampleNames(add: readonly { prefix: Prefix }[], remove: readonly Prefix[], max: number): { added: string[]; removed: string[] } {
  return {
    added: add.slice(0, max).map((r) => formatPrefix(r.prefix)),
    removed: remove.slice(0, Math.max(0, max - Math.min(max, add.length))).map(formatPrefix),
  };
}

export class RecordingDataplane implements Dataplane {
  /** A detached wrapper drops every call: its agent's process is gone (kill -9), the kernel keeps what it had. */
  private detached = false;

  constructor(
    readonly host: string,
    private readonly inner: Dataplane,
    private readonly onChange: RouteChangeHook,
  ) {}

  detach(): void {
    this.detached = true;
  }

  applyRoutes(changes: DataplaneRouteChanges): void {
    if (this.detached) return;
    this.inner.applyRoutes(changes);
    if (changes.add.length + changes.remove.length > 0) this.onChange(this.host, changes.add, changes.remove);
  }
  setTunnel(tunnel: TunnelDevice): void {
    if (this.detached) return;
    this.inner.setTunnel(tunnel);
  }
  removeTunnel(type: "ipip" | "vxlan"): void {
    if (this.detached) return;
    this.inner.removeTunnel(type);
  }
  addWorkload(workload: WorkloadInterface): void {
    if (this.detached) return;
    this.inner.addWorkload(workload);
  }
  removeWorkload(key: string): void {
    if (this.detached) return;
    this.inner.removeWorkload(key);
  }
  setPolicy(policy: PolicySet): void {
    if (this.detached) return;
    this.inner.setPolicy(policy);
  }
}

export class RecordingSink implements RouteSink {
  private detached = false;

  constructor(
    readonly host: string,
    private readonly inner: RouteSink,
    private readonly onChange: RouteChangeHook,
  ) {}

  /** Drops every later call (the router lost power; its FIB is cleared separately). */
  detach(): void {
    this.detached = true;
  }

  apply(changes: RouteChanges): void {
    if (this.detached) return;
    this.inner.apply(changes);
    if (changes.add.length + changes.remove.length > 0) this.onChange(this.host, changes.add, changes.remove);
  }
}
