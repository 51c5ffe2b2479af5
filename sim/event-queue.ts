// The simulator's agenda: a binary min-heap of events ordered by (time, sequence). The sequence is
// the order of scheduling, so events due at the same instant run first-in first-out and a run never
// depends on heap internals. Cancelled events stay in the heap and are skipped when they surface
// (lazy deletion): cancelling is O(1) and the heap never has to find an element.

/** One scheduled event. Treat as opaque outside sim/. */
export interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly kind: string;
  fn: (() => void) | undefined; // undefined once fired or cancelled
}

const before = (a: SimEvent, b: SimEvent): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq);

export class EventQueue {
  private heap: SimEvent[] = [];

  /** Entries in the heap, including cancelled ones not yet skipped. */
  get size(): number {
    return this.heap.length;
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
    const last = h.pop() as SimEvent;
    const n = h.length;
    if (n > 0) {
      let i = 0;
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
        if (!before(child, last)) break;
        h[i] = child;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  /** Drops cancelled entries at the top so peek() shows a live event (or nothing). */
  skipCancelled(): void {
    while (this.heap.length > 0 && (this.heap[0] as SimEvent).fn === undefined) this.pop();
  }
}
