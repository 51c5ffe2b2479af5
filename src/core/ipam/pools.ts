// IP pools as IPAM sees them: Calico v3 IPPoolSpec fields (so a model IPPool passes straight in,
// either as `{metadata: {name}, spec}` or as a flat spec with a name), validated and defaulted as
// libcalico-go's clientv3/ippool.go does, plus the per-host block search order.
import { familyBits, formatPrefix, parsePrefix, subnetCount, type Family, type Prefix } from "../net/ip.ts";
import { parseSelector, type Selector } from "../policy/selector/index.ts";
import { IpamError } from "./errors.ts";
import { fnv32, randomBelow, splitMix32 } from "./prng.ts";

export type EncapMode = "Always" | "CrossSubnet" | "Never";
export type AllowedUse = "Workload" | "Tunnel" | "LoadBalancer";
export type AssignmentMode = "Automatic" | "Manual";

/** The IPPoolSpec fields IPAM uses, named exactly as Calico's v3 API. */
export interface IpPoolSpecInput {
  cidr: string;
  blockSize?: number;
  ipipMode?: EncapMode;
  vxlanMode?: EncapMode;
  natOutgoing?: boolean;
  disabled?: boolean;
  disableBGPExport?: boolean;
  nodeSelector?: string;
  allowedUses?: AllowedUse[];
  assignmentMode?: AssignmentMode;
}

export type IpPoolInput = (IpPoolSpecInput & { name?: string }) | { metadata: { name: string }; spec: IpPoolSpecInput };

export interface Pool {
  readonly name: string;
  readonly cidr: Prefix;
  readonly cidrText: string;
  readonly family: Family;
  readonly blockSize: number;
  /** How many blocks the pool holds (2^(blockSize - prefix length)). */
  readonly numBlocks: bigint;
  readonly ipipMode: EncapMode;
  readonly vxlanMode: EncapMode;
  readonly natOutgoing: boolean;
  readonly disabled: boolean;
  readonly disableBGPExport: boolean;
  readonly nodeSelector: string;
  readonly selector: Selector;
  readonly allowedUses: readonly AllowedUse[];
  readonly assignmentMode: AssignmentMode;
}

const ENCAP: readonly string[] = ["Always", "CrossSubnet", "Never"];
const USES: readonly string[] = ["Workload", "Tunnel", "LoadBalancer"];
const LINK_LOCAL_V4 = parsePrefix("169.254.0.0/16");
const LINK_LOCAL_V6 = parsePrefix("fe80::/10");

const normalized = new WeakMap<object, { sig: string; pool: Pool }>();

/** Validates and defaults one pool. Results are memoised per input object (re-checked if it changes). */
export function normalizePool(input: IpPoolInput): Pool {
  if (typeof input !== "object" || input === null) throw new IpamError("InvalidPool", "an IP pool must be an object");
  const sig = signature(input);
  const hit = normalized.get(input);
  if (hit && hit.sig === sig) return hit.pool;
  const pool = buildPool(input);
  normalized.set(input, { sig, pool });
  return pool;
}

/** A cheap fingerprint of every field buildPool reads, to notice a mutated input object. */
function signature(input: IpPoolInput): string {
  const spec = ("spec" in input ? input.spec : input) as IpPoolSpecInput | undefined;
  const name = "spec" in input ? input.metadata?.name : input.name;
  if (typeof spec !== "object" || spec === null) return "";
  return `${String(name)}|${spec.cidr}|${spec.blockSize}|${spec.ipipMode}|${spec.vxlanMode}|${spec.natOutgoing}|${spec.disabled}|${spec.disableBGPExport}|${spec.nodeSelector}|${String(spec.allowedUses)}|${spec.assignmentMode}`;
}

function buildPool(input: IpPoolInput): Pool {
  const spec: IpPoolSpecInput = "spec" in input ? input.spec : input;
  const name = "spec" in input ? input.metadata?.name : input.name;
  const where = `IP pool ${name ?? spec?.cidr ?? "?"}`;
  const bad = (why: string): never => {
    throw new IpamError("InvalidPool", `${where}: ${why}`);
  };
  if (typeof spec !== "object" || spec === null) return bad("spec is missing");
  if (typeof spec.cidr !== "string") return bad("cidr is required");
  let cidr: Prefix;
  try {
    cidr = parsePrefix(spec.cidr);
  } catch (e) {
    return bad((e as Error).message);
  }
  const family = cidr.family;
  const blockSize = spec.blockSize ?? (family === 4 ? 26 : 122);
  const [lo, hi] = family === 4 ? [20, 32] : [116, 128];
  if (!Number.isInteger(blockSize) || blockSize < lo || blockSize > hi) bad(`blockSize ${String(blockSize)} must be ${lo}-${hi} for IPv${family}`);
  if (cidr.len > blockSize && !spec.disabled) {
    bad(`IP pool size is too small (/${cidr.len}) for use with Calico IPAM. It must be equal to or greater than the block size (/${blockSize})`);
  }
  if (family === 4 ? prefixOverlaps(cidr, LINK_LOCAL_V4) : prefixOverlaps(cidr, LINK_LOCAL_V6)) bad("cidr overlaps with the link-local range");
  const ipipMode = spec.ipipMode ?? "Never";
  const vxlanMode = spec.vxlanMode ?? "Never";
  if (!ENCAP.includes(ipipMode)) bad(`ipipMode must be Always, CrossSubnet or Never, got ${JSON.stringify(ipipMode)}`);
  if (!ENCAP.includes(vxlanMode)) bad(`vxlanMode must be Always, CrossSubnet or Never, got ${JSON.stringify(vxlanMode)}`);
  if (ipipMode !== "Never" && vxlanMode !== "Never") bad("ipipMode and vxlanMode cannot both be enabled");
  if (family === 6 && ipipMode !== "Never") bad("IPIP is not supported on an IPv6 pool");
  const allowedUses = spec.allowedUses ?? ["Workload", "Tunnel"];
  if (!Array.isArray(allowedUses) || allowedUses.some((u) => !USES.includes(u))) bad("allowedUses may only contain Workload, Tunnel and LoadBalancer");
  if (allowedUses.includes("LoadBalancer") && allowedUses.length > 1) bad("LoadBalancer cannot be combined with other allowedUses");
  const assignmentMode = spec.assignmentMode ?? "Automatic";
  if (assignmentMode !== "Automatic" && assignmentMode !== "Manual") bad(`assignmentMode must be Automatic or Manual`);
  const nodeSelector = spec.nodeSelector ?? "all()";
  if (typeof nodeSelector !== "string") return bad("nodeSelector must be a string");
  let selector: Selector;
  try {
    selector = parseSelector(nodeSelector);
  } catch (e) {
    return bad(`nodeSelector: ${(e as Error).message}`);
  }
  return {
    name: name ?? formatPrefix(cidr),
    cidr,
    cidrText: formatPrefix(cidr),
    family,
    blockSize,
    numBlocks: cidr.len <= blockSize ? subnetCount(cidr, blockSize) : 0n,
    ipipMode,
    vxlanMode,
    natOutgoing: spec.natOutgoing ?? false,
    disabled: spec.disabled ?? false,
    disableBGPExport: spec.disableBGPExport ?? false,
    nodeSelector,
    selector,
    allowedUses,
    assignmentMode,
  };
}

function prefixOverlaps(a: Prefix, b: Prefix): boolean {
  const len = Math.min(a.len, b.len);
  const shift = BigInt(familyBits(a.family) - len);
  return a.family === b.family && a.addr >> shift === b.addr >> shift;
}

/** Rejects a set of pools whose CIDRs overlap (Calico refuses to create such a pool). */
export function checkNoOverlap(pools: readonly Pool[]): void {
  for (let i = 0; i < pools.length; i++) {
    for (let j = i + 1; j < pools.length; j++) {
      if (prefixOverlaps(pools[i]!.cidr, pools[j]!.cidr)) {
        throw new IpamError("InvalidPool", `IP pools ${pools[i]!.name} (${pools[i]!.cidrText}) and ${pools[j]!.name} (${pools[j]!.cidrText}) overlap`);
      }
    }
  }
}

export function poolSelectsNode(pool: Pool, labels: Readonly<Record<string, string>>): boolean {
  return pool.selector.matches(labels);
}

/**
 * The pools an automatic assignment may use (Calico's determinePools + filterPoolsByUse): enabled,
 * of the family, assignmentMode Automatic, nodeSelector matching the node's labels, allowing `use`.
 */
export function selectPools(all: readonly Pool[], family: Family, labels: Readonly<Record<string, string>>, use: AllowedUse): Pool[] {
  return all.filter(
    (p) => !p.disabled && p.family === family && p.assignmentMode === "Automatic" && p.allowedUses.includes(use) && poolSelectsNode(p, labels),
  );
}

/** The pool containing `value` (of `family`), if any. */
export function poolForAddress(pools: readonly Pool[], family: Family, value: bigint): Pool | undefined {
  for (const p of pools) {
    if (p.family !== family) continue;
    const shift = BigInt(familyBits(family) - p.cidr.len);
    if (value >> shift === p.cidr.addr >> shift) return p;
  }
  return undefined;
}

/** The block (of the pool's block size) that contains `value`. */
export function blockForAddress(pool: Pool, value: bigint): Prefix {
  const shift = BigInt(familyBits(pool.family) - pool.blockSize);
  return { family: pool.family, addr: (value >> shift) << shift, len: pool.blockSize };
}

/** The index of a block inside its pool. */
export function blockIndex(pool: Pool, blockAddr: bigint): bigint {
  return (blockAddr - pool.cidr.addr) >> BigInt(familyBits(pool.family) - pool.blockSize);
}

/** The address of the pool's `index`-th block. */
export function blockAddrAt(pool: Pool, index: bigint): bigint {
  return pool.cidr.addr + (index << BigInt(familyBits(pool.family) - pool.blockSize));
}

/**
 * The per-host start of the block search (Calico's randomBlockGenerator): a random index seeded with
 * the FNV-32 hash of the host name. Walk from it sequentially, wrapping to 0, numBlocks steps in all.
 * For /32 (and /128) blocks Calico seeds from the clock instead, since a host reusing the same
 * one-address block buys nothing; we take `fallbackSeed` (derived from the injected clock) there.
 */
export function blockSearchStart(pool: Pool, host: string, fallbackSeed: number): bigint {
  const seed = pool.blockSize === familyBits(pool.family) ? fallbackSeed : fnv32(host);
  return randomBelow(splitMix32(seed), pool.numBlocks);
}

/** The pool's block indices in the host's search order. */
export function* blockSearchOrder(pool: Pool, host: string, fallbackSeed = 0): Generator<bigint> {
  const n = pool.numBlocks;
  const start = blockSearchStart(pool, host, fallbackSeed);
  for (let k = 0n, i = start; k < n; k++) {
    yield i;
    i = i + 1n === n ? 0n : i + 1n;
  }
}

/** Position of block `index` in a walk that starts at `start` (for ordering candidates without walking). */
export const walkPosition = (pool: Pool, start: bigint, index: bigint): bigint => (index - start + pool.numBlocks) % pool.numBlocks;
