// Runs that die: `birdcage real up` killed with kill -9 leaves its namespaces, and `birdcage real gc`
// removes exactly those — not a live run's, not a detached run's, not a namespace without our
// prefix, not a bc- namespace of a run it knows nothing about. SIGTERM tears a run down at once.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetnsBuilder, type World } from "../../../real/netns/build.ts";
import { listNetns, pidsInNetns } from "../../../real/netns/cleanup.ts";
import { runCli } from "../../helpers/cli.ts";
import { addNetns, delNetns, testNetnsName } from "../../helpers/netns.ts";
import { repoRoot } from "../../helpers/paths.ts";
import { topologyFromText, twoSegments } from "./topo.ts";
import { describeWithNetnsAndPing } from "./skip.ts";

const d = describeWithNetnsAndPing("real/netns gc tests");
const tag = process.pid.toString(16).slice(-4).padStart(4, "0");

/** Starts `birdcage real up` as a child process; resolves once it reports the run is up. */
async function startUp(args: string[], dir: string): Promise<{ child: ResultPromise }> {
  const child = execa(process.execPath, [join(repoRoot, "bin/birdcage.js"), "real", "up", ...args], { env: { BIRDCAGE_STATE_DIR: dir }, reject: false, cwd: repoRoot });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`real up did not come up: ${stderr}`)), 90_000);
    child.stderr!.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (/is up;|detached;/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then((r) => {
      clearTimeout(timer);
      if (!/is up;|detached;/.test(stderr)) reject(new Error(`real up exited ${r.exitCode}: ${stderr}`));
    });
  });
  return { child }; // wrapped: an execa process is a thenable, returning it would wait for its exit
}

const ofRun = async (run: string) => (await listNetns()).filter((n) => n.startsWith(`bc-${run}-`) || n.startsWith(`bc-${run}_`));

d("birdcage real gc after kill -9", () => {
  let dir: string;
  let live: World | undefined;
  const savedDir = process.env.BIRDCAGE_STATE_DIR;
  const deadRun = `kill${tag}`;
  const detachedRun = `dtch${tag}`;
  const foreign = `nbc-t-${process.pid}-gc`;
  const stray = testNetnsName("gcstray");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bc-gc-test-"));
    process.env.BIRDCAGE_STATE_DIR = dir;
    live = await new NetnsBuilder({ stateDir: dir, signals: false }).build(topologyFromText(twoSegments(2, "live")), { runId: `live${tag}` });
    await addNetns(foreign);
    await addNetns(stray);
    const { child } = await startUp(["topologies/quickstart.yaml", "--run-id", deadRun], dir);
    child.kill("SIGKILL");
    const r = await child;
    expect(r.signal).toBe("SIGKILL");
    await (await startUp(["topologies/quickstart.yaml", "--run-id", detachedRun, "--detach"], dir)).child;
  });

  afterAll(async () => {
    await live?.teardown();
    await delNetns(foreign, stray);
    // whatever a failed test left of this suite's own runs
    await runCli(["real", "down", deadRun, "--force"]);
    await runCli(["real", "down", detachedRun, "--force"]);
    if (savedDir === undefined) delete process.env.BIRDCAGE_STATE_DIR;
    else process.env.BIRDCAGE_STATE_DIR = savedDir;
    rmSync(dir, { recursive: true, force: true });
  });

  test("kill -9 leaves the run's namespaces and its state file; real ls calls it dead", async () => {
    expect((await ofRun(deadRun)).length).toBe(6);
    expect(existsSync(join(dir, `${deadRun}.json`))).toBe(true);
    const ls = await runCli(["real", "ls", "--output", "json"]);
    expect(ls.code).toBe(0);
    const runs = (JSON.parse(ls.stdout) as { runs: { runId: string; status: string; reason: string; namespacesPresent: number }[] }).runs;
    expect(runs.find((r) => r.runId === deadRun)).toMatchObject({ status: "dead", namespacesPresent: 6 });
    expect(runs.find((r) => r.runId === deadRun)!.reason).toMatch(/is gone/);
    expect(runs.find((r) => r.runId === live!.runId)).toMatchObject({ status: "live" });
    expect(runs.find((r) => r.runId === detachedRun)).toMatchObject({ status: "detached" });
  });

  test("gc --dry-run lists the dead run's objects and removes nothing", async () => {
    const r = await runCli(["real", "gc", "--dry-run", "--output", "json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { dryRun: boolean; removed: { runId: string; objects: string[] }[]; kept: { runId: string }[]; unowned: string[] };
    expect(out.dryRun).toBe(true);
    expect(out.removed.map((x) => x.runId)).toEqual([deadRun]);
    expect(out.removed[0]!.objects.sort()).toEqual((await ofRun(deadRun)).map((n) => `netns ${n}`).sort());
    expect(out.kept.map((k) => k.runId).sort()).toEqual([detachedRun, live!.runId].sort());
    expect((await ofRun(deadRun)).length).toBe(6);
    expect(existsSync(join(dir, `${deadRun}.json`))).toBe(true);
  });

  test("gc removes the dead run only: live and detached runs, a non-bc namespace and an unknown bc- namespace stay", async () => {
    const before = new Set(await listNetns());
    // A process the dead run left running in one of its namespaces (an agent, say): without stopping
    // it, the namespace would outlive `ip netns del`.
    const orphan = execa("ip", ["netns", "exec", `bc-${deadRun}-node-1`, "sleep", "300"], { reject: false });
    for (let i = 0; i < 200 && pidsInNetns([`bc-${deadRun}-node-1`]).length === 0; i++) await new Promise((res) => setTimeout(res, 25));
    expect(pidsInNetns([`bc-${deadRun}-node-1`]).map((p) => p.pid)).toEqual([orphan.pid]);
    const r = await runCli(["real", "gc"]);
    expect(r.code).toBe(0);
    expect((await orphan).signal).toBe("SIGTERM");
    expect(r.stdout).toMatch(new RegExp(`run ${deadRun} \\(process \\d+ is gone\\): removed 6 object`));
    expect(await ofRun(deadRun)).toEqual([]);
    expect(existsSync(join(dir, `${deadRun}.json`))).toBe(false);
    const after = new Set(await listNetns());
    for (const n of before) if (!n.startsWith(`bc-${deadRun}`)) expect([n, after.has(n)]).toEqual([n, true]);
    for (const n of [foreign, stray, ...live!.plan.namespaces]) expect(after.has(n)).toBe(true);
    expect((await ofRun(detachedRun)).length).toBe(6);
    // the live run still works
    expect((await live!.exec("n1", "ping", ["-n", "-c", "1", "-W", "1", "10.92.2.11"], { reject: false })).exitCode).toBe(0);
    // and a second gc has nothing to do
    expect((await runCli(["real", "gc"])).stdout).toMatch(/no dead runs/);
  });

  test("real down refuses a live run without --force, removes a detached one", async () => {
    const refused = await runCli(["real", "down", live!.runId]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/held by live process/);
    expect((await runCli(["real", "down", "nosuch1"])).code).toBe(2);
    const r = await runCli(["real", "down", detachedRun]);
    expect(r.code).toBe(0);
    expect(await ofRun(detachedRun)).toEqual([]);
    expect(existsSync(join(dir, `${detachedRun}.json`))).toBe(false);
  });

  test("SIGINT while `real up` is still building: the build stops or finishes, and nothing of the run is left", async () => {
    const run = `intr${tag}`;
    const file = join(dir, "twenty.yaml");
    writeFileSync(file, twoSegments(20, "twenty"));
    const child = execa(process.execPath, [join(repoRoot, "bin/birdcage.js"), "real", "up", file, "--run-id", run], { env: { BIRDCAGE_STATE_DIR: dir }, reject: false, cwd: repoRoot });
    // As soon as the state file exists the build has begun.
    for (let i = 0; i < 2400 && !existsSync(join(dir, `${run}.json`)) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 25));
    child.kill("SIGINT");
    const r = await child;
    expect([0, 1]).toContain(r.exitCode);
    expect(String(r.stderr)).toMatch(/SIGINT/);
    if (r.exitCode === 1) expect(String(r.stderr)).toMatch(/interrupted by SIGINT/);
    expect(await ofRun(run)).toEqual([]);
    expect(existsSync(join(dir, `${run}.json`))).toBe(false);
  });

  test("a process that exits (normally, or by an uncaught exception) without teardown takes its namespaces with it", async () => {
    for (const [run, ending] of [[`exit${tag}`, "process.exit(0)"], [`thrw${tag}`, "throw new Error('boom')"]] as const) {
      const script = join(dir, `${run}.mts`);
      writeFileSync(
        script,
        `import { NetnsBuilder } from ${JSON.stringify(join(repoRoot, "real/netns/build.ts"))};
import { topologyFromText, twoSegments } from ${JSON.stringify(join(repoRoot, "test/real/netns/topo.ts"))};
const w = await new NetnsBuilder({ stateDir: ${JSON.stringify(dir)}, signals: false }).build(topologyFromText(twoSegments(2, "exit")), { runId: ${JSON.stringify(run)} });
console.log(w.plan.namespaces.join(" "));
${ending};
`,
      );
      const r = await execa(process.execPath, ["--import", "tsx", script], { cwd: repoRoot, reject: false });
      expect([run, r.exitCode === 0]).toEqual([run, ending.startsWith("process.exit")]);
      expect(String(r.stdout).split(" ")).toContain(`bc-${run}-n1`); // it was built
      expect(await ofRun(run)).toEqual([]);
      expect(existsSync(join(dir, `${run}.json`))).toBe(false);
    }
  });

  test("SIGTERM to a foreground `real up` tears the run down and exits 0", async () => {
    const run = `term${tag}`;
    const { child } = await startUp(["topologies/quickstart.yaml", "--run-id", run], dir);
    expect((await ofRun(run)).length).toBe(6);
    child.kill("SIGTERM");
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(String(r.stderr)).toMatch(new RegExp(`SIGTERM: run ${run} torn down`));
    expect(await ofRun(run)).toEqual([]);
    expect(existsSync(join(dir, `${run}.json`))).toBe(false);
  });
});
