// The real-mode benchmark: scenarios/bench-20-nodes.yaml (20 nodes on two segments behind a
// plain router, VXLAN CrossSubnet, BGP full mesh, 5 pods per node) from nothing to every pod
// reachable, in real mode (network namespaces, etcd, 20 `birdcage agent`s, the CNI plugin) and in the
// simulator, with the real-mode phases and the ratio. Needs root for real mode.
// Run: npx tsx bench/real-20-nodes.ts [scenario.yaml]
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { loadScenario, runScenario, type Backend, type ScenarioResult } from "../src/scenario/index.ts";
import { SimBackend } from "../sim/backend.ts";
import { RealBackend } from "../real/backend.ts";
import { execa } from "execa";

const file = process.argv[2] ?? "scenarios/bench-20-nodes.yaml";
const scenario = loadScenario(readFileSync(file, "utf8"), file, { readFile: (p) => readFileSync(p, "utf8") });
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(" ");
const s = (ms: number): string => `${(ms / 1000).toFixed(1).padStart(6)} s`;

/** The backend with wall-clock marks: when start() (namespaces, etcd, agents) returned, and the builder's own figure. */
function timed(b: Backend, marks: Map<string, number>, t0: () => number): Backend {
  return new Proxy(b, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== "function") return v;
      if (prop === "start") {
        return async (...args: Parameters<Backend["start"]>) => {
          const [topology, options] = args;
          const log = (line: string): void => {
            if (line.startsWith("namespaces built")) marks.set("namespaces built", performance.now() - t0());
            options.log?.(line);
          };
          await target.start(topology, { ...options, log });
          marks.set("agents up", performance.now() - t0());
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

function failures(r: ScenarioResult): string[] {
  return r.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${String(a.actual)}`);
}

interface Phases {
  wall: number;
  marks: [string, number][];
  result: ScenarioResult;
}

async function run(backend: Backend): Promise<Phases> {
  const marks = new Map<string, number>();
  let t0 = 0;
  const b = timed(backend, marks, () => t0);
  t0 = performance.now();
  const result = await runScenario(scenario, b, { seed: 1 });
  const wall = performance.now() - t0;
  // Step times are scenario time: wall ms since start() began in real mode (the runner's own work before start is negligible).
  const started = marks.get("agents up") ?? 0;
  const steps = result.steps;
  const firstWait = steps.find((x) => x.kind === "wait");
  const pods = steps.find((x) => x.kind === "createPods" || x.kind === "pods");
  const secondWait = steps.find((x) => x.kind === "wait" && x !== firstWait);
  const out: [string, number][] = [];
  if (marks.has("namespaces built")) out.push(["namespaces built", marks.get("namespaces built")!]);
  if (marks.has("agents up")) out.push(["agents up (etcd, 20 agents answering)", started]);
  if (firstWait) out.push(["sessions Established (first wait converged)", firstWait.end]);
  if (pods) out.push([`pods wired (CNI ADD; ${result.final.ipam.inUse} IPAM addresses in use, tunnel addresses included)`, pods.end]);
  if (secondWait) out.push(["routes to every pod block converged", secondWait.end]);
  out.push(["all reachable (every probe done)", result.duration]);
  // Steps that did not run (the backend did not start) have no times.
  return { wall, marks: out.filter(([, at], i) => i === out.length - 1 || at > 0), result };
}

async function realModeUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  for (const [cmd, arg] of [["ip", "-V"], ["nft", "--version"], [process.env.BIRDCAGE_ETCD ?? "etcd", "--version"]] as const) {
    const r = await execa(cmd, [arg], { reject: false });
    if (r.exitCode !== 0) return `${cmd} is not available`;
  }
  return undefined;
}

async function main(): Promise<void> {
  const t = scenario.topology;
  console.log(`${file}: ${t.nodes.length} nodes, ${t.segments.length} segments, ${t.routers.length} router(s); load average ${load()}`);

  const sim = await run(new SimBackend());
  console.log(`\nsimulator: ${sim.result.passed ? "PASS" : "FAIL"} ${sim.result.assertions.length} assertions, ${s(sim.wall)} wall (${sim.result.duration} ms of virtual time)`);
  for (const f of failures(sim.result)) console.log(`  failed: ${f}`);

  const why = await realModeUnavailable();
  if (why !== undefined) {
    console.log(`\nreal mode skipped: ${why}`);
    return;
  }
  const before = load();
  const real = await run(new RealBackend());
  console.log(`\nreal mode: ${real.result.passed ? "PASS" : "FAIL"} ${real.result.assertions.length} assertions, ${s(real.wall)} wall (load before ${before}, after ${load()})`);
  for (const f of failures(real.result).slice(0, 10)) console.log(`  failed: ${f}`);
  let prev = 0;
  for (const [name, at] of real.marks) {
    console.log(`  ${s(at)}  (+${s(at - prev).trim()})  ${name}`);
    prev = at;
  }
  const probes = real.result.assertions.filter((a) => a.kind === "reachable" || a.kind === "matrix").length;
  console.log(`  (${probes} probe assertions: a 20 x 20 matrix and 80 single flows)`);
  const up = (r: ScenarioResult) => r.final.sessions.filter((x) => x.state === "Established").length;
  const msgs = (r: ScenarioResult) => r.final.counters.bgpMessages;
  console.log(`  sessions Established at the end: real ${up(real.result)}, simulator ${up(sim.result)} (each end counted)`);
  console.log(`  BGP messages sent: real ${msgs(real.result).total} (${msgs(real.result).update} UPDATE), simulator ${msgs(sim.result).total} (${msgs(sim.result).update} UPDATE)`);
  console.log(`\nreal / simulator wall time: ${(real.wall / sim.wall).toFixed(0)}x (${s(real.wall).trim()} / ${s(sim.wall).trim()})`);
  if (!real.result.passed || !sim.result.passed) process.exitCode = 1;
}

await main();
