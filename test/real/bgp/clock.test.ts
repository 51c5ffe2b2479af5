// The wall clock: monotonic time, timers in due order, never synchronous, clearable (also after firing).
import { describe, expect, test } from "@jest/globals";
import { WallClock } from "../../../real/bgp/clock.ts";

describe("WallClock", () => {
  test("timers fire in due order, asynchronously; cleared ones never fire; clearing twice is a no-op", async () => {
    const c = new WallClock({ unref: true });
    const fired: string[] = [];
    const t0 = c.now();
    c.setTimer(30, () => fired.push("30"));
    c.setTimer(0, () => fired.push("0"));
    const x = c.setTimer(10, () => fired.push("cleared"));
    c.setTimer(-5, () => fired.push("negative"));
    c.setTimer(Number.NaN, () => fired.push("nan"));
    c.setTimer(15, () => fired.push("15"));
    c.clearTimer(x);
    c.clearTimer(x);
    expect(fired).toEqual([]); // nothing synchronously
    await new Promise((r) => setTimeout(r, 80));
    expect(fired).toEqual(["0", "negative", "nan", "15", "30"]);
    expect(c.now() - t0).toBeGreaterThanOrEqual(30);
  });

  test("clearing a fired timer is a no-op; now() never goes backwards", async () => {
    const c = new WallClock();
    let n = 0;
    const h = c.setTimer(1, () => n++);
    await new Promise((r) => setTimeout(r, 20));
    c.clearTimer(h);
    c.clearTimer(undefined);
    expect(n).toBe(1);
    let last = c.now();
    for (let i = 0; i < 1000; i++) {
      const t = c.now();
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
  });

  test("delays beyond setTimeout's 2^31-1 ms limit do not fire early", async () => {
    const c = new WallClock({ unref: true });
    let fired = false;
    const h = c.setTimer(3 * 2 ** 31, () => (fired = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
    c.clearTimer(h);
  });
});
