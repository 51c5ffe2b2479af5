// A backend that cannot run a scenario on this machine (real mode's BackendUnavailable, e.g. no IPIP
// in the kernel) gets the scenario reported skipped with its reason; any other start error still fails it.
import { describe, expect, test } from "@jest/globals";
import { BackendUnavailable } from "../../real/backend.ts";
import { loadScenario, runScenario } from "../../src/scenario/index.ts";
import { parityLines } from "../../src/cli/commands/run.ts";
import { ScriptedTestBackend } from "./scripted-backend.ts";

const topology = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: one }
segments: [ { name: seg-a, subnet: 192.168.1.0/24 } ]
nodes:
  - { name: node-1, segment: seg-a, address: 192.168.1.10/24 }
cluster: { podCIDR: 10.1.0.0/16 }
`;
const reader = { readFile: (p: string) => (p === "t.yaml" ? topology : (() => { throw new Error("no such file"); })()) };
const scenario = loadScenario(`apiVersion: birdcage/v1\nkind: Scenario\nmetadata: { name: s }\ntopology: t.yaml\nsteps:\n  - wait: { timeout: 10s }\n  - assert:\n      - sessions: { established: all }\n`, "s.yaml", reader);

class Failing extends ScriptedTestBackend {
  constructor(private readonly error: Error) {
    super({ mode: "real" });
  }
  override async start(): Promise<void> {
    throw this.error;
  }
}

describe("runScenario with a backend that cannot start", () => {
  test("BackendUnavailable: skipped with the reason, passed, no assertions and no step errors", async () => {
    const r = await runScenario(scenario, new Failing(new BackendUnavailable("IPIP is not available on this kernel (no ipip module): scenario skipped")), { seed: 1 });
    expect(r.skipped).toBe("IPIP is not available on this kernel (no ipip module): scenario skipped");
    expect(r.passed).toBe(true);
    expect(r.assertions).toEqual([]);
    expect(r.steps).toEqual([]);
  });

  test("any other error fails the scenario as before", async () => {
    const r = await runScenario(scenario, new Failing(new Error("etcd did not start")), { seed: 1 });
    expect(r.skipped).toBeUndefined();
    expect(r.passed).toBe(false);
    expect(r.assertions[0]?.actual).toBe("error: etcd did not start");
  });

  test("--mode both does not compare a scenario one side skipped", async () => {
    const sim = await runScenario(scenario, new ScriptedTestBackend(), { seed: 1 });
    const real = await runScenario(scenario, new Failing(new BackendUnavailable("no")), { seed: 1 });
    expect(parityLines({ birdcage: "x", passed: true, scenarios: [sim, real] })).toEqual(["sim vs real for s.yaml: not compared (real skipped)"]);
  });
});
