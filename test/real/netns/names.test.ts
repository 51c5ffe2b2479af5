import { describe, expect, test } from "@jest/globals";
import {
  bridgeName,
  checkRunId,
  elementIfname,
  elementNetns,
  fabricNetns,
  fabricPortName,
  IFNAME_MAX,
  NETNS_NAME_MAX,
  newRunId,
  runOfLinkMarker,
  runOfNetns,
  linkMarker,
} from "../../../real/netns/names.ts";

describe("run ids", () => {
  test("new ids are 6 hex characters and valid", () => {
    for (let i = 0; i < 50; i++) expect(checkRunId(newRunId())).toMatch(/^[0-9a-f]{6}$/);
  });
  test("bad ids are refused with the reason", () => {
    for (const bad of ["abc", "ABCDEF", "abc-12", "a".repeat(13), "", "../etc"]) expect(() => checkRunId(bad)).toThrow(/bad run id/);
    expect(checkRunId("demo01")).toBe("demo01");
  });
});

describe("namespace names", () => {
  test("plain bc-<run>-<element>, and the run can be read back", () => {
    expect(elementNetns("3fa2c1", "node-1")).toBe("bc-3fa2c1-node-1");
    expect(runOfNetns("bc-3fa2c1-node-1")).toBe("3fa2c1");
    expect(fabricNetns("3fa2c1")).toBe("bc-3fa2c1_fabric");
    expect(runOfNetns(fabricNetns("3fa2c1"))).toBe("3fa2c1");
  });

  test("names of other tools and test helpers do not parse as runs", () => {
    for (const n of ["bc-t-12345-a", "bc-pn-x1y2", "bc-pp0-abcd", "bc-cni-test-16058-pod2", "tscheck-a", "bc-3fa2c1", "xbc-3fa2c1-n"]) expect(runOfNetns(n)).toBeUndefined();
  });

  test("the fabric namespace can never be an element's (element names have no _)", () => {
    expect(elementNetns("3fa2c1", "fabric")).not.toBe(fabricNetns("3fa2c1"));
  });

  test("long names are shortened deterministically, within the limit, without collisions", () => {
    const long = (i: number) => `rack-01.very-long-dns-subdomain-name-for-a-node-that-goes-on-and-on.node-${i}`;
    const a = elementNetns("3fa2c1", long(1));
    expect(a).toBe(elementNetns("3fa2c1", long(1)));
    expect(a.length).toBeLessThanOrEqual(NETNS_NAME_MAX);
    expect(a.startsWith("bc-3fa2c1-")).toBe(true);
    expect(runOfNetns(a)).toBe("3fa2c1");
    const names = new Set(Array.from({ length: 2000 }, (_, i) => elementNetns("3fa2c1", long(i))));
    expect(names.size).toBe(2000);
  });
});

describe("interface names", () => {
  test("at most 15 characters up to the largest sizes, unique per segment and port", () => {
    expect(bridgeName(1)).toBe("bc-s1");
    expect(fabricPortName(2, 3)).toBe("bc-s2p3");
    expect(elementIfname(0)).toBe("eth0");
    expect(fabricPortName(99999, 99999).length).toBe(IFNAME_MAX);
    expect(fabricPortName(1, 200000).length).toBeLessThanOrEqual(IFNAME_MAX);
    expect(() => fabricPortName(100000, 100000)).toThrow(/longer than 15/);
    const seen = new Set<string>();
    for (let s = 1; s <= 120; s++) for (let p = 1; p <= 120; p++) seen.add(fabricPortName(s, p));
    expect(seen.size).toBe(120 * 120);
  });

  test("link markers", () => {
    expect(linkMarker("3fa2c1")).toBe("bc:3fa2c1");
    expect(runOfLinkMarker("bc:3fa2c1")).toBe("3fa2c1");
    for (const a of [undefined, "", "bc:", "bc:x", "cali:3fa2c1", "bc:3fa2c1 extra"]) expect(runOfLinkMarker(a)).toBeUndefined();
  });
});
