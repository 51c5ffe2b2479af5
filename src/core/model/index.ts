// The resource model: Calico v3 and Kubernetes objects, and ICP config.yaml, loaded from YAML with
// positions, validated as Calico validates them, and defaulted as clientv3 defaults them.
//
// Loading:
//   loadResources(text, file)      → LoadedResources (throws InputError with every problem)
//   parseResources(text, file)     → { resources, problems } (never throws)
//   loadResourceFiles([{text, file}]) / parseResourceFiles(...) → one set from many files, with
//                                    the rules across files (pool overlaps, duplicate names, ...)
//   validateResourceSet(sets)      → Problem[] across already-loaded sets
//   loadIcpConfig(text, file)      → IcpConfig { pool, tunnelMTU, autodetection, ... }
//   detectFileShape(text)          → "resources" | "icp-config" | "topology" | "empty" (topologies load in src/topology)
// Querying: resources.ofKind("IPPool") (entries with source positions), resources.list("Pod"),
//   resources.get("Tier", "security"), resources.ipPools, .ipamConfig, .bgpConfig, .pods, .namespaces.
// Problems print as `file:line:col: message` with formatProblems().
//
// Types (all defaulted: e.g. IPPool.spec.blockSize, ipipMode, ... are always present):
//   Calico:     IPPool, IPAMConfiguration, BGPConfiguration, BGPPeer, CalicoNode (kind Node), Tier,
//               CalicoNetworkPolicy (kind NetworkPolicy), GlobalNetworkPolicy, NetworkSet,
//               GlobalNetworkSet, Profile, HostEndpoint, WorkloadEndpoint, FelixConfiguration
//               (MTU/encapsulation fields typed, the rest kept);
//               Rule, EntityRule, ICMPFields, Action, PolicyType, PortValue (as written) / PortSpec
//               (parsePort), EncapMode.
//   Kubernetes: Namespace, Pod (podIPs()), KubeNetworkPolicy (networking.k8s.io/v1), KubeLabelSelector.
// Selectors are kept as text; src/core/policy/selector parses them.
export { InputError, formatProblems, sortProblems, type Problem, type SourcePos } from "./problems.ts";
export { parseYamlDocuments, type Path, type SourceDocument } from "./yaml-source.ts";
export { loadResourceFiles, loadResources, parseResourceDocuments, parseResourceFiles, parseResources, type ResourceParseResult } from "./load.ts";
export { validateResourceSet } from "./resource-set.ts";
export {
  KINDS,
  LoadedResources,
  describeEntry,
  findKind,
  type AnyResource,
  type KindInfo,
  type ResourceByKind,
  type ResourceEntry,
  type ResourceKind,
} from "./resources.ts";
export {
  CALICO_API_VERSION,
  FIXED_TIER_ORDERS,
  calicoSchemas,
  encapModes,
  splitPeerIP,
  type BGPConfiguration,
  type BGPPeer,
  type CalicoNetworkPolicy,
  type CalicoNode,
  type EncapMode,
  type FelixConfiguration,
  type GlobalNetworkPolicy,
  type GlobalNetworkSet,
  type HostEndpoint,
  type IPAMConfiguration,
  type IPPool,
  type IPPoolSpec,
  type NetworkSet,
  type Profile,
  type Tier,
  type WorkloadEndpoint,
} from "./calico.ts";
export { actions, defaultPolicyTypes, policyTypes, type Action, type EntityRule, type ICMPFields, type PolicyType, type Rule } from "./policy-rules.ts";
export { kubeNetworkPolicySchema, namespaceSchema, podIPs, podSchema, type KubeLabelSelector, type KubeNetworkPolicy, type Namespace, type Pod } from "./kubernetes.ts";
export { parseASNumber, parsePort, protocolSupportsPorts, type PortSpec, type PortValue } from "./fields.ts";
export {
  ICP_DEFAULTS,
  loadIcpConfig,
  looksLikeIcpConfig,
  parseAutodetectionMethod,
  parseIcpConfig,
  type AutodetectionMethod,
  type IcpConfig,
  type IcpParseResult,
} from "./icp.ts";
export { detectFileShape, type FileShape } from "./shape.ts";
