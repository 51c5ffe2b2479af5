// BGPConfiguration, BGPPeer and Node: defaults and the validator's rules.
import { describe, expect, test } from "@jest/globals";
import { parseASNumber, type BGPConfiguration, type BGPPeer, type CalicoNode, type FelixConfiguration } from "../../../src/core/model/index.ts";
import { calico, one, problems } from "./helpers.ts";

describe("BGPConfiguration", () => {
  test("the default object gets asNumber 64512, mesh on, Info, port 179", () => {
    const c = one(calico("BGPConfiguration", "default", "")) as BGPConfiguration;
    expect(c.spec).toEqual({ logSeverityScreen: "Info", nodeToNodeMeshEnabled: true, asNumber: 64512, listenPort: 179 });
  });

  test("a per-node override gets no defaults (they would mask the global values)", () => {
    const c = one(calico("BGPConfiguration", "node.node-1", "listenPort: 1179")) as BGPConfiguration;
    expect(c.spec).toEqual({ listenPort: 1179 });
  });

  test("given values win", () => {
    const c = one(calico("BGPConfiguration", "default", "nodeToNodeMeshEnabled: false\nasNumber: 65000\nlogSeverityScreen: Debug")) as BGPConfiguration;
    expect(c.spec).toMatchObject({ nodeToNodeMeshEnabled: false, asNumber: 65000, logSeverityScreen: "Debug", listenPort: 179 });
  });

  test.each([
    ["listenPort 0", "listenPort: 0", "spec.listenPort: must be 1-65535"],
    ["listenPort 65536", "listenPort: 65536", "spec.listenPort: must be 1-65535"],
    ["bad log level", "logSeverityScreen: Verbose", "spec.logSeverityScreen: expected one of"],
    ["community value", "communities: [{name: c1, value: '1:2:3:4'}]\nprefixAdvertisements: [{cidr: 10.0.0.0/8, communities: [c1]}]", 'community "1:2:3:4" must be "aa:nn" or "aa:nn:mm"'],
    ["standard community part above 65535", "communities: [{name: c1, value: '70000:1'}]\nprefixAdvertisements: [{cidr: 10.0.0.0/8, communities: [c1]}]", "has a part above 65535"],
    ["unused communities", "communities: [{name: c1, value: '65000:100'}]", "communities are defined but not used"],
    ["undefined community", "prefixAdvertisements: [{cidr: 10.0.0.0/8, communities: [nope]}]", 'community "nope" is neither defined'],
    ["mesh password without mesh", "nodeToNodeMeshEnabled: false\nnodeMeshPassword: {secretKeyRef: {name: s, key: k}}", "nodeMeshPassword cannot be set"],
    ["service cidr with host bits", "serviceClusterIPs: [{cidr: 10.96.0.1/12}]", "has host bits set"],
  ])("%s", (_n, spec, message) => {
    expect(problems(calico("BGPConfiguration", "default", spec)).join("\n")).toContain(message);
  });

  test("a large community and a defined community are fine", () => {
    expect(problems(calico("BGPConfiguration", "default", "communities: [{name: c1, value: '65000:100:200'}]\nprefixAdvertisements: [{cidr: 10.0.0.0/8, communities: [c1, '65000:1']}]"))).toEqual([]);
  });
});

describe("AS numbers", () => {
  test.each([
    [0, 0],
    [64512, 64512],
    [4294967295, 4294967295],
    ["65000", 65000],
    ["1.10", 65546],
    ["65535.65535", 4294967295],
  ] as const)("%p → %p", (text, n) => {
    expect(parseASNumber(text)).toBe(n);
  });

  test.each([-1, 4294967296, 1.5, "65536.0", "a.b", "1.2.3", ""])("%p is invalid", (text) => {
    expect(parseASNumber(text as number | string)).toBeUndefined();
  });

  test("a quoted asdot number is read; an unquoted one is refused as Calico does (YAML makes 65001.10 the float 65001.1)", () => {
    const p = one(calico("BGPPeer", "p", "peerIP: 10.0.0.1\nasNumber: '65001.10'")) as BGPPeer;
    expect(p.spec.asNumber).toBe(65001 * 65536 + 10);
    expect(problems(calico("BGPPeer", "p", "peerIP: 10.0.0.1\nasNumber: 65001.10"))).toEqual([
      't.yaml:7:13: spec.asNumber: write the asdot AS number quoted, "65001.10": unquoted, YAML reads it as the number 65001.1',
    ]);
  });

  test("an out-of-range AS number is reported at its value", () => {
    expect(problems(calico("BGPConfiguration", "default", "asNumber: 4294967296"))).toEqual([
      "t.yaml:6:13: spec.asNumber: AS number 4294967296 is invalid (expected 0-4294967295 or \"a.b\" with each part 0-65535)",
    ]);
  });
});

describe("BGPPeer", () => {
  const peer = (spec: string) => calico("BGPPeer", "peer", spec);

  test("defaults: sourceAddress UseNodeIP, reversePeering Auto", () => {
    const p = one(peer("peerIP: 192.168.1.1\nasNumber: 65001")) as BGPPeer;
    expect(p.spec).toEqual({ peerIP: "192.168.1.1", asNumber: 65001, sourceAddress: "UseNodeIP", reversePeering: "Auto" });
  });

  test.each([
    ["peerIP with port", "peerIP: 192.168.1.1:1179\nasNumber: 65001"],
    ["IPv6 peer with port", "peerIP: '[fd00::1]:179'\nasNumber: 65001"],
    ["route reflector selector", "nodeSelector: all()\npeerSelector: route-reflector == 'true'"],
    ["local workload", "localWorkloadSelector: app == 'bgp'\nasNumber: 65010"],
    ["reachableBy", "peerIP: 10.0.0.1\nasNumber: 65001\nreachableBy: 192.168.0.1"],
  ])("valid: %s", (_n, spec) => {
    expect(problems(peer(spec))).toEqual([]);
  });

  test.each([
    ["no remote", "node: node-1", "a BGPPeer needs one of peerIP, peerSelector or localWorkloadSelector"],
    ["node and nodeSelector", "node: n1\nnodeSelector: all()\npeerIP: 10.0.0.1\nasNumber: 1", "node must be empty when nodeSelector is specified"],
    ["peerIP and peerSelector", "peerIP: 10.0.0.1\npeerSelector: all()", "peerIP must be empty when peerSelector is specified"],
    ["asNumber with peerSelector", "peerSelector: all()\nasNumber: 65001", "asNumber must be empty when peerSelector is specified"],
    ["peerIP without asNumber", "peerIP: 10.0.0.1", "asNumber is required with peerIP"],
    ["localWorkloadSelector without asNumber", "localWorkloadSelector: a == 'b'", "asNumber must be set when localWorkloadSelector is specified"],
    ["bad peerIP", "peerIP: 10.0.0.300\nasNumber: 1", 'expected "<IP>", "<IPv4>:<port>" or "[<IPv6>]:<port>"'],
    ["reachableBy family", "peerIP: 10.0.0.1\nasNumber: 1\nreachableBy: fd00::1", "reachableBy and peerIP address families differ"],
    ["reachableBy without peerIP", "peerSelector: all()\nreachableBy: 10.0.0.1", "reachableBy must be empty when peerIP is empty"],
    ["keepOriginalNextHop and nextHopMode", "peerIP: 10.0.0.1\nasNumber: 1\nkeepOriginalNextHop: true\nnextHopMode: Self", "keepOriginalNextHop is deprecated"],
  ])("invalid: %s", (_n, spec, message) => {
    expect(problems(peer(spec)).join("\n")).toContain(message);
  });
});

describe("Node", () => {
  test("bgp addresses and route reflector cluster ID", () => {
    const n = one(calico("Node", "rr-1", "bgp:\n  ipv4Address: 192.168.10.2/24\n  routeReflectorClusterID: 244.0.0.1\n  asNumber: \"65001.1\"")) as CalicoNode;
    expect(n.spec.bgp).toEqual({ ipv4Address: "192.168.10.2/24", routeReflectorClusterID: "244.0.0.1", asNumber: 65001 * 65536 + 1 });
  });

  test("an empty bgp section and a bad cluster ID are reported", () => {
    expect(problems(calico("Node", "n", "bgp: {}"))[0]).toContain("spec.bgp: spec.bgp should not be empty");
    expect(problems(calico("Node", "n", "bgp:\n  routeReflectorClusterID: fd00::1"))[0]).toContain("expected an IPv4-formatted cluster ID");
  });

  test("calicoctl's status section is tolerated", () => {
    expect(problems(calico("Node", "n", "bgp: {ipv4Address: 10.0.0.1/24}") + "status:\n  podCIDRs: [10.1.0.0/24]\n")).toEqual([]);
  });
});

describe("FelixConfiguration", () => {
  test("MTU and encapsulation settings are typed; other Felix settings are kept", () => {
    const text = calico("FelixConfiguration", "default", "ipipEnabled: true\nipipMTU: 1430\nvxlanMTU: 0\nmtuIfacePattern: ^eth.*\nbpfLogLevel: Off\nreportingInterval: 0s");
    expect(problems(text)).toEqual([]);
    const f = one(text) as FelixConfiguration;
    expect(f.spec.ipipMTU).toBe(1430);
    expect((f.spec as Record<string, unknown>).reportingInterval).toBe("0s");
  });

  test.each([
    ["MTU out of range", "ipipMTU: 70000", "spec.ipipMTU: must be 0 (auto-detect) or an MTU up to 65535"],
    ["bad interface pattern", "mtuIfacePattern: '(eth'", "spec.mtuIfacePattern: expected a regular expression"],
    ["IPv6 NAT address", "natOutgoingAddress: 'fd00::1'", "expected an IPv4 address"],
    ["failsafe port", "failsafeInboundHostPorts: [{protocol: ICMP, port: 22}]", 'expected one of "TCP", "UDP", "SCTP"'],
  ])("%s", (_n, spec, message) => {
    expect(problems(calico("FelixConfiguration", "default", spec)).join("\n")).toContain(message);
  });
});
