import { describe, expect, test } from "@jest/globals";
import { PrefixMap, type PrefixKey, v4Key } from "../../../src/core/bgp/prefix-map.ts";

/** Deterministic xorshift, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

describe("PrefixMap", () => {
  test("behaves like a Map under random sets and deletes (growth and backward-shift deletion)", () => {
    const rand = rng(7);
    const m = new PrefixMap<number>();
    const ref = new Map<PrefixKey, number>();
    // A small address space so keys collide, repeat and get deleted often; all lengths, high addresses too.
    const key = (): PrefixKey => {
      const r = rand();
      if (r < 0.05) return `v6:${Math.floor(rand() * 50)}`;
      const addr = r < 0.5 ? Math.floor(rand() * 3000) : 0xfffff000 + Math.floor(rand() * 3000);
      return v4Key(addr, Math.floor(rand() * 33));
    };
    for (let i = 0; i < 30_000; i++) {
      const k = key();
      const op = rand();
      if (op < 0.55) {
        m.set(k, i);
        ref.set(k, i);
      } else if (op < 0.9) {
        expect(m.delete(k)).toBe(ref.delete(k));
      } else {
        expect(m.get(k)).toBe(ref.get(k));
        expect(m.has(k)).toBe(ref.has(k));
      }
      if (i % 5000 === 0) {
        expect(m.size).toBe(ref.size);
        expect(new Map(m.entries())).toEqual(ref);
      }
    }
    expect(m.size).toBe(ref.size);
    expect(new Map(m.entries())).toEqual(ref);
    expect([...m.values()].sort((a, b) => a - b)).toEqual([...ref.values()].sort((a, b) => a - b));
    m.clear();
    expect(m.size).toBe(0);
    expect([...m.values()]).toEqual([]);
  });

  test("keys that differ only in length, and 0.0.0.0/0 and 255.255.255.255/32, are distinct", () => {
    const m = new PrefixMap<string>();
    for (let len = 0; len <= 32; len++) m.set(v4Key(0x0a000000, len), `10/${len}`);
    m.set(v4Key(0, 0), "default");
    m.set(v4Key(0xffffffff, 32), "all ones");
    expect(m.size).toBe(35);
    expect(m.get(v4Key(0x0a000000, 8))).toBe("10/8");
    expect(m.get(v4Key(0x0a000000, 24))).toBe("10/24");
    expect(m.get(v4Key(0, 0))).toBe("default");
    expect(m.get(v4Key(0xffffffff, 32))).toBe("all ones");
    expect(m.get(v4Key(0xffffffff, 31))).toBeUndefined();
  });

  test("one key (kept in fields, before any list): get, has, overwrite, a second key, delete, iteration", () => {
    const m = new PrefixMap<string>();
    const hi = v4Key(0xffffffff, 32);
    const lo = v4Key(0x0a000000, 8);
    m.set(hi, "a");
    expect([m.get(hi), m.has(hi), m.get(lo), m.has(lo), m.size]).toEqual(["a", true, undefined, false, 1]);
    m.set(hi, "b");
    expect([...m.entries()]).toEqual([[hi, "b"]]);
    expect(m.delete(lo)).toBe(false);
    m.set(lo, "c");
    expect(new Map(m.entries())).toEqual(new Map([[hi, "b"], [lo, "c"]]));
    expect(m.delete(hi)).toBe(true);
    expect([m.get(hi), m.get(lo), m.size]).toEqual([undefined, "c", 1]);
    expect(m.delete(lo)).toBe(true);
    expect([m.size, [...m.values()]]).toEqual([0, []]);
    m.set(lo, "d");
    m.clear();
    expect([m.size, m.get(lo)]).toEqual([0, undefined]);
  });

  test("a few keys (the small lists before a table) behave like a Map too, also across the switch", () => {
    const rand = rng(11);
    for (let round = 0; round < 200; round++) {
      const m = new PrefixMap<number>();
      const ref = new Map<PrefixKey, number>();
      for (let i = 0; i < 40; i++) {
        const k = v4Key(Math.floor(rand() * 12) * 256, 24);
        if (rand() < 0.6) {
          m.set(k, i);
          ref.set(k, i);
        } else expect(m.delete(k)).toBe(ref.delete(k));
        expect(m.get(k)).toBe(ref.get(k));
        expect(m.size).toBe(ref.size);
      }
      expect(new Map(m.entries())).toEqual(ref);
      expect([...m.values()].sort()).toEqual([...ref.values()].sort());
    }
  });
});
