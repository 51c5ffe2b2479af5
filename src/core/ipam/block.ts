// The allocation block: Calico's AllocationBlock (libcalico-go/lib/backend/model/block.go) as an
// immutable value. Every change returns a new Block (copy on write), so a parsed block can be cached
// by (key, modRevision) and shared safely by concurrent operations of one client.
//
// JSON (Calico's field names): {"cidr","affinity","affinity_claim_time","allocations":[attrIndex|null
// per ordinal],"unallocated":[free ordinals, FIFO],"attributes":[{"handle_id","secondary"}],
// "sequenceNumber","sequenceNumberForAllocation":{"<ordinal>":seq},"deleted"}.
// Allocation pops the head of `unallocated`; release appends to the tail, so the address that has
// been free the longest is reused first.
import { formatIP, prefixSize, type Prefix } from "../net/ip.ts";
import { IpamError } from "./errors.ts";
import { parseBlockKey } from "./keys.ts";

export interface BlockAttribute {
  readonly handle_id?: string;
  /** Owner attributes: pod, namespace, node, type (ipipTunnelAddress, vxlanTunnelAddress, ...). */
  readonly secondary?: Readonly<Record<string, string>>;
}

export interface Block {
  readonly cidr: Prefix;
  readonly cidrText: string;
  /** "host:<name>" or null when the block has no affinity (its host released it). */
  readonly affinity: string | null;
  readonly affinityClaimTime: string | null;
  readonly allocations: readonly (number | null)[];
  readonly unallocated: readonly number[];
  readonly attributes: readonly BlockAttribute[];
  /** Bumped on every write (ABA protection); initialised from the clock in milliseconds. */
  readonly sequenceNumber: number;
  /** sequenceNumberForAllocation, indexed by ordinal. */
  readonly seqForAlloc: readonly (number | undefined)[];
  readonly deleted: boolean;
  /** Memo: the joined JSON of `attributes` (shared between versions, so a write appends, not rebuilds). */
  readonly attributesJson?: string;
  /** Memo: the members of sequenceNumberForAllocation, likewise appended to on assignment. */
  readonly seqJson?: string;
  /** Memo: `allocations` as JSON in chunks of CHUNK ordinals; an assignment invalidates only its chunks. */
  readonly allocChunks?: readonly (string | undefined)[];
  /** Memo: the members of `unallocated`; an assignment takes a suffix of it (a slice, not a copy). */
  readonly unallocJson?: string;
  /** Memo: the JSON of cidr, affinity and claim time, which only an affinity change alters. */
  readonly headJson?: string;
}

export const hostAffinity = (host: string): string => `host:${host}`;

/** The host named by a "host:<name>" affinity, or undefined. */
export const affinityHost = (affinity: string | null): string | undefined =>
  affinity !== null && affinity.startsWith("host:") ? affinity.slice(5) : undefined;

export const blockCapacity = (b: Block): number => b.allocations.length;
export const freeCount = (b: Block): number => b.unallocated.length;
export const inUseCount = (b: Block): number => b.allocations.length - b.unallocated.length;
export const isEmpty = (b: Block): boolean => b.unallocated.length === b.allocations.length;

export function ordinalAddress(b: Block, ordinal: number): string {
  return formatIP(b.cidr.family, b.cidr.addr + BigInt(ordinal));
}

/** The ordinal of `value` inside the block, or -1 when outside. */
export function addressOrdinal(b: Block, value: bigint): number {
  const off = value - b.cidr.addr;
  return off >= 0n && off < BigInt(b.allocations.length) ? Number(off) : -1;
}

export function newBlock(cidr: Prefix, cidrText: string, affinity: string | null, claimTime: string | null, sequenceNumber: number): Block {
  const size = Number(prefixSize(cidr));
  const allocations = new Array<number | null>(size).fill(null);
  const unallocated = Array.from({ length: size }, (_, i) => i);
  return {
    cidr,
    cidrText,
    affinity,
    affinityClaimTime: claimTime,
    allocations,
    unallocated,
    attributes: [],
    sequenceNumber,
    seqForAlloc: new Array<number | undefined>(size).fill(undefined),
    deleted: false,
    attributesJson: undefined,
    seqJson: undefined,
    allocChunks: undefined,
    unallocJson: undefined,
    headJson: undefined,
  };
}

// ---- attributes: canonical JSON (sorted keys, as Go marshals maps) memoised per object ----

// The memo lives on the attribute object under a symbol key, which JSON.stringify ignores (a WeakMap
// of 100,000 attributes costs the garbage collector far more).
const JSON_MEMO = Symbol("json");
type Memoised = BlockAttribute & { [JSON_MEMO]?: string };

export function makeAttribute(handleId: string | undefined, secondary: Record<string, string> | undefined): BlockAttribute {
  const attr: { handle_id?: string; secondary?: Record<string, string> } = {};
  if (handleId !== undefined) attr.handle_id = handleId;
  const keys = secondary === undefined ? [] : Object.keys(secondary);
  if (keys.length > 0) {
    const sorted: Record<string, string> = {};
    // Insertion sort: a handful of keys, and Array.prototype.sort allocates a work copy every call.
    for (let i = 1; i < keys.length; i++) {
      const k = keys[i]!;
      let j = i - 1;
      while (j >= 0 && keys[j]! > k) {
        keys[j + 1] = keys[j]!;
        j--;
      }
      keys[j + 1] = k;
    }
    let indexLike = false;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      sorted[k] = String(secondary![k]);
      const c = k.charCodeAt(0);
      if (c >= 48 && c <= 57) indexLike = true;
    }
    attr.secondary = sorted;
    // Objects list integer-like keys first, in numeric order; Go sorts them as strings.
    if (indexLike) {
      let json = handleId === undefined ? `{"secondary":{` : `{"handle_id":${JSON.stringify(handleId)},"secondary":{`;
      for (let i = 0; i < keys.length; i++) json += `${i === 0 ? "" : ","}${JSON.stringify(keys[i])}:${JSON.stringify(sorted[keys[i]!])}`;
      (attr as Memoised)[JSON_MEMO] = json + "}}";
      return attr;
    }
  }
  // Keys are in canonical order, so one JSON.stringify gives the canonical text, as one flat string:
  // building it piecewise left a tree of small strings per address for the garbage collector to copy.
  (attr as Memoised)[JSON_MEMO] = JSON.stringify(attr);
  return attr;
}

export function attributeJson(a: BlockAttribute): string {
  const m = a as Memoised;
  return (m[JSON_MEMO] ??= JSON.stringify(a));
}

// ---- operations (all return new blocks) ----

export interface AssignResult {
  block: Block;
  ordinals: number[];
}

/**
 * Takes up to `num` addresses from the head of the free list. With `affinityCheck` (strict affinity)
 * the block must be affine to `host`, as Calico's block.autoAssign insists.
 */
export function assignFromBlock(b: Block, num: number, host: string, attr: BlockAttribute, affinityCheck: boolean): AssignResult {
  if (affinityCheck && b.affinity !== hostAffinity(host)) {
    throw new IpamError("InvalidArgument", `Trying to assign IP from block ${b.cidrText} that is not affine to host ${host} (strict affinity)`);
  }
  const n = Math.min(num, b.unallocated.length);
  if (n <= 0) return { block: b, ordinals: [] };
  let attrs = b.attributes;
  let idx = -1;
  for (let i = 0; i < attrs.length; i++) {
    // Identical attributes are shared (Calico's findOrAddAttribute); compare handles first, it is cheap.
    const other = attrs[i]!;
    if (other.handle_id === attr.handle_id && attributeJson(other) === attributeJson(attr)) {
      idx = i;
      break;
    }
  }
  let attributesJson = b.attributesJson;
  if (idx < 0) {
    idx = attrs.length;
    attrs = attrs.concat(attr); // one exact-size copy (slice then push would copy twice)
    const prev = attributesJsonOf(b);
    attributesJson = prev === "" ? attributeJson(attr) : `${prev},${attributeJson(attr)}`;
  }
  const ordinals = b.unallocated.slice(0, n);
  const allocations = b.allocations.slice();
  const seq = b.seqForAlloc.slice();
  let seqJson = seqJsonOf(b);
  const allocChunks = b.allocChunks?.slice();
  for (const o of ordinals) {
    allocations[o] = idx;
    seq[o] = b.sequenceNumber;
    seqJson += `${seqJson === "" ? "" : ","}"${o}":${b.sequenceNumber}`;
    if (allocChunks) allocChunks[o >> CHUNK_SHIFT] = undefined;
  }
  // A full literal, not a spread: every Block keeps one shape, and spreading 17 fields costs more.
  const block: Block = {
    cidr: b.cidr,
    cidrText: b.cidrText,
    affinity: b.affinity,
    affinityClaimTime: b.affinityClaimTime,
    allocations,
    unallocated: b.unallocated.slice(n),
    attributes: attrs,
    sequenceNumber: b.sequenceNumber,
    seqForAlloc: seq,
    deleted: b.deleted,
    attributesJson,
    seqJson,
    allocChunks,
    unallocJson: dropMembers(unallocJsonOf(b), n),
    headJson: b.headJson,
  };
  return { block, ordinals };
}

/**
 * Assigns one given ordinal (Calico's block.assign behind AssignIP, e.g. CNI's ipAddrs annotation).
 * Throws when the ordinal is outside the block or already allocated.
 */
export function assignOrdinal(b: Block, ordinal: number, attr: BlockAttribute): Block {
  if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= b.allocations.length) {
    throw new IpamError("InvalidArgument", `ordinal ${ordinal} is outside block ${b.cidrText}`);
  }
  const current = b.allocations[ordinal];
  if (current !== null && current !== undefined) throw new IpamError("InvalidArgument", `Address ${ordinalAddress(b, ordinal)} already assigned in block ${b.cidrText}`);
  let attrs = b.attributes;
  let idx = attrs.findIndex((a) => a.handle_id === attr.handle_id && attributeJson(a) === attributeJson(attr));
  if (idx < 0) {
    idx = attrs.length;
    attrs = attrs.concat(attr);
  }
  const allocations = b.allocations.slice();
  allocations[ordinal] = idx;
  const seq = b.seqForAlloc.slice();
  seq[ordinal] = b.sequenceNumber;
  // A rare path: the JSON memos (except the head) are dropped and rebuilt on the next write.
  return {
    cidr: b.cidr,
    cidrText: b.cidrText,
    affinity: b.affinity,
    affinityClaimTime: b.affinityClaimTime,
    allocations,
    unallocated: b.unallocated.filter((o) => o !== ordinal),
    attributes: attrs,
    sequenceNumber: b.sequenceNumber,
    seqForAlloc: seq,
    deleted: b.deleted,
    attributesJson: undefined,
    seqJson: undefined,
    allocChunks: undefined,
    unallocJson: undefined,
    headJson: b.headJson,
  };
}

export interface ReleaseResult {
  block: Block;
  /** Ordinals that were actually released, in request order. */
  released: number[];
  /** Ordinals that were not allocated. */
  notAllocated: number[];
  /** Released addresses per handle, for decrementing handle records. */
  handles: Map<string, number>;
}

export interface ReleaseSpec {
  ordinal: number;
  /** When set, the address must belong to this handle (else the whole release fails, as Calico). */
  handleId?: string;
  /** When set, the allocation must carry this sequence number (ABA protection, as Calico). */
  sequenceNumber?: number;
}

/** Frees ordinals: they go to the tail of the free list; unreferenced attributes are compacted. */
export function releaseFromBlock(b: Block, specs: readonly ReleaseSpec[]): ReleaseResult {
  const allocations = b.allocations.slice();
  const seq = b.seqForAlloc.slice();
  const unallocated = b.unallocated.slice();
  const released: number[] = [];
  const notAllocated: number[] = [];
  const handles = new Map<string, number>();
  for (const s of specs) {
    const idx = allocations[s.ordinal];
    if (idx === null || idx === undefined) {
      notAllocated.push(s.ordinal);
      continue;
    }
    const attr = b.attributes[idx];
    if (s.handleId !== undefined && attr?.handle_id !== s.handleId) {
      throw new IpamError("InvalidArgument", `address ${ordinalAddress(b, s.ordinal)} is not assigned to handle ${s.handleId}`);
    }
    if (s.sequenceNumber !== undefined && seq[s.ordinal] !== s.sequenceNumber) {
      throw new IpamError("InvalidArgument", `address ${ordinalAddress(b, s.ordinal)} has sequence number ${String(seq[s.ordinal])}, not ${s.sequenceNumber}`);
    }
    allocations[s.ordinal] = null;
    seq[s.ordinal] = undefined;
    unallocated.push(s.ordinal);
    released.push(s.ordinal);
    if (attr?.handle_id !== undefined) handles.set(attr.handle_id, (handles.get(attr.handle_id) ?? 0) + 1);
  }
  if (released.length === 0) return { block: b, released, notAllocated, handles };
  const block = compactAttributes({ ...b, allocations, unallocated, seqForAlloc: seq, seqJson: undefined, allocChunks: undefined, unallocJson: undefined });
  return { block, released, notAllocated, handles };
}

export function ordinalsForHandle(b: Block, handleId: string): number[] {
  const out: number[] = [];
  for (let o = 0; o < b.allocations.length; o++) {
    const idx = b.allocations[o];
    if (idx !== null && idx !== undefined && b.attributes[idx]?.handle_id === handleId) out.push(o);
  }
  return out;
}

/** Drops attributes no allocation refers to and renumbers the rest (Calico's garbageCollect). */
function compactAttributes(b: Block): Block {
  const used = new Array<boolean>(b.attributes.length).fill(false);
  for (const idx of b.allocations) if (idx !== null) used[idx] = true;
  if (used.every(Boolean)) return b;
  const remap = new Array<number>(b.attributes.length).fill(-1);
  const attributes: BlockAttribute[] = [];
  for (let i = 0; i < b.attributes.length; i++) {
    if (used[i]) {
      remap[i] = attributes.length;
      attributes.push(b.attributes[i]!);
    }
  }
  const allocations = b.allocations.map((idx) => (idx === null ? null : remap[idx]!));
  return { ...b, allocations, attributes, attributesJson: undefined, allocChunks: undefined };
}

export const withAffinity = (b: Block, affinity: string | null, claimTime: string | null): Block => ({
  ...b,
  affinity,
  affinityClaimTime: claimTime,
  headJson: undefined,
});

export const withNextSequence = (b: Block): Block => ({
  cidr: b.cidr,
  cidrText: b.cidrText,
  affinity: b.affinity,
  affinityClaimTime: b.affinityClaimTime,
  allocations: b.allocations,
  unallocated: b.unallocated,
  attributes: b.attributes,
  sequenceNumber: b.sequenceNumber + 1,
  seqForAlloc: b.seqForAlloc,
  deleted: b.deleted,
  attributesJson: b.attributesJson,
  seqJson: b.seqJson,
  allocChunks: b.allocChunks,
  unallocJson: b.unallocJson,
  headJson: b.headJson,
});

// ---- JSON ----

function unallocJsonOf(b: Block): string {
  return b.unallocJson ?? b.unallocated.join(",");
}

/** Drops the first `n` members of a comma-separated list. */
function dropMembers(list: string, n: number): string {
  let at = 0;
  for (let k = 0; k < n; k++) {
    const comma = list.indexOf(",", at);
    if (comma < 0) return "";
    at = comma + 1;
  }
  return list.substring(at);
}

const CHUNK_SHIFT = 4;
const CHUNK = 1 << CHUNK_SHIFT;
const chunkScratch: string[] = [];

/** The allocations array as JSON, rebuilding only the chunks an assignment touched (memo filled in place). */
function allocationsJsonOf(b: Block): string {
  const allocs = b.allocations;
  const nChunks = Math.ceil(allocs.length / CHUNK);
  let chunks = b.allocChunks as (string | undefined)[] | undefined;
  if (!chunks) {
    chunks = new Array<string | undefined>(nChunks).fill(undefined);
    (b as { allocChunks?: readonly (string | undefined)[] }).allocChunks = chunks;
  }
  let out = "";
  for (let c = 0; c < nChunks; c++) {
    let part = chunks[c];
    if (part === undefined) {
      // By hand (JSON.stringify is slow on arrays mixing null and integers), joined from a reused array:
      // one flat string, where concatenation left a string per member for the garbage collector.
      const end = Math.min(allocs.length, (c + 1) * CHUNK);
      chunkScratch.length = end - c * CHUNK;
      for (let i = c * CHUNK; i < end; i++) {
        const v = allocs[i];
        chunkScratch[i - c * CHUNK] = v === null || v === undefined ? "null" : String(v);
      }
      part = chunkScratch.join(",");
      chunks[c] = part;
    }
    out += (c === 0 ? "" : ",") + part;
  }
  return out;
}

function seqJsonOf(b: Block): string {
  if (b.seqJson !== undefined) return b.seqJson;
  let s = "";
  for (let i = 0; i < b.seqForAlloc.length; i++) {
    const v = b.seqForAlloc[i];
    if (v !== undefined) s += `${s === "" ? "" : ","}"${i}":${v}`;
  }
  return s;
}

function attributesJsonOf(b: Block): string {
  if (b.attributesJson !== undefined) return b.attributesJson;
  let s = "";
  for (let i = 0; i < b.attributes.length; i++) s += (i > 0 ? "," : "") + attributeJson(b.attributes[i]!);
  return s;
}

/** Serialises exactly as JSON.stringify would, but reuses each attribute's memoised JSON. */
export function serializeBlock(b: Block): string {
  let head = b.headJson;
  if (head === undefined) {
    head = `{"cidr":"${b.cidrText}","affinity":${b.affinity === null ? "null" : JSON.stringify(b.affinity)}`;
    if (b.affinityClaimTime !== null) head += `,"affinity_claim_time":${JSON.stringify(b.affinityClaimTime)}`;
    (b as { headJson?: string }).headJson = head;
  }
  let s = head;
  s += `,"allocations":[${allocationsJsonOf(b)}],"unallocated":[${unallocJsonOf(b)}]`;
  s += `,"attributes":[${attributesJsonOf(b)}],"sequenceNumber":${b.sequenceNumber}`;
  s += `,"sequenceNumberForAllocation":{${seqJsonOf(b)}},"deleted":${b.deleted}}`;
  return s;
}

const isRecordOfStrings = (v: unknown): v is Record<string, string> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");

/** Parses and validates a stored block; throws IpamError("Corrupt") naming the key on any defect. */
export function parseBlock(key: string, json: string): Block {
  const bad = (why: string): never => {
    throw new IpamError("Corrupt", `block ${key}: ${why}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    return bad(`invalid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return bad("not an object");
  const o = raw as Record<string, unknown>;
  const cidr = parseBlockKey(key);
  const size = Number(prefixSize(cidr));
  const cidrText = `${formatIP(cidr.family, cidr.addr)}/${cidr.len}`;
  if (o.cidr !== cidrText) bad(`cidr ${JSON.stringify(o.cidr)} does not match the key`);
  const affinity = o.affinity ?? null;
  if (affinity !== null && typeof affinity !== "string") bad("affinity must be a string or null");
  const claim = o.affinity_claim_time ?? null;
  if (claim !== null && typeof claim !== "string") bad("affinity_claim_time must be a string");
  const attrsRaw = o.attributes ?? [];
  if (!Array.isArray(attrsRaw)) return bad("attributes must be an array");
  const attributes: BlockAttribute[] = attrsRaw.map((x, i) => {
    if (typeof x !== "object" || x === null) return bad(`attribute ${i} is not an object`);
    const r = x as Record<string, unknown>;
    if (r.handle_id !== undefined && r.handle_id !== null && typeof r.handle_id !== "string") bad(`attribute ${i} handle_id must be a string`);
    if (r.secondary !== undefined && r.secondary !== null && !isRecordOfStrings(r.secondary)) bad(`attribute ${i} secondary must map strings to strings`);
    return makeAttribute((r.handle_id as string | null | undefined) ?? undefined, (r.secondary as Record<string, string> | null | undefined) ?? undefined);
  });
  const allocRaw = o.allocations;
  if (!Array.isArray(allocRaw) || allocRaw.length !== size) return bad(`allocations must be an array of ${size} entries`);
  const allocations = allocRaw.map((v, i) => {
    if (v === null) return null;
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= attributes.length) return bad(`allocation ${i} refers to missing attribute ${String(v)}`);
    return v as number;
  });
  const unRaw = o.unallocated;
  if (!Array.isArray(unRaw)) return bad("unallocated must be an array");
  const seen = new Set<number>();
  for (const v of unRaw) {
    if (!Number.isInteger(v) || v < 0 || v >= size || seen.has(v)) bad(`unallocated has a bad or repeated ordinal ${String(v)}`);
    if (allocations[v] !== null) bad(`ordinal ${v} is both allocated and free`);
    seen.add(v);
  }
  if (seen.size !== allocations.filter((v) => v === null).length) bad("some unallocated ordinals are missing from the free list");
  const sequenceNumber = o.sequenceNumber ?? 0;
  if (typeof sequenceNumber !== "number" || !Number.isSafeInteger(sequenceNumber)) return bad("sequenceNumber must be an integer");
  const seqForAlloc = new Array<number | undefined>(size).fill(undefined);
  const seqRaw = o.sequenceNumberForAllocation ?? {};
  if (typeof seqRaw !== "object" || seqRaw === null) return bad("sequenceNumberForAllocation must be an object");
  for (const [k, v] of Object.entries(seqRaw)) {
    const ord = Number(k);
    if (!Number.isInteger(ord) || ord < 0 || ord >= size || typeof v !== "number") bad(`bad sequenceNumberForAllocation entry ${k}`);
    seqForAlloc[ord] = v as number;
  }
  return {
    cidr,
    cidrText,
    affinity: affinity as string | null,
    affinityClaimTime: claim as string | null,
    allocations,
    unallocated: unRaw as number[],
    attributes,
    sequenceNumber,
    seqForAlloc,
    deleted: o.deleted === true,
    attributesJson: undefined,
    seqJson: undefined,
    allocChunks: undefined,
    unallocJson: undefined,
    headJson: undefined,
  };
}
