// Concurrent IPAM load: several hosts, each an independent Ipam client over its own Datastore handle
// (for etcd, its own connection), allocating addresses at the same time; plus a cross-check of what
// was handed out against the blocks stored in the datastore. Used by the etcd concurrency test and
// bench/ipam-etcd-concurrency.ts.
import type { Datastore } from "../src/core/datastore/port.ts";
import { Ipam, isIpamError } from "../src/core/ipam/index.ts";
import type { IpamConfigInput, IpamCounters, IpPoolInput } from "../src/core/ipam/index.ts";
import { affinityHost, parseBlock } from "../src/core/ipam/block.ts";
import { blockPrefix } from "../src/core/ipam/keys.ts";
import { formatIP } from "../src/core/net/ip.ts";

export interface AllocatorHost {
  host: string;
  store: Datastore;
}

export interface IpamLoadOptions {
  hosts: readonly AllocatorHost[];
  pools: readonly IpPoolInput[];
  config?: IpamConfigInput;
  /** Addresses per host, or "untilExhausted": allocate until the pool has nothing left. */
  perHost: number | "untilExhausted";
  /** Concurrent autoAssign loops per host (1 = a host-wide lock, as Calico's CNI plugin takes). */
  workersPerHost?: number;
  /** Monotonic milliseconds for latency figures; default performance.now. */
  now?: () => number;
}

export interface Allocation {
  host: string;
  handleId: string;
  address: string;
  borrowed: boolean;
  latencyMs: number;
}

export interface IpamLoadResult {
  allocations: Allocation[];
  wallMs: number;
  /** The Ipam clients' counters, summed over hosts. */
  counters: IpamCounters;
  /** Workers that stopped because the pool was exhausted (only with "untilExhausted"). */
  exhaustedWorkers: number;
}

export async function runIpamLoad(options: IpamLoadOptions): Promise<IpamLoadResult> {
  const now = options.now ?? (() => performance.now());
  const workers = options.workersPerHost ?? 1;
  const allocations: Allocation[] = [];
  const clients: Ipam[] = [];
  let exhaustedWorkers = 0;
  const start = now();
  await Promise.all(
    options.hosts.map(async ({ host, store }) => {
      const ipam = new Ipam(store, { pools: [...options.pools], clock: () => Date.now(), ...(options.config ? { config: options.config } : {}) });
      clients.push(ipam);
      let issued = 0;
      const nextHandle = (): string | undefined => {
        if (options.perHost !== "untilExhausted" && issued >= options.perHost) return undefined;
        return `k8s-pod-network.${host}-${issued++}`;
      };
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let handleId = nextHandle(); handleId !== undefined; handleId = nextHandle()) {
            const t0 = now();
            let r;
            try {
              r = await ipam.autoAssign({ host, handleId, num4: 1, attrs: { namespace: "load", pod: handleId } });
            } catch (e) {
              if (options.perHost === "untilExhausted" && isIpamError(e, "Exhausted")) {
                exhaustedWorkers++;
                return;
              }
              throw new Error(`${host} ${handleId}: ${(e as Error).message}`, { cause: e });
            }
            const latencyMs = now() - t0;
            const borrowed = new Set(r.borrowed);
            for (const address of r.ipv4) allocations.push({ host, handleId, address, borrowed: borrowed.has(address), latencyMs });
          }
        }),
      );
    }),
  );
  const wallMs = now() - start;
  const counters = clients.map((c) => c.stats()).reduce((a, b) => {
    const sum = { ...a };
    for (const k of Object.keys(sum) as (keyof IpamCounters)[]) sum[k] += b[k];
    return sum;
  });
  return { allocations, wallMs, counters, exhaustedWorkers };
}

/** Addresses handed out more than once, with every holder. */
export function duplicateAddresses(allocations: readonly Allocation[]): Map<string, Allocation[]> {
  const by = new Map<string, Allocation[]>();
  for (const a of allocations) by.set(a.address, [...(by.get(a.address) ?? []), a]);
  return new Map([...by].filter(([, holders]) => holders.length > 1));
}

export interface StoredAllocation {
  address: string;
  block: string;
  blockHost: string | null;
  handleId: string | null;
}

/** Every allocated address recorded in the datastore's IPv4 blocks. */
export async function storedAllocations(store: Datastore): Promise<StoredAllocation[]> {
  const out: StoredAllocation[] = [];
  for (const kv of (await store.list(blockPrefix(4))).items) {
    const b = parseBlock(kv.key, kv.value);
    b.allocations.forEach((attrIndex, ordinal) => {
      if (attrIndex === null) return;
      out.push({
        address: formatIP(b.cidr.family, b.cidr.addr + BigInt(ordinal)),
        block: b.cidrText,
        blockHost: affinityHost(b.affinity) ?? null,
        handleId: b.attributes[attrIndex]?.handle_id ?? null,
      });
    });
  }
  return out;
}

export interface Disagreement {
  /** Handed out but not allocated in any block. */
  missing: string[];
  /** Allocated in a block but handed to nobody. */
  extra: string[];
  /** Stored under another handle than the one it was handed out for. */
  wrongHandle: { address: string; handedTo: string; stored: string | null }[];
  /** Handed out as not borrowed, but the block is affine to another host (or none). */
  wrongAffinity: { address: string; host: string; blockHost: string | null }[];
}

/** Compares what the clients handed out with what the datastore's blocks say. Empty lists = agreement. */
export async function compareWithDatastore(store: Datastore, allocations: readonly Allocation[]): Promise<Disagreement> {
  const stored = new Map((await storedAllocations(store)).map((s) => [s.address, s]));
  const handed = new Map(allocations.map((a) => [a.address, a]));
  const d: Disagreement = { missing: [], extra: [], wrongHandle: [], wrongAffinity: [] };
  for (const a of allocations) {
    const s = stored.get(a.address);
    if (!s) d.missing.push(a.address);
    else {
      if (s.handleId !== a.handleId) d.wrongHandle.push({ address: a.address, handedTo: a.handleId, stored: s.handleId });
      if (!a.borrowed && s.blockHost !== a.host) d.wrongAffinity.push({ address: a.address, host: a.host, blockHost: s.blockHost });
    }
  }
  for (const address of stored.keys()) if (!handed.has(address)) d.extra.push(address);
  return d;
}

/** p in [0, 100] of a list of numbers (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
