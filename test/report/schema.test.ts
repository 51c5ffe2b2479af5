import { describe, expect, test } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { htmlReport, junitXml, readReport, reportJson, reportJsonSchema, ReportFormatError } from "../../src/report/index.ts";
import { repoRoot } from "../helpers/paths.ts";
import { bigScenario, failingScenario, nastyScenario, passingScenario, report } from "./fixtures.ts";
import { junitProblems, parseXml } from "./xml-check.ts";

describe("readReport", () => {
  test("report.json reads back to a report that writes the same bytes", () => {
    const withNodes = passingScenario();
    withNodes.samples[2] = { ...withNodes.samples[2]!, perNode: { "node-2": { sessions: 1, routes: 1 }, "node-1": { sessions: 2, routes: 2 } } };
    const big = bigScenario(20);
    const r = report(withNodes, failingScenario(), nastyScenario(), { ...big, samples: big.samples.slice(0, 100), timeline: big.timeline.slice(0, 100), assertions: big.assertions.slice(0, 100) });
    const text = reportJson(r);
    const back = readReport(text);
    expect(reportJson(back)).toBe(text);
    // And renders again: a saved report gives the HTML and JUnit files without a rerun.
    expect(junitProblems(parseXml(junitXml(back)))).toEqual([]);
    expect(htmlReport(back)).toContain("link failure on seg-b");
  });

  test("fields added to the format later pass through", () => {
    const data = JSON.parse(reportJson(report(passingScenario())));
    data.scenarios[0].newField = { x: 1 };
    data.scenarios[0].steps[0].extra = "kept";
    const back = readReport(JSON.stringify(data));
    expect(JSON.parse(reportJson(back)).scenarios[0].newField).toEqual({ x: 1 });
    expect(JSON.parse(reportJson(back)).scenarios[0].steps[0].extra).toBe("kept");
  });

  test("null numbers (non-finite when written) read as NaN", () => {
    const data = JSON.parse(reportJson(report(passingScenario())));
    data.scenarios[0].steps[0].end = null;
    expect(readReport(JSON.stringify(data)).scenarios[0]!.steps[0]!.end).toBeNaN();
  });

  test("clear errors for text that is not a report", () => {
    expect(() => readReport("{")).toThrow(ReportFormatError);
    expect(() => readReport("{")).toThrow(/^not JSON: /);
    expect(() => readReport("[]")).toThrow(/^not a birdcage report: /);
    const data = JSON.parse(reportJson(report(passingScenario())));
    data.scenarios[0].mode = "both";
    expect(() => readReport(JSON.stringify(data))).toThrow(/^not a birdcage report: scenarios\[0\]\.mode: /);
    delete data.scenarios[0].mode;
    data.scenarios[0].probes[0].hops[1].at = 5;
    expect(() => readReport(JSON.stringify(data))).toThrow(/scenarios\[0\]\.mode/);
    data.scenarios[0].mode = "sim";
    expect(() => readReport(JSON.stringify(data))).toThrow(/^not a birdcage report: scenarios\[0\]\.probes\[0\]\.hops\[1\]\.at: /);
  });

  test("docs/report.schema.json is the schema generated from the code", () => {
    const onDisk = readFileSync(join(repoRoot, "docs/report.schema.json"), "utf8");
    // To regenerate: npx tsx -e 'import("./src/report/index.ts").then((m) => process.stdout.write(JSON.stringify(m.reportJsonSchema(), null, 2) + "\n"))' > docs/report.schema.json
    expect(onDisk).toBe(JSON.stringify(reportJsonSchema(), null, 2) + "\n");
  });
});
