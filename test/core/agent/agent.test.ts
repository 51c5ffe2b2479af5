import { describe, expect, test } from "@jest/globals";
import { ClusterLab, pool } from "./cluster-lab.ts";
import type { ClusterView } from "../../../src/core/agent/index.ts";

const three = (poolSpec: Record<string, unknown>, addresses = ["10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/24"]): ClusterView => ({
  nodes: addresses.map((address, i) => ({ name: `node-${i + 1}`, address })),
  ipPools: [pool("10.1.0.0/16", poolSpec)],
});

describe("node-to-node mesh", () => {
  test("three nodes peer in a mesh and exchange their blocks", async () => {
    const lab = new ClusterLab(three({ ipipMode: "Never" })).build();
    await lab.startAll();
    await lab.run(3);
    expect(lab.established()).toBe(true);
    for (const n of lab.nodes.values()) expect(n.agent.sessions().map((s) => `${s.peer} ${s.type} ${s.source} ${s.state}`)).toHaveLength(2);
    expect(lab.node("node-1").agent.sessions().map((s) => `${s.peer} ${s.peerNode} ${s.type} ${s.source} passive=${s.passive}`)).toEqual([
      "10.0.0.2 node-2 iBGP mesh passive=false",
      "10.0.0.3 node-3 iBGP mesh passive=false",
    ]);
    const pods = [];
    for (const [i, name] of ["node-1", "node-2", "node-3"].entries()) pods.push(await lab.node(name).agent.addPod({ name: `web-${i}`, namespace: "default" }));
    await lab.run(1);
    const blocks = ["node-1", "node-2", "node-3"].map((n) => lab.node(n).agent.status().originated);
    for (const b of blocks) expect(b).toHaveLength(1);
    // Each node: its own block as a blackhole, its pod as a local /32, the two others' blocks via their address.
    const t1 = lab.table("node-1");
    expect(t1).toContain(`${blocks[0]![0]} blackhole none`);
    expect(t1).toContain(`${pods[0]!.ips[0]}/32 local none ${pods[0]!.device}`);
    expect(t1).toContain(`${blocks[1]![0]} unicast none 10.0.0.2`);
    expect(t1).toContain(`${blocks[2]![0]} unicast none 10.0.0.3`);
    expect(t1).toHaveLength(4);
    expect(lab.node("node-1").dataplane.workload("default/web-0")).toMatchObject({ device: pods[0]!.device, addresses: pods[0]!.ips, mtu: 1500 });
    // Route sources as the agent reports them.
    expect(lab.node("node-1").agent.routes().map((r) => r.source).sort()).toEqual(["bgp", "bgp", "ipam", "workload"]);
  });
});
