// The simulator's agenda: a binary min-heap of events ordered by (time, sequence). The sequence is
// the order of scheduling, so events due at the same instant run first-in first-out and a run never
// depends on heap internals. Cancelled events stay in the heap and are skipped when they surface
// (lazy deletion): cancelling is O(1) and the heap never has to find an element. So that cancelled
// entries do not pile up (a BGP hold timer is re-armed on every message: one far-future timer
// cancelled per message), the heap is rebuilt without them once they are the majority; the order of
// live events is the (time, seq) order either way, so a rebuild changes nothing observable.
//
// Far-future events (BGP hold and keepalive timers: 30-240 s ahead, two per session, a million in a
// 1,000-node mesh that converges in a fraction of a millisecond) wait in per-second buckets instead
// of the heap, so the heap holds only what is due soon: pushes sift through a few thousand entries,
// not a million. A bucket is heapified when the heap runs dry before it; since every bucketed event
// is later than every event in the heap, the order is exactly that of one heap.
//
// In the heap, times and sequence numbers live in an array beside the entries (a number array keeps
// doubles unboxed), not in the entries: an entry's time field would be a heap number of its own
// (every virtual time with a fractional latency is one), and the heap's comparisons read
// neighbouring array slots instead of following two pointers per entry. Far entries (timers, most
// of them cancelled before they are due) carry their time themselves until their bucket is heapified.
//
// Events nobody will cancel (a flight or a SYN arriving) need no entry of their own: they are
// *posted* with a shared entry for their kind and function (an EventType), their argument kept in
// the queue beside it. Entries live until their event runs, which in a big simulation is after every
// other session's event of the same round: an object per event would survive to the old generation.

/** One scheduled event. Treat as opaque outside sim/. */
export interface SimEvent {
  readonly kind: string;
  fn: ((arg: unknown) => void) | undefined; // undefined once fired or cancelled
  /** Passed to fn (see SimEngine.scheduleWith). */
  readonly arg: unknown;
}

/** Below this many cancelled entries the heap is never rebuilt (rebuilding a small heap buys nothing). */
const COMPACT_MIN = 4096;
/** A bucket is filtered once this many of its entries, and more than half, are cancelled. */
const BUCKET_COMPACT_MIN = 256;

/** Width of a far-event bucket (ms of virtual time); events earlier than the horizon go to the heap. */
const BUCKET_MS = 1000;

/** The `arg` of an EventType's shared entry (the argument of each event is in the queue). */
export const POSTED: unique symbol = Symbol("posted");

/** An event (its time and sequence number are in the queue's arrays), or an EventType. One shape. */
export class AgendaEntry implements SimEvent {
  constructor(
    readonly kind: string,
    public fn: ((arg: unknown) => void) | undefined,
    readonly arg: unknown,
  ) {}
}

/** Far events of one second, in scheduling order, and how many of them are cancelled. */
interface Bucket {
  list: FarBase[];
  dead: number;
}

const timeCell = new Float64Array(1);
const timeHalves = new Int32Array(timeCell.buffer);

/**
 * An event beyond the horizon, waiting in a bucket. Its time's 64 bits are kept as two int32 halves
 * (small integers, in the entry) rather than a number field, which V8 would keep in a heap number
 * of its own: two live per session end (hold and keepalive timers) in a BGP mesh. No sequence
 * number: a bucket lists its events in scheduling order (see refill). Its kind is a field
 * (FarEntry) or, for the timers of a Clock of one kind, on its class's prototype (see farKind).
 */
abstract class FarBase implements SimEvent {
  abstract readonly kind: string;
  fn: ((arg: unknown) => void) | undefined;
  private readonly lo: number;
  private readonly hi: number;
  /** lo, hi: the halves of the time (see timeHalves; split by the caller: a number argument to a call not inlined is a heap number). */
  constructor(fn: (arg: unknown) => void, readonly arg: unknown, lo: number, hi: number) {
    this.fn = fn;
    this.lo = lo;
    this.hi = hi;
  }

  get time(): number {
    timeHalves[0] = this.lo;
    timeHalves[1] = this.hi;
    return timeCell[0] as number;
  }
}

class FarEntry extends FarBase {
  constructor(readonly kind: string, fn: (arg: unknown) => void, arg: unknown, lo: number, hi: number) {
    super(fn, arg, lo, hi);
  }
}

/** The far entries of one kind (opaque outside this module; see farKind). */
export type FarKind = new (fn: (arg: unknown) => void, arg: unknown, lo: number, hi: number) => FarBase;

/**
 * A class for the far events of one kind: its entries have no kind field (one field less on each
 * of a mesh's two timers per session end). For a Clock of one kind, made once per kind.
 */
export function farKind(kind: string): FarKind {
  class KindEntry extends FarBase {
    declare readonly kind: string;
  }
  Object.defineProperty(KindEntry.prototype, "kind", { value: kind });
  return KindEntry;
}

/** Whether `h` is an event handle (an entry, not an EventType's shared one). */
export function isHandle(h: unknown): h is SimEvent {
  return (h instanceof AgendaEntry && h.arg !== POSTED) || h instanceof FarBase;
}

/** Initial capacity of the in-order run (events; it doubles when full). */
const RUN_CAPACITY = 1024;

export class EventQueue {
  /**
   * The heap, n entries: entry i's time and sequence number at hk[2i] and hk[2i + 1] (a number
   * array: unboxed doubles), its entry and argument at hx[2i] and hx[2i + 1]. Pairs, so a heap
   * step reads one place for both keys of both children and moves one place per array.
   */
  private hk: number[] = [];
  private hx: unknown[] = [];
  private n = 0;
  /**
   * Events pushed in (time, seq) order: most events are (a flight or a SYN scheduled one path
   * latency from now, now never going back), so they skip the heap; the heap holds only those
   * earlier than the last one here. The next event is the smaller of the two heads, so the order
   * is exactly that of one heap. A ring: `rl` events from slot `rh`, keys and entries as pairs.
   */
  private rk = new Float64Array(2 * RUN_CAPACITY);
  private rx: unknown[] = new Array<unknown>(2 * RUN_CAPACITY).fill(undefined);
  private rh = 0;
  private rl = 0;
  /** Where peek() found the next event: the heap (false) or the run (true). */
  private fromRun = false;
  /** Cancelled entries still in the heap or the buckets. */
  private dead = 0;
  /** Events at or after `horizon`, by floor(time / BUCKET_MS); the bucket numbers in a min-heap. */
  private readonly buckets = new Map<number, Bucket>();
  private readonly bucketIds: number[] = [];
  private far = 0;
  /** Every event earlier than this is in the heap; none in the heap is at or after it. */
  private horizon = BUCKET_MS;

  /** Entries in the heap and buckets, including cancelled ones not yet skipped. */
  get size(): number {
    return this.n + this.runLength() + this.far;
  }

  private runLength(): number {
    return this.rl;
  }

  /** Appends to the run (the caller checked the order). */
  private runPush(ev: SimEvent, arg: unknown, time: number, seq: number): void {
    let cap = this.rk.length >> 1;
    if (this.rl === cap) {
      // Full: unroll into twice the room, oldest first.
      const k = new Float64Array(4 * cap);
      const x = new Array<unknown>(4 * cap).fill(undefined);
      for (let i = 0; i < this.rl; i++) {
        const j = 2 * ((this.rh + i) & (cap - 1));
        k[2 * i] = this.rk[j] as number;
        k[2 * i + 1] = this.rk[j + 1] as number;
        x[2 * i] = this.rx[j];
        x[2 * i + 1] = this.rx[j + 1];
      }
      this.rk = k;
      this.rx = x;
      this.rh = 0;
      cap *= 2;
    }
    const j = 2 * ((this.rh + this.rl) & (cap - 1));
    this.rk[j] = time;
    this.rk[j + 1] = seq;
    this.rx[j] = ev;
    this.rx[j + 1] = arg;
    this.rl++;
  }

  /** An entry still queued was cancelled (its fn set to undefined by the caller). */
  cancelled(ev: SimEvent): void {
    this.dead++;
    if (ev instanceof FarBase && ev.time >= this.horizon) {
      // Still in its bucket. A bucket of timers re-armed long before they are due (a BGP hold
      // timer per message) is mostly cancelled ones: dropped early, they die young.
      const b = this.buckets.get(Math.floor(ev.time / BUCKET_MS));
      if (b !== undefined && ++b.dead >= BUCKET_COMPACT_MIN && b.dead * 2 > b.list.length) {
        const before = b.list.length;
        b.list = b.list.filter((x) => x.fn !== undefined);
        this.far -= before - b.list.length;
        this.dead -= before - b.list.length;
        b.dead = 0;
      }
    }
    if (this.dead >= COMPACT_MIN && this.dead * 2 > this.size) this.compact();
  }

  /** Drops cancelled entries and restores the heap property (Floyd's bottom-up heapify, O(n)). */
  private compact(): void {
    const { hk, hx } = this;
    let k = 0;
    for (let i = 0; i < this.n; i++) {
      const ev = hx[2 * i] as SimEvent;
      if (ev.fn === undefined) continue;
      hk[2 * k] = hk[2 * i] as number;
      hk[2 * k + 1] = hk[2 * i + 1] as number;
      hx[2 * k] = ev;
      hx[2 * k + 1] = hx[2 * i + 1];
      k++;
    }
    hk.length = hx.length = 2 * k;
    this.n = k;
    for (let i = (k >> 1) - 1; i >= 0; i--) this.siftDown(i);
    // The run keeps its order (and its place in the ring) without the cancelled ones.
    const { rk, rx } = this;
    const mask = (rk.length >> 1) - 1;
    let m = 0;
    for (let i = 0; i < this.rl; i++) {
      const j = 2 * ((this.rh + i) & mask);
      const ev = rx[j] as SimEvent;
      if (ev.fn === undefined) continue;
      const d = 2 * ((this.rh + m) & mask);
      rk[d] = rk[j] as number;
      rk[d + 1] = rk[j + 1] as number;
      rx[d] = ev;
      rx[d + 1] = rx[j + 1];
      m++;
    }
    for (let i = m; i < this.rl; i++) {
      const d = 2 * ((this.rh + i) & mask);
      rx[d] = rx[d + 1] = undefined;
    }
    this.rl = m;
    this.far = 0;
    for (const [id, b] of this.buckets) {
      const keep = b.list.filter((ev) => ev.fn !== undefined);
      // An emptied bucket's number stays in bucketIds; refill() skips it.
      if (keep.length === 0) this.buckets.delete(id);
      else {
        b.list = keep;
        b.dead = 0;
      }
      this.far += keep.length;
    }
    this.dead = 0;
  }

  /** Moves the earliest bucket into the (empty) heap. */
  private refill(): void {
    while (this.n === 0 && this.runLength() === 0 && this.bucketIds.length > 0) {
      const id = popId(this.bucketIds);
      const b = this.buckets.get(id);
      if (b === undefined) continue;
      const list = b.list;
      this.buckets.delete(id);
      this.far -= list.length;
      this.horizon = (id + 1) * BUCKET_MS;
      const { hk, hx } = this;
      // The heap and the run are empty, and every event scheduled from now on has a sequence
      // number above the count of all scheduled so far: positions in the bucket (its scheduling
      // order) order these events among themselves and before any later one, as their own would.
      let seq = 0;
      for (const ev of list) {
        if (ev.fn === undefined) this.dead--;
        else {
          hk.push(ev.time, seq++);
          hx.push(ev, ev.arg);
          this.n++;
        }
      }
      for (let i = (this.n >> 1) - 1; i >= 0; i--) this.siftDown(i);
    }
  }

  private siftDown(start: number): void {
    const { hk, hx } = this;
    const n = this.n;
    const t = hk[2 * start] as number;
    const q = hk[2 * start + 1] as number;
    const ev = hx[2 * start];
    const a = hx[2 * start + 1];
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      let ct = hk[2 * l] as number;
      let cq = hk[2 * l + 1] as number;
      if (l + 1 < n) {
        const rt = hk[2 * l + 2] as number;
        const rq = hk[2 * l + 3] as number;
        if (rt < ct || (rt === ct && rq < cq)) {
          c = l + 1;
          ct = rt;
          cq = rq;
        }
      }
      if (!(ct < t || (ct === t && cq < q))) break;
      hk[2 * i] = ct;
      hk[2 * i + 1] = cq;
      hx[2 * i] = hx[2 * c];
      hx[2 * i + 1] = hx[2 * c + 1];
      i = c;
    }
    hk[2 * i] = t;
    hk[2 * i + 1] = q;
    hx[2 * i] = ev;
    hx[2 * i + 1] = a;
  }

  /**
   * Queues fn(arg) to run at `time`; `seq` orders events of equal time (the order of scheduling).
   * `far`: the class for it if it waits in a bucket (farKind(kind)).
   */
  push(kind: string, fn: (arg: unknown) => void, arg: unknown, time: number, seq: number, far?: FarKind): SimEvent {
    if (time >= this.horizon) {
      const id = Math.floor(time / BUCKET_MS);
      let b = this.buckets.get(id);
      if (b === undefined) {
        this.buckets.set(id, (b = { list: [], dead: 0 }));
        pushId(this.bucketIds, id);
      }
      timeCell[0] = time;
      const lo = timeHalves[0] as number;
      const hi = timeHalves[1] as number;
      const ev = far !== undefined ? new far(fn, arg, lo, hi) : new FarEntry(kind, fn, arg, lo, hi);
      b.list.push(ev);
      this.far++;
      return ev;
    }
    const ev = new AgendaEntry(kind, fn, arg);
    this.heapPush(ev, arg, time, seq);
    return ev;
  }

  /** Queues type.fn(arg) at `time` without an entry of its own (it cannot be cancelled). */
  post(type: AgendaEntry, arg: unknown, time: number, seq: number): void {
    if (time >= this.horizon) this.push(type.kind, type.fn as (arg: unknown) => void, arg, time, seq);
    else this.heapPush(type, arg, time, seq);
  }

  private heapPush(ev: SimEvent, arg: unknown, time: number, seq: number): void {
    // seq grows with every push: a time not before the run's last is a key after it.
    if (this.rl === 0 || time >= (this.rk[2 * ((this.rh + this.rl - 1) & ((this.rk.length >> 1) - 1))] as number)) {
      this.runPush(ev, arg, time, seq);
      return;
    }
    const { hk, hx } = this;
    let i = this.n++;
    hk.push(time, seq);
    hx.push(ev, arg);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = hk[2 * parent] as number;
      if (!(time < pt || (time === pt && seq < (hk[2 * parent + 1] as number)))) break;
      hk[2 * i] = pt;
      hk[2 * i + 1] = hk[2 * parent + 1] as number;
      hx[2 * i] = hx[2 * parent];
      hx[2 * i + 1] = hx[2 * parent + 1];
      i = parent;
    }
    hk[2 * i] = time;
    hk[2 * i + 1] = seq;
    hx[2 * i] = ev;
    hx[2 * i + 1] = arg;
  }

  /**
   * When every queued event is in a bucket (none in the heap or the run): no event is earlier than
   * this. Otherwise 0. Lets a run to a time stop without heapifying a bucket of timers it will
   * not reach (a million keepalive timers in a 1,000-node mesh).
   */
  farBound(): number {
    if (this.n !== 0 || this.rl !== 0) return 0;
    return this.bucketIds.length > 0 ? (this.bucketIds[0] as number) * BUCKET_MS : Infinity;
  }

  /** The earliest entry (possibly cancelled), without removing it; its time is topTime(). */
  peek(): SimEvent | undefined {
    if (this.n === 0 && this.runLength() === 0 && this.far > 0) this.refill();
    const r = 2 * this.rh;
    const rk = this.rk;
    if (this.rl === 0) {
      this.fromRun = false;
      return this.n === 0 ? undefined : (this.hx[0] as SimEvent);
    }
    if (this.n !== 0) {
      const hk = this.hk;
      const ht = hk[0] as number;
      const rt = rk[r] as number;
      if (ht < rt || (ht === rt && (hk[1] as number) < (rk[r + 1] as number))) {
        this.fromRun = false;
        return this.hx[0] as SimEvent;
      }
    }
    this.fromRun = true;
    return this.rx[r] as SimEvent;
  }

  /** The time of the entry peek() returned. */
  topTime(): number {
    return this.fromRun ? (this.rk[2 * this.rh] as number) : (this.hk[0] as number);
  }

  /** The argument of the event peek() returned. */
  topArg(): unknown {
    return this.fromRun ? this.rx[2 * this.rh + 1] : this.hx[1];
  }

  pop(): SimEvent | undefined {
    const next = this.peek();
    if (next === undefined) return undefined;
    if (this.fromRun) {
      if (next.fn === undefined) this.dead--;
      const r = 2 * this.rh;
      this.rx[r] = this.rx[r + 1] = undefined; // let go of it now
      this.rh = (this.rh + 1) & ((this.rk.length >> 1) - 1);
      this.rl--;
      return next;
    }
    const { hk, hx } = this;
    const top = hx[0] as SimEvent;
    if (top.fn === undefined) this.dead--; // a cancelled one surfaced (fired ones are popped before fn is cleared)
    const lq = hk.pop() as number;
    const lt = hk.pop() as number;
    const la = hx.pop();
    const last = hx.pop();
    this.n--;
    if (this.n > 0) {
      hk[0] = lt;
      hk[1] = lq;
      hx[0] = last;
      hx[1] = la;
      this.siftDown(0);
    }
    return top;
  }

  /** Drops cancelled entries at the top so peek() shows a live event (or nothing). */
  skipCancelled(): void {
    for (;;) {
      const top = this.peek();
      if (top === undefined || top.fn !== undefined) return;
      this.pop();
    }
  }
}

/** Min-heap of bucket numbers (few: one per second of virtual time that has far events). */
function pushId(h: number[], id: number): void {
  let i = h.length;
  h.push(id);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = h[parent] as number;
    if (p <= id) break;
    h[i] = p;
    i = parent;
  }
  h[i] = id;
}

function popId(h: number[]): number {
  const top = h[0] as number;
  const last = h.pop() as number;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (h[r] as number) < (h[l] as number) ? r : l;
      if ((h[c] as number) >= last) break;
      h[i] = h[c] as number;
      i = c;
    }
    h[i] = last;
  }
  return top;
}
