// A forwarding table: longest-prefix match over IPv4 and IPv6, several owners per prefix (the most
// preferred one is active, as the kernel keeps one route per prefix and the routing daemons decide),
// ECMP by a deterministic flow hash.
//
// Layout: one hash table per prefix length in use, keyed by the masked address, and a descending
// list of the lengths in use; a lookup is one probe per length in use (Calico tables use few: /32,
// /26, /24, /0). IPv4 tables are open-addressing Int32Arrays (int-table.ts) holding entry ids;
// IPv6 ones are Maps keyed by bigint. Route values are meant to be shared between tables (see
// EntryInterner): 10,000 nodes that route a block to the same node through the same tunnel hold one
// entry between them, so an IPv4 route costs about 8-21 bytes of table.
import { maskOf, type Family, type IPAddress, type Prefix } from "../../src/core/net/ip.ts";
import type { Encapsulation } from "../../src/core/agent/dataplane.ts";
import { IntTable } from "./int-table.ts";

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
const byRank = (a: FibEntry, b: FibEntry): number => OWNER_RANK[a.owner] - OWNER_RANK[b.owner];

export class Fib {
  /** IPv4: per length, masked address (int32) → entry id in the registry. */
  readonly #v4: (IntTable | undefined)[] = new Array<IntTable | undefined>(33);
  #v4Lens: number[] = [];
  /** IPv4 prefixes with more than one owner: "len/key" → entries, preferred first (the table holds the first). */
  readonly #v4Multi = new Map<string, FibEntry[]>();
  readonly #v6 = new Map<number, Map<bigint, Slot>>();
  #v6Lens: number[] = [];
  #size = 0;
  readonly #reg: EntryInterner;
  /** Bumped on every change, so caches of paths through this table can tell they are stale. */
  gen = 0;
  /** Prefix length of the last successful lookup (saves an allocation per lookup). */
  matchedLen = -1;

  /** Tables that share a registry (one per network) share entry ids; the default is process-wide. */
  constructor(registry: EntryInterner = DEFAULT_REGISTRY) {
    this.#reg = registry;
  }

  /** Number of (prefix, owner) routes held. */
  get size(): number {
    return this.#size;
  }

  /** Installs or replaces the route of `entry.owner` for `prefix`. */
  set(prefix: Prefix, entry: FibEntry): void {
    this.gen++;
    if (prefix.family === 4) return this.#set4(prefix, entry);
    const map = this.#map6(prefix.len, true)!;
    const slot = map.get(prefix.addr);
    if (slot === undefined) {
      map.set(prefix.addr, entry);
      this.#size++;
      return;
    }
    const list = Array.isArray(slot) ? slot : [slot];
    if (this.#merge(list, entry)) this.#size++;
    map.set(prefix.addr, list.length === 1 ? list[0]! : list);
  }

  /** Removes `owner`'s route for `prefix`; true when there was one. */
  delete(prefix: Prefix, owner: RouteOwner): boolean {
    const removed = prefix.family === 4 ? this.#delete4(prefix, owner) : this.#delete6(prefix, owner);
    if (removed) {
      this.#size--;
      this.gen++;
    }
    return removed;
  }

  /** The active route for exactly this prefix. */
  get(prefix: Prefix): FibEntry | undefined {
    return this.getAll(prefix)[0];
  }

  /** Every owner's route for exactly this prefix, most preferred first. */
  getAll(prefix: Prefix): readonly FibEntry[] {
    if (prefix.family === 4) {
      const key = Number(prefix.addr) | 0;
      const id = this.#v4[prefix.len]?.get(key) ?? 0;
      if (id === 0) return [];
      return this.#v4Multi.get(`${prefix.len}/${key}`) ?? [this.#reg.entryAt(id)];
    }
    const slot = this.#v6.get(prefix.len)?.get(prefix.addr);
    return slot === undefined ? [] : Array.isArray(slot) ? slot : [slot];
  }

  /** Longest-prefix match; the matched length is left in `matchedLen`. */
  lookup(addr: IPAddress): FibEntry | undefined {
    return addr.family === 4 ? this.lookupV4(Number(addr.value)) : this.lookupV6(addr.value);
  }

  lookupV4(addr: number): FibEntry | undefined {
    const a = addr | 0;
    for (const len of this.#v4Lens) {
      const id = this.#v4[len]!.get(a & V4_MASK[len]!);
      if (id !== 0) {
        this.matchedLen = len;
        return this.#reg.entryAt(id);
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
    const out: { prefix: Prefix; entry: FibEntry }[] = [];
    for (const len of this.#v4Lens) {
      this.#v4[len]!.forEach((k, id) => out.push({ prefix: { family: 4, addr: BigInt(k >>> 0), len }, entry: this.#reg.entryAt(id) }));
    }
    yield* out;
    for (const len of this.#v6Lens) {
      for (const [k, slot] of this.#v6.get(len)!) yield { prefix: { family: 6, addr: k, len }, entry: best(slot) };
    }
  }

  /** Bytes of the IPv4 hash tables' arrays (they live outside the JS heap). */
  get tableBytes(): number {
    let n = 0;
    for (const len of this.#v4Lens) n += this.#v4[len]!.bytes;
    return n;
  }

  /** Puts `entry` into an owner list (replacing its owner's), sorted by preference; true when it added one. */
  #merge(list: FibEntry[], entry: FibEntry): boolean {
    const i = list.findIndex((e) => e.owner === entry.owner);
    if (i >= 0) {
      list[i] = entry;
      return false;
    }
    list.push(entry);
    list.sort(byRank);
    return true;
  }

  #set4(prefix: Prefix, entry: FibEntry): void {
    let t = this.#v4[prefix.len];
    if (t === undefined) {
      t = new IntTable();
      this.#v4[prefix.len] = t;
      this.#v4Lens = [...this.#v4Lens, prefix.len].sort((a, b) => b - a);
    }
    const key = Number(prefix.addr) | 0;
    const cur = t.get(key);
    if (cur === 0) {
      t.set(key, this.#reg.idOf(entry));
      this.#size++;
      return;
    }
    const mk = `${prefix.len}/${key}`;
    const list = this.#v4Multi.get(mk) ?? [this.#reg.entryAt(cur)];
    if (this.#merge(list, entry)) this.#size++;
    if (list.length > 1) this.#v4Multi.set(mk, list);
    t.set(key, this.#reg.idOf(list[0]!));
  }

  #delete4(prefix: Prefix, owner: RouteOwner): boolean {
    const t = this.#v4[prefix.len];
    if (t === undefined) return false;
    const key = Number(prefix.addr) | 0;
    const cur = t.get(key);
    if (cur === 0) return false;
    const mk = `${prefix.len}/${key}`;
    const list = this.#v4Multi.get(mk);
    if (list !== undefined) {
      const rest = list.filter((e) => e.owner !== owner);
      if (rest.length === list.length) return false;
      if (rest.length === 1) this.#v4Multi.delete(mk);
      else this.#v4Multi.set(mk, rest);
      t.set(key, this.#reg.idOf(rest[0]!));
      return true;
    }
    if (this.#reg.entryAt(cur).owner !== owner) return false;
    t.delete(key);
    if (t.size === 0) {
      this.#v4[prefix.len] = undefined;
      this.#v4Lens = this.#v4Lens.filter((l) => l !== prefix.len);
    }
    return true;
  }

  #delete6(prefix: Prefix, owner: RouteOwner): boolean {
    const map = this.#map6(prefix.len, false);
    const slot = map?.get(prefix.addr);
    if (map === undefined || slot === undefined) return false;
    if (Array.isArray(slot)) {
      const rest = slot.filter((e) => e.owner !== owner);
      if (rest.length === slot.length) return false;
      map.set(prefix.addr, rest.length === 1 ? rest[0]! : rest);
      return true;
    }
    if (slot.owner !== owner) return false;
    map.delete(prefix.addr);
    if (map.size === 0) {
      this.#v6.delete(prefix.len);
      this.#v6Lens = this.#v6Lens.filter((l) => l !== prefix.len);
    }
    return true;
  }

  #map6(len: number, create: boolean): Map<bigint, Slot> | undefined {
    let m = this.#v6.get(len);
    if (m === undefined && create) {
      m = new Map();
      this.#v6.set(len, m);
      this.#v6Lens = [...this.#v6Lens, len].sort((a, b) => b - a);
    }
    return m;
  }
}

/**
 * Hands out one shared, frozen object per distinct route value, so equal routes in many tables
 * cost one object, and numbers the entries tables store (an IPv4 table slot holds an id, not a
 * pointer). Entries are never released: distinct values grow with nodes, not with routes. Tables
 * given entries that were not interned register them by identity.
 */
export class EntryInterner {
  readonly #entries = new Map<string, FibEntry>();
  /** id → entry; id 0 is "empty". */
  readonly #byId: FibEntry[] = [undefined as unknown as FibEntry];
  readonly #ids = new Map<FibEntry, number>();
  readonly #fast = new Map<number, Map<number, FibEntry>>();

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

  /**
   * intern() for a route given by its parts, allocating only for a value not seen before. Routes
   * with one IPv4 next hop and no device or MTU (the bulk of a cluster's routes) skip the string key.
   */
  route(kind: FibEntry["kind"], nextHops: readonly IPAddress[], encap: Encapsulation, owner: RouteOwner, source: RouteSource, device?: string, mtu?: number): FibEntry {
    const nh = nextHops[0];
    if (nextHops.length !== 1 || nh === undefined || nh.family !== 4 || device !== undefined || mtu !== undefined) {
      return this.intern({ kind, nextHops, encap, owner, source, ...(device !== undefined ? { device } : {}), ...(mtu !== undefined ? { mtu } : {}) });
    }
    const code = ((KIND_CODE[kind] * 8 + OWNER_RANK[owner]) * 8 + SOURCE_CODE[source]) * 4 + ENCAP_CODE[encap];
    let byHop = this.#fast.get(code);
    if (byHop === undefined) this.#fast.set(code, (byHop = new Map()));
    const k = Number(nh.value);
    let e = byHop.get(k);
    if (e === undefined) {
      e = this.intern({ kind, nextHops, encap, owner, source });
      byHop.set(k, e);
    }
    return e;
  }

  /** The id of an entry (registered on first use). */
  idOf(e: FibEntry): number {
    let id = this.#ids.get(e);
    if (id === undefined) {
      id = this.#byId.length;
      this.#byId.push(e);
      this.#ids.set(e, id);
    }
    return id;
  }

  entryAt(id: number): FibEntry {
    return this.#byId[id]!;
  }

  /** Distinct interned values. */
  get size(): number {
    return this.#entries.size;
  }
}

const KIND_CODE: Readonly<Record<FibEntry["kind"], number>> = { unicast: 0, blackhole: 1, local: 2 };
const SOURCE_CODE: Readonly<Record<RouteSource, number>> = { connected: 0, static: 1, bgp: 2, ipam: 3, workload: 4 };
const ENCAP_CODE: Readonly<Record<Encapsulation, number>> = { none: 0, ipip: 1, vxlan: 2 };

const DEFAULT_REGISTRY = new EntryInterner();

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
