import { describe, expect, test } from "@jest/globals";
import { blockSearchOrder, normalizePool, selectPools } from "../../../src/core/ipam/pools.ts";
import { fnv32, randomBelow, splitMix32 } from "../../../src/core/ipam/prng.ts";

describe("pools", () => {
  test("a /16 pool with /26 blocks has exactly 1,024 blocks; defaults follow Calico", () => {
    const p = normalizePool({ name: "default", cidr: "10.1.0.0/16" });
    expect(p.numBlocks).toBe(1024n);
    expect(p.blockSize).toBe(26);
    expect(p.ipipMode).toBe("Never");
    expect(p.vxlanMode).toBe("Never");
    expect(p.allowedUses).toEqual(["Workload", "Tunnel"]);
    expect(p.assignmentMode).toBe("Automatic");
    expect(p.nodeSelector).toBe("all()");
    expect(normalizePool({ cidr: "fd00::/64" }).blockSize).toBe(122);
  });

  test("a Calico v3 IPPool object passes straight in", () => {
    const p = normalizePool({ metadata: { name: "pool-a" }, spec: { cidr: "10.2.0.0/16", blockSize: 24, vxlanMode: "Always" } });
    expect(p.name).toBe("pool-a");
    expect(p.numBlocks).toBe(256n);
    expect(p.vxlanMode).toBe("Always");
  });

  test("invalid pools are rejected with Calico's reasons", () => {
    expect(() => normalizePool({ cidr: "10.1.0.0/16", blockSize: 19 })).toThrow(/blockSize 19 must be 20-32/);
    expect(() => normalizePool({ cidr: "10.1.0.0/28" })).toThrow(/IP pool size is too small/);
    expect(() => normalizePool({ cidr: "10.1.0.1/16" })).toThrow(/host bits set/);
    expect(() => normalizePool({ cidr: "169.254.0.0/16" })).toThrow(/link-local/);
    expect(() => normalizePool({ cidr: "10.1.0.0/16", ipipMode: "Always", vxlanMode: "Always" })).toThrow(/cannot both be enabled/);
    expect(() => normalizePool({ cidr: "fd00::/64", ipipMode: "Always" })).toThrow(/IPIP is not supported on an IPv6 pool/);
    expect(() => normalizePool({ cidr: "10.1.0.0/16", nodeSelector: "zone ==" })).toThrow(/nodeSelector/);
    expect(() => normalizePool({ cidr: "10.1.0.0/16", allowedUses: ["LoadBalancer", "Workload"] })).toThrow(/LoadBalancer cannot be combined/);
  });

  test("pool selection: enabled, Automatic, family, nodeSelector, allowed use", () => {
    const pools = [
      normalizePool({ name: "a", cidr: "10.1.0.0/16", nodeSelector: "zone == 'a'" }),
      normalizePool({ name: "b", cidr: "10.2.0.0/16", nodeSelector: "zone == 'b'" }),
      normalizePool({ name: "off", cidr: "10.3.0.0/16", disabled: true }),
      normalizePool({ name: "manual", cidr: "10.4.0.0/16", assignmentMode: "Manual" }),
      normalizePool({ name: "tunnels", cidr: "10.5.0.0/16", allowedUses: ["Tunnel"] }),
      normalizePool({ name: "v6", cidr: "fd00::/64" }),
    ];
    const names = (xs: { name: string }[]) => xs.map((p) => p.name);
    expect(names(selectPools(pools, 4, { zone: "a" }, "Workload"))).toEqual(["a"]);
    expect(names(selectPools(pools, 4, { zone: "b" }, "Workload"))).toEqual(["b"]);
    expect(names(selectPools(pools, 4, { zone: "b" }, "Tunnel"))).toEqual(["b", "tunnels"]);
    expect(names(selectPools(pools, 4, {}, "Workload"))).toEqual([]);
    expect(names(selectPools(pools, 6, {}, "Workload"))).toEqual(["v6"]);
  });
});

describe("per-host block search order", () => {
  test("FNV-1 32-bit as Go's hash/fnv.New32", () => {
    expect(fnv32("")).toBe(0x811c9dc5);
    expect(fnv32("a")).toBe(0x050c5d7e);
    expect(fnv32("foobar")).toBe(0x31f0b262);
  });

  test("randomBelow stays in range", () => {
    const next = splitMix32(1);
    for (let i = 0; i < 200; i++) {
      const v = randomBelow(next, 7n);
      expect(v >= 0n && v < 7n).toBe(true);
    }
    expect(randomBelow(next, 1n)).toBe(0n);
  });

  test("the walk visits every block once, starting at a host-specific place and wrapping", () => {
    const pool = normalizePool({ cidr: "10.1.0.0/16" });
    const order = [...blockSearchOrder(pool, "node-1")];
    expect(order.length).toBe(1024);
    expect(new Set(order).size).toBe(1024);
    const start = order[0]!;
    expect(order[1]).toBe((start + 1n) % 1024n);
    expect(order[1023]).toBe((start + 1023n) % 1024n);
  });

  test("the same host always gets the same order; different hosts diverge", () => {
    const pool = normalizePool({ cidr: "10.1.0.0/16" });
    const first = (host: string) => blockSearchOrder(pool, host).next().value;
    expect(first("node-1")).toBe(first("node-1"));
    const starts = new Set(Array.from({ length: 50 }, (_, i) => first(`node-${i}`)));
    expect(starts.size).toBeGreaterThan(45);
  });
});
