// The report's timeline for a simulated run. Route changes come in bursts (one UPDATE changes many
// prefixes on many nodes), so they are folded into one entry per node per instant; session changes
// are kept only when a session enters or leaves Established (the Connect/Active/OpenSent churn in
// between says nothing a reader needs). A cap keeps big runs (a 1,000-node mesh has ~1M sessions)
// from producing a report nobody can open; what was left out is counted in a final note.
import type { TimelineEvent } from "../../src/scenario/backend.ts";

export const DEFAULT_TIMELINE_LIMIT = 20_000;

interface RouteBurst {
  t: number;
  node: string;
  added: number;
  removed: number;
  /** The first few prefixes, for the text. */
  sample: string[];
}

export const SAMPLE = 3;

export class Timeline {
  private readonly events: TimelineEvent[] = [];
  private dropped = 0;
  // Route changes of the current instant, per node, flushed when time moves on.
  private burstTime = -1;
  private readonly bursts = new Map<string, RouteBurst>();

  constructor(private readonly limit = DEFAULT_TIMELINE_LIMIT) {}

  /** No room left: callers may skip the work of describing events. */
  get full(): boolean {
    return this.events.length >= this.limit;
  }

  add(ev: TimelineEvent): void {
    this.flushBefore(ev.t);
    this.push(ev);
  }

  /** What add() does for an event at t once the timeline is full (counts it as left out), without the event. */
  skip(t: number): void {
    this.flushBefore(t);
    this.dropped++;
  }

  /** Records route changes on a node at time t (aggregated per node per instant); `sample` names a few. */
  routes(t: number, node: string, added: number, removed: number, sample: { added: readonly string[]; removed: readonly string[] }): void {
    if (added === 0 && removed === 0) return;
    this.flushBefore(t);
    if (this.full) {
      this.dropped++;
      return;
    }
    this.burstTime = t;
    let b = this.bursts.get(node);
    if (b === undefined) {
      b = { t, node, added: 0, removed: 0, sample: [] };
      this.bursts.set(node, b);
    }
    b.added += added;
    b.removed += removed;
    for (const p of sample.added) if (b.sample.length < SAMPLE) b.sample.push(`+${p}`);
    for (const p of sample.removed) if (b.sample.length < SAMPLE) b.sample.push(`-${p}`);
  }

  /** Every event so far, in time order (equal times in recording order), with a note if some were left out. */
  list(): TimelineEvent[] {
    this.flushBefore(Infinity);
    const out = this.events.slice();
    if (this.dropped > 0) {
      const last = out[out.length - 1]?.t ?? 0;
      out.push({ t: last, kind: "note", text: `timeline full (${this.limit} events): ${this.dropped} later records left out` });
    }
    return out;
  }

  private push(ev: TimelineEvent): void {
    if (this.events.length >= this.limit) this.dropped++;
    else this.events.push(ev);
  }

  private flushBefore(t: number): void {
    if (this.bursts.size === 0 || t <= this.burstTime) return;
    // Nodes in name order, so the timeline does not depend on which node's UPDATE arrived first.
    for (const node of [...this.bursts.keys()].sort()) {
      const b = this.bursts.get(node)!;
      const n = b.added + b.removed;
      const parts: string[] = [];
      if (b.added > 0) parts.push(`${b.added} added`);
      if (b.removed > 0) parts.push(`${b.removed} removed`);
      const more = n > b.sample.length ? ", ..." : "";
      this.push({ t: b.t, node, kind: "route", text: `routes ${parts.join(", ")} (${b.sample.join(", ")}${more})` });
    }
    this.bursts.clear();
  }
}
