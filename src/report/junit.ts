// JUnit XML as Jenkins, GitLab and GitHub test reporters read it (the structure of Jenkins'
// junit-10.xsd): one <testsuite> per scenario, one <testcase> per assertion, a step that threw is an
// <error> testcase. Times are scenario seconds; no wall-clock timestamp, so the file is reproducible.
import type { AssertionResult, RunReport, ScenarioResult, StepResult } from "../scenario/result.ts";
import { escapeAttr, escapeText, formatMs, round3, seconds, stepNumber, truncate } from "./format.ts";

const MESSAGE_MAX = 500;

interface Case {
  name: string;
  time: string;
  failure?: { kind: "failure" | "error"; type: string; message: string; body: string };
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
  const taken = new Set<string>();
  for (const c of cases) {
    let name = c.name;
    for (let k = 2; taken.has(name); k++) name = `${c.name} #${k}`;
    taken.add(name);
    c.name = name;
  }
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
  for (const c of cases) {
    const head = `    <testcase${attrs([["name", c.name], ["classname", name], ["time", c.time]])}`;
    if (!c.failure) {
      out.push(`${head}/>`);
      continue;
    }
    const f = c.failure;
    out.push(`${head}>`);
    out.push(`      <${f.kind}${attrs([["message", f.message], ["type", f.type]])}>${escapeText(f.body)}</${f.kind}>`);
    out.push("    </testcase>");
  }
  // The step list in system-out gives CI logs the story around a failure.
  const stepLines = s.steps.map(
    (st) => `step ${stepNumber(st.index)} ${st.kind} [${formatMs(st.start)} → ${formatMs(st.end)}]: ${st.description}${st.error ? ` — ERROR ${st.error}` : ""}`,
  );
  if (stepLines.length) out.push(`    <system-out>${escapeText(stepLines.join("\n"))}</system-out>`);
  out.push("  </testsuite>");
  return { tests: cases.length, failures, errors };
}

/** JUnit XML for a run: <testsuites> with one <testsuite> per scenario. */
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
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs([["name", "birdcage"], ["tests", tests], ["failures", failures], ["errors", errors], ["time", seconds(time)]])}>`,
    ...body,
    "</testsuites>",
    "",
  ].join("\n");
}
