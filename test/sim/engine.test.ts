import { describe, expect, test } from "@jest/globals";
import { SimEngine } from "../../sim/engine.ts";
import type { Clock } from "../../src/core/bgp/ports.ts";

describe("SimEngine ordering", () => {
  test("events run in time order, ties first-in first-out", () => {
    const e = new SimEngine();
    const seen: string[] = [];
    e.schedule(10, "x", () => seen.push("a@10"));
    e.schedule(5, "x", () => seen.push("b@5"));
    e.schedule(10, "x", () => seen.push("c@10"));
    e.schedule(0, "x", () => seen.push("d@0"));
    e.schedule(5, "x", () => seen.push("e@5"));
    const r = e.run();
    expect(seen).toEqual(["d@0", "b@5", "e@5", "a@10", "c@10"]);
    expect(r).toEqual({ reason: "quiescent", events: 5, time: 10 });
  });

  test("events scheduled from an event at the same time run after those already due", () => {
    const e = new SimEngine();
    const seen: string[] = [];
    e.schedule(1, "x", () => {
      seen.push("first");
      e.schedule(0, "x", () => seen.push("nested"));
    });
    e.schedule(1, "x", () => seen.push("second"));
    e.run();
    expect(seen).toEqual(["first", "second", "nested"]);
  });

  test("a negative delay runs now, not in the past", () => {
    const e = new SimEngine();
    e.schedule(7, "x", () => {
      e.schedule(-3, "y", () => expect(e.now()).toBe(7));
    });
    e.run();
    expect(e.now()).toBe(7);
    expect(e.stats.perKind).toEqual({ x: 1, y: 1 });
  });

  test("heap order matches a sort by (time, seq) over many random events", () => {
    const e = new SimEngine({ seed: 3 });
    const r = e.rng("test");
    const want: { t: number; i: number }[] = [];
    const got: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = r.below(200);
      want.push({ t, i });
      e.schedule(t, "x", () => got.push(i));
    }
    e.run();
    want.sort((a, b) => a.t - b.t || a.i - b.i);
    expect(got).toEqual(want.map((w) => w.i));
  });

  test("cancelling most events (re-armed timers) rebuilds the agenda without them, order kept", () => {
    const e = new SimEngine({ seed: 4 });
    const r = e.rng("test");
    const want: { t: number; i: number }[] = [];
    const got: number[] = [];
    const queue = (e as unknown as { queue: { size: number } }).queue;
    let maxSize = 0;
    for (let i = 0; i < 20000; i++) {
      const t = r.below(1000);
      const ev = e.schedule(t, "x", () => got.push(i));
      // Like a hold timer re-armed per message: nine in ten are cancelled soon after.
      if (i % 10 !== 0) e.cancel(ev);
      else want.push({ t, i });
      maxSize = Math.max(maxSize, queue.size);
    }
    // Cancelled entries never make up most of a large agenda.
    expect(maxSize).toBeLessThan(2 * want.length + 4096 + 2);
    expect(e.pending).toBe(want.length);
    // Shared functions with an argument run in the same (time, seq) order as closures.
    e.scheduleWith(500, "x", (n: number) => got.push(n), -1);
    want.push({ t: 500, i: -1 });
    e.run();
    want.sort((a, b) => a.t - b.t || (a.i === -1 ? 1 : b.i === -1 ? -1 : a.i - b.i));
    expect(got).toEqual(want.map((w) => w.i));
    expect(e.stats.cancelled).toBe(18000);
  });
});

  test("events scheduled while running, mostly in time order and sometimes not, run as a sorted agenda would", () => {
    const e = new SimEngine({ seed: 6 });
    const r = e.rng("test");
    // Reference: every scheduled (time, seq) pair; the engine must run them sorted.
    const scheduled: { t: number; i: number }[] = [];
    const got: number[] = [];
    let next = 0;
    const add = (t: number) => {
      const i = next++;
      scheduled.push({ t, i });
      const ev = e.scheduleAt(t, "x", () => {
        got.push(i);
        if (next < 30000) {
          // A constant latency (in order: the common case), sometimes a shorter or a zero delay.
          const k = r.below(10);
          add(e.now() + (k < 7 ? 0.05 : k < 9 ? r.below(5) / 100 : 0));
          if (k === 0) add(e.now() + 0.05);
        }
      });
      if (i % 97 === 5) {
        e.cancel(ev);
        scheduled.pop();
      }
    };
    for (let k = 0; k < 200; k++) add(r.below(3) / 10);
    e.run();
    scheduled.sort((a, b) => a.t - b.t || a.i - b.i);
    expect(got).toEqual(scheduled.map((s) => s.i));
  });

  test("posted events (no handle) run in (time, seq) order among scheduled and cancelled ones, near and far", () => {
    const e = new SimEngine({ seed: 5 });
    const r = e.rng("test");
    const got: number[] = [];
    const want: { t: number; i: number }[] = [];
    const type = e.eventType("posted", (n: number) => got.push(n));
    for (let i = 0; i < 6000; i++) {
      // Fractional times, some beyond the near horizon (far buckets).
      const t = r.below(3000) + (i % 4) / 8;
      if (i % 3 === 0) e.post(t, type, i);
      else {
        const ev = e.scheduleAt(t, "handle", () => got.push(i));
        if (i % 3 === 2) {
          e.cancel(ev);
          continue;
        }
      }
      want.push({ t, i });
    }
    expect(e.pending).toBe(want.length);
    e.run();
    want.sort((a, b) => a.t - b.t || a.i - b.i);
    expect(got).toEqual(want.map((w) => w.i));
    expect(e.stats.perKind).toEqual({ handle: 2000, posted: 2000 });
    // The shared entry is not a handle: clearing it as a timer does nothing, and it runs again.
    e.clearTimer(type as never);
    e.post(e.now() + 1, type, -7);
    e.run();
    expect(got[got.length - 1]).toBe(-7);
  });

  test("bucketed (far) events of one time run in scheduling order, before one scheduled later for that time", () => {
    const e = new SimEngine();
    const got: string[] = [];
    const type = e.eventType("posted", (s: string) => got.push(s));
    // All beyond the first horizon: they wait in the bucket of second 5, in this order.
    e.scheduleAt(5000.25, "far", () => got.push("a"));
    const dead = e.scheduleAt(5000.25, "far", () => got.push("cancelled"));
    e.post(5000.25, type, "b");
    e.scheduleAt(5000.1, "far", () => {
      // Runs after the bucket was moved to the heap: this one is scheduled now, so it comes last.
      e.scheduleAt(5000.25, "late", () => got.push("late"));
      got.push("trigger");
    });
    e.scheduleAt(5000.25, "far", () => got.push("c"));
    e.cancel(dead);
    e.run();
    expect(got).toEqual(["trigger", "a", "b", "c", "late"]);
  });

describe("SimEngine as the core's Clock", () => {
  test("setTimer / clearTimer / now through the Clock interface", () => {
    const e = new SimEngine();
    const clock: Clock = e;
    const fired: number[] = [];
    clock.setTimer(100, () => fired.push(clock.now()));
    const h = clock.setTimer(50, () => fired.push(-1));
    clock.setTimer(30, () => clock.clearTimer(h));
    let sync = true;
    clock.setTimer(0, () => expect(sync).toBe(false));
    sync = false;
    e.run();
    expect(fired).toEqual([100]);
    // Clearing a fired or cleared timer is a no-op, as is clearing garbage.
    clock.clearTimer(h);
    clock.clearTimer(undefined);
    clock.clearTimer({});
    expect(e.stats).toMatchObject({ processed: 3, cancelled: 1, pending: 0, perKind: { timer: 3 } });
  });

  test("clock(kind) labels timers in the stats", () => {
    const e = new SimEngine();
    const bgp = e.clock("bgp");
    bgp.setTimer(1, () => undefined);
    bgp.setTimer(2, () => undefined);
    e.setTimer(3, () => undefined);
    e.run();
    expect(e.stats.perKind).toEqual({ bgp: 2, timer: 1 });
  });

  test("clock(kind) timers far ahead (bucketed) keep their kind, order and handles", () => {
    const e = new SimEngine();
    const bgp = e.clock("bgp");
    const other = e.clock("bgp");
    const got: string[] = [];
    bgp.setTimerWith?.(90_000.5, (s: string) => got.push(s), "a");
    const h = other.setTimerWith?.(90_000.5, (s: string) => got.push(s), "cancelled");
    e.setTimer(90_000.5, () => got.push("timer"));
    other.setTimer(90_000.5, () => got.push("b"));
    bgp.clearTimer(h);
    bgp.clearTimer(h);
    e.run();
    expect(got).toEqual(["a", "timer", "b"]);
    expect(e.stats).toMatchObject({ processed: 3, cancelled: 1, pending: 0, perKind: { bgp: 2, timer: 1 } });
  });
});

describe("SimEngine runs", () => {
  const ticker = (e: SimEngine, every: number, count: { n: number }) => {
    const tick = () => {
      count.n++;
      e.schedule(every, "tick", tick);
    };
    e.schedule(every, "tick", tick);
  };

  test("until a time: stops before later events and leaves the clock at that time", () => {
    const e = new SimEngine();
    const c = { n: 0 };
    ticker(e, 10, c);
    const r = e.run({ until: 55 });
    expect(r).toEqual({ reason: "time", events: 5, time: 55 });
    expect(c.n).toBe(5);
    expect(e.pending).toBe(1);
    expect(e.nextEventTime()).toBe(60);
    // Events exactly at the limit run.
    expect(e.run({ until: 60 }).events).toBe(1);
  });

  test("until a time with only far timers left: stops at the time, or is quiescent when they are all cancelled", () => {
    const e = new SimEngine();
    const fired: number[] = [];
    const handles = [30_000, 30_000.5, 45_000, 2_500].map((t) => e.scheduleAt(t, "timer", () => fired.push(t)));
    e.schedule(1, "x", () => fired.push(1));
    expect(e.run({ until: 2_000 })).toEqual({ reason: "time", events: 1, time: 2_000 });
    expect(e.run({ until: 29_999 })).toEqual({ reason: "time", events: 1, time: 29_999 });
    expect(e.nextEventTime()).toBe(30_000);
    expect(e.run({ until: 30_000.5 })).toEqual({ reason: "time", events: 2, time: 30_000.5 });
    expect(fired).toEqual([1, 2_500, 30_000, 30_000.5]);
    e.cancel(handles[2]);
    expect(e.run({ until: 40_000 })).toEqual({ reason: "quiescent", events: 0, time: 40_000 });
    expect(e.pending).toBe(0);
  });

  test("until a predicate", () => {
    const e = new SimEngine();
    const c = { n: 0 };
    ticker(e, 10, c);
    const r = e.run({ stopWhen: () => c.n === 7 });
    expect(r).toEqual({ reason: "predicate", events: 7, time: 70 });
    expect(e.run({ stopWhen: () => true })).toEqual({ reason: "predicate", events: 0, time: 70 });
  });

  test("an event budget stops an endless run", () => {
    const e = new SimEngine();
    ticker(e, 1, { n: 0 });
    expect(e.run({ maxEvents: 1000 })).toEqual({ reason: "budget", events: 1000, time: 1000 });
    expect(e.step()).toBe(true);
    expect(e.now()).toBe(1001);
  });

  test("quiescence with a time limit advances the clock to the limit", () => {
    const e = new SimEngine();
    e.schedule(5, "x", () => undefined);
    expect(e.run({ until: 100 })).toEqual({ reason: "quiescent", events: 1, time: 100 });
    expect(e.step()).toBe(false);
  });

  test("cancelled events are skipped and not counted", () => {
    const e = new SimEngine();
    const evs = [1, 2, 3, 4].map((t) => e.schedule(t, "x", () => undefined));
    e.cancel(evs[1]);
    e.cancel(evs[3]);
    e.cancel(evs[3]);
    expect(e.pending).toBe(2);
    expect(e.run()).toEqual({ reason: "quiescent", events: 2, time: 3 });
    expect(e.stats).toEqual({ processed: 2, scheduled: 4, cancelled: 2, pending: 0, perKind: { x: 2 } });
  });

  test("run() inside an event is refused", () => {
    const e = new SimEngine();
    e.schedule(1, "x", () => e.run());
    expect(() => e.run()).toThrow(/inside an event/);
  });

  test("an event that throws leaves the engine usable", () => {
    const e = new SimEngine();
    e.schedule(1, "bad", () => {
      throw new Error("boom");
    });
    e.schedule(2, "ok", () => undefined);
    expect(() => e.run()).toThrow("boom");
    expect(e.run()).toMatchObject({ events: 1, time: 2 });
    expect(e.stats.perKind).toEqual({ bad: 1, ok: 1 });
  });

  test("the same seed replays the same run; another seed does not", () => {
    const trace = (seed: number) => {
      const e = new SimEngine({ seed });
      const out: string[] = [];
      for (let i = 0; i < 50; i++) {
        const r = e.rng(`node-${i % 5}`);
        e.schedule(r.below(1000), "x", () => out.push(`${e.now()}:${i}:${r.uint32()}`));
      }
      e.run();
      return out.join(",");
    };
    expect(trace(42)).toBe(trace(42));
    expect(trace(42)).not.toBe(trace(43));
  });
});
