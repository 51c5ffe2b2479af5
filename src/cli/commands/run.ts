// `birdcage run SCENARIO...`: load and check every scenario file first (any problem: exit 2, nothing
// runs), then run each through the backend of each mode, print every assertion with PASS/FAIL, write
// the reports, exit 1 if an assertion failed. Backends come from the registry in src/scenario, filled
// by sim/register.ts and real/register.ts when they exist: this command imports neither world.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SingleBar } from "cli-progress";
import { Option, type Command } from "commander";
import { formatProblems, sortProblems, type Problem } from "../../core/model/index.ts";
import { reportJson, writeJunit, writeReports } from "../../report/index.ts";
import type { Backend, BackendMode } from "../../scenario/backend.ts";
import { createBackend, hasBackend } from "../../scenario/backends.ts";
import { formatDuration, parseDuration } from "../../scenario/duration.ts";
import { parseScenario } from "../../scenario/load.ts";
import type { Scenario } from "../../scenario/model.ts";
import { compareRuns, type Comparison, type KnownDifference } from "../../scenario/compare.ts";
import type { RunReport, ScenarioResult } from "../../scenario/result.ts";
import { effectiveSeed, runScenario } from "../../scenario/runner.ts";
import { EXIT_BAD_INPUT, EXIT_CHECK_FAILED, UsageError } from "../errors.ts";
import { displayName, readInput } from "../io.ts";
import { render, withOutput, type OutputFormat } from "../output.ts";

/** Modules that register a backend when imported (relative to this file); missing ones are skipped. */
const BACKEND_MODULES: readonly { mode: BackendMode; rel: string }[] = [
  { mode: "sim", rel: "../../../sim/register.ts" },
  { mode: "real", rel: "../../../real/register.ts" },
];

/**
 * Imports the backend modules that exist, for the modes that have no backend yet (one registered
 * already, by an embedding program or a test, wins); returns why modules that exist failed to load.
 */
export async function loadBackendModules(modes: readonly BackendMode[]): Promise<string[]> {
  const errors: string[] = [];
  for (const { mode, rel } of BACKEND_MODULES) {
    if (!modes.includes(mode) || hasBackend(mode)) continue;
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (!existsSync(path)) continue;
    try {
      await import(path);
    } catch (e) {
      errors.push(`${rel.replace(/^(\.\.\/)+/, "")}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return errors;
}

interface RunOpts {
  seed?: string;
  reportDir?: string;
  junit?: string;
  pcap?: string;
  mode: "sim" | "real" | "both";
  output: OutputFormat;
  samplePeriod?: string;
}

function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 2 ** 32 - 1) throw new UsageError(`--seed: expected a whole number 0..4294967295, got "${text}"`);
  return Number(text);
}

/** Loads every file; problems of all files are printed together. */
async function loadAll(files: string[]): Promise<{ scenarios: Scenario[]; problems: Problem[] }> {
  const scenarios: Scenario[] = [];
  const problems: Problem[] = [];
  const reader = { readFile: (p: string) => readFileSync(p, "utf8") };
  for (const path of files) {
    const r = parseScenario(await readInput(path), displayName(path), reader);
    problems.push(...r.problems);
    if (r.scenario) scenarios.push(r.scenario);
  }
  return { scenarios, problems: sortProblems(problems) };
}

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

/** The human summary: a line per scenario run, one per assertion, details under failures. */
export function summaryText(report: RunReport, wallMs?: readonly number[]): string {
  const lines: string[] = [];
  report.scenarios.forEach((s, i) => {
    const failed = s.assertions.filter((a) => !a.passed).length;
    const wall = wallMs?.[i];
    lines.push(
      `${s.skipped !== undefined ? "SKIP" : s.passed ? "PASS" : "FAIL"} ${s.scenario.name} (${s.scenario.file}; ${s.mode}, seed ${s.seed}, topology ${s.topology.name}): ` +
        `${plural(s.assertions.length, "assertion")}, ${failed} failed; scenario time ${formatDuration(Math.round(s.duration))}` +
        (wall !== undefined ? `, wall ${formatDuration(Math.round(wall))}` : ""),
    );
    if (s.skipped !== undefined) lines.push(`  skipped: ${s.skipped}`);
    for (const a of s.assertions) {
      lines.push(`  ${a.passed ? "PASS" : "FAIL"}  ${a.name}`);
      if (a.passed) continue;
      lines.push(`        at ${a.source ?? s.scenario.file}${a.step >= 0 ? `, step ${a.step + 1}` : ""}`);
      lines.push(`        expected: ${a.expected}`);
      lines.push(`        actual:   ${a.actual}`);
      for (const d of a.details ?? []) lines.push(`          ${d}`);
    }
    for (const st of s.steps) if (st.error !== undefined) lines.push(`  ERROR step ${st.index + 1} (${st.description}): ${st.error}`);
  });
  lines.push(...parityLines(report));
  const all = report.scenarios.flatMap((s) => s.assertions);
  const failed = all.filter((a) => !a.passed).length;
  const unexplained = (report.comparisons ?? []).reduce((n, c) => n + c.differences.filter((d) => d.known === undefined).length, 0);
  lines.push(
    `${report.passed ? "PASSED" : "FAILED"}: ${plural(report.scenarios.length, "scenario run")}, ${plural(all.length, "assertion")}, ${all.length - failed} passed, ${failed} failed` +
      (unexplained > 0 ? `; ${plural(unexplained, "unexplained sim/real difference")}` : ""),
  );
  return lines.join("\n") + "\n";
}

/** The sim and real runs of each scenario file compared, against the scenario's known differences. */
export function compareReport(results: readonly ScenarioResult[], known: ReadonlyMap<string, readonly KnownDifference[]> = new Map()): Comparison[] {
  const byFile = new Map<string, ScenarioResult[]>();
  for (const s of results) byFile.set(s.scenario.file, [...(byFile.get(s.scenario.file) ?? []), s]);
  const out: Comparison[] = [];
  for (const [file, runs] of byFile) {
    const sim = runs.find((r) => r.mode === "sim");
    const real = runs.find((r) => r.mode === "real");
    if (sim && real) out.push(compareRuns(sim, real, known.get(file) ?? []));
  }
  return out;
}

/**
 * With --mode both: every observation that differs between the sim and real runs of a scenario —
 * DIFF (unexplained: fails the run), KNOWN (listed in the scenario's knownDifferences, with the
 * reason), STALE (a listed difference that did not occur).
 */
export function parityLines(report: RunReport): string[] {
  const lines: string[] = [];
  for (const c of report.comparisons ?? compareReport(report.scenarios)) {
    if (c.notCompared !== undefined) {
      lines.push(`sim vs real for ${c.file}: not compared (${c.notCompared})`);
      continue;
    }
    const known = c.differences.filter((d) => d.known !== undefined).length;
    const unexplained = c.differences.length - known;
    const head =
      c.differences.length === 0
        ? "no difference (same verdicts, probe outcomes, final sessions and routes)"
        : `${plural(c.differences.length, "difference")}${known > 0 ? `, ${known} known` : ""}${unexplained > 0 ? `, ${unexplained} unexplained` : ""}`;
    lines.push(`sim vs real for ${c.file}: ${head}${c.stale.length > 0 ? `; ${plural(c.stale.length, "stale known difference")}` : ""}`);
    for (const d of c.differences) {
      const what = `${d.observation}: sim ${d.sim}, real ${d.real}`;
      lines.push(d.known === undefined ? `  DIFF  ${what}` : `  KNOWN ${what} (known at ${d.known.source ?? c.file}: ${d.known.reason})`);
    }
    for (const k of c.stale) lines.push(`  STALE known difference ${JSON.stringify(k.observation)} at ${k.source ?? c.file} matched no difference of this run (${k.reason})`);
  }
  return lines;
}

export function registerRun(program: Command): void {
  withOutput(
    program
      .command("run")
      .description("run scenario files (scenarios/*.yaml): steps, assertions named PASS/FAIL, reports; exit 0 all passed, 1 an assertion failed, 2 bad input")
      .argument("<scenario...>", "scenario files; all are checked before any runs")
      .option("--seed <n>", "random seed (default: the scenario's seed, else 1)")
      .option("--report-dir <dir>", "write report.json, junit.xml, report.html there (and wall.json with wall-clock times)")
      .option("--junit <file>", "write a JUnit XML file (one test case per assertion)")
      .option("--pcap <dir>", "write packet captures per scenario run into DIR/<scenario>-<mode>/")
      .addOption(new Option("--mode <mode>", "where to run: the simulator, real network namespaces, or both").choices(["sim", "real", "both"]).default("sim"))
      .addOption(new Option("--sample-period <duration>", "scenario time between chart samples during waits").default("1s").hideHelp()),
  ).action(async (files: string[], opts: RunOpts) => {
    const seed = parseSeed(opts.seed);
    const period = parseDuration(opts.samplePeriod ?? "1s");
    if (typeof period !== "number" || period <= 0) throw new UsageError(`--sample-period: ${typeof period === "number" ? "must be > 0" : period.error}`);

    const { scenarios, problems } = await loadAll(files);
    if (problems.length > 0) {
      process.stderr.write(formatProblems(problems));
      process.stderr.write(`birdcage run: ${plural(problems.length, "problem")} in the input; nothing was run\n`);
      process.exitCode = EXIT_BAD_INPUT;
      return;
    }
    const modes: BackendMode[] = opts.mode === "both" ? ["sim", "real"] : [opts.mode];
    const loadErrors = await loadBackendModules(modes);
    for (const mode of modes) {
      if (!hasBackend(mode)) {
        const why = loadErrors.length > 0 ? `; loading failed: ${loadErrors.join("; ")}` : "";
        throw new UsageError(`no ${mode} backend available (${mode}/register.ts is missing or did not register one${why})`);
      }
    }

    const tty = process.stderr.isTTY === true && !process.env.CI && opts.output === "table";
    const total = scenarios.reduce((n, s) => n + s.steps.length, 0) * modes.length;
    const bar = tty ? new SingleBar({ format: "running [{bar}] {value}/{total} steps | {what}", stream: process.stderr, hideCursor: true }) : undefined;
    bar?.start(total, 0, { what: "" });
    const results: ScenarioResult[] = [];
    const wall: { file: string; scenario: string; mode: BackendMode; wallMs: number }[] = [];
    let done = 0;
    // Ctrl-C or SIGTERM during a run: stop the backend first (real mode removes its namespaces).
    let current: Backend | undefined;
    const interrupted = (signal: NodeJS.Signals) => {
      bar?.stop();
      process.stderr.write(`birdcage run: ${signal}, stopping the ${current?.mode ?? ""} backend\n`);
      void (current ? current.stop() : Promise.resolve())
        .catch((e: unknown) => process.stderr.write(`birdcage run: stopping the backend failed: ${e instanceof Error ? e.message : String(e)}\n`))
        .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    };
    process.once("SIGINT", interrupted);
    process.once("SIGTERM", interrupted);
    try {
      for (const scenario of scenarios) {
        for (const mode of modes) {
          const backend = createBackend(mode);
          current = backend;
          const pcapDir = opts.pcap !== undefined ? join(opts.pcap, `${scenario.name}-${mode}`) : undefined;
          if (pcapDir !== undefined) await mkdir(pcapDir, { recursive: true });
          const started = performance.now();
          const result = await runScenario(scenario, backend, {
            seed: effectiveSeed(scenario, seed),
            samplePeriodMs: period,
            ...(pcapDir !== undefined ? { pcapDir } : {}),
            onStep: (step) => bar?.update(done++, { what: `${scenario.name} (${mode}): ${step.description}` }),
          });
          wall.push({ file: scenario.file, scenario: scenario.name, mode, wallMs: Math.round(performance.now() - started) });
          results.push(result);
        }
      }
    } finally {
      process.off("SIGINT", interrupted);
      process.off("SIGTERM", interrupted);
      bar?.update(total);
      bar?.stop();
    }

    const comparisons = modes.length === 2 ? compareReport(results, new Map(scenarios.map((s) => [s.file, s.knownDifferences ?? []]))) : undefined;
    const report: RunReport = {
      birdcage: program.version() ?? "unknown",
      passed: results.every((r) => r.passed) && (comparisons ?? []).every((c) => c.passed),
      scenarios: results,
      ...(comparisons !== undefined ? { comparisons } : {}),
    };
    if (opts.reportDir !== undefined) {
      await writeReports(report, opts.reportDir);
      await mkdir(opts.reportDir, { recursive: true });
      await writeFile(join(opts.reportDir, "wall.json"), JSON.stringify({ runs: wall }, null, 2) + "\n");
    }
    if (opts.junit !== undefined) await writeJunit(report, opts.junit);
    const out = opts.output === "json" ? reportJson(report) : render(report, opts.output, () => summaryText(report, wall.map((w) => w.wallMs)));
    process.stdout.write(out);
    if (!report.passed) process.exitCode = EXIT_CHECK_FAILED;
  });
}
