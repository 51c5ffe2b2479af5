// Which node owns which IPAM block, from the block affinities in the datastore
// (/calico/ipam/v2/host/<host>/ipv4/block/<cidr> with state confirmed). Felix programs the routes of
// IPIP and VXLAN pools from this (felix/calc/l3_route_resolver.go): the tunnel goes to the block
// owner's node address, whatever BGP next hop the route arrived with (e.g. a ToR router behind eBGP).
import type { WatchEvent } from "../datastore/port.ts";
import { parseAffinityKey } from "../ipam/keys.ts";
import type { Prefix } from "../net/ip.ts";
import { routeKey, type RouteKey } from "./routes.ts";

export class BlockOwners {
  /** Block (route key) → owning host, for confirmed affinities. */
  private readonly owners = new Map<RouteKey, string>();
  /** Affinity key → the block it confirmed (so a delete knows what to drop). */
  private readonly byKey = new Map<string, RouteKey>();

  /** Applies a put or delete of an affinity key; returns the block whose owner changed, if any. */
  apply(event: Pick<WatchEvent, "type" | "key" | "value">): Prefix | undefined {
    let parts;
    try {
      parts = parseAffinityKey(event.key);
    } catch {
      return undefined; // a malformed key is IPAM check's business, not routing's
    }
    if (!parts) return undefined;
    const cidr = routeKey(parts.cidr);
    const confirmed = event.type === "put" && event.value !== undefined && isConfirmed(event.value);
    const before = this.owners.get(cidr);
    if (confirmed) {
      this.owners.set(cidr, parts.host);
      this.byKey.set(event.key, cidr);
    } else if (this.byKey.get(event.key) === cidr) {
      this.byKey.delete(event.key);
      if (this.owners.get(cidr) === parts.host) this.owners.delete(cidr);
    }
    return this.owners.get(cidr) === before ? undefined : parts.cidr;
  }

  clear(): void {
    this.owners.clear();
    this.byKey.clear();
  }

  /** The node owning exactly this block, if known. */
  owner(prefix: Prefix): string | undefined {
    return this.owners.get(routeKey(prefix));
  }

  get size(): number {
    return this.owners.size;
  }
}

// Every agent sees every affinity write, and the values are a handful of fixed texts: parse each once.
const confirmedByValue = new Map<string, boolean>();

function isConfirmed(value: string): boolean {
  let c = confirmedByValue.get(value);
  if (c === undefined) {
    c = parseConfirmed(value);
    if (confirmedByValue.size < 64) confirmedByValue.set(value, c);
  }
  return c;
}

function parseConfirmed(value: string): boolean {
  try {
    const o = JSON.parse(value) as { state?: unknown; deleted?: unknown };
    return (o.state === "confirmed" || o.state === "" || o.state === undefined) && o.deleted !== true;
  } catch {
    return false;
  }
}
