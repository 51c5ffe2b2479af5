// JUnit XML as Jenkins, GitLab and GitHub test reporters read it (the structure of Jenkins'
// junit-10.xsd): one <testsuite> per scenario, one <testcase> per assertion, a step that threw is an
// <error> testcase. A `--mode both` run adds one <testsuite> per sim-versus-real comparison, one
// <testcase> per difference or stale known-difference entry. Times are scenario seconds; no
// wall-clock timestamp, so the file is reproducible.
import type { Comparison } from "../scenario/compare.ts";
import type { AssertionResult, RunReport, ScenarioResult, StepResult } from "../scenario/result.ts";
import { escapeAttr, escapeText, formatMs, round3, seconds, stepNumber, truncate } from "./format.ts";
import { comparisonRows, comparisonSummary } from "./sim-vs-real.ts";

const MESSAGE_MAX = 500;

interface Case {
  name: string;
  time: string;
  failure?: { kind: "failure" | "error"; type: string; message: string; body: string };
  skipped?: string;
  /** Shown under the testcase (a known difference's reason, a stale entry's warning). */
  out?: string;
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, " ");
}

/** An assertion's time is the duration of the step that checked it (a wait, a probe...). */
function assertionCase(steps: Map<number, StepResult>, a: AssertionResult): Case {
  const step = steps.get(a.step);
  const c: Case = { name: a.name, time: step ? seconds(step.end - step.start) : "0.000" };
  if (a.passed) return c;
  const body = [
    `expected: ${a.expected}`,
    `actual:   ${a.actual}`,
    `checked at ${formatMs(a.at)} (step ${stepNumber(a.step)})${a.source ? ` — ${a.source}` : ""}`,
    ...(a.details?.length ? ["details:", ...a.details.map((d) => `  ${d}`)] : []),
  ].join("\n");
  const message = truncate(oneLine(`expected ${a.expected}, got ${a.actual}`), MESSAGE_MAX);
  return { ...c, failure: { kind: "failure", type: a.kind, message, body } };
}

function stepCase(step: StepResult): Case {
  const error = step.error ?? "";
  const body = [`step ${stepNumber(step.index)} (${step.kind}): ${step.description}`, `from ${formatMs(step.start)} to ${formatMs(step.end)}`, error].join("\n");
  return {
    name: `step ${stepNumber(step.index)} ${step.kind}: ${step.description}`,
    time: seconds(step.end - step.start),
    failure: { kind: "error", type: `step.${step.kind}`, message: truncate(oneLine(error), MESSAGE_MAX), body },
  };
}

/** Repeated case names get " #2", " #3"...: CI history tells tests apart by name. */
function distinctNames(cases: Case[]): void {
  const taken = new Set<string>();
  for (const c of cases) {
    let name = c.name;
    for (let k = 2; taken.has(name); k++) name = `${c.name} #${k}`;
    taken.add(name);
    c.name = name;
  }
}

/** The cases of one scenario, plus one error case when it failed and nothing else says why. */
export function scenarioCases(s: ScenarioResult): Case[] {
  const steps = new Map(s.steps.map((st) => [st.index, st]));
  const cases = [...s.assertions.map((a) => assertionCase(steps, a)), ...s.steps.filter((st) => st.error !== undefined).map(stepCase)];
  // The same check made at several steps ("no unestablished BGP sessions" before and after a
  // failure) would be one test to CI history: the later ones are told apart by their step.
  const seen = new Map<string, number>();
  s.assertions.forEach((a, i) => {
    const n = (seen.get(a.name) ?? 0) + 1;
    seen.set(a.name, n);
    if (n > 1) cases[i]!.name = `${a.name} (step ${stepNumber(a.step)})`;
  });
  distinctNames(cases);
  if (!s.passed && !cases.some((c) => c.failure)) {
    cases.push({
      name: "scenario result",
      time: seconds(s.duration),
      failure: {
        kind: "error",
        type: "scenario",
        message: "the scenario failed but no assertion or step says why",
        body: "The runner marked this scenario as failed without a failing assertion or a step error.",
      },
    });
  }
  return cases;
}

/**
 * The cases of a sim-versus-real comparison, each named by its observation path so CI history
 * follows one observation from DIFF to KNOWN: a DIFF is a <failure>, a KNOWN difference passes with
 * its reason in system-out, a STALE entry passes with a warning in system-out. With no difference
 * one passing case says so; a comparison not made (one run skipped) is a skipped case.
 */
export function comparisonCases(c: Comparison): Case[] {
  if (c.notCompared !== undefined) return [{ name: "sim and real compared", time: "0.000", skipped: `not compared: ${c.notCompared}` }];
  const cases = comparisonRows(c).map((r): Case => {
    const values = `sim: ${r.sim ?? ""}\nreal: ${r.real ?? ""}`;
    const listed = `${r.pattern !== undefined && r.pattern !== r.observation ? ` "${r.pattern}"` : ""}${r.source !== undefined ? ` at ${r.source}` : ""}`;
    if (r.status === "DIFF") {
      const message = truncate(oneLine(`${r.observation}: sim ${r.sim ?? ""}, real ${r.real ?? ""}`), MESSAGE_MAX);
      const body = `${r.observation}\n${values}\nnot listed in the scenario's knownDifferences: this difference fails the run`;
      return { name: r.observation, time: "0.000", failure: { kind: "failure", type: "sim-vs-real", message, body } };
    }
    if (r.status === "KNOWN") return { name: r.observation, time: "0.000", out: `KNOWN difference (listed${listed}): ${r.reason ?? ""}\n${values}` };
    return {
      name: `stale known difference: ${r.observation}`,
      time: "0.000",
      out: `WARNING: STALE known difference${r.source !== undefined ? ` at ${r.source}` : ""} matched no difference of this run; remove it once the worlds agree (${r.reason ?? ""})`,
    };
  });
  if (!cases.length) cases.push({ name: "sim and real agree", time: "0.000", out: "no difference: the same verdicts, probe outcomes, final sessions and routes" });
  if (!c.passed && !cases.some((x) => x.failure)) {
    cases.push({ name: "comparison result", time: "0.000", failure: { kind: "error", type: "sim-vs-real", message: "the comparison failed but no difference says why", body: comparisonSummary(c) } });
  }
  distinctNames(cases);
  return cases;
}

function attrs(pairs: [string, string | number][]): string {
  return pairs.map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join("");
}

/**
 * Suite names, which CI tools use to tell suites apart: the scenario name, with " [sim]" / " [real]"
 * when the same scenario ran in both modes, and " #n" if that still leaves two alike.
 */
export function suiteNames(scenarios: ScenarioResult[]): string[] {
  const count = (names: string[]): Map<string, number> => names.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
  const plain = scenarios.map((s) => s.scenario.name);
  const byName = count(plain);
  const withMode = scenarios.map((s, i) => (byName.get(plain[i]!)! > 1 ? `${s.scenario.name} [${s.mode}]` : s.scenario.name));
  const byMode = count(withMode);
  return withMode.map((n, i) => (byMode.get(n)! > 1 ? `${n} #${i + 1}` : n));
}

function writeCases(cases: Case[], classname: string, out: string[]): void {
  for (const c of cases) {
    const head = `    <testcase${attrs([["name", c.name], ["classname", classname], ["time", c.time]])}`;
    if (!c.failure && c.skipped === undefined && c.out === undefined) {
      out.push(`${head}/>`);
      continue;
    }
    out.push(`${head}>`);
    if (c.skipped !== undefined) out.push(`      <skipped${attrs([["message", c.skipped]])}/>`);
    const f = c.failure;
    if (f) out.push(`      <${f.kind}${attrs([["message", f.message], ["type", f.type]])}>${escapeText(f.body)}</${f.kind}>`);
    if (c.out !== undefined) out.push(`      <system-out>${escapeText(c.out)}</system-out>`);
    out.push("    </testcase>");
  }
}

type Counts = { tests: number; failures: number; errors: number; skipped: number };

function counts(cases: Case[]): Counts {
  return {
    tests: cases.length,
    failures: cases.filter((c) => c.failure?.kind === "failure").length,
    errors: cases.filter((c) => c.failure?.kind === "error").length,
    skipped: cases.filter((c) => c.skipped !== undefined).length,
  };
}

/** The suite of one comparison, named "sim versus real: <scenario>" (made distinct by the caller). */
function comparisonSuite(c: Comparison, name: string, id: number, version: string, out: string[]): Counts {
  const cases = comparisonCases(c);
  const n = counts(cases);
  out.push(`  <testsuite${attrs([["name", name], ["tests", n.tests], ["failures", n.failures], ["errors", n.errors], ["skipped", n.skipped], ["time", "0.000"], ["id", id], ["file", c.file]])}>`);
  out.push("    <properties>");
  for (const [k, v] of [["birdcage", version], ["mode", "both"], ["scenario.file", c.file], ["comparison", comparisonSummary(c)]] as const) out.push(`      <property${attrs([["name", k], ["value", v]])}/>`);
  out.push("    </properties>");
  writeCases(cases, name, out);
  out.push("  </testsuite>");
  return n;
}

function suite(s: ScenarioResult, name: string, id: number, version: string, out: string[]): { tests: number; failures: number; errors: number } {
  const cases = scenarioCases(s);
  const failures = cases.filter((c) => c.failure?.kind === "failure").length;
  const errors = cases.filter((c) => c.failure?.kind === "error").length;
  out.push(
    `  <testsuite${attrs([
      ["name", name],
      ["tests", cases.length],
      ["failures", failures],
      ["errors", errors],
      ["skipped", 0],
      ["time", seconds(s.duration)],
      ["id", id],
      ["file", s.scenario.file],
    ])}>`,
  );
  const props: [string, string | number][] = [
    ["birdcage", version],
    ["seed", s.seed],
    ["mode", s.mode],
    ["scenario.file", s.scenario.file],
    ["topology", s.topology.name],
    ["topology.file", s.topology.file],
    ["topology.nodes", s.topology.nodes],
    ["topology.routers", s.topology.routers],
    ["topology.segments", s.topology.segments],
    ["duration.ms", round3(s.duration)],
  ];
  out.push("    <properties>");
  for (const [k, v] of props) out.push(`      <property${attrs([["name", k], ["value", v]])}/>`);
  out.push("    </properties>");
  writeCases(cases, name, out);
  // The step list in system-out gives CI logs the story around a failure.
  const stepLines = s.steps.map(
    (st) => `step ${stepNumber(st.index)} ${st.kind} [${formatMs(st.start)} → ${formatMs(st.end)}]: ${st.description}${st.error ? ` — ERROR ${st.error}` : ""}`,
  );
  if (stepLines.length) out.push(`    <system-out>${escapeText(stepLines.join("\n"))}</system-out>`);
  out.push("  </testsuite>");
  return { tests: cases.length, failures, errors };
}

/** JUnit XML for a run: <testsuites> with one <testsuite> per scenario run, then one per sim-versus-real comparison. */
export function junitXml(report: RunReport): string {
  const body: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let time = 0;
  const names = suiteNames(report.scenarios);
  report.scenarios.forEach((s, i) => {
    const r = suite(s, names[i]!, i, report.birdcage, body);
    tests += r.tests;
    failures += r.failures;
    errors += r.errors;
    time += Number.isFinite(s.duration) && s.duration > 0 ? s.duration : 0;
  });
  const taken = new Set(names);
  (report.comparisons ?? []).forEach((c, i) => {
    let name = `sim versus real: ${c.scenario}`;
    for (let k = 2; taken.has(name); k++) name = `sim versus real: ${c.scenario} #${k}`;
    taken.add(name);
    const r = comparisonSuite(c, name, report.scenarios.length + i, report.birdcage, body);
    tests += r.tests;
    failures += r.failures;
    errors += r.errors;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs([["name", "birdcage"], ["tests", tests], ["failures", failures], ["errors", errors], ["time", seconds(time)]])}>`,
    ...body,
    "</testsuites>",
    "",
  ].join("\n");
}
