import { describe, expect, test } from "@jest/globals";
import { ClusterLab, pool } from "./cluster-lab.ts";
import { NodeAgent, policySetFor, type ClusterView } from "../../../src/core/agent/index.ts";

const view = (cidr: string, blockSize: number, n = 3): ClusterView => ({
  nodes: Array.from({ length: n }, (_, i) => ({ name: `node-${i + 1}`, address: `10.0.0.${i + 1}/24` })),
  ipPools: [pool(cidr, { blockSize, ipipMode: "Never" })],
});

async function started(v: ClusterView): Promise<ClusterLab> {
  const lab = new ClusterLab(v).build();
  await lab.startAll();
  await lab.run(3);
  return lab;
}

describe("pods", () => {
  test("a pod gets an IPAM address with Calico's handle and owner attributes, a cali interface and a local route", async () => {
    const lab = await started(view("10.1.0.0/16", 26, 1));
    const agent = lab.node("node-1").agent;
    const pod = await agent.addPod({ name: "web-0", namespace: "shop", labels: { app: "web" } });
    expect(pod.device).toMatch(/^cali[0-9a-f]{11}$/);
    const info = await agent.ipam.lookup(pod.ips[0]!);
    expect(info).toMatchObject({ allocated: true, handleId: "k8s-pod-network.shop.web-0", attributes: { namespace: "shop", pod: "web-0", node: "node-1" } });
    expect(lab.node("node-1").dataplane.lookup(pod.ips[0]!)).toMatchObject({ kind: "local", device: pod.device });
    // Adding again is idempotent (same address); removing releases it.
    expect((await agent.addPod({ name: "web-0", namespace: "shop" })).ips).toEqual(pod.ips);
    await agent.removePod({ name: "web-0", namespace: "shop" });
    expect((await agent.ipam.lookup(pod.ips[0]!)).allocated).toBe(false);
    expect(lab.node("node-1").dataplane.workloads()).toEqual([]);
    expect(lab.node("node-1").dataplane.lookup(pod.ips[0]!)?.kind).toBe("blackhole");
  });

  test("a new agent for the same node reuses the pod's existing allocation (restart)", async () => {
    const lab = await started(view("10.1.0.0/16", 26, 1));
    const first = await lab.node("node-1").agent.addPod({ name: "db", namespace: "default" });
    lab.node("node-1").agent.stop();
    const again = lab.add({ name: "node-1", address: "10.0.0.1/24" });
    await again.agent.start();
    expect((await again.agent.addPod({ name: "db", namespace: "default" })).ips).toEqual(first.ips);
  });

  test("a full block makes IPAM claim another and the other nodes learn the new block", async () => {
    // /30 blocks: 4 addresses each.
    const lab = await started(view("10.1.0.0/24", 30, 2));
    const a = lab.node("node-1").agent;
    for (let i = 0; i < 4; i++) await a.addPod({ name: `p${i}`, namespace: "default" });
    await lab.run(1);
    expect(a.status().originated).toHaveLength(1);
    const before = lab.node("node-2").agent.routes().filter((r) => r.source === "bgp").map((r) => r.prefix);
    expect(before).toEqual(a.status().originated);
    const version = lab.node("node-2").agent.routeVersion;
    const p4 = await a.addPod({ name: "p4", namespace: "default" });
    await lab.run(1);
    expect(a.status().originated).toHaveLength(2);
    const newBlock = a.status().originated.find((b) => !before.includes(b))!;
    expect(lab.table("node-2")).toContain(`${newBlock} unicast none 10.0.0.1`);
    expect(lab.node("node-2").dataplane.lookup(p4.ips[0]!)?.nextHops.length).toBe(1);
    expect(lab.node("node-2").agent.routeVersion).toBeGreaterThan(version);
    expect(lab.node("node-2").agent.lastRouteChange).toBeGreaterThan(0);
  });

  test("a borrowed address is advertised as a /32 and beats the owner's block; removing the pod withdraws it", async () => {
    // A /29 pool of /30 blocks: two blocks in all.
    const lab = await started(view("10.1.0.0/29", 30, 3));
    const [a, b, c] = ["node-1", "node-2", "node-3"].map((n) => lab.node(n).agent) as [NodeAgent, NodeAgent, NodeAgent];
    for (let i = 0; i < 4; i++) await a.addPod({ name: `a${i}`, namespace: "default" });
    await b.addPod({ name: "b0", namespace: "default" });
    const borrowed = await c.addPod({ name: "c0", namespace: "default" });
    await lab.run(1);
    expect(borrowed.borrowed).toEqual(borrowed.ips);
    const host = `${borrowed.ips[0]}/32`;
    expect(c.status().originated).toEqual([host]);
    // node-1 reaches it via node-3, not via node-2 whose block holds it; node-2 too, over its own blackhole.
    expect(lab.node("node-1").dataplane.lookup(borrowed.ips[0]!)).toMatchObject({ kind: "unicast" });
    expect(lab.table("node-1")).toContain(`${host} unicast none 10.0.0.3`);
    expect(lab.table("node-2")).toContain(`${host} unicast none 10.0.0.3`);
    // node-2 still advertises its block only as the aggregate (no /32 for its own pod).
    expect(b.status().originated).toHaveLength(1);
    expect(lab.table("node-3")).toContain(`${host} local none ${borrowed.device}`);
    await c.removePod({ name: "c0", namespace: "default" });
    await lab.run(1);
    expect(c.status().originated).toEqual([]);
    expect(lab.table("node-1").some((l) => l.startsWith(host))).toBe(false);
    expect(lab.node("node-2").dataplane.lookup(borrowed.ips[0]!)?.kind).toBe("blackhole");
  });

  test("a fixed address (ipAddrs): its block is claimed if free, else the address is borrowed and advertised as /32", async () => {
    const lab = await started(view("10.1.0.0/24", 28, 2));
    const own = await lab.node("node-1").agent.addPod({ name: "fixed", namespace: "default", ip: "10.1.0.200" });
    expect(own).toMatchObject({ ips: ["10.1.0.200"], borrowed: [] });
    await lab.run(1);
    expect(lab.node("node-1").agent.status().originated).toEqual(["10.1.0.192/28"]);
    expect(lab.table("node-2")).toContain("10.1.0.192/28 unicast none 10.0.0.1");
    const other = await lab.node("node-2").agent.addPod({ name: "fixed2", namespace: "default", ip: "10.1.0.201" });
    expect(other.borrowed).toEqual(["10.1.0.201"]);
    await lab.run(1);
    expect(lab.table("node-1")).toContain("10.1.0.201/32 unicast none 10.0.0.2");
    await expect(lab.node("node-2").agent.addPod({ name: "dup", namespace: "default", ip: "10.1.0.200" })).rejects.toThrow(/already assigned/);
    expect(lab.node("node-2").agent.pod("default", "dup")).toBeUndefined();
  });

  test("the same inputs give the same tables, byte for byte", async () => {
    const runOnce = async () => {
      const lab = await started(view("10.1.0.0/24", 28, 3));
      for (let i = 0; i < 12; i++) await lab.node(`node-${(i % 3) + 1}`).agent.addPod({ name: `p${i}`, namespace: "default" });
      await lab.node("node-2").agent.removePod({ name: "p4", namespace: "default" });
      await lab.run(2);
      return JSON.stringify([...lab.nodes.values()].map((n) => [n.agent.status(), n.dataplane.routesText(), n.dataplane.workloads()]));
    };
    const one = await runOnce();
    expect(await runOnce()).toBe(one);
    expect(one).toContain("Established");
  });
});

describe("policy", () => {
  test("policySetFor: every pod of the cluster becomes an endpoint; the agent passes the set to its dataplane", async () => {
    const lab = await started(view("10.1.0.0/16", 26, 2));
    const web = await lab.node("node-1").agent.addPod({ name: "web", namespace: "shop", labels: { app: "web" } });
    const db = await lab.node("node-2").agent.addPod({ name: "db", namespace: "shop", labels: { app: "db" } });
    const set = policySetFor(
      {
        policies: [
          {
            kind: "NetworkPolicy",
            name: "db-from-web",
            namespace: "shop",
            spec: { selector: "app == 'db'", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "TCP", source: { selector: "app == 'web'" }, destination: { ports: [5432] } }] },
          },
        ],
      },
      [web, db].map((p) => ({ name: p.name, namespace: p.namespace, node: p.node, labels: p.labels, ips: p.ips })),
    );
    lab.node("node-2").agent.setPolicy(set);
    expect(lab.node("node-2").dataplane.policy()).toBe(set);
    const flow = (from: string, port: number) => set.evaluate({ src: from, dst: db.ips[0]!, protocol: "TCP", dstPort: port });
    expect(flow(web.ips[0]!, 5432).allowed).toBe(true);
    expect(flow(web.ips[0]!, 22).allowed).toBe(false);
  });
});
