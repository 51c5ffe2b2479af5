// A client-side view of every block of one address family, as of one datastore revision, with
// per-pool indexes (blocks with free addresses, empty blocks, blocks with room per host). It answers
// "which block next?" without re-reading the datastore, and is kept current through this client's own
// writes while nobody else writes: a write of ours that lands at exactly the next revision is applied;
// any gap (someone else wrote, or a delete whose revision we are not told) leaves it stale, and a stale
// snapshot is rebuilt from a fresh list. Decisions taken from it are still committed by CAS.
import type { Family } from "../net/ip.ts";
import { freeCount, isEmpty } from "./block.ts";
import { blockIndex, type Pool } from "./pools.ts";
import type { BlockEntry } from "./store.ts";

/** A block as a pool view holds it: the entry and its index in the pool (for walk positions). */
export interface IndexedBlock {
  readonly entry: BlockEntry;
  readonly index: bigint;
  /** The index as a number (exact while pools have fewer than 2^53 blocks, i.e. always for IPv4). */
  readonly indexNum: number;
}

export class PoolView {
  existing = 0;
  free = 0;
  /** Blocks with at least one free address, by block address. */
  readonly withFree = new Map<bigint, IndexedBlock>();
  /** Blocks with no address in use, by block address. */
  readonly empty = new Map<bigint, IndexedBlock>();
  /** Blocks with room, per affinity ("host:<name>"). */
  readonly roomByAffinity = new Map<string, Map<bigint, IndexedBlock>>();

  constructor(readonly pool: Pool) {}

  contains(addr: bigint, len: number): boolean {
    const p = this.pool;
    if (len < p.cidr.len) return false;
    const shift = BigInt((p.family === 4 ? 32 : 128) - p.cidr.len);
    return addr >> shift === p.cidr.addr >> shift;
  }

  add(e: BlockEntry): void {
    const addr = e.block.cidr.addr;
    const index = blockIndex(this.pool, addr);
    const ib: IndexedBlock = { entry: e, index, indexNum: Number(index) };
    const free = freeCount(e.block);
    this.existing++;
    this.free += free;
    if (free > 0) {
      this.withFree.set(addr, ib);
      const aff = e.block.affinity;
      if (aff !== null) {
        let m = this.roomByAffinity.get(aff);
        if (!m) this.roomByAffinity.set(aff, (m = new Map()));
        m.set(addr, ib);
      }
    }
    if (isEmpty(e.block)) this.empty.set(addr, ib);
  }

  remove(e: BlockEntry): void {
    const addr = e.block.cidr.addr;
    this.existing--;
    this.free -= freeCount(e.block);
    this.withFree.delete(addr);
    this.empty.delete(addr);
    const aff = e.block.affinity;
    if (aff !== null) this.roomByAffinity.get(aff)?.delete(addr);
  }
}

/** Sorts candidate blocks into the order of a walk that starts at block `start` of the pool. */
export function inWalkOrder(pool: Pool, start: bigint, blocks: Iterable<IndexedBlock>): IndexedBlock[] {
  const list = [...blocks];
  if (pool.numBlocks <= 2n ** 52n) {
    const n = Number(pool.numBlocks);
    const s = Number(start);
    const pos = (b: IndexedBlock) => (b.indexNum - s + n) % n;
    return list.sort((a, b) => pos(a) - pos(b));
  }
  const n = pool.numBlocks;
  const pos = (b: IndexedBlock) => (b.index - start + n) % n;
  return list.sort((a, b) => (pos(a) < pos(b) ? -1 : pos(a) > pos(b) ? 1 : 0));
}

/** The first candidate of a walk from `start` (without sorting them all). */
export function firstInWalk(pool: Pool, start: bigint, blocks: Iterable<IndexedBlock>): IndexedBlock | undefined {
  let best: IndexedBlock | undefined;
  let bestPos = Number.POSITIVE_INFINITY;
  let bestBig = -1n;
  const small = pool.numBlocks <= 2n ** 52n;
  const n = Number(pool.numBlocks);
  const s = Number(start);
  for (const b of blocks) {
    if (small) {
      const p = (b.indexNum - s + n) % n;
      if (p < bestPos) {
        bestPos = p;
        best = b;
      }
    } else {
      const p = (b.index - start + pool.numBlocks) % pool.numBlocks;
      if (best === undefined || p < bestBig) {
        bestBig = p;
        best = b;
      }
    }
  }
  return best;
}

export class BlockSnapshot {
  private readonly views = new Map<string, PoolView>();

  constructor(
    readonly family: Family,
    public revision: number,
    readonly byAddr: Map<bigint, BlockEntry>,
  ) {}

  static fromList(family: Family, revision: number, entries: readonly BlockEntry[]): BlockSnapshot {
    const byAddr = new Map<bigint, BlockEntry>();
    for (const e of entries) byAddr.set(e.block.cidr.addr, e);
    return new BlockSnapshot(family, revision, byAddr);
  }

  /** The per-pool indexes, built on first use and then maintained with every change. */
  view(pool: Pool): PoolView {
    const key = `${pool.cidrText}/${pool.blockSize}`;
    let v = this.views.get(key);
    if (!v) {
      // Keyed by CIDR and block size, all a view depends on: pools re-read per request reuse it.
      v = new PoolView(pool);
      for (const e of this.byAddr.values()) if (v.contains(e.block.cidr.addr, e.block.cidr.len)) v.add(e);
      this.views.set(key, v);
    }
    return v;
  }

  /** Applies one of our writes that landed at `revision`; returns false (and changes nothing) on a gap. */
  apply(revision: number, change: { block?: BlockEntry } | undefined): boolean {
    if (revision !== this.revision + 1) return false;
    this.revision = revision;
    const next = change?.block;
    if (next && next.block.cidr.family === this.family) {
      const addr = next.block.cidr.addr;
      const old = this.byAddr.get(addr);
      this.byAddr.set(addr, next);
      for (const v of this.views.values()) {
        if (!v.contains(addr, next.block.cidr.len)) continue;
        if (old) v.remove(old);
        v.add(next);
      }
    }
    return true;
  }
}
