// The simulator's agenda: a binary min-heap of events ordered by (time, sequence). The sequence is
// the order of scheduling, so events due at the same instant run first-in first-out and a run never
// depends on heap internals. Cancelled events stay in the heap and are skipped when they surface
// (lazy deletion): cancelling is O(1) and the heap never has to find an element. So that cancelled
// entries do not pile up (a BGP hold timer is re-armed on every message: one far-future timer
// cancelled per message), the heap is rebuilt without them once they are the majority; the order of
// live events is the (time, seq) order either way, so a rebuild changes nothing observable.

/** One scheduled event. Treat as opaque outside sim/. */
export interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly kind: string;
  fn: ((arg: unknown) => void) | undefined; // undefined once fired or cancelled
  /** Passed to fn (see SimEngine.scheduleWith). */
  readonly arg: unknown;
}

const before = (a: SimEvent, b: SimEvent): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq);

/** Below this many cancelled entries the heap is never rebuilt (rebuilding a small heap buys nothing). */
const COMPACT_MIN = 4096;

export class EventQueue {
  private heap: SimEvent[] = [];
  /** Cancelled entries still in the heap. */
  private dead = 0;

  /** Entries in the heap, including cancelled ones not yet skipped. */
  get size(): number {
    return this.heap.length;
  }

  /** An entry still in the heap was cancelled (its fn set to undefined by the caller). */
  cancelled(): void {
    this.dead++;
    if (this.dead >= COMPACT_MIN && this.dead * 2 > this.heap.length) this.compact();
  }

  /** Drops cancelled entries and restores the heap property (Floyd's bottom-up heapify, O(n)). */
  private compact(): void {
    const h = this.heap.filter((ev) => ev.fn !== undefined);
    this.heap = h;
    this.dead = 0;
    for (let i = (h.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(start: number): void {
    const h = this.heap;
    const n = h.length;
    const ev = h[start] as SimEvent;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let child = h[l] as SimEvent;
      if (r < n) {
        const right = h[r] as SimEvent;
        if (before(right, child)) {
          c = r;
          child = right;
        }
      }
      if (!before(child, ev)) break;
      h[i] = child;
      i = c;
    }
    h[i] = ev;
  }

  push(ev: SimEvent): void {
    const h = this.heap;
    let i = h.length;
    h.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as SimEvent;
      if (!before(ev, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = ev;
  }

  /** The earliest entry (possibly cancelled), without removing it. */
  peek(): SimEvent | undefined {
    return this.heap[0];
  }

  pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    if (top.fn === undefined) this.dead--; // a cancelled one surfaced (fired ones are popped before fn is cleared)
    const last = h.pop() as SimEvent;
    if (h.length > 0) {
      h[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Drops cancelled entries at the top so peek() shows a live event (or nothing). */
  skipCancelled(): void {
    while (this.heap.length > 0 && (this.heap[0] as SimEvent).fn === undefined) this.pop();
  }
}
