// `ipam plan`: what would IPAM do to this pool with N nodes of P pods each? Runs the real allocator
// against a fresh in-memory datastore, node by node in order (node-1 .. node-N); each node first gets
// its tunnel address when the pool encapsulates (as calico-node does at start-up), then its pods.
import { MemoryDatastore } from "../datastore/memory.ts";
import { familyBits, formatPrefix, parsePrefix, prefixSize } from "../net/ip.ts";
import { DEFAULT_MAX_BLOCKS_PER_HOST } from "./config.ts";
import { IpamError, type IpamErrorCode } from "./errors.ts";
import { Ipam, type AutoAssignRequest } from "./ipam.ts";
import { normalizePool } from "./pools.ts";

export type PlanEncapsulation = "none" | "ipip" | "vxlan";

export interface PlanInput {
  /** Pool CIDR, e.g. "10.1.0.0/16". */
  pool: string;
  /** Block prefix length; default 26 (IPv4) / 122 (IPv6). */
  blockSize?: number;
  nodes: number;
  podsPerNode: number;
  strictAffinity?: boolean;
  /** 0 (default) = Calico's safeguard cap of 20; > 0 requires strictAffinity, as in Calico. */
  maxBlocksPerHost?: number;
  encapsulation?: PlanEncapsulation;
}

export interface PlanOptions {
  /** Called after each node with (nodesDone, nodesTotal), for progress bars. */
  onProgress?: (done: number, total: number) => void;
}

export interface PlanFailure {
  node: string;
  /** The pod name, or "tunnel" for the node's tunnel address. */
  what: string;
  code: IpamErrorCode;
  message: string;
}

export interface PlanResult {
  pool: string;
  blockSize: number;
  addressesPerBlock: number;
  poolSize: number;
  totalBlocks: number;
  nodes: number;
  podsPerNode: number;
  strictAffinity: boolean;
  /** The cap in force (Calico's default 20 when not configured). */
  maxBlocksPerHost: number;
  encapsulation: PlanEncapsulation;
  /** Pod addresses requested (nodes × podsPerNode). */
  requested: number;
  /** Blocks that exist at the end, all claimed by some node. */
  blocksClaimed: number;
  /** Addresses handed out: pods plus tunnel addresses. */
  allocated: number;
  podsAllocated: number;
  tunnelAddresses: number;
  /** Addresses taken from another node's block (each one is a /32 route). */
  borrowed: number;
  nodesBorrowing: number;
  /** Pod and tunnel assignments that failed. */
  failed: number;
  failuresByCode: Partial<Record<IpamErrorCode, number>>;
  blocksPerNode: { min: number; max: number; mean: number };
  /** First node (counted from 1) that needed a block of its own and could not claim one; null if none. */
  exhaustedAtNode: number | null;
  /** First node that hit the per-host block cap; null if none. */
  blockLimitAtNode: number | null;
  /** allocated / (blocksClaimed × addressesPerBlock): how full the claimed blocks are. */
  blockUtilisation: number;
  /** allocated / pool size. */
  poolUtilisation: number;
  firstFailure: PlanFailure | null;
  /** Datastore work done by the allocator. */
  datastore: { reads: number; lists: number; writes: number; casConflicts: number };
}

const MAX_ASSIGNMENTS = 5_000_000;

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new IpamError("InvalidArgument", `${name} must be an integer ${min}-${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export async function planIpam(input: PlanInput, options: PlanOptions = {}): Promise<PlanResult> {
  if (typeof input !== "object" || input === null) throw new IpamError("InvalidArgument", "plan input must be an object");
  const nodes = checkInt("nodes", input.nodes, 1, 100_000);
  const podsPerNode = checkInt("podsPerNode", input.podsPerNode, 0, 100_000);
  if (nodes * (podsPerNode + 1) > MAX_ASSIGNMENTS) {
    throw new IpamError("InvalidArgument", `nodes × podsPerNode is too large to plan (at most ${MAX_ASSIGNMENTS.toLocaleString("en-US")} assignments)`);
  }
  const encapsulation = input.encapsulation ?? "none";
  if (!["none", "ipip", "vxlan"].includes(encapsulation)) throw new IpamError("InvalidArgument", `encapsulation must be none, ipip or vxlan, got ${JSON.stringify(encapsulation)}`);
  const strictAffinity = input.strictAffinity ?? false;
  if (typeof strictAffinity !== "boolean") throw new IpamError("InvalidArgument", "strictAffinity must be a boolean");
  const maxBlocksPerHost = checkInt("maxBlocksPerHost", input.maxBlocksPerHost ?? 0, 0, 1_000_000);

  const poolInput = {
    name: "plan-pool",
    cidr: String(input.pool),
    ...(input.blockSize === undefined ? {} : { blockSize: input.blockSize }),
    ipipMode: encapsulation === "ipip" ? ("Always" as const) : ("Never" as const),
    vxlanMode: encapsulation === "vxlan" ? ("Always" as const) : ("Never" as const),
  };
  let cidr;
  try {
    cidr = parsePrefix(poolInput.cidr);
  } catch (e) {
    throw new IpamError("InvalidArgument", `pool: ${(e as Error).message}`);
  }
  const pool = normalizePool(poolInput);
  const addressesPerBlock = 2 ** (familyBits(pool.family) - pool.blockSize);

  const store = new MemoryDatastore({ historyLimit: 0 });
  // The config is stored as a cluster would have it, and also handed to the (only) client directly:
  // it cannot change during the plan, so re-reading it for every address would only cost time.
  const config = { strictAffinity, maxBlocksPerHost };
  await new Ipam(store, { pools: [poolInput] }).setConfig(config);
  const ipam = new Ipam(store, { pools: [poolInput], clock: () => 0, config });

  let podsAllocated = 0;
  let tunnelAddresses = 0;
  let borrowed = 0;
  let failed = 0;
  let exhaustedAtNode: number | null = null;
  let blockLimitAtNode: number | null = null;
  let firstFailure: PlanFailure | null = null;
  const failuresByCode: Partial<Record<IpamErrorCode, number>> = {};
  const borrowingNodes = new Set<number>();

  const fail = (n: number, node: string, what: string, e: { code: IpamErrorCode; message: string }): void => {
    failed++;
    failuresByCode[e.code] = (failuresByCode[e.code] ?? 0) + 1;
    firstFailure ??= { node, what, code: e.code, message: e.message };
    if (e.code === "BlockLimit") blockLimitAtNode ??= n;
    else exhaustedAtNode ??= n;
  };
  // Shortages come back as values; anything thrown (bad input, corruption, retries exhausted) aborts.
  const assign = (req: AutoAssignRequest) => ipam.tryAutoAssign(req);

  for (let n = 1; n <= nodes; n++) {
    const node = `node-${n}`;
    if (encapsulation !== "none") {
      const res = await assign({
        host: node,
        handleId: `${encapsulation}-tunnel-addr-${node}`,
        num4: pool.family === 4 ? 1 : 0,
        num6: pool.family === 6 ? 1 : 0,
        use: "Tunnel",
        attrs: { node, type: encapsulation === "ipip" ? "ipipTunnelAddress" : "vxlanTunnelAddress" },
      });
      if ("code" in res) fail(n, node, "tunnel", res);
      else {
        tunnelAddresses++;
        if (res.borrowed.length > 0) {
          borrowed += res.borrowed.length;
          borrowingNodes.add(n);
          exhaustedAtNode ??= n;
        }
      }
    }
    for (let p = 1; p <= podsPerNode; p++) {
      const pod = `pod-${p}`;
      const res = await assign({
        host: node,
        handleId: `k8s-pod-network.${node}.${pod}`,
        num4: pool.family === 4 ? 1 : 0,
        num6: pool.family === 6 ? 1 : 0,
        attrs: { node, namespace: "default", pod: `${node}-${pod}` },
      });
      if ("code" in res) fail(n, node, pod, res);
      else {
        podsAllocated++;
        if (res.borrowed.length > 0) {
          borrowed += res.borrowed.length;
          borrowingNodes.add(n);
          exhaustedAtNode ??= n;
        }
      }
    }
    options.onProgress?.(n, nodes);
  }

  const blocks = await ipam.blocks();
  const perHost = new Map<string, number>();
  for (const b of blocks) if (b.host !== null) perHost.set(b.host, (perHost.get(b.host) ?? 0) + 1);
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let sum = 0;
  for (let n = 1; n <= nodes; n++) {
    const c = perHost.get(`node-${n}`) ?? 0;
    min = Math.min(min, c);
    max = Math.max(max, c);
    sum += c;
  }
  const allocated = podsAllocated + tunnelAddresses;
  const poolSize = Number(prefixSize(cidr));
  const stats = ipam.stats();
  return {
    pool: formatPrefix(cidr),
    blockSize: pool.blockSize,
    addressesPerBlock,
    poolSize,
    totalBlocks: Number(pool.numBlocks),
    nodes,
    podsPerNode,
    strictAffinity,
    maxBlocksPerHost: maxBlocksPerHost === 0 ? DEFAULT_MAX_BLOCKS_PER_HOST : maxBlocksPerHost,
    encapsulation,
    requested: nodes * podsPerNode,
    blocksClaimed: blocks.length,
    allocated,
    podsAllocated,
    tunnelAddresses,
    borrowed,
    nodesBorrowing: borrowingNodes.size,
    failed,
    failuresByCode,
    blocksPerNode: { min, max, mean: round(sum / nodes) },
    exhaustedAtNode,
    blockLimitAtNode,
    blockUtilisation: blocks.length === 0 ? 0 : round(allocated / (blocks.length * addressesPerBlock)),
    poolUtilisation: round(allocated / poolSize),
    firstFailure,
    datastore: { reads: stats.reads, lists: stats.lists, writes: stats.writes, casConflicts: stats.casConflicts },
  };
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;
