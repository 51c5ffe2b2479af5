import { describe, expect, test } from "@jest/globals";
import { Ipam, tunnelHandle } from "../../../src/core/ipam/index.ts";
import { parsePrefix } from "../../../src/core/net/ip.ts";
import { json, newStore } from "./helpers.ts";

const POOL = { name: "default-ipv4-ippool", cidr: "10.1.0.0/16" };

describe("release", () => {
  test("release then allocate reuses the longest-free address (FIFO free list)", async () => {
    const ipam = new Ipam(newStore(), { pools: [{ name: "one", cidr: "10.8.0.0/26" }] });
    const ips: string[] = [];
    for (let i = 0; i < 64; i++) ips.push(...(await ipam.autoAssign({ host: "node-1", handleId: `h${i}`, num4: 1 })).ipv4);
    expect(ips[0]).toBe("10.8.0.0");
    await ipam.releaseByHandle("h10");
    await ipam.releaseByHandle("h5");
    await ipam.releaseAddresses(["10.8.0.40"]);
    const next = [];
    for (let i = 0; i < 3; i++) next.push(...(await ipam.autoAssign({ host: "node-1", handleId: `again${i}`, num4: 1 })).ipv4);
    expect(next).toEqual(["10.8.0.10", "10.8.0.5", "10.8.0.40"]);
  });

  test("in a partly used block, never-used addresses have been free longest and come before released ones", async () => {
    const ipam = new Ipam(newStore(), { pools: [{ name: "one", cidr: "10.8.0.0/26" }] });
    const a = (await ipam.autoAssign({ host: "node-1", handleId: "a", num4: 3 })).ipv4;
    expect(a).toEqual(["10.8.0.0", "10.8.0.1", "10.8.0.2"]);
    await ipam.releaseAddresses(["10.8.0.1"]);
    expect((await ipam.autoAssign({ host: "node-1", handleId: "b", num4: 1 })).ipv4).toEqual(["10.8.0.3"]);
  });

  test("release by handle frees all its addresses and deletes the handle record", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools: [POOL] });
    const got = await ipam.autoAssign({ host: "node-1", handleId: "k8s-pod-network.x", num4: 3 });
    expect(await ipam.addressesByHandle("k8s-pod-network.x")).toEqual(got.ipv4);
    const r = await ipam.releaseByHandle("k8s-pod-network.x");
    expect(r.released.sort()).toEqual([...got.ipv4].sort());
    expect(await ds.get("/calico/ipam/v2/handle/k8s-pod-network.x")).toBeUndefined();
    expect((await ipam.lookup(got.ipv4[0]!)).allocated).toBe(false);
    expect((await ipam.releaseByHandle("k8s-pod-network.x")).released).toEqual([]);
  });

  test("release by address decrements the handle; a wrong handle is refused and nothing changes", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools: [POOL] });
    const got = (await ipam.autoAssign({ host: "node-1", handleId: "h", num4: 2 })).ipv4;
    await expect(ipam.releaseAddresses([{ address: got[0]!, handleId: "someone-else" }])).rejects.toThrow(/not assigned to handle someone-else/);
    expect((await ipam.lookup(got[0]!)).allocated).toBe(true);
    const r = await ipam.releaseAddresses([{ address: got[0]!, handleId: "h" }, "10.1.200.1"]);
    expect(r.released).toEqual([got[0]]);
    expect(r.notAllocated).toEqual(["10.1.200.1"]);
    const [block] = await ipam.affineBlocks("node-1");
    expect(await json(ds, "/calico/ipam/v2/handle/h")).toEqual({ block: { [block!]: 1 }, deleted: false });
  });

  test("lookup of addresses IPAM holds nothing for", async () => {
    const ipam = new Ipam(newStore(), { pools: [POOL] });
    expect(await ipam.lookup("10.1.2.3")).toEqual({
      address: "10.1.2.3",
      block: null,
      blockHost: null,
      allocated: false,
      handleId: null,
      attributes: {},
      sequenceNumber: null,
      borrowed: false,
    });
    const ip = (await ipam.autoAssign({ host: "node-1", handleId: "h", num4: 1 })).ipv4[0]!;
    const [block] = await ipam.affineBlocks("node-1");
    const neighbour = ip.replace(/\d+$/, (d) => String(Number(d) + 1));
    expect(await ipam.lookup(neighbour)).toMatchObject({ allocated: false, block, blockHost: "node-1" });
    await expect(ipam.lookup("10.1.2")).rejects.toMatchObject({ code: "InvalidArgument" });
  });

  test("an address outside every pool is found by scanning blocks (or reported unallocated)", async () => {
    let pools = [POOL];
    const ipam = new Ipam(newStore(), { pools: () => pools });
    const ip = (await ipam.autoAssign({ host: "node-1", handleId: "h", num4: 1 })).ipv4[0]!;
    pools = [{ name: "other", cidr: "10.9.0.0/16" }];
    expect((await ipam.releaseAddresses([ip, "192.168.1.1"])).notAllocated).toEqual(["192.168.1.1"]);
    expect((await ipam.lookup(ip)).allocated).toBe(false);
  });
});

describe("block affinity release", () => {
  test("releasing affinity of an empty block deletes block and affinity; a block in use is kept", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools: [POOL] });
    await ipam.autoAssign({ host: "node-1", handleId: "a", num4: 64 });
    await ipam.autoAssign({ host: "node-1", handleId: "b", num4: 1 });
    const blocks = await ipam.affineBlocks("node-1");
    expect(blocks).toHaveLength(2);
    await ipam.releaseByHandle("b");
    const released = await ipam.releaseHostAffinities("node-1");
    expect(released).toHaveLength(1);
    const left = await ipam.affineBlocks("node-1");
    expect(left).toHaveLength(1);
    expect((await ipam.blocks()).map((b) => b.cidr)).toEqual(left);
    expect(await ds.get(`/calico/ipam/v2/assignment/ipv4/block/${released[0]!.replace("/", "-")}`)).toBeUndefined();
  });

  test("a block in use loses its affinity when forced; its last release then deletes it", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools: [POOL] });
    const ip = (await ipam.autoAssign({ host: "node-1", handleId: "a", num4: 1 })).ipv4[0]!;
    const [block] = await ipam.affineBlocks("node-1");
    await ipam.releaseBlockAffinity("node-1", parsePrefix(block!));
    expect(await ipam.affineBlocks("node-1")).toEqual([]);
    expect(await ipam.blocks()).toEqual([{ cidr: block, host: null, affinity: null, capacity: 64, inUse: 1, free: 63 }]);
    expect((await ipam.borrowedAddresses("node-1")).map((b) => b.address)).toEqual([ip]); // now routed as a /32
    await ipam.releaseByHandle("a");
    expect(await ipam.blocks()).toEqual([]);
  });

  test("requireEmpty leaves a block in use alone", async () => {
    const ipam = new Ipam(newStore(), { pools: [POOL] });
    await ipam.autoAssign({ host: "node-1", handleId: "a", num4: 1 });
    const [block] = await ipam.affineBlocks("node-1");
    await expect(ipam.releaseBlockAffinity("node-1", parsePrefix(block!), { requireEmpty: true })).rejects.toThrow(/not empty/);
    expect(await ipam.releaseHostAffinities("node-1")).toEqual([]);
    expect(await ipam.affineBlocks("node-1")).toEqual([block]);
  });

  test("an empty block another host claimed over a minute ago is reclaimed when the pool is full", async () => {
    let now = Date.UTC(2026, 0, 1);
    const ipam = new Ipam(newStore(), { pools: [{ name: "one", cidr: "10.8.0.0/26" }], clock: () => now });
    await ipam.autoAssign({ host: "node-1", handleId: "a", num4: 1 });
    await ipam.releaseByHandle("a"); // node-1 keeps its empty block
    now += 30_000;
    await expect(ipam.autoAssign({ host: "node-2", handleId: "b", num4: 1 })).resolves.toMatchObject({ borrowed: ["10.8.0.1"] });
    await ipam.releaseByHandle("b");
    now += 60_000;
    const res = await ipam.autoAssign({ host: "node-2", handleId: "c", num4: 1 });
    expect(res.borrowed).toEqual([]);
    expect(await ipam.affineBlocks("node-2")).toEqual(["10.8.0.0/26"]);
    expect(await ipam.affineBlocks("node-1")).toEqual([]);
  });
});

describe("tunnel addresses", () => {
  test("one per node and kind, with Calico's handle and type attribute, idempotent", async () => {
    const ipam = new Ipam(newStore(), { pools: [{ name: "vx", cidr: "10.1.0.0/16", vxlanMode: "Always" }] });
    const a = await ipam.assignTunnelAddress("node-1", "vxlan");
    expect(await ipam.assignTunnelAddress("node-1", "vxlan")).toBe(a);
    expect(tunnelHandle("node-1", "vxlan")).toBe("vxlan-tunnel-addr-node-1");
    const info = await ipam.lookup(a);
    expect(info).toMatchObject({ handleId: "vxlan-tunnel-addr-node-1", attributes: { node: "node-1", type: "vxlanTunnelAddress" } });
    expect(await ipam.affineBlocks("node-1")).toHaveLength(1); // the tunnel address claims the node's first block
    const pod = await ipam.autoAssign({ host: "node-1", handleId: "p", num4: 1 });
    expect(pod.ipv4[0]!.split(".").slice(0, 3)).toEqual(a.split(".").slice(0, 3));
  });

  test("IPIP addresses come only from pools with IPIP enabled", async () => {
    const ipam = new Ipam(newStore(), {
      pools: [
        { name: "plain", cidr: "10.1.0.0/16" },
        { name: "ipip", cidr: "10.2.0.0/16", ipipMode: "CrossSubnet" },
      ],
    });
    const a = await ipam.assignTunnelAddress("node-1", "ipip");
    expect(a).toMatch(/^10\.2\./);
    expect((await ipam.lookup(a)).attributes.type).toBe("ipipTunnelAddress");
    await expect(ipam.assignTunnelAddress("node-1", "vxlan")).rejects.toMatchObject({ code: "NoQualifiedPool" });
    await expect(ipam.assignTunnelAddress("node-1", "gre" as never)).rejects.toMatchObject({ code: "InvalidArgument" });
  });
});
