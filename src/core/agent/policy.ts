// The PolicySet a node enforces: the cluster's policies plus an endpoint for every pod of the cluster
// (selectors in rules must resolve pods on other nodes too), as Felix sees the whole cluster.
import type { LoadedResources } from "../model/resources.ts";
import { policyInputFromResources } from "../policy/from-resources.ts";
import { namespaceToProfile, podToEndpoint, type K8sPod } from "../policy/k8s-conversion.ts";
import { NAMESPACE_PROFILE_PREFIX, type Endpoint, type Profile } from "../policy/model.ts";
import { PolicySet, type PolicySetInput } from "../policy/policy-set.ts";

const isLoaded = (r: LoadedResources | PolicySetInput): r is LoadedResources => typeof (r as { list?: unknown }).list === "function";

/**
 * The PolicySet for `resources` (loaded Calico/Kubernetes resources, or a ready PolicySetInput) with
 * a workload endpoint for each pod the agents run (`podToEndpoint`: pod labels plus Calico's namespace
 * and orchestrator labels, profile kns.<namespace>). Pods already present as endpoints (a Pod or
 * WorkloadEndpoint resource of the same namespace/name) are not added twice; namespaces without a
 * profile get a label-less kns.<namespace> one, as `default` always exists in a cluster.
 */
export function policySetFor(resources: LoadedResources | PolicySetInput, pods: readonly K8sPod[], options: { readonly reuse?: PolicySet } = {}): PolicySet {
  const base: PolicySetInput = isLoaded(resources) ? policyInputFromResources(resources) : resources;
  const endpoints: Endpoint[] = [...(base.endpoints ?? [])];
  const have = new Set(endpoints.filter((e) => e.kind === "workload").map((e) => `${e.namespace ?? "default"}/${e.name}`));
  for (const pod of pods) {
    const key = `${pod.namespace ?? "default"}/${pod.name}`;
    if (have.has(key)) continue;
    have.add(key);
    endpoints.push(podToEndpoint(pod));
  }
  const profiles: Profile[] = [...(base.profiles ?? [])];
  const named = new Set(profiles.map((p) => p.name));
  const namespaces = [...new Set(pods.map((p) => p.namespace ?? "default"))].sort();
  for (const ns of namespaces) {
    if (!named.has(NAMESPACE_PROFILE_PREFIX + ns)) profiles.push(namespaceToProfile({ name: ns }));
  }
  // `reuse`: the node's previous set, whose compiled policies are kept where unchanged.
  return new PolicySet({ ...base, endpoints, profiles }, options);
}
