import { describe, expect, test } from "@jest/globals";
import { checkIpam, Ipam } from "../../../src/core/ipam/index.ts";
import { parsePrefix } from "../../../src/core/net/ip.ts";
import { newStore } from "./helpers.ts";

const POOL = { name: "default-ipv4-ippool", cidr: "10.1.0.0/16", vxlanMode: "Always" as const };

async function cluster() {
  const ds = newStore();
  const ipam = new Ipam(ds, { pools: [POOL] });
  await ipam.assignTunnelAddress("node-1", "vxlan");
  await ipam.assignTunnelAddress("node-2", "vxlan");
  const a = await ipam.autoAssign({ host: "node-1", handleId: "k8s-pod-network.a", num4: 1, attrs: { namespace: "default", pod: "a" } });
  const b = await ipam.autoAssign({ host: "node-2", handleId: "k8s-pod-network.b", num4: 1, attrs: { namespace: "default", pod: "b" } });
  return { ds, ipam, a: a.ipv4[0]!, b: b.ipv4[0]! };
}

describe("checkIpam", () => {
  test("a consistent store with everything live is ok", async () => {
    const { ds } = await cluster();
    const r = await checkIpam(ds, { liveHandles: ["k8s-pod-network.a", "k8s-pod-network.b"], liveNodes: ["node-1", "node-2"] });
    expect(r.ok).toBe(true);
    expect(r.summary).toEqual({ blocks: 2, allocations: 4, handles: 4, affinities: 2, leaked: 0, problems: 0 });
  });

  test("leaked addresses: handles, pods and nodes that are gone", async () => {
    const { ds, b } = await cluster();
    const byHandle = await checkIpam(ds, { liveHandles: ["k8s-pod-network.a"] });
    expect(byHandle.ok).toBe(false);
    expect(byHandle.leaked).toEqual([
      { address: b, block: expect.any(String), handleId: "k8s-pod-network.b", node: "node-2", pod: "b", namespace: "default", reason: "handle k8s-pod-network.b is not live" },
    ]);
    const byPod = await checkIpam(ds, { liveWorkloads: [{ namespace: "default", pod: "a" }] });
    expect(byPod.leaked.map((l) => l.reason)).toEqual(["pod default/b is not running"]);
    const byNode = await checkIpam(ds, { liveNodes: ["node-1"] });
    expect(byNode.leaked.map((l) => l.reason).sort()).toEqual(["node node-2 does not exist", "tunnel address of node node-2, which does not exist"]);
  });

  test("handle mismatches: wrong count, missing block, missing handle record", async () => {
    const { ds } = await cluster();
    const hb = await ds.get("/calico/ipam/v2/handle/k8s-pod-network.b");
    const cidrB = Object.keys(JSON.parse(hb!.value).block)[0]!;
    await ds.update(hb!.key, JSON.stringify({ block: { [cidrB]: 3, "10.1.255.0/26": 1 }, deleted: false }), hb!.modRevision);
    await ds.delete("/calico/ipam/v2/handle/k8s-pod-network.a");
    const r = await checkIpam(ds);
    expect(r.ok).toBe(false);
    expect(r.handleMismatches).toEqual(
      expect.arrayContaining([
        { handleId: "k8s-pod-network.b", block: cidrB, recorded: 3, actual: 1, problem: "count" },
        { handleId: "k8s-pod-network.b", block: "10.1.255.0/26", recorded: 1, actual: 0, problem: "missingBlock" },
        { handleId: "k8s-pod-network.a", block: expect.any(String), recorded: 0, actual: 1, problem: "missingHandle" },
      ]),
    );
    expect(r.handleMismatches).toHaveLength(3);
  });

  test("affinities without blocks, stale affinities, and blocks without affinity", async () => {
    const { ds, ipam } = await cluster();
    await ds.create("/calico/ipam/v2/host/node-9/ipv4/block/10.1.254.0-26", `{"state":"pending","deleted":false}`);
    const [block1] = await ipam.affineBlocks("node-1");
    await ds.create(`/calico/ipam/v2/host/node-2/ipv4/block/${block1!.replace("/", "-")}`, `{"state":"confirmed","deleted":false}`);
    const [block2] = await ipam.affineBlocks("node-2").then((bs) => bs.filter((b) => b !== block1));
    await ipam.releaseBlockAffinity("node-2", parsePrefix(block2!)); // in use: becomes a block without affinity
    const r = await checkIpam(ds);
    expect(r.affinitiesWithoutBlocks).toEqual([{ host: "node-9", cidr: "10.1.254.0/26", state: "pending" }]);
    expect(r.affinityMismatches).toEqual([{ host: "node-2", cidr: block1, blockAffinity: "host:node-1" }]);
    expect(r.blocksWithoutAffinity).toEqual([{ cidr: block2, inUse: 2, empty: false }]);
    expect(r.summary.problems).toBe(2); // a non-affine block still holding addresses is normal (borrowed)
  });
});
