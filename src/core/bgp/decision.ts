// Paths as the RIBs keep them, and the BGP decision process (RFC 4271 §9.1.2 with RFC 4456's
// CLUSTER_LIST and ORIGINATOR_ID steps), in the order BIRD, GoBGP and FRR use.
import type { IPAddress, Prefix } from "../net/ip.ts";
import { asPathLength, type PathAttributes } from "./wire/index.ts";

/** Where a path came from: a neighbour, or this speaker (`local`). */
export interface PathSource {
  kind: "local" | "ibgp" | "ebgp";
  /** Neighbour address (text); "" for local paths. */
  address: string;
  /** Neighbour address as a comparable number, for the last tie-break. */
  addressValue: bigint;
  peerAs: number;
  /** The neighbour's BGP identifier (uint32); our own for local paths. */
  bgpId: number;
  /** The neighbour is a route-reflector client of ours. */
  rrClient: boolean;
}

export interface Path {
  /** Set on locally originated paths; received ones are shared by all the prefixes of their UPDATE and have none. */
  prefix?: Prefix;
  /** Attributes after import: mpReach/mpUnreach removed, the next hop(s) in `nextHops`. */
  attrs: PathAttributes;
  nextHops: IPAddress[];
  source: PathSource;
  /** Kept through a neighbour's graceful restart, waiting for refresh (RFC 4724). */
  stale?: boolean;
  /** Local paths only: also install a blackhole for this prefix. */
  blackhole?: boolean;
  /** Received but refused by import policy or loop checks: kept for counting, never selected. */
  rejected?: boolean;
}

export const DEFAULT_LOCAL_PREF = 100;

/** The AS a path was received from: the first AS of the path, or our own for paths without one. */
export function neighbourAs(p: Path, localAs: number): number {
  const first = p.attrs.asPath?.[0];
  if (first && first.type === 2 && first.asns.length) return first.asns[0] ?? localAs;
  return localAs;
}

export interface DecisionOptions {
  localAs: number;
  /** Step 6: the IGP cost to reach a next hop (lower wins). Default 0 for all. */
  igpCost?: (nextHop: IPAddress | undefined) => number;
}

/**
 * Negative when a is preferred over b. Local paths win outright (like BIRD's static preference over
 * BGP, or Cisco's weight), then the standard steps.
 */
export function comparePaths(a: Path, b: Path, opts: DecisionOptions): number {
  if ((a.source.kind === "local") !== (b.source.kind === "local")) return a.source.kind === "local" ? -1 : 1;
  // 1. Highest LOCAL_PREF.
  const lp = (b.attrs.localPref ?? DEFAULT_LOCAL_PREF) - (a.attrs.localPref ?? DEFAULT_LOCAL_PREF);
  if (lp !== 0) return lp;
  // 2. Shortest AS_PATH (an AS_SET counts as one).
  const al = asPathLength(a.attrs.asPath ?? []) - asPathLength(b.attrs.asPath ?? []);
  if (al !== 0) return al;
  // 3. Lowest ORIGIN.
  const o = (a.attrs.origin ?? 0) - (b.attrs.origin ?? 0);
  if (o !== 0) return o;
  // 4. Lowest MED, only between paths from the same neighbouring AS (missing MED = 0).
  if (neighbourAs(a, opts.localAs) === neighbourAs(b, opts.localAs)) {
    const m = (a.attrs.med ?? 0) - (b.attrs.med ?? 0);
    if (m !== 0) return m;
  }
  // 5. eBGP over iBGP.
  if ((a.source.kind === "ebgp") !== (b.source.kind === "ebgp")) return a.source.kind === "ebgp" ? -1 : 1;
  // 6. Lowest IGP cost to the next hop.
  if (opts.igpCost) {
    const c = opts.igpCost(a.nextHops[0]) - opts.igpCost(b.nextHops[0]);
    if (c !== 0) return c;
  }
  // 7. Shortest CLUSTER_LIST.
  const cl = (a.attrs.clusterList?.length ?? 0) - (b.attrs.clusterList?.length ?? 0);
  if (cl !== 0) return cl;
  // 8. Lowest ORIGINATOR_ID, else the neighbour's BGP identifier.
  const ida = a.attrs.originatorId ?? a.source.bgpId;
  const idb = b.attrs.originatorId ?? b.source.bgpId;
  if (ida !== idb) return ida < idb ? -1 : 1;
  // 9. Lowest neighbour address.
  if (a.source.addressValue !== b.source.addressValue) return a.source.addressValue < b.source.addressValue ? -1 : 1;
  return 0;
}

/** The best of the non-empty list (first wins ties), or undefined for an empty one. */
export function bestPath(paths: readonly Path[], opts: DecisionOptions): Path | undefined {
  let best: Path | undefined;
  for (const p of paths) if (!p.rejected && (!best || comparePaths(p, best, opts) < 0)) best = p;
  return best;
}
