// The set of kinds the testbed reads and a queryable collection of loaded resources.
import type * as z from "zod";
import {
  CALICO_API_VERSION,
  calicoSchemas,
  type BGPConfiguration,
  type BGPPeer,
  type CalicoNetworkPolicy,
  type CalicoNode,
  type FelixConfiguration,
  type GlobalNetworkPolicy,
  type GlobalNetworkSet,
  type HostEndpoint,
  type IPAMConfiguration,
  type IPPool,
  type NetworkSet,
  type Profile,
  type Tier,
  type WorkloadEndpoint,
} from "./calico.ts";
import { kubeNetworkPolicySchema, namespaceSchema, podSchema, type KubeNetworkPolicy, type Namespace, type Pod } from "./kubernetes.ts";
import type { SourcePos } from "./problems.ts";
import type { Path } from "./yaml-source.ts";

/**
 * Every kind, keyed by a name unique across API groups. Calico kinds keep their own names; the
 * Kubernetes NetworkPolicy is `KubernetesNetworkPolicy` (Calico's own name for it).
 */
export interface ResourceByKind {
  IPPool: IPPool;
  IPAMConfiguration: IPAMConfiguration;
  BGPConfiguration: BGPConfiguration;
  BGPPeer: BGPPeer;
  Node: CalicoNode;
  Tier: Tier;
  NetworkPolicy: CalicoNetworkPolicy;
  GlobalNetworkPolicy: GlobalNetworkPolicy;
  NetworkSet: NetworkSet;
  GlobalNetworkSet: GlobalNetworkSet;
  Profile: Profile;
  HostEndpoint: HostEndpoint;
  WorkloadEndpoint: WorkloadEndpoint;
  FelixConfiguration: FelixConfiguration;
  Namespace: Namespace;
  Pod: Pod;
  KubernetesNetworkPolicy: KubeNetworkPolicy;
}

export type ResourceKind = keyof ResourceByKind;
export type AnyResource = ResourceByKind[ResourceKind];

export interface KindInfo {
  readonly key: ResourceKind;
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly schema: z.ZodType<unknown>;
}

const calicoNamespaced = new Set(["NetworkPolicy", "NetworkSet", "WorkloadEndpoint"]);

export const KINDS: readonly KindInfo[] = [
  ...Object.entries(calicoSchemas).map(([kind, schema]) => ({
    key: kind as ResourceKind,
    apiVersion: CALICO_API_VERSION,
    kind,
    namespaced: calicoNamespaced.has(kind),
    schema: schema as z.ZodType<unknown>,
  })),
  { key: "Namespace", apiVersion: "v1", kind: "Namespace", namespaced: false, schema: namespaceSchema as z.ZodType<unknown> },
  { key: "Pod", apiVersion: "v1", kind: "Pod", namespaced: true, schema: podSchema as z.ZodType<unknown> },
  { key: "KubernetesNetworkPolicy", apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", namespaced: true, schema: kubeNetworkPolicySchema as z.ZodType<unknown> },
];

export function findKind(apiVersion: unknown, kind: unknown): KindInfo | undefined {
  return KINDS.find((k) => k.apiVersion === apiVersion && k.kind === kind);
}

/** One loaded resource: typed and defaulted, with where it came from. */
export interface ResourceEntry<K extends ResourceKind = ResourceKind> {
  readonly key: K;
  readonly resource: ResourceByKind[K];
  /** Where the resource starts (its document, or its item in a List). */
  readonly source: SourcePos;
  /** The position of a field of this resource, e.g. `at(["spec", "cidr"])` (a function: not serialised). */
  readonly at: (path: Path, options?: { key?: boolean }) => SourcePos;
}

/** Resources from one or more files, queryable by kind. Order is file order. */
export class LoadedResources {
  readonly entries: readonly ResourceEntry[];

  constructor(entries: readonly ResourceEntry[]) {
    this.entries = entries;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Entries of one kind. */
  ofKind<K extends ResourceKind>(key: K): ResourceEntry<K>[] {
    return this.entries.filter((e): e is ResourceEntry<K> => e.key === key);
  }

  /** Resources of one kind. */
  list<K extends ResourceKind>(key: K): ResourceByKind[K][] {
    return this.ofKind(key).map((e) => e.resource);
  }

  /** The resource of a kind by name (and namespace for namespaced kinds). */
  get<K extends ResourceKind>(key: K, name: string, namespace?: string): ResourceByKind[K] | undefined {
    return this.ofKind(key).find((e) => {
      const m = e.resource.metadata as { name: string; namespace?: string };
      return m.name === name && (namespace === undefined || m.namespace === namespace);
    })?.resource;
  }

  get ipPools(): IPPool[] {
    return this.list("IPPool");
  }
  /** The IPAMConfiguration "default", if given. */
  get ipamConfig(): IPAMConfiguration | undefined {
    return this.list("IPAMConfiguration")[0];
  }
  /** The global BGPConfiguration "default", if given. */
  get bgpConfig(): BGPConfiguration | undefined {
    return this.get("BGPConfiguration", "default");
  }
  get pods(): Pod[] {
    return this.list("Pod");
  }
  get namespaces(): Namespace[] {
    return this.list("Namespace");
  }

  /** Both collections, in order. */
  concat(other: LoadedResources): LoadedResources {
    return new LoadedResources([...this.entries, ...other.entries]);
  }

  /** Plain data (kind key, resource, source) for printing. */
  toJSON(): { kind: ResourceKind; resource: AnyResource; source: SourcePos }[] {
    return this.entries.map((e) => ({ kind: e.key, resource: e.resource, source: e.source }));
  }
}

/** "IPPool default-ipv4-ippool" or "Pod web/nginx" (namespace/name for namespaced kinds). */
export function describeEntry(e: ResourceEntry): string {
  const m = e.resource.metadata as { name: string; namespace?: string };
  return `${e.key} ${m.namespace !== undefined ? `${m.namespace}/` : ""}${m.name}`;
}
