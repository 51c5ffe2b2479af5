// The README opens with two commands: the quickstart (birdcage's main job on embedded defaults) and
// the test suite. The first's birdcage part runs here as written (its report directory moved to a
// temporary one); the second is exactly what .ci/run is.
import { describe, expect, test } from "@jest/globals";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
const commands = firstBlock.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));

describe("README set-up commands", () => {
  test("there are two: the quickstart and the test suite", () => {
    expect(commands).toHaveLength(2);
    expect(commands[0]).toMatch(/^bash scripts\/setup\.sh --quick && npx birdcage run /);
    expect(commands[1]).toBe("sudo bash .ci/run");
    expect(existsSync(join(repoRoot, ".ci/run"))).toBe(true);
  });

  test("the quickstart's birdcage command runs on embedded defaults and every assertion passes", async () => {
    const args = commands[0]!.split("npx birdcage ")[1]!.trim().split(/\s+/);
    const dir = mkdtempSync(join(tmpdir(), "bc-readme-"));
    try {
      const i = args.indexOf("--report-dir");
      if (i >= 0) args[i + 1] = dir;
      const r = await spawnCli(args);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^PASS quickstart /m);
      expect(r.stdout).not.toMatch(/^\s*FAIL /m);
      if (i >= 0) for (const f of ["report.json", "junit.xml", "report.html"]) expect(existsSync(join(dir, f))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
