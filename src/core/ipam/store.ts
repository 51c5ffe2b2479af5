// IPAM's typed view of the Datastore (Calico's blockReaderWriter): blocks, affinities, handles and the
// config, each read and written with compare-and-swap on the datastore revision.
//
// Parsed blocks are cached by (key, modRevision): a revision names exactly one value of a key, so a
// cache hit is the very value the datastore holds at that revision. The cache never decides whether a
// write may happen; every write is still a CAS against the revision that was read.
// Parsed blocks are also shared between clients: the in-memory datastore hands every reader the very
// KeyValue object it stores (immutable; a write stores a new one), so a simulated cluster parses each
// block version once, not once per node. (etcd returns fresh objects: nothing is shared there.)
import type { Family, Prefix } from "../net/ip.ts";
import { isDatastoreError, type Datastore, type KeyValue } from "../datastore/port.ts";
import { parseBlock, serializeBlock, withNextSequence, type Block } from "./block.ts";
import { DEFAULT_CONFIG, parseConfig, serializeConfig, type IpamConfig } from "./config.ts";
import { IpamError } from "./errors.ts";
import { parseHandle, serializeHandle, type HandleBlocks } from "./handle.ts";
import {
  affinityKey,
  blockKey,
  blockPrefix,
  CONFIG_KEY,
  handleKey,
  HANDLE_PREFIX,
  hostAffinityPrefix,
  HOST_PREFIX,
  parseAffinityKey,
} from "./keys.ts";

export type AffinityState = "pending" | "confirmed" | "pendingDeletion" | "";

export interface BlockEntry {
  readonly key: string;
  readonly modRevision: number;
  readonly block: Block;
}

export interface AffinityEntry {
  readonly key: string;
  readonly host: string;
  readonly cidr: Prefix;
  readonly state: AffinityState;
  readonly modRevision: number;
}

export interface HandleEntry {
  readonly key: string;
  readonly handleId: string;
  readonly blocks: HandleBlocks;
  readonly modRevision: number;
}

/** Operation counters: how hard the datastore was worked, and how often CAS lost a race. */
export interface IpamCounters {
  reads: number;
  lists: number;
  writes: number;
  /** CAS writes that failed because someone else wrote first (Conflict / AlreadyExists). */
  casConflicts: number;
  /** Re-reads and retries after a conflict. */
  retries: number;
  blocksParsed: number;
  blockCacheHits: number;
  /** Blocks another client of the same in-memory datastore had already parsed (not parsed again). */
  blocksShared: number;
}

export const newCounters = (): IpamCounters => ({
  reads: 0,
  lists: 0,
  writes: 0,
  casConflicts: 0,
  retries: 0,
  blocksParsed: 0,
  blockCacheHits: 0,
  blocksShared: 0,
});

// Parsed entries by the stored KeyValue object. Only parses are recorded, not this client's writes:
// a write is read back by its writer from the per-client cache, and an allocation-heavy client should
// not pay a WeakMap insert per write.
const sharedParses = new WeakMap<KeyValue, BlockEntry>();
// Entries by the datastore's items array. The memory store hands every client that lists a prefix at
// one revision the same (read-only) array, so a cluster maps it once, not once per node (N² at a cold
// start, where every node lists all blocks). Entries made by one client serve all: a version of a key
// is one value whoever parsed or wrote it.
const sharedLists = new WeakMap<readonly KeyValue[], readonly BlockEntry[]>();

const AFFINITY_STATES: readonly string[] = ["pending", "confirmed", "pendingDeletion", ""];

const stateByValue = new Map<string, AffinityState>();

function affinityState(key: string, value: string): AffinityState {
  const known = stateByValue.get(value);
  if (known !== undefined) return known;
  const state = parseAffinityState(key, value);
  if (stateByValue.size < 64) stateByValue.set(value, state);
  return state;
}

function parseAffinityState(key: string, value: string): AffinityState {
  let o: unknown;
  try {
    o = JSON.parse(value);
  } catch {
    throw new IpamError("Corrupt", `affinity ${key}: invalid JSON`);
  }
  const state = (o as { state?: unknown } | null)?.state ?? "";
  if (typeof state !== "string" || !AFFINITY_STATES.includes(state)) throw new IpamError("Corrupt", `affinity ${key}: unknown state ${JSON.stringify(state)}`);
  return state as AffinityState;
}

const affinityJson = (state: AffinityState): string => `{"state":"${state}","deleted":false}`;

/**
 * Told about every write this client makes: its revision (undefined when unknown, as for deletes,
 * which the port does not return a revision for) and, for blocks, the new entry or the deleted one.
 */
export type WriteListener = (revision: number | undefined, change?: { block?: BlockEntry; deleted?: BlockEntry }) => void;

export class IpamStore {
  onWrite: WriteListener | undefined;
  private readonly blocks = new Map<string, BlockEntry>();
  private config: { modRevision: number; config: IpamConfig } | undefined;
  private readonly affinities = new Map<string, AffinityEntry>();
  private lastAffinityPrefix: { host: string; family: Family; prefix: string } | undefined;

  constructor(
    readonly ds: Datastore,
    readonly counters: IpamCounters = newCounters(),
  ) {}

  private blockEntry(kv: KeyValue): BlockEntry {
    const hit = this.blocks.get(kv.key);
    if (hit && hit.modRevision === kv.modRevision) {
      this.counters.blockCacheHits++;
      return hit;
    }
    const shared = sharedParses.get(kv);
    if (shared !== undefined) {
      // The datastore shares its objects, so the shared map finds this version again next time: no
      // per-client copy (a cluster of N clients would otherwise hold N × blocks entries).
      if (hit) this.blocks.delete(kv.key);
      this.counters.blocksShared++;
      return shared;
    }
    this.counters.blocksParsed++;
    const entry = { key: kv.key, modRevision: kv.modRevision, block: parseBlock(kv.key, kv.value) };
    sharedParses.set(kv, entry);
    this.blocks.set(kv.key, entry);
    return entry;
  }

  /** Records a block this client just wrote, so reading it back costs no parse. */
  private remember(kv: KeyValue, block: Block): BlockEntry {
    const entry = { key: kv.key, modRevision: kv.modRevision, block };
    this.blocks.set(kv.key, entry);
    return entry;
  }

  // The hot-path methods below chain with .then instead of being async functions: an async frame is
  // allocated on every call, and these run several times per address.

  getBlock(cidr: Prefix): Promise<BlockEntry | undefined> {
    this.counters.reads++;
    const key = blockKey(cidr);
    return this.ds.get(key).then((kv) => {
      if (!kv) {
        this.blocks.delete(key);
        return undefined;
      }
      return this.blockEntry(kv);
    });
  }

  async listBlocks(family: Family): Promise<{ revision: number; entries: readonly BlockEntry[] }> {
    this.counters.lists++;
    const res = await this.ds.list(blockPrefix(family));
    return { revision: res.revision, entries: this.entriesOf(res.items) };
  }

  /** The entries of a list's items; a list the datastore shares (see sharedLists) is mapped once. */
  private entriesOf(items: readonly KeyValue[]): readonly BlockEntry[] {
    const shared = sharedLists.get(items);
    if (shared !== undefined) {
      this.counters.blocksShared += shared.length;
      return shared;
    }
    const entries = items.map((kv) => this.blockEntry(kv));
    sharedLists.set(items, entries);
    return entries;
  }

  async listAllBlocks(): Promise<BlockEntry[]> {
    const v4 = await this.listBlocks(4);
    const v6 = await this.listBlocks(6);
    return [...v4.entries, ...v6.entries];
  }

  /**
   * Every block, as one list per family (IPv4 first): listAllBlocks without the copy, so that a list
   * shared between clients stays the same array (per-list indexes, as borrowedAddressesOf keeps).
   */
  async listBlocksPerFamily(): Promise<readonly (readonly BlockEntry[])[]> {
    const v4 = await this.listBlocks(4);
    const v6 = await this.listBlocks(6);
    return [v4.entries, v6.entries];
  }

  /** Creates a block; throws DatastoreError("AlreadyExists") if someone has it. */
  async createBlock(block: Block): Promise<BlockEntry> {
    this.counters.writes++;
    const kv = await this.ds.create(blockKey(block.cidr), serializeBlock(block));
    const entry = this.remember(kv, block);
    this.onWrite?.(kv.modRevision, { block: entry });
    return entry;
  }

  /** CAS-writes a new version of a block, bumping its sequence number as Calico's updateBlock does. */
  updateBlock(prev: BlockEntry, block: Block): Promise<BlockEntry> {
    this.counters.writes++;
    const next = withNextSequence(block);
    return this.ds.update(prev.key, serializeBlock(next), prev.modRevision).then((kv) => {
      const entry = this.remember(kv, next);
      this.onWrite?.(kv.modRevision, { block: entry });
      return entry;
    });
  }

  async deleteBlock(prev: BlockEntry): Promise<void> {
    this.counters.writes++;
    try {
      await this.ds.delete(prev.key, prev.modRevision);
    } finally {
      this.onWrite?.(undefined, { deleted: prev });
    }
    this.blocks.delete(prev.key);
  }

  // ---- affinities ----

  private affinityEntry(kv: KeyValue): AffinityEntry | undefined {
    // Like blocks, cached by (key, modRevision): the same affinities are listed on every request.
    const hit = this.affinities.get(kv.key);
    if (hit !== undefined && hit.modRevision === kv.modRevision) return hit;
    const parts = parseAffinityKey(kv.key);
    if (!parts) return undefined;
    const entry: AffinityEntry = { key: kv.key, host: parts.host, cidr: parts.cidr, state: affinityState(kv.key, kv.value), modRevision: kv.modRevision };
    if (this.affinities.size >= 100_000) this.affinities.clear();
    this.affinities.set(kv.key, entry);
    return entry;
  }

  /** The host's affinity prefix, remembered for the last host asked (one node's client asks for itself). */
  private affinityPrefix(host: string, family: Family): string {
    const last = this.lastAffinityPrefix;
    if (last !== undefined && last.host === host && last.family === family) return last.prefix;
    const prefix = hostAffinityPrefix(host, family);
    this.lastAffinityPrefix = { host, family, prefix };
    return prefix;
  }

  listHostAffinities(host: string, family: Family): Promise<AffinityEntry[]> {
    this.counters.lists++;
    return this.ds.list(this.affinityPrefix(host, family)).then((res) => {
      const out: AffinityEntry[] = [];
      for (const kv of res.items) {
        const a = this.affinityEntry(kv);
        if (a) out.push(a);
      }
      return out;
    });
  }

  async listAllAffinities(): Promise<AffinityEntry[]> {
    this.counters.lists++;
    const res = await this.ds.list(HOST_PREFIX);
    return res.items.map((kv) => this.affinityEntry(kv)).filter((a): a is AffinityEntry => a !== undefined);
  }

  async getAffinity(host: string, cidr: Prefix): Promise<AffinityEntry | undefined> {
    this.counters.reads++;
    const kv = await this.ds.get(affinityKey(host, cidr));
    return kv ? this.affinityEntry(kv) : undefined;
  }

  async createAffinity(host: string, cidr: Prefix, state: AffinityState): Promise<AffinityEntry> {
    this.counters.writes++;
    const kv = await this.ds.create(affinityKey(host, cidr), affinityJson(state));
    this.onWrite?.(kv.modRevision);
    return { key: kv.key, host, cidr, state, modRevision: kv.modRevision };
  }

  async updateAffinity(prev: AffinityEntry, state: AffinityState): Promise<AffinityEntry> {
    this.counters.writes++;
    const kv = await this.ds.update(prev.key, affinityJson(state), prev.modRevision);
    this.onWrite?.(kv.modRevision);
    return { ...prev, state, modRevision: kv.modRevision };
  }

  async deleteAffinity(prev: AffinityEntry): Promise<void> {
    this.counters.writes++;
    this.onWrite?.(undefined);
    await this.ds.delete(prev.key, prev.modRevision);
  }

  // ---- handles ----

  async getHandle(handleId: string): Promise<HandleEntry | undefined> {
    this.counters.reads++;
    const key = handleKey(handleId);
    const kv = await this.ds.get(key);
    return kv ? { key, handleId, blocks: parseHandle(key, kv.value), modRevision: kv.modRevision } : undefined;
  }

  async listHandles(): Promise<HandleEntry[]> {
    this.counters.lists++;
    const res = await this.ds.list(HANDLE_PREFIX);
    return res.items.map((kv) => ({
      key: kv.key,
      handleId: kv.key.slice(HANDLE_PREFIX.length),
      blocks: parseHandle(kv.key, kv.value),
      modRevision: kv.modRevision,
    }));
  }

  /** Creates a handle holding `n` addresses of one block (the common case, without building a map). */
  createSimpleHandle(handleId: string, cidr: string, n: number): Promise<void> {
    this.counters.writes++;
    return this.ds.create(handleKey(handleId), `{"block":{"${cidr}":${n}},"deleted":false}`).then((kv) => {
      this.onWrite?.(kv.modRevision);
    });
  }

  async createHandle(handleId: string, blocks: HandleBlocks): Promise<HandleEntry> {
    this.counters.writes++;
    const key = handleKey(handleId);
    const kv = await this.ds.create(key, serializeHandle(blocks));
    this.onWrite?.(kv.modRevision);
    return { key, handleId, blocks, modRevision: kv.modRevision };
  }

  async updateHandle(prev: HandleEntry, blocks: HandleBlocks): Promise<HandleEntry> {
    this.counters.writes++;
    const kv = await this.ds.update(prev.key, serializeHandle(blocks), prev.modRevision);
    this.onWrite?.(kv.modRevision);
    return { ...prev, blocks, modRevision: kv.modRevision };
  }

  async deleteHandle(prev: HandleEntry): Promise<void> {
    this.counters.writes++;
    this.onWrite?.(undefined);
    await this.ds.delete(prev.key, prev.modRevision);
  }

  // ---- config ----

  getConfig(): Promise<IpamConfig> {
    this.counters.reads++;
    return this.ds.get(CONFIG_KEY).then((kv) => {
      if (!kv) return DEFAULT_CONFIG;
      if (this.config?.modRevision !== kv.modRevision) this.config = { modRevision: kv.modRevision, config: parseConfig(kv.value) };
      return this.config.config;
    });
  }

  /** Writes the config (create, or CAS update of what is there). */
  async putConfig(cfg: IpamConfig): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const kv = await this.ds.get(CONFIG_KEY);
      try {
        this.counters.writes++;
        this.onWrite?.(undefined);
        if (kv) await this.ds.update(CONFIG_KEY, serializeConfig(cfg), kv.modRevision);
        else await this.ds.create(CONFIG_KEY, serializeConfig(cfg));
        return;
      } catch (e) {
        if (!isCasFailure(e)) throw e;
        this.counters.casConflicts++;
      }
    }
    throw new IpamError("MaxRetries", "Max retries hit writing the IPAM config");
  }
}

/** A lost race: somebody wrote first (Conflict, AlreadyExists) or deleted what we read (NotFound). */
export function isCasFailure(e: unknown): boolean {
  return isDatastoreError(e, "Conflict") || isDatastoreError(e, "AlreadyExists") || isDatastoreError(e, "NotFound");
}
