// The agent's route table keys (numbers for IPv4, text for IPv6) and route comparison.
import { describe, expect, test } from "@jest/globals";
import { prefixOfKey, routeKey, routeSignature, sameRoute, workloadRoute } from "../../../src/core/agent/routes.ts";
import type { DataplaneRoute } from "../../../src/core/agent/dataplane.ts";
import { parseIP, parsePrefix } from "../../../src/core/net/ip.ts";

describe("route keys", () => {
  test("distinct prefixes get distinct keys, equal prefixes equal keys", () => {
    const texts = ["0.0.0.0/0", "10.0.0.0/26", "10.0.0.0/27", "10.0.0.64/26", "10.0.0.1/32", "255.255.255.255/32", "255.255.255.254/31", "fd00::/122", "fd00::/64", "::/0"];
    const keys = texts.map((t) => routeKey(parsePrefix(t)));
    expect(new Set(keys).size).toBe(texts.length);
    expect(keys.map((k) => typeof k)).toEqual([...Array(7).fill("number"), "string", "string", "string"]);
    // Pod blocks (up to /26, host bits clear) key as int32s; longer prefixes as non-integers.
    expect(Number.isInteger(routeKey(parsePrefix("10.200.3.64/26")))).toBe(true);
    expect(routeKey(parsePrefix("200.1.2.0/24"))).toBe(((0xc8010200 | 24) | 0));
    expect(Number.isInteger(routeKey(parsePrefix("10.200.3.65/32")))).toBe(false);
    expect(routeKey(parsePrefix("10.0.0.64/26"))).toBe(routeKey({ family: 4, addr: 0x0a000040n, len: 26 }));
    // No two prefixes share a key: every length over a range of addresses, host bits set or not.
    const seen = new Map<number | string, string>();
    for (const base of [0, 0x0a000000, 0x7fffffc0, 0x80000000, 0xffffff80]) {
      for (let off = 0; off < 128; off++) {
        for (let len = 0; len <= 32; len++) {
          const addr = BigInt(base + off);
          const k = routeKey({ family: 4, addr, len });
          const name = `${addr}/${len}`;
          expect(seen.get(k) ?? name).toBe(name);
          seen.set(k, name);
          expect(prefixOfKey(k)).toEqual({ family: 4, addr, len });
        }
      }
    }
    expect(routeKey(workloadRoute(parseIP("fd00::5"), "cali1").prefix)).toBe("fd00::5/128");
    expect(prefixOfKey("fd00::/122")).toEqual(parsePrefix("fd00::/122"));
  });
});

describe("sameRoute", () => {
  const base: DataplaneRoute = { prefix: parsePrefix("10.1.0.0/26"), kind: "unicast", nextHops: [parseIP("10.0.0.2"), parseIP("10.0.0.3")], encap: "ipip", device: "tunl0" };
  const variants: DataplaneRoute[] = [
    { ...base, kind: "blackhole", nextHops: [], encap: "none" },
    { ...base, encap: "vxlan" },
    { ...base, device: "vxlan.calico" },
    { ...base, mtu: 1430 },
    { ...base, nextHops: [parseIP("10.0.0.2")] },
    { ...base, nextHops: [parseIP("10.0.0.3"), parseIP("10.0.0.2")] },
    { ...base, nextHops: [parseIP("10.0.0.2"), parseIP("::ffff:10.0.0.3")] },
  ];
  test("agrees with routeSignature: equal for copies, different for any change", () => {
    const copy: DataplaneRoute = { ...base, nextHops: base.nextHops.map((h) => ({ ...h })) };
    expect(sameRoute(base, copy)).toBe(true);
    for (const v of variants) {
      expect(sameRoute(base, v)).toBe(false);
      expect(sameRoute(v, base)).toBe(false);
      expect(sameRoute(base, v)).toBe(routeSignature(base) === routeSignature(v));
    }
  });
});
