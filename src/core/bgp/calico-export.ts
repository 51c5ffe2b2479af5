// Calico's route semantics (confd's bird_aggr.cfg / bird_ipam.cfg, see calico-semantics.md §4.5) as
// plain functions: what a node originates, and the export filter every peer gets. Inputs are plain
// data so the agent can feed them from IPAM (`affineBlocks(host)`, `borrowedAddresses(host)`).
import { parsePrefix, prefixContains, prefixEquals, type Prefix } from "../net/ip.ts";
import type { ExportPolicy, RouteView } from "./speaker.ts";

export interface CalicoPool {
  cidr: string;
  /** IPPool.spec.disableBGPExport: nothing inside this pool is advertised. */
  disableBGPExport?: boolean;
}

export interface CalicoExportInput {
  /** IP pools (all of them, enabled or not). */
  pools: readonly CalicoPool[];
  /** Blocks confirmed affine to this node (IPAM affineBlocks). */
  blocks: readonly string[];
  /** Addresses this node took from other hosts' blocks (IPAM borrowedAddresses). */
  borrowed: readonly (string | { address: string })[];
}

export interface OriginatedRoute {
  prefix: Prefix;
  /** Install a local blackhole for it (Calico's `route <block> blackhole`). */
  blackhole: boolean;
}

interface Parsed {
  pools: { prefix: Prefix; disabled: boolean }[];
  blocks: Prefix[];
  borrowed: Prefix[];
}

function parse(input: CalicoExportInput): Parsed {
  return {
    pools: input.pools.map((p) => ({ prefix: parsePrefix(p.cidr), disabled: !!p.disableBGPExport })),
    blocks: input.blocks.map((b) => parsePrefix(b)),
    borrowed: input.borrowed.map((b) => parsePrefix(typeof b === "string" ? b : b.address)),
  };
}

/**
 * The routes a node originates: each affine block (blackholed locally, except /32 and /128 blocks
 * where the workload route is the only one) and each borrowed address as a host route. Routes the
 * export filter would drop (outside every pool, or in a disableBGPExport pool) are still originated
 * for the blackhole but never advertised, as in Calico's `protocol static`.
 */
export function calicoOriginatedRoutes(input: CalicoExportInput): OriginatedRoute[] {
  const p = parse(input);
  const out: OriginatedRoute[] = [];
  const seen = new Set<string>();
  const push = (prefix: Prefix, blackhole: boolean): void => {
    const k = `${prefix.family}/${prefix.addr}/${prefix.len}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ prefix, blackhole });
  };
  for (const b of p.blocks) push(b, b.len < (b.family === 4 ? 32 : 128));
  for (const a of p.borrowed) {
    // A borrowed address inside one of our own blocks is covered by the aggregate already.
    if (p.blocks.some((b) => prefixContains(b, a))) continue;
    push(a, false);
  }
  return out;
}

/**
 * calico_export_to_bgp_peers: reject anything in a disableBGPExport pool; accept our own block
 * aggregates and reject more-specifics inside them (calico_aggr); accept what lies inside a pool
 * (borrowed /32s, and routes of other nodes a reflector passes on); reject everything else.
 */
export function calicoExportPolicy(input: CalicoExportInput): ExportPolicy {
  const p = parse(input);
  const policy = (route: RouteView): boolean => {
    const r = route.prefix;
    for (const pool of p.pools) if (pool.disabled && prefixContains(pool.prefix, r)) return false;
    if (route.source.kind === "local") {
      for (const b of p.blocks) if (prefixEquals(b, r)) return true;
      for (const b of p.blocks) if (prefixContains(b, r)) return false;
    }
    for (const pool of p.pools) if (prefixContains(pool.prefix, r)) return true;
    return false;
  };
  // The same answer for every peer: a node sends its blocks to each of its peers in a row.
  return Object.assign(policy, { peerIndependent: true });
}

/** Both at once, for `speaker.setOriginated(routes)` and the speaker's exportPolicy. */
export function calicoExport(input: CalicoExportInput): { routes: OriginatedRoute[]; exportPolicy: ExportPolicy } {
  return { routes: calicoOriginatedRoutes(input), exportPolicy: calicoExportPolicy(input) };
}
