// The wall-clock Clock port: monotonic milliseconds (performance.now) and setTimeout timers.
// Timers keep the process alive by default, because a speaker whose only pending work is a
// ConnectRetry timer must not exit; pass `unref: true` for tools and tests that should be able to
// exit with timers still pending.
import type { Clock, TimerHandle } from "../../src/core/bgp/ports.ts";

/** setTimeout fires at once for delays above 2^31-1 ms; longer timers are chained. */
const MAX_DELAY = 0x7fffffff;

interface WallTimer {
  t: NodeJS.Timeout | undefined;
  cleared: boolean;
}

export class WallClock implements Clock {
  private readonly unref: boolean;

  constructor(options: { unref?: boolean } = {}) {
    this.unref = options.unref ?? false;
  }

  now(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: WallTimer = { t: undefined, cleared: false };
    const due = this.now() + (Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0);
    const arm = (): void => {
      const left = due - this.now();
      timer.t = setTimeout(
        () => {
          if (timer.cleared) return;
          if (due - this.now() > 0 && left > MAX_DELAY) return arm();
          timer.cleared = true;
          fn();
        },
        Math.min(Math.max(0, left), MAX_DELAY),
      );
      if (this.unref) timer.t.unref();
    };
    arm();
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    const timer = handle as WallTimer | undefined;
    if (!timer || timer.cleared) return;
    timer.cleared = true;
    if (timer.t) clearTimeout(timer.t);
  }
}
