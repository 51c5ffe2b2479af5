// `birdcage real up|down|ls|gc`: build a topology out of network namespaces (or hand it to
// containerlab), list runs and their objects, remove a run, and collect what dead runs left behind.
// Runs are recorded in $BIRDCAGE_STATE_DIR (default /run/birdcage); see docs/real-mode.md.
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { Option, type Command } from "commander";
import { stringify } from "yaml";
import { formatProblems } from "../../core/model/index.ts";
import { parseTopology, type Topology } from "../../topology/index.ts";
import {
  BuildError,
  CLAB_MISSING,
  ClabUnavailable,
  checkRunId,
  Interrupted,
  clabPlan,
  clabUp,
  down,
  gc,
  NetnsBuilder,
  newRunId,
  observe,
  onPath,
  planGc,
  planNetns,
  RunIsLive,
  RunNotFound,
  runOfNetns,
  runViews,
  stateDir,
} from "../../../real/netns/index.ts";
import { CheckFailed, EXIT_BAD_INPUT, UsageError } from "../errors.ts";
import { displayName, readInput } from "../io.ts";
import { formatTable, render, withOutput, type OutputFormat } from "../output.ts";

async function load(path: string): Promise<Topology | undefined> {
  const text = await readInput(path);
  const r = parseTopology(text, displayName(path), { readFile: (p) => readFileSync(p, "utf8") });
  if (!r.topology) {
    process.stderr.write(formatProblems(r.problems));
    process.exitCode = EXIT_BAD_INPUT;
    return undefined;
  }
  return r.topology;
}

/** Namespaces need root and iproute2: a usage problem of this machine, reported before anything is made. */
function requireNetns(): void {
  if (process.getuid?.() !== 0) throw new UsageError("real mode needs root (network namespaces)");
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    throw new UsageError("real mode needs `ip` (iproute2)");
  }
}

function runIdOption(id: string | undefined): string {
  if (id === undefined) return newRunId();
  try {
    return checkRunId(id);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const err = (line: string) => process.stderr.write(`${line}\n`);

function registerUp(real: Command): void {
  withOutput(
    real
      .command("up")
      .description(
        "build TOPOLOGY for real and keep it until SIGINT/SIGTERM (then tear it down, exit 0), or leave it with --detach; " +
          "--dry-run prints the plan instead (netns: namespaces and ip batches; containerlab: the exact commands). " +
          "Exit 2: bad topology or run id, no root, containerlab missing; exit 1: the build failed (everything made so far is removed)",
      )
      .argument("<topology>", "topology file")
      .addOption(new Option("--engine <engine>", "what builds the network").choices(["netns", "containerlab"]).default("netns"))
      .option("--run-id <id>", "run id (6-12 lowercase letters/digits; default random)")
      .option("--detach", "exit after building; the run stays until `birdcage real down RUN`")
      .option("--dry-run", "print what would be created and run, create nothing"),
  ).action(async (file: string, opts: { engine: "netns" | "containerlab"; runId?: string; detach?: boolean; dryRun?: boolean; output: OutputFormat }) => {
    const t = await load(file);
    if (!t) return;
    const runId = runIdOption(opts.runId);
    if (opts.dryRun) {
      if (opts.engine === "containerlab") {
        const p = clabPlan(t, runId);
        const data = { engine: "containerlab", runId, file: p.file, up: p.up, down: p.down, topology: p.topology };
        process.stdout.write(render(data, opts.output, () => `# ${p.file}\n${stringify(p.topology)}\n# up\n${p.up.map((a) => a.join(" ")).join("\n")}\n# down\n${p.down.map((a) => a.join(" ")).join("\n")}\n`));
      } else {
        const p = planNetns(t, runId);
        process.stdout.write(
          render({ engine: "netns", ...p }, opts.output, () =>
            [
              `# run ${runId}: ${p.namespaces.length} namespaces, ${p.segments.length} bridges in ${p.fabric}`,
              `# ip -batch\n${p.netnsBatch.join("\n")}`,
              `# ip -n ${p.fabric} -batch\n${p.fabricBatch.join("\n")}`,
              ...p.elements.map((e) => `# ip -n ${e.netns} -batch\n${e.batch.join("\n")}${e.sysctl.length ? `\n# ip netns exec ${e.netns} sysctl -qw ${e.sysctl.join(" ")}` : ""}${e.tc.length ? `\n# tc -n ${e.netns} -batch\n${e.tc.join("\n")}` : ""}`),
              ...(p.fabricTc.length ? [`# tc -n ${p.fabric} -batch\n${p.fabricTc.join("\n")}`] : []),
              ...(p.fabricDownBatch.length ? [`# ip -n ${p.fabric} -batch\n${p.fabricDownBatch.join("\n")}`] : []),
            ].join("\n\n") + "\n",
          ),
        );
      }
      return;
    }
    if (opts.engine === "containerlab" && !onPath("containerlab")) throw new ClabUnavailable(CLAB_MISSING);
    requireNetns();
    let onSignal: (s: NodeJS.Signals) => void = () => undefined;
    // Signal listeners do not keep Node running: a timer does, until the signal has been handled.
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    const signalled = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve)).finally(() => clearInterval(keepAlive));
    const common = { runId, signals: onSignal, log: err };
    if (opts.engine === "containerlab") {
      let up;
      try {
        up = await clabUp(t, common);
      } catch (e) {
        if (e instanceof Error && /already exists/.test(e.message)) throw new UsageError(e.message);
        throw e;
      }
      process.stdout.write(render({ runId: up.owner.runId, engine: "containerlab", lab: up.plan.labName, file: up.plan.file }, opts.output, () => `run ${up.owner.runId}: containerlab lab ${up.plan.labName} deployed from ${up.plan.file}\n`));
      if (opts.detach) return void (await up.owner.detach());
      keepAlive = setInterval(() => undefined, 2 ** 30);
      err(`run ${up.owner.runId} is up; SIGINT (Ctrl-C) or SIGTERM tears it down`);
      err(`${await signalled}: run ${up.owner.runId} torn down`);
      return;
    }
    let world;
    try {
      world = await new NetnsBuilder().build(t, common);
    } catch (e) {
      if (e instanceof BuildError || e instanceof Interrupted) throw new CheckFailed(e.message);
      if (e instanceof Error && /already exists/.test(e.message)) throw new UsageError(`${e.message}: pick another --run-id (or \`birdcage real down ${runId}\` / \`gc\`)`);
      throw e;
    }
    const summary = {
      runId: world.runId,
      engine: "netns",
      topology: t.name,
      stateFile: world.owner.file,
      fabric: world.fabric,
      namespaces: Object.fromEntries(world.plan.elements.map((e) => [e.name, e.netns])),
      bridges: Object.fromEntries(world.plan.segments.map((s) => [s.name, s.bridge])),
      timingsMs: world.timings,
      notes: world.notes,
      detached: opts.detach === true,
    };
    process.stdout.write(
      render(summary, opts.output, () =>
        `run ${world.runId}: ${t.name} built in ${world.timings.total} ms (namespaces ${world.timings.namespaces}, fabric ${world.timings.fabric}, elements ${world.timings.elements}, netem ${world.timings.netem})\n` +
          formatTable(["ELEMENT", "NAMESPACE", "INTERFACES"], world.plan.elements.map((e) => [e.name, e.netns, e.interfaces.map((i) => `${i.ifname}=${i.address ?? i.addressV6 ?? "-"}@${i.segment}${i.down ? "(down)" : ""}`).join(" ")])) +
          world.notes.map((n) => `note: ${n}\n`).join(""),
      ),
    );
    if (opts.detach) {
      await world.detach();
      err(`run ${world.runId} detached; remove it with \`birdcage real down ${world.runId}\``);
      return;
    }
    keepAlive = setInterval(() => undefined, 2 ** 30);
    err(`run ${world.runId} is up; SIGINT (Ctrl-C) or SIGTERM tears it down`);
    const signal = await signalled;
    err(`${signal}: run ${world.runId} torn down`);
  });
}

function registerDown(real: Command): void {
  withOutput(
    real
      .command("down")
      .description("remove a run: every object its state file lists or that bears its marker (a run held by a live process only with --force)")
      .argument("<run>", "run id")
      .option("--force", "also when the process that holds the run is alive"),
  ).action(async (runId: string, opts: { force?: boolean; output: OutputFormat }) => {
    runIdOption(runId);
    requireNetns();
    let r;
    try {
      r = await down(stateDir(), runId, { ...(opts.force ? { force: true } : {}), log: err });
    } catch (e) {
      if (e instanceof RunNotFound || e instanceof RunIsLive) throw new UsageError(e.message);
      throw e;
    }
    process.stdout.write(render(r, opts.output, () => `run ${runId}: removed ${r.objects.length} object(s)${r.failed.length ? `; ${r.failed.length} could not be removed:\n${r.failed.map((f) => `  ${f.object}: ${f.error}`).join("\n")}` : ""}\n`));
    if (r.failed.length > 0) process.exitCode = 1;
  });
}

function registerLs(real: Command): void {
  withOutput(real.command("ls").description("runs (live, dead, detached) with their objects, and bc- namespaces of unknown runs")).action(async (opts: { output: OutputFormat }) => {
    const runs = await runViews(stateDir());
    const observed = await observe();
    const present = new Set(observed.netns);
    const plan = planGc(runs, observed);
    const data = {
      stateDir: stateDir(),
      runs: runs.map((r) => ({
        runId: r.runId,
        status: r.status,
        reason: r.reason,
        engine: r.state?.engine ?? null,
        topology: r.state?.topology?.name ?? null,
        createdAt: r.state?.createdAt ?? null,
        holderPid: r.state?.holder.pid ?? null,
        objects: (r.state?.objects ?? []).map((o) => ({ ...o, ...(o.kind === "netns" ? { present: present.has(o.name) } : {}) })),
        namespacesPresent: observed.netns.filter((n) => runOfNetns(n) === r.runId).length,
      })),
      unowned: plan.unowned,
    };
    process.stdout.write(
      render(data, opts.output, () =>
        formatTable(
          ["RUN", "STATUS", "ENGINE", "TOPOLOGY", "CREATED", "PID", "OBJECTS", "NETNS PRESENT", "WHY"],
          data.runs.map((r) => [r.runId, r.status, r.engine ?? "-", r.topology ?? "-", r.createdAt ?? "-", r.holderPid ?? "-", r.objects.length, r.namespacesPresent, r.reason]),
        ) + (data.unowned.length ? `bc- objects of runs without a state file (left alone):\n${data.unowned.map((u) => `  ${u}`).join("\n")}\n` : ""),
      ),
    );
  });
}

function registerGc(real: Command): void {
  withOutput(
    real
      .command("gc")
      .description("remove the leftovers of dead runs (holder process gone, e.g. after kill -9): exactly the objects their state files list and bc- objects bearing their marker; live and detached runs are never touched")
      .option("--dry-run", "list what would be removed, remove nothing"),
  ).action(async (opts: { dryRun?: boolean; output: OutputFormat }) => {
    requireNetns();
    const r = await gc(stateDir(), { ...(opts.dryRun ? { dryRun: true } : {}), log: err });
    process.stdout.write(
      render(r, opts.output, () => {
        const verb = r.dryRun ? "would remove" : "removed";
        const lines = r.removed.map((x) => `run ${x.runId} (${x.reason}): ${verb} ${x.objects.length} object(s)${x.objects.length ? "\n" + x.objects.map((o) => `  ${o}`).join("\n") : ""}${x.failed.length ? "\n" + x.failed.map((f) => `  FAILED ${f.object}: ${f.error}`).join("\n") : ""}`);
        if (r.removed.length === 0) lines.push("no dead runs");
        for (const k of r.kept) lines.push(`run ${k.runId} kept: ${k.status} (${k.reason})`);
        if (r.unowned.length) lines.push(`left alone (bc- objects of runs without a state file): ${r.unowned.join(", ")}`);
        return lines.join("\n") + "\n";
      }),
    );
    if (r.removed.some((x) => x.failed.length > 0)) process.exitCode = 1;
  });
}

export function registerReal(program: Command): void {
  const real = program.command("real").description("real mode: topologies built out of network namespaces; runs, cleanup and gc (docs/real-mode.md)");
  registerUp(real);
  registerDown(real);
  registerLs(real);
  registerGc(real);
}
