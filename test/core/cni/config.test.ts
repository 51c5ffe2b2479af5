import { describe, expect, test } from "@jest/globals";
import {
  CNI_ERR,
  CniError,
  DEFAULT_CNI_ROUTE_PROTOCOL,
  MAX_CONFIG_BYTES,
  decodeJson,
  declaredVersion,
  parseCniArgs,
  parseEnv,
  parseNetConf,
} from "../../../src/core/cni/index.ts";

const good = () => ({
  cniVersion: "1.0.0",
  name: "k8s-pod-network",
  type: "birdcage",
  mtu: 1430,
  nodename: "node-1",
  datastore: { type: "etcd", endpoints: ["http://127.0.0.1:2379"], namespace: "lab" },
  ipam: { type: "birdcage-ipam", pools: [{ name: "default-ipv4-ippool", cidr: "10.244.0.0/16", blockSize: 26 }] },
});

/** The CniError a function throws (fails the test if it does not throw one). */
function cniError(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
  throw new Error("expected a CniError");
}

describe("decodeJson", () => {
  test("malformed, empty and oversized input are decoding failures (6)", () => {
    expect(cniError(() => decodeJson("{nope")).code).toBe(CNI_ERR.DECODING_FAILURE);
    expect(cniError(() => decodeJson("   \n")).code).toBe(CNI_ERR.DECODING_FAILURE);
    const big = cniError(() => decodeJson(" ".repeat(MAX_CONFIG_BYTES + 1)));
    expect(big.code).toBe(CNI_ERR.DECODING_FAILURE);
    expect(big.message).toMatch(/too large/);
  });
  test("a JSON value comes back parsed", () => {
    expect(decodeJson('{"a":1}')).toEqual({ a: 1 });
  });
});

describe("parseNetConf", () => {
  test("a full config with defaults filled in", () => {
    const c = parseNetConf(good());
    expect(c.cniVersion).toBe("1.0.0");
    expect(c.mtu).toBe(1430);
    expect(c.nodename).toBe("node-1");
    expect(c.datastore).toEqual({ type: "etcd", endpoints: ["http://127.0.0.1:2379"], namespace: "lab", timeoutMs: 5000 });
    expect(c.ipam.pools.map((p) => [p.name, p.cidrText, p.blockSize])).toEqual([["default-ipv4-ippool", "10.244.0.0/16", 26]]);
    expect(c.routeProtocol).toBe(DEFAULT_CNI_ROUTE_PROTOCOL);
    const minimal = parseNetConf({ ...good(), mtu: undefined, nodename: undefined, datastore: { type: "etcd", endpoints: ["unix:///run/etcd.sock:0"] } });
    expect(minimal.mtu).toBe(1500);
    expect(minimal.nodename).toBeUndefined();
    expect(minimal.datastore.namespace).toBe("default");
  });

  test.each(["0.3.0", "0.3.1", "0.4.0", "1.0.0"])("cniVersion %s is accepted", (v) => {
    expect(parseNetConf({ ...good(), cniVersion: v }).cniVersion).toBe(v);
  });

  test.each(["0.2.0", "0.1.0", "1.1.0", "2.0.0", "banana"])("cniVersion %s is incompatible (1)", (v) => {
    const e = cniError(() => parseNetConf({ ...good(), cniVersion: v }));
    expect(e.code).toBe(CNI_ERR.INCOMPATIBLE_VERSION);
    expect(e.details).toContain("1.0.0");
  });

  test("missing cniVersion is an invalid config (7); a non-object does not decode (6)", () => {
    expect(cniError(() => parseNetConf({ ...good(), cniVersion: undefined })).code).toBe(CNI_ERR.INVALID_CONFIG);
    expect(cniError(() => parseNetConf([1, 2])).code).toBe(CNI_ERR.DECODING_FAILURE);
    expect(cniError(() => parseNetConf("x")).code).toBe(CNI_ERR.DECODING_FAILURE);
  });

  test("unknown fields are unsupported (2) and the message names key and value", () => {
    const top = cniError(() => parseNetConf({ ...good(), bridge: "cni0" }));
    expect(top.code).toBe(CNI_ERR.UNSUPPORTED_FIELD);
    expect(top.message).toBe('unsupported field bridge="cni0"');
    const nested = cniError(() => parseNetConf({ ...good(), ipam: { ...good().ipam, subnet: "10.0.0.0/8" } }));
    expect(nested.code).toBe(CNI_ERR.UNSUPPORTED_FIELD);
    expect(nested.message).toBe('unsupported field ipam.subnet="10.0.0.0/8"');
    expect(cniError(() => parseNetConf({ ...good(), datastore: { ...good().datastore, prefix: "/calico" } })).message).toMatch(/datastore\.prefix/);
  });

  test("keys the runtime adds are accepted", () => {
    const c = parseNetConf({ ...good(), args: { labels: {} }, runtimeConfig: {}, capabilities: {}, "cni.dev/attachment": 1, prevResult: { ips: [] } });
    expect(c.prevResult).toEqual({ ips: [] });
  });

  test.each([
    ["name", { name: "-bad" }, /name/],
    ["name missing", { name: undefined }, /name is required/],
    ["type with a slash", { type: "../x" }, /type/],
    ["mtu too small", { mtu: 10 }, /mtu/],
    ["mtu not an integer", { mtu: 1400.5 }, /mtu/],
    ["mtu as a string", { mtu: "1430" }, /mtu/],
    ["route protocol of BIRD", { routeProtocol: 12 }, /BIRD/],
    ["route protocol 0", { routeProtocol: 0 }, /routeProtocol/],
    ["nodename", { nodename: "node 1" }, /nodename/],
    ["no datastore", { datastore: undefined }, /datastore is required/],
    ["memory datastore", { datastore: { type: "memory", endpoints: ["x"] } }, /datastore.type/],
    ["no endpoints", { datastore: { type: "etcd", endpoints: [] } }, /endpoints/],
    ["endpoint without scheme", { datastore: { type: "etcd", endpoints: ["127.0.0.1:2379"] } }, /endpoints\[0\]/],
    ["bad datastore namespace", { datastore: { type: "etcd", endpoints: ["http://a:1"], namespace: "a/b" } }, /namespace/],
    ["no ipam", { ipam: undefined }, /ipam is required/],
    ["other ipam type", { ipam: { type: "host-local", pools: [] } }, /ipam.type/],
    ["no pools", { ipam: { type: "birdcage-ipam", pools: [] } }, /ipam.pools/],
    ["bad pool cidr", { ipam: { type: "birdcage-ipam", pools: [{ name: "p", cidr: "10.0.0.1/16" }] } }, /ipam.pools\[0\]/],
    ["bad block size", { ipam: { type: "birdcage-ipam", pools: [{ name: "p", cidr: "10.0.0.0/16", blockSize: 40 }] } }, /ipam.pools\[0\]/],
    ["overlapping pools", { ipam: { type: "birdcage-ipam", pools: [{ name: "a", cidr: "10.0.0.0/16" }, { name: "b", cidr: "10.0.128.0/17" }] } }, /overlaps/],
    ["only IPv6 pools", { ipam: { type: "birdcage-ipam", pools: [{ name: "a", cidr: "fd00::/48" }] } }, /no enabled IPv4 pool/],
    ["dns nameserver", { dns: { nameservers: ["not-an-ip"] } }, /nameservers/],
  ])("%s is an invalid config (7)", (_what, patch, msg) => {
    const e = cniError(() => parseNetConf({ ...good(), ...patch }));
    expect(e.code).toBe(CNI_ERR.INVALID_CONFIG);
    expect(e.message).toMatch(msg);
  });

  test("ipam.assign_ipv4/assign_ipv6 as Calico writes them (strings) or booleans", () => {
    const dual = { type: "birdcage-ipam", pools: [{ name: "v4", cidr: "10.244.0.0/16" }, { name: "v6", cidr: "fd00:10:244::/48", blockSize: 122 }] };
    expect(parseNetConf(good()).ipam).toEqual(expect.objectContaining({ assign4: true, assign6: false }));
    expect(parseNetConf({ ...good(), ipam: { ...dual, assign_ipv6: "true" } }).ipam).toEqual(expect.objectContaining({ assign4: true, assign6: true }));
    expect(parseNetConf({ ...good(), ipam: { ...dual, assign_ipv4: false, assign_ipv6: true } }).ipam).toEqual(expect.objectContaining({ assign4: false, assign6: true }));
    const v6only = { type: "birdcage-ipam", assign_ipv4: "false", assign_ipv6: "true", pools: [{ name: "v6", cidr: "fd00::/48" }] };
    expect(parseNetConf({ ...good(), ipam: v6only }).ipam.assign6).toBe(true);
    expect(cniError(() => parseNetConf({ ...good(), ipam: { ...good().ipam, assign_ipv6: "true" } })).message).toMatch(/no enabled IPv6 pool/);
    expect(cniError(() => parseNetConf({ ...good(), ipam: { ...dual, assign_ipv4: "false" } })).message).toMatch(/both false/);
    expect(cniError(() => parseNetConf({ ...good(), ipam: { ...dual, assign_ipv6: "yes" } })).message).toMatch(/assign_ipv6 "yes"/);
  });

  test("dns passes through", () => {
    expect(parseNetConf({ ...good(), dns: { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] } }).dns).toEqual({ nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] });
  });

  test("declaredVersion only trusts version-shaped strings", () => {
    expect(declaredVersion({ cniVersion: "0.4.0" })).toBe("0.4.0");
    expect(declaredVersion({ cniVersion: "<script>" })).toBeUndefined();
    expect(declaredVersion([])).toBeUndefined();
  });
});

describe("parseEnv", () => {
  const add = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "abc123", CNI_NETNS: "/run/netns/pod", CNI_IFNAME: "eth0", CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0", CNI_PATH: "/opt/cni/bin:/usr/lib/cni" };

  test("ADD with Kubernetes args", () => {
    expect(parseEnv(add)).toEqual({
      command: "ADD",
      containerId: "abc123",
      netns: "/run/netns/pod",
      ifname: "eth0",
      k8s: { namespace: "default", pod: "web-0" },
      cniPath: ["/opt/cni/bin", "/usr/lib/cni"],
    });
  });

  test("missing variables are invalid env (4) and are named", () => {
    const e = cniError(() => parseEnv({ CNI_COMMAND: "ADD", CNI_IFNAME: "eth0" }));
    expect(e.code).toBe(CNI_ERR.INVALID_ENV);
    expect(e.message).toBe("CNI_CONTAINERID, CNI_NETNS are not set (required for ADD)");
    expect(cniError(() => parseEnv({})).message).toMatch(/CNI_COMMAND/);
    expect(cniError(() => parseEnv({ ...add, CNI_COMMAND: "GC" })).message).toMatch(/CNI_COMMAND "GC"/);
  });

  test("DEL needs no netns; VERSION needs nothing else", () => {
    expect(parseEnv({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "abc", CNI_IFNAME: "eth0" }).netns).toBeUndefined();
    expect(parseEnv({ CNI_COMMAND: "VERSION" }).command).toBe("VERSION");
  });

  test.each([
    ["CNI_CONTAINERID", { CNI_CONTAINERID: "-abc" }],
    ["CNI_CONTAINERID", { CNI_CONTAINERID: "a b" }],
    ["CNI_CONTAINERID", { CNI_CONTAINERID: "a".repeat(201) }],
    ["CNI_NETNS", { CNI_NETNS: "run/netns/x" }],
    ["CNI_NETNS", { CNI_NETNS: "/run/netns/../../etc" }],
    ["CNI_IFNAME", { CNI_IFNAME: "averyveryverylongname" }],
    ["CNI_IFNAME", { CNI_IFNAME: "eth:0" }],
    ["CNI_IFNAME", { CNI_IFNAME: ".." }],
    ["CNI_IFNAME", { CNI_IFNAME: "et h0" }],
    ["CNI_ARGS", { CNI_ARGS: "FOO" }],
    ["CNI_ARGS", { CNI_ARGS: "FOO=1" }],
    ["CNI_ARGS", { CNI_ARGS: "K8S_POD_NAME=web" }],
    ["CNI_ARGS", { CNI_ARGS: "K8S_POD_NAMESPACE=Default;K8S_POD_NAME=web" }],
    ["CNI_ARGS", { CNI_ARGS: "x".repeat(5000) }],
  ])("bad %s is invalid env (4)", (name, patch) => {
    const e = cniError(() => parseEnv({ ...add, ...patch }));
    expect(e.code).toBe(CNI_ERR.INVALID_ENV);
    expect(`${e.message} ${e.details}`).toContain(name);
  });

  test("CNI_ARGS: unknown keys pass with IgnoreUnknown, pod uid and infra ID are kept", () => {
    expect(parseCniArgs("IgnoreUnknown=true;FOO=1")).toBeUndefined();
    expect(parseCniArgs("K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-5d78c9869d-abcde;K8S_POD_UID=u-1;K8S_POD_INFRA_CONTAINER_ID=c0ffee")).toEqual({
      namespace: "kube-system",
      pod: "coredns-5d78c9869d-abcde",
      podUid: "u-1",
      infraContainerId: "c0ffee",
    });
  });
});
