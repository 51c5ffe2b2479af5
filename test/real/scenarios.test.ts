// The committed example scenarios this kernel can run, with `--mode both`: every assertion passes in
// the simulator and in network namespaces, and the two worlds agree on every verdict and on the final
// sessions and routes. Scenarios that need IPIP (no ipip module here) are reported as skipped with the
// reason. Needs root, ip, nft and etcd: skipped with the reason otherwise, failing under CI=true.
import { describe, expect, test } from "@jest/globals";
import { etcdSkipReason } from "../helpers/etcd.ts";
import { netnsUnavailable } from "../helpers/netns.ts";
import { spawnCli } from "../helpers/cli.ts";
import { ipipAvailable } from "../../real/backend.ts";

const RUNNABLE = ["vxlan-crosssubnet.yaml", "two-segments-noencap.yaml", "two-segments-bgp-router.yaml", "route-reflector-failure.yaml", "cluster-changes.yaml"];
const reason = netnsUnavailable() ?? etcdSkipReason();
const suite = reason === undefined || process.env.CI === "true" ? describe : describe.skip;
if (reason !== undefined && process.env.CI !== "true") console.warn(`skipping the example scenarios in real mode: ${reason}`);

suite("example scenarios in real mode (root, ip, nft, etcd)", () => {
  test.each(RUNNABLE)("%s: passes in both worlds, no difference", async (f) => {
    if (reason !== undefined) throw new Error(reason);
    const r = await spawnCli(["run", "--mode", "both", `scenarios/${f}`]);
    const problems = r.stdout.split("\n").filter((l) => /^\s+(FAIL|DIFF|ERROR)\s/.test(l) || /^SKIP /.test(l));
    expect({ code: r.code, problems }).toEqual({ code: 0, problems: [] });
    expect(r.stdout).toMatch(new RegExp(`^PASS ${f.replace(".yaml", "")} \\(scenarios/${f}; real,`, "m"));
    expect(r.stdout).toContain(`sim vs real for scenarios/${f}: no difference (same verdicts, probe outcomes, final sessions and routes)`);
  }, 400_000);

  test("an IPIP scenario: skipped with the reason on a kernel without ipip, run where it has one", async () => {
    if (reason !== undefined) throw new Error(reason);
    const r = await spawnCli(["run", "--mode", "real", "scenarios/two-segments-ipip.yaml"]);
    expect(r.code).toBe(0);
    if (await ipipAvailable()) expect(r.stdout).toMatch(/^PASS two-segments-ipip /m);
    else expect(r.stdout).toMatch(/^SKIP two-segments-ipip [^\n]*\n\s+skipped: IPIP is not available on this kernel/m);
  }, 400_000);
});
