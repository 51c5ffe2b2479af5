// NetnsBuilder for real (root + iproute2): quickstart pings within a segment and across the router,
// link and host down/up, MTUs as configured (and an MTU black hole), nothing left after teardown,
// namespaces that already exist refused without touching them.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execa } from "execa";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetnsBuilder, type World } from "../../../real/netns/build.ts";
import { listNetns, pidsInNetns } from "../../../real/netns/cleanup.ts";
import { MTU_TOPOLOGY, quickstart, topologyFromText } from "./topo.ts";
import { describeWithNetnsAndPing } from "./skip.ts";

const d = describeWithNetnsAndPing("real/netns builder tests");

async function ping(w: World, from: string, to: string, extra: string[] = []): Promise<{ ok: boolean; out: string }> {
  const r = await w.exec(from, "ping", ["-n", "-c", "1", "-W", "1", ...extra, to], { reject: false, timeoutMs: 10_000 });
  return { ok: r.exitCode === 0, out: r.stdout + r.stderr };
}

async function mtu(ns: string, dev: string): Promise<{ mtu: number; flags: string[] }> {
  const r = await execa("ip", ["-n", ns, "-j", "link", "show", "dev", dev]);
  const [l] = JSON.parse(String(r.stdout)) as { mtu: number; flags: string[] }[];
  return l!;
}

/** Everything of a run visible on the machine: namespaces and root-namespace links marked with it. */
async function leftovers(runId: string): Promise<string[]> {
  const ns = (await listNetns()).filter((n) => n.includes(runId));
  const links = JSON.parse(String((await execa("ip", ["-j", "link", "show"])).stdout)) as { ifname: string; ifalias?: string }[];
  return [...ns, ...links.filter((l) => l.ifalias === `bc:${runId}` || l.ifname.includes(runId)).map((l) => l.ifname)];
}

d("NetnsBuilder: quickstart", () => {
  let dir: string;
  let world: World | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bc-netns-test-"));
    world = await new NetnsBuilder({ stateDir: dir, signals: false }).build(quickstart());
  });

  afterAll(async () => {
    await world?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  test("one namespace per node and router plus the fabric, all listed in the state file", async () => {
    const w = world!;
    const present = new Set(await listNetns());
    for (const ns of w.plan.namespaces) expect(present.has(ns)).toBe(true);
    expect(w.ns("node-1")).toBe(`bc-${w.runId}-node-1`);
    const listed = w.owner.state.objects.filter((o) => o.kind === "netns").map((o) => (o as { name: string }).name);
    expect(listed.sort()).toEqual([...w.plan.namespaces].sort());
    expect(w.owner.state.holder.pid).toBe(process.pid);
    expect(() => w.ns("nope")).toThrow(/no node or router named nope/);
  });

  test("ping within a segment and across the router", async () => {
    const w = world!;
    const same = await ping(w, "node-1", "192.168.1.11");
    expect(same).toMatchObject({ ok: true });
    expect(same.out).toMatch(/ttl=64/);
    const across = await ping(w, "node-1", "192.168.2.11");
    expect(across).toMatchObject({ ok: true });
    expect(across.out).toMatch(/ttl=63/); // one routed hop: r1
    expect((await ping(w, "node-4", "192.168.1.1")).ok).toBe(true);
    expect((await w.exec("r1", "sysctl", ["-n", "net.ipv4.ip_forward"])).stdout.trim()).toBe("1");
    expect((await w.exec("node-1", "sysctl", ["-n", "net.ipv4.ip_forward"])).stdout.trim()).toBe("0");
  });

  test("nothing is created in the root namespace; the element sees only lo and eth0", async () => {
    const w = world!;
    // The run's namespaces and nothing else: no root-namespace link carries its name or marker.
    expect((await leftovers(w.runId)).sort()).toEqual([...w.plan.namespaces].sort());
    const links = JSON.parse((await w.exec("node-1", "ip", ["-j", "link", "show"])).stdout) as { ifname: string; ifalias?: string }[];
    expect(links.map((l) => l.ifname)).toEqual(["lo", "eth0"]);
    expect(links[1]!.ifalias).toBe(`bc:${w.runId}`);
  });

  test("latency: netem on both ends when the kernel has it, otherwise a note says it is not applied", async () => {
    const w = world!;
    const q = (await w.exec("node-1", "tc", ["qdisc", "show", "dev", "eth0"])).stdout;
    if (w.notes.some((n) => /latency, loss and bandwidth are not applied/.test(n))) {
      expect(q).not.toMatch(/netem/);
    } else {
      expect(q).toMatch(/netem .*delay 50us/);
      expect(String((await execa("tc", ["-n", w.fabric, "qdisc", "show", "dev", w.plan.elements[1]!.interfaces[0]!.fabricPort])).stdout)).toMatch(/netem .*delay 50us/);
    }
  });

  test("setLinkDown and setHostDown cut traffic; up again restores it (routes survive)", async () => {
    const w = world!;
    await w.setLinkDown("node-2", "seg-a", true);
    expect((await mtu(w.ns("node-2"), "eth0")).flags).toContain("NO-CARRIER");
    expect((await ping(w, "node-1", "192.168.1.11")).ok).toBe(false);
    await w.setLinkDown("node-2", "seg-a", false);
    expect((await ping(w, "node-1", "192.168.1.11")).ok).toBe(true);
    await w.setHostDown("r1", true);
    expect((await ping(w, "node-1", "192.168.2.11")).ok).toBe(false);
    await w.setHostDown("r1", false);
    expect((await ping(w, "node-1", "192.168.2.11")).ok).toBe(true);
    await expect(w.setLinkDown("node-1", "seg-b", true)).rejects.toThrow(/not attached to seg-b/);
  });

  test("teardown stops processes inside the run's namespaces, then leaves no namespace, link or state file", async () => {
    const w = world!;
    // One started through the World (recorded in the state file), one behind its back (found in /proc).
    const tracked = w.spawn("node-1", "sleep", ["300"], { reject: false });
    const untracked = execa("ip", ["netns", "exec", w.ns("node-2"), "sleep", "300"], { reject: false });
    for (let i = 0; i < 200 && pidsInNetns([w.ns("node-1"), w.ns("node-2")]).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect(pidsInNetns([w.ns("node-1"), w.ns("node-2")]).map((p) => p.pid).sort()).toEqual([tracked.pid, untracked.pid].sort());
    for (let i = 0; i < 200 && !w.owner.state.objects.some((o) => o.kind === "process"); i++) await new Promise((r) => setTimeout(r, 25));
    expect(w.owner.state.objects.find((o) => o.kind === "process")).toMatchObject({ pid: tracked.pid, command: "sleep 300", netns: w.ns("node-1") });
    const r = await w.teardown();
    expect((await tracked).signal).toBe("SIGTERM");
    expect((await untracked).signal).toBe("SIGTERM");
    expect(r.failed).toEqual([]);
    expect(await leftovers(w.runId)).toEqual([]);
    expect(existsSync(w.owner.file)).toBe(false);
    // idempotent
    expect((await w.teardown()).failed).toEqual([]);
  });
});

d("NetnsBuilder: MTUs and links that start down", () => {
  let dir: string;
  let world: World | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bc-netns-test-"));
    world = await new NetnsBuilder({ stateDir: dir, signals: false }).build(topologyFromText(MTU_TOPOLOGY));
  });

  afterAll(async () => {
    await world?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  test("segment MTU on the bridge and both veth ends; a link's own MTU overrides it", async () => {
    const w = world!;
    const a1 = w.plan.elements.find((e) => e.name === "a1")!.interfaces[0]!;
    const b1 = w.plan.elements.find((e) => e.name === "b1")!.interfaces[0]!;
    expect((await mtu(w.ns("a1"), "eth0")).mtu).toBe(1400);
    expect((await mtu(w.fabric, a1.fabricPort)).mtu).toBe(1400);
    expect((await mtu(w.fabric, "bc-s1")).mtu).toBe(1400);
    expect((await mtu(w.fabric, "bc-s2")).mtu).toBe(1500);
    expect((await mtu(w.ns("b1"), "eth0")).mtu).toBe(1300);
    expect((await mtu(w.fabric, b1.fabricPort)).mtu).toBe(1300);
    expect((await mtu(w.ns("r1"), "eth1")).mtu).toBe(1500);
  });

  test("full-size DF packets pass at the MTU; a larger one is refused; a 1400-byte packet into b1's 1300 link is lost", async () => {
    const w = world!;
    expect((await ping(w, "a1", "10.91.1.11", ["-M", "do", "-s", "1372"])).ok).toBe(true); // 1400 bytes
    const big = await ping(w, "a1", "10.91.1.11", ["-M", "do", "-s", "1373"]);
    expect(big.ok).toBe(false);
    expect(big.out).toMatch(/message too long|mtu=1400/i);
    expect((await ping(w, "a1", "10.91.2.10", ["-M", "do", "-s", "1272"])).ok).toBe(true); // 1300 bytes through r1
    expect((await ping(w, "a1", "10.91.2.10", ["-M", "do", "-s", "1372"])).ok).toBe(false); // MTU black hole
  });

  test("a link with down: true starts without carrier and comes up with setLinkDown(false)", async () => {
    const w = world!;
    expect((await mtu(w.ns("b2"), "eth0")).flags).toContain("NO-CARRIER");
    expect((await ping(w, "b1", "10.91.2.11")).ok).toBe(false);
    await w.setLinkDown("b2", "seg-b", false);
    expect((await ping(w, "b1", "10.91.2.11")).ok).toBe(true);
    expect((await w.exec("r1", "ip", ["route", "show", "10.99.0.0/16"])).stdout).toMatch(/via 10\.91\.2\.20/);
  });
});

d("NetnsBuilder: IPv6", () => {
  test("IPv6-only segments: ping within a segment and across the router", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bc-netns-test-"));
    const t = topologyFromText(`
apiVersion: birdcage/v1
kind: Topology
metadata: { name: v6 }
segments:
  - { name: s1, subnetV6: "fd00:91:1::/64" }
  - { name: s2, subnetV6: "fd00:91:2::/64" }
routers:
  - { name: r, interfaces: [{ segment: s1, addressV6: "fd00:91:1::1/64" }, { segment: s2, addressV6: "fd00:91:2::1/64" }] }
nodes:
  - { name: a, segment: s1, addressV6: "fd00:91:1::10/64", gateway: "fd00:91:1::1" }
  - { name: b, segment: s1, addressV6: "fd00:91:1::11/64", gateway: "fd00:91:1::1" }
  - { name: c, segment: s2, addressV6: "fd00:91:2::10/64", gateway: "fd00:91:2::1" }
`);
    const w = await new NetnsBuilder({ stateDir: dir, signals: false }).build(t);
    try {
      expect((await ping(w, "a", "fd00:91:1::11")).ok).toBe(true);
      const across = await ping(w, "a", "fd00:91:2::10");
      expect(across.ok).toBe(true);
      expect(across.out).toMatch(/ttl=63/);
    } finally {
      await w.teardown();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

d("NetnsBuilder: refusals and failures", () => {
  test("a command that fails half-way (static route onto a connected subnet): error names it, everything made so far is removed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bc-netns-test-"));
    const t = topologyFromText(MTU_TOPOLOGY.replace("{ prefix: 10.99.0.0/16, via: 10.91.2.20 }", "{ prefix: 10.91.2.0/24, via: 10.91.1.20 }"));
    const runId = `f${process.pid.toString(16).padStart(5, "0")}`.slice(0, 8);
    try {
      const e = await new NetnsBuilder({ stateDir: dir, signals: false }).build(t, { runId }).catch((x: unknown) => x as Error);
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message).toMatch(/router r1: ip -n bc-\w+-r1 -batch - failed at "route add 10\.91\.2\.0\/24 via 10\.91\.1\.20"/);
      expect((e as Error).message).toMatch(/was removed/);
      expect(await leftovers(runId)).toEqual([]);
      expect(existsSync(join(dir, `${runId}.json`))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a namespace with one of the run's names that already exists is not ours: refused, left alone, nothing created", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bc-netns-test-"));
    const runId = `x${process.pid.toString(16).padStart(5, "0")}`.slice(0, 8);
    const squatter = `bc-${runId}-node-2`;
    await execa("ip", ["netns", "add", squatter]);
    try {
      await expect(new NetnsBuilder({ stateDir: dir, signals: false }).build(quickstart(), { runId })).rejects.toThrow(/already exist and are not ours/);
      const left = (await listNetns()).filter((n) => n.includes(runId));
      expect(left).toEqual([squatter]);
      expect(existsSync(join(dir, `${runId}.json`))).toBe(false);
    } finally {
      await execa("ip", ["netns", "del", squatter], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
