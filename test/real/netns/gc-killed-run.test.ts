// `birdcage run --mode real` killed with SIGKILL, then `birdcage real gc`: nothing of the killed run
// remains (namespaces, links, nft tables, agents, etcd, its data dir, sockets, the state file), and a
// live run sharing the state directory is left alone and still passes. Two ways to die: the run
// process alone (what the OOM killer or `kill -9 PID` does: its agents and etcd live on, orphaned),
// and its whole process group (Ctrl-\ in a terminal: the children die with it, their files stay).
// Needs root, ip, nft and etcd: skipped with the reason otherwise, failing under CI=true.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ramDir } from "../../../real/etcd-server.ts";
import { listNetns } from "../../../real/netns/cleanup.ts";
import { observe } from "../../../real/netns/gc.ts";
import { runOfLinkMarker } from "../../../real/netns/names.ts";
import { listStates, processStartTime, type RunState } from "../../../real/netns/state.ts";
import { etcdSkipReason } from "../../helpers/etcd.ts";
import { netnsUnavailable } from "../../helpers/netns.ts";
import { repoRoot } from "../../helpers/paths.ts";

const reason = netnsUnavailable() ?? etcdSkipReason();
const suite = reason === undefined || process.env.CI === "true" ? describe : describe.skip;
if (reason !== undefined && process.env.CI !== "true") console.warn(`skipping the kill -9 + gc test of real runs: ${reason}`);

const TOPOLOGY = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: gc-killed }
segments:
  - { name: lan, subnet: 192.168.91.0/24 }
nodes:
  - { name: node-1, segment: lan, address: 192.168.91.10/24 }
  - { name: node-2, segment: lan, address: 192.168.91.11/24 }
cluster:
  podCIDR: 10.91.0.0/16
  encapsulation: { type: vxlan, mode: CrossSubnet }
`;

/** The victims: pods made, then ten minutes of nothing (they are killed long before). */
const VICTIM = `apiVersion: birdcage/v1
kind: Scenario
metadata: { name: gc-victim }
topology: topology.yaml
steps:
  - wait: { timeout: 120s }
  - pods: { perNode: 1, namespace: demo }
  - advance: 10m
`;

/** The survivor: still running while gc runs, then checks that its pods still reach each other. */
const SURVIVOR = `apiVersion: birdcage/v1
kind: Scenario
metadata: { name: gc-survivor }
topology: topology.yaml
steps:
  - wait: { timeout: 120s }
  - pods: { perNode: 1, namespace: demo }
  - wait: { timeout: 60s }
  - advance: 40s
  - assert:
      - sessions: { established: all }
      - reachable: { from: demo/pod-node-1-1, to: demo/pod-node-2-1, protocol: icmp }
      - reachable: { from: demo/pod-node-2-1, to: demo/pod-node-1-1, protocol: tcp, port: 8080 }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Started {
  child: ResultPromise;
  output: () => string;
}

function startRun(scenario: string, stateDir: string, detached: boolean): Started {
  const child = execa(process.execPath, [join(repoRoot, "bin/birdcage.js"), "run", "--mode", "real", scenario], {
    env: { BIRDCAGE_STATE_DIR: stateDir, NO_COLOR: "1" },
    reject: false,
    all: true,
    cwd: repoRoot,
    detached, // its own process group, so the test can kill the group as a terminal would
  });
  let all = "";
  child.all?.on("data", (b: Buffer) => (all = (all + b.toString()).slice(-20_000)));
  return { child, output: () => all };
}

/** The state file of the run held by `pid`, once it lists etcd, an agent per node and both pods' namespaces, which exist. */
async function waitForRun(stateDir: string, s: Started, what: string): Promise<RunState> {
  const pid = s.child.pid!;
  const end = Date.now() + 240_000;
  for (;;) {
    if (s.child.exitCode !== null) throw new Error(`${what} exited early: ${s.output()}`);
    const st = (await listStates(stateDir)).flatMap((x) => ("state" in x && x.state.holder.pid === pid ? [x.state] : []))[0];
    if (st !== undefined) {
      const procs = st.objects.filter((o) => o.kind === "process");
      const pods = st.objects.flatMap((o) => (o.kind === "netns" && o.name.includes("_pod") ? [o.name] : []));
      const etcd = procs.some((o) => o.command.startsWith("etcd"));
      const agents = procs.filter((o) => / agent /.test(o.command)).length;
      if (etcd && agents === 2 && pods.length === 2) {
        const ready = await Promise.all(pods.map(async (p) => (await execa("ip", ["-n", p, "link", "show", "eth0"], { reject: false })).exitCode === 0));
        if (ready.every(Boolean)) return st;
      }
    }
    if (Date.now() > end) throw new Error(`${what}: no pods after 240 s: ${s.output()}`);
    await sleep(500);
  }
}

/** Live pids whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(text) && processStartTime(Number(e)) !== undefined) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

const etcdDirOf = (run: string) => join(ramDir() ?? tmpdir(), `bc-${run}-etcd`);
const filesOf = (run: string) =>
  [tmpdir(), ramDir() ?? tmpdir()].flatMap((d) => readdirSync(d).filter((f) => f.startsWith(`bc-${run}-`)).map((f) => join(d, f)));

/** Everything of `run` that exists on the machine, as short texts (empty when nothing is left). */
async function leftovers(run: string, stateDir: string): Promise<string[]> {
  const o = await observe();
  return [
    ...(await listNetns()).filter((n) => n.startsWith(`bc-${run}-`) || n.startsWith(`bc-${run}_`)).map((n) => `netns ${n}`),
    ...o.links.filter((l) => runOfLinkMarker(l.alias) === run).map((l) => `link ${l.name}`),
    ...o.nftTables.filter((t) => t.name === `bc_${run}`).map((t) => `nft table ${t.name}`),
    ...processesMentioning(run).map((p) => `process ${p}`),
    ...filesOf(run).map((f) => `file ${f}`),
    ...(existsSync(join(stateDir, `${run}.json`)) ? [`state file ${run}.json`] : []),
  ];
}

suite("birdcage real gc after `birdcage run --mode real` is killed with SIGKILL", () => {
  let dir: string;
  let stateDir: string;
  let survivor: Started | undefined;
  const victims: { how: "pid" | "group"; s: Started; state?: RunState }[] = [];
  let survivorState: RunState | undefined;

  beforeAll(async () => {
    if (reason !== undefined) throw new Error(reason);
    dir = mkdtempSync(join(tmpdir(), "bc-gc-killed-"));
    stateDir = join(dir, "state");
    writeFileSync(join(dir, "topology.yaml"), TOPOLOGY);
    writeFileSync(join(dir, "victim.yaml"), VICTIM);
    writeFileSync(join(dir, "survivor.yaml"), SURVIVOR);
    for (const how of ["pid", "group"] as const) victims.push({ how, s: startRun(join(dir, "victim.yaml"), stateDir, how === "group") });
    for (const v of victims) v.state = await waitForRun(stateDir, v.s, `victim (${v.how})`);
    survivor = startRun(join(dir, "survivor.yaml"), stateDir, false);
    survivorState = await waitForRun(stateDir, survivor, "survivor");
  }, 600_000);

  afterAll(async () => {
    for (const v of victims) if (v.s.child.exitCode === null) v.s.child.kill("SIGKILL");
    if (survivor !== undefined && survivor.child.exitCode === null) survivor.child.kill("SIGTERM");
    await Promise.all([...victims.map((v) => v.s.child), ...(survivor ? [survivor.child] : [])].map((c) => c.catch(() => undefined)));
    if (dir !== undefined) {
      await execa(process.execPath, [join(repoRoot, "bin/birdcage.js"), "real", "gc"], { env: { BIRDCAGE_STATE_DIR: stateDir }, reject: false, cwd: repoRoot });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test("the run's state file records etcd's data dir and every process it spawned, with start times", () => {
    for (const v of victims) {
      const st = v.state!;
      expect(st.objects).toContainEqual({ kind: "dir", path: etcdDirOf(st.runId) });
      const procs = st.objects.filter((o) => o.kind === "process");
      expect(procs.map((p) => (p.command.startsWith("etcd") ? "etcd" : / agent .* -n (node-\d)/.exec(p.command)?.[1])).sort()).toEqual(["etcd", "node-1", "node-2"]);
      for (const p of procs) expect(p.startTime).toMatch(/^\d+$/);
    }
  });

  test("SIGKILL: of the process alone the agents and etcd live on; of the group only the namespaces and files stay; gc removes all of it and leaves the live run alone", async () => {
    for (const v of victims) {
      if (v.how === "group") process.kill(-v.s.child.pid!, "SIGKILL");
      else v.s.child.kill("SIGKILL");
      const r = await v.s.child;
      expect(r.signal).toBe("SIGKILL");
    }
    // What a kill leaves: everything, for the next gc to find.
    const [byPid, byGroup] = victims as [(typeof victims)[number], (typeof victims)[number]];
    await sleep(500); // a killed group's members are reaped by init
    const pidRun = byPid.state!.runId;
    const groupRun = byGroup.state!.runId;
    const alive = (st: RunState) => st.objects.filter((o) => o.kind === "process" && processStartTime(o.pid) === o.startTime).length;
    expect(alive(byPid.state!)).toBe(3); // etcd and both agents, orphaned
    expect(alive(byGroup.state!)).toBe(0);
    for (const run of [pidRun, groupRun]) {
      expect(existsSync(etcdDirOf(run))).toBe(true);
      expect((await leftovers(run, stateDir)).filter((l) => l.startsWith("netns")).length).toBeGreaterThan(2);
    }
    // Short-lived helpers of the live run (`ip -n bc-…` polls) come and go: compare the lasting objects.
    const lasting = async (run: string) => (await leftovers(run, stateDir)).filter((l) => !l.startsWith("process"));
    const survivorBefore = await lasting(survivorState!.runId);

    const gc = await execa(process.execPath, [join(repoRoot, "bin/birdcage.js"), "real", "gc", "--output", "json"], { env: { BIRDCAGE_STATE_DIR: stateDir }, reject: false, cwd: repoRoot });
    expect({ code: gc.exitCode, stderr: gc.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const report = JSON.parse(String(gc.stdout)) as { removed: { runId: string; failed: unknown[] }[]; kept: { runId: string; status: string }[] };
    expect(report.removed.map((r) => r.runId).sort()).toEqual([pidRun, groupRun].sort());
    expect(report.removed.flatMap((r) => r.failed)).toEqual([]);
    expect(report.kept).toContainEqual(expect.objectContaining({ runId: survivorState!.runId, status: "live" }));

    expect(await leftovers(pidRun, stateDir)).toEqual([]);
    expect(await leftovers(groupRun, stateDir)).toEqual([]);
    // The live run: every namespace, process, socket and its etcd data dir as before.
    expect(survivor!.child.exitCode).toBeNull();
    expect(await lasting(survivorState!.runId)).toEqual(survivorBefore);
    expect(alive(survivorState!)).toBe(3);
    expect(existsSync(etcdDirOf(survivorState!.runId))).toBe(true);
  }, 120_000);

  test("the live run finishes and passes after the gc (its agents, etcd and pods were not touched)", async () => {
    const r = await survivor!.child;
    expect({ code: r.exitCode, out: String(r.all ?? "") }).toEqual({ code: 0, out: expect.stringMatching(/^PASS gc-survivor /m) });
    expect(await leftovers(survivorState!.runId, stateDir)).toEqual([]);
  }, 300_000);
});
