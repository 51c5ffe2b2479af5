// `birdcage validate`: summaries, output formats, every problem as file:line:col on stderr, exit codes.
import { afterAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, spawnCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";

const ex = (name: string) => join("examples/resources", name);
const dir = mkdtempSync(join(tmpdir(), "bc-validate-"));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("birdcage validate", () => {
  test("valid files print one summary line each and exit 0", async () => {
    process.chdir(repoRoot);
    const r = await runCli(["validate", ex("calico-cluster.yaml"), ex("icp-config.yaml"), ex("kubectl-list.yaml")]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^examples\/resources\/calico-cluster\.yaml: 12 resources OK \(IPPool default-ipv4-ippool, IPPool default-ipv6-ippool, /);
    expect(lines[1]).toBe(
      "examples/resources/icp-config.yaml: ICP config OK (IPPool default-ipv4-ippool 10.1.0.0/16 blockSize 26 ipipMode Always, tunnel MTU 1430, IP autodetection interface=eth0)",
    );
    expect(lines[2]).toBe(
      "examples/resources/kubectl-list.yaml: 5 resources OK (Namespace shop, Pod shop/web-6d4cf56db6-x7k2p, Pod shop/db-0, KubernetesNetworkPolicy shop/db-from-web, KubernetesNetworkPolicy shop/web-egress)",
    );
  });

  test("--output json prints the defaulted resources with their positions", async () => {
    process.chdir(repoRoot);
    const r = await runCli(["validate", "--output", "json", ex("calico-cluster.yaml")]);
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout) as { files: { file: string; shape: string; resources: { kind: string; resource: { spec: Record<string, unknown> }; source: { line: number } }[] }[] };
    expect(data.files[0]!.shape).toBe("resources");
    const pool = data.files[0]!.resources[0]!;
    expect(pool.kind).toBe("IPPool");
    expect(pool.resource.spec.blockSize).toBe(26);
    expect(pool.source.line).toBe(2);
  });

  test("--output yaml works for ICP files too", async () => {
    process.chdir(repoRoot);
    const r = await runCli(["validate", "-o", "yaml", ex("icp-config.yaml")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("shape: icp-config");
    expect(r.stdout).toContain("tunnelMTU: 1430");
  });

  test("problems go to stderr as file:line:col: message, nothing to stdout, exit 2", async () => {
    const bad = file(
      "bad.yaml",
      "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p\nspec:\n  cidr: 10.1.0.0/16\n  blockSize: 40\n  ipipMode: Sometimes\n---\napiVersion: projectcalico.org/v3\nkind: Nope\n",
    );
    const r = await runCli(["validate", bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`${bad}:7:14: spec.blockSize: blockSize 40 is out of range for an IPv4 pool (expected 20-32)`);
    expect(lines[1]).toBe(`${bad}:8:13: spec.ipipMode: expected one of "Always", "CrossSubnet", "Never", got string "Sometimes"`);
    expect(lines[2]).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:11:7: unknown kind Nope`));
    expect(lines).toHaveLength(3);
  });

  test("pools overlapping across files are reported", async () => {
    const a = file("a.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: a}\nspec: {cidr: 10.1.0.0/16}\n");
    const b = file("b.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: b}\nspec: {cidr: 10.1.64.0/18}\n");
    const r = await runCli(["validate", a, b]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${b}:4:14: spec.cidr: IP pool 10.1.64.0/18 overlaps IPPool a (10.1.0.0/16) defined at ${a}:1:1\n`);
  });

  test("problems in several files are all reported", async () => {
    const a = file("c.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c, ports: [{containerPort: 0}]}]}\n");
    const b = file("d.yaml", "calico_tunnel_mtu: lots\n");
    const r = await runCli(["validate", a, b]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      `${a}:4:55: spec.containers[0].ports[0].containerPort: must be 1-65535`,
      `${b}:1:20: calico_tunnel_mtu: expected an MTU 68-65535, got string "lots"`,
    ]);
  });

  test("a missing file is a usage error (exit 2)", async () => {
    const r = await runCli(["validate", join(dir, "nope.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no such file");
  });

  test("no file at all is a usage error", async () => {
    expect((await runCli(["validate"])).code).toBe(2);
  });

  test("- reads standard input (as a real process)", async () => {
    const ok = await spawnCli(["validate", "-"], { input: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n" });
    expect(ok).toMatchObject({ code: 0, stdout: "<stdin>: 1 resource OK (Namespace shop)", stderr: "" });
    const bad = await spawnCli(["validate", "-"], { input: "apiVersion: v1\nkind: Namespace\nmetadata: {name: Shop}\n" });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^<stdin>:3:18: metadata\.name: /);
  });
});
