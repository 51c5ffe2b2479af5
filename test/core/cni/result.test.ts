import { describe, expect, test } from "@jest/globals";
import { CNI_ERR, CniError, buildAddResult, errorResult, parsePrevResult, versionResult } from "../../../src/core/cni/index.ts";

const input = {
  hostInterface: { name: "cali1b4c0d3e5f6", mac: "ee:ee:ee:ee:ee:ee" },
  containerInterface: { name: "eth0", mac: "62:f0:a9:e5:ed:f5", sandbox: "/run/netns/pod" },
  addresses: ["10.244.3.7"],
};

describe("buildAddResult", () => {
  test("1.0.0: host and sandbox interfaces, /32 on the sandbox one, default route via 169.254.1.1, no ips[].version", () => {
    expect(buildAddResult({ ...input, cniVersion: "1.0.0" })).toEqual({
      cniVersion: "1.0.0",
      interfaces: [
        { name: "cali1b4c0d3e5f6", mac: "ee:ee:ee:ee:ee:ee" },
        { name: "eth0", mac: "62:f0:a9:e5:ed:f5", sandbox: "/run/netns/pod" },
      ],
      ips: [{ address: "10.244.3.7/32", gateway: "169.254.1.1", interface: 1 }],
      routes: [{ dst: "0.0.0.0/0", gw: "169.254.1.1" }],
      dns: {},
    });
  });

  test("0.3.x and 0.4.0 results carry ips[].version", () => {
    for (const v of ["0.3.0", "0.3.1", "0.4.0"] as const) {
      expect(buildAddResult({ ...input, cniVersion: v }).ips).toEqual([{ version: "4", address: "10.244.3.7/32", gateway: "169.254.1.1", interface: 1 }]);
    }
  });

  test("dns from the config", () => {
    expect(buildAddResult({ ...input, cniVersion: "1.0.0", dns: { nameservers: ["10.96.0.10"] } }).dns).toEqual({ nameservers: ["10.96.0.10"] });
  });

  test("dual stack: a /128 with the link-local gateway and a ::/0 route; version 6 in 0.4.0", () => {
    const r = buildAddResult({ ...input, cniVersion: "1.0.0", addresses: ["10.244.3.7", "fd00:0::1"] });
    expect(r.ips).toEqual([
      { address: "10.244.3.7/32", gateway: "169.254.1.1", interface: 1 },
      { address: "fd00::1/128", gateway: "fe80::ecee:eeff:feee:eeee", interface: 1 },
    ]);
    expect(r.routes).toEqual([{ dst: "0.0.0.0/0", gw: "169.254.1.1" }, { dst: "::/0", gw: "fe80::ecee:eeff:feee:eeee" }]);
    expect(buildAddResult({ ...input, cniVersion: "0.4.0", addresses: ["fd00::1"] }).ips[0]).toEqual(expect.objectContaining({ version: "6" }));
  });

  test("a result survives its own round trip as prevResult", () => {
    const r = buildAddResult({ ...input, cniVersion: "1.0.0" });
    expect(parsePrevResult(JSON.parse(JSON.stringify(r)))).toEqual(r);
  });
});

describe("versionResult and errorResult", () => {
  test("VERSION echoes the requested version and lists ours", () => {
    expect(versionResult("0.4.0")).toEqual({ cniVersion: "0.4.0", supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] });
    expect(versionResult().cniVersion).toBe("1.0.0");
  });
  test("error JSON has cniVersion, code, msg and details only when given", () => {
    expect(errorResult("1.0.0", new CniError(7, "bad", "why"))).toEqual({ cniVersion: "1.0.0", code: 7, msg: "bad", details: "why" });
    expect(errorResult("0.4.0", new CniError(11, "later"))).toEqual({ cniVersion: "0.4.0", code: 11, msg: "later" });
  });
});

describe("parsePrevResult", () => {
  const code = (v: unknown): number => {
    try {
      parsePrevResult(v);
    } catch (e) {
      if (e instanceof CniError) return e.code;
      throw e;
    }
    return 0;
  };
  test("missing or malformed prevResult is an invalid config (7)", () => {
    expect(code(undefined)).toBe(CNI_ERR.INVALID_CONFIG);
    expect(code([])).toBe(CNI_ERR.INVALID_CONFIG);
    expect(code({ interfaces: "eth0" })).toBe(CNI_ERR.INVALID_CONFIG);
    expect(code({ interfaces: [{ name: "eth0" }], ips: [{ address: "banana" }] })).toBe(CNI_ERR.INVALID_CONFIG);
    expect(code({ interfaces: [{ name: "eth0" }], ips: [{ address: "10.0.0.1/32", interface: 3 }] })).toBe(CNI_ERR.INVALID_CONFIG);
    expect(code({ interfaces: [{ name: "eth0" }], ips: [], routes: [{ gw: "1.1.1.1" }] })).toBe(CNI_ERR.INVALID_CONFIG);
  });
  test("a 0.4.0 prevResult with ips[].version parses", () => {
    const r = parsePrevResult({ cniVersion: "0.4.0", interfaces: [{ name: "eth0", sandbox: "/run/netns/x" }], ips: [{ version: "4", address: "10.0.0.5/32", interface: 0 }] });
    expect(r.ips).toEqual([{ address: "10.0.0.5/32", interface: 0 }]);
    expect(r.routes).toEqual([]);
  });
});
