// The load driver and its cross-check, on the in-memory Datastore (fast, no etcd): the check must
// accept a consistent run and catch each kind of disagreement.
import { describe, expect, test } from "@jest/globals";
import { compareWithDatastore, duplicateAddresses, percentile, runIpamLoad, storedAllocations } from "../../../real/ipam-load.ts";
import { MemoryDatastore } from "../../../src/core/datastore/memory.ts";

const pools = [{ name: "p", cidr: "10.5.0.0/24", blockSize: 26 }];
const hostsOn = (store: MemoryDatastore, n: number) => Array.from({ length: n }, (_, i) => ({ host: `node-${i + 1}`, store }));

describe("runIpamLoad on the in-memory Datastore", () => {
  test("4 hosts x 2 workers draining a /24: 256 distinct addresses, and the stored blocks agree", async () => {
    const store = new MemoryDatastore();
    const r = await runIpamLoad({ hosts: hostsOn(store, 4), pools, perHost: "untilExhausted", workersPerHost: 2 });
    expect(r.allocations).toHaveLength(256);
    expect(duplicateAddresses(r.allocations).size).toBe(0);
    expect(r.exhaustedWorkers).toBe(8);
    expect(await compareWithDatastore(store, r.allocations)).toEqual({ missing: [], extra: [], wrongHandle: [], wrongAffinity: [] });
    expect(r.counters.writes).toBeGreaterThan(0);
    expect(await storedAllocations(store)).toHaveLength(256);
  });

  test("a fixed count per host hands out exactly that many", async () => {
    const store = new MemoryDatastore();
    const r = await runIpamLoad({ hosts: hostsOn(store, 3), pools, perHost: 10 });
    expect(r.allocations).toHaveLength(30);
    for (const h of ["node-1", "node-2", "node-3"]) expect(r.allocations.filter((a) => a.host === h)).toHaveLength(10);
  });

  test("errors other than exhaustion stop the run and name the host", async () => {
    const store = new MemoryDatastore();
    await expect(runIpamLoad({ hosts: [{ host: "bad/host", store }], pools, perHost: 1 })).rejects.toThrow("bad/host");
  });
});

describe("compareWithDatastore catches disagreements", () => {
  test("missing, extra, wrong handle and wrong affinity are each reported", async () => {
    const store = new MemoryDatastore();
    const r = await runIpamLoad({ hosts: hostsOn(store, 2), pools, perHost: 3 });
    const [a, b, c, ...rest] = r.allocations;
    const other = b!.host === "node-1" ? "node-2" : "node-1";
    const claimed = [
      { ...a!, handleId: "someone-else" }, // wrong handle
      { ...b!, host: other }, // not borrowed, but the block is the other host's
      { ...c!, address: "10.5.0.250" }, // never allocated (and c's real address becomes extra)
      ...rest,
    ];
    const d = await compareWithDatastore(store, claimed);
    expect(d.wrongHandle).toEqual([{ address: a!.address, handedTo: "someone-else", stored: a!.handleId }]);
    expect(d.wrongAffinity).toEqual([{ address: b!.address, host: other, blockHost: b!.host }]);
    expect(d.missing).toEqual(["10.5.0.250"]);
    expect(d.extra).toEqual([c!.address]);
  });

  test("percentile uses nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
