import { describe, expect, test } from "@jest/globals";
import { parse } from "yaml";
import { runCli } from "../helpers/cli.ts";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bad = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: bad }
segments:
  - { name: a, subnet: 10.0.0.0/24 }
nodes:
  - { name: n1, segment: b, address: 10.0.0.5/24 }
`;

describe("birdcage topo", () => {
  test("validate: a summary, or problems and exit 2", async () => {
    const ok = await runCli(["topo", "validate", "topologies/rack-rr.yaml"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(
      "topologies/rack-rr.yaml: topology rack-rr OK: 11 segments, 10 routers, 200 nodes (20 route reflectors), 550 BGP sessions; pools 10.244.0.0/16 (ipip CrossSubnet, vxlan Never); tunnel MTU 1480\n",
    );
    const dir = mkdtempSync(join(tmpdir(), "bc-topo-"));
    const f = join(dir, "bad.yaml");
    writeFileSync(f, bad);
    const r = await runCli(["topo", "validate", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${f}:7:26: segment: unknown segment "b" (segments: a)\n`);
    expect(r.stdout).toBe("");
  });

  test("validate --output json", async () => {
    const r = await runCli(["topo", "validate", "-o", "json", "topologies/quickstart.yaml"]);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: "quickstart", segments: 2, routers: 1, nodes: 4, bgpSessions: 6, tunnelMTU: 1430 });
  });

  test("show: tables, and json with peerings", async () => {
    const t = await runCli(["topo", "show", "topologies/quickstart.yaml"]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain("BGP SESSIONS (6)");
    expect(t.stdout).toMatch(/^r1 +seg-a=192\.168\.1\.1\/24 seg-b=192\.168\.2\.1\/24 +0 +-$/m);
    const y = await runCli(["topo", "show", "-o", "yaml", "topologies/icp.yaml"]);
    const data = parse(y.stdout) as { nodes: { name: string }[]; peerings: unknown[] };
    expect(data.nodes.map((n) => n.name)).toEqual(["master-1", "worker-1", "worker-2"]);
    expect(data.peerings).toHaveLength(3);
  });

  test("show: the table lists at most 2000 sessions", async () => {
    const t = await runCli(["topo", "show", "topologies/mesh-100.yaml"]);
    expect(t.stdout).toContain("BGP SESSIONS (4950)");
    expect(t.stdout.trimEnd().endsWith("... 2950 more (--output json|yaml lists all)")).toBe(true);
  });

  test("export json|dot|clab", async () => {
    const j = await runCli(["topo", "export", "topologies/quickstart.yaml"]);
    expect(JSON.parse(j.stdout)).toMatchObject({ kind: "Topology", metadata: { name: "quickstart" } });
    const d = await runCli(["topo", "export", "--format", "dot", "topologies/quickstart.yaml"]);
    expect(d.stdout.startsWith('graph "quickstart" {')).toBe(true);
    const c = await runCli(["topo", "export", "-f", "clab", "topologies/quickstart.yaml"]);
    const clab = parse(c.stdout) as { name: string; topology: { nodes: Record<string, unknown>; links: unknown[] } };
    expect(clab.name).toBe("quickstart");
    expect(Object.keys(clab.topology.nodes)).toHaveLength(7);
    const wrong = await runCli(["topo", "export", "-f", "svg", "topologies/quickstart.yaml"]);
    expect(wrong.code).toBe(2);
  });

  test("birdcage validate accepts topology files next to resource files", async () => {
    const r = await runCli(["validate", "topologies/quickstart.yaml", "examples/resources/icp-config.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("topologies/quickstart.yaml: topology quickstart OK (2 segments, 1 routers, 4 nodes, 6 BGP sessions)");
    const j = await runCli(["validate", "-o", "json", "topologies/quickstart.yaml"]);
    expect(JSON.parse(j.stdout).files[0]).toMatchObject({ shape: "topology", topology: { name: "quickstart" } });
  });
});
