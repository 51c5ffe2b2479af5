// A sorted set of string keys with cheap insert, remove and prefix scans, for the in-memory Datastore.
// Keys live in sorted chunks of at most CHUNK keys, so an insert moves at most CHUNK entries instead of
// the whole array, and a prefix scan starts at a binary-searched position instead of scanning the store.

const CHUNK = 512;

/**
 * Orders keys by Unicode code point, which is the byte order of their UTF-8 encoding: the order etcd
 * uses. Plain `<` compares UTF-16 code units and disagrees for astral characters vs U+E000..U+FFFF.
 */
const HIGH = /[\uD800-\uFFFF]/;

export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  // Fast path (nearly all keys): without code units >= 0xD800 both orders agree.
  if (!HIGH.test(a) || !HIGH.test(b)) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800..0xDFFF) encode code points above 0xFFFF, so they sort after 0xE000..0xFFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys && (xs ? y : x) >= 0xe000) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

export class SortedKeys {
  private chunks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds `key`; returns false if it was already present. */
  insert(key: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.count = 1;
      return true;
    }
    const ci = Math.min(this.chunkFor(key), this.chunks.length - 1);
    const chunk = this.chunks[ci]!;
    const i = lowerBound(chunk, key);
    if (i < chunk.length && chunk[i] === key) return false;
    chunk.splice(i, 0, key);
    this.count++;
    if (chunk.length > CHUNK) this.chunks.splice(ci + 1, 0, chunk.splice(CHUNK >> 1));
    return true;
  }

  /** Removes `key`; returns false if it was absent. */
  remove(key: string): boolean {
    const ci = this.chunkFor(key);
    const chunk = this.chunks[ci];
    if (!chunk) return false;
    const i = lowerBound(chunk, key);
    if (chunk[i] !== key) return false;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(ci, 1);
    return true;
  }

  /** The keys starting with `prefix`, in order. */
  *withPrefix(prefix: string): Generator<string> {
    const first = this.chunkFor(prefix);
    for (let ci = first; ci < this.chunks.length; ci++) {
      const chunk = this.chunks[ci]!;
      for (let i = ci === first ? lowerBound(chunk, prefix) : 0; i < chunk.length; i++) {
        const key = chunk[i]!;
        if (!key.startsWith(prefix)) return;
        yield key;
      }
    }
  }

  /** Calls `fn` with each key starting with `prefix`, in order (withPrefix without a generator's allocations). */
  eachWithPrefix(prefix: string, fn: (key: string) => void): void {
    const first = this.chunkFor(prefix);
    for (let ci = first; ci < this.chunks.length; ci++) {
      const chunk = this.chunks[ci]!;
      for (let i = ci === first ? lowerBound(chunk, prefix) : 0; i < chunk.length; i++) {
        const key = chunk[i]!;
        if (!key.startsWith(prefix)) return;
        fn(key);
      }
    }
  }

  /** Index of the first chunk whose last key is >= key (chunks.length if none). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    const plain = !HIGH.test(key);
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const chunk = this.chunks[mid]!;
      const last = chunk[chunk.length - 1]!;
      if (plain ? last < key : compareKeys(last, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

// A key without code units >= 0xD800 compares the same by code unit and by code point against any
// other key (see compareKeys), so the searches test the probe key once instead of on every comparison.
function lowerBound(arr: readonly string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  const plain = !HIGH.test(key);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const k = arr[mid]!;
    if (plain ? k < key : compareKeys(k, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
