// The gc decision without touching the machine: runs and observed objects in, removal plan out.
import { describe, expect, test } from "@jest/globals";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasOurPrefix, removeObjects } from "../../../real/netns/cleanup.ts";
import { classify, planGc, type Observed, type RunView } from "../../../real/netns/gc.ts";
import { createState, holderLiveness, listStates, processStartTime, readState, strayNftDirs, strayTempFiles, writeState, type RunState } from "../../../real/netns/state.ts";

const BOOT = "boot-1";
const procs = new Map<number, string>([
  [100, "5000"], // holder of the live run
  [200, "9999"], // pid 200 reused by another process (dead run's holder had start time 6000)
  [300, "7000"], // a process a dead run started, still running
]);
const probe = (pid: number) => procs.get(pid);

function state(runId: string, pid: number, startTime: string, objects: RunState["objects"], extra: Partial<RunState> = {}): RunState {
  return { version: 1, runId, engine: "netns", createdAt: "2026-11-26T00:00:00.000Z", holder: { pid, startTime, bootId: BOOT }, detached: false, objects, ...extra };
}
const view = (s: RunState) => classify({ file: `/run/birdcage/${s.runId}.json`, runId: s.runId, state: s }, probe, BOOT);

describe("run liveness", () => {
  test("alive only when the pid exists with the recorded start time on this boot", () => {
    expect(holderLiveness({ pid: 100, startTime: "5000", bootId: BOOT }, probe, BOOT)).toEqual({ alive: true });
    expect(holderLiveness({ pid: 101, startTime: "5000", bootId: BOOT }, probe, BOOT)).toEqual({ alive: false, reason: "process 101 is gone" });
    expect(holderLiveness({ pid: 200, startTime: "6000", bootId: BOOT }, probe, BOOT)).toEqual({ alive: false, reason: "pid 200 now belongs to another process" });
    expect(holderLiveness({ pid: 100, startTime: "5000", bootId: "boot-0" }, probe, BOOT)).toMatchObject({ alive: false });
  });

  test("the real probe sees this process and not a pid that does not exist", () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(2 ** 22 + 12345)).toBeUndefined();
    expect(processStartTime(-1)).toBeUndefined();
  });

  test("statuses: live, dead, detached, unreadable", () => {
    expect(view(state("live01", 100, "5000", [])).status).toBe("live");
    expect(view(state("dead01", 101, "5000", [])).status).toBe("dead");
    expect(view(state("reused", 200, "6000", [])).status).toBe("dead");
    expect(view(state("detach", 101, "5000", [], { detached: true })).status).toBe("detached");
    expect(classify({ file: "x", runId: "broken", error: "not JSON" }, probe, BOOT).status).toBe("unreadable");
  });
});

describe("gc plan", () => {
  const live = state("live01", 100, "5000", [{ kind: "netns", name: "bc-live01-n1" }, { kind: "netns", name: "bc-live01_fabric" }]);
  const dead = state("dead01", 101, "5000", [
    { kind: "netns", name: "bc-dead01_fabric" },
    { kind: "netns", name: "bc-dead01-n1" },
    { kind: "netns", name: "bc-dead01-n2" }, // intended, never created
    { kind: "link", name: "bc-s1", netns: "bc-dead01_fabric" }, // goes with its namespace
    { kind: "link", name: "bc-dead01b1" }, // root-namespace bridge, marked
    { kind: "link", name: "bc-dead01b2" }, // root-namespace bridge, created but not yet marked
    { kind: "link", name: "bc-dead01b3" }, // same name now carries another run's marker: not ours
    { kind: "process", pid: 300, startTime: "7000", command: "agent" },
    { kind: "process", pid: 200, startTime: "6500", command: "old agent" }, // pid reused: leave it
    { kind: "nft-table", family: "inet", name: "bc_dead01" },
    { kind: "file", path: "/tmp/bc-dead01.clab.yaml" },
    { kind: "dir", path: "/dev/shm/bc-dead01-etcd" }, // etcd's data dir
  ]);
  const detached = state("keep01", 102, "5000", [{ kind: "netns", name: "bc-keep01-n1" }], { detached: true });
  const observed: Observed = {
    netns: ["bc-live01-n1", "bc-live01_fabric", "bc-dead01_fabric", "bc-dead01-n1", "bc-dead01-extra", "bc-keep01-n1", "bc-nostate-n1", "bc-t-4242-x", "tscheck-a", "dead01-n1"],
    links: [
      { name: "eth0" },
      { name: "bc-dead01b1", alias: "bc:dead01" },
      { name: "bc-dead01b2" },
      { name: "bc-dead01b3", alias: "bc:live01" },
      { name: "bc-dead01x", alias: "bc:dead01" }, // found by marker only
      { name: "cali123", alias: "bc:dead01" }, // marker but no bc prefix: never
      { name: "bc-live01b1", alias: "bc:live01" },
      { name: "bc-orphnb1", alias: "bc:orphan1" },
    ],
    nftTables: [
      { family: "inet", name: "bc_dead01" },
      { family: "inet", name: "bc_live01" },
      { family: "ip", name: "filter" },
    ],
  };
  const runs: RunView[] = [view(live), view(dead), view(detached)];
  const plan = planGc(runs, observed, probe);

  test("only the dead run is removed; live and detached runs are kept with their reasons", () => {
    expect(plan.remove.map((r) => r.runId)).toEqual(["dead01"]);
    expect(plan.keep).toEqual([
      { runId: "live01", status: "live", reason: "held by live process 100" },
      { runId: "keep01", status: "detached", reason: "remove it with `birdcage real down`" },
    ]);
  });

  test("the dead run's objects: listed and present, plus bc- objects bearing its marker, nothing else", () => {
    const objs = plan.remove[0]!.objects;
    const d = (o: (typeof objs)[number]) => (o.kind === "netns" || o.kind === "link" ? `${o.kind} ${o.name}` : o.kind === "process" ? `process ${o.pid}` : o.kind === "file" || o.kind === "dir" ? `${o.kind} ${o.path}` : `${o.kind} ${"name" in o ? o.name : ""}`);
    expect(objs.map(d).sort()).toEqual(
      [
        "netns bc-dead01_fabric",
        "netns bc-dead01-n1",
        "netns bc-dead01-extra",
        "link bc-dead01b1",
        "link bc-dead01b2",
        "link bc-dead01x",
        "process 300",
        "nft-table bc_dead01",
        "file /tmp/bc-dead01.clab.yaml",
        "dir /dev/shm/bc-dead01-etcd",
      ].sort(),
    );
  });

  test("bc- objects of runs without a state file are reported, not removed; others are not even reported", () => {
    expect(plan.unowned).toEqual(["link bc-orphnb1", "netns bc-nostate-n1"]);
    const all = JSON.stringify(plan.remove);
    for (const never of ["bc-live01", "bc-keep01", "bc-t-4242-x", "tscheck-a", '"dead01-n1"', "cali123", '"filter"', "bc_live01", "bc-dead01b3"]) expect(all).not.toContain(never);
  });

  test("no dead runs: nothing to remove", () => {
    expect(planGc([view(live)], observed, probe).remove).toEqual([]);
  });
});

describe("state files", () => {
  test("exclusive creation, atomic rewrite, listing, malformed files reported", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bc-statetest-"));
    try {
      const s = state("file01", process.pid, processStartTime(process.pid)!, []);
      await createState(dir, s);
      await expect(createState(dir, s)).rejects.toThrow(/already exists/);
      s.objects.push({ kind: "netns", name: "bc-file01-n1" });
      await writeState(dir, s);
      expect((await readState(dir, "file01")) as { state: RunState }).toMatchObject({ state: { objects: [{ kind: "netns", name: "bc-file01-n1" }] } });
      writeFileSync(join(dir, "bad001.json"), "{not json");
      writeFileSync(join(dir, "bad002.json"), JSON.stringify({ runId: "bad002", objects: [] }));
      writeFileSync(join(dir, "notes.txt"), "ignored");
      writeFileSync(join(dir, `.gone01.json.${2 ** 22 + 7}.tmp`), "{}");
      const all = await listStates(dir);
      expect(all.map((x) => [x.runId, "error" in x ? x.error.slice(0, 8) : "ok"])).toEqual([
        ["bad001", "not JSON"],
        ["bad002", "holder m"],
        ["file01", "ok"],
      ]);
      expect(await strayTempFiles(dir)).toEqual([join(dir, `.gone01.json.${2 ** 22 + 7}.tmp`)]);
      expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("nft session directories of dead agents are stray; a live pid's, or a name not ours, are not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bc-test-nftdirs-"));
    try {
      const dead = 2 ** 22 + 11;
      for (const n of [`bc-nft-${dead}-AbC123`, `bc-nft-${process.pid}-xyz789`, `other-nft-${dead}-AbC123`, `bc-nft-${dead}-short`]) mkdirSync(join(dir, n));
      expect(await strayNftDirs(dir)).toEqual([join(dir, `bc-nft-${dead}-AbC123`)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("directories (etcd's data dir)", () => {
  test("only an absolute path whose last part starts with bc- (and is more than the prefix) may be removed", () => {
    expect(hasOurPrefix({ kind: "dir", path: "/dev/shm/bc-abc123-etcd" })).toBe(true);
    for (const path of ["/dev/shm/etcd", "bc-abc123-etcd", "/dev/shm/bc-", "/bc-x/../", "/tmp/bc-x/.."]) expect(hasOurPrefix({ kind: "dir", path })).toBe(false);
  });

  test("removeObjects stops what runs in a directory, deletes it with its contents; a missing one counts as removed; a foreign one is refused", async () => {
    const parent = mkdtempSync(join(tmpdir(), "bc-dir-test-"));
    try {
      const dir = join(parent, "bc-dirtest-etcd");
      mkdirSync(join(dir, "member", "wal"), { recursive: true });
      writeFileSync(join(dir, "member", "wal", "0.wal"), "x");
      const foreign = join(parent, "data");
      mkdirSync(foreign);
      // A process working in the dir (etcd in its data dir, perhaps never recorded) is stopped first;
      // one working in the foreign dir is not.
      const inside = spawn("sleep", ["60"], { cwd: join(dir, "member"), stdio: "ignore" });
      const outside = spawn("sleep", ["60"], { cwd: foreign, stdio: "ignore" });
      const insideExit = new Promise((res) => inside.once("exit", (_c, sig) => res(sig)));
      const r = await removeObjects([{ kind: "dir", path: dir }, { kind: "dir", path: join(parent, "bc-gone") }, { kind: "dir", path: foreign }]);
      expect(await insideExit).toBe("SIGTERM");
      expect(outside.exitCode === null && outside.signalCode === null).toBe(true);
      outside.kill("SIGKILL");
      expect(r.removed).toEqual([{ kind: "dir", path: dir }, { kind: "dir", path: join(parent, "bc-gone") }]);
      expect(r.failed).toEqual([{ object: { kind: "dir", path: foreign }, error: "refused: name without the bc- prefix" }]);
      expect(readdirSync(parent).sort()).toEqual(["data"]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
