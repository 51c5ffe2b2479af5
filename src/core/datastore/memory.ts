// The in-memory Datastore: the embedded default and the simulator's store. It follows etcd's model so
// that code tested here behaves the same on etcd (the shared contract tests check both):
// - one global revision; an empty store is at revision 1 and every successful write adds 1, so the
//   first write gets revision 2 (etcd's numbering). Failed CAS and deletes of absent keys write nothing.
// - watches replay retained history from a start revision, then follow live writes. History is bounded
//   (`historyLimit` events) and can be compacted; watching from before the retained history fails
//   with "Compacted", as on etcd.
// Watch events are delivered from the microtask queue: after the write that caused them has returned,
// in revision order, each once, and never while another callback of the same watch is running.
// No timers and no I/O, so it is deterministic and runs in the simulator and under Deno.

import { DatastoreError } from "./port.ts";
import type { Datastore, KeyValue, ListResult, Watch, WatchEvent } from "./port.ts";
import { SortedKeys } from "./sorted-keys.ts";

export interface MemoryDatastoreOptions {
  /** How many past events watches can replay (older ones are compacted away). Default 10,000. */
  historyLimit?: number;
}

/** Lists at least this long are shared by the callers that ask at one revision. */
const SHARED_LIST_MIN = 8;

export class MemoryDatastore implements Datastore {
  private rev = 1;
  private readonly data = new Map<string, KeyValue>();
  private readonly keys = new SortedKeys();
  // Retained events, history[head..], one per revision in order; every event before compactRev is gone.
  private history: WatchEvent[] = [];
  private head = 0;
  private compactRev = 1;
  private readonly watches = new Set<MemoryWatch>();
  // The same watches grouped by prefix (a cluster's agents all watch one prefix): a write is matched
  // against each distinct prefix once instead of against every watch.
  private readonly watchGroups = new Map<string, Set<MemoryWatch>>();
  private lists = new Map<string, ListResult>();
  private listsRev = 0;
  private readonly historyLimit: number;
  private closed = false;

  constructor(options: MemoryDatastoreOptions = {}) {
    this.historyLimit = options.historyLimit ?? 10_000;
    if (!Number.isInteger(this.historyLimit) || this.historyLimit < 0) throw new RangeError("historyLimit must be a non-negative integer");
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.check(key);
    return this.data.get(key);
  }

  async list(prefix: string): Promise<ListResult> {
    this.checkOpen(prefix);
    // The clients of a simulated cluster list the same prefixes at the same revision (every node its
    // view of all blocks and affinities): a long list is built once per revision and its (read-only)
    // items shared. Any write makes a new revision and so drops them.
    if (this.listsRev !== this.rev) {
      if (this.lists.size !== 0) this.lists.clear();
      this.listsRev = this.rev;
    }
    const hit = this.lists.get(prefix);
    if (hit !== undefined) return hit;
    const items: KeyValue[] = [];
    this.keys.eachWithPrefix(prefix, (key) => {
      items.push(this.data.get(key)!);
    });
    const res: ListResult = { items, revision: this.rev };
    if (items.length >= SHARED_LIST_MIN) this.lists.set(prefix, res);
    return res;
  }

  async create(key: string, value: string): Promise<KeyValue> {
    this.check(key, value);
    const old = this.data.get(key);
    if (old) throw new DatastoreError("AlreadyExists", key);
    const rev = ++this.rev;
    const kv: KeyValue = { key, value, createRevision: rev, modRevision: rev };
    this.data.set(key, kv);
    this.keys.insert(key);
    if (this.recording()) this.record({ type: "put", key, value, revision: rev });
    else this.compactRev = rev + 1;
    return kv;
  }

  async update(key: string, value: string, revision: number): Promise<KeyValue> {
    this.check(key, value);
    const old = this.data.get(key);
    if (!old) throw new DatastoreError("NotFound", key);
    if (old.modRevision !== revision) throw conflict(key, revision, old.modRevision);
    const rev = ++this.rev;
    const kv: KeyValue = { key, value, createRevision: old.createRevision, modRevision: rev };
    this.data.set(key, kv);
    if (this.recording()) this.record({ type: "put", key, value, revision: rev });
    else this.compactRev = rev + 1;
    return kv;
  }

  async delete(key: string, revision?: number): Promise<void> {
    this.check(key);
    const old = this.data.get(key);
    if (!old) throw new DatastoreError("NotFound", key);
    if (revision !== undefined && old.modRevision !== revision) throw conflict(key, revision, old.modRevision);
    const rev = ++this.rev;
    this.data.delete(key);
    this.keys.remove(key);
    this.record({ type: "delete", key, value: undefined, revision: rev });
  }

  watch(
    prefix: string,
    fromRevision: number | undefined,
    onEvent: (event: WatchEvent) => void,
    onError?: (error: DatastoreError) => void,
  ): Watch {
    this.checkOpen(prefix);
    const start = fromRevision === undefined || fromRevision === 0 ? this.rev + 1 : fromRevision;
    if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`bad watch start revision ${String(fromRevision)}`);
    const w = new MemoryWatch(prefix, start, onEvent, onError, (x) => this.detach(x));
    if (start < this.compactRev) {
      w.fail(new DatastoreError("Compacted", prefix, `watch from revision ${start}: history starts at ${this.compactRev}`));
      return w;
    }
    const first = this.history[this.head]?.revision ?? this.rev + 1;
    for (let i = this.head + Math.max(0, start - first); i < this.history.length; i++) w.offer(this.history[i]!);
    this.watches.add(w);
    const group = this.watchGroups.get(prefix);
    if (group) group.add(w);
    else this.watchGroups.set(prefix, new Set([w]));
    return w;
  }

  private detach(w: MemoryWatch): void {
    if (!this.watches.delete(w)) return;
    const group = this.watchGroups.get(w.prefix);
    if (group && group.delete(w) && group.size === 0) this.watchGroups.delete(w.prefix);
  }

  async revision(): Promise<number> {
    this.checkOpen("");
    return this.rev;
  }

  /**
   * Drops history before `revision` (etcd's compact): later watches from an earlier revision get
   * "Compacted". A revision above the current one is an error; one already compacted is a no-op.
   */
  async compact(revision: number): Promise<void> {
    this.checkOpen("");
    if (!Number.isSafeInteger(revision) || revision > this.rev) throw new RangeError(`cannot compact to revision ${revision}: current is ${this.rev}`);
    this.dropHistoryBefore(revision);
  }

  /** The oldest revision a watch may still start from. */
  compactRevision(): number {
    return this.compactRev;
  }

  /** Number of keys stored. */
  get size(): number {
    return this.data.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.lists.clear();
    for (const w of this.watches) w.cancel();
    this.history = [];
    this.head = 0;
  }

  /** Whether a write's event is needed (a watcher or retained history); else it is not even built. */
  private recording(): boolean {
    return this.historyLimit !== 0 || this.watches.size !== 0;
  }

  private record(event: WatchEvent): void {
    // Watches are offered events in the order they were made. Nearly always a key matches one group
    // (or none), whose watches are in that order; with several matching groups, all are walked in order.
    let match: Set<MemoryWatch> | undefined;
    let several = false;
    for (const [prefix, group] of this.watchGroups) {
      if (!event.key.startsWith(prefix)) continue;
      if (match !== undefined) {
        several = true;
        break;
      }
      match = group;
    }
    if (several) {
      for (const w of this.watches) if (event.key.startsWith(w.prefix)) w.offer(event);
    } else if (match !== undefined) {
      for (const w of match) w.offer(event);
    }
    if (this.historyLimit === 0) {
      this.compactRev = event.revision + 1;
      return;
    }
    this.history.push(event);
    if (this.history.length - this.head > this.historyLimit) this.dropHistoryBefore(this.history[this.head]!.revision + 1);
  }

  private dropHistoryBefore(revision: number): void {
    if (revision <= this.compactRev) return;
    this.compactRev = revision;
    const first = this.history[this.head]?.revision;
    if (first !== undefined) this.head += Math.min(this.history.length - this.head, Math.max(0, revision - first));
    // Reclaim the dropped prefix now and then rather than shifting on every write.
    if (this.head > 1024 && this.head * 2 > this.history.length) {
      this.history = this.history.slice(this.head);
      this.head = 0;
    }
  }

  private checkOpen(key: string): void {
    if (this.closed) throw new DatastoreError("Unavailable", key, "datastore is closed");
  }

  private check(key: string, value?: string): void {
    this.checkOpen(key);
    if (typeof key !== "string" || key === "") throw new TypeError("datastore key must be a non-empty string");
    if (value !== undefined && typeof value !== "string") throw new TypeError(`datastore value for ${key} must be a string`);
  }
}

function conflict(key: string, expected: number, actual: number): DatastoreError {
  return new DatastoreError("Conflict", key, `Conflict: ${key} is at revision ${actual}, not ${expected}`);
}

class MemoryWatch implements Watch {
  private queue: WatchEvent[] = [];
  private pos = 0;
  private scheduled = false;
  private draining = false;
  private cancelled = false;

  constructor(
    readonly prefix: string,
    private readonly start: number,
    private readonly onEvent: (event: WatchEvent) => void,
    private readonly onError: ((error: DatastoreError) => void) | undefined,
    private readonly detach: (w: MemoryWatch) => void,
  ) {}

  offer(event: WatchEvent): void {
    if (this.cancelled || event.revision < this.start || !event.key.startsWith(this.prefix)) return;
    this.queue.push(event);
    this.schedule();
  }

  fail(error: DatastoreError): void {
    this.cancelled = true;
    queueMicrotask(() => {
      // Without a handler the error is thrown, like an unhandled error event, rather than lost.
      if (this.onError) this.onError(error);
      else throw error;
    });
  }

  cancel(): void {
    this.cancelled = true;
    this.queue = [];
    this.pos = 0;
    this.detach(this);
  }

  private schedule(): void {
    if (this.scheduled || this.draining) return;
    this.scheduled = true;
    queueMicrotask(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    this.draining = true;
    try {
      // Events offered by callbacks (writes made from inside onEvent) are picked up by this same loop.
      while (!this.cancelled && this.pos < this.queue.length) {
        const event = this.queue[this.pos++]!;
        if (this.pos === this.queue.length) {
          this.queue = [];
          this.pos = 0;
        }
        this.onEvent(event);
      }
    } finally {
      this.draining = false;
      // A throwing callback leaves the rest of the queue for a later microtask.
      if (!this.cancelled && this.pos < this.queue.length) this.schedule();
    }
  }
}
