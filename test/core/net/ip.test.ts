import { describe, expect, test } from "@jest/globals";
import ipaddr from "ipaddr.js";
import {
  AddressError,
  compareAddressText,
  dottedQuad,
  formatPrefix,
  formatIP,
  parseIP,
  parsePrefix,
  prefixContains,
  prefixContainsAddress,
  prefixesOverlap,
  prefixSize,
  subnetAt,
  subnetCount,
} from "../../../src/core/net/ip.ts";

describe("ip", () => {
  test("parses and formats IPv4 and IPv6", () => {
    expect(formatIP(4, parseIP("10.1.2.3").value)).toBe("10.1.2.3");
    expect(formatIP(6, parseIP("2001:db8:0:0:0:0:0:1").value)).toBe("2001:db8::1");
    expect(() => parseIP("10.1.2")).toThrow(/invalid IP/);
    expect(() => parseIP("300.1.2.3")).toThrow(/invalid IP/);
  });
  test("strict prefixes reject host bits, loose ones clear them", () => {
    expect(() => parsePrefix("10.1.0.1/16")).toThrow(/host bits set; did you mean 10.1.0.0\/16/);
    expect(formatPrefix(parsePrefix("10.1.0.1/16", { strict: false }))).toBe("10.1.0.0/16");
    expect(() => parsePrefix("10.0.0.0/33")).toThrow(/prefix length/);
  });
  test("a /16 holds exactly 1,024 /26 blocks", () => {
    const p = parsePrefix("10.1.0.0/16");
    expect(subnetCount(p, 26)).toBe(1024n);
    expect(formatPrefix(subnetAt(p, 26, 1023n))).toBe("10.1.255.192/26");
    expect(prefixSize(p)).toBe(65536n);
  });
  test("containment and overlap", () => {
    const a = parsePrefix("169.254.0.0/16");
    expect(prefixesOverlap(a, parsePrefix("169.0.0.0/8"))).toBe(true);
    expect(prefixContains(a, parsePrefix("169.254.1.0/24"))).toBe(true);
    expect(prefixesOverlap(a, parsePrefix("10.0.0.0/8"))).toBe(false);
    expect(prefixesOverlap(a, parsePrefix("fe80::/10"))).toBe(false);
  });
});

describe("compareAddressText", () => {
  test("IPv4 before IPv6, numeric order, non-addresses by their text", () => {
    expect(["fd00::1", "10.0.0.10", "10.0.0.9"].sort(compareAddressText)).toEqual(["10.0.0.9", "10.0.0.10", "fd00::1"]);
    expect(compareAddressText("peer-b", "peer-a")).toBeGreaterThan(0);
  });
});

describe("dottedQuad (parseIP's fast path)", () => {
  // What ipaddr.js alone answers, without the fast path: the reference for the fast path.
  const slow = (s: string): bigint | undefined => {
    if (!ipaddr.isValid(s) || !ipaddr.IPv4.isValidFourPartDecimal(s)) return undefined;
    return ipaddr.parse(s).toByteArray().reduce((v, b) => (v << 8n) | BigInt(b), 0n);
  };
  const cases = ["0.0.0.0", "10.0.0.1", "255.255.255.255", "256.0.0.1", "01.2.3.4", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..2.3", "1.2.3.4.5", "1.2.3.a", "1234.1.1.1", "1.2.3.-4", "", "::1", "0x1.2.3.4", "1.2.3.00"];
  test.each(cases)("%s agrees with ipaddr.js", (s) => {
    const fast = dottedQuad(s);
    expect(fast === undefined ? undefined : BigInt(fast)).toEqual(slow(s));
  });
  test("agrees with ipaddr.js on 5,000 seeded random strings of digits and dots", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const alphabet = "0123456789.";
    for (let i = 0; i < 5000; i++) {
      let s = "";
      const len = 1 + rnd(16);
      for (let j = 0; j < len; j++) s += alphabet[rnd(alphabet.length)];
      const fast = dottedQuad(s);
      expect([s, fast === undefined ? undefined : BigInt(fast)]).toEqual([s, slow(s)]);
    }
  });
  test("parseIP still rejects what the fast path passes on", () => {
    expect(() => parseIP("01.2.3.4")).toThrow(AddressError);
    expect(parseIP(" 10.1.2.3 ")).toEqual({ family: 4, value: 0x0a010203n });
  });
  test("IPv4 containment (computed in doubles) agrees with the bigint mask test, host bits and odd values included", () => {
    let x = 12345;
    const rand = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), x);
    const mask = (len: number): bigint => (len === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - len)) - 1n));
    for (let i = 0; i < 20000; i++) {
      const len = rand() % 33;
      const inner = rand() % 33;
      // Networks near the address often (so both answers occur), sometimes with host bits set.
      const a = BigInt(rand());
      const net = i % 7 === 0 ? BigInt(rand()) : a & mask(len);
      const p = { family: 4 as const, addr: i % 11 === 0 ? net | 1n : net, len };
      expect(prefixContainsAddress(p, { family: 4, value: a })).toBe((a & mask(len)) === p.addr);
      const q = { family: 4 as const, addr: a & mask(inner), len: inner };
      expect(prefixContains(p, q)).toBe(len <= inner && (q.addr & mask(len)) === p.addr);
    }
    // Outside the IPv4 range the bigint test decides, as before.
    expect(prefixContainsAddress({ family: 4, addr: 0n, len: 8 }, { family: 4, value: 1n << 32n })).toBe(true);
  });
});
