// The discrete-event engine: a virtual clock, an agenda ordered by (time, sequence), seeded
// randomness, and runs bounded by time, a predicate, quiescence and an event budget.
//
// Virtual time is a JS number of milliseconds since the start of the run (0). Numbers are exact
// for integers up to 2^53 ms (285,000 years) and allow fractional delays (a 0.05 ms link); bigint
// would cost an allocation per event for no gain. Time never goes backwards: an event scheduled in
// the past (negative delay) runs "now", after the events already due now.
//
// Determinism: nothing here reads the wall clock or Math.random. Equal times run in scheduling
// order, so the same program with the same seed replays the same events in the same order.
import type { Clock, TimerHandle } from "../src/core/bgp/ports.ts";
import { AgendaEntry, EventQueue, farKind, isHandle, POSTED, type FarKind, type SimEvent } from "./event-queue.ts";
import { SeededRandom, type RandomStream } from "./random.ts";

export type { SimEvent } from "./event-queue.ts";

export interface EngineOptions {
  /** Seed of all randomness (default 0). */
  seed?: number | string;
}

/** When a run stops. Any combination; with none, runs until no events are left (or the budget). */
export interface RunOptions {
  /** Stop before processing events later than this virtual time; the clock is then set to it. */
  until?: number;
  /** Stop as soon as this returns true (checked before the first event and after each event). */
  stopWhen?: () => boolean;
  /** Process at most this many events (default: unlimited). */
  maxEvents?: number;
}

export type StopReason = "quiescent" | "time" | "predicate" | "budget";

export interface RunResult {
  readonly reason: StopReason;
  /** Events processed by this run. */
  readonly events: number;
  /** Virtual time when the run stopped. */
  readonly time: number;
}

export interface EngineStats {
  /** Events processed since the engine was created. */
  readonly processed: number;
  readonly scheduled: number;
  readonly cancelled: number;
  /** Events scheduled but neither processed nor cancelled. */
  readonly pending: number;
  /** Events processed per kind, sorted by kind name (stable for reports). */
  readonly perKind: Readonly<Record<string, number>>;
}

export class SimEngine implements Clock {
  private time = 0;
  private seq = 0;
  private readonly queue = new EventQueue();
  private live = 0;
  private processedCount = 0;
  private cancelledCount = 0;
  private readonly kindCounts = new Map<string, number>();
  /** The far-entry class of each kind a Clock was made for (see clock()). */
  private readonly farKinds = new Map<string, FarKind>();
  private running = false;
  readonly random: SeededRandom;

  constructor(options: EngineOptions = {}) {
    this.random = new SeededRandom(options.seed ?? 0);
  }

  /** Current virtual time in ms. */
  now(): number {
    return this.time;
  }

  /** A named substream of the run's randomness (see SeededRandom). */
  rng(name: string): RandomStream {
    return this.random.stream(name);
  }

  /** Runs `fn` after `delayMs` of virtual time, counted under `kind` in the stats. */
  schedule(delayMs: number, kind: string, fn: () => void): SimEvent {
    return this.scheduleAt(this.time + (delayMs > 0 ? delayMs : 0), kind, fn);
  }

  /** Runs `fn` at virtual time `time` (clamped to now). */
  scheduleAt(time: number, kind: string, fn: () => void): SimEvent {
    return this.scheduleWith(time, kind, fn, undefined);
  }

  /**
   * Runs `fn(arg)` at virtual time `time` (clamped to now): one function shared by many objects
   * (e.g. every connection's "flight arrives") instead of a closure per object.
   */
  scheduleWith<T>(time: number, kind: string, fn: (arg: T) => void, arg: T): SimEvent {
    return this.scheduleKind(time, kind, undefined, fn, arg);
  }

  /** scheduleWith, with the far-entry class of `kind` when there is one (a Clock's). */
  private scheduleKind<T>(time: number, kind: string, far: FarKind | undefined, fn: (arg: T) => void, arg: T): SimEvent {
    if (Number.isNaN(time)) throw new RangeError(`cannot schedule ${kind} at NaN`);
    const ev = this.queue.push(kind, fn as (arg: unknown) => void, arg, time > this.time ? time : this.time, this.seq++, far);
    this.live++;
    return ev;
  }

  /** A kind of event that is posted (see post()): one function, called with each event's argument. */
  eventType<T>(kind: string, fn: (arg: T) => void): EventType<T> {
    return new AgendaEntry(kind, fn as (arg: unknown) => void, POSTED) as unknown as EventType<T>;
  }

  /**
   * Runs type's function with `arg` at virtual time `time` (clamped to now), like scheduleWith, but
   * returns no handle: it cannot be cancelled, and so needs no entry object of its own.
   */
  post<T>(time: number, type: EventType<T>, arg: T): void {
    const t = type as unknown as AgendaEntry;
    if (Number.isNaN(time)) throw new RangeError(`cannot schedule ${t.kind} at NaN`);
    this.queue.post(t, arg, time > this.time ? time : this.time, this.seq++);
    this.live++;
  }

  /** Cancels an event; cancelling one that already ran or was cancelled does nothing. */
  cancel(ev: SimEvent | undefined): void {
    if (ev === undefined || ev.fn === undefined || ev.arg === POSTED) return;
    ev.fn = undefined;
    this.live--;
    this.cancelledCount++;
    this.queue.cancelled(ev);
  }

  // ---- the core's Clock port (src/core/bgp/ports.ts); timers count as kind "timer".

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.schedule(delayMs, "timer", fn);
  }

  clearTimer(handle: TimerHandle): void {
    if (isEvent(handle)) this.cancel(handle);
  }

  setTimerWith<T>(delayMs: number, fn: (arg: T) => void, arg: T): TimerHandle {
    return this.scheduleWith(this.time + (delayMs > 0 ? delayMs : 0), "timer", fn, arg);
  }

  /** A Clock whose timers are counted under `kind` (e.g. "bgp-timer" for one subsystem's timers). */
  clock(kind: string): Clock {
    let far = this.farKinds.get(kind);
    if (far === undefined) this.farKinds.set(kind, (far = farKind(kind)));
    return {
      now: () => this.time,
      setTimer: (delayMs, fn) => this.scheduleKind(this.time + (delayMs > 0 ? delayMs : 0), kind, far, fn, undefined),
      setTimerWith: (delayMs, fn, arg) => this.scheduleKind(this.time + (delayMs > 0 ? delayMs : 0), kind, far, fn, arg),
      clearTimer: (handle) => {
        if (isEvent(handle)) this.cancel(handle);
      },
    };
  }

  /** Events waiting to run. */
  get pending(): number {
    return this.live;
  }

  /** Time of the next live event, if any. */
  nextEventTime(): number | undefined {
    this.queue.skipCancelled();
    return this.queue.peek() === undefined ? undefined : this.queue.topTime();
  }

  /** Processes the next event; false when there is none. */
  step(): boolean {
    return this.run({ maxEvents: 1 }).events === 1;
  }

  /** Processes events until a stop condition holds. Not re-entrant (an event cannot call run()). */
  run(options: RunOptions = {}): RunResult {
    if (this.running) throw new Error("SimEngine.run() called from inside an event");
    const until = options.until ?? Infinity;
    const budget = options.maxEvents ?? Infinity;
    const stopWhen = options.stopWhen;
    if (Number.isNaN(until)) throw new RangeError("run({until}) must be a number");
    this.running = true;
    let n = 0;
    let reason: StopReason = "quiescent";
    const q = this.queue;
    // Counting per kind in a local map and merging once keeps the hot loop free of the global map.
    let lastKind = "";
    let lastCount = 0;
    try {
      if (stopWhen?.()) {
        reason = "predicate";
      } else {
        for (;;) {
          if (n >= budget) {
            reason = "budget";
            break;
          }
          if (this.live > 0 && q.farBound() > until) {
            // Only bucketed events are left, all later than `until` (so at least one live one is).
            reason = "time";
            break;
          }
          const ev = q.peek();
          if (ev === undefined) {
            reason = "quiescent";
            break;
          }
          const fn = ev.fn;
          if (fn === undefined) {
            q.pop();
            continue;
          }
          const time = q.topTime();
          if (time > until) {
            reason = "time";
            break;
          }
          const arg = q.topArg();
          q.pop();
          // A posted event's entry is its type's, shared: it stays as it is.
          if (ev.arg !== POSTED) ev.fn = undefined;
          this.live--;
          this.time = time;
          if (ev.kind !== lastKind) {
            if (lastCount > 0) this.kindCounts.set(lastKind, (this.kindCounts.get(lastKind) ?? 0) + lastCount);
            lastKind = ev.kind;
            lastCount = 0;
          }
          lastCount++;
          n++;
          fn(arg);
          if (stopWhen !== undefined && stopWhen()) {
            reason = "predicate";
            break;
          }
        }
      }
    } finally {
      if (lastCount > 0) this.kindCounts.set(lastKind, (this.kindCounts.get(lastKind) ?? 0) + lastCount);
      this.processedCount += n;
      this.running = false;
    }
    if (reason === "time" || (reason === "quiescent" && until !== Infinity)) {
      // Quiet or not, a run to a time ends at that time, so the next run starts from there.
      this.time = Math.max(this.time, until);
    }
    return { reason, events: n, time: this.time };
  }

  get stats(): EngineStats {
    const perKind: Record<string, number> = {};
    for (const k of [...this.kindCounts.keys()].sort()) perKind[k] = this.kindCounts.get(k) ?? 0;
    return {
      processed: this.processedCount,
      scheduled: this.seq,
      cancelled: this.cancelledCount,
      pending: this.live,
      perKind,
    };
  }
}

function isEvent(h: unknown): h is SimEvent {
  return isHandle(h);
}

declare const eventType: unique symbol;
/** See SimEngine.eventType (opaque). */
export interface EventType<T> {
  readonly [eventType]: (arg: T) => void;
}
