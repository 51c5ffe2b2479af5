import { describe, expect, test } from "@jest/globals";
import { ManualClock } from "../../../src/core/bgp/manual-clock.ts";

describe("ManualClock", () => {
  test("fires timers in time order, same-time timers in the order set, cancelled ones never", () => {
    const c = new ManualClock();
    const seen: string[] = [];
    c.setTimer(20, () => seen.push("b"));
    c.setTimer(10, () => seen.push("a"));
    c.setTimer(20, () => seen.push("c"));
    const h = c.setTimer(15, () => seen.push("x"));
    c.clearTimer(h);
    c.advance(19);
    expect(seen).toEqual(["a"]);
    expect(c.now()).toBe(19);
    c.advance(1);
    expect(seen).toEqual(["a", "b", "c"]);
  });

  test("timers set by timers fire within the same advance when due", () => {
    const c = new ManualClock();
    const at: number[] = [];
    c.setTimer(5, () => {
      at.push(c.now());
      c.setTimer(5, () => at.push(c.now()));
    });
    c.advance(100);
    expect(at).toEqual([5, 10]);
    expect(c.pending).toBe(0);
  });
});
