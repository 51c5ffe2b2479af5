import { describe, expect, test } from "@jest/globals";
import { ClusterLab, pool } from "./cluster-lab.ts";
import type { ClusterView } from "../../../src/core/agent/index.ts";

const nodes = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `node-${i + 1}`, address: `10.0.${i + 1}.1/24` }));

describe("cluster changes", () => {
  test("a node joins and leaves: the others add and remove the mesh session and its routes", async () => {
    const two: ClusterView = { nodes: nodes(2), ipPools: [pool("10.1.0.0/16", { ipipMode: "Always" })] };
    const three: ClusterView = { ...two, nodes: nodes(3) };
    const lab = new ClusterLab(two).build();
    await lab.startAll();
    await lab.run(3);
    const n3 = lab.add(three.nodes[2]!, { cluster: three });
    for (const n of ["node-1", "node-2"]) await lab.node(n).agent.updateCluster(three);
    await n3.agent.start();
    await lab.run(3);
    expect(lab.established()).toBe(true);
    expect(lab.node("node-1").agent.sessions().map((s) => s.peerNode)).toEqual(["node-2", "node-3"]);
    const block3 = n3.agent.status().originated[0]!;
    expect(lab.table("node-1")).toContain(`${block3} unicast ipip 10.0.3.1`);
    await lab.node("node-1").agent.updateCluster(two);
    await lab.run(1);
    expect(lab.node("node-1").agent.sessions().map((s) => s.peerNode)).toEqual(["node-2"]);
    expect(lab.table("node-1").some((l) => l.startsWith(block3))).toBe(false);
    // node-2 still has node-3 (its view was not changed).
    expect(lab.table("node-2")).toContain(`${block3} unicast ipip 10.0.3.1`);
  });

  test("a pool's mode changes from Never to CrossSubnet: routes re-decided, tunnel device created", async () => {
    const never: ClusterView = { nodes: [...nodes(2), { name: "node-3", address: "10.0.1.3/24" }], ipPools: [pool("10.1.0.0/16", { ipipMode: "Never" })] };
    const lab = new ClusterLab(never).build();
    await lab.startAll();
    await lab.run(3);
    for (const n of lab.nodes.keys()) await lab.node(n).agent.addPod({ name: `p-${n}`, namespace: "default" });
    await lab.run(1);
    const block = (n: string) => lab.node(n).agent.status().originated[0]!;
    expect(lab.table("node-1")).toContain(`${block("node-2")} unicast none 10.0.2.1`);
    expect(lab.node("node-1").dataplane.tunnels()).toEqual([]);
    const cross: ClusterView = { ...never, ipPools: [pool("10.1.0.0/16", { ipipMode: "CrossSubnet" })] };
    await lab.node("node-1").agent.updateCluster(cross);
    expect(lab.table("node-1")).toContain(`${block("node-2")} unicast ipip 10.0.2.1`);
    expect(lab.table("node-1")).toContain(`${block("node-3")} unicast none 10.0.1.3`);
    expect(lab.node("node-1").dataplane.tunnel("ipip")).toMatchObject({ mtu: 1480 });
    expect(lab.node("node-1").agent.podMTU()).toBe(1480);
  });
});

describe("stop and crash", () => {
  test("stop(): Cease to the peers, they drop the node's routes at once", async () => {
    const lab = new ClusterLab({ nodes: nodes(2), ipPools: [pool("10.1.0.0/16", { vxlanMode: "Always" })] }).build();
    await lab.startAll();
    await lab.run(3);
    expect(lab.node("node-1").states).toEqual(["10.0.2.1 Idle->Active", "10.0.2.1 Active->OpenSent", "10.0.2.1 OpenSent->OpenConfirm", "10.0.2.1 OpenConfirm->Established"]);
    const block2 = lab.node("node-2").agent.status().originated[0]!;
    expect(lab.table("node-1")).toContain(`${block2} unicast vxlan 10.0.2.1`);
    lab.node("node-2").agent.stop();
    await lab.run(1);
    expect(lab.table("node-1").some((l) => l.startsWith(block2))).toBe(false);
    expect(lab.node("node-1").agent.sessions()[0]!.state).not.toBe("Established");
    expect(lab.node("node-2").agent.isRunning).toBe(false);
    expect(lab.node("node-1").states.at(-1)).toMatch(/^10\.0\.2\.1 Established->/);
  });

  test("crash and restart under graceful restart: the peers keep the routes throughout", async () => {
    const lab = new ClusterLab({ nodes: nodes(2), ipPools: [pool("10.1.0.0/16", { ipipMode: "Always" })] }).build();
    await lab.startAll();
    await lab.run(3);
    const block2 = lab.node("node-2").agent.status().originated[0]!;
    const route = `${block2} unicast ipip 10.0.2.1`;
    expect(lab.table("node-1")).toContain(route);
    const version = lab.node("node-1").agent.routeVersion;
    lab.net.crash("10.0.2.1");
    lab.node("node-2").agent.stop(); // the dead process: nothing reaches the peer
    await lab.run(10);
    expect(lab.table("node-1")).toContain(route);
    expect(lab.node("node-1").agent.sessions()[0]!.state).not.toBe("Established");
    lab.net.revive("10.0.2.1");
    const again = lab.add({ name: "node-2", address: "10.0.2.1/24" }, { gracefulRestart: { restarting: true } });
    await again.agent.start();
    await lab.run(10);
    expect(lab.established()).toBe(true);
    expect(again.agent.status().originated).toEqual([block2]);
    expect(lab.table("node-1")).toContain(route);
    expect(lab.node("node-1").agent.speaker.routes().find((r) => r.prefix === block2)?.stale).toBe(false);
    // The route never changed on node-1: no flap through the restart.
    expect(lab.node("node-1").agent.routeVersion).toBe(version);
  });
});
