import { describe, expect, test } from "@jest/globals";
import { junitXml } from "../../src/report/index.ts";
import { NASTY, failingScenario, nastyScenario, passingScenario, report } from "./fixtures.ts";
import { expatRoot, requirePython } from "./python-xml.ts";
import { junitProblems, parseXml, walk, type XmlElement } from "./xml-check.ts";

const find = (root: XmlElement, name: string): XmlElement[] => [...walk(root)].filter((e) => e.name === name);

/** What the escaper promises for XML-forbidden characters: visible \uXXXX text. */
const shown = (s: string): string => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]|\ud800/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

describe("junitXml", () => {
  test("one testsuite per scenario, one testcase per assertion, structure of junit-10.xsd", () => {
    const xml = junitXml(report(passingScenario(), failingScenario()));
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')).toBe(true);
    expect(xml.endsWith("</testsuites>\n")).toBe(true);
    const root = parseXml(xml);
    expect(junitProblems(root)).toEqual([]);
    const suites = find(root, "testsuite");
    expect(suites.map((s) => s.attrs.name)).toEqual(["full mesh converges", "link failure on seg-b"]);
    expect(suites[0]!.attrs).toMatchObject({ tests: "2", failures: "0", errors: "0", time: "1.300", file: "scenarios/mesh.yaml" });
    // 3 assertions + the step that threw.
    expect(suites[1]!.attrs).toMatchObject({ tests: "4", failures: "1", errors: "1", time: "5.000" });
    expect(root.attrs).toMatchObject({ name: "birdcage", tests: "6", failures: "1", errors: "1", time: "6.300" });
    const cases = suites[1]!.children.filter((c) => c.name === "testcase");
    expect(cases.map((c) => c.attrs.classname)).toEqual(Array(4).fill("link failure on seg-b"));
    expect(cases[0]!.attrs).toEqual({ name: "all BGP sessions established", classname: "link failure on seg-b", time: "1.225" });
  });

  test("a failed assertion is a <failure> with kind as type and expected/actual/details in the body", () => {
    const root = parseXml(junitXml(report(failingScenario())));
    const [failure] = find(root, "failure");
    expect(failure!.attrs.type).toBe("reachability");
    expect(failure!.attrs.message).toBe("expected delivered, got dropped at router r1: no route to 10.1.3.0/26");
    expect(failure!.text).toContain("expected: delivered");
    expect(failure!.text).toContain("actual:   dropped at router r1: no route to 10.1.3.0/26");
    expect(failure!.text).toContain("r1: no route to 10.1.3.0/26");
    expect(failure!.text).toContain("scenarios/link-fail.yaml:30:7");
    // Steps count from 1 for people: index 4 is step 5.
    expect(failure!.text).toContain("(step 5)");
  });

  test("a step error is an <error> testcase", () => {
    const root = parseXml(junitXml(report(failingScenario())));
    const [error] = find(root, "error");
    expect(error!.attrs).toEqual({ message: "link node-3@seg-b: no such element", type: "step.restore" });
    const tc = find(root, "testcase").find((c) => c.children.includes(error!));
    expect(tc!.attrs.name).toBe("step 6 restore: restore link node-3@seg-b");
  });

  test("seed, mode and topology as properties; the step list in system-out", () => {
    const root = parseXml(junitXml(report(passingScenario())));
    const props = Object.fromEntries(find(root, "property").map((p) => [p.attrs.name, p.attrs.value]));
    expect(props).toMatchObject({ seed: "42", mode: "sim", topology: "three-nodes", "topology.file": "topologies/three.yaml", "topology.nodes": "3", birdcage: "0.1.0" });
    const [out] = find(root, "system-out");
    expect(out!.text.split("\n")).toHaveLength(3);
    expect(out!.text).toContain("step 2 wait [10 ms → 1,234.6 ms]");
  });

  test("markup, quotes and control characters are escaped; forbidden characters shown as \\uXXXX", () => {
    const xml = junitXml(report(nastyScenario()));
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    expect(xml).not.toContain("<script>");
    const root = parseXml(xml);
    expect(junitProblems(root)).toEqual([]);
    const suite = find(root, "testsuite")[0]!;
    expect(suite.attrs.name).toBe(`mesh ${shown(NASTY)}`);
    const failure = find(root, "failure")[0]!;
    expect(failure.text).toContain(`expected: ${shown(NASTY)}`);
    // Newlines in attribute values survive as references (the message is one line anyway).
    expect(find(root, "testcase").every((c) => !/[\r\n]/.test(c.attrs.name ?? ""))).toBe(true);
  });

  test("attribute values keep tabs and newlines as character references", () => {
    const s = passingScenario();
    s.assertions[0] = { ...s.assertions[0]!, name: "two\nlines\tand tab" };
    const xml = junitXml(report(s));
    expect(xml).toContain('name="two&#10;lines&#9;and tab"');
    expect(find(parseXml(xml), "testcase")[0]!.attrs.name).toBe("two\nlines\tand tab");
  });

  test("empty run and empty scenario", () => {
    const empty = parseXml(junitXml(report()));
    expect(junitProblems(empty)).toEqual([]);
    expect(empty.attrs).toMatchObject({ tests: "0", failures: "0", errors: "0", time: "0.000" });
    const s = { ...passingScenario(), assertions: [], steps: [] };
    const root = parseXml(junitXml(report(s)));
    expect(junitProblems(root)).toEqual([]);
    expect(find(root, "testsuite")[0]!.attrs.tests).toBe("0");
    expect(find(root, "system-out")).toEqual([]);
  });

  test("a failed scenario with no failing assertion or step error still shows an error", () => {
    const s = { ...passingScenario(), passed: false };
    const root = parseXml(junitXml(report(s)));
    expect(junitProblems(root)).toEqual([]);
    expect(find(root, "error")[0]!.attrs.type).toBe("scenario");
    expect(find(root, "testsuite")[0]!.attrs).toMatchObject({ tests: "3", errors: "1" });
  });

  test("the same scenario in both modes gives suites CI can tell apart", () => {
    const sim = passingScenario();
    const real = { ...passingScenario(), mode: "real" as const };
    const root = parseXml(junitXml(report(sim, real, failingScenario(), failingScenario())));
    expect(junitProblems(root)).toEqual([]);
    const suites = find(root, "testsuite");
    expect(suites.map((x) => x.attrs.name)).toEqual(["full mesh converges [sim]", "full mesh converges [real]", "link failure on seg-b [sim] #3", "link failure on seg-b [sim] #4"]);
    expect(suites[1]!.children.filter((c) => c.name === "testcase").map((c) => c.attrs.classname)).toEqual(["full mesh converges [real]", "full mesh converges [real]"]);
  });

  test("the same check at several steps gets distinct testcase names", () => {
    const s = passingScenario();
    const again = { ...s.assertions[0]!, step: 2 };
    s.assertions = [s.assertions[0]!, s.assertions[1]!, again, { ...again }];
    const names = find(parseXml(junitXml(report(s))), "testcase").map((c) => c.attrs.name);
    expect(names).toEqual([
      "all BGP sessions established",
      "pod a/web-1 reaches b/db-1 on tcp/5432",
      "all BGP sessions established (step 3)",
      "all BGP sessions established (step 3) #2",
    ]);
  });

  test("deterministic", () => {
    expect(junitXml(report(passingScenario(), nastyScenario()))).toBe(junitXml(report(passingScenario(), nastyScenario())));
  });

  test("expat agrees that it is well-formed", () => {
    if (!requirePython()) return;
    expect(expatRoot(junitXml(report(passingScenario(), failingScenario(), nastyScenario())))).toBe("testsuites");
  });

  test("the structure checker itself rejects broken documents", () => {
    expect(() => parseXml("<a><b></a></b>")).toThrow(/closes/);
    expect(() => parseXml('<a x="1" x="2"/>')).toThrow(/duplicate/);
    expect(() => parseXml("<a>\u0001</a>")).toThrow(/not allowed/);
    expect(() => parseXml("<a>&#1;</a>")).toThrow(/forbids/);
    expect(() => parseXml("<a>x & y</a>")).toThrow();
    expect(() => parseXml("<a/><b/>")).toThrow(/after the root/);
    expect(junitProblems(parseXml('<testsuites><testsuite name="x" tests="2" failures="0" errors="0"><testcase name="a" file="f"/></testsuite></testsuites>'))).toEqual([
      "<testcase> has unknown attribute file",
      "testsuite x: tests=2 but 1 counted",
    ]);
  });
});
