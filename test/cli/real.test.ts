// `birdcage real` without building anything: the dry-run plans, the containerlab engine refused
// where containerlab is missing (exit 2, nothing created), bad run ids and files (exit 2), ls on an
// empty state folder.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onPath } from "../../real/netns/clab.ts";
import { runCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";

const quickstart = join(repoRoot, "topologies/quickstart.yaml");

describe("birdcage real (no building)", () => {
  let dir: string;
  const saved = process.env.BIRDCAGE_STATE_DIR;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "bc-cli-real-"));
    process.env.BIRDCAGE_STATE_DIR = dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.BIRDCAGE_STATE_DIR;
    else process.env.BIRDCAGE_STATE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  test("up --dry-run prints the netns plan and creates nothing", async () => {
    const r = await runCli(["real", "up", quickstart, "--dry-run", "--run-id", "abc123", "-o", "json"]);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout) as { engine: string; namespaces: string[]; fabricBatch: string[] };
    expect(p.engine).toBe("netns");
    expect(p.namespaces).toEqual(["bc-abc123_fabric", "bc-abc123-r1", "bc-abc123-node-1", "bc-abc123-node-2", "bc-abc123-node-3", "bc-abc123-node-4"]);
    const text = await runCli(["real", "up", quickstart, "--dry-run", "--run-id", "abc123"]);
    expect(text.stdout).toContain("# ip -n bc-abc123-node-1 -batch\nlink set lo up\nlink set eth0 alias bc:abc123 up\naddr add 192.168.1.10/24 dev eth0\nroute add default via 192.168.1.1 dev eth0");
    expect(readdirSync(dir)).toEqual([]);
  });

  test("up --engine containerlab --dry-run prints the exact commands", async () => {
    const r = await runCli(["real", "up", quickstart, "--engine", "containerlab", "--dry-run", "--run-id", "abc123", "-o", "json"]);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout) as { up: string[][]; down: string[][]; file: string };
    expect(p.up.at(-1)).toEqual(["containerlab", "deploy", "-t", p.file]);
    expect(p.down[0]).toEqual(["containerlab", "destroy", "-t", p.file, "--cleanup"]);
    expect(p.file).toMatch(/\/bc-abc123\.clab\.yaml$/);
  });

  test("up --engine containerlab without containerlab on PATH: exit 2, clear message, nothing created", async () => {
    if (onPath("containerlab")) {
      console.warn("containerlab is installed here: the refusal is not tested");
      return;
    }
    const r = await runCli(["real", "up", quickstart, "--engine", "containerlab", "--run-id", "abc124"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/containerlab is not on PATH/);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("bad run ids, unknown engines and missing files are exit 2", async () => {
    for (const args of [
      ["real", "up", quickstart, "--run-id", "Bad!", "--dry-run"],
      ["real", "up", quickstart, "--engine", "docker", "--dry-run"],
      ["real", "up", join(dir, "missing.yaml"), "--dry-run"],
      ["real", "down", "x"],
    ]) {
      const r = await runCli(args);
      expect([args.join(" "), r.code]).toEqual([args.join(" "), 2]);
    }
  });

  test("ls on an empty state folder lists no runs", async () => {
    const r = await runCli(["real", "ls", "-o", "json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stateDir: dir, runs: [] });
  });
});
