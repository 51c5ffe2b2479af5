// Parsed blocks shared between the IPAM clients of one in-memory datastore (a simulated cluster runs
// one client per node), and the per-block-version memo behind borrowedAddresses.
import { describe, expect, test } from "@jest/globals";
import { Ipam } from "../../../src/core/ipam/index.ts";
import type { Datastore, KeyValue } from "../../../src/core/datastore/port.ts";
import { HookedDatastore, newStore } from "./helpers.ts";

const POOL = { name: "p", cidr: "10.8.0.0/24" };
const pod = (host: string, n: number) => ({ host, handleId: `k8s-pod-network.${host}-${n}`, num4: 1, attrs: { namespace: "default", pod: `${host}-${n}` } });

/** A datastore that hands out a fresh copy of every value, as etcd does (nothing can be shared). */
class CopyingDatastore extends HookedDatastore {
  constructor(inner: Datastore) {
    super(inner);
  }
  override async get(key: string): Promise<KeyValue | undefined> {
    const kv = await this.inner.get(key);
    return kv ? { ...kv } : undefined;
  }
  override async list(prefix: string) {
    const r = await this.inner.list(prefix);
    return { revision: r.revision, items: r.items.map((kv) => ({ ...kv })) };
  }
}

describe("parsed blocks shared between clients", () => {
  test("a block version is parsed once for all clients of one in-memory datastore, with the same answers", async () => {
    const ds = newStore();
    const writer = new Ipam(ds, { pools: [POOL] });
    await writer.autoAssign(pod("node-1", 1));
    await writer.autoAssign(pod("node-2", 1));
    const readers = [0, 1, 2].map(() => new Ipam(ds, { pools: [POOL] }));
    const summaries = [];
    for (const r of readers) summaries.push(await r.blocks());
    expect(summaries[0]).toHaveLength(2);
    expect(summaries[1]).toEqual(summaries[0]);
    expect(summaries[2]).toEqual(summaries[0]);
    // The first reader parses both blocks; the others take its parses.
    expect(readers[0]!.stats()).toMatchObject({ blocksParsed: 2, blocksShared: 0 });
    expect(readers[1]!.stats()).toMatchObject({ blocksParsed: 0, blocksShared: 2 });
    expect(readers[2]!.stats()).toMatchObject({ blocksParsed: 0, blocksShared: 2 });
    // A new version of one block is parsed once more, then shared again.
    await writer.autoAssign(pod("node-1", 2));
    await readers[1]!.blocks();
    await readers[2]!.blocks();
    expect(readers[1]!.stats()).toMatchObject({ blocksParsed: 1, blocksShared: 3 });
    expect(readers[2]!.stats()).toMatchObject({ blocksParsed: 0, blocksShared: 4 });
    expect((await readers[2]!.blocks()).map((b) => b.inUse).sort()).toEqual([1, 2]);
  });

  test("a reader still allocates correctly from a block another client parsed", async () => {
    const ds = newStore();
    const a = new Ipam(ds, { pools: [POOL] });
    const b = new Ipam(ds, { pools: [POOL] });
    const first = await a.autoAssign(pod("node-1", 1));
    await b.blocks(); // b parses node-1's block
    await a.blocks(); // a takes b's parse of the version a wrote
    const second = await a.autoAssign(pod("node-1", 2));
    const third = await b.autoAssign(pod("node-1", 3));
    const all = [...first.ipv4, ...second.ipv4, ...third.ipv4];
    expect(new Set(all).size).toBe(3);
    expect((await new Ipam(ds, { pools: [POOL] }).blocks())[0]).toMatchObject({ host: "node-1", inUse: 3 });
  });

  test("a datastore returning fresh objects (etcd) shares nothing and parses per client", async () => {
    const mem = newStore();
    await new Ipam(mem, { pools: [POOL] }).autoAssign(pod("node-1", 1));
    const ds = new CopyingDatastore(mem);
    const x = new Ipam(ds, { pools: [POOL] });
    const y = new Ipam(ds, { pools: [POOL] });
    await x.blocks();
    await y.blocks();
    await y.blocks();
    expect(x.stats()).toMatchObject({ blocksParsed: 1, blocksShared: 0 });
    expect(y.stats()).toMatchObject({ blocksParsed: 1, blocksShared: 0, blockCacheHits: 1 });
  });
});

describe("borrowedAddresses per block version", () => {
  test("a borrowed address shows for its node only, and goes once released", async () => {
    const ds = newStore();
    const pool = { name: "one", cidr: "10.8.0.0/26" }; // a single block
    const owner = new Ipam(ds, { pools: [pool] });
    await owner.autoAssign(pod("node-1", 1));
    const other = new Ipam(ds, { pools: [pool] });
    const lent = await other.autoAssign(pod("node-2", 1));
    expect(lent.borrowed).toEqual(lent.ipv4);
    const observer = new Ipam(ds, { pools: [pool] });
    for (const c of [owner, other, observer]) {
      expect(await c.borrowedAddresses("node-2")).toEqual([{ address: lent.ipv4[0], block: "10.8.0.0/26", blockHost: "node-1", handleId: "k8s-pod-network.node-2-1" }]);
      expect(await c.borrowedAddresses("node-1")).toEqual([]);
      expect(await c.borrowedAddresses("node-3")).toEqual([]);
    }
    await other.releaseByHandle("k8s-pod-network.node-2-1");
    expect(await observer.borrowedAddresses("node-2")).toEqual([]);
  });

  test("with many blocks (a list shared between clients), every node's loans match a per-client scan", async () => {
    const ds = newStore();
    const pool = { name: "wide", cidr: "10.9.0.0/22" }; // 16 blocks of /26
    const hosts = Array.from({ length: 12 }, (_, i) => `node-${i}`);
    const owners = hosts.map(() => new Ipam(ds, { pools: [pool] }));
    for (let i = 0; i < hosts.length; i++) await owners[i]!.autoAssign(pod(hosts[i]!, 0));
    // Each node borrows two addresses from the next node's block (the block is affine to that node).
    const blocks = await owners[0]!.blocks();
    expect(blocks.length).toBeGreaterThanOrEqual(12);
    const blockOf = new Map(blocks.map((b) => [b.host, b.cidr]));
    for (let i = 0; i < hosts.length; i++) {
      const lender = hosts[(i + 1) % hosts.length]!;
      const base = blockOf.get(lender)!.split("/")[0]!.split(".").map(Number);
      for (const k of [40, 50 + i]) {
        const ip = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + k}`;
        await owners[i]!.assignIP({ address: ip, handleId: `h-${hosts[i]}-${k}`, attrs: { pod: `p${k}` }, host: hosts[i]! });
      }
    }
    // Every client sees the same answers, whether the store shares its list (memory) or not (etcd-like).
    const shared = hosts.map(() => new Ipam(ds, { pools: [pool] }));
    const fresh = new Ipam(new CopyingDatastore(ds), { pools: [pool] });
    for (const host of [...hosts, "node-absent"]) {
      const want = await fresh.borrowedAddresses(host);
      expect(want).toHaveLength(host === "node-absent" ? 0 : 2);
      for (const c of [...shared, owners[0]!]) expect(await c.borrowedAddresses(host)).toEqual(want);
    }
    expect(shared[1]!.stats().blocksShared).toBeGreaterThan(0);
  });
});
