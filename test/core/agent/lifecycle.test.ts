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

describe("labels", () => {
  test("the node's labels change in the view: BGPPeer selectors follow (a node becomes a peer of the RR)", async () => {
    const base = (n2Labels: Record<string, string>): ClusterView => ({
      nodes: [
        { name: "rr", address: "10.0.0.1/24", labels: { rr: "yes" }, routeReflectorClusterID: "244.0.0.9" },
        { name: "n2", address: "10.0.0.2/24", labels: n2Labels },
      ],
      ipPools: [pool("10.1.0.0/16")],
      bgpConfiguration: { spec: { nodeToNodeMeshEnabled: false } },
      bgpPeers: [{ metadata: { name: "clients" }, spec: { nodeSelector: "role == 'client'", peerSelector: "has(rr)" } }],
    });
    const lab = new ClusterLab(base({})).build();
    await lab.startAll();
    await lab.run(2);
    expect(lab.node("n2").agent.sessions()).toEqual([]);
    for (const n of lab.nodes.values()) await n.agent.updateCluster(base({ role: "client" }));
    await lab.run(3);
    expect(lab.node("n2").agent.sessions().map((s) => `${s.peerNode} ${s.state}`)).toEqual(["rr Established"]);
    expect(lab.node("rr").agent.sessions().map((s) => `${s.peerNode} ${s.routeReflectorClient}`)).toEqual(["n2 true"]);
  });
});

describe("stop and crash", () => {
  test("stop(): Cease to the peers, they drop the node's routes at once", async () => {
    const lab = new ClusterLab({ nodes: nodes(2), ipPools: [pool("10.1.0.0/16", { vxlanMode: "Always" })] }).build();
    await lab.startAll();
    await lab.run(3);
    expect(lab.node("node-1").states).toEqual(["10.0.2.1 Idle->Active", "10.0.2.1 Active->Connect", "10.0.2.1 Connect->OpenSent", "10.0.2.1 OpenSent->OpenConfirm", "10.0.2.1 OpenConfirm->Established"]);
    const block2 = lab.node("node-2").agent.status().originated[0]!;
    expect(lab.table("node-1")).toContain(`${block2} unicast vxlan 10.0.2.1`);
    lab.node("node-2").agent.stop();
    await lab.run(1);
    expect(lab.table("node-1").some((l) => l.startsWith(block2))).toBe(false);
    expect(lab.node("node-1").agent.sessions()[0]!.state).not.toBe("Established");
    expect(lab.node("node-2").agent.isRunning).toBe(false);
    expect(lab.node("node-1").states.at(-1)).toMatch(/^10\.0\.2\.1 Established->/);
    // And up again: the same agent starts over, its block comes back.
    await lab.node("node-2").agent.start();
    await lab.run(8);
    expect(lab.established()).toBe(true);
    expect(lab.table("node-1")).toContain(`${block2} unicast vxlan 10.0.2.1`);
  });

  test("start() fails cleanly when the datastore is unavailable: not running, not listening", async () => {
    const lab = new ClusterLab({ nodes: nodes(1), ipPools: [pool("10.1.0.0/16", { ipipMode: "Always" })] }).build();
    await lab.store.close();
    await expect(lab.node("node-1").agent.start()).rejects.toThrow();
    expect(lab.node("node-1").agent.isRunning).toBe(false);
    expect(lab.node("node-1").dataplane.tunnels()).toEqual([]);
    // The BGP port is still free.
    expect(() => lab.net.transport("10.0.1.1").listen("10.0.1.1", 179, () => undefined).close()).not.toThrow();
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
