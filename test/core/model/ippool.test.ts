// IPPool and IPAMConfiguration: Calico's defaults and validation rules (clientv3/ippool.go,
// validator.go validateIPPoolSpec, ipam config rules).
import { describe, expect, test } from "@jest/globals";
import type { IPAMConfiguration, IPPool } from "../../../src/core/model/index.ts";
import { calico, one, problems } from "./helpers.ts";

const pool = (spec: string) => calico("IPPool", "p", spec);

describe("IPPool defaults", () => {
  test("an IPv4 pool gets blockSize 26 and Calico's other defaults", () => {
    const p = one(pool("cidr: 10.1.0.0/16")) as IPPool;
    expect(p.spec).toEqual({
      cidr: "10.1.0.0/16",
      blockSize: 26,
      ipipMode: "Never",
      vxlanMode: "Never",
      natOutgoing: false,
      disabled: false,
      disableBGPExport: false,
      nodeSelector: "all()",
      allowedUses: ["Workload", "Tunnel"],
      assignmentMode: "Automatic",
    });
  });

  test("an IPv6 pool gets blockSize 122", () => {
    expect((one(pool("cidr: fd00::/48")) as IPPool).spec.blockSize).toBe(122);
  });

  test("the CIDR is stored normalised", () => {
    expect((one(pool("cidr: FD00:0:0::/48")) as IPPool).spec.cidr).toBe("fd00::/48");
  });

  test("given values are kept", () => {
    const p = one(pool("cidr: 10.2.0.0/20\nblockSize: 28\nipipMode: CrossSubnet\nnatOutgoing: true\nnodeSelector: rack == 'b'\nassignmentMode: Manual")) as IPPool;
    expect(p.spec).toMatchObject({ blockSize: 28, ipipMode: "CrossSubnet", natOutgoing: true, nodeSelector: "rack == 'b'", assignmentMode: "Manual" });
  });
});

describe("IPPool rules", () => {
  test.each([
    ["blockSize 19 (v4)", "cidr: 10.0.0.0/8\nblockSize: 19", "blockSize 19 is out of range for an IPv4 pool (expected 20-32)"],
    ["blockSize 33 (v4)", "cidr: 10.0.0.0/8\nblockSize: 33", "blockSize 33 is out of range for an IPv4 pool (expected 20-32)"],
    ["blockSize 115 (v6)", "cidr: fd00::/48\nblockSize: 115", "blockSize 115 is out of range for an IPv6 pool (expected 116-128)"],
    ["blockSize 26 (v6)", "cidr: fd00::/48\nblockSize: 26", "blockSize 26 is out of range for an IPv6 pool (expected 116-128)"],
    ["pool smaller than a block", "cidr: 10.1.0.0/27", "IP pool size is too small for use with Calico IPAM"],
    ["host bits", "cidr: 10.1.2.3/16", "IP pool CIDR is not strictly masked; did you mean 10.1.0.0/16?"],
    ["v4 link local", "cidr: 169.254.0.0/20", "overlaps with IPv4 Link Local range 169.254.0.0/16"],
    ["v4 covering link local", "cidr: 128.0.0.0/1", "overlaps with IPv4 Link Local range 169.254.0.0/16"],
    ["v6 link local", "cidr: fe80::/64", "overlaps with IPv6 Link Local range fe80::/10"],
    ["IPIP on v6", "cidr: fd00::/48\nipipMode: Always", "IPIPMode other than 'Never' is not supported on an IPv6 IP pool"],
    ["IPIP and VXLAN", "cidr: 10.1.0.0/16\nipipMode: Always\nvxlanMode: CrossSubnet", "ipipMode and vxlanMode cannot both be enabled"],
    ["bad mode", "cidr: 10.1.0.0/16\nipipMode: Sometimes", 'expected one of "Always", "CrossSubnet", "Never", got string "Sometimes"'],
    ["bad cidr", "cidr: 10.1.0.0/33", 'invalid prefix length in "10.1.0.0/33"'],
    ["LoadBalancer with Workload", "cidr: 10.1.0.0/16\nallowedUses: [LoadBalancer, Workload]", "LoadBalancer cannot be used at the same time as Workload or Tunnel"],
    ["LoadBalancer with IPIP", "cidr: 10.1.0.0/16\nallowedUses: [LoadBalancer]\nipipMode: Always", "neither ipipMode nor vxlanMode can be enabled"],
    ["unknown field", "cidr: 10.1.0.0/16\nipip: {enabled: true}", "spec.ipip: unknown field; expected one of: cidr, blockSize"],
    ["missing cidr", "natOutgoing: true", "spec.cidr: required field is missing (expected a string)"],
  ])("%s", (_name, spec, message) => {
    const ps = problems(pool(spec));
    expect(ps.length).toBeGreaterThan(0);
    expect(ps.join("\n")).toContain(message);
  });

  test("a disabled pool may be smaller than a block", () => {
    expect(problems(pool("cidr: 10.1.0.0/28\ndisabled: true"))).toEqual([]);
  });

  test("edge block sizes are accepted", () => {
    expect(problems(pool("cidr: 10.0.0.0/16\nblockSize: 20"))).toEqual([]);
    expect(problems(pool("cidr: 10.0.0.0/16\nblockSize: 32"))).toEqual([]);
    expect(problems(pool("cidr: fd00::/64\nblockSize: 116"))).toEqual([]);
    expect(problems(pool("cidr: fd00::/64\nblockSize: 128"))).toEqual([]);
  });

  test("problems point at the offending field", () => {
    expect(problems(pool("cidr: 10.0.0.0/8\nblockSize: 40"))).toEqual([
      "t.yaml:7:14: spec.blockSize: blockSize 40 is out of range for an IPv4 pool (expected 20-32)",
    ]);
    expect(problems(pool("cidr: 10.1.2.3/16"))).toEqual(["t.yaml:6:9: spec.cidr: IP pool CIDR is not strictly masked; did you mean 10.1.0.0/16?"]);
  });

  test("a bad value and a cross-field rule in the same pool are both reported", () => {
    const ps = problems(pool("cidr: 10.1.5.1/24\nblockSize: 33\nvxlanMode: Sometimes"));
    expect(ps).toHaveLength(3);
    expect(ps[0]).toMatch(/^t\.yaml:6:9: spec\.cidr: IP pool CIDR is not strictly masked/);
    expect(ps[1]).toMatch(/^t\.yaml:7:14: spec\.blockSize: blockSize 33/);
    expect(ps[2]).toMatch(/^t\.yaml:8:14: spec\.vxlanMode: expected one of/);
  });

  test("names must be DNS-1123 subdomains", () => {
    expect(problems(calico("IPPool", "Pool_A", "cidr: 10.1.0.0/16"))[0]).toMatch(/^t\.yaml:4:9: metadata\.name: must consist of lower case alphanumeric/);
  });
});

describe("IPAMConfiguration", () => {
  const ipam = (spec: string, name = "default") => calico("IPAMConfiguration", name, spec);

  test("defaults: strictAffinity false, autoAllocateBlocks true, maxBlocksPerHost 0", () => {
    const c = one("apiVersion: projectcalico.org/v3\nkind: IPAMConfiguration\nmetadata: {name: default}\n") as IPAMConfiguration;
    expect(c.spec).toEqual({ strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    expect((one(ipam("")) as IPAMConfiguration).spec.autoAllocateBlocks).toBe(true);
  });

  test("maxBlocksPerHost > 0 with strictAffinity is fine", () => {
    expect((one(ipam("strictAffinity: true\nmaxBlocksPerHost: 4")) as IPAMConfiguration).spec.maxBlocksPerHost).toBe(4);
  });

  test("maxBlocksPerHost > 0 requires strictAffinity", () => {
    expect(problems(ipam("maxBlocksPerHost: 4"))).toEqual(["t.yaml:6:21: spec.maxBlocksPerHost: maxBlocksPerHost > 0 requires strictAffinity: true"]);
  });

  test("strictAffinity and autoAllocateBlocks cannot both be false", () => {
    expect(problems(ipam("strictAffinity: false\nautoAllocateBlocks: false"))[0]).toContain("cannot both be false");
  });

  test("the name must be default", () => {
    expect(problems(ipam("strictAffinity: true", "mine"))).toEqual([
      't.yaml:4:9: metadata.name: the IPAMConfiguration is a singleton: its name must be "default"',
    ]);
  });

  test("maxBlocksPerHost is bounded", () => {
    expect(problems(ipam("strictAffinity: true\nmaxBlocksPerHost: 1000001"))[0]).toContain("must be 0-1000000");
    expect(problems(ipam("maxBlocksPerHost: -1"))[0]).toContain("must be 0-1000000");
  });
});
