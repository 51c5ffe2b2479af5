// `birdcage ipam plan|check|show` end to end: plan on the in-memory datastore, check and show
// against a private etcd that the test seeds through the real allocator.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtcdDatastore } from "../../real/datastore/etcd.ts";
import { Ipam } from "../../src/core/ipam/index.ts";
import { runCli } from "../helpers/cli.ts";
import { describeWithEtcd } from "../helpers/etcd.ts";
import { repoRoot } from "../helpers/paths.ts";

const json = async (args: string[]) => {
  const r = await runCli([...args, "--output", "json"]);
  return { ...r, data: r.stdout ? JSON.parse(r.stdout) : undefined };
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bc-ipam-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe("ipam plan", () => {
  test("a /16 pool with /26 blocks has exactly 1,024 blocks; a small cluster fits", async () => {
    const r = await json(["ipam", "plan", "--pool", "10.1.0.0/16", "--nodes", "10", "--pods-per-node", "100"]);
    expect(r.code).toBe(0);
    expect(r.data).toMatchObject({
      pool: "10.1.0.0/16",
      blockSize: 26,
      totalBlocks: 1024,
      nodes: 10,
      podsPerNode: 100,
      blocksClaimed: 20,
      allocated: 1000,
      borrowed: 0,
      failed: 0,
      blocksPerNode: { min: 2, max: 2 },
      exhaustedAtNode: null,
    });
  });

  test("without strict affinity, the node that finds no free block borrows", async () => {
    // 4 blocks of 64; 3 nodes of 100 pods: node 3 finds no block of its own.
    const r = await json(["ipam", "plan", "--pool", "10.2.0.0/24", "--nodes", "3", "--pods-per-node", "80"]);
    expect(r.data.exhaustedAtNode).toBe(3);
    expect(r.data.borrowed).toBeGreaterThan(0);
    expect(r.data.allocated + r.data.failed).toBe(240);
    expect(r.data.allocated).toBe(240);
    expect(r.code).toBe(0);
  });

  test("with strict affinity nothing is borrowed, the failure says no free blocks, and the check fails", async () => {
    const r = await json(["ipam", "plan", "--pool", "10.2.0.0/24", "--nodes", "3", "--pods-per-node", "80", "--strict-affinity"]);
    expect(r.code).toBe(1);
    expect(r.data).toMatchObject({ borrowed: 0, exhaustedAtNode: 3, failed: 80 });
    const table = await runCli(["ipam", "plan", "--pool", "10.2.0.0/24", "--nodes", "3", "--pods-per-node", "80", "--strict-affinity"]);
    expect(table.stdout).toMatch(/no free blocks/);
    expect(table.stdout).toMatch(/use a pool of \/23 or larger/);
  });

  test("the table explains a healthy plan in one sentence", async () => {
    const r = await runCli(["ipam", "plan", "--nodes", "100", "--pods-per-node", "110"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/OK: 10\.1\.0\.0\/16 is big enough\. 100 nodes × 110 pods use 200 of 1,024 \/26 blocks/);
  });

  test("encapsulation gives every node a tunnel address", async () => {
    const r = await json(["ipam", "plan", "--pool", "10.3.0.0/16", "--nodes", "4", "--pods-per-node", "64", "--encapsulation", "vxlan"]);
    expect(r.data).toMatchObject({ allocated: 4 * 65, blocksClaimed: 8, encapsulation: "vxlan" });
  });

  test("-f takes the pool from an ICP config.yaml (ipip: tunnel addresses)", async () => {
    const r = await json(["ipam", "plan", "-f", join(repoRoot, "examples/resources/icp-config.yaml"), "--nodes", "2", "--pods-per-node", "10"]);
    expect(r.code).toBe(0);
    expect(r.data).toMatchObject({ pool: "10.1.0.0/16", encapsulation: "ipip", allocated: 22 });
  });

  test("-f takes the pool and IPAMConfiguration from Calico resources", async () => {
    const f = file(
      "pool.yaml",
      `apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: p}
spec: {cidr: 10.9.0.0/24, blockSize: 27}
---
apiVersion: projectcalico.org/v3
kind: IPAMConfiguration
metadata: {name: default}
spec: {strictAffinity: true, maxBlocksPerHost: 2}
`,
    );
    const r = await json(["ipam", "plan", "-f", f, "--nodes", "2", "--pods-per-node", "70"]);
    expect(r.data).toMatchObject({ blockSize: 27, totalBlocks: 8, strictAffinity: true, maxBlocksPerHost: 2, blockLimitAtNode: 1 });
    expect(r.code).toBe(1);
  });

  test("bad input is exit 2 with a clear message", async () => {
    const bad = await runCli(["ipam", "plan", "--pool", "10.1.0.1/16", "--nodes", "1", "--pods-per-node", "1"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/host bits set; did you mean 10\.1\.0\.0\/16/);
    expect((await runCli(["ipam", "plan", "--nodes", "x", "--pods-per-node", "1"])).code).toBe(2);
    expect((await runCli(["ipam", "plan", "--pods-per-node", "1"])).code).toBe(2);
    const cap = await runCli(["ipam", "plan", "--nodes", "1", "--pods-per-node", "1", "--max-blocks-per-host", "3"]);
    expect(cap).toMatchObject({ code: 2 });
    expect(cap.stderr).toMatch(/needs --strict-affinity/);
    const yaml = file("broken.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/8, blockSize: 40}\n");
    const r = await runCli(["ipam", "plan", "-f", yaml, "--nodes", "1", "--pods-per-node", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`broken\\.yaml:4:\\d+: .*blockSize`));
  });
});

describeWithEtcd("ipam check and show against etcd", (etcd) => {
  const namespace = `ipamcli${process.pid}`;
  let store: EtcdDatastore;
  let pod1 = "";
  beforeAll(async () => {
    store = new EtcdDatastore({ endpoints: etcd.endpoint(), namespace });
    const ipam = new Ipam(store, { pools: [{ name: "p", cidr: "10.5.0.0/24" }] });
    [pod1 = ""] = (await ipam.autoAssign({ host: "node-1", handleId: "k8s-pod-network.a", num4: 1, attrs: { namespace: "default", pod: "web-1" } })).ipv4;
    await ipam.autoAssign({ host: "node-1", handleId: "k8s-pod-network.b", num4: 1, attrs: { namespace: "default", pod: "gone" } });
  });
  // The etcd is private to this file and removed with its data when the block ends.
  afterAll(() => store.close());
  const common = () => ["--etcd", etcd.endpoint(), "--etcd-namespace", namespace];

  test("show lists the block and one address's owner", async () => {
    const blocks = await json(["ipam", "show", ...common()]);
    expect(blocks.data.blocks).toEqual([expect.objectContaining({ cidr: "10.5.0.0/26", host: "node-1", inUse: 2 })]);
    const ip = await runCli(["ipam", "show", ...common(), "--ip", pod1.split("/")[0] ?? ""]);
    expect(ip.stdout).toMatch(/is in use[\s\S]*Handle ID: k8s-pod-network\.a[\s\S]*pod:web-1/);
    const free = await runCli(["ipam", "show", ...common(), "--ip", "10.5.0.60"]);
    expect(free.stdout).toMatch(/is not currently assigned/);
  });

  test("check without pods is consistent; with the live pods it reports the leak and fails", async () => {
    const ok = await runCli(["ipam", "check", ...common()]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/IPAM is consistent/);
    const pods = file(
      "pods.yaml",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: default}\nspec: {nodeName: node-1, containers: [{name: c, image: nginx}]}\n",
    );
    const leak = await json(["ipam", "check", ...common(), "-f", pods]);
    expect(leak.code).toBe(1);
    expect(leak.data.leaked).toEqual([expect.objectContaining({ pod: "gone", handleId: "k8s-pod-network.b" })]);
  });

  test("an unreachable etcd is a clear error", async () => {
    const r = await runCli(["ipam", "show", "--etcd", "http://127.0.0.1:9", "--etcd-namespace", namespace]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot reach etcd/);
  });
});
