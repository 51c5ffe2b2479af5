import { describe, expect, test } from "@jest/globals";
import { planIpam } from "../../../src/core/ipam/index.ts";

describe("planIpam", () => {
  test("a /16 pool with /26 blocks: 1,024 blocks; a small cluster fits with two blocks per node", async () => {
    const r = await planIpam({ pool: "10.1.0.0/16", nodes: 10, podsPerNode: 100 });
    expect(r).toMatchObject({
      pool: "10.1.0.0/16",
      blockSize: 26,
      addressesPerBlock: 64,
      totalBlocks: 1024,
      poolSize: 65536,
      requested: 1000,
      blocksClaimed: 20,
      allocated: 1000,
      podsAllocated: 1000,
      borrowed: 0,
      failed: 0,
      blocksPerNode: { min: 2, max: 2, mean: 2 },
      exhaustedAtNode: null,
      blockLimitAtNode: null,
      firstFailure: null,
      maxBlocksPerHost: 20,
    });
    expect(r.blockUtilisation).toBeCloseTo(1000 / 1280, 4);
  });

  test("encapsulation gives each node a tunnel address first", async () => {
    const r = await planIpam({ pool: "10.1.0.0/16", nodes: 3, podsPerNode: 63, encapsulation: "vxlan" });
    expect(r.tunnelAddresses).toBe(3);
    expect(r.allocated).toBe(192);
    expect(r.blocksClaimed).toBe(3); // 1 tunnel + 63 pods fill exactly one /26
  });

  test("strict affinity: the first node without a block of its own fails, nothing is borrowed", async () => {
    // /24 = 4 blocks of 64; 10 pods per node, so nodes 1-4 get a block each and node 5 is the first to fail.
    const r = await planIpam({ pool: "10.8.0.0/24", nodes: 6, podsPerNode: 10, strictAffinity: true });
    expect(r).toMatchObject({ totalBlocks: 4, blocksClaimed: 4, allocated: 40, borrowed: 0, failed: 20, exhaustedAtNode: 5 });
    expect(r.failuresByCode).toEqual({ NoFreeBlocks: 20 });
    expect(r.firstFailure).toMatchObject({ node: "node-5", what: "pod-1", code: "NoFreeBlocks" });
    expect(r.firstFailure!.message).toContain("no free blocks in pool 10.8.0.0/24");
    expect(r.blocksPerNode).toEqual({ min: 0, max: 1, mean: 0.6667 });
  });

  test("without strict affinity the same cluster borrows instead", async () => {
    const r = await planIpam({ pool: "10.8.0.0/24", nodes: 6, podsPerNode: 10 });
    expect(r).toMatchObject({ blocksClaimed: 4, allocated: 60, borrowed: 20, nodesBorrowing: 2, failed: 0, exhaustedAtNode: 5 });
  });

  test("the per-host cap stops a node before the pool runs out", async () => {
    const r = await planIpam({ pool: "10.8.0.0/16", blockSize: 28, nodes: 2, podsPerNode: 40, strictAffinity: true, maxBlocksPerHost: 2 });
    expect(r).toMatchObject({ blocksClaimed: 4, allocated: 64, failed: 16, blockLimitAtNode: 1, exhaustedAtNode: null, maxBlocksPerHost: 2 });
    expect(r.firstFailure!.message).toMatch(/limit of 2 blocks reached for this node/);
  });

  test("IPv6 pools plan the same way (/122 blocks of 64 addresses)", async () => {
    const r = await planIpam({ pool: "fd00:10::/112", nodes: 5, podsPerNode: 70, encapsulation: "vxlan" });
    expect(r).toMatchObject({ blockSize: 122, totalBlocks: 1024, addressesPerBlock: 64, blocksClaimed: 10, allocated: 355, tunnelAddresses: 5, failed: 0 });
  });

  test("a plan is deterministic", async () => {
    const input = { pool: "10.1.0.0/20", nodes: 20, podsPerNode: 70 };
    expect(await planIpam(input)).toEqual(await planIpam(input));
  });

  test("progress is reported per node", async () => {
    const seen: number[] = [];
    await planIpam({ pool: "10.1.0.0/24", nodes: 3, podsPerNode: 1 }, { onProgress: (d) => seen.push(d) });
    expect(seen).toEqual([1, 2, 3]);
  });

  test("bad input is an InvalidArgument / InvalidPool / InvalidConfig error", async () => {
    await expect(planIpam({ pool: "10.1.0.0/33", nodes: 1, podsPerNode: 1 })).rejects.toMatchObject({ code: "InvalidArgument" });
    await expect(planIpam({ pool: "10.1.0.0/16", nodes: 0, podsPerNode: 1 })).rejects.toMatchObject({ code: "InvalidArgument" });
    await expect(planIpam({ pool: "10.1.0.0/16", nodes: 1, podsPerNode: -1 })).rejects.toMatchObject({ code: "InvalidArgument" });
    await expect(planIpam({ pool: "10.1.0.0/16", blockSize: 8, nodes: 1, podsPerNode: 1 })).rejects.toMatchObject({ code: "InvalidPool" });
    await expect(planIpam({ pool: "10.1.0.0/16", nodes: 1, podsPerNode: 1, maxBlocksPerHost: 3 })).rejects.toMatchObject({ code: "InvalidConfig" });
    await expect(planIpam({ pool: "10.1.0.0/16", nodes: 1, podsPerNode: 1, encapsulation: "gre" as never })).rejects.toMatchObject({ code: "InvalidArgument" });
    await expect(planIpam({ pool: "fd00::/64", nodes: 1, podsPerNode: 1, encapsulation: "ipip" })).rejects.toMatchObject({ code: "InvalidPool" });
  });
});
