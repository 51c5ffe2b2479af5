// Every committed example scenario runs in the simulator, as `birdcage run` runs it, and every one of
// its assertions passes (the broken designs among them assert their breakage: unreachable pods, the
// MTU black hole). One test per file, so a failure names the scenario and prints what failed.
import { describe, expect, test } from "@jest/globals";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";

const files = readdirSync(join(repoRoot, "scenarios"))
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe("example scenarios in the simulator", () => {
  test("there are the scenarios issue 5 asks for", () => {
    for (const f of ["quickstart.yaml", "single-segment-mesh.yaml", "two-segments-ipip.yaml", "two-segments-noencap.yaml", "two-segments-bgp-router.yaml", "vxlan-crosssubnet.yaml", "mtu-1430.yaml", "mtu-too-large.yaml", "route-reflector-failure.yaml", "policy-truth-table.yaml", "cluster-1000.yaml"]) {
      expect(files).toContain(f);
    }
  });

  test.each(files)("%s passes", async (f) => {
    const r = await runCli(["run", join("scenarios", f)]);
    const failures = r.stdout.split("\n").filter((l) => /^\s+FAIL\s/.test(l) || /^\s+(expected|actual):/.test(l));
    expect({ code: r.code, stderr: r.stderr, failures }).toEqual({ code: 0, stderr: "", failures: [] });
    expect(r.stdout).toMatch(new RegExp(`^PASS ${f.replace(".yaml", "")} `, "m"));
  }, 300_000);
});
