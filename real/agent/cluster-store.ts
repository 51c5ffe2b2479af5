// The cluster's BGP and pool resources in the datastore, beside IPAM and policy, as Calico keeps
// IPPools, BGPPeers and the BGPConfiguration in its datastore: whoever manages the cluster (the real
// backend, or an operator) writes them, every agent watches them and reconfigures (peers added and
// removed, routes re-decided with the pools' encapsulation), as the simulator's agents do when a
// scenario applies or deletes one (sim/backend/resources.ts).
//
//   cluster/resources/<Kind>/<name>   one IPPool, BGPPeer or BGPConfiguration as JSON
//   cluster/seeded                    present once the resources were written: from then on the
//                                     datastore, not the agent's topology file, is the truth
//                                     (so deleting every BGPPeer means none, not the file's)
import type { ClusterView } from "../../src/core/agent/cluster.ts";
import { isDatastoreError, type Datastore } from "../../src/core/datastore/port.ts";
import type { AnyResource, BGPConfiguration, BGPPeer, IPPool } from "../../src/core/model/index.ts";
import type { Topology } from "../../src/topology/model.ts";

export const CLUSTER_PREFIX = "cluster/";
export const CLUSTER_RESOURCES_PREFIX = "cluster/resources/";
export const CLUSTER_SEEDED_KEY = "cluster/seeded";

const KINDS = ["IPPool", "BGPPeer", "BGPConfiguration"] as const;
type ClusterKind = (typeof KINDS)[number];

/** IPPool, BGPPeer and BGPConfiguration: the resources that change the agents' cluster view. */
export function isClusterResource(r: AnyResource): boolean {
  return (KINDS as readonly string[]).includes(r.kind);
}

export function clusterResourceKey(r: AnyResource): string {
  const name = (r.metadata as { name?: unknown }).name;
  if (typeof name !== "string" || name === "" || name.includes("/")) throw new Error(`${r.kind}: a cluster resource needs a name without '/' (got ${JSON.stringify(name)})`);
  return `${CLUSTER_RESOURCES_PREFIX}${r.kind}/${name}`;
}

/** Creates or replaces a key (the port has no plain put); retries when another writer got in between. */
export async function putKey(store: Datastore, key: string, value: string): Promise<void> {
  for (let i = 0; ; i++) {
    const cur = await store.get(key);
    try {
      if (cur === undefined) await store.create(key, value);
      else if (cur.value !== value) await store.update(key, value, cur.modRevision);
      return;
    } catch (e) {
      if (i >= 4 || !(isDatastoreError(e, "AlreadyExists") || isDatastoreError(e, "Conflict"))) throw e;
    }
  }
}

export async function putClusterResources(store: Datastore, resources: readonly AnyResource[]): Promise<void> {
  for (const r of resources) await putKey(store, clusterResourceKey(r), JSON.stringify(r));
}

export async function deleteClusterResources(store: Datastore, resources: readonly AnyResource[]): Promise<void> {
  for (const r of resources) {
    await store.delete(clusterResourceKey(r)).catch((e: unknown) => {
      if (!isDatastoreError(e, "NotFound")) throw e;
    });
  }
}

/** The topology's pools, BGPConfiguration and BGPPeers (what the simulator seeds its resources with), then the marker. */
export async function seedCluster(store: Datastore, topology: Topology): Promise<void> {
  await putClusterResources(store, [...topology.cluster.ipPools, topology.cluster.bgpConfiguration, ...topology.cluster.bgpPeers] as AnyResource[]);
  await putKey(store, CLUSTER_SEEDED_KEY, "1");
}

/**
 * The cluster as the datastore has it: `base`'s nodes and tunnel MTU (they come from the topology),
 * pools, BGPConfiguration "default" and BGPPeers from the keys. Undefined when nobody seeded the
 * datastore (an agent run by hand on a topology file keeps the file's view). A key that does not
 * parse is reported through `problem` and left out.
 */
export async function readClusterView(store: Datastore, base: ClusterView, problem: (text: string) => void = () => undefined): Promise<ClusterView | undefined> {
  const { items } = await store.list(CLUSTER_PREFIX);
  if (!items.some((kv) => kv.key === CLUSTER_SEEDED_KEY)) return undefined;
  const byKind: Record<ClusterKind, AnyResource[]> = { IPPool: [], BGPPeer: [], BGPConfiguration: [] };
  for (const kv of items) {
    if (!kv.key.startsWith(CLUSTER_RESOURCES_PREFIX)) continue;
    const kind = kv.key.slice(CLUSTER_RESOURCES_PREFIX.length).split("/")[0] as ClusterKind;
    let r: AnyResource;
    try {
      r = JSON.parse(kv.value) as AnyResource;
    } catch (e) {
      problem(`${kv.key}: not JSON (${e instanceof Error ? e.message : String(e)})`);
      continue;
    }
    if (!KINDS.includes(kind) || r === null || typeof r !== "object" || r.kind !== kind || typeof r.spec !== "object" || r.spec === null) {
      problem(`${kv.key}: not a ${KINDS.includes(kind) ? kind : "cluster resource"} with a spec`);
      continue;
    }
    byKind[kind].push(r);
  }
  const config = byKind.BGPConfiguration.find((c) => c.metadata.name === "default") as BGPConfiguration | undefined;
  return {
    nodes: base.nodes,
    ipPools: byKind.IPPool as IPPool[],
    ...(config !== undefined ? { bgpConfiguration: config } : {}),
    bgpPeers: byKind.BGPPeer as BGPPeer[],
    ...(base.tunnelMTU !== undefined ? { tunnelMTU: base.tunnelMTU } : {}),
  };
}
