// A map from prefix keys to values for tables of a million routes. A JS Map keyed by IPv4 prefixes
// costs a boxed number per key plus ~40 octets of hash table per entry and is the hottest part of a
// full-table ingest; here IPv4 keys live in typed arrays of an open-addressing table (linear probing,
// backward-shift deletion: no tombstones) and only the value is a JS reference. IPv6 keys (text) use
// a plain Map: IPv6 tables are small in this project.
//
// Keys are what the speaker already uses: a number `addr * 64 + len` for IPv4, a string for IPv6.
export type PrefixKey = number | string;

/** The IPv4 key of `addr` (uint32) / `len`. */
export const v4Key = (addr: number, len: number): number => (addr >>> 0) * 64 + len;

const EMPTY = 0;
/** IPv4 keys kept in plain lists before a hash table is made. */
const SMALL = 8;
const NONE_I32 = new Int32Array(0);
const NONE_U8 = new Uint8Array(0);
/** The values of a map without IPv4 keys: shared, never written (replaced by the first key's list). */
const NO_VALS = Object.freeze([]) as unknown as never[];

/** An array of `n` holes (read as undefined). Filling it would double the cost of a resize for nothing. */
const holes = <V>(n: number): (V | undefined)[] => new Array<V | undefined>(n);

export class PrefixMap<V> {
  /** addr | 0 per slot. */
  private addrs: Int32Array;
  /** len + 1 per slot; 0 = empty. */
  private lens: Uint8Array;
  private vals: (V | undefined)[];
  private mask: number;
  /** 32 - log2(capacity): the hash keeps the top bits, the well-mixed ones. */
  private shift: number;
  private count4 = 0;
  private v6: Map<string, V> | undefined;
  /**
   * Up to SMALL IPv4 keys live here, their values at the same index in `vals`, before the table
   * exists: a speaker has one of these per peer (Adj-RIB-Out) and in a mesh each holds a route or two.
   */
  private smallKeys: number[] | undefined;
  /**
   * The only IPv4 key, before any list (addr | 0 and len + 1; l1 = 0: none), and its value: most
   * Adj-RIB-Outs of a mesh never get a second key, and two one-element lists cost ~110 octets.
   */
  private a1 = 0;
  private l1 = 0;
  private v1: V | undefined = undefined;

  /** Nothing is allocated until the first key. */
  constructor() {
    this.addrs = NONE_I32;
    this.lens = NONE_U8;
    this.vals = NO_VALS;
    this.mask = 0;
    this.shift = 32;
  }

  get size(): number {
    return this.count4 + (this.v6?.size ?? 0);
  }

  private slot(addr: number, len: number): number {
    // Fibonacci hashing of the address, the length mixed in (10.0.0.0/8 and /16 share an address).
    return Math.imul(addr ^ (len << 26) ^ (addr >>> 15), 0x9e3779b1) >>> this.shift;
  }

  /** The slot holding the key, or -1. */
  private find(addr: number, len: number): number {
    if (this.count4 === 0) return -1;
    const l = len + 1;
    let i = this.slot(addr, len);
    for (;;) {
      const s = this.lens[i]!;
      if (s === EMPTY) return -1;
      if (s === l && this.addrs[i] === addr) return i;
      i = (i + 1) & this.mask;
    }
  }

  get(k: PrefixKey): V | undefined {
    if (typeof k === "string") return this.v6?.get(k);
    if (this.lens.length === 0) {
      if (this.l1 !== 0) return k === v4Key(this.a1, this.l1 - 1) ? this.v1 : undefined;
      const i = this.smallKeys?.indexOf(k) ?? -1;
      return i < 0 ? undefined : this.vals[i];
    }
    const len = (k % 64) | 0;
    const i = this.find(((k - len) / 64) | 0, len);
    return i < 0 ? undefined : this.vals[i];
  }

  has(k: PrefixKey): boolean {
    if (typeof k === "string") return this.v6?.has(k) ?? false;
    if (this.lens.length === 0) return this.l1 !== 0 ? k === v4Key(this.a1, this.l1 - 1) : (this.smallKeys?.indexOf(k) ?? -1) >= 0;
    const len = (k % 64) | 0;
    return this.find(((k - len) / 64) | 0, len) >= 0;
  }

  set(k: PrefixKey, v: V): this {
    if (typeof k === "string") {
      (this.v6 ??= new Map()).set(k, v);
      return this;
    }
    if (this.lens.length === 0) {
      const keys = this.smallKeys;
      if (keys === undefined) {
        if (this.l1 === 0) {
          // `| 0`: `%` of a key past 2^31 (a heap number) gives a heap number, and storing one in l1
          // would make the field a boxed double in every PrefixMap.
          const len = (k % 64) | 0;
          this.a1 = ((k - len) / 64) | 0;
          this.l1 = len + 1;
          this.v1 = v;
          this.count4++;
          return this;
        }
        const k1 = v4Key(this.a1, this.l1 - 1);
        if (k === k1) {
          this.v1 = v;
          return this;
        }
        // A second key: both go to the lists.
        this.smallKeys = [k1, k];
        this.vals = [this.v1, v];
        this.l1 = 0;
        this.v1 = undefined;
        this.count4++;
        return this;
      }
      const i = keys.indexOf(k);
      if (i >= 0) {
        this.vals[i] = v;
        return this;
      }
      if (keys.length < SMALL) {
        keys.push(k);
        this.vals.push(v);
        this.count4++;
        return this;
      }
      this.grow();
    }
    const len = (k % 64) | 0;
    const addr = ((k - len) / 64) | 0;
    const l = len + 1;
    let i = this.slot(addr, len);
    for (;;) {
      const s = this.lens[i]!;
      if (s === EMPTY) break;
      if (s === l && this.addrs[i] === addr) {
        this.vals[i] = v;
        return this;
      }
      i = (i + 1) & this.mask;
    }
    this.addrs[i] = addr;
    this.lens[i] = l;
    this.vals[i] = v;
    // Grow at 70% load: linear probing degrades quickly past that.
    if (++this.count4 * 10 > this.mask * 7) this.grow();
    return this;
  }

  delete(k: PrefixKey): boolean {
    if (typeof k === "string") return this.v6?.delete(k) ?? false;
    if (this.lens.length === 0) {
      if (this.l1 !== 0) {
        if (k !== v4Key(this.a1, this.l1 - 1)) return false;
        this.l1 = 0;
        this.v1 = undefined;
        this.count4--;
        return true;
      }
      const i = this.smallKeys?.indexOf(k) ?? -1;
      if (i < 0) return false;
      this.smallKeys!.splice(i, 1);
      this.vals.splice(i, 1);
      this.count4--;
      if (this.count4 === 0) {
        this.smallKeys = undefined;
        this.vals = NO_VALS;
      }
      return true;
    }
    const len = (k % 64) | 0;
    let i = this.find(((k - len) / 64) | 0, len);
    if (i < 0) return false;
    this.count4--;
    // Backward-shift deletion: move later members of the probe run into the hole.
    const mask = this.mask;
    for (;;) {
      this.lens[i] = EMPTY;
      this.vals[i] = undefined;
      let j = i;
      for (;;) {
        j = (j + 1) & mask;
        const s = this.lens[j]!;
        if (s === EMPTY) return true;
        const home = this.slot(this.addrs[j]!, s - 1);
        // Keep j where it is when its home lies cyclically in (i, j].
        if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
        this.addrs[i] = this.addrs[j]!;
        this.lens[i] = s;
        this.vals[i] = this.vals[j];
        i = j;
        break;
      }
    }
  }

  clear(): void {
    this.addrs = NONE_I32;
    this.lens = NONE_U8;
    this.vals = NO_VALS;
    this.mask = 0;
    this.shift = 32;
    this.count4 = 0;
    this.smallKeys = undefined;
    this.l1 = 0;
    this.v1 = undefined;
    this.v6?.clear();
  }

  private grow(): void {
    const { addrs, lens, vals } = this;
    if (lens.length === 0) {
      // From the small lists to a table: re-insert them.
      const keys = this.smallKeys ?? [];
      this.smallKeys = undefined;
      this.vals = holes<V>(32);
      this.addrs = new Int32Array(32);
      this.lens = new Uint8Array(32);
      this.mask = 31;
      this.shift = 27;
      this.count4 = 0;
      keys.forEach((k, i) => this.set(k, vals[i] as V));
      return;
    }
    const cap = lens.length * 2;
    this.addrs = new Int32Array(cap);
    this.lens = new Uint8Array(cap);
    this.vals = holes<V>(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    for (let i = 0; i < lens.length; i++) {
      const s = lens[i]!;
      if (s === EMPTY) continue;
      let j = this.slot(addrs[i]!, s - 1);
      while (this.lens[j] !== EMPTY) j = (j + 1) & this.mask;
      this.addrs[j] = addrs[i]!;
      this.lens[j] = s;
      this.vals[j] = vals[i];
    }
  }

  /** Values in table order (not insertion order). Do not delete while iterating. */
  *values(): IterableIterator<V> {
    const { lens, vals } = this;
    if (this.l1 !== 0) yield this.v1 as V;
    if (lens.length === 0 && this.smallKeys) yield* vals.slice() as V[];
    for (let i = 0; i < lens.length; i++) if (lens[i] !== EMPTY) yield vals[i] as V;
    if (this.v6) yield* this.v6.values();
  }

  *entries(): IterableIterator<[PrefixKey, V]> {
    const { addrs, lens, vals } = this;
    if (this.l1 !== 0) yield [v4Key(this.a1, this.l1 - 1), this.v1 as V];
    if (lens.length === 0 && this.smallKeys) {
      const keys = this.smallKeys.slice();
      const vs = vals.slice();
      for (let i = 0; i < keys.length; i++) yield [keys[i]!, vs[i] as V];
    }
    for (let i = 0; i < lens.length; i++) {
      const s = lens[i]!;
      if (s !== EMPTY) yield [v4Key(addrs[i]!, s - 1), vals[i] as V];
    }
    if (this.v6) yield* this.v6.entries();
  }

  [Symbol.iterator](): IterableIterator<[PrefixKey, V]> {
    return this.entries();
  }
}
