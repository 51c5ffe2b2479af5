// `birdcage validate FILE...`: checks resource files (Calico v3, Kubernetes, Lists of them) and ICP
// config.yaml files, including rules across all the files given (overlapping pools, duplicates).
import type { Command } from "commander";
import {
  describeEntry,
  detectFileShape,
  formatProblems,
  parseIcpConfig,
  parseResources,
  sortProblems,
  validateResourceSet,
  type FileShape,
  type IcpConfig,
  type LoadedResources,
  type Problem,
} from "../../core/model/index.ts";
import { parseTopology } from "../../topology/index.ts";
import { parseScenario } from "../../scenario/load.ts";
import { EXIT_BAD_INPUT } from "../errors.ts";
import { summarize as summarizeTopology } from "./topo.ts";
import { readFileSync } from "node:fs";
import { displayName, readInput } from "../io.ts";
import { render, withOutput, type OutputFormat } from "../output.ts";

interface FileReport {
  file: string;
  shape: FileShape;
  resources?: LoadedResources;
  icp?: IcpConfig;
  topology?: ReturnType<typeof summarizeTopology>;
  scenario?: { name: string; topology: string; steps: number; assertions: number };
  problems: Problem[];
}

/** Reads and checks one file according to its shape. New shapes (topology, scenario) go here. */
function checkFile(text: string, file: string): FileReport {
  const shape = detectFileShape(text);
  switch (shape) {
    case "icp-config": {
      const r = parseIcpConfig(text, file);
      return { file, shape, ...(r.config ? { icp: r.config } : {}), problems: r.problems };
    }
    case "topology": {
      const r = parseTopology(text, file, { readFile: (p) => readFileSync(p, "utf8") });
      return { file, shape, ...(r.topology ? { topology: summarizeTopology(r.topology) } : {}), problems: r.problems };
    }
    case "scenario": {
      const r = parseScenario(text, file, { readFile: (p) => readFileSync(p, "utf8") });
      const s = r.scenario;
      const assertions = s ? s.steps.reduce((n, st) => n + (st.kind === "assert" ? st.assertions.length : 0), 0) : 0;
      return { file, shape, ...(s ? { scenario: { name: s.name, topology: s.topology.name, steps: s.steps.length, assertions } } : {}), problems: r.problems };
    }
    case "resources":
    case "empty": {
      const r = parseResources(text, file);
      return { file, shape, resources: r.resources, problems: r.problems };
    }
  }
}

function summary(r: FileReport): string {
  if (r.scenario) {
    const s = r.scenario;
    return `${r.file}: scenario ${s.name} OK (topology ${s.topology}, ${s.steps} steps, ${s.assertions} assertions)`;
  }
  if (r.topology) {
    const t = r.topology;
    return `${r.file}: topology ${t.name} OK (${t.segments} segments, ${t.routers} routers, ${t.nodes} nodes, ${t.bgpSessions} BGP sessions)`;
  }
  if (r.icp) {
    const p = r.icp.pool.spec;
    return `${r.file}: ICP config OK (IPPool ${r.icp.pool.metadata.name} ${p.cidr} blockSize ${p.blockSize} ipipMode ${p.ipipMode}, tunnel MTU ${r.icp.tunnelMTU}, IP autodetection ${r.icp.autodetectionMethod})`;
  }
  const entries = r.resources?.entries ?? [];
  const n = entries.length;
  const list = entries.map(describeEntry).join(", ");
  return `${r.file}: ${n} resource${n === 1 ? "" : "s"} OK${n > 0 ? ` (${list})` : ""}`;
}

function data(reports: FileReport[]) {
  return {
    files: reports.map((r) =>
      r.scenario
        ? { file: r.file, shape: r.shape, scenario: r.scenario }
        : r.topology
        ? { file: r.file, shape: r.shape, topology: r.topology }
        : r.icp
        ? { file: r.file, shape: r.shape, icp: r.icp }
        : { file: r.file, shape: r.shape, resources: r.resources?.toJSON() ?? [] },
    ),
  };
}

export function registerValidate(program: Command): void {
  withOutput(
    program
      .command("validate")
      .description(
        "check Calico v3 / Kubernetes resource files (also Lists), ICP config.yaml files, topologies and scenarios; " +
          "prints what was loaded (with Calico's defaults applied), or every problem as file:line:col: message (exit 2)",
      )
      .argument("<file...>", 'files to check ("-" reads standard input)'),
  ).action(async (files: string[], opts: { output: OutputFormat }) => {
    const reports: FileReport[] = [];
    for (const path of files) reports.push(checkFile(await readInput(path), displayName(path)));

    const problems = reports.flatMap((r) => r.problems);
    // Rules across files (each file's own set was already checked): report only what is new.
    const sets = reports.flatMap((r) => (r.resources ? [r.resources] : []));
    if (sets.length > 1) {
      const known = new Set(problems.map((p) => formatProblems([p])));
      problems.push(...validateResourceSet(sets).filter((p) => !known.has(formatProblems([p]))));
    }
    if (problems.length > 0) {
      process.stderr.write(formatProblems(sortProblems(problems)));
      process.exitCode = EXIT_BAD_INPUT;
      return;
    }
    process.stdout.write(render(data(reports), opts.output, () => reports.map((r) => `${summary(r)}\n`).join("")));
  });
}
