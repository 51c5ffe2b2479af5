import { describe, expect, test } from "@jest/globals";
import { Ipam, isIpamError } from "../../../src/core/ipam/index.ts";
import type { WatchEvent } from "../../../src/core/datastore/port.ts";
import { dump, HookedDatastore, json, newStore } from "./helpers.ts";

const POOL = { name: "default-ipv4-ippool", cidr: "10.1.0.0/16" };
const pod = (host: string, n: number) => ({
  host,
  handleId: `k8s-pod-network.${host}-${n}`,
  num4: 1,
  attrs: { namespace: "default", pod: `${host}-pod-${n}` },
});

describe("autoAssign", () => {
  test("the first pod claims a block for its host: block, confirmed affinity, handle, attributes", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools: [POOL], clock: () => Date.UTC(2026, 0, 1) });
    const res = await ipam.autoAssign(pod("node-1", 1));
    expect(res.ipv4).toHaveLength(1);
    expect(res.borrowed).toEqual([]);
    const [block] = await ipam.affineBlocks("node-1");
    expect(block).toMatch(/^10\.1\.\d+\.\d+\/26$/);
    expect(res.ipv4[0]).toBe(block!.replace(/\/26$/, "")); // ordinal 0: blocks are not L2 subnets
    const seg = block!.replace("/", "-");
    expect(await json(ds, `/calico/ipam/v2/host/node-1/ipv4/block/${seg}`)).toEqual({ state: "confirmed", deleted: false });
    const stored = (await json(ds, `/calico/ipam/v2/assignment/ipv4/block/${seg}`)) as Record<string, unknown>;
    expect(stored.affinity).toBe("host:node-1");
    expect(stored.affinity_claim_time).toBe("2026-01-01T00:00:00.000Z");
    expect(stored.attributes).toEqual([
      { handle_id: "k8s-pod-network.node-1-1", secondary: { namespace: "default", node: "node-1", pod: "node-1-pod-1" } },
    ]);
    expect(await json(ds, "/calico/ipam/v2/handle/k8s-pod-network.node-1-1")).toEqual({ block: { [block!]: 1 }, deleted: false });
    const info = await ipam.lookup(res.ipv4[0]!);
    expect(info).toMatchObject({ allocated: true, block, blockHost: "node-1", handleId: "k8s-pod-network.node-1-1", borrowed: false });
    expect(info.attributes).toEqual({ namespace: "default", node: "node-1", pod: "node-1-pod-1" });
  });

  test("the claim is two-phase: affinity pending, then the block, then the affinity confirmed", async () => {
    const ds = newStore();
    const events: WatchEvent[] = [];
    const w = ds.watch("/calico/ipam/v2/", undefined, (e) => events.push(e));
    const ipam = new Ipam(ds, { pools: [POOL] });
    await ipam.autoAssign(pod("node-1", 1));
    await Promise.resolve();
    w.cancel();
    const steps = events.map((e) => {
      if (e.key.includes("/host/")) return `affinity ${JSON.parse(e.value!).state}`;
      if (e.key.includes("/handle/")) return "handle";
      return e.key.includes("/assignment/") ? `block seq ${JSON.parse(e.value!).sequenceNumber}` : e.key;
    });
    expect(steps).toEqual(["affinity pending", "block seq 0", "affinity confirmed", "handle", "block seq 1"]);
  });

  test("a host fills its affine block before claiming the next; both stay affine", async () => {
    const ipam = new Ipam(newStore(), { pools: [POOL] });
    const ips: string[] = [];
    for (let i = 0; i < 65; i++) ips.push(...(await ipam.autoAssign(pod("node-1", i))).ipv4);
    expect(new Set(ips).size).toBe(65);
    const blocks = await ipam.affineBlocks("node-1");
    expect(blocks).toHaveLength(2);
    const first = ips.slice(0, 64).map((ip) => ip.split(".").slice(0, 3).join("."));
    expect(new Set(first).size).toBe(1);
  });

  test("losing a block to another host: our pending affinity is deleted and the next block is claimed", async () => {
    const inner = newStore();
    const ds = new HookedDatastore(inner);
    const ipam = new Ipam(ds, { pools: [POOL] });
    const rival = new Ipam(inner, { pools: [POOL] });
    let stolen: string | undefined;
    ds.beforeCreate = async (key) => {
      if (stolen === undefined && key.includes("/assignment/")) {
        stolen = key;
        ds.beforeCreate = undefined;
        // The rival's own walk is different, so claim the exact block by hand, as a racing host would.
        const cidr = key.slice(key.lastIndexOf("/") + 1).replace("-", "/");
        const seg = cidr.replace("/", "-");
        await inner.create(`/calico/ipam/v2/host/node-2/ipv4/block/${seg}`, `{"state":"confirmed","deleted":false}`);
        const blank = JSON.stringify({
          cidr,
          affinity: "host:node-2",
          allocations: new Array(64).fill(null),
          unallocated: Array.from({ length: 64 }, (_, i) => i),
          attributes: [],
          sequenceNumber: 0,
          sequenceNumberForAllocation: {},
          deleted: false,
        });
        await inner.create(key, blank);
      }
    };
    const res = await ipam.autoAssign(pod("node-1", 1));
    expect(stolen).toBeDefined();
    const stolenCidr = stolen!.slice(stolen!.lastIndexOf("/") + 1).replace("-", "/");
    const mine = await ipam.affineBlocks("node-1");
    expect(mine).toHaveLength(1);
    expect(mine[0]).not.toBe(stolenCidr);
    expect(await inner.get(`/calico/ipam/v2/host/node-1/ipv4/block/${stolenCidr.replace("/", "-")}`)).toBeUndefined();
    expect(await rival.affineBlocks("node-2")).toEqual([stolenCidr]);
    expect(res.ipv4[0]).toBe(mine[0]!.replace(/\/26$/, ""));
  });

  test("a host's first block is the same in every cluster; other hosts start elsewhere", async () => {
    const first = async (host: string) => {
      const ipam = new Ipam(newStore(), { pools: [POOL] });
      await ipam.autoAssign(pod(host, 1));
      return (await ipam.affineBlocks(host))[0];
    };
    expect(await first("node-7")).toBe(await first("node-7"));
    const starts = new Set(await Promise.all(["a", "b", "c", "d", "e", "f"].map((h) => first(`node-${h}`))));
    expect(starts.size).toBeGreaterThan(4);
  });

  test("Ipam.check runs checkIpam on the client's store", async () => {
    const ipam = new Ipam(newStore(), { pools: [POOL] });
    await ipam.autoAssign(pod("node-1", 1));
    expect((await ipam.check({ liveHandles: [] })).leaked).toHaveLength(1);
    expect((await ipam.check()).ok).toBe(true);
  });

  test("IPv6 and dual-stack requests", async () => {
    const ipam = new Ipam(newStore(), { pools: [POOL, { name: "v6", cidr: "fd00:1::/112" }] });
    const res = await ipam.autoAssign({ host: "node-1", handleId: "h1", num4: 1, num6: 2 });
    expect(res.ipv4).toHaveLength(1);
    expect(res.ipv6).toHaveLength(2);
    expect(res.ipv6[0]).toMatch(/^fd00:1::/);
    expect((await ipam.affineBlocks("node-1")).some((b) => b.endsWith("/122"))).toBe(true);
  });

  test("bad input is refused with InvalidArgument", async () => {
    const ipam = new Ipam(newStore(), { pools: [POOL] });
    for (const bad of [{ host: "" }, { host: "a/b" }, { host: "n", num4: -1 }, { host: "n", num4: 1.5 }, { host: "n", handleId: "x y", num4: 1 }]) {
      await expect(ipam.autoAssign(bad as never)).rejects.toMatchObject({ code: "InvalidArgument" });
    }
    await expect(ipam.releaseAddresses(["not-an-ip"])).rejects.toMatchObject({ code: "InvalidArgument" });
  });
});

describe("pool selection", () => {
  test("nodeSelector picks the pool by the host's labels; disabled, Manual and Tunnel-only pools are skipped", async () => {
    const pools = [
      { name: "zone-a", cidr: "10.1.0.0/16", nodeSelector: "zone == 'a'" },
      { name: "zone-b", cidr: "10.2.0.0/16", nodeSelector: "zone == 'b'" },
      { name: "off", cidr: "10.3.0.0/16", disabled: true },
      { name: "manual", cidr: "10.4.0.0/16", assignmentMode: "Manual" as const },
      { name: "tunnel", cidr: "10.5.0.0/16", allowedUses: ["Tunnel" as const] },
    ];
    const labels: Record<string, Record<string, string>> = { "node-a": { zone: "a" }, "node-b": { zone: "b" }, "node-x": {} };
    const ipam = new Ipam(newStore(), { pools, hostLabels: (h) => labels[h] ?? {} });
    expect((await ipam.autoAssign(pod("node-a", 1))).ipv4[0]).toMatch(/^10\.1\./);
    expect((await ipam.autoAssign(pod("node-b", 1))).ipv4[0]).toMatch(/^10\.2\./);
    await expect(ipam.autoAssign(pod("node-x", 1))).rejects.toMatchObject({ code: "NoQualifiedPool" });
  });

  test("an empty block whose pool no longer selects the node loses its affinity on the next request", async () => {
    const pools = [
      { name: "old", cidr: "10.1.0.0/16", nodeSelector: "rack == 'r1'" },
      { name: "new", cidr: "10.2.0.0/16", nodeSelector: "rack == 'r2'" },
    ];
    let labels: Record<string, string> = { rack: "r1" };
    const ipam = new Ipam(newStore(), { pools, hostLabels: () => labels });
    await ipam.autoAssign(pod("node-1", 1));
    await ipam.autoAssign(pod("node-1", 2));
    const [oldBlock] = await ipam.affineBlocks("node-1");
    expect(oldBlock).toMatch(/^10\.1\./);
    await ipam.releaseByHandle("k8s-pod-network.node-1-1");
    labels = { rack: "r2" };
    expect((await ipam.autoAssign(pod("node-1", 3))).ipv4[0]).toMatch(/^10\.2\./);
    expect(await ipam.affineBlocks("node-1")).toHaveLength(2); // old block still holds pod 2: kept
    await ipam.releaseByHandle("k8s-pod-network.node-1-2");
    await ipam.autoAssign(pod("node-1", 4));
    const now = await ipam.affineBlocks("node-1");
    expect(now).toHaveLength(1);
    expect(now[0]).toMatch(/^10\.2\./);
  });

  test("pools given as a function are re-read on every request", async () => {
    let pools = [{ name: "a", cidr: "10.1.0.0/16" }];
    const ipam = new Ipam(newStore(), { pools: async () => pools });
    expect((await ipam.autoAssign(pod("n1", 1))).ipv4[0]).toMatch(/^10\.1\./);
    pools = [{ name: "b", cidr: "10.9.0.0/16" }];
    expect((await ipam.autoAssign(pod("n2", 1))).ipv4[0]).toMatch(/^10\.9\./);
  });
});

describe("exhaustion, strict affinity and borrowing", () => {
  const SMALL = { name: "small", cidr: "10.8.0.0/24" }; // 4 blocks of /26

  async function fillFourHosts(ipam: Ipam): Promise<void> {
    for (let h = 1; h <= 4; h++) await ipam.autoAssign(pod(`node-${h}`, 1));
  }

  test("with strict affinity the host that finds no free block gets a clear error; nothing borrowed or written", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools: [SMALL] });
    await ipam.setConfig({ strictAffinity: true });
    await fillFourHosts(ipam);
    const before = await dump(ds);
    const err = await ipam.autoAssign(pod("node-5", 1)).catch((e: unknown) => e);
    expect(isIpamError(err, "NoFreeBlocks")).toBe(true);
    expect((err as Error).message).toBe(
      "Assigned 0 out of 1 requested IPv4 addresses; No more free affine blocks and strict affinity enabled: no free blocks in pool 10.8.0.0/24",
    );
    expect(await dump(ds)).toEqual(before);
    expect(await ipam.borrowedAddresses("node-5")).toEqual([]);
  });

  test("a partly satisfied request is rolled back (all or nothing)", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools: [{ name: "one", cidr: "10.8.0.0/26" }], config: { strictAffinity: true } });
    const err = await ipam.autoAssign({ host: "node-1", handleId: "big", num4: 70 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^Assigned 64 out of 70 requested IPv4 addresses; .*no free blocks/);
    expect(await ds.get("/calico/ipam/v2/handle/big")).toBeUndefined();
    const [b] = await ipam.blocks();
    expect(b).toMatchObject({ cidr: "10.8.0.0/26", host: "node-1", inUse: 0 });
  });

  test("without strict affinity the host borrows from another host's block and reports the /32", async () => {
    const ipam = new Ipam(newStore(), { pools: [SMALL] });
    await fillFourHosts(ipam);
    const res = await ipam.autoAssign(pod("node-5", 1));
    expect(res.borrowed).toEqual(res.ipv4);
    expect(await ipam.affineBlocks("node-5")).toEqual([]);
    const borrowed = await ipam.borrowedAddresses("node-5");
    expect(borrowed).toHaveLength(1);
    expect(borrowed[0]).toMatchObject({ address: res.ipv4[0], handleId: "k8s-pod-network.node-5-1" });
    expect(borrowed[0]!.blockHost).toMatch(/^node-[1-4]$/);
    expect((await ipam.lookup(res.ipv4[0]!)).borrowed).toBe(true);
    expect(await ipam.borrowedAddresses(borrowed[0]!.blockHost!)).toEqual([]);
  });

  test("when every address is gone the error names the exhausted pool", async () => {
    const ipam = new Ipam(newStore(), { pools: [{ name: "one", cidr: "10.8.0.0/26" }] });
    await ipam.autoAssign({ host: "node-1", handleId: "all", num4: 64 });
    const err = await ipam.autoAssign(pod("node-2", 1)).catch((e: unknown) => e);
    expect(isIpamError(err, "Exhausted")).toBe(true);
    expect((err as Error).message).toBe("Assigned 0 out of 1 requested IPv4 addresses; No IPs available in pools: [10.8.0.0/26]");
  });

  test("maxBlocksPerHost requires strict affinity and caps the blocks a host may claim", async () => {
    const ipam = new Ipam(newStore(), { pools: [POOL] });
    await expect(ipam.setConfig({ maxBlocksPerHost: 1 })).rejects.toThrow("MaxBlocksPerHost requires StrictAffinity to be enabled");
    await expect(ipam.setConfig({ strictAffinity: false, autoAllocateBlocks: false })).rejects.toThrow(/at the same time/);
    await ipam.setConfig({ strictAffinity: true, maxBlocksPerHost: 1 });
    await ipam.autoAssign({ host: "node-1", handleId: "a", num4: 64 });
    const err = await ipam.autoAssign(pod("node-1", 2)).catch((e: unknown) => e);
    expect(isIpamError(err, "BlockLimit")).toBe(true);
    expect((err as Error).message).toMatch(/Need to allocate an IPAM block but could not - limit of 1 blocks reached for this node$/);
  });

  test("with no cap configured Calico's safeguard of 20 blocks per host applies", async () => {
    const ipam = new Ipam(newStore(), { pools: [{ name: "tiny-blocks", cidr: "10.1.0.0/16", blockSize: 30 }] });
    await ipam.autoAssign({ host: "node-1", handleId: "a", num4: 80 }); // 20 blocks of 4
    expect(await ipam.affineBlocks("node-1")).toHaveLength(20);
    const err = await ipam.autoAssign(pod("node-1", 2)).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/limit of 20 blocks reached for this node/);
  });
});
