// The cluster's resources as the scenario applies and deletes them (the simulated API server): one
// object per kind/namespace/name, a later apply replacing an earlier one. Seeded with the topology's
// pools, BGPConfiguration and BGPPeers, so a scenario can change or delete those too. It tells what
// a change touched (policy, or the agents' cluster view) and builds that view.
import { LoadedResources, findKind, type AnyResource, type ResourceEntry, type ResourceKind } from "../../src/core/model/index.ts";
import type { ClusterView } from "../../src/core/agent/index.ts";
import type { BGPConfiguration, BGPPeer, IPPool } from "../../src/core/model/index.ts";
import type { Topology } from "../../src/topology/model.ts";

/** Kinds that change what nodes enforce (the PolicySet). */
const POLICY_KINDS: ReadonlySet<ResourceKind> = new Set<ResourceKind>([
  "Tier",
  "NetworkPolicy",
  "GlobalNetworkPolicy",
  "KubernetesNetworkPolicy",
  "NetworkSet",
  "GlobalNetworkSet",
  "Profile",
  "Namespace",
  "HostEndpoint",
  "WorkloadEndpoint",
  "Pod",
]);
/** Kinds that change the agents' BGP or IPAM configuration. */
const CLUSTER_KINDS: ReadonlySet<ResourceKind> = new Set<ResourceKind>(["BGPPeer", "BGPConfiguration", "IPPool", "IPAMConfiguration", "Node", "FelixConfiguration"]);

export interface ResourceChange {
  policy: boolean;
  cluster: boolean;
  kinds: ResourceKind[];
}

const ORIGIN = { file: "<scenario>", line: 0, column: 0 };

export function kindOf(r: AnyResource): ResourceKind {
  const info = findKind(r.apiVersion, r.kind);
  if (info === undefined) throw new Error(`unknown resource kind ${String(r.apiVersion)}/${String(r.kind)}`);
  return info.key;
}

function keyOf(kind: ResourceKind, r: AnyResource): string {
  const m = r.metadata as { name: string; namespace?: string };
  return `${kind}\u0000${m.namespace ?? ""}\u0000${m.name}`;
}

export class ClusterResources {
  private readonly byKey = new Map<string, { kind: ResourceKind; resource: AnyResource }>();

  apply(resources: readonly AnyResource[]): ResourceChange {
    const kinds = new Set<ResourceKind>();
    for (const r of resources) {
      const kind = kindOf(r);
      this.byKey.set(keyOf(kind, r), { kind, resource: r });
      kinds.add(kind);
    }
    return summarize(kinds);
  }

  delete(resources: readonly AnyResource[]): ResourceChange {
    const kinds = new Set<ResourceKind>();
    for (const r of resources) {
      const kind = kindOf(r);
      if (this.byKey.delete(keyOf(kind, r))) kinds.add(kind);
    }
    return summarize(kinds);
  }

  /** A copy, to roll back to when an apply turns out to be unusable. */
  snapshot(): Map<string, { kind: ResourceKind; resource: AnyResource }> {
    return new Map(this.byKey);
  }

  restore(snapshot: Map<string, { kind: ResourceKind; resource: AnyResource }>): void {
    this.byKey.clear();
    for (const [k, v] of snapshot) this.byKey.set(k, v);
  }

  /** Applied resources of one kind, in application order. */
  list<K extends ResourceKind>(kind: K): AnyResource[] {
    return [...this.byKey.values()].filter((e) => e.kind === kind).map((e) => e.resource);
  }

  loaded(): LoadedResources {
    const entries: ResourceEntry[] = [...this.byKey.values()].map((e) => ({ key: e.kind, resource: e.resource, source: ORIGIN, at: () => ORIGIN }) as ResourceEntry);
    return new LoadedResources(entries);
  }

  /** The cluster as the agents see it: the topology's nodes and tunnel MTU, pools and BGP resources as applied. */
  clusterView(topology: Topology): ClusterView {
    const config = this.list("BGPConfiguration").find((c) => c.metadata.name === "default") as BGPConfiguration | undefined;
    return {
      nodes: topology.nodes,
      ipPools: this.list("IPPool") as IPPool[],
      ...(config ? { bgpConfiguration: config } : {}),
      bgpPeers: this.list("BGPPeer") as BGPPeer[],
      tunnelMTU: topology.cluster.tunnelMTU,
    };
  }
}

function summarize(kinds: Set<ResourceKind>): ResourceChange {
  const list = [...kinds].sort();
  return { policy: list.some((k) => POLICY_KINDS.has(k)), cluster: list.some((k) => CLUSTER_KINDS.has(k)), kinds: list };
}
