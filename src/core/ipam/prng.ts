// Reproducible pseudo-randomness for block search order. Calico seeds Go's math/rand with the FNV-32
// hash of the hostname; we keep the seed (FNV-1, 32-bit, over the UTF-8 bytes, as Go's fnv.New32)
// but use our own small generator (SplitMix32), NOT Go's math/rand. So the exact start block differs
// from Calico's while the properties are the same: the same host always walks the same order, and
// different hosts start at different places in the pool.

const utf8 = new TextEncoder();

/** FNV-1 32-bit hash (multiply, then xor), the algorithm of Go's `hash/fnv.New32`. */
export function fnv32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of utf8.encode(text)) {
    h = Math.imul(h, 0x01000193) >>> 0;
    h = (h ^ b) >>> 0;
  }
  return h >>> 0;
}

/** SplitMix32: a tiny, well-mixed generator; returns unsigned 32-bit integers. */
export function splitMix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A uniformly distributed integer in [0, n) (n >= 1), from enough 32-bit draws that the bias is negligible. */
export function randomBelow(next: () => number, n: bigint): bigint {
  if (n <= 1n) return 0n;
  let bits = 0;
  for (let v = n; v > 0n; v >>= 1n) bits++;
  let acc = 0n;
  for (let have = 0; have < bits + 32; have += 32) acc = (acc << 32n) | BigInt(next());
  return acc % n;
}
