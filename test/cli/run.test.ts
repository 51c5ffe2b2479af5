import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasBackend, registerBackend, unregisterBackend } from "../../src/scenario/backends.ts";
import { runCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";
import { ScriptedTestBackend, type ScriptOptions } from "../scenario/scripted-backend.ts";

const dir = mkdtempSync(join(tmpdir(), "bc-run-"));
const topo = join(repoRoot, "topologies/quickstart.yaml");
const write = (name: string, text: string): string => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};
const scenario = (name: string, steps: string) => `apiVersion: birdcage/v1\nkind: Scenario\nmetadata: { name: ${name} }\ntopology: ${topo}\nsteps:\n${steps}`;
const good = write(
  "good.yaml",
  scenario(
    "good",
    `  - wait: { timeout: 10s }
  - pods: [ { name: a, namespace: t, node: node-1 }, { name: b, namespace: t, node: node-3 } ]
  - wait: { timeout: 10s }
  - assert:
      - sessions: { established: all }
      - reachable: { from: t/a, to: t/b, port: 80 }
`,
  ),
);
const failing = write("failing.yaml", scenario("failing", "  - pods: [ { name: a, namespace: t, node: node-1 }, { name: b, namespace: t, node: node-3 } ]\n  - assert: [ { unreachable: { from: t/a, to: t/b, port: 80 } } ]\n"));
const bad = write("bad.yaml", scenario("bad", "  - fail: { link: node-1@seg-b }\n  - wait: { timeout: 10 }\n"));

// The CLI takes backends from the registry; these tests put the scripted TEST backend there.
let created = 0;
let script: ScriptOptions = {};
const hadSim = hasBackend("sim");
beforeAll(() => registerBackend("sim", () => (created++, new ScriptedTestBackend(script))));
afterAll(() => {
  if (!hadSim) unregisterBackend("sim");
  rmSync(dir, { recursive: true, force: true });
});

describe("birdcage run", () => {
  test("--help names the options and the exit codes", async () => {
    const r = await runCli(["run", "--help"]);
    expect(r.code).toBe(0);
    for (const o of ["--seed <n>", "--report-dir <dir>", "--junit <file>", "--pcap <dir>", "--mode <mode>", "-o, --output <format>", "exit 0 all passed, 1 an assertion failed, 2 bad input"]) expect(r.stdout).toContain(o);
  });

  test("bad input: every problem as file:line:col, exit 2, nothing run", async () => {
    created = 0;
    const r = await runCli(["run", good, bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `${bad}:6:19: steps[0].fail.link: node-1 is not attached to seg-b (its links: node-1@seg-a)\n` +
        `${bad}:7:22: steps[1].wait.timeout: expected a duration such as 500ms, 5s, 2m or 1m30s\n` +
        "birdcage run: 2 problems in the input; nothing was run\n",
    );
    expect(r.stdout).toBe("");
    expect(created).toBe(0);
  });

  test("a missing file, a bad seed, a bad mode: exit 2", async () => {
    expect(await runCli(["run", join(dir, "nope.yaml")])).toMatchObject({ code: 2, stderr: `birdcage: ${join(dir, "nope.yaml")}: no such file\n` });
    expect(await runCli(["run", "--seed", "x", good])).toMatchObject({ code: 2, stderr: 'birdcage: --seed: expected a whole number 0..4294967295, got "x"\n' });
    expect((await runCli(["run", "--mode", "moon", good])).code).toBe(2);
  });

  // Once real/register.ts exists, the CLI loads it and real mode has a backend.
  const realRegisters = existsSync(join(repoRoot, "real/register.ts"));

  test("a mode with no backend: exit 2 with a clear message", async () => {
    if (realRegisters) {
      console.log("skipped: real/register.ts exists, so real mode has a backend");
      return;
    }
    const r = await runCli(["run", "--mode", "real", good]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^birdcage: no real backend available \(real\/register\.ts is missing or did not register one/);
  });

  test("all assertions pass: PASS lines, exit 0, reports and wall-clock times apart", async () => {
    script = {};
    const out = join(dir, "out");
    const r = await runCli(["run", "--report-dir", out, "--junit", join(dir, "j", "junit.xml"), "--seed", "5", good]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^PASS good \\(${good.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}; sim, seed 5, topology quickstart\\): 4 assertions, 0 failed; scenario time 1\\.8s, wall `));
    expect(lines.slice(1)).toEqual([
      "  PASS  routing converges within 10s (wait at step 1)",
      "  PASS  routing converges within 10s (wait at step 3)",
      "  PASS  no unestablished BGP sessions",
      "  PASS  flow t/a -> t/b tcp/80 succeeds",
      "PASSED: 1 scenario run, 4 assertions, 4 passed, 0 failed",
    ]);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report).toMatchObject({ passed: true, scenarios: [{ scenario: { name: "good" }, seed: 5, mode: "sim" }] });
    expect(JSON.stringify(report)).not.toContain("wall");
    expect(JSON.parse(readFileSync(join(out, "wall.json"), "utf8"))).toEqual({ runs: [{ file: good, scenario: "good", mode: "sim", wallMs: expect.any(Number) }] });
    expect(existsSync(join(out, "report.html"))).toBe(true);
    expect(readFileSync(join(dir, "j", "junit.xml"), "utf8")).toContain("<testsuite");
  });

  test("the same run twice gives the same report.json", async () => {
    script = {};
    await runCli(["run", "--report-dir", join(dir, "r1"), good]);
    await runCli(["run", "--report-dir", join(dir, "r2"), good]);
    expect(readFileSync(join(dir, "r1", "report.json"), "utf8")).toBe(readFileSync(join(dir, "r2", "report.json"), "utf8"));
  });

  test("a failed assertion: FAIL with where, expected, actual and details; exit 1", async () => {
    script = {};
    const r = await runCli(["run", good, failing]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      [
        `  FAIL  flow t/a -> t/b tcp/80 fails`,
        `        at ${failing}:7, step 2`,
        `        expected: dropped`,
        `        actual:   delivered`,
        `          node-1: sent tcp/80 to t/b`,
        `          node-3: delivered to t/b`,
      ].join("\n"),
    );
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe("FAILED: 2 scenario runs, 5 assertions, 4 passed, 1 failed");
  });

  test("--output json prints the report; yaml too", async () => {
    script = {};
    const j = await runCli(["run", "-o", "json", good]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ birdcage: "0.1.0", passed: true, scenarios: [{ assertions: expect.any(Array) }] });
    const y = await runCli(["run", "-o", "yaml", failing]);
    expect(y.code).toBe(1);
    expect(y.stdout).toMatch(/^birdcage: 0\.1\.0\npassed: false\n/);
  });

  test("--mode both needs both backends; then runs each scenario in both and names the verdicts that differ", async () => {
    if (!realRegisters) {
      const r = await runCli(["run", "--mode", "both", good]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("no real backend available");
    }
    script = {};
    registerBackend("real", () => new ScriptedTestBackend({ mode: "real", allow: () => false }));
    try {
      const both = await runCli(["run", "--mode", "both", good]);
      expect(both.code).toBe(1);
      const lines = both.stdout.trimEnd().split("\n");
      expect(lines.filter((l) => /^(PASS|FAIL) good/.test(l)).map((l) => l.slice(0, 4) + l.slice(l.indexOf(";"), l.indexOf(","))) ).toEqual(["PASS; sim", "FAIL; real"]);
      expect(lines.slice(-3)).toEqual([
        `sim vs real for ${good}: 1 difference, 1 unexplained`,
        "  DIFF  assertions/flow t/a -> t/b tcp/80 succeeds: sim PASS (delivered), real FAIL (dropped: dropped at node-3: denied by policy)",
        "FAILED: 2 scenario runs, 8 assertions, 7 passed, 1 failed; 1 unexplained sim/real difference",
      ]);
      // A real world whose sessions never come up: the final sessions and routes differ too.
      registerBackend("real", () => new ScriptedTestBackend({ mode: "real", sessionDelay: 1e9 }));
      const slow = (await runCli(["run", "--mode", "both", good])).stdout.trimEnd().split("\n");
      const at = slow.findIndex((l) => l.startsWith("sim vs real"));
      expect(slow.slice(at, at + 4)).toEqual([
        `sim vs real for ${good}: 21 differences, 21 unexplained`,  // 3 verdicts, 12 session ends, 6 routes
        "  DIFF  assertions/no unestablished BGP sessions: sim PASS (6 of 6 sessions established), real FAIL (0 of 6 sessions established)",
        "  DIFF  assertions/routing converges within 10s (wait at step 1): sim PASS (converged after 1.5s), real FAIL (not converged after 10s)",
        "  DIFF  assertions/routing converges within 10s (wait at step 3): sim PASS (converged after 300ms), real FAIL (not converged after 10s)",
      ]);
      expect(slow).toContain("  DIFF  sessions/node-1/192.168.1.11: sim Established, real Active");
      expect(slow).toContainEqual(expect.stringMatching(/^  DIFF  routes\/node-1\/10\.1\.2\.0\/26: sim unicast( \(ipip\))?, real absent$/));
    } finally {
      unregisterBackend("real");
    }
  });
});

describe("birdcage validate with scenario files", () => {
  test("a summary, or problems and exit 2", async () => {
    const ok = await runCli(["validate", good]);
    expect(ok).toMatchObject({ code: 0, stdout: `${good}: scenario good OK (topology quickstart, 4 steps, 2 assertions)\n` });
    const r = await runCli(["validate", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:6:19: steps[0].fail.link`);
    const j = await runCli(["validate", "-o", "json", good]);
    expect(JSON.parse(j.stdout)).toEqual({ files: [{ file: good, shape: "scenario", scenario: { name: "good", topology: "quickstart", steps: 4, assertions: 2 } }] });
  });
});
