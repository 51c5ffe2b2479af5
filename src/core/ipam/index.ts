// IPAM: Calico's block-based IP address management (libcalico-go/lib/ipam) in pure TypeScript, over
// the Datastore port (same keys as Calico's etcd layout). Start here:
//
//   const ipam = new Ipam(store, { pools: [{ name: "default", cidr: "10.1.0.0/16" }], clock });
//   const { ipv4 } = await ipam.autoAssign({ host: "node-1", handleId: "k8s-pod-network.abc", num4: 1,
//                                            attrs: { namespace: "default", pod: "web-0" } });
//   await ipam.releaseByHandle("k8s-pod-network.abc");
//   await ipam.assignTunnelAddress("node-1", "vxlan");
//   await ipam.affineBlocks("node-1");       // confirmed blocks: what node-1 originates in BGP
//   await ipam.borrowedAddresses("node-1");  // addresses node-1 took from others' blocks: its /32s
//   await checkIpam(store, { liveHandles });  // leaks, handle/affinity inconsistencies
//   await planIpam({ pool: "10.1.0.0/16", nodes: 1000, podsPerNode: 100 });
//
// Errors are IpamError with a `code` (InvalidArgument, NoFreeBlocks, BlockLimit, Exhausted, ...).
export {
  Ipam,
  tunnelHandle,
  DATASTORE_RETRIES,
  EMPTY_BLOCK_MIN_RECLAIM_AGE_MS,
  type IpamOptions,
  type AutoAssignRequest,
  type AutoAssignResult,
  type AssignFailure,
  type ReleaseRequest,
  type ReleaseResult,
  type TunnelKind,
  type Labels,
} from "./ipam.ts";
export { affineBlocksOf, borrowedAddressesOf, lookupAddress, blockSummaries, type AddressInfo, type BlockSummary, type BorrowedAddress } from "./queries.ts";
export { checkIpam, type CheckOptions, type CheckReport, type LeakedAddress, type HandleMismatch, type LiveWorkload } from "./check.ts";
export { planIpam, type PlanInput, type PlanOptions, type PlanResult, type PlanFailure, type PlanEncapsulation } from "./plan.ts";
export { IpamError, isIpamError, type IpamErrorCode } from "./errors.ts";
export { normalizeConfig, DEFAULT_CONFIG, DEFAULT_MAX_BLOCKS_PER_HOST, type IpamConfig, type IpamConfigInput } from "./config.ts";
export {
  normalizePool,
  selectPools,
  blockSearchOrder,
  type Pool,
  type IpPoolInput,
  type IpPoolSpecInput,
  type AllowedUse,
  type EncapMode,
  type AssignmentMode,
} from "./pools.ts";
export { blockKey, affinityKey, handleKey, CONFIG_KEY, IPAM_ROOT } from "./keys.ts";
export type { IpamCounters, AffinityState } from "./store.ts";
export type { Block, BlockAttribute } from "./block.ts";
export { fnv32 } from "./prng.ts";
