import { describe, expect, test } from "@jest/globals";
import {
  compareAddressText,
  formatPrefix,
  formatIP,
  parseIP,
  parsePrefix,
  prefixContains,
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
