// An open-addressing hash table from int32 keys to positive int32 values in one Int32Array
// ([key, value] pairs, value 0 = empty slot), linear probing, backward-shift deletion (no
// tombstones). 8 bytes per slot at a load of at most 3/4: about a third of a JS Map's cost per
// entry, and one cache line per probe instead of a chain of pointers.
const MIN_BITS = 3;
const GOLDEN = 0x9e3779b1 | 0;

export class IntTable {
  #data: Int32Array;
  #bits: number;
  #size = 0;

  constructor(bits = MIN_BITS) {
    this.#bits = Math.max(MIN_BITS, bits);
    this.#data = new Int32Array(2 << this.#bits);
  }

  get size(): number {
    return this.#size;
  }

  /** The value for `key`, 0 when absent. */
  get(key: number): number {
    const d = this.#data;
    const mask = (1 << this.#bits) - 1;
    let i = Math.imul(key, GOLDEN) >>> (32 - this.#bits);
    for (;;) {
      const v = d[2 * i + 1]!;
      if (v === 0) return 0;
      if (d[2 * i] === key) return v;
      i = (i + 1) & mask;
    }
  }

  /** Sets `key` to `value` (> 0); true when the key is new. */
  set(key: number, value: number): boolean {
    if (value <= 0) throw new RangeError(`IntTable values are positive, got ${value}`);
    if ((this.#size + 1) * 4 > 3 << this.#bits) this.#resize(this.#bits + 1);
    const d = this.#data;
    const mask = (1 << this.#bits) - 1;
    let i = Math.imul(key, GOLDEN) >>> (32 - this.#bits);
    for (;;) {
      if (d[2 * i + 1] === 0) {
        d[2 * i] = key;
        d[2 * i + 1] = value;
        this.#size++;
        return true;
      }
      if (d[2 * i] === key) {
        d[2 * i + 1] = value;
        return false;
      }
      i = (i + 1) & mask;
    }
  }

  /** Removes `key`; true when it was there. */
  delete(key: number): boolean {
    const d = this.#data;
    const bits = this.#bits;
    const mask = (1 << bits) - 1;
    let i = Math.imul(key, GOLDEN) >>> (32 - bits);
    for (;;) {
      if (d[2 * i + 1] === 0) return false;
      if (d[2 * i] === key) break;
      i = (i + 1) & mask;
    }
    // Backward shift: move later members of the probe run into the hole when their home allows it.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (d[2 * j + 1] === 0) break;
      const home = Math.imul(d[2 * j]!, GOLDEN) >>> (32 - bits);
      // The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (between) continue;
      d[2 * i] = d[2 * j]!;
      d[2 * i + 1] = d[2 * j + 1]!;
      i = j;
    }
    d[2 * i] = 0;
    d[2 * i + 1] = 0;
    this.#size--;
    if (this.#bits > MIN_BITS && this.#size * 8 < 1 << this.#bits) this.#resize(this.#bits - 1);
    return true;
  }

  /** Calls fn for every (key, value). */
  forEach(fn: (key: number, value: number) => void): void {
    const d = this.#data;
    for (let i = 0; i < d.length; i += 2) if (d[i + 1] !== 0) fn(d[i]!, d[i + 1]!);
  }

  /** Bytes of the backing array. */
  get bytes(): number {
    return this.#data.byteLength;
  }

  #resize(bits: number): void {
    const old = this.#data;
    this.#bits = bits;
    this.#data = new Int32Array(2 << bits);
    this.#size = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.set(old[i]!, old[i + 1]!);
  }
}
