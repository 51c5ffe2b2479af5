// The whole tree type-checks with tsc, and src/core type-checks under Deno: the core's promise of
// running anywhere (no node: imports, explicit .ts specifiers) is checked, not assumed.
import { describe, expect, test } from "@jest/globals";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./helpers/paths.ts";

const run = promisify(execFile);

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tsFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("toolchain", () => {
  test("tsc --noEmit passes on the whole project", async () => {
    const r = await run(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", repoRoot], {
      cwd: repoRoot,
    }).catch((e: { stdout: string; code: number }) => e);
    expect("stdout" in r ? r.stdout : "").toBe("");
  });

  test("deno check passes on src/core", async () => {
    const r = await run(join(repoRoot, "node_modules/.bin/deno"), ["check", "--quiet", "src/core/"], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: "1" },
    }).catch((e: { stderr: string; code: number }) => e);
    expect("code" in r ? r.stderr : "").toBe("");
  });

  test("src/core imports nothing from node: and nothing outside src/core", () => {
    const offenders: string[] = [];
    const core = join(repoRoot, "src/core");
    for (const file of tsFiles(core)) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^\s*(?:import|export)[^;]*?from\s+["']([^"']+)["']/gm)) {
        const spec = m[1] ?? "";
        const escapes = spec.startsWith(".") && !join(file, "..", spec).startsWith(core);
        if (spec.startsWith("node:") || escapes) offenders.push(`${relative(repoRoot, file)}: ${spec}`);
      }
      if (/\b(process|Deno|require)\s*\./.test(text.replace(/\/\/.*$/gm, ""))) offenders.push(`${relative(repoRoot, file)}: uses a runtime global`);
    }
    expect(offenders).toEqual([]);
  });
});
