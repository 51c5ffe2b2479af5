import { describe, expect, test } from "@jest/globals";
import { reportJson } from "../../src/report/index.ts";
import type { RunReport } from "../../src/scenario/result.ts";
import { NASTY, failingScenario, nastyScenario, passingScenario, report } from "./fixtures.ts";

/** The same data with every object's keys inserted in reverse order. */
function reversedKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reversedKeys) as T;
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)])) as T;
  return v;
}

describe("reportJson", () => {
  test("fixed key order at every level, 2-space indent, trailing newline", () => {
    const text = reportJson(report(failingScenario()));
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.startsWith('{\n  "birdcage": "0.1.0",\n  "passed": false,\n  "scenarios": [\n')).toBe(true);
    const parsed = JSON.parse(text);
    const s = parsed.scenarios[0];
    expect(Object.keys(s)).toEqual(["scenario", "topology", "mode", "seed", "passed", "duration", "assertions", "steps", "probes", "samples", "timeline", "final"]);
    expect(Object.keys(s.assertions[2])).toEqual(["name", "kind", "passed", "expected", "actual", "details", "at", "step", "source"]);
    expect(Object.keys(s.steps[4])).toEqual(["index", "kind", "description", "start", "end", "convergence"]);
    expect(Object.keys(s.steps[4].convergence)).toEqual(["converged", "took"]);
    expect(Object.keys(s.probes[1])).toEqual(["name", "at", "outcome", "reason", "dropKind", "encap", "hops"]);
    expect(Object.keys(s.final)).toEqual(["sessions", "routes", "ipam", "counters"]);
    expect(Object.keys(s.final.counters.bgpMessages)).toEqual(["total", "open", "update", "keepalive", "notification", "routeRefresh"]);
    expect(Object.keys(s.final.sessions[0])).toEqual(["node", "peer", "peerName", "state", "type", "prefixesReceived", "prefixesSent"]);
  });

  test("the same data built in another key order gives byte-identical output", () => {
    const a = report(passingScenario(), failingScenario());
    expect(reportJson(reversedKeys(a))).toBe(reportJson(a));
    expect(reportJson(a)).toBe(reportJson(report(passingScenario(), failingScenario())));
  });

  test("numbers rounded to 3 decimals; NaN and Infinity become null; -0 becomes 0", () => {
    const s = failingScenario();
    s.steps[0] = { ...s.steps[0]!, start: -0, end: Number.NaN };
    s.samples[0] = { ...s.samples[0]!, routes: Number.POSITIVE_INFINITY };
    const parsed = JSON.parse(reportJson(report(s)));
    const out = parsed.scenarios[0];
    expect(out.duration).toBe(5000);
    expect(out.assertions[2].at).toBe(4000.123);
    expect(out.steps[4].convergence.took).toBe(2000.123);
    expect(out.steps[0].start).toBe(0);
    expect(Object.is(out.steps[0].start, -0)).toBe(false);
    expect(out.steps[0].end).toBeNull();
    expect(out.samples[0].routes).toBeNull();
    expect(reportJson(report(s))).not.toMatch(/\d\.\d{4,}/);
  });

  test("arrays keep the order given; absent optional fields stay absent", () => {
    const s = passingScenario();
    s.final.routes.reverse();
    const out = JSON.parse(reportJson(report(s))).scenarios[0];
    expect(out.final.routes.map((r: { node: string }) => r.node)).toEqual(["node-2", "node-1", "node-1"]);
    expect("details" in out.assertions[0]).toBe(false);
    expect("error" in out.steps[0]).toBe(false);
  });

  test("fields added to the contract later come after the known ones, sorted by name", () => {
    const s = passingScenario() as ReturnType<typeof passingScenario> & Record<string, unknown>;
    s.zeta = 1;
    s.alpha = { b: 2, a: 1 };
    const out = JSON.parse(reportJson(report(s))).scenarios[0];
    expect(Object.keys(out).slice(-3)).toEqual(["final", "alpha", "zeta"]);
    expect(Object.keys(out.alpha)).toEqual(["a", "b"]);
  });

  test("perNode maps are sorted by node name", () => {
    const s = passingScenario();
    s.samples[1] = { ...s.samples[1]!, perNode: { "node-2": { routes: 1, sessions: 2 }, "node-10": { sessions: 1, routes: 0 }, "node-1": { sessions: 2, routes: 1 } } };
    const out = JSON.parse(reportJson(report(s))).scenarios[0];
    expect(Object.keys(out.samples[1].perNode)).toEqual(["node-1", "node-10", "node-2"]);
    expect(Object.keys(out.samples[1].perNode["node-2"])).toEqual(["sessions", "routes"]);
  });

  test("user text with markup and control characters round-trips exactly", () => {
    const text = reportJson(report(nastyScenario()));
    const out = JSON.parse(text).scenarios[0];
    expect(out.scenario.description).toBe(NASTY);
    expect(out.assertions[0].details[0]).toBe(NASTY);
    // Control characters are escaped in the file itself.
    expect(text).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  });

  test("an empty run", () => {
    const empty: RunReport = { birdcage: "0.1.0", passed: true, scenarios: [] };
    expect(reportJson(empty)).toBe('{\n  "birdcage": "0.1.0",\n  "passed": true,\n  "scenarios": []\n}\n');
  });
});
