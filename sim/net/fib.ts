// A forwarding table: longest-prefix match over IPv4 and IPv6, several owners per prefix (the most
// preferred one is active, as the kernel keeps one route per prefix and the routing daemons decide),
// ECMP by a deterministic flow hash.
//
// Layout: one hash map per prefix length in use, keyed by the masked address (IPv4 as an int32 so
// V8 keeps it a small integer, IPv6 as a bigint), and a descending list of the lengths in use. A
// lookup is one map probe per length in use (Calico tables use few: /32, /26, /24, /0). Route values
// are meant to be shared between tables (see EntryInterner): 10,000 nodes that route a block to the
// same node through the same tunnel hold one entry object between them, so a route costs a map slot.
import { maskOf, type Family, type IPAddress, type Prefix } from "../../src/core/net/ip.ts";
import type { Encapsulation } from "../../src/core/agent/dataplane.ts";

/** Who installed a route; decides which one is active when several own one prefix (lowest first). */
export type RouteOwner = "connected" | "workload" | "static" | "agent" | "bgp";
const OWNER_RANK: Readonly<Record<RouteOwner, number>> = { connected: 0, workload: 1, static: 2, agent: 3, bgp: 4 };

/** Where a route came from, as shown to users (RouteObservation.source). */
export type RouteSource = "connected" | "static" | "bgp" | "ipam" | "workload";

export interface FibEntry {
  readonly kind: "unicast" | "blackhole" | "local";
  /** Unicast next hops (ECMP when several); empty for a connected route (the destination is on-link). */
  readonly nextHops: readonly IPAddress[];
  readonly encap: Encapsulation;
  /** Segment of a connected route, pod interface of a local route, tunnel device of an encapsulated one. */
  readonly device?: string;
  readonly mtu?: number;
  readonly owner: RouteOwner;
  readonly source: RouteSource;
}

type Slot = FibEntry | FibEntry[];

const V4_MASK: Int32Array = (() => {
  const m = new Int32Array(33);
  for (let len = 1; len <= 32; len++) m[len] = (0xffffffff << (32 - len)) | 0;
  return m;
})();
const V6_MASK: bigint[] = Array.from({ length: 129 }, (_, len) => maskOf(6, len));

const best = (s: Slot): FibEntry => (Array.isArray(s) ? s[0]! : s);

export class Fib {
  readonly #v4: (Map<number, Slot> | undefined)[] = new Array<Map<number, Slot> | undefined>(33);
  #v4Lens: number[] = [];
  readonly #v6 = new Map<number, Map<bigint, Slot>>();
  #v6Lens: number[] = [];
  #size = 0;
  /** Bumped on every change, so caches of paths through this table can tell they are stale. */
  gen = 0;
  /** Prefix length of the last successful lookup (saves an allocation per lookup). */
  matchedLen = -1;

  /** Number of (prefix, owner) routes held. */
  get size(): number {
    return this.#size;
  }

  /** Installs or replaces the route of `entry.owner` for `prefix`. */
  set(prefix: Prefix, entry: FibEntry): void {
    const map = this.#map(prefix.family, prefix.len, true)!;
    const key = keyOf(prefix);
    const slot = map.get(key);
    this.gen++;
    if (slot === undefined) {
      map.set(key, entry);
      this.#size++;
      return;
    }
    const list = Array.isArray(slot) ? slot : [slot];
    const i = list.findIndex((e) => e.owner === entry.owner);
    if (i >= 0) list[i] = entry;
    else {
      list.push(entry);
      this.#size++;
      list.sort((a, b) => OWNER_RANK[a.owner] - OWNER_RANK[b.owner]);
    }
    map.set(key, list.length === 1 ? list[0]! : list);
  }

  /** Removes `owner`'s route for `prefix`; true when there was one. */
  delete(prefix: Prefix, owner: RouteOwner): boolean {
    const map = this.#map(prefix.family, prefix.len, false);
    if (map === undefined) return false;
    const key = keyOf(prefix);
    const slot = map.get(key);
    if (slot === undefined) return false;
    if (Array.isArray(slot)) {
      const rest = slot.filter((e) => e.owner !== owner);
      if (rest.length === slot.length) return false;
      map.set(key, rest.length === 1 ? rest[0]! : rest);
    } else {
      if (slot.owner !== owner) return false;
      map.delete(key);
      if (map.size === 0) this.#dropLength(prefix.family, prefix.len);
    }
    this.#size--;
    this.gen++;
    return true;
  }

  /** The active route for exactly this prefix. */
  get(prefix: Prefix): FibEntry | undefined {
    const slot = this.#map(prefix.family, prefix.len, false)?.get(keyOf(prefix));
    return slot === undefined ? undefined : best(slot);
  }

  /** Every owner's route for exactly this prefix, most preferred first. */
  getAll(prefix: Prefix): readonly FibEntry[] {
    const slot = this.#map(prefix.family, prefix.len, false)?.get(keyOf(prefix));
    return slot === undefined ? [] : Array.isArray(slot) ? slot : [slot];
  }

  /** Longest-prefix match; the matched length is left in `matchedLen`. */
  lookup(addr: IPAddress): FibEntry | undefined {
    return addr.family === 4 ? this.lookupV4(Number(addr.value)) : this.lookupV6(addr.value);
  }

  lookupV4(addr: number): FibEntry | undefined {
    const a = addr | 0;
    for (const len of this.#v4Lens) {
      const slot = this.#v4[len]!.get(a & V4_MASK[len]!);
      if (slot !== undefined) {
        this.matchedLen = len;
        return best(slot);
      }
    }
    this.matchedLen = -1;
    return undefined;
  }

  lookupV6(addr: bigint): FibEntry | undefined {
    for (const len of this.#v6Lens) {
      const slot = this.#v6.get(len)!.get(addr & V6_MASK[len]!);
      if (slot !== undefined) {
        this.matchedLen = len;
        return best(slot);
      }
    }
    this.matchedLen = -1;
    return undefined;
  }

  /** Active routes (one per prefix), in no particular order. */
  *entries(): IterableIterator<{ prefix: Prefix; entry: FibEntry }> {
    for (const len of this.#v4Lens) {
      for (const [k, slot] of this.#v4[len]!) yield { prefix: { family: 4, addr: BigInt(k >>> 0), len }, entry: best(slot) };
    }
    for (const len of this.#v6Lens) {
      for (const [k, slot] of this.#v6.get(len)!) yield { prefix: { family: 6, addr: k, len }, entry: best(slot) };
    }
  }

  #map(family: Family, len: number, create: true): Map<number | bigint, Slot>;
  #map(family: Family, len: number, create: false): Map<number | bigint, Slot> | undefined;
  #map(family: Family, len: number, create: boolean): Map<number | bigint, Slot> | undefined {
    if (family === 4) {
      let m = this.#v4[len];
      if (m === undefined && create) {
        m = new Map();
        this.#v4[len] = m;
        this.#v4Lens = [...this.#v4Lens, len].sort((a, b) => b - a);
      }
      return m as Map<number | bigint, Slot> | undefined;
    }
    let m = this.#v6.get(len);
    if (m === undefined && create) {
      m = new Map();
      this.#v6.set(len, m);
      this.#v6Lens = [...this.#v6Lens, len].sort((a, b) => b - a);
    }
    return m as Map<number | bigint, Slot> | undefined;
  }

  #dropLength(family: Family, len: number): void {
    if (family === 4) {
      this.#v4[len] = undefined;
      this.#v4Lens = this.#v4Lens.filter((l) => l !== len);
    } else {
      this.#v6.delete(len);
      this.#v6Lens = this.#v6Lens.filter((l) => l !== len);
    }
  }
}

const keyOf = (p: Prefix): number | bigint => (p.family === 4 ? Number(p.addr) | 0 : p.addr);

/**
 * Hands out one shared, frozen object per distinct route value, so equal routes in many tables
 * cost one object. Entries are never released (distinct values grow with nodes, not with routes).
 */
export class EntryInterner {
  readonly #entries = new Map<string, FibEntry>();

  intern(e: FibEntry): FibEntry {
    const n = e.nextHops;
    const hops = n.length === 0 ? "" : n.length === 1 ? hopKey(n[0]!) : n.map(hopKey).join(",");
    const key = `${e.kind}|${e.owner}|${e.source}|${e.encap}|${e.device ?? ""}|${e.mtu ?? ""}|${hops}`;
    let shared = this.#entries.get(key);
    if (shared === undefined) {
      shared = Object.freeze({ ...e, nextHops: Object.freeze(e.nextHops.map((h) => Object.freeze({ family: h.family, value: h.value }))) });
      this.#entries.set(key, shared);
    }
    return shared;
  }

  get size(): number {
    return this.#entries.size;
  }
}

const hopKey = (h: IPAddress): string => (h.family === 4 ? String(Number(h.value)) : `6:${h.value}`);

/** A deterministic 5-tuple hash (FNV-1a over 32-bit words), for ECMP choices that are stable per flow. */
export function flowHash(src: bigint, dst: bigint, protocol: number, srcPort = 0, dstPort = 0): number {
  let h = 0x811c9dc5;
  const mix = (w: number): void => {
    h = Math.imul(h ^ (w & 0xffff), 0x01000193);
    h = Math.imul(h ^ (w >>> 16), 0x01000193);
  };
  for (const v of [src, dst]) {
    let x = v;
    do {
      mix(Number(x & 0xffffffffn));
      x >>= 32n;
    } while (x > 0n);
  }
  mix(protocol);
  mix(srcPort);
  mix(dstPort);
  return h >>> 0;
}

/** The next hop ECMP picks for a flow hash (undefined for a route without next hops). */
export const pickNextHop = (e: FibEntry, hash: number): IPAddress | undefined =>
  e.nextHops.length <= 1 ? e.nextHops[0] : e.nextHops[hash % e.nextHops.length];
