// The IPAM client: Calico's libcalico-go ipamClient (lib/ipam/ipam.go) in TypeScript.
//
// autoAssign, per address family:
//   1. pools = enabled, Automatic, right family, nodeSelector matches the host's labels, use allowed;
//   2. try the host's affine blocks (listed from its affinities) in key order;
//   3. if none has room and the host is under its block cap, claim a new block: walk the pool's blocks
//      in the host's reproducible order (see pools.ts) to the first one nobody has, then
//      affinity pending -> create block with affinity host:<host> -> affinity confirmed;
//      losing the block to another host deletes our pending affinity and tries the next one;
//   4. without strict affinity, borrow from other hosts' blocks; with it, fail with "no free blocks".
// Every write is a compare-and-swap on the datastore revision, retried up to 100 times on conflict.
// Read-only queries live in queries.ts, the block snapshot in snapshot.ts, the typed store in store.ts.
// The handle record is written before the block and rolled back if the block write fails.
import { formatIP, type Family, type Prefix } from "../net/ip.ts";
import type { Datastore } from "../datastore/port.ts";
import {
  addressOrdinal,
  affinityHost,
  assignFromBlock,
  freeCount,
  hostAffinity,
  isEmpty,
  makeAttribute,
  assignOrdinal,
  newBlock,
  ordinalAddress,
  ordinalsForHandle,
  releaseFromBlock,
  withAffinity,
  type BlockAttribute,
  type ReleaseSpec,
} from "./block.ts";
import { DEFAULT_MAX_BLOCKS_PER_HOST, normalizeConfig, type IpamConfig, type IpamConfigInput } from "./config.ts";
import { BlockClaimConflict, BlockNotEmpty, IpamError, StaleAffinity } from "./errors.ts";
import { checkSegment } from "./keys.ts";
import {
  blockAddrAt,
  blockForAddress,
  blockSearchStart,
  checkNoOverlap,
  normalizePool,
  poolForAddress,
  poolSelectsNode,
  selectPools,
  type AllowedUse,
  type IpPoolInput,
  type Pool,
} from "./pools.ts";
import { containsPrefix, parseAddress, parseCidr, prefixText } from "./addresses.ts";
import { checkIpam, type CheckOptions, type CheckReport } from "./check.ts";
import { affineBlocksOf, blockSummaries, borrowedAddressesOf, lookupAddress, type AddressInfo, type BlockSummary, type BorrowedAddress } from "./queries.ts";
import { BlockSnapshot, firstInWalk, inWalkOrder, type IndexedBlock } from "./snapshot.ts";
import { IpamStore, isCasFailure, newCounters, type AffinityEntry, type BlockEntry, type IpamCounters } from "./store.ts";

/** Calico's bound on compare-and-swap retries (ipam.go `datastoreRetries`). */
export const DATASTORE_RETRIES = 100;

/** Blocks of the host's walk read one by one before falling back to listing every block. */
const QUICK_WALK = 128;

/** Calico's EmptyBlockMinReclaimAge: an empty block claimed less than a minute ago is not taken over. */
export const EMPTY_BLOCK_MIN_RECLAIM_AGE_MS = 60_000;

export type Labels = Readonly<Record<string, string>>;

export interface IpamOptions {
  /**
   * Milliseconds since the epoch (virtual time in the simulator). Default: always 0, so time never
   * passes: claim times read 1970-01-01 and another host's empty block is never old enough to reclaim.
   */
  clock?: () => number;
  /**
   * The IP pools (Calico v3 IPPool, or its spec plus a name). An array is validated once at construction
   * and fixed for the client's life; a function is called on every request (pools that change).
   */
  pools: readonly IpPoolInput[] | (() => readonly IpPoolInput[] | Promise<readonly IpPoolInput[]>);
  /** When given, this client uses it instead of the stored /calico/ipam/v2/config. */
  config?: IpamConfigInput;
  /** A node's labels, for pool nodeSelectors. Default: no labels (only all() pools match). */
  hostLabels?: (host: string) => Labels | Promise<Labels>;
}

export interface AutoAssignRequest {
  host: string;
  /** Handle (e.g. k8s-pod-network.<containerID>); a handle record is kept when given. */
  handleId?: string;
  num4?: number;
  num6?: number;
  /** Owner attributes stored with each address: pod, namespace, node (defaults to host), type. */
  attrs?: Record<string, string>;
  /** Intended use (Calico requires it); default Workload. */
  use?: AllowedUse;
  /** A per-request block cap; the stricter of this and the config's maxBlocksPerHost applies. */
  maxBlocksPerHost?: number;
  /** Restricts the candidate pools further (tunnel addresses take only pools with that encapsulation). */
  poolFilter?: (pool: Pool) => boolean;
}

export interface AutoAssignResult {
  ipv4: string[];
  ipv6: string[];
  /** The subset of addresses taken from blocks not affine to the host (routed as /32s). */
  borrowed: string[];
}

export type TunnelKind = "ipip" | "vxlan";

export interface ReleaseRequest {
  address: string;
  /** Refuse unless the address belongs to this handle. */
  handleId?: string;
  /** Refuse unless the allocation carries this sequence number. */
  sequenceNumber?: number;
}

export interface ReleaseResult {
  released: string[];
  /** Requested addresses that were not allocated (nothing to do). */
  notAllocated: string[];
}

interface AssignState {
  remaining: AffinityEntry[];
  allowNewClaim: boolean;
}

type AssignMsgCode = "NoFreeBlocks" | "Exhausted";

/** A shortage reported by tryAutoAssign (autoAssign throws it as an IpamError). */
export interface AssignFailure {
  code: "NoFreeBlocks" | "BlockLimit" | "Exhausted";
  message: string;
}

// Internal outcomes of the block search (Calico's noFreeBlocksError and ErrBlockLimit), as values.
const NO_FREE_BLOCKS = Symbol("no free blocks");
const BLOCK_LIMIT = Symbol("block limit");

export class Ipam {
  readonly store: IpamStore;
  readonly counters: IpamCounters;
  private readonly clock: () => number;
  private readonly poolSource: IpamOptions["pools"];
  private readonly configOverride: IpamConfig | undefined;
  private readonly hostLabelsFn: ((host: string) => Labels | Promise<Labels>) | undefined;
  private readonly snapshots = new Map<Family, BlockSnapshot>();
  private readonly staticPools: Pool[] | undefined;
  // Per family, keyed by use (no key string to build per request).
  private readonly selectionMemo4 = new Map<AllowedUse, { enabled: Pool[]; selecting: Pool[]; usable: Pool[] }>();
  private readonly selectionMemo6 = new Map<AllowedUse, { enabled: Pool[]; selecting: Pool[]; usable: Pool[] }>();

  constructor(datastore: Datastore, options: IpamOptions) {
    this.counters = newCounters();
    this.store = new IpamStore(datastore, this.counters);
    this.clock = options.clock ?? (() => 0);
    this.poolSource = options.pools;
    this.configOverride = options.config ? normalizeConfig(options.config) : undefined;
    this.hostLabelsFn = options.hostLabels;
    this.store.onWrite = (revision, change) => {
      if (revision !== undefined) for (const snap of this.snapshots.values()) snap.apply(revision, change);
    };
    // A pool array is validated once, here; pass a function to have pools re-read on every request.
    if (typeof options.pools !== "function") this.staticPools = normalizePools(options.pools);
  }

  // ---------------------------------------------------------------- configuration and pools

  /** All configured pools, validated and defaulted (including disabled ones). */
  async pools(): Promise<Pool[]> {
    if (this.staticPools) return this.staticPools;
    const src = typeof this.poolSource === "function" ? await this.poolSource() : this.poolSource;
    return normalizePools(src);
  }

  /** The effective IPAM config: the constructor override, else the stored one, else Calico's defaults. */
  async config(): Promise<IpamConfig> {
    return this.configOverride ?? (await this.store.getConfig());
  }

  /** Validates (as Calico's SetIPAMConfig) and stores /calico/ipam/v2/config. */
  async setConfig(input: IpamConfigInput): Promise<IpamConfig> {
    const cfg = normalizeConfig(input);
    await this.store.putConfig(cfg);
    return cfg;
  }

  // ---------------------------------------------------------------- assignment

  /**
   * Assigns num4 IPv4 and num6 IPv6 addresses to `handleId` on `host`. All or nothing: when the full
   * count cannot be assigned, anything taken by this call is released again and an IpamError is thrown
   * (code NoFreeBlocks under strict affinity, BlockLimit at the per-host cap, Exhausted otherwise).
   */
  async autoAssign(req: AutoAssignRequest): Promise<AutoAssignResult> {
    const r = await this.tryAutoAssign(req);
    if ("code" in r) throw new IpamError(r.code, r.message);
    return r;
  }

  /**
   * autoAssign that reports a shortage (NoFreeBlocks, BlockLimit, Exhausted) as a value instead of
   * throwing, for callers that expect many (planning, load generators). Bad input still throws.
   */
  tryAutoAssign(req: AutoAssignRequest): Promise<AutoAssignResult | AssignFailure> {
    let p: PreparedRequest;
    try {
      p = prepareRequest(req);
    } catch (e) {
      return Promise.reject(e);
    }
    if (p.num4 + p.num6 === 0) return Promise.resolve(p.result);
    const cfg = this.configOverride;
    const pools = this.staticPools;
    if (cfg === undefined || pools === undefined || this.hostLabelsFn !== undefined || (p.num4 > 0 && p.num6 > 0)) return this.tryAutoAssignAsync(req, p);
    // Nothing to read before the assignment (fixed config and pools, no labels, one family): a promise
    // chain instead of an async frame, as this runs once per request.
    const family: Family = p.num4 > 0 ? 4 : 6;
    const prepared = p;
    return this.assignFamily(family, family === 4 ? p.num4 : p.num6, p, cfg, pools, NO_LABELS).then(
      (failure) => (failure ? this.rollback(req, prepared.result).then(() => failure) : prepared.result),
      (e: unknown) => this.rollback(req, prepared.result).then(() => Promise.reject(e)),
    );
  }

  private async tryAutoAssignAsync(req: AutoAssignRequest, p: PreparedRequest): Promise<AutoAssignResult | AssignFailure> {
    // Skip the awaits where nothing is read (fixed config, pool list or labels): fewer promises per request.
    const cfg = this.configOverride ?? (await this.store.getConfig());
    const allPools = this.staticPools ?? (await this.pools());
    const labels = this.hostLabelsFn ? await this.hostLabelsFn(p.host) : NO_LABELS;
    let failure: AssignFailure | undefined;
    try {
      if (p.num4 > 0) failure = await this.assignFamily(4, p.num4, p, cfg, allPools, labels);
      if (p.num6 > 0 && !failure) failure = await this.assignFamily(6, p.num6, p, cfg, allPools, labels);
    } catch (e) {
      await this.rollback(req, p.result);
      throw e;
    }
    if (failure) {
      await this.rollback(req, p.result);
      return failure;
    }
    return p.result;
  }

  private async rollback(req: AutoAssignRequest, result: AutoAssignResult): Promise<void> {
    const taken = [...result.ipv4, ...result.ipv6];
    if (taken.length > 0) {
      await this.releaseAddresses(taken.map((address) => (req.handleId === undefined ? { address } : { address, handleId: req.handleId })));
    }
  }

  private async assignFamily(
    family: Family,
    num: number,
    p: PreparedRequest,
    cfg: IpamConfig,
    allPools: Pool[],
    labels: Labels,
  ): Promise<AssignFailure | undefined> {
    const { host, req, attr, use, maxReq, result: out } = p;
    const ips = family === 4 ? out.ipv4 : out.ipv6;
    const { enabled, selecting, usable } = this.poolSelection(allPools, family, labels, use);
    const pools = req.poolFilter ? usable.filter(req.poolFilter) : usable;
    if (selecting.length === 0) throw new IpamError("NoQualifiedPool", `no configured Calico pools for node ${host} (IPv${family})`);
    if (pools.length === 0) throw new IpamError("NoQualifiedPool", `cannot find a qualified ippool, no pools match the required use (${use}) for node ${host} (IPv${family})`);

    // The host's affine blocks in the pools we may use; release empty ones whose pool dropped us.
    const affinities = await this.store.listHostAffinities(host, family);
    const allowed: AffinityEntry[] = [];
    // Index loops, no closures: this runs on every request, and iterators and closures that live
    // across an await are allocated.
    for (let k = 0; k < affinities.length; k++) {
      const a = affinities[k]!;
      if (anyContains(pools, a.cidr)) allowed.push(a);
      else {
        const owner = enabled.find((p) => containsPrefix(p, a.cidr));
        if (owner && !poolSelectsNode(owner, labels)) await this.releaseAffinityQuietly(host, a.cidr, true);
      }
    }
    let owned = allowed.length;
    let maxBlocks = maxReq;
    if (cfg.maxBlocksPerHost > 0 && maxBlocks > 0 && maxBlocks > cfg.maxBlocksPerHost) maxBlocks = cfg.maxBlocksPerHost;
    else if (maxBlocks === 0) maxBlocks = cfg.maxBlocksPerHost;
    if (maxBlocks === 0) maxBlocks = DEFAULT_MAX_BLOCKS_PER_HOST;

    const state: AssignState = { remaining: allowed, allowNewClaim: true };
    const msgs: string[] = [];
    let code: AssignMsgCode = "Exhausted";
    let guard = 0;
    while (ips.length < num) {
      if (++guard > DATASTORE_RETRIES * 10) throw maxRetries();
      if (owned >= maxBlocks) state.allowNewClaim = false;
      // Most requests end here: the next affine block is settled (confirmed, ours) and has room.
      const next = state.remaining[0];
      if (next !== undefined && (next.state === "confirmed" || next.state === "")) {
        const e = await this.store.getBlock(next.cidr);
        if (e !== undefined && e.block.affinity === hostAffinity(host)) {
          state.remaining.shift();
          if (freeCount(e.block) === 0) continue; // full: on to the next affine block, as findOrClaimBlock would
          const got = await this.assignWithRetries(e, num - ips.length, host, req.handleId, attr, cfg.strictAffinity);
          for (let k = 0; k < got.length; k++) ips.push(got[k]!);
          continue;
        }
      }
      const found = await this.findOrClaimBlock(state, host, family, pools, cfg);
      if (found === NO_FREE_BLOCKS) {
        if (cfg.strictAffinity) {
          code = "NoFreeBlocks";
          msgs.push(`No more free affine blocks and strict affinity enabled: no free blocks in pool ${pools.map((p) => p.cidrText).join(", ")}`);
        }
        break;
      }
      if (found === BLOCK_LIMIT) {
        return {
          code: "BlockLimit",
          message: `${partial(ips.length, num, family)}; Need to allocate an IPAM block but could not - limit of ${maxBlocks} blocks reached for this node`,
        };
      }
      if (found.newlyClaimed) owned++;
      const got = await this.assignWithRetries(found.entry, num - ips.length, host, req.handleId, attr, cfg.strictAffinity);
      for (const ip of got) ips.push(ip);
    }

    if (ips.length >= num) return undefined;
    return this.borrowOrFail(family, num, p, cfg, pools, code, msgs);
  }

  /** The rare tail of assignFamily, kept apart so the common path's async frame stays small. */
  private async borrowOrFail(
    family: Family,
    num: number,
    p: PreparedRequest,
    cfg: IpamConfig,
    pools: Pool[],
    code: AssignMsgCode,
    msgs: string[],
  ): Promise<AssignFailure | undefined> {
    const ips = family === 4 ? p.result.ipv4 : p.result.ipv6;
    // Borrowing: a walk over every block of the pools, in the host's order, taking free addresses.
    if (!cfg.strictAffinity) {
      const exhausted: string[] = [];
      for (const pool of pools) {
        if (ips.length >= num) break;
        const got = await this.borrowFromPool(pool, num - ips.length, p.host, p.req.handleId, p.attr);
        ips.push(...got);
        p.result.borrowed.push(...got);
        if (ips.length < num) exhausted.push(pool.cidrText);
      }
      if (exhausted.length > 0) msgs.push(`No IPs available in pools: [${exhausted.join(" ")}]`);
    }
    if (ips.length < num) return { code, message: [partial(ips.length, num, family), ...msgs].join("; ") };
    return undefined;
  }

  /** Enabled pools of the family, those selecting the node, and those usable for `use` (memoised for fixed pools and no labels). */
  private poolSelection(allPools: Pool[], family: Family, labels: Labels, use: AllowedUse): { enabled: Pool[]; selecting: Pool[]; usable: Pool[] } {
    const memo = allPools === this.staticPools && labels === NO_LABELS ? (family === 4 ? this.selectionMemo4 : this.selectionMemo6) : undefined;
    const hit = memo?.get(use);
    if (hit) return hit;
    const enabled = allPools.filter((p) => !p.disabled && p.family === family);
    const selecting = enabled.filter((p) => p.assignmentMode === "Automatic" && poolSelectsNode(p, labels));
    const sel = { enabled, selecting, usable: selectPools(allPools, family, labels, use) };
    memo?.set(use, sel);
    return sel;
  }

  /** Calico's findOrClaimBlock: an affine block with room, else a newly claimed one. */
  private async findOrClaimBlock(
    state: AssignState,
    host: string,
    family: Family,
    pools: Pool[],
    cfg: IpamConfig,
  ): Promise<{ entry: BlockEntry; newlyClaimed: boolean } | typeof NO_FREE_BLOCKS | typeof BLOCK_LIMIT> {
    while (state.remaining.length > 0) {
      const listed = state.remaining.shift()!;
      for (let i = 0; i < DATASTORE_RETRIES; i++) {
        // The affinity as listed moments ago serves the first try; every write on it is a CAS anyway.
        const aff = i === 0 ? listed : await this.store.getAffinity(host, listed.cidr);
        if (!aff) break;
        let entry: BlockEntry;
        try {
          // The common case inline (a confirmed affinity to our existing block): one call fewer per request.
          const existing = await this.store.getBlock(aff.cidr);
          const settled = existing !== undefined && existing.block.affinity === hostAffinity(host) && (aff.state === "confirmed" || aff.state === "");
          entry = settled ? existing : await this.getBlockFromAffinity(aff, host, existing);
        } catch (e) {
          if (isCasFailure(e)) {
            this.counters.retries++;
            continue;
          }
          if (e instanceof StaleAffinity || e instanceof BlockClaimConflict) break;
          throw e;
        }
        if (freeCount(entry.block) >= 1) return { entry, newlyClaimed: false };
        break;
      }
    }
    if (!state.allowNewClaim) return BLOCK_LIMIT;
    if (!cfg.autoAllocateBlocks) return NO_FREE_BLOCKS;
    for (let i = 0; i < DATASTORE_RETRIES; i++) {
      const cidr = await this.findUsableBlock(host, family, pools);
      if (cidr === NO_FREE_BLOCKS) return NO_FREE_BLOCKS;
      for (let j = 0; j < DATASTORE_RETRIES; j++) {
        let entry: BlockEntry;
        try {
          const pending = await this.getPendingAffinity(host, cidr);
          entry = await this.getBlockFromAffinity(pending, host);
        } catch (e) {
          if (isCasFailure(e)) {
            this.counters.retries++;
            continue;
          }
          if (e instanceof BlockClaimConflict || e instanceof StaleAffinity) break;
          throw e;
        }
        if (freeCount(entry.block) >= 1) return { entry, newlyClaimed: true };
        throw new IpamError("Exhausted", `Block '${entry.block.cidrText}' has 0 free ips which is less than 1 ips required.`);
      }
      this.counters.retries++;
    }
    throw maxRetries();
  }

  /**
   * The block an affinity refers to: created if missing (the claim), its stale affinity deleted if the
   * block belongs to someone else, a pending affinity confirmed if the block is ours.
   */
  private async getBlockFromAffinity(aff: AffinityEntry, host: string, read?: BlockEntry): Promise<BlockEntry> {
    let entry = read ?? (await this.store.getBlock(aff.cidr));
    if (!entry) {
      const pending = aff.state === "pending" ? aff : await this.store.updateAffinity(aff, "pending");
      return this.claimAffineBlock(pending, host);
    }
    if (entry.block.affinity !== hostAffinity(host)) {
      await this.store.deleteAffinity(aff);
      throw new StaleAffinity(entry.block.cidrText);
    }
    if (aff.state !== "confirmed" && aff.state !== "") {
      // Re-write the block so that anyone acting on an older revision of it has to start again.
      const pending = aff.state === "pending" ? aff : await this.store.updateAffinity(aff, "pending");
      entry = await this.store.updateBlock(entry, entry.block);
      await this.store.updateAffinity(pending, "confirmed");
    }
    return entry;
  }

  /** Phase 2 of a claim: create the block with our affinity, then confirm the pending affinity. */
  private async claimAffineBlock(aff: AffinityEntry, host: string): Promise<BlockEntry> {
    const now = this.clock();
    const cidrText = `${formatIP(aff.cidr.family, aff.cidr.addr)}/${aff.cidr.len}`;
    const block = newBlock(aff.cidr, cidrText, hostAffinity(host), new Date(now).toISOString(), Math.max(0, Math.floor(now)));
    let entry: BlockEntry;
    try {
      entry = await this.store.createBlock(block);
    } catch (e) {
      if (!isCasFailure(e)) throw e;
      this.counters.casConflicts++;
      const existing = await this.store.getBlock(aff.cidr);
      if (!existing) throw e; // gone again: retry from the top
      if (existing.block.affinity === hostAffinity(host)) {
        await this.confirmAffinity(aff, host);
        return existing;
      }
      try {
        await this.store.deleteAffinity(aff);
      } catch {
        // Best effort, as Calico: a leftover pending affinity is cleaned up by the next reader.
      }
      throw new BlockClaimConflict(cidrText);
    }
    await this.confirmAffinity(aff, host);
    return entry;
  }

  private async confirmAffinity(aff: AffinityEntry, host: string): Promise<AffinityEntry> {
    try {
      return await this.store.updateAffinity(aff, "confirmed");
    } catch (e) {
      const now = await this.store.getAffinity(host, aff.cidr);
      if (now?.state === "confirmed") return now;
      throw e;
    }
  }

  /** Phase 1 of a claim: a pending affinity (or the existing one, re-marked pending unless confirmed). */
  private async getPendingAffinity(host: string, cidr: Prefix): Promise<AffinityEntry> {
    try {
      return await this.store.createAffinity(host, cidr, "pending");
    } catch (e) {
      if (!isCasFailure(e)) throw e;
      const aff = await this.store.getAffinity(host, cidr);
      if (!aff) throw e;
      return aff.state === "confirmed" ? aff : this.store.updateAffinity(aff, "pending");
    }
  }

  /**
   * Calico's findUsableBlock: in the host's walk order, the first block nobody has, or one of ours
   * with room; failing that, an empty block another host claimed over a minute ago (reclaimed).
   */
  private async findUsableBlock(host: string, family: Family, pools: Pool[]): Promise<Prefix | typeof NO_FREE_BLOCKS> {
    let snap = await this.freshSnapshot(family);
    if (!snap) {
      // Cheaper than listing every block: read the first few blocks of the walk one by one. When one is
      // free (or ours with room) it is exactly the block the full listing would pick. Skipped when the
      // last snapshot showed the pools full, where it could only fail.
      const last = this.snapshots.get(family);
      const full = last !== undefined && pools.every((p) => BigInt(last.view(p).existing) >= p.numBlocks);
      if (!full) {
        const quick = await this.quickWalk(host, family, pools);
        if (quick) return quick;
      }
      snap = await this.listSnapshot(family);
    }
    const ours = hostAffinity(host);
    const empties: IndexedBlock[] = [];
    for (const pool of pools) {
      const view = snap.view(pool);
      const start = blockSearchStart(pool, host, this.clock());
      if (BigInt(view.existing) < pool.numBlocks) {
        for (let k = 0n, i = start; k < pool.numBlocks; k++) {
          const addr = blockAddrAt(pool, i);
          const e = snap.byAddr.get(addr);
          if (!e) return { family, addr, len: pool.blockSize };
          if (freeCount(e.block) > 0) {
            if (e.block.affinity === ours) return e.block.cidr;
            if (isEmpty(e.block)) empties.push({ entry: e, index: i, indexNum: Number(i) });
          }
          i = i + 1n === pool.numBlocks ? 0n : i + 1n;
        }
      } else {
        // Every block exists: the walk would only meet these candidates, in this order.
        const mine = view.roomByAffinity.get(ours);
        const first = mine && mine.size > 0 ? firstInWalk(pool, start, mine.values()) : undefined;
        if (first) return first.entry.block.cidr;
        empties.push(...inWalkOrder(pool, start, view.empty.values()));
      }
    }
    const now = this.clock();
    for (const { entry: e } of empties) {
      const owner = affinityHost(e.block.affinity);
      if (owner === undefined) continue;
      const claimed = e.block.affinityClaimTime === null ? Number.NEGATIVE_INFINITY : Date.parse(e.block.affinityClaimTime);
      if (now - claimed < EMPTY_BLOCK_MIN_RECLAIM_AGE_MS) continue;
      try {
        await this.releaseBlockAffinity(owner, e.block.cidr, { requireEmpty: true, requiredSequence: e.block.sequenceNumber });
        return e.block.cidr;
      } catch {
        continue;
      }
    }
    return NO_FREE_BLOCKS;
  }

  private async quickWalk(host: string, family: Family, pools: Pool[]): Promise<Prefix | undefined> {
    const pool = pools[0];
    if (!pool) return undefined;
    let i = blockSearchStart(pool, host, this.clock());
    for (let k = 0; k < QUICK_WALK && BigInt(k) < pool.numBlocks; k++) {
      const cidr: Prefix = { family, addr: blockAddrAt(pool, i), len: pool.blockSize };
      const e = await this.store.getBlock(cidr);
      if (!e) return cidr;
      if (e.block.affinity === hostAffinity(host) && freeCount(e.block) > 0) return cidr;
      if (isEmpty(e.block)) return undefined; // a reclaim candidate: let the full search weigh it
      i = i + 1n === pool.numBlocks ? 0n : i + 1n;
    }
    return undefined;
  }

  /** assignFromExistingBlock, re-reading the block after a lost CAS race (Calico's retry loop). */
  private assignWithRetries(
    first: BlockEntry,
    num: number,
    host: string,
    handleId: string | undefined,
    attr: BlockAttribute,
    affinityCheck: boolean,
  ): Promise<string[]> {
    // The first try without an async frame of its own (it runs once per address); races go to the loop.
    return this.assignFromExistingBlock(first, num, host, handleId, attr, affinityCheck).catch((e: unknown) => {
      if (!isCasFailure(e)) throw e;
      this.counters.casConflicts++;
      this.counters.retries++;
      return this.store.getBlock(first.block.cidr).then((entry) => this.assignRetryLoop(entry, num, host, handleId, attr, affinityCheck, 1));
    });
  }

  private async assignRetryLoop(
    next: BlockEntry | undefined,
    num: number,
    host: string,
    handleId: string | undefined,
    attr: BlockAttribute,
    affinityCheck: boolean,
    tried: number,
  ): Promise<string[]> {
    let entry = next;
    for (let i = tried; i < DATASTORE_RETRIES && entry; i++) {
      try {
        return await this.assignFromExistingBlock(entry, num, host, handleId, attr, affinityCheck);
      } catch (e) {
        if (!isCasFailure(e)) throw e;
        this.counters.casConflicts++;
        this.counters.retries++;
        entry = await this.store.getBlock(entry.block.cidr);
      }
    }
    return [];
  }

  /** Takes up to `num` addresses from a block by CAS; the handle is incremented first and rolled back on failure. */
  private async assignFromExistingBlock(
    entry: BlockEntry,
    num: number,
    host: string,
    handleId: string | undefined,
    attr: BlockAttribute,
    affinityCheck: boolean,
  ): Promise<string[]> {
    const res = assignFromBlock(entry.block, num, host, attr, affinityCheck);
    const n = res.ordinals.length;
    if (n === 0) return [];
    if (handleId !== undefined) {
      // Most handles are new (one per pod): create it outright; read-modify-write only if it exists.
      let created = false;
      try {
        await this.store.createSimpleHandle(handleId, entry.block.cidrText, n);
        created = true;
      } catch (e) {
        if (!isCasFailure(e)) throw e;
      }
      if (!created) await this.incrementHandle(handleId, entry.block.cidrText, n);
    }
    try {
      await this.store.updateBlock(entry, res.block);
    } catch (e) {
      if (handleId !== undefined) {
        try {
          await this.decrementHandle(handleId, entry.block.cidrText, n);
        } catch {
          // The handle over-counts until check() or a release by handle corrects it; Calico does the same.
        }
      }
      throw e;
    }
    return res.ordinals.map((o) => ordinalAddress(res.block, o));
  }

  /** Borrowing: blocks of the pool with free addresses, in the host's walk order. */
  private async borrowFromPool(pool: Pool, num: number, host: string, handleId: string | undefined, attr: BlockAttribute): Promise<string[]> {
    const snap = (await this.freshSnapshot(pool.family)) ?? (await this.listSnapshot(pool.family));
    const view = snap.view(pool);
    const got: string[] = [];
    if (view.free === 0) return got;
    const start = blockSearchStart(pool, host, this.clock());
    // Usually the first candidate satisfies the request: find it without sorting the rest.
    const first = firstInWalk(pool, start, view.withFree.values());
    const candidates = first ? [first] : [];
    for (let c = 0; c < candidates.length && got.length < num; c++) {
      const cidr = candidates[c]!.entry.block.cidr;
      for (let i = 0; i < DATASTORE_RETRIES; i++) {
        const entry = await this.store.getBlock(cidr);
        if (!entry) break;
        try {
          got.push(...(await this.assignFromExistingBlock(entry, num - got.length, host, handleId, attr, false)));
          break;
        } catch (e) {
          if (!isCasFailure(e)) throw e;
          this.counters.casConflicts++;
          this.counters.retries++;
        }
      }
      if (c === 0 && got.length < num) candidates.push(...inWalkOrder(pool, start, view.withFree.values()).filter((x) => x !== first));
    }
    return got;
  }

  /** The block snapshot of a family if it is current (one revision read, no listing), else undefined. */
  private async freshSnapshot(family: Family): Promise<BlockSnapshot | undefined> {
    const snap = this.snapshots.get(family);
    if (!snap) return undefined;
    return snap.revision === (await this.store.ds.revision()) ? snap : undefined;
  }

  private async listSnapshot(family: Family): Promise<BlockSnapshot> {
    const { revision, entries } = await this.store.listBlocks(family);
    const snap = BlockSnapshot.fromList(family, revision, entries);
    this.snapshots.set(family, snap);
    return snap;
  }

  // ---------------------------------------------------------------- handles

  private async incrementHandle(handleId: string, cidr: string, n: number): Promise<void> {
    for (let i = 0; i < DATASTORE_RETRIES; i++) {
      const h = await this.store.getHandle(handleId);
      const blocks = new Map(h?.blocks ?? []);
      blocks.set(cidr, (blocks.get(cidr) ?? 0) + n);
      try {
        if (h) await this.store.updateHandle(h, blocks);
        else await this.store.createHandle(handleId, blocks);
        return;
      } catch (e) {
        if (!isCasFailure(e)) throw e;
        this.counters.casConflicts++;
        this.counters.retries++;
      }
    }
    throw maxRetries();
  }

  private async decrementHandle(handleId: string, cidr: string, n: number): Promise<void> {
    for (let i = 0; i < DATASTORE_RETRIES; i++) {
      const h = await this.store.getHandle(handleId);
      if (!h) return;
      const blocks = new Map(h.blocks);
      const left = (blocks.get(cidr) ?? 0) - n;
      if (left > 0) blocks.set(cidr, left);
      else blocks.delete(cidr);
      try {
        if (blocks.size === 0) await this.store.deleteHandle(h);
        else await this.store.updateHandle(h, blocks);
        return;
      } catch (e) {
        if (!isCasFailure(e)) throw e;
        this.counters.casConflicts++;
        this.counters.retries++;
      }
    }
    throw maxRetries();
  }

  /** The addresses a handle holds (read through its handle record). */
  async addressesByHandle(handleId: string): Promise<string[]> {
    checkSegment("handleId", handleId);
    const h = await this.store.getHandle(handleId);
    if (!h) return [];
    const out: string[] = [];
    for (const cidr of h.blocks.keys()) {
      const entry = await this.store.getBlock(parseCidr(cidr));
      if (entry) for (const o of ordinalsForHandle(entry.block, handleId)) out.push(ordinalAddress(entry.block, o));
    }
    return out;
  }

  // ---------------------------------------------------------------- release

  /** Releases every address of a handle; the handle record is deleted once empty. */
  async releaseByHandle(handleId: string): Promise<ReleaseResult> {
    checkSegment("handleId", handleId);
    const result: ReleaseResult = { released: [], notAllocated: [] };
    const h = await this.store.getHandle(handleId);
    if (!h) return result;
    for (const cidrText of h.blocks.keys()) {
      const cidr = parseCidr(cidrText);
      let done = false;
      for (let i = 0; i < DATASTORE_RETRIES && !done; i++) {
        const entry = await this.store.getBlock(cidr);
        const ordinals = entry ? ordinalsForHandle(entry.block, handleId) : [];
        if (!entry || ordinals.length === 0) {
          // The handle over-counted (a block gone or never written): drop the stale entry.
          await this.decrementHandle(handleId, cidrText, h.blocks.get(cidrText) ?? 0);
          done = true;
          break;
        }
        const r = releaseFromBlock(entry.block, ordinals.map((ordinal) => ({ ordinal, handleId })));
        try {
          await this.writeReleasedBlock(entry, r.block);
        } catch (e) {
          if (!isCasFailure(e)) throw e;
          this.counters.casConflicts++;
          this.counters.retries++;
          continue;
        }
        result.released.push(...r.released.map((o) => ordinalAddress(entry.block, o)));
        await this.decrementHandle(handleId, cidrText, r.released.length);
        done = true;
      }
      if (!done) throw maxRetries();
    }
    return result;
  }

  /** Releases addresses (grouped per block, one CAS write per block). */
  async releaseAddresses(requests: readonly (string | ReleaseRequest)[]): Promise<ReleaseResult> {
    const result: ReleaseResult = { released: [], notAllocated: [] };
    const pools = await this.pools();
    const groups = new Map<string, { cidr: Prefix; specs: (ReleaseSpec & { address: string })[] }>();
    let scanned: BlockEntry[] | undefined;
    for (const r of requests) {
      const req = typeof r === "string" ? { address: r } : r;
      const ip = parseAddress(req.address);
      let cidr: Prefix | undefined;
      const pool = poolForAddress(pools, ip.family, ip.value);
      if (pool) cidr = blockForAddress(pool, ip.value);
      else {
        scanned ??= await this.store.listAllBlocks();
        cidr = scanned.find((e) => addressOrdinal(e.block, ip.value) >= 0 && e.block.cidr.family === ip.family)?.block.cidr;
      }
      const text = formatIP(ip.family, ip.value);
      if (!cidr) {
        result.notAllocated.push(text);
        continue;
      }
      const key = `${formatIP(cidr.family, cidr.addr)}/${cidr.len}`;
      const g = groups.get(key) ?? { cidr, specs: [] };
      const ordinal = Number(ip.value - cidr.addr);
      g.specs.push({ ordinal, address: text, handleId: req.handleId, sequenceNumber: req.sequenceNumber });
      groups.set(key, g);
    }
    for (const { cidr, specs } of groups.values()) {
      let done = false;
      for (let i = 0; i < DATASTORE_RETRIES && !done; i++) {
        const entry = await this.store.getBlock(cidr);
        if (!entry) {
          result.notAllocated.push(...specs.map((s) => s.address));
          done = true;
          break;
        }
        const r = releaseFromBlock(entry.block, specs);
        if (r.released.length > 0) {
          try {
            await this.writeReleasedBlock(entry, r.block);
          } catch (e) {
            if (!isCasFailure(e)) throw e;
            this.counters.casConflicts++;
            this.counters.retries++;
            continue;
          }
          for (const [h, n] of r.handles) await this.decrementHandle(h, entry.block.cidrText, n);
        }
        result.released.push(...r.released.map((o) => ordinalAddress(entry.block, o)));
        result.notAllocated.push(...r.notAllocated.map((o) => ordinalAddress(entry.block, o)));
        done = true;
      }
      if (!done) throw maxRetries();
    }
    return result;
  }

  /** An emptied block without affinity is deleted; otherwise the new version is CAS-written. */
  private async writeReleasedBlock(entry: BlockEntry, block: BlockEntry["block"]): Promise<void> {
    if (isEmpty(block) && block.affinity === null) await this.store.deleteBlock(entry);
    else await this.store.updateBlock(entry, block);
  }

  // ---------------------------------------------------------------- affinities

  /**
   * Releases host's affinity for a block (Calico's releaseBlockAffinity): affinity pendingDeletion ->
   * block deleted if empty, else left in place without affinity (its addresses become borrowed) ->
   * affinity deleted. With requireEmpty, a block in use is left alone (BlockNotEmpty).
   */
  async releaseBlockAffinity(host: string, cidr: Prefix, opts: { requireEmpty?: boolean; requiredSequence?: number } = {}): Promise<void> {
    checkSegment("host", host);
    for (let i = 0; i < DATASTORE_RETRIES; i++) {
      try {
        await this.releaseBlockAffinityOnce(host, cidr, opts);
        return;
      } catch (e) {
        if (!isCasFailure(e)) throw e;
        this.counters.casConflicts++;
        this.counters.retries++;
      }
    }
    throw maxRetries();
  }

  private async releaseBlockAffinityOnce(host: string, cidr: Prefix, opts: { requireEmpty?: boolean; requiredSequence?: number }): Promise<void> {
    let aff = await this.store.getAffinity(host, cidr);
    if (!aff) throw new IpamError("NotFound", `host ${host} has no affinity for ${formatIP(cidr.family, cidr.addr)}/${cidr.len}`);
    const entry = await this.store.getBlock(cidr);
    if (!entry) {
      await this.store.deleteAffinity(aff); // an affinity without a block: nothing to hand back
      return;
    }
    const b = entry.block;
    if (opts.requiredSequence !== undefined && opts.requiredSequence !== b.sequenceNumber) {
      throw new IpamError("InvalidArgument", "IPAM block updated since we last read it");
    }
    if (b.affinity !== null && b.affinity !== hostAffinity(host)) {
      try {
        await this.store.deleteAffinity(aff);
      } catch {
        // stale affinity; best effort
      }
      throw new BlockClaimConflict(b.cidrText);
    }
    if (opts.requireEmpty && !isEmpty(b)) throw new BlockNotEmpty(b.cidrText);
    aff = await this.store.updateAffinity(aff, "pendingDeletion");
    if (isEmpty(b)) await this.store.deleteBlock(entry);
    else await this.store.updateBlock(entry, withAffinity(b, null, null));
    try {
      await this.store.deleteAffinity(aff);
    } catch (e) {
      if (!(e instanceof Error && (e as { code?: string }).code === "NotFound")) throw e;
    }
  }

  private async releaseAffinityQuietly(host: string, cidr: Prefix, requireEmpty: boolean): Promise<boolean> {
    try {
      await this.releaseBlockAffinity(host, cidr, { requireEmpty });
      return true;
    } catch (e) {
      if (e instanceof BlockNotEmpty || e instanceof BlockClaimConflict || (e instanceof IpamError && e.code === "NotFound")) return false;
      throw e;
    }
  }

  /**
   * Releases the host's affinities (Calico's ReleaseHostAffinities). With requireEmpty (the default)
   * only empty blocks are handed back (and deleted); returns the CIDRs released.
   */
  async releaseHostAffinities(host: string, opts: { requireEmpty?: boolean } = {}): Promise<string[]> {
    checkSegment("host", host);
    const released: string[] = [];
    for (const family of [4, 6] as const) {
      for (const a of await this.store.listHostAffinities(host, family)) {
        if (await this.releaseAffinityQuietly(host, a.cidr, opts.requireEmpty ?? true)) released.push(prefixText(a.cidr));
      }
    }
    return released;
  }

  // ---------------------------------------------------------------- a given address

  /**
   * Calico's AssignIP: assigns exactly `address` to the handle on `host` (CNI's
   * cni.projectcalico.org/ipAddrs). The address must lie in a configured pool; if its block does not
   * exist yet it is claimed for the host (two-phase, as autoAssign), and an address in another host's
   * block is borrowed (refused under strict affinity). Fails if the address is already in use.
   */
  async assignIP(req: { address: string; host: string; handleId?: string; attrs?: Record<string, string> }): Promise<{ address: string; borrowed: boolean }> {
    checkSegment("host", req.host);
    if (req.handleId !== undefined) checkSegment("handleId", req.handleId);
    const ip = parseAddress(req.address);
    const text = formatIP(ip.family, ip.value);
    const pool = poolForAddress(await this.pools(), ip.family, ip.value);
    if (!pool) throw new IpamError("InvalidArgument", `The provided IP address ${text} is not in a configured pool`);
    const attrs: Record<string, string> = { node: req.host, ...req.attrs };
    for (const k in attrs) {
      if (typeof attrs[k] !== "string") throw new IpamError("InvalidArgument", `attribute ${k} must be a string`);
    }
    const attr = makeAttribute(req.handleId, attrs);
    const cidr = blockForAddress(pool, ip.value);
    const cfg = await this.config();
    for (let i = 0; i < DATASTORE_RETRIES; i++) {
      let entry = await this.store.getBlock(cidr);
      if (!entry) {
        try {
          entry = await this.claimAffineBlock(await this.getPendingAffinity(req.host, cidr), req.host);
        } catch (e) {
          if (!(e instanceof BlockClaimConflict) && !isCasFailure(e)) throw e;
          this.counters.retries++;
          continue; // someone else created it: assign from theirs
        }
      }
      const mine = entry.block.affinity === hostAffinity(req.host);
      if (cfg.strictAffinity && !mine) throw new IpamError("InvalidArgument", `Trying to assign IP ${text} from block ${entry.block.cidrText} that is not affine to host ${req.host} (strict affinity)`);
      const block = assignOrdinal(entry.block, addressOrdinal(entry.block, ip.value), attr);
      if (req.handleId !== undefined) await this.incrementHandle(req.handleId, entry.block.cidrText, 1);
      try {
        await this.store.updateBlock(entry, block);
      } catch (e) {
        if (req.handleId !== undefined) await this.decrementHandle(req.handleId, entry.block.cidrText, 1).catch(() => undefined);
        if (!isCasFailure(e)) throw e;
        this.counters.casConflicts++;
        this.counters.retries++;
        continue;
      }
      return { address: text, borrowed: !mine };
    }
    throw maxRetries();
  }

  // ---------------------------------------------------------------- tunnels

  /**
   * The node's tunnel address (as calico-node's allocateip does): handle ipip-tunnel-addr-<node> or
   * vxlan-tunnel-addr-<node>, type attribute ipipTunnelAddress / vxlanTunnelAddress, from a pool with
   * that encapsulation enabled that selects the node. Idempotent: an existing address is returned.
   */
  async assignTunnelAddress(host: string, kind: TunnelKind): Promise<string> {
    checkSegment("host", host);
    if (kind !== "ipip" && kind !== "vxlan") throw new IpamError("InvalidArgument", `tunnel kind must be ipip or vxlan, got ${JSON.stringify(kind)}`);
    const handleId = tunnelHandle(host, kind);
    const existing = await this.addressesByHandle(handleId);
    if (existing.length > 0) return existing[0]!;
    const res = await this.autoAssign({
      host,
      handleId,
      num4: 1,
      use: "Tunnel",
      attrs: { node: host, type: kind === "ipip" ? "ipipTunnelAddress" : "vxlanTunnelAddress" },
      poolFilter: (p) => (kind === "ipip" ? p.ipipMode !== "Never" : p.vxlanMode !== "Never"),
    });
    return res.ipv4[0]!;
  }

  // ---------------------------------------------------------------- queries (queries.ts)

  /** Blocks confirmed affine to the host (what its BGP speaker originates), sorted. */
  affineBlocks(host: string): Promise<string[]> {
    return affineBlocksOf(this.store, host);
  }

  /** Addresses allocated to `host` (node attribute) from blocks not affine to it: its /32 (or /128) routes. */
  borrowedAddresses(host: string): Promise<BorrowedAddress[]> {
    return borrowedAddressesOf(this.store, host);
  }

  /** What IPAM knows about one address (`calicoctl ipam show --ip`). */
  async lookup(address: string): Promise<AddressInfo> {
    return lookupAddress(this.store, await this.pools(), address);
  }

  /** Every block with its host and usage, sorted by address. */
  blocks(): Promise<BlockSummary[]> {
    return blockSummaries(this.store);
  }

  /** The consistency check of checkIpam (leaks, handle and affinity mismatches) over this client's datastore. */
  check(options: CheckOptions = {}): Promise<CheckReport> {
    return checkIpam(this.store.ds, options);
  }

  /** A copy of the operation counters (reads, writes, CAS conflicts, retries, cache hits). */
  stats(): IpamCounters {
    return { ...this.counters };
  }
}

function anyContains(pools: readonly Pool[], cidr: Prefix): boolean {
  for (let i = 0; i < pools.length; i++) if (containsPrefix(pools[i]!, cidr)) return true;
  return false;
}

function normalizePools(src: unknown): Pool[] {
  if (!Array.isArray(src)) throw new IpamError("InvalidPool", "pools must be an array");
  const pools = src.map((p: IpPoolInput) => normalizePool(p));
  checkNoOverlap(pools);
  return pools;
}

export const tunnelHandle = (host: string, kind: TunnelKind): string => `${kind}-tunnel-addr-${host}`;

const partial = (got: number, want: number, family: Family): string => `Assigned ${got} out of ${want} requested IPv${family} addresses`;

const NO_LABELS: Labels = Object.freeze({});

interface PreparedRequest {
  req: AutoAssignRequest;
  host: string;
  num4: number;
  num6: number;
  use: AllowedUse;
  maxReq: number;
  attr: BlockAttribute;
  result: AutoAssignResult;
}

function prepareRequest(req: AutoAssignRequest): PreparedRequest {
  const host = checkSegment("host", req.host);
  if (req.handleId !== undefined) checkSegment("handleId", req.handleId);
  const num4 = req.num4 ?? 0;
  const num6 = req.num6 ?? 0;
  checkCount("num4", num4);
  checkCount("num6", num6);
  const use = req.use ?? "Workload";
  if (use !== "Workload" && use !== "Tunnel" && use !== "LoadBalancer") throw new IpamError("InvalidArgument", `unknown use ${JSON.stringify(use)}`);
  const maxReq = req.maxBlocksPerHost ?? 0;
  if (!Number.isInteger(maxReq) || maxReq < 0) throw new IpamError("InvalidArgument", "maxBlocksPerHost must be a non-negative integer");
  const attrs: Record<string, string> = { node: host, ...req.attrs };
  for (const k in attrs) {
    if (typeof attrs[k] !== "string") throw new IpamError("InvalidArgument", `attribute ${k} must be a string`);
  }
  const attr = makeAttribute(req.handleId, attrs);
  return { req, host, num4, num6, use, maxReq, attr, result: { ipv4: [], ipv6: [], borrowed: [] } };
}

function checkCount(name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 4096) {
    throw new IpamError("InvalidArgument", `${name} must be an integer 0-4096, got ${String(v)}`);
  }
}

const maxRetries = (): IpamError => new IpamError("MaxRetries", "Max retries hit - excessive concurrent IPAM requests");
