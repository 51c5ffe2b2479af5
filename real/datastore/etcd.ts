// The Datastore port on etcd v3 (npm etcd3), with the same transactions Calico's etcdv3 backend uses:
//   create  = Txn If(Create(key) == 0) Then Put Else Get              -> AlreadyExists
//   update  = Txn If(Mod(key) == rev) Then Put, Get Else Get          -> Conflict / NotFound
//   delete  = Txn If(Mod(key) == rev) Then Delete Else Get             -> Conflict / NotFound
// Every key lives under /birdcage/<namespace>/ so that runs and tests can share one etcd.
// Connection failures, deadlines and a closed client surface as DatastoreError("Unavailable"); such a
// write may or may not have been applied. etcd3's default fault handling stays on: up to 3 attempts on
// connection-level errors, and a per-host circuit breaker that fails calls fast for 5 s after 3
// consecutive failures.
import { ClientClosedError, Etcd3, GRPCDeadlineExceededError, isRecoverableError } from "etcd3";
import type { IOptions, IWatchResponse, Namespace, Watcher } from "etcd3";
import { DatastoreError } from "../../src/core/datastore/port.ts";
import type { Datastore, KeyValue, ListResult, Watch, WatchEvent } from "../../src/core/datastore/port.ts";

export interface EtcdDatastoreOptions {
  /** etcd client URLs, e.g. "http://127.0.0.1:2379". */
  endpoints: string | string[];
  /** Keys are stored under /birdcage/<namespace>/ (letters, digits, . _ -). */
  namespace: string;
  /** Deadline for each request; default 5 s. */
  requestTimeoutMs?: number;
  /** How long to wait while connecting; default 5 s. */
  dialTimeoutMs?: number;
  /**
   * etcd's --max-request-bytes (default 1.5 MiB). Bigger writes fail here with a RangeError instead of
   * being sent: etcd3 would retry them as if the connection were at fault and trip its circuit breaker.
   */
  maxRequestBytes?: number;
}

const ETCD_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

const NAMESPACE_RE = /^[A-Za-z0-9._-]+$/;

export class EtcdDatastore implements Datastore {
  /** The etcd key prefix a namespace's keys are stored under. */
  static keyPrefix(namespace: string): string {
    if (!NAMESPACE_RE.test(namespace)) throw new TypeError(`bad datastore namespace ${JSON.stringify(namespace)}: use letters, digits, '.', '_' or '-'`);
    return `/birdcage/${namespace}/`;
  }

  readonly namespace: string;
  /** The etcd key prefix, /birdcage/<namespace>/. */
  readonly prefix: string;
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private readonly maxRequestBytes: number;
  private readonly watches = new Set<EtcdWatch>();
  private readonly cancelling = new Set<Promise<void>>();
  private closed = false;
  /** Highest store revision seen in any response: where a watch "from now" starts. */
  private seen = 0;

  constructor(options: EtcdDatastoreOptions) {
    this.prefix = EtcdDatastore.keyPrefix(options.namespace);
    this.namespace = options.namespace;
    this.maxRequestBytes = options.maxRequestBytes ?? ETCD_MAX_REQUEST_BYTES;
    const timeout = options.requestTimeoutMs ?? 5000;
    const clientOptions: IOptions = {
      hosts: options.endpoints,
      dialTimeout: options.dialTimeoutMs ?? 5000,
      // gRPC's default 4 MiB receive limit breaks list() of a big IPAM (1,000 blocks are ~5 MB).
      grpcOptions: { "grpc.max_receive_message_length": -1 },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    };
    this.client = new Etcd3(clientOptions);
    this.ns = this.client.namespace(this.prefix);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    checkKey(key);
    return this.call(key, async () => {
      const res = await this.ns.get(key).exec();
      this.see(res.header.revision);
      const kv = res.kvs[0];
      return kv && toKeyValue(key, kv);
    });
  }

  async list(prefix: string): Promise<ListResult> {
    return this.call(prefix, async () => {
      const res = await this.ns.getAll().prefix(prefix).sort("Key", "Ascend").exec();
      const revision = this.see(res.header.revision);
      return { items: res.kvs.map((kv) => toKeyValue(kv.key.toString("utf8"), kv)), revision };
    });
  }

  async create(key: string, value: string): Promise<KeyValue> {
    checkKey(key, value);
    this.checkSize(key, value);
    return this.call(key, async () => {
      const res = await this.ns.if(key, "Create", "==", 0).then(this.ns.put(key).value(value)).else(this.ns.get(key)).commit();
      const rev = this.see(res.header.revision);
      if (!res.succeeded) throw new DatastoreError("AlreadyExists", key);
      return { key, value, createRevision: rev, modRevision: rev };
    });
  }

  async update(key: string, value: string, revision: number): Promise<KeyValue> {
    checkKey(key, value);
    this.checkSize(key, value);
    return this.call(key, async () => {
      // Mod == 0 holds for an absent key, so a revision below 1 would turn the update into a create.
      if (!validRevision(revision)) throw (await this.get(key)) ? conflict(key, revision) : new DatastoreError("NotFound", key);
      const res = await this.ns.if(key, "Mod", "==", revision).then(this.ns.put(key).value(value), this.ns.get(key)).else(this.ns.get(key)).commit();
      this.see(res.header.revision);
      if (!res.succeeded) throw res.responses[0]?.response_range?.kvs.length ? conflict(key, revision) : new DatastoreError("NotFound", key);
      const kv = res.responses[1]?.response_range?.kvs[0];
      if (!kv) throw new Error(`etcd: no read-back of ${key} after a successful update`);
      return toKeyValue(key, kv);
    });
  }

  async delete(key: string, revision?: number): Promise<void> {
    checkKey(key);
    return this.call(key, async () => {
      if (revision === undefined) {
        const res = await this.ns.delete().key(key).exec();
        this.see(res.header.revision);
        if (Number(res.deleted) === 0) throw new DatastoreError("NotFound", key);
        return;
      }
      if (!validRevision(revision)) throw (await this.get(key)) ? conflict(key, revision) : new DatastoreError("NotFound", key);
      const res = await this.ns.if(key, "Mod", "==", revision).then(this.ns.delete().key(key)).else(this.ns.get(key)).commit();
      this.see(res.header.revision);
      if (!res.succeeded) throw res.responses[0]?.response_range?.kvs.length ? conflict(key, revision) : new DatastoreError("NotFound", key);
    });
  }

  /**
   * Without a start revision the watch begins after the newest revision this client has seen (so it
   * sees every write this client makes after the call); before any request, at etcd's current one.
   */
  watch(
    prefix: string,
    fromRevision: number | undefined,
    onEvent: (event: WatchEvent) => void,
    onError?: (error: DatastoreError) => void,
  ): Watch {
    if (this.closed) throw new DatastoreError("Unavailable", prefix, "etcd datastore is closed");
    const start = fromRevision === undefined || fromRevision === 0 ? (this.seen > 0 ? this.seen + 1 : undefined) : fromRevision;
    if (start !== undefined && (!Number.isSafeInteger(start) || start < 0)) throw new RangeError(`bad watch start revision ${String(fromRevision)}`);
    let builder = this.ns.watch().prefix(prefix);
    if (start !== undefined) builder = builder.startRevision(String(start));
    const w = new EtcdWatch(this, builder.watcher(), prefix, start, onEvent, onError);
    this.watches.add(w);
    return w;
  }

  async revision(): Promise<number> {
    return this.call("", async () => {
      // A range over an empty key range is the cheapest request that carries the header revision.
      const res = await this.ns.get("\u0000revision-probe").exec();
      return this.see(res.header.revision);
    });
  }

  /**
   * etcd's compaction, for tests of "Compacted": it compacts the WHOLE etcd (every namespace), since
   * revisions are global.
   */
  async compact(revision: number): Promise<void> {
    return this.call("", async () => {
      await this.client.kv.compact({ revision: String(revision), physical: true });
    });
  }

  /** Deletes every key of this namespace (test and run cleanup). */
  async deleteNamespace(): Promise<void> {
    return this.call("", async () => {
      await this.ns.delete().all().exec();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Watchers must be detached before the client closes, or etcd3's watch manager keeps retrying.
    for (const w of this.watches) w.cancel();
    await Promise.all(this.cancelling);
    this.client.close();
  }

  /** @internal used by EtcdWatch */
  forget(w: EtcdWatch, cancelling?: Promise<void>): void {
    this.watches.delete(w);
    if (cancelling) {
      const p = cancelling.catch(() => undefined).finally(() => this.cancelling.delete(p));
      this.cancelling.add(p);
    }
  }

  /** @internal Tells a watch cancelled by etcd whether its start revision was compacted away. */
  async isCompacted(revision: number): Promise<boolean> {
    try {
      await this.ns.get("\u0000revision-probe").revision(revision).exec();
      return false;
    } catch (e) {
      return e instanceof Error && /compacted/i.test(e.message);
    }
  }

  private checkSize(key: string, value: string): void {
    // The transaction carries the key three times (compare, put, get) plus a little framing.
    const bytes = Buffer.byteLength(value) + 3 * (Buffer.byteLength(key) + this.prefix.length) + 64;
    if (bytes > this.maxRequestBytes) throw new RangeError(`${key}: a ${bytes}-byte request is over etcd's ${this.maxRequestBytes}-byte limit`);
  }

  private see(revision: string): number {
    const r = Number(revision);
    if (r > this.seen) this.seen = r;
    return r;
  }

  private async call<T>(key: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new DatastoreError("Unavailable", key, "etcd datastore is closed");
    try {
      return await op();
    } catch (e) {
      throw this.mapError(e, key);
    }
  }

  private mapError(e: unknown, key: string): unknown {
    if (e instanceof DatastoreError || !(e instanceof Error)) return e;
    // A request over etcd's --max-request-bytes can never succeed: not "Unavailable".
    if (/RESOURCE_EXHAUSTED.*larger than max|request is too large/.test(e.message)) return new RangeError(`${key}: too large for etcd (${e.message})`);
    if (this.closed || e instanceof ClientClosedError) return new DatastoreError("Unavailable", key, `etcd client closed: ${e.message}`);
    // After repeated connection failures etcd3's circuit breaker (cockatiel) fails calls fast for a while.
    const brokenCircuit = e.constructor.name === "BrokenCircuitError" || /circuit breaker is open/.test(e.message);
    if (isRecoverableError(e) || e instanceof GRPCDeadlineExceededError || brokenCircuit) {
      return new DatastoreError("Unavailable", key, `etcd unavailable: ${e.message}`);
    }
    return e;
  }
}

class EtcdWatch implements Watch {
  private cancelled = false;
  // Dedupe guard: the newest delivered revision and the keys delivered at it.
  private lastRevision = 0;
  private keysAtLast = new Set<string>();
  // Everything up to this revision has been delivered: where a broken stream must resume. etcd3 resumes
  // from the header revision of the last response, which is too far ahead while etcd is still
  // replaying history (events of older revisions arrive under a newer header).
  // Undefined only for a watch "from now" that etcd has not created yet.
  private deliveredThrough: number | undefined;

  constructor(
    private readonly store: EtcdDatastore,
    private readonly watcher: Watcher,
    private readonly prefix: string,
    start: number | undefined,
    private readonly onEvent: (event: WatchEvent) => void,
    private readonly onError: ((error: DatastoreError) => void) | undefined,
  ) {
    this.deliveredThrough = start === undefined ? undefined : start - 1;
    // Listeners go on synchronously: etcd can cancel (e.g. compacted) right after creating the watch.
    watcher.on("connecting", () => {
      if (this.deliveredThrough !== undefined) watcher.request.start_revision = this.deliveredThrough + 1;
    });
    watcher.on("connected", (res: IWatchResponse) => {
      // A watch "from now" is synced from the creation revision on.
      this.deliveredThrough ??= Number(res.header.revision);
    });
    watcher.on("data", (res: IWatchResponse) => this.data(res));
    watcher.on("error", (err: Error) => void this.failed(err));
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.store.forget(this, this.watcher.cancel());
  }

  private data(res: IWatchResponse): void {
    for (const ev of res.events) {
      if (this.cancelled) return;
      const revision = Number(ev.kv.mod_revision);
      const key = ev.kv.key.toString("utf8");
      if (revision < this.lastRevision || (revision === this.lastRevision && this.keysAtLast.has(key))) continue;
      if (revision > this.lastRevision) {
        this.lastRevision = revision;
        this.keysAtLast = new Set();
      }
      this.keysAtLast.add(key);
      const isPut = ev.type === "Put";
      this.onEvent({ type: isPut ? "put" : "delete", key, value: isPut ? ev.kv.value.toString("utf8") : undefined, revision });
    }
    // etcd never splits a revision across responses; an event-less response is a progress notice,
    // sent only to a watch that has caught up to its header revision.
    const through = res.events.length > 0 ? this.lastRevision : Number(res.header.revision);
    if (through > (this.deliveredThrough ?? 0)) this.deliveredThrough = through;
  }

  private async failed(err: Error): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.store.forget(this);
    // etcd cancels a compacted watch without a reason; ask whether the revision it needed is gone.
    const needed = (this.deliveredThrough ?? 0) + 1;
    const compacted = this.deliveredThrough !== undefined && (await this.store.isCompacted(needed));
    const error = compacted
      ? new DatastoreError("Compacted", this.prefix, `watch of ${this.prefix} from revision ${needed}: history compacted`)
      : new DatastoreError("Unavailable", this.prefix, `watch of ${this.prefix} failed: ${err.message}`);
    if (this.onError) this.onError(error);
    else throw error;
  }
}

function toKeyValue(key: string, kv: { value: Buffer; create_revision: string; mod_revision: string }): KeyValue {
  return { key, value: kv.value.toString("utf8"), createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision) };
}

function validRevision(r: number): boolean {
  return Number.isSafeInteger(r) && r >= 1;
}

function conflict(key: string, expected: number): DatastoreError {
  return new DatastoreError("Conflict", key, `Conflict: ${key} is no longer at revision ${expected}`);
}

function checkKey(key: string, value?: string): void {
  if (typeof key !== "string" || key === "") throw new TypeError("datastore key must be a non-empty string");
  if (value !== undefined && typeof value !== "string") throw new TypeError(`datastore value for ${key} must be a string`);
}
