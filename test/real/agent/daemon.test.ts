// `birdcage agent` for real: two node namespaces on one segment, etcd reached over a unix socket
// (127.0.0.1 is per namespace), VXLAN Always. The agents bring up their session, a pod address is
// allocated in etcd as the CNI plugin would, the owner originates the block, the other node routes
// it through vxlan.calico and reaches a pod behind it; a policy written to etcd stops the traffic;
// SIGTERM leaves no route, device or ruleset behind.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ipam } from "../../../src/core/ipam/index.ts";
import { parseTopology } from "../../../src/topology/index.ts";
import { workloadInterfaceName } from "../../../src/core/policy/render/plan.ts";
import { EtcdDatastore } from "../../../real/datastore/etcd.ts";
import { queryControl } from "../../../real/control-socket.ts";
import { POLICY_PODS_PREFIX, POLICY_RESOURCES_PREFIX } from "../../../real/agent/daemon.ts";
import { deleteClusterResources, putClusterResources, seedCluster } from "../../../real/agent/cluster-store.ts";
import type { AnyResource } from "../../../src/core/model/index.ts";
import { describeWithEtcd, type EtcdHandle } from "../../helpers/etcd.ts";
import { addNetns, delNetns, ip, netnsUnavailable, testNetnsName } from "../../helpers/netns.ts";
import { repoRoot } from "../../helpers/paths.ts";

const A = testNetnsName("agent-a");
const B = testNetnsName("agent-b");
const POD = testNetnsName("agent-pod");
const podIf = workloadInterfaceName("shop", "db");
const TOPOLOGY = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: agent-test }
segments:
  - { name: lan, subnet: 192.168.79.0/24 }
nodes:
  - { name: node-1, segment: lan, address: 192.168.79.1/24 }
  - { name: node-2, segment: lan, address: 192.168.79.2/24 }
cluster:
  podCIDR: 10.77.0.0/16
  encapsulation: { type: vxlan, mode: Always }
  tunnelMTU: 1450
`;

/** Polls until fn() is true (every 250 ms, at most `ms`): bounded, stops on its own. */
async function until(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const ping = async (ns: string, dst: string) => (await execa("ip", ["netns", "exec", ns, "ping", "-c", "1", "-W", "1", dst], { reject: false })).exitCode === 0;

// Without root or `ip`: skipped with the reason (a failure under CI=true); without etcd likewise.
const skip = netnsUnavailable();
const describeReal = skip !== undefined && process.env.CI !== "true" ? (title: string) => (console.warn(`skipping ${title}: ${skip}`), describe.skip(title, () => undefined)) : undefined;

(describeReal ?? ((title: string) => describeWithEtcd(title, body, { unixSocket: true })))("birdcage agent in namespaces (root, ip, nft, etcd)");

function body(etcd: EtcdHandle): void {
  {
    const dir = mkdtempSync(join(tmpdir(), "bc-agent-test-"));
    const topoFile = join(dir, "topology.yaml");
    const ns = `t${process.pid}`;
    const agents: ResultPromise[] = [];
    let store: EtcdDatastore;
    let blockOfNode2 = "";

    const start = (netns: string, node: string) => {
      const p = execa("ip", ["netns", "exec", netns, process.execPath, join(repoRoot, "bin/birdcage.js"), "agent", "-t", topoFile, "-n", node, "--etcd", etcd.server().unixEndpoint!, "--etcd-namespace", ns, "-s", join(dir, `${node}.sock`), "--hold-time", "9"], { reject: false, all: true });
      agents.push(p);
      return p;
    };

    beforeAll(async () => {
      if (skip !== undefined) throw new Error(skip);
      writeFileSync(topoFile, TOPOLOGY);
      await delNetns(A, B, POD);
      for (const n of [A, B, POD]) await addNetns(n);
      await ip("-n", A, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", B);
      await ip("-n", A, "addr", "add", "192.168.79.1/24", "dev", "eth0");
      await ip("-n", B, "addr", "add", "192.168.79.2/24", "dev", "eth0");
      await ip("-n", A, "link", "set", "eth0", "up");
      await ip("-n", B, "link", "set", "eth0", "up");
      store = new EtcdDatastore({ endpoints: etcd.endpoint(), namespace: ns });
      start(A, "node-1");
      start(B, "node-2");
    }, 60_000);

    afterAll(async () => {
      for (const p of agents) p.kill("SIGKILL");
      await Promise.allSettled(agents);
      await store?.close();
      await delNetns(A, B, POD);
      rmSync(dir, { recursive: true, force: true });
    }, 30_000);

    test("the agents establish their session", async () => {
      await until("the session", async () => ((await queryControl(join(dir, "node-1.sock"), "sessions")).sessions as { state: string }[]).some((s) => s.state === "Established"));
    }, 40_000);

    test("a pod address allocated in etcd is originated by its node and routed through VXLAN by the other", async () => {
      const topology = parseTopology(TOPOLOGY, "t.yaml", { readFile: () => "" }).topology!;
      const ipam = new Ipam(store, { pools: topology.cluster.ipPools });
      const r = await ipam.autoAssign({ host: "node-2", num4: 1, handleId: "k8s-pod-network.shop.db", attrs: { pod: "db", namespace: "shop" } });
      const podIp = r.ipv4[0]!;
      blockOfNode2 = (await ipam.affineBlocks("node-2"))[0]!;
      // The pod, wired as the CNI plugin wires it.
      await ip("-n", B, "link", "add", podIf, "type", "veth", "peer", "name", "eth0", "netns", POD);
      await ip("-n", POD, "addr", "add", `${podIp}/32`, "dev", "eth0");
      await ip("-n", POD, "link", "set", "eth0", "up");
      await ip("-n", POD, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
      await ip("-n", POD, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
      await ip("-n", B, "link", "set", podIf, "address", "ee:ee:ee:ee:ee:ee", "up");
      await ip("-n", POD, "neigh", "add", "169.254.1.1", "lladdr", "ee:ee:ee:ee:ee:ee", "dev", "eth0", "nud", "permanent");
      await ip("-n", B, "route", "add", `${podIp}/32`, "dev", podIf, "scope", "link");
      await execa("ip", ["netns", "exec", B, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      await until("the block's route on node-1", async () => (await ip("-n", A, "route", "show", "proto", "201")).includes(`${blockOfNode2} via 192.168.79.2 dev vxlan.calico onlink`));
      expect(await ip("-n", B, "route", "show", "proto", "201")).toContain(`blackhole ${blockOfNode2}`);
      expect(await ip("-n", A, "-d", "link", "show", "vxlan.calico")).toMatch(/mtu 1450/);
      // Without any policy for the pod, Calico's namespace profile (kns.shop) allows it once the pod is known.
      await store.create(`${POLICY_PODS_PREFIX}shop/db`, JSON.stringify({ name: "db", namespace: "shop", node: "node-2", labels: { app: "db" }, ips: [podIp] }));
      await until("the pod answering through the tunnel", () => ping(A, podIp), 20_000);
      await store.create(
        `${POLICY_RESOURCES_PREFIX}shop/deny-db`,
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: { name: deny-db, namespace: shop }\nspec: { selector: app == 'db', types: [Ingress] }\n",
      );
      await until("the policy stopping the ping", async () => !(await ping(A, podIp)), 20_000);
    }, 90_000);

    test("the control socket counts the BGP messages each agent sent", async () => {
      const { counters } = (await queryControl(join(dir, "node-1.sock"), "counters")) as { counters: { sent: { messages: number; open: number; keepalive: number; update: number; bytes: number } } };
      expect(counters.sent.open).toBeGreaterThanOrEqual(1);
      expect(counters.sent.keepalive).toBeGreaterThanOrEqual(1);
      expect(counters.sent.update).toBeGreaterThanOrEqual(1); // End-of-RIB at least
      expect(counters.sent.messages).toBeGreaterThanOrEqual(counters.sent.open + counters.sent.keepalive + counters.sent.update);
      expect(counters.sent.bytes).toBeGreaterThanOrEqual(19 * counters.sent.messages);
    });

    test("cluster resources in etcd reconfigure the running agents: the mesh turned off ends the session, a BGPPeer brings it back", async () => {
      const topology = parseTopology(TOPOLOGY, "t.yaml", { readFile: () => "" }).topology!;
      const peers = async (node: string) => ((await queryControl(join(dir, `${node}.sock`), "cluster")).peers as string[]).join(",");
      const established = async (node: string) => ((await queryControl(join(dir, `${node}.sock`), "sessions")).sessions as { state: string }[]).filter((s) => s.state === "Established").length;
      await seedCluster(store, topology);
      // Seeded with the file's resources: nothing changes.
      expect(await peers("node-1")).toBe("192.168.79.2");
      const meshOff = { apiVersion: "projectcalico.org/v3", kind: "BGPConfiguration", metadata: { name: "default" }, spec: { nodeToNodeMeshEnabled: false, asNumber: 64512 } } as AnyResource;
      await putClusterResources(store, [meshOff]);
      await until("node-1 dropping its mesh peer", async () => (await peers("node-1")) === "");
      await until("the session gone on node-2", async () => (await established("node-2")) === 0, 20_000);
      const peer = { apiVersion: "projectcalico.org/v3", kind: "BGPPeer", metadata: { name: "node-1-to-node-2" }, spec: { node: "node-1", peerIP: "192.168.79.2", asNumber: 64512 } } as AnyResource;
      await putClusterResources(store, [peer]);
      // reversePeering Auto: node-2 mirrors the peering towards node-1.
      await until("both ends configured", async () => (await peers("node-1")) === "192.168.79.2" && (await peers("node-2")) === "192.168.79.1");
      await until("the session Established again", async () => (await established("node-1")) === 1, 30_000);
      await deleteClusterResources(store, [peer]);
      await until("the BGPPeer's session removed", async () => (await peers("node-1")) === "" && (await peers("node-2")) === "");
      // The file's BGPConfiguration back: the mesh session returns.
      await putClusterResources(store, [topology.cluster.bgpConfiguration as AnyResource]);
      await until("the mesh session back", async () => (await established("node-1")) === 1, 30_000);
    }, 120_000);

    test("an agent started while etcd does not answer does not exit: it comes up once etcd is back", async () => {
      const old = agents[1]!;
      old.kill("SIGTERM");
      expect((await old).exitCode).toBe(0);
      const pid = etcd.server().pid;
      process.kill(pid, "SIGSTOP");
      let restarted: ResultPromise;
      try {
        restarted = start(B, "node-2");
        // The control socket answers before the agent touches etcd; then its requests time out (5 s each).
        await until("the restarted agent's control socket", async () => (await queryControl(join(dir, "node-2.sock"), "status", 1_000)) !== undefined, 90_000);
        await new Promise((r) => setTimeout(r, 13_000));
      } finally {
        process.kill(pid, "SIGCONT");
      }
      await until("node-2's session Established again", async () => ((await queryControl(join(dir, "node-2.sock"), "sessions")).sessions as { state: string }[]).some((s) => s.state === "Established"), 60_000);
      restarted.kill("SIGTERM");
      const r = await restarted;
      expect(r.exitCode).toBe(0);
      // It met the stalled etcd (its first read failed), then waited or retried (start attempt N failed) instead of exiting.
      expect(String(r.all)).toMatch(/cluster view not updated: etcd unavailable/);
      expect(String(r.all)).toMatch(/agent up: 1 BGP peers configured/);
      start(B, "node-2"); // for the SIGTERM test below
      await until("node-2 answering again", async () => (await queryControl(join(dir, "node-2.sock"), "status")) !== undefined, 60_000);
    }, 240_000);

    test("SIGTERM: Cease, and every route, tunnel device and ruleset the agents wrote is gone", async () => {
      for (const p of agents) p.kill("SIGTERM");
      const results = await Promise.all(agents);
      for (const r of results) expect(r.exitCode).toBe(0);
      for (const n of [A, B]) {
        expect(await ip("-n", n, "route", "show", "proto", "201")).toBe("");
        expect((await execa("ip", ["-n", n, "link", "show", "vxlan.calico"], { reject: false })).exitCode).not.toBe(0);
        expect(String((await execa("ip", ["netns", "exec", n, "nft", "list", "tables"])).stdout)).not.toContain("bc-filter");
      }
      expect(results.map((r) => String(r.all)).join("\n")).toMatch(/SIGTERM: stopping/);
    }, 30_000);
  }
}
