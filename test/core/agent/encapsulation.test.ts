import { describe, expect, test } from "@jest/globals";
import { ClusterLab, pool } from "./cluster-lab.ts";
import { BlockOwners, encapFor, type ClusterView, type EncapContext } from "../../../src/core/agent/index.ts";
import { normalizePool } from "../../../src/core/ipam/index.ts";
import { formatPrefix, parseIP, parsePrefix, prefixContainsAddress } from "../../../src/core/net/ip.ts";

const view = (poolSpec: Record<string, unknown>, addresses: string[], extra: Partial<ClusterView> = {}): ClusterView => ({
  nodes: addresses.map((address, i) => ({ name: `node-${i + 1}`, address })),
  ipPools: [pool("10.1.0.0/16", poolSpec)],
  ...extra,
});

/** Starts the cluster, one pod per node, and returns node-1's lab with every block known. */
async function cluster(v: ClusterView) {
  const lab = new ClusterLab(v).build();
  await lab.startAll();
  await lab.run(3);
  for (const [i, n] of [...lab.nodes.keys()].entries()) await lab.node(n).agent.addPod({ name: `p${i}`, namespace: "default" });
  await lab.run(1);
  const block = (n: string) => lab.node(n).agent.status().originated[0]!;
  return { lab, block };
}

describe("encapsulation decision", () => {
  test("CrossSubnet: native to a node in our subnet, IPIP via tunl0 to one outside it", async () => {
    const { lab, block } = await cluster(view({ ipipMode: "CrossSubnet" }, ["10.0.1.1/24", "10.0.1.2/24", "10.0.2.3/24"]));
    const t = lab.table("node-1");
    expect(t).toContain(`${block("node-2")} unicast none 10.0.1.2`);
    expect(t).toContain(`${block("node-3")} unicast ipip 10.0.2.3`);
    expect(lab.node("node-1").dataplane.route(block("node-3"))?.device).toBe("tunl0");
    expect(lab.node("node-1").dataplane.route(block("node-2"))?.device).toBeUndefined();
    // node-3 is alone in its subnet: both others through the tunnel.
    expect(lab.table("node-3").filter((l) => l.includes(" ipip "))).toHaveLength(2);
    // The tunnel device: an IPAM tunnel address (inside the node's block), host MTU - 20.
    const tun = lab.node("node-1").dataplane.tunnel("ipip")!;
    expect(tun.mtu).toBe(1480);
    expect(prefixContainsAddress(parsePrefix(block("node-1")), parseIP(tun.address))).toBe(true);
    expect(lab.node("node-1").agent.pods()[0]!.mtu).toBe(1480);
  });

  test("a node address recorded as /32 makes every peer cross-subnet (Calico's pitfall)", async () => {
    const { lab, block } = await cluster(view({ ipipMode: "CrossSubnet" }, ["10.0.1.1/32", "10.0.1.2/24"]));
    expect(lab.table("node-1")).toContain(`${block("node-2")} unicast ipip 10.0.1.2`);
    expect(lab.table("node-2")).toContain(`${block("node-1")} unicast none 10.0.1.1`);
  });

  test("Always encapsulates within the subnet too; Never never does", async () => {
    const always = await cluster(view({ ipipMode: "Always" }, ["10.0.1.1/24", "10.0.1.2/24"]));
    expect(always.lab.table("node-1")).toContain(`${always.block("node-2")} unicast ipip 10.0.1.2`);
    const never = await cluster(view({ ipipMode: "Never" }, ["10.0.1.1/24", "10.0.2.2/24"]));
    expect(never.lab.table("node-1")).toContain(`${never.block("node-2")} unicast none 10.0.2.2`);
    expect(never.lab.node("node-1").dataplane.tunnels()).toEqual([]);
    expect(never.lab.node("node-1").agent.pods()[0]!.mtu).toBe(1500);
  });

  test("VXLAN pools: vxlan.calico, VNI 4096, port 4789, MTU host - 50; CrossSubnet by subnet", async () => {
    const { lab, block } = await cluster(view({ vxlanMode: "CrossSubnet" }, ["10.0.1.1/24", "10.0.1.2/24", "10.0.2.3/24"]));
    expect(lab.table("node-1")).toContain(`${block("node-3")} unicast vxlan 10.0.2.3`);
    expect(lab.table("node-1")).toContain(`${block("node-2")} unicast none 10.0.1.2`);
    expect(lab.node("node-1").dataplane.route(block("node-3"))?.device).toBe("vxlan.calico");
    expect(lab.node("node-1").dataplane.tunnel("vxlan")).toMatchObject({ type: "vxlan", vni: 4096, port: 4789, mtu: 1450 });
    expect(lab.node("node-1").dataplane.tunnel("ipip")).toBeUndefined();
  });

  test("the cluster's tunnel MTU (e.g. ICP calico_tunnel_mtu 1430) sets tunnel and pod MTU", async () => {
    const { lab } = await cluster(view({ ipipMode: "Always" }, ["10.0.1.1/24", "10.0.1.2/24"], { tunnelMTU: 1430 }));
    expect(lab.node("node-2").dataplane.tunnel("ipip")!.mtu).toBe(1430);
    expect(lab.node("node-2").dataplane.workloads()[0]!.mtu).toBe(1430);
  });

  test("IPv6 nodes and pool: /128 pod routes, v6 sessions, VXLAN CrossSubnet over vxlan-v6.calico", async () => {
    const v: ClusterView = {
      nodes: [
        { name: "node-1", addressV6: "fd00:1::1/64" },
        { name: "node-2", addressV6: "fd00:1::2/64" },
        { name: "node-3", addressV6: "fd00:2::3/64" },
      ],
      ipPools: [pool("fd10::/48", { vxlanMode: "CrossSubnet" })],
    };
    const { lab, block } = await cluster(v);
    expect(lab.established()).toBe(true);
    const pod = lab.node("node-1").agent.pods()[0]!;
    expect(pod.ips[0]).toMatch(/^fd10:/);
    expect(lab.table("node-1")).toContain(`${pod.ips[0]}/128 local none ${pod.device}`);
    expect(lab.table("node-1")).toContain(`${block("node-2")} unicast none fd00:1::2`);
    expect(lab.table("node-1")).toContain(`${block("node-3")} unicast vxlan fd00:2::3`);
    expect(lab.node("node-1").dataplane.route(block("node-3"))?.device).toBe("vxlan-v6.calico");
    expect(pod.mtu).toBe(1430);
  });

  test("encapFor: pool modes, subnets, prefixes outside pools, IPv6", () => {
    const ctx = (spec: Record<string, unknown>, cidr = "10.1.0.0/16"): EncapContext => ({
      pools: [normalizePool({ name: "p", cidr, ...spec })],
      subnets: { 4: parsePrefix("10.0.1.0/24"), 6: parsePrefix("fd00:1::/64") },
    });
    const near = [parseIP("10.0.1.9")];
    const far = [parseIP("10.0.9.9")];
    const block = parsePrefix("10.1.4.0/26");
    expect(encapFor(block, near, ctx({ ipipMode: "CrossSubnet" }))).toBe("none");
    expect(encapFor(block, far, ctx({ ipipMode: "CrossSubnet" }))).toBe("ipip");
    expect(encapFor(block, near, ctx({ ipipMode: "Always" }))).toBe("ipip");
    expect(encapFor(block, far, ctx({ vxlanMode: "Always" }))).toBe("vxlan");
    expect(encapFor(block, far, ctx({}))).toBe("none");
    // Outside every pool (an external router's prefix): native even with IPIP Always.
    expect(encapFor(parsePrefix("192.168.50.0/24"), far, ctx({ ipipMode: "Always" }))).toBe("none");
    // ECMP: one next hop outside the subnet is enough to encapsulate.
    expect(encapFor(block, [...near, ...far], ctx({ vxlanMode: "CrossSubnet" }))).toBe("vxlan");
    const v6 = ctx({ vxlanMode: "CrossSubnet" }, "fd10::/48");
    expect(encapFor(parsePrefix("fd10::/122"), [parseIP("fd00:1::5")], v6)).toBe("none");
    expect(encapFor(parsePrefix("fd10::/122"), [parseIP("fd00:2::5")], v6)).toBe("vxlan");
  });
});

describe("block owners (Felix's view of the affinities)", () => {
  test("only confirmed affinities own a block; a delete or a move to pendingDeletion drops the owner", () => {
    const owners = new BlockOwners();
    const key = "/calico/ipam/v2/host/node-2/ipv4/block/10.1.4.0-26";
    const block = parsePrefix("10.1.4.0/26");
    expect(owners.apply({ type: "put", key, value: '{"state":"pending","deleted":false}' })).toBeUndefined();
    expect(owners.owner(block)).toBeUndefined();
    expect(owners.apply({ type: "put", key, value: '{"state":"confirmed","deleted":false}' })).toEqual(block);
    expect(owners.owner(block)).toBe("node-2");
    expect(owners.owner(parsePrefix("10.1.4.5/32"))).toBeUndefined();
    expect(owners.apply({ type: "put", key, value: '{"state":"pendingDeletion","deleted":false}' })).toEqual(block);
    expect(owners.owner(block)).toBeUndefined();
    owners.apply({ type: "put", key, value: '{"state":"confirmed","deleted":false}' });
    expect(owners.apply({ type: "delete", key, value: undefined })).toEqual(block);
    expect(owners.apply({ type: "put", key: "/calico/ipam/v2/host/node-2/junk", value: "{}" })).toBeUndefined();
    expect(owners.size).toBe(0);
  });

  test("a list's state is shared by the agents that load it; later changes stay each agent's own", () => {
    const key = (host: string, block: string) => `/calico/ipam/v2/host/${host}/ipv4/block/${block.replace("/", "-")}`;
    const confirmed = '{"state":"confirmed","deleted":false}';
    const items = ["10.1.0.0/26", "10.1.0.64/26", "10.1.0.128/26"].map((b, i) => ({ key: key(`node-${i}`, b), value: confirmed }));
    const store = {};
    const list = { store, prefix: "/calico/ipam/v2/host/", revision: 7 };
    const a = new BlockOwners();
    const b = new BlockOwners();
    a.load(items, list);
    b.load(items, list);
    expect(a.owner(parsePrefix("10.1.0.64/26"))).toBe("node-1");
    // a's changes: a block of the base deleted, one moved, one added; b does not see them.
    expect(a.apply({ type: "delete", key: items[0]!.key, value: undefined })).toEqual(parsePrefix("10.1.0.0/26"));
    expect(a.apply({ type: "put", key: key("node-9", "10.1.0.64/26"), value: confirmed })).toEqual(parsePrefix("10.1.0.64/26"));
    expect(a.apply({ type: "put", key: key("node-3", "10.1.0.192/26"), value: confirmed })).toEqual(parsePrefix("10.1.0.192/26"));
    expect([a.owner(parsePrefix("10.1.0.0/26")), a.owner(parsePrefix("10.1.0.64/26")), a.owner(parsePrefix("10.1.0.192/26")), a.size]).toEqual([undefined, "node-9", "node-3", 3]);
    expect([b.owner(parsePrefix("10.1.0.0/26")), b.owner(parsePrefix("10.1.0.64/26")), b.owner(parsePrefix("10.1.0.192/26")), b.size]).toEqual(["node-0", "node-1", undefined, 3]);
    // A deleted base key stays deleted (a second delete changes nothing), and can come back.
    expect(a.apply({ type: "delete", key: items[0]!.key, value: undefined })).toBeUndefined();
    expect(a.apply({ type: "put", key: items[0]!.key, value: confirmed })).toEqual(parsePrefix("10.1.0.0/26"));
    expect(a.owner(parsePrefix("10.1.0.0/26"))).toBe("node-0");
    // node-1's key no longer owns 10.1.0.64/26 in a: its delete leaves node-9 in place.
    expect(a.apply({ type: "delete", key: items[1]!.key, value: undefined })).toBeUndefined();
    expect(a.owner(parsePrefix("10.1.0.64/26"))).toBe("node-9");
    // Loading again (a new revision) starts from the list alone.
    a.load(items.slice(1), { ...list, revision: 8 });
    expect([a.owner(parsePrefix("10.1.0.0/26")), a.owner(parsePrefix("10.1.0.64/26")), a.size]).toEqual([undefined, "node-1", 2]);
  });

  test("load + events gives what the same puts and events give one by one", () => {
    const hosts = ["n1", "n2", "n3"];
    const blocks = ["10.2.0.0/26", "10.2.0.64/26", "10.2.0.128/26", "10.2.0.192/26"];
    const values = ['{"state":"confirmed","deleted":false}', '{"state":"pending","deleted":false}', '{"state":"pendingDeletion","deleted":false}', "not json"];
    let seed = 12345;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const event = () => {
      const key = `/calico/ipam/v2/host/${hosts[rnd(3)]}/ipv4/block/${blocks[rnd(4)]!.replace("/", "-")}`;
      return rnd(4) === 0 ? { type: "delete" as const, key, value: undefined } : { type: "put" as const, key, value: values[rnd(4)]! };
    };
    for (let round = 0; round < 50; round++) {
      const listed = Array.from({ length: rnd(8) }, event).filter((e) => e.type === "put") as { type: "put"; key: string; value: string }[];
      const later = Array.from({ length: 20 }, event);
      const plain = new BlockOwners();
      for (const kv of listed) plain.apply(kv);
      const shared = new BlockOwners();
      new BlockOwners().load(listed, { store: hosts, prefix: "p", revision: round });
      shared.load(listed, { store: hosts, prefix: "p", revision: round });
      for (const e of later) {
        const x = shared.apply(e);
        const y = plain.apply(e);
        expect(x && formatPrefix(x)).toBe(y && formatPrefix(y));
        for (const b of blocks) expect(shared.owner(parsePrefix(b))).toBe(plain.owner(parsePrefix(b)));
        expect(shared.size).toBe(plain.size);
      }
    }
  });
});
