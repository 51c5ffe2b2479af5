// The IPAM observation both backends report: every block with its affinity and use, addresses in use,
// and what `ipam check` finds, in words. Mode-agnostic: it reads IPAM through the Datastore port.
import type { Datastore } from "../core/datastore/port.ts";
import { checkIpam, type Ipam } from "../core/ipam/index.ts";
import type { IpamObservation } from "./backend.ts";

export async function ipamObservation(
  ipam: Ipam,
  datastore: Datastore,
  live: { pods: readonly { namespace: string; name: string }[]; nodes: readonly string[] },
): Promise<IpamObservation> {
  const blocks = await ipam.blocks();
  const report = await checkIpam(datastore, {
    liveWorkloads: live.pods.map((p) => ({ namespace: p.namespace, pod: p.name })),
    liveNodes: [...live.nodes],
  });
  const problems: string[] = [
    ...report.leaked.map((l) => `leaked address ${l.address} in block ${l.block}${l.pod ? ` (pod ${l.namespace ?? ""}/${l.pod})` : ""}: ${l.reason}`),
    ...report.blocksWithoutAffinity.filter((b) => b.empty).map((b) => `empty block ${b.cidr} without affinity`),
    ...report.handleMismatches.map((h) => `handle ${h.handleId} in block ${h.block}: ${h.problem} (recorded ${h.recorded}, actual ${h.actual})`),
    ...report.affinitiesWithoutBlocks.map((a) => `affinity of ${a.host} for ${a.cidr} (${a.state}) without its block`),
    ...report.affinityMismatches.map((a) => `affinity of ${a.host} for ${a.cidr}, but the block says ${a.blockAffinity ?? "none"}`),
  ];
  return {
    blocks: blocks.map((b) => ({ cidr: b.cidr, affinity: b.affinity, allocated: b.inUse, size: b.capacity })),
    inUse: blocks.reduce((n, b) => n + b.inUse, 0),
    problems,
  };
}
