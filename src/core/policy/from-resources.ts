// Build the policy world from loaded resources (src/core/model): Calico policies, tiers, profiles,
// network sets and endpoints as written, Kubernetes objects as Calico's datastore converter
// presents them (namespaces -> kns.* profiles, pods -> workload endpoints, K8s NetworkPolicy -> knp.default.*).
import { podIPs, type LoadedResources } from "../model/index.ts";
import {
  k8sNetworkPolicyToCalico,
  namespaceToProfile,
  podToEndpoint,
  serviceAccountProfileName,
  serviceAccountToProfile,
  type K8sNetworkPolicy,
} from "./k8s-conversion.ts";
import {
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  LABEL_SERVICE_ACCOUNT,
  NAMESPACE_PROFILE_PREFIX,
  type Endpoint,
  type NetworkSet,
  type Policy,
  type Profile,
} from "./model.ts";
import type { PolicySetInput } from "./policy-set.ts";

/**
 * The PolicySet input for a set of resources. Namespaces that are used (by pods, workload
 * endpoints, network sets or policies) but not declared get a label-less `kns.` profile, as
 * `default` and `kube-system` always exist in a cluster; service accounts named by pods get a
 * `ksa.` profile (the model has no ServiceAccount kind, so they carry only their name label).
 */
// Namespaced resources are defaulted to "default" by the model; read defensively all the same.
const nsOf = (m: { readonly namespace?: unknown }): string => (typeof m.namespace === "string" && m.namespace !== "" ? m.namespace : "default");

// Resources are immutable once loaded: a resource object converted again (the agent keeps the
// entries of unchanged datastore keys) gives the same Policy object, so later comparisons
// (diffPolicies, PolicySet reuse) see it unchanged by identity, without JSON.
const policyOf = new WeakMap<object, Policy>();
function converted(resource: object, convert: () => Policy): Policy {
  let p = policyOf.get(resource);
  if (p === undefined) policyOf.set(resource, (p = convert()));
  return p;
}

export function policyInputFromResources(res: LoadedResources): PolicySetInput {
  const profiles: Profile[] = [...res.list("Profile").map((p) => ({ name: p.metadata.name, ...p.spec }))];
  const declaredNs = new Set<string>();
  for (const ns of res.list("Namespace")) {
    declaredNs.add(ns.metadata.name);
    profiles.push(namespaceToProfile({ name: ns.metadata.name, ...(ns.metadata.labels ? { labels: ns.metadata.labels } : {}) }));
  }
  const usedNs = new Set<string>();
  const serviceAccounts = new Map<string, { name: string; namespace: string }>();

  const policies: Policy[] = [
    ...res.list("NetworkPolicy").map((p) => converted(p, (): Policy => ({ kind: "NetworkPolicy", name: p.metadata.name, namespace: nsOf(p.metadata), spec: p.spec }))),
    ...res.list("GlobalNetworkPolicy").map((p) => converted(p, (): Policy => ({ kind: "GlobalNetworkPolicy", name: p.metadata.name, spec: p.spec }))),
    ...res.list("KubernetesNetworkPolicy").map((p) => converted(p, () => k8sNetworkPolicyToCalico({ metadata: { name: p.metadata.name, namespace: nsOf(p.metadata) }, spec: p.spec as K8sNetworkPolicy["spec"] }))),
  ];
  for (const p of policies) if (p.namespace !== undefined) usedNs.add(p.namespace);

  const endpoints: Endpoint[] = [];
  for (const pod of res.list("Pod")) {
    if (pod.spec.hostNetwork === true) continue; // host-networked pods are not Calico workloads
    const ips = podIPs(pod);
    if (ips.length === 0) continue;
    const namespace = nsOf(pod.metadata);
    usedNs.add(namespace);
    const sa = pod.spec.serviceAccountName;
    if (sa !== undefined && sa !== "") serviceAccounts.set(serviceAccountProfileName(sa, namespace), { name: sa, namespace });
    const ports = pod.spec.containers.flatMap((c) => c.ports.flatMap((p) => (p.name !== undefined ? [{ name: p.name, protocol: p.protocol, port: p.containerPort }] : [])));
    endpoints.push(
      podToEndpoint({
        name: pod.metadata.name,
        namespace,
        ips,
        ...(pod.metadata.labels ? { labels: pod.metadata.labels } : {}),
        ...(pod.spec.nodeName !== undefined ? { node: pod.spec.nodeName } : {}),
        ...(sa !== undefined && sa !== "" ? { serviceAccount: sa } : {}),
        ...(ports.length > 0 ? { ports } : {}),
      }),
    );
  }
  for (const wep of res.list("WorkloadEndpoint")) {
    const namespace = nsOf(wep.metadata);
    usedNs.add(namespace);
    const s = wep.spec;
    // Calico adds these labels to every workload endpoint (workloadendpointprocessor).
    const labels: Record<string, string> = { ...wep.metadata.labels, [LABEL_NAMESPACE]: namespace };
    if (s.orchestrator !== undefined) labels[LABEL_ORCHESTRATOR] = s.orchestrator;
    if (s.serviceAccountName !== undefined) labels[LABEL_SERVICE_ACCOUNT] = s.serviceAccountName;
    endpoints.push({
      kind: "workload",
      name: wep.metadata.name,
      namespace,
      labels,
      ips: s.ipNetworks ?? [],
      ...(s.node !== undefined ? { node: s.node } : {}),
      ...(s.ports ? { ports: s.ports.flatMap((p) => (p.name !== undefined ? [{ name: p.name, protocol: p.protocol, port: p.port }] : [])) } : {}),
      profiles: s.profiles ?? [],
    });
  }
  for (const hep of res.list("HostEndpoint")) {
    endpoints.push({
      kind: "host",
      name: hep.metadata.name,
      ...(hep.metadata.labels ? { labels: hep.metadata.labels } : {}),
      ips: hep.spec.expectedIPs ?? [],
      ...(hep.spec.node !== undefined ? { node: hep.spec.node } : {}),
      ...(hep.spec.interfaceName !== undefined ? { interfaceName: hep.spec.interfaceName } : {}),
      ...(hep.spec.ports ? { ports: hep.spec.ports } : {}),
      profiles: hep.spec.profiles ?? [],
    });
  }

  const networkSets: NetworkSet[] = [
    ...res.list("NetworkSet").map((n) => {
      const namespace = nsOf(n.metadata);
      usedNs.add(namespace);
      return { name: n.metadata.name, namespace, ...(n.metadata.labels ? { labels: n.metadata.labels } : {}), nets: n.spec.nets };
    }),
    ...res.list("GlobalNetworkSet").map((n) => ({ name: n.metadata.name, ...(n.metadata.labels ? { labels: n.metadata.labels } : {}), nets: n.spec.nets })),
  ];

  const declaredProfiles = new Set(profiles.map((p) => p.name));
  for (const ns of [...usedNs].sort()) {
    if (!declaredNs.has(ns) && !declaredProfiles.has(NAMESPACE_PROFILE_PREFIX + ns)) profiles.push(namespaceToProfile({ name: ns }));
  }
  for (const [name, sa] of serviceAccounts) if (!declaredProfiles.has(name)) profiles.push(serviceAccountToProfile(sa));

  return {
    tiers: res.list("Tier").map((t) => ({ name: t.metadata.name, ...(t.spec.order !== undefined ? { order: t.spec.order } : {}), defaultAction: t.spec.defaultAction })),
    policies,
    profiles,
    endpoints,
    networkSets,
  };
}
