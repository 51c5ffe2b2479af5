import { describe, expect, test } from "@jest/globals";
import { checkIpam, Ipam } from "../../../src/core/ipam/index.ts";
import { newStore } from "./helpers.ts";

// Several IPAM clients on one datastore, their requests interleaved at every await: the CAS on the
// datastore revision is all that keeps two of them from handing out the same address.

const POOL = { name: "default-ipv4-ippool", cidr: "10.1.0.0/22" }; // 16 blocks: contention for blocks too

describe("concurrent clients on one datastore", () => {
  test("different hosts, one client each, interleaved: all addresses distinct, store consistent", async () => {
    const ds = newStore();
    const clients = Array.from({ length: 6 }, () => new Ipam(ds, { pools: [POOL] }));
    const jobs: Promise<string[]>[] = [];
    for (let i = 0; i < 40; i++) {
      clients.forEach((c, h) => jobs.push(c.autoAssign({ host: `node-${h}`, handleId: `h-${h}-${i}`, num4: 1 }).then((r) => r.ipv4)));
    }
    const all = (await Promise.all(jobs)).flat();
    expect(all).toHaveLength(240);
    expect(new Set(all).size).toBe(240);
    const report = await checkIpam(ds);
    expect(report.ok).toBe(true);
    expect(report.summary.allocations).toBe(240);
  });

  test("one host, several clients (several CNI invocations at once): no duplicates, conflicts retried", async () => {
    const ds = newStore();
    const clients = Array.from({ length: 5 }, () => new Ipam(ds, { pools: [POOL] }));
    const jobs: Promise<string[]>[] = [];
    for (let i = 0; i < 30; i++) {
      clients.forEach((c, k) => jobs.push(c.autoAssign({ host: "node-1", handleId: `h-${k}-${i}`, num4: 2 }).then((r) => r.ipv4)));
    }
    const all = (await Promise.all(jobs)).flat();
    expect(new Set(all).size).toBe(300);
    const conflicts = clients.reduce((n, c) => n + c.stats().casConflicts, 0);
    expect(conflicts).toBeGreaterThan(0);
    const report = await checkIpam(ds);
    expect(report.ok).toBe(true);
    // Lost claim races must not leave extra affinities: node-1 holds exactly the blocks it uses.
    const blocks = await clients[0]!.blocks();
    expect(blocks.every((b) => b.host === "node-1")).toBe(true);
    expect(blocks.reduce((n, b) => n + b.inUse, 0)).toBe(300);
    expect(blocks.length).toBeLessThanOrEqual(Math.ceil(300 / 64) + 1);
  });

  test("allocations and releases interleaved across hosts keep handles and blocks in step", async () => {
    const ds = newStore();
    const clients = Array.from({ length: 4 }, () => new Ipam(ds, { pools: [POOL] }));
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 25; i++) {
      clients.forEach((c, h) => {
        work.push(
          (async () => {
            await c.autoAssign({ host: `node-${h}`, handleId: `h-${h}-${i}`, num4: 1 });
            if (i % 2 === 0) await c.releaseByHandle(`h-${h}-${i}`);
          })(),
        );
      });
    }
    await Promise.all(work);
    const report = await checkIpam(ds);
    expect(report.ok).toBe(true);
    expect(report.summary.allocations).toBe(4 * 12);
    expect(report.summary.handles).toBe(4 * 12);
  });

  test("a client's view of a full pool is dropped as soon as another client frees an address", async () => {
    const ds = newStore();
    const one = { name: "one", cidr: "10.8.0.0/26" };
    const a = new Ipam(ds, { pools: [one] });
    const b = new Ipam(ds, { pools: [one] });
    await a.autoAssign({ host: "node-1", handleId: "all", num4: 64 });
    await expect(a.autoAssign({ host: "node-2", handleId: "x", num4: 1 })).rejects.toMatchObject({ code: "Exhausted" });
    await b.releaseAddresses(["10.8.0.7"]);
    const got = await a.autoAssign({ host: "node-2", handleId: "x", num4: 1 });
    expect(got).toEqual({ ipv4: ["10.8.0.7"], ipv6: [], borrowed: ["10.8.0.7"] });
  });

  test("when the pool runs out under contention, every address is still handed out once", async () => {
    const ds = newStore();
    const small = { name: "small", cidr: "10.8.0.0/25" }; // 2 blocks, 128 addresses
    const clients = Array.from({ length: 4 }, () => new Ipam(ds, { pools: [small] }));
    const jobs: Promise<string[]>[] = [];
    for (let i = 0; i < 40; i++) {
      clients.forEach((c, h) => jobs.push(c.autoAssign({ host: `node-${h}`, handleId: `h-${h}-${i}`, num4: 1 }).then((r) => r.ipv4, () => [])));
    }
    const all = (await Promise.all(jobs)).flat();
    expect(all).toHaveLength(128);
    expect(new Set(all).size).toBe(128);
    expect((await checkIpam(ds)).ok).toBe(true);
  });
});
