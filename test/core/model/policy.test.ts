// Calico NetworkPolicy / GlobalNetworkPolicy / Tier / Profile / network sets / endpoints:
// defaults and the validator's rule checks.
import { describe, expect, test } from "@jest/globals";
import {
  parsePort,
  type CalicoNetworkPolicy,
  type GlobalNetworkPolicy,
  type GlobalNetworkSet,
  type NetworkSet,
  type Tier,
} from "../../../src/core/model/index.ts";
import { calico, one, problems } from "./helpers.ts";

const np = (spec: string, name = "p", ns = "  namespace: shop\n") => calico("NetworkPolicy", name, spec, ns);
const gnp = (spec: string, name = "p") => calico("GlobalNetworkPolicy", name, spec);
/** A one-rule ingress policy. */
const rule = (r: string) => gnp(`ingress:\n  - ${r.split("\n").join("\n    ")}`);

describe("policy defaults", () => {
  test("tier default, selector all(), types Ingress, empty rule lists", () => {
    const p = one(np("order: 100")) as CalicoNetworkPolicy;
    expect(p.spec).toEqual({ order: 100, tier: "default", selector: "all()", types: ["Ingress"], ingress: [], egress: [] });
    expect(p.metadata.namespace).toBe("shop");
  });

  test("the namespace defaults to default", () => {
    expect((one(np("", "p", "")) as CalicoNetworkPolicy).metadata.namespace).toBe("default");
  });

  test.each([
    ["no rules", "", ["Ingress"]],
    ["ingress only", "ingress: [{action: Allow}]", ["Ingress"]],
    ["egress only", "egress: [{action: Allow}]", ["Egress"]],
    ["both", "ingress: [{action: Allow}]\negress: [{action: Deny}]", ["Ingress", "Egress"]],
    ["explicit", "types: [Egress]\ningress: [{action: Allow}]", ["Egress"]],
  ])("types when %s", (_n, spec, types) => {
    expect((one(gnp(spec)) as GlobalNetworkPolicy).spec.types).toEqual(types);
  });

  test("GlobalNetworkPolicy flags default to false", () => {
    expect((one(gnp("")) as GlobalNetworkPolicy).spec).toMatchObject({ doNotTrack: false, preDNAT: false, applyOnForward: false });
  });
});

describe("policy names and tiers", () => {
  test("a policy in a non-default tier must carry the tier prefix", () => {
    expect(problems(gnp("tier: security", "allow-dns"))).toEqual([
      't.yaml:4:9: metadata.name: policy "allow-dns" is in tier "security", so its name must start with "security."',
    ]);
    expect(problems(gnp("tier: security", "security.allow-dns"))).toEqual([]);
  });

  test.each(["knp.default.web", "default.allow", "allow-all"])("NetworkPolicy name %s is valid", (name) => {
    expect(problems(np("", name))).toEqual([]);
  });

  test.each(["a.b.c", "Upper", "-x"])("NetworkPolicy name %s is invalid", (name) => {
    expect(problems(np("", name)).join("\n")).toContain("metadata.name: policy names must be a DNS-1123 label");
  });

  test("GlobalNetworkPolicy names allow one dot only", () => {
    expect(problems(gnp("", "knp.default.web")).join("\n")).toContain("metadata.name: policy names");
  });
});

describe("rules", () => {
  test.each([
    ["ports and protocol", "action: Allow\nprotocol: TCP\ndestination: {ports: [80, '8000:8080', http]}"],
    ["numeric protocol with ports", "action: Allow\nprotocol: 17\ndestination: {ports: [53]}"],
    ["ICMP type and code", "action: Allow\nprotocol: ICMP\nicmp: {type: 8, code: 0}"],
    ["ICMPv6 with ipVersion 6", "action: Allow\nprotocol: ICMPv6\nipVersion: 6"],
    ["nets of one family", "action: Deny\nsource: {nets: [10.0.0.0/8], notNets: [10.1.0.0/16]}\ndestination: {nets: [192.168.0.0/16]}"],
    ["every action", "action: Log"],
    ["namespaceSelector global()", "action: Allow\nsource: {namespaceSelector: global()}"],
    ["serviceAccounts", "action: Allow\nsource: {serviceAccounts: {names: [api], selector: role == 'x'}}"],
    ["services in ingress source", "action: Allow\nsource: {services: {name: kube-dns, namespace: kube-system}}"],
    ["notProtocol", "action: Deny\nnotProtocol: UDPLite"],
    ["metadata annotations", "action: Allow\nmetadata: {annotations: {note: hello}}"],
  ])("valid: %s", (_n, r) => {
    expect(problems(rule(r))).toEqual([]);
  });

  test.each([
    ["ports without protocol", "action: Allow\ndestination: {ports: [80]}", "spec.ingress[0].destination.ports: rules that specify ports must set protocol to TCP or UDP or SCTP"],
    ["named ports without protocol", "action: Allow\nsource: {notPorts: [http]}", "rules that specify ports must set protocol"],
    ["ports with ICMP", "action: Allow\nprotocol: ICMP\ndestination: {ports: [80]}", "rules that specify ports must set protocol"],
    ["port 0", "action: Allow\nprotocol: TCP\ndestination: {ports: [0]}", "port 0 is out of range (expected 1-65535)"],
    ["port 65536", "action: Allow\nprotocol: TCP\ndestination: {ports: [65536]}", "port 65536 is out of range"],
    ["reversed range", "action: Allow\nprotocol: TCP\ndestination: {ports: ['90:80']}", 'port range "90:80" is reversed'],
    ["range out of bounds", "action: Allow\nprotocol: TCP\ndestination: {ports: ['1:70000']}", "is out of range"],
    ["bad port name", "action: Allow\nprotocol: TCP\ndestination: {ports: [Web_Port]}", "must contain only lower case alphanumeric"],
    ["icmp without ICMP", "action: Allow\nprotocol: TCP\nicmp: {type: 8}", "rules that specify ICMP fields must set protocol to ICMP"],
    ["icmp code without type", "action: Allow\nprotocol: ICMP\nicmp: {code: 0}", "ICMP code specified without an ICMP type"],
    ["icmp type 255", "action: Allow\nprotocol: ICMP\nicmp: {type: 255}", "ICMP type must be 0-254"],
    ["ICMP with ipVersion 6", "action: Allow\nprotocol: ICMP\nipVersion: 6", "must set ipVersion to 4 with protocol ICMP"],
    ["bad action", "action: Drop", 'expected one of "Allow", "Deny", "Log", "Pass", got string "Drop"'],
    ["missing action", "protocol: TCP", "spec.ingress[0].action: required field is missing"],
    ["protocol 0", "action: Allow\nprotocol: 0", "protocol number 0 is invalid (expected 1-255)"],
    ["protocol 256", "action: Allow\nprotocol: 256", "protocol number 256 is invalid"],
    ["lower-case protocol", "action: Allow\nprotocol: udp", "did you mean UDP?"],
    ["mixed families", "action: Allow\nsource: {nets: [10.0.0.0/8]}\ndestination: {nets: ['fd00::/8']}", "rule contains both IPv4 and IPv6 CIDRs"],
    ["ipVersion mismatch", "action: Allow\nipVersion: 6\nsource: {nets: [10.0.0.0/8]}", "rule ipVersion 6 doesn't match the CIDR version"],
    ["nets with host bits", "action: Allow\nsource: {nets: [10.0.0.1/8]}", '"10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?'],
    ["notNets everything", "action: Allow\nsource: {notNets: [0.0.0.0/0]}", "0.0.0.0/0 in notNets would match nothing"],
    ["global() in selector", "action: Allow\nsource: {selector: global()}", "global() can only be used in an EntityRule namespaceSelector"],
    ["global() combined", "action: Allow\nsource: {namespaceSelector: global() || a == 'b'}", "global() cannot be combined with other selectors"],
    ["services with selector", "action: Allow\nsource: {services: {name: s, namespace: n}, selector: a == 'b'}", "cannot specify selector/notSelector and services"],
    ["services in ingress destination", "action: Allow\ndestination: {services: {name: s, namespace: n}}", "services are not allowed in an ingress rule destination"],
    ["GNP service without namespace", "action: Allow\nsource: {services: {name: s}}", "spec.ingress[0].source.services.namespace: must specify a namespace"],
    ["HTTP with UDP", "action: Allow\nprotocol: UDP\nhttp: {methods: [GET]}", "HTTP fields must set protocol to TCP"],
    ["HTTP on Deny", "action: Deny\nhttp: {methods: [GET]}", "HTTP match is only valid for Allow rules"],
    ["unknown rule field", "action: Allow\nsrc: {}", "spec.ingress[0].src: unknown field; expected one of: action, ipVersion"],
  ])("invalid: %s", (_n, r, message) => {
    expect(problems(rule(r)).join("\n")).toContain(message);
  });

  test("a port problem points at the port", () => {
    expect(problems(gnp("ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80, 0]"))).toEqual([
      "t.yaml:10:21: spec.ingress[0].destination.ports[1]: port 0 is out of range (expected 1-65535)",
    ]);
  });

  test("parsePort understands the three forms", () => {
    expect(parsePort(80)).toEqual({ min: 80, max: 80 });
    expect(parsePort("80")).toEqual({ min: 80, max: 80 });
    expect(parsePort("6040:6050")).toEqual({ min: 6040, max: 6050 });
    expect(parsePort("http")).toEqual({ name: "http" });
  });
});

describe("policy-level rules", () => {
  test.each([
    ["duplicate types", "types: [Ingress, Ingress]", "'Ingress' type specified more than once"],
    ["global() in spec.selector", "selector: global()", "spec.selector: global() can only be used"],
    ["services in egress source", "egress: [{action: Allow, source: {services: {name: s, namespace: n}}}]", "services are not allowed in an egress rule source"],
    ["preDNAT and doNotTrack", "preDNAT: true\ndoNotTrack: true\napplyOnForward: true", "preDNAT and doNotTrack cannot both be true"],
    ["preDNAT with egress", "preDNAT: true\napplyOnForward: true\negress: [{action: Allow}]", "a preDNAT policy cannot have egress rules"],
    ["preDNAT with Egress type", "preDNAT: true\napplyOnForward: true\ntypes: [Egress]", "a preDNAT policy cannot have the Egress type"],
    ["doNotTrack without applyOnForward", "doNotTrack: true", "applyOnForward must be true"],
    ["bad type", "types: [Forward]", 'expected one of "Ingress", "Egress"'],
    ["bad tier name", "tier: Sec.Urity", "spec.tier: must consist of lower case"],
  ])("%s", (_n, spec, message) => {
    expect(problems(gnp(spec)).join("\n")).toContain(message);
  });

  test("selector syntax errors point at the column inside the selector", () => {
    expect(problems(gnp("selector: app == 'web' &&"))).toEqual([
      't.yaml:6:28: spec.selector: invalid selector: expected a label, has(), all(), global(), "!" or "(" but found end of selector (column 16 of the selector)',
    ]);
    const ps = problems(rule(`action: Allow\nsource: {selector: "a = 'b'"}`));
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatch(/^t\.yaml:8:29: spec\.ingress\[0\]\.source\.selector: invalid selector: .*\(column 3 of the selector\)$/);
  });

  test("selectors of pools and peers are checked too", () => {
    expect(problems(calico("IPPool", "p", "cidr: 10.1.0.0/16\nnodeSelector: rack ==")).join("\n")).toContain("spec.nodeSelector: invalid selector");
    expect(problems(calico("BGPPeer", "p", "peerSelector: has(")).join("\n")).toContain("spec.peerSelector: invalid selector");
  });

  test("a selector's global() is reported at its column", () => {
    expect(problems(gnp("selector: a == 'b' && global()"))).toEqual([
      "t.yaml:6:25: spec.selector: global() can only be used in an EntityRule namespaceSelector",
    ]);
  });
});

describe("Tier", () => {
  test("defaults: defaultAction Deny, fixed orders for Calico's own tiers", () => {
    expect((one(calico("Tier", "security", "order: 100")) as Tier).spec).toEqual({ order: 100, defaultAction: "Deny" });
    expect((one(calico("Tier", "default", "")) as Tier).spec.order).toBe(1_000_000);
    expect((one(calico("Tier", "kube-admin", "")) as Tier).spec.order).toBe(1_000);
    expect((one(calico("Tier", "kube-baseline", "")) as Tier).spec.order).toBe(10_000_000);
    expect((one(calico("Tier", "security", "")) as Tier).spec.order).toBeUndefined();
  });

  test("the default tier's order is fixed", () => {
    expect(problems(calico("Tier", "default", "order: 5"))).toEqual(["t.yaml:6:10: spec.order: default tier order must be 1000000"]);
  });

  test("tier names are DNS labels without dots", () => {
    expect(problems(calico("Tier", "a.b", "")).join("\n")).toContain("metadata.name: must consist of lower case alphanumeric characters or '-'");
  });

  test("defaultAction is Deny or Pass", () => {
    expect(problems(calico("Tier", "t", "defaultAction: Allow")).join("\n")).toContain('expected one of "Deny", "Pass"');
  });
});

describe("network sets, profiles, endpoints", () => {
  test("network sets keep nets (host addresses allowed) and default an empty list", () => {
    expect((one(calico("GlobalNetworkSet", "g", "nets: [10.0.0.0/8, 192.168.1.7]")) as GlobalNetworkSet).spec.nets).toEqual(["10.0.0.0/8", "192.168.1.7"]);
    expect((one(calico("NetworkSet", "n", "", "  namespace: shop\n")) as NetworkSet).spec.nets).toEqual([]);
  });

  test("network sets may not carry the projectcalico.org/namespace label", () => {
    expect(problems(calico("GlobalNetworkSet", "g", "nets: [10.0.0.0/8]", "  labels:\n    projectcalico.org/namespace: x\n")).join("\n")).toContain(
      "projectcalico.org/namespace is not a valid label name",
    );
  });

  test("a bad net is reported", () => {
    expect(problems(calico("GlobalNetworkSet", "g", "nets: [10.0.0.0/40]")).join("\n")).toContain("spec.nets[0]: invalid prefix length");
  });

  test("profiles hold rules", () => {
    expect(problems(calico("Profile", "kns.shop", "ingress: [{action: Allow}]\negress: [{action: Allow}]\nlabelsToApply: {pcns.team: web}"))).toEqual([]);
    expect(problems(calico("Profile", "p", "ingress: [{action: Allow, protocol: TCP, destination: {ports: [0]}}]")).join("\n")).toContain("port 0 is out of range");
  });

  test("host endpoints need a node and an interface or IPs", () => {
    expect(problems(calico("HostEndpoint", "h", "node: n1\ninterfaceName: eth0\nports: [{name: ssh, protocol: TCP, port: 22}]"))).toEqual([]);
    const ps = problems(calico("HostEndpoint", "h", "profiles: [p]")).join("\n");
    expect(ps).toContain("a host endpoint needs interfaceName or expectedIPs");
    expect(ps).toContain("a host endpoint needs a node");
    expect(problems(calico("HostEndpoint", "h", "node: n\nexpectedIPs: [10.0.0.1]\nports: [{name: x, protocol: ICMP, port: 1}]")).join("\n")).toContain("must be TCP, UDP or SCTP");
  });

  test("workload endpoints take single addresses", () => {
    const wep = (spec: string) => calico("WorkloadEndpoint", "node1-k8s-web-eth0", spec, "  namespace: shop\n");
    expect(problems(wep("node: node1\npod: web\nipNetworks: [10.1.3.4/32]\nports: [{name: http, protocol: TCP, port: 80}]"))).toEqual([]);
    expect(problems(wep("ipNetworks: [10.1.3.0/24]")).join("\n")).toContain("contains multiple addresses (expected a /32)");
  });
});

describe("metadata", () => {
  test("labels and annotations are checked, server fields tolerated", () => {
    const meta = "  labels:\n    app.kubernetes.io/name: web\n  annotations:\n    note: anything goes here\n  uid: 4f0ad5a1-3c52\n  resourceVersion: '5'\n  creationTimestamp: null\n";
    expect(problems(calico("IPPool", "p", "cidr: 10.1.0.0/16", meta))).toEqual([]);
  });

  test("a bad label key is reported at the key, a bad value at the value", () => {
    const ps = problems(calico("IPPool", "p", "cidr: 10.1.0.0/16", "  labels:\n    -bad: x\n    good: -bad-\n"));
    expect(ps[0]).toMatch(/^t\.yaml:6:5: metadata\.labels\["-bad"\]: invalid label key/);
    expect(ps[1]).toMatch(/^t\.yaml:7:11: metadata\.labels\.good: label value "-bad-"/);
  });

  test("a label value must be a string", () => {
    expect(problems(calico("IPPool", "p", "cidr: 10.1.0.0/16", "  labels:\n    version: 1\n"))).toEqual([
      "t.yaml:6:14: metadata.labels.version: expected a string, got number 1",
    ]);
  });

  test("unknown metadata fields are errors for Calico resources", () => {
    expect(problems(calico("IPPool", "p", "cidr: 10.1.0.0/16", "  nmespace: x\n"))[0]).toMatch(/^t\.yaml:5:3: metadata\.nmespace: unknown field/);
  });
});
