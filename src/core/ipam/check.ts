// A consistency check of the IPAM data in a datastore (in the spirit of `calicoctl ipam check`):
// leaked addresses, blocks without affinity, handle records that disagree with the blocks, and
// affinities without (or with someone else's) block. Read-only.
import type { Datastore } from "../datastore/port.ts";
import { formatPrefix } from "../net/ip.ts";
import { hostAffinity, inUseCount, ordinalAddress } from "./block.ts";
import { IpamStore } from "./store.ts";

export interface LiveWorkload {
  namespace: string;
  pod: string;
}

export interface CheckOptions {
  /** Handles that are in use (e.g. k8s-pod-network.<containerID> of running pods). */
  liveHandles?: Iterable<string>;
  /** Running pods; an allocation whose namespace/pod attributes name none of them is leaked. */
  liveWorkloads?: Iterable<LiveWorkload>;
  /** Existing nodes; tunnel addresses of other nodes are leaked. */
  liveNodes?: Iterable<string>;
}

export interface LeakedAddress {
  address: string;
  block: string;
  handleId: string | null;
  node: string | null;
  pod: string | null;
  namespace: string | null;
  reason: string;
}

export interface HandleMismatch {
  handleId: string;
  block: string;
  /** The count in the handle record (0 when the record is missing). */
  recorded: number;
  /** Addresses the block actually holds for the handle (0 when the block is missing). */
  actual: number;
  problem: "count" | "missingBlock" | "missingHandle";
}

export interface CheckReport {
  /** True when nothing below needs attention (non-affine blocks still holding addresses are normal). */
  ok: boolean;
  summary: { blocks: number; allocations: number; handles: number; affinities: number; leaked: number; problems: number };
  leaked: LeakedAddress[];
  blocksWithoutAffinity: { cidr: string; inUse: number; empty: boolean }[];
  handleMismatches: HandleMismatch[];
  affinitiesWithoutBlocks: { host: string; cidr: string; state: string }[];
  /** Affinities whose block carries a different affinity (stale claims). */
  affinityMismatches: { host: string; cidr: string; blockAffinity: string | null }[];
}

const TUNNEL_TYPES = new Set(["ipipTunnelAddress", "vxlanTunnelAddress", "vxlanV6TunnelAddress", "wireguardTunnelAddress", "wireguardV6TunnelAddress"]);

export async function checkIpam(datastore: Datastore, options: CheckOptions = {}): Promise<CheckReport> {
  const store = new IpamStore(datastore);
  const liveHandles = options.liveHandles ? new Set(options.liveHandles) : undefined;
  const liveWorkloads = options.liveWorkloads ? new Set([...options.liveWorkloads].map((w) => `${w.namespace}/${w.pod}`)) : undefined;
  const liveNodes = options.liveNodes ? new Set(options.liveNodes) : undefined;

  const blocks = await store.listAllBlocks();
  const handles = await store.listHandles();
  const affinities = await store.listAllAffinities();

  const report: CheckReport = {
    ok: true,
    summary: { blocks: blocks.length, allocations: 0, handles: handles.length, affinities: affinities.length, leaked: 0, problems: 0 },
    leaked: [],
    blocksWithoutAffinity: [],
    handleMismatches: [],
    affinitiesWithoutBlocks: [],
    affinityMismatches: [],
  };

  // Per block: count allocations per handle, judge liveness.
  const actual = new Map<string, Map<string, number>>(); // handle -> block -> count
  const blockByCidr = new Map(blocks.map((e) => [e.block.cidrText, e.block]));
  for (const { block: b } of blocks) {
    if (b.affinity === null) report.blocksWithoutAffinity.push({ cidr: b.cidrText, inUse: inUseCount(b), empty: inUseCount(b) === 0 });
    for (let o = 0; o < b.allocations.length; o++) {
      const idx = b.allocations[o];
      if (idx === null || idx === undefined) continue;
      report.summary.allocations++;
      const attr = b.attributes[idx];
      const handleId = attr?.handle_id ?? null;
      const sec = attr?.secondary ?? {};
      if (handleId !== null) {
        const m = actual.get(handleId) ?? new Map<string, number>();
        m.set(b.cidrText, (m.get(b.cidrText) ?? 0) + 1);
        actual.set(handleId, m);
      }
      let reason: string | undefined;
      if (sec.type !== undefined && TUNNEL_TYPES.has(sec.type)) {
        if (liveNodes && sec.node !== undefined && !liveNodes.has(sec.node)) reason = `tunnel address of node ${sec.node}, which does not exist`;
      } else if (liveHandles && (handleId === null || !liveHandles.has(handleId))) {
        reason = handleId === null ? "allocation has no handle" : `handle ${handleId} is not live`;
      } else if (liveWorkloads && sec.pod !== undefined && !liveWorkloads.has(`${sec.namespace ?? ""}/${sec.pod}`)) {
        reason = `pod ${sec.namespace ?? ""}/${sec.pod} is not running`;
      } else if (liveNodes && sec.node !== undefined && !liveNodes.has(sec.node)) {
        reason = `node ${sec.node} does not exist`;
      }
      if (reason !== undefined) {
        report.leaked.push({
          address: ordinalAddress(b, o),
          block: b.cidrText,
          handleId,
          node: sec.node ?? null,
          pod: sec.pod ?? null,
          namespace: sec.namespace ?? null,
          reason,
        });
      }
    }
  }

  // Handle records against the blocks.
  const recorded = new Map(handles.map((h) => [h.handleId, h.blocks]));
  for (const h of handles) {
    for (const [cidr, n] of h.blocks) {
      const real = actual.get(h.handleId)?.get(cidr) ?? 0;
      if (!blockByCidr.has(cidr)) report.handleMismatches.push({ handleId: h.handleId, block: cidr, recorded: n, actual: 0, problem: "missingBlock" });
      else if (real !== n) report.handleMismatches.push({ handleId: h.handleId, block: cidr, recorded: n, actual: real, problem: "count" });
    }
  }
  for (const [handleId, perBlock] of actual) {
    const rec = recorded.get(handleId);
    for (const [cidr, n] of perBlock) {
      if (!rec) report.handleMismatches.push({ handleId, block: cidr, recorded: 0, actual: n, problem: "missingHandle" });
      else if (!rec.has(cidr)) report.handleMismatches.push({ handleId, block: cidr, recorded: 0, actual: n, problem: "count" });
    }
  }

  // Affinities against the blocks.
  for (const a of affinities) {
    const cidr = formatPrefix(a.cidr);
    const b = blockByCidr.get(cidr);
    if (!b) report.affinitiesWithoutBlocks.push({ host: a.host, cidr, state: a.state });
    else if (b.affinity !== hostAffinity(a.host)) report.affinityMismatches.push({ host: a.host, cidr, blockAffinity: b.affinity });
  }

  report.summary.leaked = report.leaked.length;
  report.summary.problems =
    report.leaked.length +
    report.handleMismatches.length +
    report.affinitiesWithoutBlocks.length +
    report.affinityMismatches.length +
    report.blocksWithoutAffinity.filter((b) => b.empty).length;
  report.ok = report.summary.problems === 0;
  return report;
}
