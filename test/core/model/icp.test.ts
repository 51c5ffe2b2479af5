// IBM Cloud Private config.yaml → IPPool + node settings.
import { describe, expect, test } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  InputError,
  detectFileShape,
  formatProblems,
  loadIcpConfig,
  parseAutodetectionMethod,
  parseIcpConfig,
} from "../../../src/core/model/index.ts";
import { parseDocument, visit } from "yaml";
import { repoRoot } from "../../helpers/paths.ts";

const icpProblems = (text: string): string[] => formatProblems(parseIcpConfig(text, "config.yaml").problems).trimEnd().split("\n").filter(Boolean);

describe("ICP config.yaml", () => {
  test("the example maps onto default-ipv4-ippool and node settings", () => {
    const text = readFileSync(join(repoRoot, "examples/resources/icp-config.yaml"), "utf8");
    expect(detectFileShape(text)).toBe("icp-config");
    const c = loadIcpConfig(text, "config.yaml");
    expect(c.pool.metadata.name).toBe("default-ipv4-ippool");
    expect(c.pool.spec).toMatchObject({ cidr: "10.1.0.0/16", blockSize: 26, ipipMode: "Always", vxlanMode: "Never", natOutgoing: true, nodeSelector: "all()" });
    expect(c.tunnelMTU).toBe(1430);
    expect(c.autodetectionMethod).toBe("interface=eth0");
    expect(c.autodetection).toEqual({ kind: "interface", patterns: ["eth0"] });
    expect(c.serviceClusterIPRange).toBe("10.0.0.0/16");
  });

  test("defaults: network_cidr 10.1.0.0/16, IPIP Always, MTU 1430, first-found", () => {
    const c = loadIcpConfig("network_type: calico\n", "config.yaml");
    expect(c.pool.spec.cidr).toBe("10.1.0.0/16");
    expect(c.pool.spec.ipipMode).toBe("Always");
    expect(c.tunnelMTU).toBe(1430);
    expect(c.autodetection).toEqual({ kind: "first-found" });
  });

  test("the older calico_ipip_enabled maps to Always / Never", () => {
    expect(loadIcpConfig("network_cidr: 10.5.0.0/16\ncalico_ipip_enabled: true\n", "c").pool.spec.ipipMode).toBe("Always");
    expect(loadIcpConfig("network_cidr: 10.5.0.0/16\ncalico_ipip_enabled: false\n", "c").pool.spec.ipipMode).toBe("Never");
    expect(loadIcpConfig("network_cidr: 10.5.0.0/16\ncalico_ipip_mode: CrossSubnet\n", "c").pool.spec.ipipMode).toBe("CrossSubnet");
  });

  test("unknown installer keys are tolerated", () => {
    expect(icpProblems("network_cidr: 10.1.0.0/16\ndefault_admin_password: x\nmanagement_services: {istio: disabled}\n")).toEqual([]);
  });

  test.each([
    ["bad ipip mode", "calico_ipip_mode: always\n", 'config.yaml:1:19: calico_ipip_mode: expected one of Always, CrossSubnet, Never, got "always"'],
    ["conflicting ipip keys", "calico_ipip_enabled: true\ncalico_ipip_mode: Never\n", "config.yaml:2:19: calico_ipip_mode: conflicts with calico_ipip_enabled: true"],
    ["mtu not a number", "network_type: calico\ncalico_tunnel_mtu: big\n", 'config.yaml:2:20: calico_tunnel_mtu: expected an MTU 68-65535, got string "big"'],
    ["mtu too large", "network_type: calico\ncalico_tunnel_mtu: 70000\n", "config.yaml:2:20: calico_tunnel_mtu: expected an MTU 68-65535, got number 70000"],
    ["pool cidr with host bits", "network_cidr: 10.1.0.1/16\n", "config.yaml:1:15: network_cidr: IP pool CIDR is not strictly masked; did you mean 10.1.0.0/16?"],
    ["pool smaller than a block", "network_cidr: 10.1.0.0/28\n", "config.yaml:1:15: network_cidr: IP pool size is too small"],
    ["not a CIDR", "network_cidr: ten\n", 'config.yaml:1:15: network_cidr: invalid IP address "ten"'],
    ["other network type", "network_type: nsx-t\n", 'config.yaml:1:15: network_type: only calico is modelled, got "nsx-t"'],
    ["service range overlaps pods", "network_cidr: 10.0.0.0/8\nservice_cluster_ip_range: 10.0.0.0/16\n", "config.yaml:2:27: service_cluster_ip_range: 10.0.0.0/16 overlaps network_cidr 10.0.0.0/8"],
    ["bad autodetection method", "network_type: calico\ncalico_ip_autodetection_method: first_found\n", 'config.yaml:2:33: calico_ip_autodetection_method: unknown autodetection method "first_found"'],
  ])("%s", (_n, text, expected) => {
    const ps = icpProblems(text);
    expect(ps.length).toBeGreaterThan(0);
    expect(ps.join("\n")).toContain(expected);
  });

  test("loadIcpConfig throws every problem", () => {
    expect(() => loadIcpConfig("calico_ipip_mode: x\ncalico_tunnel_mtu: 1\n", "c.yaml")).toThrow(InputError);
    try {
      loadIcpConfig("calico_ipip_mode: x\ncalico_tunnel_mtu: 1\n", "c.yaml");
    } catch (e) {
      expect((e as InputError).problems).toHaveLength(2);
    }
  });
});

test("no value in the example, replaced by anything, makes the reader throw", () => {
  const text = readFileSync(join(repoRoot, "examples/resources/icp-config.yaml"), "utf8");
  const replacements = [null, -1, 0, 1.5, "", "x=y", "10.0.0.0/99", true, [], {}, ["a"], { a: 1 }];
  let total = 0;
  visit(parseDocument(text), { Scalar: () => void total++ });
  let checked = 0;
  for (let target = 0; target < total; target++) {
    for (const repl of replacements) {
      const d = parseDocument(text);
      let i = 0;
      visit(d, {
        Scalar(key) {
          return i++ === target && key !== "key" ? d.createNode(repl) : undefined;
        },
      });
      const r = parseIcpConfig(d.toString(), "c.yaml");
      expect(r.config !== undefined || r.problems.length > 0).toBe(true);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(100);
});

describe("IP autodetection methods", () => {
  test.each([
    ["first-found", { kind: "first-found" }],
    ["kubernetes-internal-ip", { kind: "kubernetes-internal-ip" }],
    ["can-reach=8.8.8.8", { kind: "can-reach", destination: "8.8.8.8" }],
    ["can-reach=www.example.com", { kind: "can-reach", destination: "www.example.com" }],
    ["interface=eth.*,ens[0-9]+", { kind: "interface", patterns: ["eth.*", "ens[0-9]+"] }],
    ["skip-interface=docker.*", { kind: "skip-interface", patterns: ["docker.*"] }],
    ["cidr=10.0.0.0/8,192.168.0.0/16", { kind: "cidr", cidrs: ["10.0.0.0/8", "192.168.0.0/16"] }],
  ])("%s", (text, expected) => {
    expect(parseAutodetectionMethod(text)).toEqual(expected);
  });

  test.each([
    ["interface=", "interface needs one or more comma-separated regular expressions"],
    ["interface=eth(", 'interface: "eth(" is not a valid regular expression'],
    ["cidr=10.0.0.0/40", 'cidr: "10.0.0.0/40" is not a valid CIDR'],
    ["can-reach=", "can-reach needs an IP address or host name"],
    ["nearest", 'unknown autodetection method "nearest"'],
  ])("%s is rejected", (text, reason) => {
    expect(parseAutodetectionMethod(text)).toContain(reason);
  });
});

describe("file shapes", () => {
  test.each([
    ["apiVersion: v1\nkind: Pod\n", "resources"],
    ["network_cidr: 10.1.0.0/16\n", "icp-config"],
    ["# only a comment\n", "empty"],
    ["foo: bar\n", "resources"],
  ])("%j is %s", (text, shape) => {
    expect(detectFileShape(text)).toBe(shape);
  });
});
