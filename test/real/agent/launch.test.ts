// The precompiled launchers real mode starts agents and CNI plugin runs with: the bundle behaves as
// the tsx launchers do (same help text, same exit codes, same CNI VERSION answer).
import { describe, expect, test } from "@jest/globals";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_DIR, launcher } from "../../../real/agent/launch.ts";
import { repoRoot } from "../../helpers/paths.ts";

const run = (script: string, args: string[], env: Record<string, string> = {}, input = "") =>
  execa(process.execPath, [script, ...args], { reject: false, env, input, timeout: 60_000 });

describe("real/agent/launch", () => {
  test("the CLI bundle is written under node_modules/.cache, named by its hash, and reused", async () => {
    const l = await launcher("cli");
    expect(l.bundled).toBe(true);
    expect(l.script.startsWith(BUNDLE_DIR)).toBe(true);
    expect(l.script).toMatch(/cli-[0-9a-f]{16}\.mjs$/);
    expect(existsSync(l.script)).toBe(true);
    expect(await launcher("cli")).toBe(l);
  }, 60_000);

  test("the bundled CLI answers as bin/birdcage.js does: agent --help, and a usage error is exit 2", async () => {
    const { script } = await launcher("cli");
    const [a, b] = await Promise.all([run(script, ["agent", "--help"]), run(join(repoRoot, "bin", "birdcage.js"), ["agent", "--help"])]);
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toContain("birdcage agent");
    const bad = await run(script, ["agent", "-t", "/nonexistent.yaml", "-n", "node-1"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("/nonexistent.yaml: no such file");
  }, 90_000);

  test("the bundled CNI plugin answers VERSION as bin/birdcage-cni does", async () => {
    const { script, bundled } = await launcher("cni");
    expect(bundled).toBe(true);
    const [a, b] = await Promise.all([run(script, [], { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.0.0"}'), run(join(repoRoot, "bin", "birdcage-cni"), [], { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.0.0"}')]);
    expect(a.exitCode).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
    expect(JSON.parse(a.stdout).supportedVersions).toContain("1.0.0");
  }, 90_000);
});
