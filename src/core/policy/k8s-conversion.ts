// Kubernetes objects in Calico's terms, converted the way libcalico-go does it
// (lib/backend/k8s/conversion): NetworkPolicy -> Calico policy in the default tier at order 1000,
// Namespace -> `kns.<ns>` allow-all profile carrying `pcns.*` labels, ServiceAccount -> `ksa.<ns>.<sa>`
// label profile, Pod -> workload endpoint with Calico's implicit labels.
import { formatPrefix, parsePrefix } from "../net/ip.ts";
import {
  DEFAULT_TIER,
  K8S_METADATA_NAME_LABEL,
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  LABEL_SERVICE_ACCOUNT,
  NAME_LABEL,
  NAMESPACE_LABEL_PREFIX,
  NAMESPACE_PROFILE_PREFIX,
  SERVICE_ACCOUNT_LABEL_PREFIX,
  SERVICE_ACCOUNT_PROFILE_PREFIX,
  type Endpoint,
  type NamedPort,
  type Policy,
  type PolicyType,
  type PortValue,
  type Profile,
  type Rule,
} from "./model.ts";
import { formatPort, parsePort, type PortMatch } from "./protocols.ts";

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export interface K8sNetworkPolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
}

export interface K8sNetworkPolicyPort {
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly port?: number | string;
  readonly endPort?: number;
}

export interface K8sNetworkPolicy {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec: {
    readonly podSelector?: LabelSelector;
    readonly policyTypes?: readonly PolicyType[];
    readonly ingress?: readonly { readonly from?: readonly K8sNetworkPolicyPeer[]; readonly ports?: readonly K8sNetworkPolicyPort[] }[];
    readonly egress?: readonly { readonly to?: readonly K8sNetworkPolicyPeer[]; readonly ports?: readonly K8sNetworkPolicyPort[] }[];
  };
}

export class K8sConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "K8sConversionError";
  }
}

/** Name prefix of converted K8s policies (kube-controllers KubernetesNetworkPolicyEtcdPrefix). */
export const K8S_POLICY_NAME_PREFIX = "knp.default.";
export const K8S_POLICY_ORDER = 1000;

/**
 * A K8s label selector as Calico selector text. Pod selectors always start with
 * `projectcalico.org/orchestrator == 'k8s'`; an empty namespace selector means every namespace (`all()`).
 */
export function k8sSelectorToCalico(s: LabelSelector | undefined, type: "pod" | "namespace"): string {
  const parts: string[] = type === "pod" ? [`${LABEL_ORCHESTRATOR} == 'k8s'`] : [];
  if (s === undefined) return parts.join(" && ");
  const labels = s.matchLabels ?? {};
  const exprs = s.matchExpressions ?? [];
  if (type === "namespace" && Object.keys(labels).length === 0 && exprs.length === 0) return "all()";
  for (const k of Object.keys(labels).sort(byteOrder)) parts.push(`${k} == '${labels[k]}'`);
  for (const e of exprs) {
    const values = (e.values ?? []).join("', '");
    switch (e.operator) {
      case "In":
        parts.push(`${e.key} in { '${values}' }`);
        break;
      case "NotIn":
        parts.push(`${e.key} not in { '${values}' }`);
        break;
      case "Exists":
        parts.push(`has(${e.key})`);
        break;
      case "DoesNotExist":
        parts.push(`! has(${e.key})`);
        break;
    }
  }
  return parts.join(" && ");
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Coalesce numeric ports into minimal ranges; named ports first, in input order (SimplifyPorts). */
export function simplifyPorts(ports: readonly PortMatch[]): PortMatch[] {
  if (ports.length <= 1) return [...ports];
  const named = ports.filter((p) => p.kind === "named");
  const numeric: number[] = [];
  for (const p of ports) if (p.kind === "range") for (let i = p.min; i <= p.max; i++) numeric.push(i);
  if (numeric.length <= 1) return [...ports];
  numeric.sort((a, b) => a - b);
  const out: PortMatch[] = [...named];
  let i = 0;
  while (i < numeric.length) {
    const first = numeric[i]!;
    let last = first;
    i++;
    while (i < numeric.length && numeric[i]! <= last + 1) last = numeric[i++]!;
    out.push({ kind: "range", min: first, max: last });
  }
  return out;
}

function convertPeer(peer: K8sNetworkPolicyPeer | undefined): {
  selector?: string;
  namespaceSelector?: string;
  nets?: string[];
  notNets?: string[];
} {
  if (peer === undefined) return {};
  if (peer.ipBlock !== undefined) {
    const norm = (cidr: string): string => {
      try {
        return formatPrefix(parsePrefix(cidr, { strict: false }));
      } catch {
        throw new K8sConversionError(`invalid ipBlock CIDR "${cidr}"`);
      }
    };
    const notNets = (peer.ipBlock.except ?? []).map(norm);
    return { nets: [norm(peer.ipBlock.cidr)], ...(notNets.length > 0 ? { notNets } : {}) };
  }
  const nsSel = k8sSelectorToCalico(peer.namespaceSelector, "namespace");
  return {
    selector: k8sSelectorToCalico(peer.podSelector, "pod"),
    ...(nsSel !== "" ? { namespaceSelector: nsSel } : {}),
  };
}

function convertRules(
  peers: readonly K8sNetworkPolicyPeer[] | undefined,
  ports: readonly K8sNetworkPolicyPort[] | undefined,
  ingress: boolean,
): Rule[] {
  // protocol ("" = any) -> ports (undefined = all ports of that protocol)
  const byProtocol = new Map<string, PortMatch[] | undefined>();
  if (ports === undefined || ports.length === 0) {
    byProtocol.set("", undefined);
  } else {
    for (const p of ports) {
      const protocol = p.protocol ?? "TCP"; // the K8s default, made explicit as Calico does
      if (p.port === undefined) {
        byProtocol.set(protocol, undefined);
        continue;
      }
      const text = p.endPort !== undefined ? `${p.port}:${p.endPort}` : String(p.port);
      const parsed = parsePort(text);
      if (parsed === undefined) throw new K8sConversionError(`invalid port "${text}"`);
      if (!byProtocol.has(protocol)) byProtocol.set(protocol, [parsed]);
      else byProtocol.get(protocol)?.push(parsed); // undefined (all ports) stays all ports
    }
  }
  const peerList: (K8sNetworkPolicyPeer | undefined)[] = peers !== undefined && peers.length > 0 ? [...peers] : [undefined];
  const rules: Rule[] = [];
  for (const protocol of [...byProtocol.keys()].sort(byteOrder)) {
    const portList = byProtocol.get(protocol);
    const calicoPorts: PortValue[] | undefined = portList && simplifyPorts(portList).map(formatPort);
    for (const peer of peerList) {
      const entity = convertPeer(peer);
      const portField = calicoPorts !== undefined ? { ports: calicoPorts } : {};
      rules.push({
        action: "Allow",
        ...(protocol !== "" ? { protocol } : {}),
        ...(ingress
          ? { source: entity, destination: portField }
          : { source: {}, destination: { ...portField, ...entity } }),
      });
    }
  }
  return rules;
}

/**
 * Convert a K8s NetworkPolicy exactly as Calico does (K8sNetworkPolicyToCalico). Calico sees the
 * object as the API server stored it, with `policyTypes` already defaulted (Ingress, plus Egress
 * when there are egress rules); the model loader applies that default, this function does not.
 */
export function k8sNetworkPolicyToCalico(np: K8sNetworkPolicy): Policy {
  const namespace = np.metadata.namespace ?? "default";
  const ingress = (np.spec.ingress ?? []).flatMap((r) => convertRules(r.from, r.ports, true));
  const egress = (np.spec.egress ?? []).flatMap((r) => convertRules(r.to, r.ports, false));
  const declared = new Set(np.spec.policyTypes ?? []);
  const types: PolicyType[] = [];
  if (declared.has("Ingress")) types.push("Ingress");
  if (declared.has("Egress")) types.push("Egress");
  if (types.length === 0) types.push("Ingress"); // no policyTypes: ingress only, as K8s defines
  return {
    kind: "KubernetesNetworkPolicy",
    name: K8S_POLICY_NAME_PREFIX + np.metadata.name,
    namespace,
    spec: {
      tier: DEFAULT_TIER,
      order: K8S_POLICY_ORDER,
      selector: k8sSelectorToCalico(np.spec.podSelector ?? {}, "pod"),
      types,
      ...(ingress.length > 0 ? { ingress } : {}),
      ...(egress.length > 0 ? { egress } : {}),
    },
  };
}

export interface K8sNamespace {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The namespace's labels as the API server stores them: Kubernetes (1.21+) always sets
 * `kubernetes.io/metadata.name` to the namespace name.
 */
export function k8sNamespaceLabels(ns: K8sNamespace): Record<string, string> {
  return { ...ns.labels, [K8S_METADATA_NAME_LABEL]: ns.name };
}

/** `kns.<ns>`: allow-all ingress and egress, and `pcns.`-prefixed namespace labels for endpoints. */
export function namespaceToProfile(ns: K8sNamespace): Profile {
  const labelsToApply: Record<string, string> = {};
  for (const [k, v] of Object.entries(k8sNamespaceLabels(ns))) labelsToApply[NAMESPACE_LABEL_PREFIX + k] = v;
  labelsToApply[NAMESPACE_LABEL_PREFIX + NAME_LABEL] = ns.name;
  return {
    name: NAMESPACE_PROFILE_PREFIX + ns.name,
    ingress: [{ action: "Allow" }],
    egress: [{ action: "Allow" }],
    labelsToApply,
  };
}

export interface K8sServiceAccount {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export const serviceAccountProfileName = (sa: string, namespace = "default"): string =>
  `${SERVICE_ACCOUNT_PROFILE_PREFIX}${namespace}.${sa}`;

/** `ksa.<ns>.<sa>`: no rules, only `pcsa.`-prefixed labels. */
export function serviceAccountToProfile(sa: K8sServiceAccount): Profile {
  const labelsToApply: Record<string, string> = {};
  for (const [k, v] of Object.entries(sa.labels ?? {})) labelsToApply[SERVICE_ACCOUNT_LABEL_PREFIX + k] = v;
  labelsToApply[SERVICE_ACCOUNT_LABEL_PREFIX + NAME_LABEL] = sa.name;
  return { name: serviceAccountProfileName(sa.name, sa.namespace), labelsToApply };
}

export interface K8sPod {
  readonly name: string;
  readonly namespace?: string;
  readonly node?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ips: readonly string[];
  readonly serviceAccount?: string;
  /** Container ports that have a name (named ports). */
  readonly ports?: readonly NamedPort[];
}

/** A pod's workload endpoint: pod labels plus Calico's namespace/orchestrator/SA labels and profiles. */
export function podToEndpoint(pod: K8sPod): Endpoint {
  const namespace = pod.namespace ?? "default";
  const labels: Record<string, string> = { ...pod.labels, [LABEL_NAMESPACE]: namespace, [LABEL_ORCHESTRATOR]: "k8s" };
  const profiles = [NAMESPACE_PROFILE_PREFIX + namespace];
  if (pod.serviceAccount !== undefined && pod.serviceAccount !== "") {
    labels[LABEL_SERVICE_ACCOUNT] = pod.serviceAccount;
    profiles.push(serviceAccountProfileName(pod.serviceAccount, namespace));
  }
  return {
    kind: "workload",
    name: pod.name,
    namespace,
    ...(pod.node !== undefined ? { node: pod.node } : {}),
    labels,
    ips: pod.ips,
    ...(pod.ports !== undefined ? { ports: pod.ports } : {}),
    profiles,
  };
}
