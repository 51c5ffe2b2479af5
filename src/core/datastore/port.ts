// The Datastore port: a revisioned key-value store with compare-and-swap and watch, shaped after etcd v3
// so that the in-memory implementation (the embedded default) and etcd behave the same. Every IPAM
// write goes through create / update-if-revision / delete-if-revision.
//
// Implementations: MemoryDatastore (./memory.ts) and EtcdDatastore (real/datastore/etcd.ts). Both pass
// the contract suite in test/core/datastore/contract.ts, which is the precise statement of the rules:
// - Revisions: one store-wide counter; every successful write gets a strictly higher one, failed CAS
//   and deletes of absent keys write nothing. Compare revisions only with each other: on a shared etcd
//   other namespaces move the counter too.
// - Keys are non-empty strings (else TypeError); values any string, though etcd refuses requests over
//   1.5 MiB (RangeError) and the memory store has no limit. list() sorts keys by UTF-8 bytes.
// - Errors are DatastoreError with a code; "Unavailable" covers lost connections, timeouts and a
//   closed store, and the operation may or may not have been applied.

/** One stored key. `modRevision` is the store revision of the key's last write (etcd's mod_revision). */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
}

export type DatastoreErrorCode = "AlreadyExists" | "NotFound" | "Conflict" | "Compacted" | "Unavailable";

export class DatastoreError extends Error {
  constructor(
    readonly code: DatastoreErrorCode,
    readonly key: string,
    message?: string,
  ) {
    super(message ?? `${code}: ${key}`);
    this.name = "DatastoreError";
  }
}

export const isDatastoreError = (e: unknown, code?: DatastoreErrorCode): e is DatastoreError =>
  e instanceof DatastoreError && (code === undefined || e.code === code);

export interface ListResult {
  readonly items: readonly KeyValue[]; // sorted by key; read-only: the memory store shares one list between callers
  readonly revision: number; // the store revision the list was read at
}

export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  /** The new value for put; undefined for delete. */
  readonly value: string | undefined;
  readonly revision: number;
}

export interface Watch {
  cancel(): void;
}

export interface Datastore {
  get(key: string): Promise<KeyValue | undefined>;
  list(prefix: string): Promise<ListResult>;
  /** Creates the key if absent; throws DatastoreError("AlreadyExists") otherwise. */
  create(key: string, value: string): Promise<KeyValue>;
  /** Writes only if the key's modRevision equals `revision`: "Conflict" if not, "NotFound" if absent. */
  update(key: string, value: string, revision: number): Promise<KeyValue>;
  /**
   * Deletes only if the key's modRevision equals `revision` (any revision when omitted): "Conflict" if
   * not, "NotFound" if the key is absent.
   */
  delete(key: string, revision?: number): Promise<void>;
  /**
   * Calls `onEvent` for every change under `prefix` with revision >= `fromRevision` (etcd's start
   * revision; omit or 0 for "from now"), in revision order, each exactly once. To follow a list()
   * without a gap, watch from `list.revision + 1` (on etcd, "from now" means after the newest revision
   * that client has seen). Events arrive asynchronously, never from inside the write that caused
   * them, and a callback is never re-entered. `onError` receives "Compacted" when the
   * history no longer reaches back that far (the watch then ends); without `onError` the error is thrown
   * asynchronously rather than lost.
   */
  watch(
    prefix: string,
    fromRevision: number | undefined,
    onEvent: (event: WatchEvent) => void,
    onError?: (error: DatastoreError) => void,
  ): Watch;
  /** The current store revision. */
  revision(): Promise<number>;
  close(): Promise<void>;
}
