// Sim versus real in report.html and junit.xml, from constructed RunReports (no real mode needed).
import { describe, expect, test } from "@jest/globals";
import { HTML_LIMITS, ReportFormatError, htmlReport, junitXml, readReport, reportJson } from "../../src/report/index.ts";
import type { Difference } from "../../src/scenario/compare.ts";
import { NASTY, bothModesReport, comparison, failingScenario, passingScenario, report } from "./fixtures.ts";
import { expatRoot, requirePython } from "./python-xml.ts";
import { junitProblems, parseXml, textOf, walk, type XmlElement } from "./xml-check.ts";

const all = (root: XmlElement): XmlElement[] => [...walk(root)];
const named = (root: XmlElement, name: string): XmlElement[] => all(root).filter((e) => e.name === name);
const shown = (s: string): string => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]|\ud800/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

const compareSection = (html: string): XmlElement | undefined => all(parseXml(html)).find((e) => e.attrs.id === "compare");
/** Rows of the differences table: class, then the text of each cell. */
const differenceRows = (section: XmlElement): string[][] => {
  const table = named(section, "table").find((tb) => textOf(named(tb, "caption")[0]!).includes("differences between the simulator and real mode"))!;
  return named(table, "tr").slice(1).map((r) => [r.attrs.class ?? "", ...r.children.map(textOf)]);
};

function nastyReport() {
  const r = bothModesReport();
  const diffs: Difference[] = [
    { observation: `assertions/${NASTY}`, sim: NASTY, real: `FAIL (${NASTY})` },
    { observation: `routes/node-1/${NASTY}`, sim: "absent", real: NASTY, known: { pattern: `routes/${NASTY}`, reason: NASTY, source: `${NASTY}:3` } },
  ];
  r.comparisons = [comparison({ scenario: `mesh ${NASTY}`, file: NASTY, differences: diffs, stale: [{ observation: `probes/${NASTY}`, reason: NASTY, source: `${NASTY}:9` }], passed: false })];
  return r;
}

describe("report.html: Sim versus real", () => {
  test("counts and one row per difference: DIFF highlighted, KNOWN with reason and file:line, STALE after", () => {
    const html = htmlReport(bothModesReport());
    const section = compareSection(html)!;
    expect(textOf(named(section, "h2")[0]!)).toBe("Sim versus real");
    expect(section.attrs.class).toBe("scenario failed");
    expect(textOf(named(section, "h3")[0]!)).toBe("FAIL full mesh converges (real): 1 unexplained difference, 1 known difference, 1 stale known difference");
    expect(textOf(all(section).find((e) => e.attrs.class === "counts")!)).toBe("DIFF 1 KNOWN 1 STALE 1");
    expect(differenceRows(section)).toEqual([
      ["known", "KNOWN", "routes/node-2/192.168.9.0/24", "absent", "unicast", "the kernel keeps the connected route of the old uplink (listed as routes/node-2)", "scenarios/mesh.yaml:41"],
      ["failed", "DIFF", "sessions/node-1/node-2", "Established", "Active", "", ""],
      ["stale", "STALE", "probes/big-ping*", "—", "—", "real ping reports fragmentation needed before the tunnel — matched no difference of this run; remove the entry once the worlds agree", "scenarios/mesh.yaml:43"],
    ]);
    // The side-by-side table is still there, folded.
    const folded = named(section, "details")[0]!;
    expect(textOf(named(folded, "summary")[0]!)).toBe("all assertions, probes and final figures side by side");
    expect(named(folded, "table")).toHaveLength(1);
  });

  test("the header says the run failed on differences and links the section with its verdict", () => {
    const root = parseXml(htmlReport(bothModesReport()));
    const header = named(root, "header")[0]!;
    expect(textOf(named(header, "p")[0]!)).toContain("· sim versus real: 1 DIFF, 1 KNOWN, 1 STALE");
    expect(textOf(named(root, "title")[0]!)).toContain("sim versus real: 1 DIFF");
    const link = named(named(root, "nav")[0]!, "li").at(-1)!;
    expect(textOf(link)).toBe("FAIL Sim versus real");
    expect(named(link, "a")[0]!.attrs.href).toBe("#compare");
    // All known: the comparison passes.
    const ok = bothModesReport();
    ok.comparisons = [comparison({ differences: [{ observation: "sessions/node-1/node-2", sim: "Established", real: "Active", known: { pattern: "sessions/*", reason: "slow" } }] })];
    const okRoot = parseXml(htmlReport(ok));
    expect(textOf(named(named(okRoot, "nav")[0]!, "li").at(-1)!)).toBe("PASS Sim versus real");
    expect(textOf(named(compareSection(htmlReport(ok))!, "h3")[0]!)).toBe("PASS full mesh converges (real): 1 known difference");
    expect(compareSection(htmlReport(ok))!.attrs.class).toBe("scenario");
  });

  test("absent from a single-mode run", () => {
    for (const r of [report(passingScenario()), report(passingScenario(), failingScenario())]) {
      const html = htmlReport(r);
      expect(html).not.toContain('id="compare"');
      expect(html).not.toContain("Sim versus real");
      expect(html).not.toContain("sim versus real");
    }
  });

  test("no difference, and a comparison that was not made", () => {
    const r = bothModesReport();
    r.comparisons = [comparison({})];
    const same = compareSection(htmlReport(r))!;
    expect(textOf(named(same, "h3")[0]!)).toBe("PASS full mesh converges (real): no difference");
    expect(textOf(same)).toContain("No difference: the same verdicts, probe outcomes, final sessions and routes in both worlds.");
    r.comparisons = [comparison({ notCompared: "real skipped" })];
    const skipped = compareSection(htmlReport(r))!;
    expect(textOf(named(skipped, "h3")[0]!)).toBe("PASS full mesh converges (real): not compared: real skipped");
    expect(textOf(skipped)).toContain("Not compared: real skipped.");
  });

  test("scenario text is escaped", () => {
    const html = htmlReport(nastyReport());
    expect(html).not.toContain("<script>");
    expect(html).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    const section = compareSection(html)!;
    const rows = differenceRows(section);
    expect(rows.map((r) => r[1])).toEqual(["DIFF", "KNOWN", "STALE"]);
    expect(rows[0]!.slice(2, 5)).toEqual([`assertions/${shown(NASTY)}`, shown(NASTY), `FAIL (${shown(NASTY)})`]);
    expect(rows[1]![5]).toBe(`${shown(NASTY)} (listed as routes/${shown(NASTY)})`);
    expect(rows[1]![6]).toBe(`${shown(NASTY)}:3`);
    expect(rows[2]![6]).toBe(`${shown(NASTY)}:9`);
  });

  test("a long differences table is cut, keeping every DIFF and STALE row", () => {
    const r = bothModesReport();
    const known: Difference[] = Array.from({ length: 1000 }, (_, i) => ({ observation: `routes/node-2/10.9.${i >> 8}.${i & 255}/32`, sim: "absent", real: "unicast", known: { pattern: "routes/node-2", reason: "kernel" } }));
    const diff: Difference[] = [0, 1, 2].map((i) => ({ observation: `sessions/node-${i}/r1`, sim: "Established", real: "Active" }));
    r.comparisons = [comparison({ differences: [...known, ...diff], stale: [{ observation: "probes/x", reason: "gone" }], passed: false })];
    const html = htmlReport(r);
    const rows = differenceRows(compareSection(html)!);
    expect(rows).toHaveLength(HTML_LIMITS.differences);
    expect(rows.filter((x) => x[1] === "DIFF")).toHaveLength(3);
    expect(rows.filter((x) => x[1] === "STALE")).toHaveLength(1);
    expect(html).toContain("Showing 500 of 1,004; report.json has them all. Every DIFF and STALE row is included.");
  });

  test("expat agrees that the page is well-formed", () => {
    if (!requirePython()) return;
    expect(expatRoot(htmlReport(nastyReport()))).toBe("html");
  });
});

describe("junit.xml: Sim versus real", () => {
  const suiteOf = (root: XmlElement, name: string): XmlElement => named(root, "testsuite").find((s) => s.attrs.name === name)!;
  const casesOf = (suite: XmlElement): XmlElement[] => suite.children.filter((c) => c.name === "testcase");

  test("one suite per comparison: DIFF a <failure>, KNOWN passing with its reason, STALE passing with a warning", () => {
    const root = parseXml(junitXml(bothModesReport()));
    expect(junitProblems(root)).toEqual([]);
    expect(named(root, "testsuite").map((s) => s.attrs.name)).toEqual(["full mesh converges [sim]", "full mesh converges [real]", "sim versus real: full mesh converges"]);
    const suite = suiteOf(root, "sim versus real: full mesh converges");
    expect(suite.attrs).toMatchObject({ tests: "3", failures: "1", errors: "0", skipped: "0", id: "2", file: "scenarios/mesh.yaml" });
    expect(root.attrs).toMatchObject({ tests: "7", failures: "1", errors: "0" });
    const props = Object.fromEntries(named(suite, "property").map((p) => [p.attrs.name, p.attrs.value]));
    expect(props).toMatchObject({ mode: "both", "scenario.file": "scenarios/mesh.yaml", comparison: "1 unexplained difference, 1 known difference, 1 stale known difference" });
    const [known, diff, stale] = casesOf(suite);
    expect(diff!.attrs).toEqual({ name: "sessions/node-1/node-2", classname: "sim versus real: full mesh converges", time: "0.000" });
    const failure = named(diff!, "failure")[0]!;
    expect(failure.attrs).toEqual({ message: "sessions/node-1/node-2: sim Established, real Active", type: "sim-vs-real" });
    expect(failure.text).toContain("not listed in the scenario's knownDifferences");
    expect(known!.attrs.name).toBe("routes/node-2/192.168.9.0/24");
    expect(named(known!, "failure")).toEqual([]);
    expect(named(known!, "system-out")[0]!.text).toBe(
      'KNOWN difference (listed "routes/node-2" at scenarios/mesh.yaml:41): the kernel keeps the connected route of the old uplink\nsim: absent\nreal: unicast',
    );
    expect(stale!.attrs.name).toBe("stale known difference: probes/big-ping*");
    expect(named(stale!, "failure")).toEqual([]);
    expect(named(stale!, "system-out")[0]!.text).toMatch(/^WARNING: STALE known difference at scenarios\/mesh\.yaml:43 matched no difference of this run/);
  });

  test("no difference is one passing case; a comparison not made is skipped", () => {
    const r = bothModesReport();
    r.comparisons = [comparison({})];
    let root = parseXml(junitXml(r));
    expect(junitProblems(root)).toEqual([]);
    expect(casesOf(suiteOf(root, "sim versus real: full mesh converges")).map((c) => [c.attrs.name, c.children.map((x) => x.name)])).toEqual([["sim and real agree", ["system-out"]]]);
    r.comparisons = [comparison({ notCompared: "real skipped" })];
    root = parseXml(junitXml(r));
    expect(junitProblems(root)).toEqual([]);
    const suite = suiteOf(root, "sim versus real: full mesh converges");
    expect(suite.attrs).toMatchObject({ tests: "1", failures: "0", skipped: "1" });
    expect(named(suite, "skipped")[0]!.attrs.message).toBe("not compared: real skipped");
  });

  test("repeated observations and suite names stay distinct; a failed comparison with no DIFF still shows an error", () => {
    const r = bothModesReport();
    const d = { observation: "assertions/x", sim: "PASS (a)", real: "FAIL (b)" };
    r.comparisons = [comparison({ differences: [d, { ...d }], passed: false }), comparison({ passed: false, differences: [{ ...d, known: { pattern: "*", reason: "r" } }] })];
    const root = parseXml(junitXml(r));
    expect(junitProblems(root)).toEqual([]);
    const suites = named(root, "testsuite").slice(2);
    expect(suites.map((s) => s.attrs.name)).toEqual(["sim versus real: full mesh converges", "sim versus real: full mesh converges #2"]);
    expect(casesOf(suites[0]!).map((c) => c.attrs.name)).toEqual(["assertions/x", "assertions/x #2"]);
    expect(suites[1]!.attrs).toMatchObject({ tests: "2", failures: "0", errors: "1" });
  });

  test("single-mode runs have no comparison suite", () => {
    const xml = junitXml(report(passingScenario(), failingScenario()));
    expect(xml).not.toContain("sim versus real");
  });

  test("scenario text is escaped; well-formed by the structure checker and expat", () => {
    const xml = junitXml(nastyReport());
    expect(xml).not.toContain("<script>");
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    const root = parseXml(xml);
    expect(junitProblems(root)).toEqual([]);
    const suite = suiteOf(root, `sim versus real: mesh ${shown(NASTY)}`);
    const [diff, known] = casesOf(suite);
    expect(named(diff!, "failure")[0]!.attrs.message).toBe(`assertions/${shown(NASTY)}: sim ${shown(NASTY)}, real FAIL (${shown(NASTY)})`.replace(/\s*[\r\n]+\s*/g, " "));
    expect(named(known!, "system-out")[0]!.text).toContain(`at ${shown(NASTY)}:3): ${shown(NASTY)}`);
    if (requirePython()) expect(expatRoot(xml)).toBe("testsuites");
  });
});

describe("report.json: comparisons", () => {
  test("keys in a fixed order after scenarios; read back, the page and the JUnit file render the same", () => {
    const r = bothModesReport();
    const text = reportJson(r);
    const data = JSON.parse(text) as Record<string, unknown> & { comparisons: Record<string, unknown>[] };
    expect(Object.keys(data)).toEqual(["birdcage", "passed", "scenarios", "comparisons"]);
    expect(Object.keys(data.comparisons[0]!)).toEqual(["file", "scenario", "passed", "differences", "stale"]);
    expect(text).toContain('"observation": "routes/node-2/192.168.9.0/24",\n          "sim": "absent",\n          "real": "unicast",\n          "known": {\n            "pattern": "routes/node-2",\n            "reason"');
    const back = readReport(text);
    expect(back.comparisons).toEqual(r.comparisons);
    expect(htmlReport(back)).toBe(htmlReport(r));
    expect(junitXml(back)).toBe(junitXml(r));
  });

  test("a malformed comparison is rejected by path", () => {
    const data = JSON.parse(reportJson(bothModesReport())) as { comparisons: { differences: { known: { reason: unknown } }[] }[] };
    data.comparisons[0]!.differences[0]!.known.reason = 7;
    expect(() => readReport(JSON.stringify(data))).toThrow(ReportFormatError);
    expect(() => readReport(JSON.stringify(data))).toThrow(/^not a birdcage report: comparisons\[0\]\.differences\[0\]\.known\.reason: /);
  });
});
