// Read-only IPAM queries: the blocks a node originates and the addresses it borrowed (what its BGP
// speaker exports), a per-address lookup (`calicoctl ipam show --ip`), and block usage.
import { formatIP, type Prefix } from "../net/ip.ts";
import { addressOrdinal, affinityHost, blockCapacity, freeCount, hostAffinity, inUseCount, ordinalAddress, type Block } from "./block.ts";
import { parseAddress, prefixText } from "./addresses.ts";
import { checkSegment } from "./keys.ts";
import { blockForAddress, poolForAddress, type Pool } from "./pools.ts";
import type { BlockEntry, IpamStore } from "./store.ts";

export interface AddressInfo {
  address: string;
  /** The block holding the address, or null if no block covers it. */
  block: string | null;
  /** The block's host affinity, or null. */
  blockHost: string | null;
  allocated: boolean;
  handleId: string | null;
  attributes: Record<string, string>;
  sequenceNumber: number | null;
  /** Allocated to a node other than the block's host. */
  borrowed: boolean;
}

export interface BlockSummary {
  cidr: string;
  host: string | null;
  affinity: string | null;
  capacity: number;
  inUse: number;
  free: number;
}

export interface BorrowedAddress {
  address: string;
  block: string;
  /** The host the block is affine to (null if the block has none). */
  blockHost: string | null;
  handleId: string | null;
}

/** Blocks confirmed affine to the host (pending affinities do not count), sorted. */
export async function affineBlocksOf(store: IpamStore, host: string): Promise<string[]> {
  checkSegment("host", host);
  const out: Prefix[] = [];
  for (const family of [4, 6] as const) {
    for (const a of await store.listHostAffinities(host, family)) if (a.state === "confirmed" || a.state === "") out.push(a.cidr);
  }
  return out.map(prefixText);
}

/** Addresses allocated to `host` (node attribute) from blocks not affine to it. */
export async function borrowedAddressesOf(store: IpamStore, host: string): Promise<BorrowedAddress[]> {
  checkSegment("host", host);
  const out: BorrowedAddress[] = [];
  for (const entries of await store.listBlocksPerFamily()) {
    for (const { entry, loan } of loansByHost(entries).get(host) ?? NO_HOST_LOANS) {
      const b = entry.block;
      out.push({ address: ordinalAddress(b, loan.ordinal), block: b.cidrText, blockHost: affinityHost(b.affinity) ?? null, handleId: loan.handleId });
    }
  }
  return out;
}

interface HostLoan {
  readonly entry: BlockEntry;
  readonly loan: Loan;
}

const NO_HOST_LOANS: readonly HostLoan[] = Object.freeze([]);
// Every node asks this of every block (its BGP origination). A list of blocks the store shares
// between clients (one per datastore revision) is indexed by borrowing host once, so a node's query
// costs its own loans, not a scan of the cluster's blocks. In list order, and per block by ordinal.
const loanIndex = new WeakMap<readonly BlockEntry[], ReadonlyMap<string, readonly HostLoan[]>>();

function loansByHost(entries: readonly BlockEntry[]): ReadonlyMap<string, readonly HostLoan[]> {
  let index = loanIndex.get(entries);
  if (index !== undefined) return index;
  const byHost = new Map<string, HostLoan[]>();
  for (const entry of entries) {
    for (const loan of loansOf(entry.block)) {
      const list = byHost.get(loan.node);
      if (list) list.push({ entry, loan });
      else byHost.set(loan.node, [{ entry, loan }]);
    }
  }
  index = byHost;
  loanIndex.set(entries, index);
  return index;
}

/** An address allocated to a node other than its block's host (or from a block without one). */
interface Loan {
  readonly node: string;
  readonly ordinal: number;
  readonly handleId: string | null;
}

const NO_LOANS: readonly Loan[] = Object.freeze([]);
// Blocks are immutable values, so a block version's loans never change.
const loansMemo = new WeakMap<Block, readonly Loan[]>();

function loansOf(b: Block): readonly Loan[] {
  let loans = loansMemo.get(b);
  if (loans !== undefined) return loans;
  let found: Loan[] | undefined;
  for (let o = 0; o < b.allocations.length; o++) {
    const idx = b.allocations[o];
    if (idx === null || idx === undefined) continue;
    const attr = b.attributes[idx];
    const node = attr?.secondary?.node;
    if (node === undefined || b.affinity === hostAffinity(node)) continue;
    (found ??= []).push({ node, ordinal: o, handleId: attr?.handle_id ?? null });
  }
  loans = found ?? NO_LOANS;
  loansMemo.set(b, loans);
  return loans;
}

/** What IPAM knows about one address; blocks outside every pool are found by scanning. */
export async function lookupAddress(store: IpamStore, pools: readonly Pool[], address: string): Promise<AddressInfo> {
  const ip = parseAddress(address);
  const text = formatIP(ip.family, ip.value);
  const pool = poolForAddress(pools, ip.family, ip.value);
  let entry: BlockEntry | undefined;
  if (pool) entry = await store.getBlock(blockForAddress(pool, ip.value));
  if (!entry) entry = (await store.listBlocks(ip.family)).entries.find((e) => addressOrdinal(e.block, ip.value) >= 0);
  const none: AddressInfo = { address: text, block: null, blockHost: null, allocated: false, handleId: null, attributes: {}, sequenceNumber: null, borrowed: false };
  if (!entry) return none;
  const b = entry.block;
  const o = addressOrdinal(b, ip.value);
  const idx = b.allocations[o];
  const blockHost = affinityHost(b.affinity) ?? null;
  if (idx === null || idx === undefined) return { ...none, block: b.cidrText, blockHost };
  const attr = b.attributes[idx];
  const attributes = { ...(attr?.secondary ?? {}) };
  return {
    address: text,
    block: b.cidrText,
    blockHost,
    allocated: true,
    handleId: attr?.handle_id ?? null,
    attributes,
    sequenceNumber: b.seqForAlloc[o] ?? null,
    borrowed: attributes.node !== undefined && attributes.node !== blockHost,
  };
}

/** Every block with its host and usage, sorted by address. */
export async function blockSummaries(store: IpamStore): Promise<BlockSummary[]> {
  return (await store.listAllBlocks()).map((e) => ({
    cidr: e.block.cidrText,
    host: affinityHost(e.block.affinity) ?? null,
    affinity: e.block.affinity,
    capacity: blockCapacity(e.block),
    inUse: inUseCount(e.block),
    free: freeCount(e.block),
  }));
}
