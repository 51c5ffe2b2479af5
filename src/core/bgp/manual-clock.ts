// A Clock driven by hand: time moves only when advance() is called, and timers due at the same
// instant fire in the order they were set. Deterministic, so tests and the simulator can use it.
import type { Clock, TimerHandle } from "./ports.ts";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t: Timer = { at: this.time + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return t;
  }

  clearTimer(handle: TimerHandle): void {
    if (handle && typeof handle === "object") (handle as Timer).cancelled = true;
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  private next(limit: number): Timer | undefined {
    let best: Timer | undefined;
    this.timers = this.timers.filter((t) => !t.cancelled);
    for (const t of this.timers) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }

  /** Moves time forward by ms, firing every timer due on the way (including ones set meanwhile). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const t = this.next(end);
      if (!t) break;
      t.cancelled = true;
      this.time = Math.max(this.time, t.at);
      t.fn();
    }
    this.time = end;
  }

  /** Fires timers due now (zero-delay work) without moving time. */
  flush(): void {
    this.advance(0);
  }
}
