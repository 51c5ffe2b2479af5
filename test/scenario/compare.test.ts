// Sim versus real: observation paths and globs, the knownDifferences schema (reason required, errors
// at file:line:col), and `birdcage run --mode both` with a stand-in real world that has one extra
// route: unlisted it fails the run, listed it is reported as known with its reason, and a listed
// entry that matched nothing is reported stale.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RouteObservation } from "../../src/scenario/backend.ts";
import { registerBackend, unregisterBackend } from "../../src/scenario/backends.ts";
import { differences, observationMatches, observationProblem, type Comparison } from "../../src/scenario/compare.ts";
import type { ScenarioResult } from "../../src/scenario/result.ts";
import { parseScenario } from "../../src/scenario/load.ts";
import { runCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";
import { ScriptedTestBackend } from "./scripted-backend.ts";

describe("observation paths", () => {
  test("a path matches itself and everything below it, not a sibling with a longer name", () => {
    expect(observationMatches("routes/node-3", "routes/node-3")).toBe(true);
    expect(observationMatches("routes/node-3", "routes/node-3/10.0.1.0/26")).toBe(true);
    expect(observationMatches("routes/node-3", "routes/node-30/10.0.1.0/26")).toBe(false);
    expect(observationMatches("routes/node-3/10.0.1.0/26", "routes/node-3/10.0.1.0/2")).toBe(false);
  });

  test("* matches any text, slashes included; regex characters are literal", () => {
    expect(observationMatches("routes/*/10.0.1.0/26", "routes/node-7/10.0.1.0/26")).toBe(true);
    expect(observationMatches("sessions/*", "sessions/r1/192.168.1.10")).toBe(true);
    expect(observationMatches("*", "assertions/anything at all")).toBe(true);
    expect(observationMatches("assertions/flow t/a -> t/b tcp/80 (x)", "assertions/flow t/a -> t/b tcp/80 (x)")).toBe(true);
    expect(observationMatches("routes/node-1/10.0.1.0/26", "routes/node-1/10x0x1x0/26")).toBe(false);
  });

  test("the first part must name a kind of observation", () => {
    expect(observationProblem("routes/node-3")).toBeUndefined();
    expect(observationProblem("*")).toBeUndefined();
    expect(observationProblem("route/node-3")).toMatch(/starts with one of assertions, probes, sessions, routes/);
    expect(observationProblem("routes/node-3/")).toMatch(/does not end with \//);
  });
});

describe("what is compared", () => {
  const result = (over: { routes?: RouteObservation[]; probes?: { name: string; outcome: string }[] }): ScenarioResult =>
    ({ scenario: { name: "s", file: "s.yaml" }, assertions: [], probes: over.probes ?? [], final: { sessions: [], routes: over.routes ?? [] } }) as unknown as ScenarioResult;
  const route = (prefix: string, encap: RouteObservation["encap"], nextHops: string[]): RouteObservation => ({ node: "node-1", prefix, kind: "unicast", nextHops, encap, source: "bgp" });

  test("a route's kind and encapsulation count, its next hops do not (the kernel holds a recursive next hop's gateway)", () => {
    const sim = result({ routes: [route("10.1.0.0/26", "vxlan", ["192.168.2.10"]), route("10.1.1.0/26", "none", ["192.168.2.11"])] });
    const real = result({ routes: [route("10.1.0.0/26", "none", ["192.168.2.10"]), route("10.1.1.0/26", "none", ["192.168.1.1"])] });
    expect(differences(sim, real)).toEqual([{ observation: "routes/node-1/10.1.0.0/26", sim: "unicast (vxlan)", real: "unicast" }]);
  });

  test("probe outcomes by name, a repeated name numbered", () => {
    const sim = result({ probes: [{ name: "big", outcome: "dropped" }, { name: "big", outcome: "fragmented" }, { name: "small", outcome: "delivered" }] });
    const real = result({ probes: [{ name: "big", outcome: "dropped" }, { name: "big", outcome: "delivered" }, { name: "small", outcome: "delivered" }] });
    expect(differences(sim, real)).toEqual([{ observation: "probes/big#2", sim: "fragmented", real: "delivered" }]);
  });
});

const topo = join(repoRoot, "topologies/quickstart.yaml");
const scenarioText = (known: string) => `apiVersion: birdcage/v1
kind: Scenario
metadata: { name: known }
topology: ${topo}
steps:
  - wait: { timeout: 10s }
  - pods: [ { name: a, namespace: t, node: node-1 }, { name: b, namespace: t, node: node-3 } ]
  - wait: { timeout: 10s }
  - assert:
      - sessions: { established: all }
      - reachable: { from: t/a, to: t/b, port: 80 }
${known}`;
const reader = { readFile: (p: string) => readFileSync(p, "utf8") };

describe("knownDifferences in the scenario file", () => {
  test("routes/ and sessions/ entries name a node or router of the topology (a glob may stand for one)", () => {
    const r = parseScenario(
      scenarioText(`knownDifferences:
  - { observation: routes/node-9/10.1.0.0/26, reason: typo }
  - { observation: sessions/r1, reason: the router }
  - { observation: routes/node-*, reason: any node }
`),
      "s.yaml",
      reader,
    );
    expect(r.problems.map((p) => `${p.line}:${p.column}: ${p.message}`)).toEqual(['13:20: knownDifferences[0].observation: routes/node-9: no node or router named "node-9" in topology quickstart']);
  });

  test("entries load with their file:line", () => {
    const r = parseScenario(scenarioText(`knownDifferences:\n  - observation: routes/node-1\n    reason: the kernel keeps a connected route\n`), "s.yaml", reader);
    expect(r.problems).toEqual([]);
    expect(r.scenario!.knownDifferences).toEqual([{ observation: "routes/node-1", reason: "the kernel keeps a connected route", source: "s.yaml:13" }]);
  });

  test("a missing or blank reason, a bad observation, an unknown field: each at file:line:col", () => {
    const r = parseScenario(
      scenarioText(`knownDifferences:
  - observation: routes/node-1
  - observation: sessions/node-2
    reason: "   "
  - { observation: route/node-1, reason: typo }
  - { observation: routes/node-1, reason: x, why: y }
`),
      "s.yaml",
      reader,
    );
    expect(r.scenario).toBeUndefined();
    expect(r.problems.map((p) => `${p.line}:${p.column}: ${p.message}`)).toEqual([
      expect.stringMatching(/^13:5: .*reason/),
      expect.stringMatching(/^15:13: .*a known difference needs a reason/),
      expect.stringMatching(/^16:20: .*starts with one of assertions, probes, sessions, routes/),
      expect.stringMatching(/^17:46: .*why/),
    ]);
  });
});

/** The real world stand-in: the scripted world plus one route on node-1 the simulator does not have. */
class ExtraRouteBackend extends ScriptedTestBackend {
  override async routes(node?: string): Promise<RouteObservation[]> {
    const list = await super.routes(node);
    if (node !== undefined && node !== "node-1") return list;
    return [...list, { node: "node-1", prefix: "10.99.0.0/24", kind: "unicast", nextHops: ["192.168.1.1"], encap: "none", source: "static" }];
  }
}

describe("birdcage run --mode both with known differences", () => {
  const dir = mkdtempSync(join(tmpdir(), "bc-known-"));
  // The CLI takes backends from the registry (a registered one wins over sim/ and real/register.ts).
  beforeAll(() => {
    registerBackend("sim", () => new ScriptedTestBackend({}));
    registerBackend("real", () => new ExtraRouteBackend({ mode: "real" }));
  });
  afterAll(() => {
    unregisterBackend("sim");
    unregisterBackend("real");
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  test("an unlisted difference fails the run, even with every assertion passing", async () => {
    const f = write("plain.yaml", scenarioText(""));
    const r = await runCli(["run", "--mode", "both", f]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.slice(-3)).toEqual([
      `sim vs real for ${f}: 1 difference, 1 unexplained`,
      "  DIFF  routes/node-1/10.99.0.0/24: sim absent, real unicast",
      "FAILED: 2 scenario runs, 8 assertions, 8 passed, 0 failed; 1 unexplained sim/real difference",
    ]);
  });

  test("a listed difference is reported as known with its reason and passes; an entry that matched nothing is stale", async () => {
    const f = write(
      "known.yaml",
      scenarioText(`knownDifferences:
  - observation: routes/node-1/10.99.*
    reason: real mode keeps the host's static route
  - observation: sessions/node-4
    reason: once flapped in real mode
`),
    );
    const r = await runCli(["run", "--mode", "both", "--report-dir", join(dir, "rep"), f]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.slice(-4)).toEqual([
      `sim vs real for ${f}: 1 difference, 1 known; 1 stale known difference`,
      `  KNOWN routes/node-1/10.99.0.0/24: sim absent, real unicast (known at ${f}:13: real mode keeps the host's static route)`,
      `  STALE known difference "sessions/node-4" at ${f}:15 matched no difference of this run (once flapped in real mode)`,
      "PASSED: 2 scenario runs, 8 assertions, 8 passed, 0 failed",
    ]);
    const report = JSON.parse(readFileSync(join(dir, "rep", "report.json"), "utf8")) as { passed: boolean; comparisons: Comparison[] };
    expect(report.passed).toBe(true);
    expect(report.comparisons).toEqual([
      {
        file: f,
        scenario: "known",
        differences: [{ observation: "routes/node-1/10.99.0.0/24", sim: "absent", real: "unicast", known: { pattern: "routes/node-1/10.99.*", reason: "real mode keeps the host's static route", source: `${f}:13` } }],
        stale: [{ observation: "sessions/node-4", reason: "once flapped in real mode", source: `${f}:15` }],
        passed: true,
      },
    ]);
  });

  test("one world alone: knownDifferences are not consulted and no comparison is made", async () => {
    const f = write("alone.yaml", scenarioText(`knownDifferences:\n  - { observation: "*", reason: everything }\n`));
    const r = await runCli(["run", "--mode", "real", f]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("sim vs real");
  });
});
