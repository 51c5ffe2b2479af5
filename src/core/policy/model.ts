// The policy model as plain data, mirroring Calico v3 resources field for field (camelCase as in
// the YAML), so a parsed NetworkPolicy/GlobalNetworkPolicy/Tier/Profile spec can be passed straight
// in. These are lean internal types: schema validation of YAML files belongs to src/core/model;
// semantic checks (selectors, CIDRs, ports) happen when a PolicySet is built (see policy-set.ts).

export type Action = "Allow" | "Deny" | "Log" | "Pass";
export type PolicyType = "Ingress" | "Egress";

/** `TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite` (any case) or a protocol number 1-255. */
export type ProtocolValue = string | number;

/** `80`, `"80"`, an inclusive range `"6040:6050"`, or a named port such as `"http"`. */
export type PortValue = number | string;

export interface IcmpMatch {
  readonly type?: number;
  readonly code?: number;
}

export interface ServiceAccountMatch {
  readonly names?: readonly string[];
  readonly selector?: string;
}

export interface EntityRule {
  readonly nets?: readonly string[];
  readonly notNets?: readonly string[];
  readonly selector?: string;
  readonly notSelector?: string;
  readonly namespaceSelector?: string;
  readonly ports?: readonly PortValue[];
  readonly notPorts?: readonly PortValue[];
  readonly serviceAccounts?: ServiceAccountMatch;
  /** Kubernetes Service match: accepted in the model, rejected by PolicySet (not modelled). */
  readonly services?: { readonly name?: string; readonly namespace?: string };
}

export interface Rule {
  readonly action: Action;
  readonly ipVersion?: 4 | 6;
  readonly protocol?: ProtocolValue;
  readonly notProtocol?: ProtocolValue;
  readonly icmp?: IcmpMatch;
  readonly notICMP?: IcmpMatch;
  readonly source?: EntityRule;
  readonly destination?: EntityRule;
  readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> };
  /** Application-layer (HTTP) match: accepted in the model, rejected by PolicySet (not modelled). */
  readonly http?: unknown;
}

export interface PolicySpec {
  readonly tier?: string;
  readonly order?: number;
  readonly selector?: string;
  readonly types?: readonly PolicyType[];
  readonly ingress?: readonly Rule[];
  readonly egress?: readonly Rule[];
  readonly serviceAccountSelector?: string;
  /** GlobalNetworkPolicy only. */
  readonly namespaceSelector?: string;
  readonly doNotTrack?: boolean;
  readonly preDNAT?: boolean;
  readonly applyOnForward?: boolean;
}

/** KubernetesNetworkPolicy is a K8s NetworkPolicy after conversion (see k8s-conversion.ts). */
export type PolicyKind = "NetworkPolicy" | "GlobalNetworkPolicy" | "KubernetesNetworkPolicy";

export interface Policy {
  readonly kind: PolicyKind;
  readonly name: string;
  /** Required for NetworkPolicy and KubernetesNetworkPolicy; absent for GlobalNetworkPolicy. */
  readonly namespace?: string;
  readonly spec: PolicySpec;
}

export interface Tier {
  readonly name: string;
  /** Lower orders run first; absent means after every ordered tier. */
  readonly order?: number;
  /** What happens when no policy in the tier decides: `Deny` (default) or `Pass` to the next tier. */
  readonly defaultAction?: "Deny" | "Pass";
}

export interface Profile {
  readonly name: string;
  readonly ingress?: readonly Rule[];
  readonly egress?: readonly Rule[];
  /** Labels every endpoint using the profile inherits (endpoint labels win on conflict). */
  readonly labelsToApply?: Readonly<Record<string, string>>;
}

export interface NamedPort {
  readonly name: string;
  readonly protocol: ProtocolValue;
  readonly port: number;
}

/** A workload (pod/VM interface) or host endpoint that policy is enforced on. */
export interface Endpoint {
  readonly kind: "workload" | "host";
  readonly name: string;
  readonly namespace?: string;
  readonly node?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Addresses of the endpoint (bare IPs or /32 and /128 prefixes). */
  readonly ips: readonly string[];
  readonly ports?: readonly NamedPort[];
  /** Profiles in order, e.g. `kns.<namespace>`, `ksa.<namespace>.<sa>`. */
  readonly profiles?: readonly string[];
  /** Host endpoints: the node's interface the endpoint is (`*`: every interface). */
  readonly interfaceName?: string;
}

/** NetworkSet (namespaced) or GlobalNetworkSet: labelled CIDRs that rule selectors can match. */
export interface NetworkSet {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly nets: readonly string[];
}

// Well-known labels and prefixes (libcalico-go conversion/constants.go, api v3 labels).
export const LABEL_NAMESPACE = "projectcalico.org/namespace";
export const LABEL_ORCHESTRATOR = "projectcalico.org/orchestrator";
export const LABEL_SERVICE_ACCOUNT = "projectcalico.org/serviceaccount";
export const NAME_LABEL = "projectcalico.org/name";
export const NAMESPACE_LABEL_PREFIX = "pcns.";
export const SERVICE_ACCOUNT_LABEL_PREFIX = "pcsa.";
export const NAMESPACE_PROFILE_PREFIX = "kns.";
export const SERVICE_ACCOUNT_PROFILE_PREFIX = "ksa.";
export const K8S_METADATA_NAME_LABEL = "kubernetes.io/metadata.name";

/** Fixed tier orders Calico uses. */
export const DEFAULT_TIER = "default";
export const DEFAULT_TIER_ORDER = 1_000_000;
export const KUBE_ADMIN_TIER_ORDER = 1_000;
export const KUBE_BASELINE_TIER_ORDER = 10_000_000;
