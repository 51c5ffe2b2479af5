// The node agent (docs/agent.md): one node's brain = BGP speaker + IPAM client + policy, on the ports
// Clock, Transport, Datastore and Dataplane. The simulator builds one per topology node; real mode runs
// one in each node's namespace.
export {
  NodeAgent,
  type NodeAgentConfig,
  type NodeAgentPorts,
  type AgentPodSpec,
  type AgentPod,
  type AgentSession,
  type AgentRoute,
  type AgentStatus,
  type RouteSource,
} from "./agent.ts";
export type { Dataplane, DataplaneRoute, DataplaneRouteChanges, Encapsulation, TunnelDevice, WorkloadInterface } from "./dataplane.ts";
export {
  DEFAULT_AS_NUMBER,
  DEFAULT_BGP_PORT,
  clusterAs,
  meshEnabled,
  listenPort,
  nodeAs,
  hostAddress,
  nodeSubnet,
  durationSeconds,
  type ClusterNode,
  type ClusterView,
  type BgpPeerResource,
  type BgpConfigurationResource,
} from "./cluster.ts";
export { peerRelations, nodePeers, type PeerRelation, type AgentPeer, type PeerOptions } from "./peers.ts";
export {
  encapFor,
  poolOf,
  dataplaneRoute,
  workloadRoute,
  tunnelDeviceFor,
  IPIP_DEVICE,
  VXLAN_DEVICE,
  VXLAN_V6_DEVICE,
  VXLAN_VNI,
  VXLAN_PORT,
  ENCAP_OVERHEAD,
  type EncapContext,
} from "./routes.ts";
export { MemoryDataplane, routeText, type RouteText } from "./memory-dataplane.ts";
export { BlockOwners } from "./block-owners.ts";
export { policySetFor } from "./policy.ts";
