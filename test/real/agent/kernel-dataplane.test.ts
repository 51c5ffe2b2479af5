// The kernel Dataplane in two node namespaces joined by a veth, a pod namespace behind node B:
// VXLAN tunnel devices, routes with birdcage's protocol, a pod reached through the tunnel, policy
// loaded as nftables, IPIP reported as unavailable on a kernel without the module, and cleanup.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { existsSync } from "node:fs";
import { execa } from "execa";
import { parsePrefix, parseIP } from "../../../src/core/net/ip.ts";
import { PolicySet, type Policy } from "../../../src/core/policy/index.ts";
import { workloadInterfaceName } from "../../../src/core/policy/render/plan.ts";
import { KernelDataplane, kernelRouteFor, vtepMac, type DataplaneError } from "../../../real/agent/kernel-dataplane.ts";
import { addNetns, delNetns, describeWithNetns, ip, testNetnsName } from "../../helpers/netns.ts";

const A = testNetnsName("kdp-a");
const B = testNetnsName("kdp-b");
const POD = testNetnsName("kdp-pod");
const podIf = workloadInterfaceName("shop", "db");
const errors: DataplaneError[] = [];
let dpA: KernelDataplane;
let dpB: KernelDataplane;

const ping = async (ns: string, dst: string) =>
  (await execa("ip", ["netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", dst], { reject: false })).exitCode === 0;
const sh = (ns: string, cmd: string) => execa("ip", ["netns", "exec", ns, "sh", "-c", cmd]);

test("kernelRouteFor: Calico's route shapes", () => {
  const p = parsePrefix("10.9.1.0/26");
  const hop = [parseIP("192.168.77.2")];
  const tunnels = new Set<"ipip" | "vxlan">(["vxlan"]);
  expect(kernelRouteFor({ prefix: p, kind: "unicast", nextHops: hop, encap: "vxlan" }, tunnels)).toMatchObject({ dev: "vxlan.calico", onlink: true });
  // No IPIP device on this node: the route goes native rather than into a missing tunl0.
  expect(kernelRouteFor({ prefix: p, kind: "unicast", nextHops: hop, encap: "ipip" }, tunnels)).toEqual({ prefix: p, kind: "unicast", nextHops: hop });
  expect(kernelRouteFor({ prefix: p, kind: "blackhole", nextHops: [], encap: "none" }, tunnels)).toEqual({ prefix: p, kind: "blackhole", nextHops: [] });
  expect(kernelRouteFor({ prefix: parsePrefix("10.9.1.5/32"), kind: "local", nextHops: [], encap: "none", device: "cali0" }, tunnels)).toMatchObject({ dev: "cali0", nextHops: [] });
  expect(() => kernelRouteFor({ prefix: p, kind: "local", nextHops: [], encap: "none" }, tunnels)).toThrow(/without a device/);
  expect(vtepMac("192.168.77.2")).toBe("02:bc:c0:a8:4d:02");
});

describeWithNetns("kernel dataplane (root, ip, nft)")("kernel dataplane in namespaces", () => {
  beforeAll(async () => {
    await delNetns(A, B, POD);
    for (const ns of [A, B, POD]) await addNetns(ns);
    await ip("-n", A, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", B);
    await ip("-n", A, "addr", "add", "192.168.77.1/24", "dev", "eth0");
    await ip("-n", B, "addr", "add", "192.168.77.2/24", "dev", "eth0");
    await ip("-n", A, "link", "set", "eth0", "up");
    await ip("-n", B, "link", "set", "eth0", "up");
    // The pod, wired as the CNI plugin wires it.
    await ip("-n", B, "link", "add", podIf, "type", "veth", "peer", "name", "eth0", "netns", POD);
    await ip("-n", POD, "addr", "add", "10.9.1.5/32", "dev", "eth0");
    await ip("-n", POD, "link", "set", "eth0", "up");
    await ip("-n", POD, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
    await ip("-n", POD, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
    // Calico's host side MAC and a static neighbour for the pod's gateway, as the CNI plugin does.
    await ip("-n", B, "link", "set", podIf, "address", "ee:ee:ee:ee:ee:ee", "up");
    await ip("-n", POD, "neigh", "add", "169.254.1.1", "lladdr", "ee:ee:ee:ee:ee:ee", "dev", "eth0", "nud", "permanent");
    await sh(B, `sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.${podIf}.proxy_arp=1`);
    const onError = (e: DataplaneError) => errors.push(e);
    dpA = new KernelDataplane({ node: "node-a", nodeAddress: "192.168.77.1", netns: A, onError });
    dpB = new KernelDataplane({ node: "node-b", nodeAddress: "192.168.77.2", netns: B, onError });
  });

  afterAll(async () => {
    await delNetns(A, B, POD);
  });

  test("VXLAN: tunnel devices, routes, a pod behind the other node answers through the tunnel", async () => {
    dpA.setTunnel({ type: "vxlan", address: "10.9.0.1", mtu: 1450 });
    dpB.setTunnel({ type: "vxlan", address: "10.9.1.1", mtu: 1450 });
    dpA.applyRoutes({ add: [{ prefix: parsePrefix("10.9.1.0/26"), kind: "unicast", nextHops: [parseIP("192.168.77.2")], encap: "vxlan" }], remove: [] });
    dpB.applyRoutes({
      add: [
        { prefix: parsePrefix("10.9.1.0/26"), kind: "blackhole", nextHops: [], encap: "none" },
        { prefix: parsePrefix("10.9.1.5/32"), kind: "local", nextHops: [], encap: "none", device: podIf },
        { prefix: parsePrefix("10.9.0.0/26"), kind: "unicast", nextHops: [parseIP("192.168.77.1")], encap: "vxlan" },
      ],
      remove: [],
    });
    await dpA.settled();
    await dpB.settled();
    expect(errors).toEqual([]);
    const link = await ip("-n", A, "-d", "link", "show", "vxlan.calico");
    expect(link).toMatch(/mtu 1450/);
    expect(link).toMatch(/vxlan id 4096/);
    expect(link).toContain(vtepMac("192.168.77.1"));
    const routesB = await ip("-n", B, "route", "show", "proto", "201");
    expect(routesB).toMatch(/blackhole 10\.9\.1\.0\/26/);
    expect(routesB).toMatch(new RegExp(`10\\.9\\.1\\.5 dev ${podIf} scope link`));
    expect(routesB).toMatch(/10\.9\.0\.0\/26 via 192\.168\.77\.1 dev vxlan\.calico onlink/);
    expect(await ip("-n", A, "neigh", "show", "dev", "vxlan.calico")).toContain(vtepMac("192.168.77.2"));
    expect(await ping(A, "10.9.1.5")).toBe(true);
    // The packets went through the tunnel.
    const stats = await ip("-n", A, "-s", "link", "show", "vxlan.calico");
    const tx = Number(/TX:[^\n]*\n\s*(\d+)\s+(\d+)/.exec(stats)?.[2] ?? 0);
    expect(tx).toBeGreaterThanOrEqual(2);
  });

  test("policy: a deny-all ingress policy loaded as nftables stops the ping; without it the namespace profile lets it through", async () => {
    const endpoints = [{ kind: "workload" as const, name: "db", namespace: "shop", node: "node-b", labels: { app: "db", "projectcalico.org/namespace": "shop" }, ips: ["10.9.1.5"], profiles: ["kns.shop"] }];
    // The namespace profile allows everything (as Calico's kns.<namespace> does); the policy then denies.
    const profiles = [{ name: "kns.shop", ingress: [{ action: "Allow" as const }], egress: [{ action: "Allow" as const }] }];
    const deny: Policy = { kind: "NetworkPolicy", name: "deny-db", namespace: "shop", spec: { selector: "app == 'db'", types: ["Ingress"], ingress: [] } } as unknown as Policy;
    dpB.addWorkload({ key: "shop/db", namespace: "shop", name: "db", device: podIf, addresses: ["10.9.1.5"], mtu: 1450 });
    dpB.setPolicy(new PolicySet({ endpoints, profiles, policies: [deny] }));
    await dpB.settled();
    expect(errors).toEqual([]);
    expect(await ip("netns", "exec", B, "nft", "list", "tables")).toContain("bc-filter");
    expect(await ping(A, "10.9.1.5")).toBe(false);
    dpB.setPolicy(new PolicySet({ endpoints, profiles, policies: [] }));
    await dpB.settled();
    expect(errors).toEqual([]);
    expect(await ping(A, "10.9.1.5")).toBe(true);
  });

  test("IPIP: set up when the kernel has the module, otherwise reported clearly and routes stay native", async () => {
    const seen: DataplaneError[] = [];
    const dp = new KernelDataplane({ node: "node-a", nodeAddress: "192.168.77.1", netns: A, onError: (e) => seen.push(e) });
    dp.setTunnel({ type: "ipip", address: "10.9.0.2", mtu: 1430 });
    await dp.settled();
    if (existsSync("/sys/module/ipip")) {
      expect(seen).toEqual([]);
      expect(await ip("-n", A, "link", "show", "tunl0")).toMatch(/mtu 1430/);
    } else {
      console.warn("this kernel has no ipip module: checking the reported error instead of a tunnel");
      expect(seen.map((e) => e.message).join("\n")).toMatch(/IPIP is not available: this kernel has no ipip module/);
    }
  });

  test("a next hop behind a router is resolved recursively, as BIRD's gateway recursive does", async () => {
    // 172.31.0.5 is not on A's subnet: A reaches it through 192.168.77.2.
    await ip("-n", A, "route", "add", "172.31.0.0/24", "via", "192.168.77.2");
    dpA.applyRoutes({ add: [{ prefix: parsePrefix("10.9.5.0/26"), kind: "unicast", nextHops: [parseIP("172.31.0.5")], encap: "none" }], remove: [] });
    await dpA.settled();
    expect(errors).toEqual([]);
    expect(await ip("-n", A, "route", "show", "10.9.5.0/26")).toMatch(/via 192\.168\.77\.2 dev eth0 proto 201/);
  });

  test("close() removes our routes, the VXLAN device and the policy table, and nothing else", async () => {
    await ip("-n", B, "route", "add", "10.200.0.0/24", "via", "192.168.77.1"); // not ours
    await dpA.close();
    await dpB.close();
    expect(await ip("-n", B, "route", "show", "proto", "201")).toBe("");
    expect(await ip("-n", B, "route", "show", "10.200.0.0/24")).toContain("via 192.168.77.1");
    expect((await execa("ip", ["-n", A, "link", "show", "vxlan.calico"], { reject: false })).exitCode).not.toBe(0);
    expect(await ip("netns", "exec", B, "nft", "list", "tables")).not.toContain("bc-filter");
  });
});
