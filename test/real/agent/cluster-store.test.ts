// The cluster's pools and BGP resources in the datastore (real/agent/cluster-store.ts): seeded from a
// topology, changed and deleted one by one, read back as the agents' cluster view.
import { describe, expect, test } from "@jest/globals";
import { MemoryDatastore } from "../../../src/core/datastore/memory.ts";
import type { AnyResource } from "../../../src/core/model/index.ts";
import { parseTopology } from "../../../src/topology/index.ts";
import { topologyClusterView } from "../../../src/topology/peerings.ts";
import { CLUSTER_RESOURCES_PREFIX, clusterResourceKey, deleteClusterResources, isClusterResource, putClusterResources, readClusterView, seedCluster } from "../../../real/agent/cluster-store.ts";

const TOPOLOGY = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: cs }
segments:
  - { name: lan, subnet: 192.168.9.0/24 }
nodes:
  - { name: node-1, segment: lan, address: 192.168.9.1/24 }
  - { name: node-2, segment: lan, address: 192.168.9.2/24 }
cluster:
  podCIDR: 10.9.0.0/16
  encapsulation: { type: vxlan, mode: CrossSubnet }
  tunnelMTU: 1400
  bgpPeers:
    - metadata: { name: tor }
      spec: { node: node-1, peerIP: 192.168.9.2, asNumber: 64512 }
`;
const topology = parseTopology(TOPOLOGY, "t.yaml", { readFile: () => "" }).topology!;
const base = topologyClusterView(topology);
const peer = (name: string, peerIP: string): AnyResource => ({ apiVersion: "projectcalico.org/v3", kind: "BGPPeer", metadata: { name }, spec: { peerIP, asNumber: 65001 } }) as AnyResource;

describe("cluster resources in the datastore", () => {
  test("an unseeded datastore gives no view (the agent keeps its topology file's)", async () => {
    const store = new MemoryDatastore();
    await putClusterResources(store, [peer("x", "192.168.9.250")]);
    expect(await readClusterView(store, base)).toBeUndefined();
  });

  test("seeded with the topology's pools, BGPConfiguration and peers; nodes and tunnel MTU from the base view", async () => {
    const store = new MemoryDatastore();
    await seedCluster(store, topology);
    const v = (await readClusterView(store, base))!;
    expect(v.nodes).toBe(base.nodes);
    expect(v.tunnelMTU).toBe(1400);
    expect(v.ipPools.map((p) => (p as { spec: { cidr: string; vxlanMode?: string } }).spec)).toEqual([expect.objectContaining({ cidr: "10.9.0.0/16", vxlanMode: "CrossSubnet" })]);
    expect(v.bgpPeers?.map((p) => p.metadata.name)).toEqual(["tor"]);
    expect(v.bgpConfiguration?.spec).toEqual(topology.cluster.bgpConfiguration.spec);
    // Seeding twice changes nothing (the backend may restart agents on a seeded store).
    const rev = await store.revision();
    await seedCluster(store, topology);
    expect(await store.revision()).toBe(rev);
  });

  test("apply replaces by kind and name, delete removes; deleting every peer means none, not the file's", async () => {
    const store = new MemoryDatastore();
    await seedCluster(store, topology);
    const pool = { ...topology.cluster.ipPools[0]!, spec: { ...topology.cluster.ipPools[0]!.spec, vxlanMode: "Always" } } as AnyResource;
    await putClusterResources(store, [pool, peer("rr", "192.168.9.253")]);
    let v = (await readClusterView(store, base))!;
    expect(v.ipPools).toHaveLength(1);
    expect((v.ipPools[0] as { spec: { vxlanMode: string } }).spec.vxlanMode).toBe("Always");
    expect(v.bgpPeers?.map((p) => p.metadata.name)).toEqual(["rr", "tor"]);
    await deleteClusterResources(store, [peer("rr", ""), topology.cluster.bgpPeers[0] as AnyResource, peer("never-there", "")]);
    await deleteClusterResources(store, [topology.cluster.bgpConfiguration as AnyResource]);
    v = (await readClusterView(store, base))!;
    expect(v.bgpPeers).toEqual([]);
    expect(v.bgpConfiguration).toBeUndefined();
  });

  test("a key that does not hold a cluster resource is reported and left out", async () => {
    const store = new MemoryDatastore();
    await seedCluster(store, topology);
    await store.create(`${CLUSTER_RESOURCES_PREFIX}BGPPeer/broken`, "{not json");
    await store.create(`${CLUSTER_RESOURCES_PREFIX}BGPPeer/wrong-kind`, JSON.stringify({ kind: "IPPool", metadata: { name: "wrong-kind" }, spec: {} }));
    const problems: string[] = [];
    const v = (await readClusterView(store, base, (p) => problems.push(p)))!;
    expect(v.bgpPeers?.map((p) => p.metadata.name)).toEqual(["tor"]);
    expect(problems).toEqual([expect.stringContaining("BGPPeer/broken: not JSON"), expect.stringContaining("BGPPeer/wrong-kind: not a BGPPeer")]);
  });

  test("which kinds are cluster resources; names with '/' are refused", () => {
    expect(isClusterResource(peer("a", "1.2.3.4"))).toBe(true);
    expect(isClusterResource({ apiVersion: "projectcalico.org/v3", kind: "NetworkPolicy", metadata: { name: "p", namespace: "d" }, spec: {} } as unknown as AnyResource)).toBe(false);
    expect(clusterResourceKey(peer("a", "1.2.3.4"))).toBe(`${CLUSTER_RESOURCES_PREFIX}BGPPeer/a`);
    expect(() => clusterResourceKey(peer("a/b", "1.2.3.4"))).toThrow(/without '\/'/);
  });
});
