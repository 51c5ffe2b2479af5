// Which node owns which IPAM block, from the block affinities in the datastore
// (/calico/ipam/v2/host/<host>/ipv4/block/<cidr> with state confirmed). Felix programs the routes of
// IPIP and VXLAN pools from this (felix/calc/l3_route_resolver.go): the tunnel goes to the block
// owner's node address, whatever BGP next hop the route arrived with (e.g. a ToR router behind eBGP).
//
// Every node reads every affinity, and the nodes of one simulated cluster list the same store at the
// same revision: the state a list gives is built once per (store, prefix, revision) and shared,
// read-only, as the base; each agent keeps only the changes it saw after its list (an overlay).
import type { KeyValue, WatchEvent } from "../datastore/port.ts";
import { parseAffinityKey } from "../ipam/keys.ts";
import type { Prefix } from "../net/ip.ts";
import { routeKey, type RouteKey } from "./routes.ts";

/** Owners and confirmed keys; in an overlay `null` means "removed from the base". */
interface State {
  /** Block (route key) → owning host, for confirmed affinities. */
  readonly owners: Map<RouteKey, string | null>;
  /** Affinity key → the block it confirmed (so a delete knows what to drop). */
  readonly byKey: Map<string, RouteKey | null>;
}

const newState = (): State => ({ owners: new Map(), byKey: new Map() });

export class BlockOwners {
  /** A list's state shared with other agents: never changed. */
  #base: State | undefined;
  /** Changes since the base (everything when there is none). */
  #own: State = newState();

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
    const own = this.#own;
    const before = this.#owner(cidr);
    if (confirmed) {
      own.owners.set(cidr, parts.host);
      own.byKey.set(event.key, cidr);
    } else if (this.#confirmedBlock(event.key) === cidr) {
      this.#dropKey(event.key);
      if (before === parts.host) this.#dropOwner(cidr);
    }
    return this.#owner(cidr) === before ? undefined : parts.cidr;
  }

  /**
   * Replaces the whole state with a list of the affinity keys (as many puts on an empty state).
   * `store` and `revision` name the list: a list of the same store, prefix and revision has the same
   * items, so its state is built once and shared by the agents that read it.
   */
  load(items: readonly Pick<KeyValue, "key" | "value">[], list: { store: object; prefix: string; revision: number }): void {
    const cached = listCache.get(list.store);
    if (cached !== undefined && cached.prefix === list.prefix && cached.revision === list.revision && cached.count === items.length) {
      this.#base = cached.state;
      this.#own = newState();
      return;
    }
    const built = new BlockOwners();
    for (const kv of items) built.apply({ type: "put", key: kv.key, value: kv.value });
    const state = built.#own;
    listCache.set(list.store, { prefix: list.prefix, revision: list.revision, count: items.length, state });
    this.#base = state;
    this.#own = newState();
  }

  clear(): void {
    this.#base = undefined;
    this.#own = newState();
  }

  /** The node owning exactly this block, if known. */
  owner(prefix: Prefix): string | undefined {
    return this.#owner(routeKey(prefix));
  }

  get size(): number {
    let n = 0;
    for (const [k, v] of this.#own.owners) if (v !== null && (this.#base === undefined || !this.#base.owners.has(k))) n++;
    if (this.#base) for (const k of this.#base.owners.keys()) if (this.#own.owners.get(k) !== null) n++;
    return n;
  }

  #owner(k: RouteKey): string | undefined {
    const v = this.#own.owners.get(k);
    if (v !== undefined) return v ?? undefined;
    return this.#base?.owners.get(k) ?? undefined;
  }

  #confirmedBlock(key: string): RouteKey | undefined {
    const v = this.#own.byKey.get(key);
    if (v !== undefined) return v ?? undefined;
    return this.#base?.byKey.get(key) ?? undefined;
  }

  // Deletes in the overlay leave a `null` where the base has the key.
  #dropOwner(k: RouteKey): void {
    if (this.#base?.owners.has(k)) this.#own.owners.set(k, null);
    else this.#own.owners.delete(k);
  }

  #dropKey(key: string): void {
    if (this.#base?.byKey.has(key)) this.#own.byKey.set(key, null);
    else this.#own.byKey.delete(key);
  }
}

/** The newest list state per store (the agents of a cluster list one after another at one revision). */
const listCache = new WeakMap<object, { prefix: string; revision: number; count: number; state: State }>();

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
