import { describe, expect, test } from "@jest/globals";
import {
  CNI_ERR,
  CniError,
  attachmentCommands,
  decideAdd,
  handleIdFor,
  hostInterfaceName,
  ownerAlias,
  shouldDeleteHostLink,
  proxyArpProblem,
  verifyAttachment,
  type ExpectedAttachment,
  type ObservedAttachment,
  type ObservedLink,
} from "../../../src/core/cni/index.ts";
import { workloadInterfaceName } from "../../../src/core/policy/render/plan.ts";

const want: ExpectedAttachment = {
  hostIf: "cali0123456789a",
  containerIf: "eth0",
  mtu: 1430,
  addresses: ["10.244.3.7"],
  alias: "bc-cni:k8s-pod-network:c0ffee",
  routeProtocol: 201,
};

const hostLink = (over: Partial<ObservedLink> = {}): ObservedLink => ({
  name: want.hostIf,
  ifindex: 7,
  peerIfindex: 2,
  kind: "veth",
  mtu: 1430,
  up: true,
  mac: "ee:ee:ee:ee:ee:ee",
  alias: want.alias,
  addresses: [],
  ...over,
});
const podLink = (over: Partial<ObservedLink> = {}): ObservedLink => ({
  name: "eth0",
  ifindex: 2,
  peerIfindex: 7,
  kind: "veth",
  mtu: 1430,
  up: true,
  mac: "62:f0:a9:e5:ed:f5",
  alias: undefined,
  addresses: ["10.244.3.7/32"],
  ...over,
});

const complete = (): ObservedAttachment => ({
  host: hostLink(),
  container: podLink(),
  containerRoutes: [
    { dst: "default", gateway: "169.254.1.1", dev: "eth0", scope: undefined, protocol: undefined },
    { dst: "169.254.1.1/32", gateway: undefined, dev: "eth0", scope: "link", protocol: undefined },
  ],
  hostRoutes: [{ dst: "10.244.3.7/32", gateway: undefined, dev: want.hostIf, scope: "link", protocol: "201" }],
  proxyArp: true,
});

const empty = (): ObservedAttachment => ({ host: undefined, container: undefined, containerRoutes: [], hostRoutes: [], proxyArp: undefined });

describe("names", () => {
  test("handle and host interface as Calico names them", () => {
    expect(handleIdFor("k8s-pod-network", "c0ffee")).toBe("k8s-pod-network.c0ffee");
    expect(hostInterfaceName({ containerId: "c0ffee", k8s: { namespace: "default", pod: "web-0" } })).toBe(workloadInterfaceName("default", "web-0"));
    expect(hostInterfaceName({ containerId: "0123456789abcdef", k8s: undefined })).toBe("cali0123456789a");
    expect(ownerAlias("k8s-pod-network", "c0ffee")).toBe("bc-cni:k8s-pod-network:c0ffee");
  });
});

describe("verifyAttachment", () => {
  test("a complete attachment has no problems", () => {
    expect(verifyAttachment(want, complete())).toEqual([]);
  });

  test("nothing there: every piece is reported", () => {
    expect(verifyAttachment(want, empty())).toEqual([
      "host interface cali0123456789a does not exist",
      "container interface eth0 does not exist",
      "pod route 169.254.1.1 dev eth0 scope link is missing",
      "pod route default via 169.254.1.1 dev eth0 is missing",
      "node route 10.244.3.7/32 dev cali0123456789a is missing",
    ]);
  });

  test.each<[string, (o: ObservedAttachment) => void, RegExp]>([
    ["wrong MTU on the pod side", (o) => (o.container = podLink({ mtu: 1500 })), /eth0 has MTU 1500, not 1430/],
    ["wrong MTU on the host side", (o) => (o.host = hostLink({ mtu: 1500 })), /cali0123456789a has MTU 1500/],
    ["host side of another container", (o) => (o.host = hostLink({ alias: "bc-cni:k8s-pod-network:other" })), /belongs to bc-cni:k8s-pod-network:other/],
    ["pod interface not our peer", (o) => (o.container = podLink({ peerIfindex: 99 })), /not the peer/],
    ["pod address missing", (o) => (o.container = podLink({ addresses: [] })), /lacks 10.244.3.7\/32/],
    ["pod link down", (o) => (o.container = podLink({ up: false })), /eth0 is down/],
    ["no proxy ARP", (o) => (o.proxyArp = false), /proxy_arp is off/],
    ["no default route", (o) => (o.containerRoutes = o.containerRoutes.filter((r) => r.dst !== "default")), /default via 169.254.1.1/],
    ["node route elsewhere", (o) => (o.hostRoutes = [{ ...o.hostRoutes[0]!, dev: "eth9" }]), /goes to eth9/],
    ["node route of another protocol", (o) => (o.hostRoutes = [{ ...o.hostRoutes[0]!, protocol: "boot" }]), /protocol boot, not 201/],
  ])("%s is reported", (_what, spoil, msg) => {
    const o = complete();
    spoil(o);
    const problems = verifyAttachment(want, o);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(msg);
  });

  test("IPv6: /128 on the pod, the host side's link-local gateway, default route and node /128 route", () => {
    const want6 = { ...want, addresses: ["fd00::5"] };
    const o: ObservedAttachment = {
      host: hostLink({ addresses: ["fe80::ecee:eeff:feee:eeee/64"] }),
      container: podLink({ addresses: ["fd00::5/128", "fe80::1/64"] }),
      containerRoutes: [{ dst: "default", gateway: "fe80::ecee:eeff:feee:eeee", dev: "eth0", scope: undefined, protocol: undefined }],
      hostRoutes: [{ dst: "fd00::5/128", gateway: undefined, dev: want.hostIf, scope: undefined, protocol: "201" }],
      proxyArp: false,
    };
    // proxy ARP is irrelevant without IPv4
    expect(verifyAttachment(want6, o)).toEqual([]);
    expect(verifyAttachment(want6, { ...o, host: hostLink(), containerRoutes: [] })).toEqual([
      "host interface cali0123456789a lacks the gateway address fe80::ecee:eeff:feee:eeee",
      "pod route default via fe80::ecee:eeff:feee:eeee dev eth0 is missing",
    ]);
    expect(verifyAttachment(want6, { ...o, container: podLink({ addresses: [] }), hostRoutes: [] })).toEqual([
      "container interface eth0 lacks fd00::5/128",
      "node route fd00::5/128 dev cali0123456789a is missing",
    ]);
  });

  test("routes added later by other plugins do not matter", () => {
    const o = complete();
    o.containerRoutes.push({ dst: "10.0.0.0/8", gateway: "169.254.1.1", dev: "eth0", scope: undefined, protocol: undefined });
    expect(verifyAttachment(want, o)).toEqual([]);
  });
});

describe("decideAdd", () => {
  const base = { hostIf: want.hostIf, containerIf: want.containerIf, mtu: want.mtu, alias: want.alias, routeProtocol: want.routeProtocol };
  const code = (fn: () => unknown): number => {
    try {
      fn();
    } catch (e) {
      if (e instanceof CniError) return e.code;
      throw e;
    }
    return 0;
  };

  test("a second ADD with everything in place reuses it", () => {
    expect(decideAdd(base, ["10.244.3.7"], complete())).toEqual({ kind: "reuse" });
  });
  test("a fresh ADD creates", () => {
    expect(decideAdd(base, [], empty())).toEqual({ kind: "create", removeHostLink: false });
  });
  test("an address held but the veth half gone: rebuild (same address), replacing our host link", () => {
    const o = complete();
    o.container = undefined;
    expect(decideAdd(base, ["10.244.3.7"], o)).toEqual({ kind: "create", removeHostLink: true });
  });
  test("a stale sandbox of the same pod (our alias prefix, other container) is replaced", () => {
    const o = empty();
    o.host = hostLink({ alias: "bc-cni:k8s-pod-network:old", peerIfindex: 40 });
    expect(decideAdd(base, [], o)).toEqual({ kind: "create", removeHostLink: true });
  });
  test("a host interface that is not birdcage's is refused", () => {
    const o = empty();
    o.host = hostLink({ alias: undefined });
    expect(code(() => decideAdd(base, [], o))).toBe(CNI_ERR.INTERFACE_EXISTS);
    o.host = hostLink({ kind: "dummy" });
    expect(code(() => decideAdd(base, [], o))).toBe(CNI_ERR.INTERFACE_EXISTS);
  });
  test("CNI_IFNAME already in the container and not our peer is refused", () => {
    const o = empty();
    o.container = podLink({ peerIfindex: undefined, kind: "dummy" });
    expect(code(() => decideAdd(base, [], o))).toBe(CNI_ERR.INTERFACE_EXISTS);
  });
});

describe("proxyArpProblem", () => {
  test("the node must route 169.254.1.1 out of another interface", () => {
    expect(proxyArpProblem(want.hostIf, "eth0")).toBeUndefined();
    expect(proxyArpProblem(want.hostIf, undefined)).toMatch(/no route to 169.254.1.1/);
    expect(proxyArpProblem(want.hostIf, want.hostIf)).toMatch(/into cali0123456789a itself/);
  });
});

describe("DEL ownership and commands", () => {
  test("DEL deletes the host link only when the alias is this container's", () => {
    expect(shouldDeleteHostLink(want.alias, hostLink())).toBe(true);
    expect(shouldDeleteHostLink(want.alias, hostLink({ alias: "bc-cni:k8s-pod-network:newer" }))).toBe(false);
    expect(shouldDeleteHostLink(want.alias, undefined)).toBe(false);
  });

  test("the ip batch lines of an ADD", () => {
    expect(attachmentCommands(want, "/run/netns/pod")).toEqual({
      hostLink: [
        "link add cali0123456789a mtu 1430 address ee:ee:ee:ee:ee:ee type veth peer name eth0 mtu 1430 netns /run/netns/pod",
        "link set dev cali0123456789a alias bc-cni:k8s-pod-network:c0ffee",
      ],
      hostUp: ["link set dev cali0123456789a up"],
      container: [
        "link set dev eth0 up",
        "address add 10.244.3.7/32 dev eth0",
        "route replace 169.254.1.1 dev eth0 scope link",
        "route replace default via 169.254.1.1 dev eth0",
      ],
      hostRoutes: ["route replace 10.244.3.7/32 dev cali0123456789a scope link proto 201"],
    });
    expect(() => attachmentCommands(want, "/run/netns/a b")).toThrow(/cannot go into an ip batch line/);
  });

  test("dual stack: /128 without DAD, default via the host side's link-local, /128 node route", () => {
    const c = attachmentCommands({ ...want, addresses: ["10.244.3.7", "fd00:0:0:0::5"] }, "/run/netns/pod");
    expect(c.container).toEqual([
      "link set dev eth0 up",
      "address add 10.244.3.7/32 dev eth0",
      "address add fd00::5/128 dev eth0 nodad",
      "route replace 169.254.1.1 dev eth0 scope link",
      "route replace default via 169.254.1.1 dev eth0",
      "route replace default via fe80::ecee:eeff:feee:eeee dev eth0",
    ]);
    expect(c.hostRoutes).toEqual(["route replace 10.244.3.7/32 dev cali0123456789a scope link proto 201", "route replace fd00::5/128 dev cali0123456789a proto 201"]);
    const v6only = attachmentCommands({ ...want, addresses: ["fd00::5"] }, "/run/netns/pod");
    expect(v6only.container).toEqual(["link set dev eth0 up", "address add fd00::5/128 dev eth0 nodad", "route replace default via fe80::ecee:eeff:feee:eeee dev eth0"]);
  });
});
