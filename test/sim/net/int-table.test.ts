// The open-addressing int32 table under the FIB: random operations against a Map as the model.
import { describe, expect, test } from "@jest/globals";
import { IntTable } from "../../../sim/net/int-table.ts";

describe("IntTable", () => {
  test("random sets, overwrites and deletes agree with a Map (growing and shrinking)", () => {
    const t = new IntTable();
    const model = new Map<number, number>();
    let x = 0x2545f491;
    const rnd = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x | 0;
    };
    // A small key space forces collisions, overwrites and long probe runs; a few huge keys the sign bit.
    const keys = Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? rnd() : (i * 64) | 0));
    for (let step = 0; step < 60_000; step++) {
      const k = keys[Math.abs(rnd()) % keys.length]!;
      const phase = step < 30_000 ? 3 : 1; // mostly inserts, then mostly deletes
      if (Math.abs(rnd()) % 4 < phase) {
        const v = (Math.abs(rnd()) % 1000) + 1;
        expect(t.set(k, v)).toBe(!model.has(k));
        model.set(k, v);
      } else {
        expect(t.delete(k)).toBe(model.delete(k));
      }
      if (step % 5000 === 0) for (const kk of keys) expect(t.get(kk)).toBe(model.get(kk) ?? 0);
    }
    expect(t.size).toBe(model.size);
    for (const k of keys) expect(t.get(k)).toBe(model.get(k) ?? 0);
    const seen = new Map<number, number>();
    t.forEach((k, v) => seen.set(k, v));
    expect(seen).toEqual(model);
    for (const k of [...model.keys()]) expect(t.delete(k)).toBe(true);
    expect(t.size).toBe(0);
    expect(t.bytes).toBe(2 * 8 * 4); // shrunk back to the minimum (8 slots of 2 int32)
  });

  test("key 0 and negative keys are ordinary keys; values must be positive", () => {
    const t = new IntTable();
    expect(t.get(0)).toBe(0);
    t.set(0, 5);
    t.set(-1, 6);
    t.set(-2147483648, 7);
    expect([t.get(0), t.get(-1), t.get(-2147483648), t.get(1)]).toEqual([5, 6, 7, 0]);
    expect(() => t.set(3, 0)).toThrow(RangeError);
  });
});
