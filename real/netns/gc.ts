// `birdcage real gc`: removes what DEAD runs left behind — the objects their state files list, and
// bc- objects bearing their marker (namespace name bc-<run>-…/bc-<run>_…, link alias bc:<run>,
// nft table bc_<run>). A run is dead when its holder process is gone, its pid belongs to another
// process now (start time differs), or the machine rebooted. Live runs, detached runs (removed by
// `birdcage real down`), runs with an unreadable state file, and bc- objects of runs without a
// state file are never touched; they are reported instead.
import { execa } from "execa";
import { describeObject, removeObjects, type RemovalResult } from "./cleanup.ts";
import { runOfLinkMarker, runOfNetns } from "./names.ts";
import { holderLiveness, listStates, removeState, strayNftDirs, strayTempFiles, processStartTime, bootId, type LoadedState, type OwnedObject, type RunState } from "./state.ts";
import { listNetns } from "./cleanup.ts";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { readState } from "./state.ts";

export type RunStatus = "live" | "dead" | "detached" | "unreadable";

export interface RunView {
  runId: string;
  file: string;
  status: RunStatus;
  reason: string;
  state?: RunState;
}

/** What exists on the machine right now (root namespace), as far as gc cares. */
export interface Observed {
  netns: string[];
  /** Links of the root namespace with their alias. */
  links: { name: string; alias?: string }[];
  /** nft tables of the root namespace. */
  nftTables: { family: string; name: string }[];
}

export interface GcRunPlan {
  runId: string;
  reason: string;
  file: string;
  /** Objects to remove: listed in the state file and present, or found by the run's marker. */
  objects: OwnedObject[];
}

export interface GcPlan {
  remove: GcRunPlan[];
  keep: { runId: string; status: RunStatus; reason: string }[];
  /** bc- objects whose marker names a run without a state file: left alone. */
  unowned: string[];
}

export function classify(s: LoadedState, probe: (pid: number) => string | undefined = processStartTime, boot: string = bootId()): RunView {
  if ("error" in s) return { runId: s.runId, file: s.file, status: "unreadable", reason: s.error };
  if (s.state.detached) return { runId: s.runId, file: s.file, status: "detached", reason: "remove it with `birdcage real down`", state: s.state };
  const l = holderLiveness(s.state.holder, probe, boot);
  if (l.alive) return { runId: s.runId, file: s.file, status: "live", reason: `held by live process ${s.state.holder.pid}`, state: s.state };
  return { runId: s.runId, file: s.file, status: "dead", reason: l.reason, state: s.state };
}

const key = (o: OwnedObject): string => JSON.stringify(o.kind === "process" ? { kind: o.kind, pid: o.pid, startTime: o.startTime } : o);

/** The gc decision, pure: which objects of which runs to remove, given the runs and what exists. */
export function planGc(runs: readonly RunView[], observed: Observed, probe: (pid: number) => string | undefined = processStartTime): GcPlan {
  const netns = new Set(observed.netns);
  const rootLinks = new Map(observed.links.map((l) => [l.name, l.alias]));
  const tables = new Set(observed.nftTables.map((t) => `${t.family} ${t.name}`));
  const known = new Set(runs.map((r) => r.runId));
  const dead = new Map(runs.filter((r) => r.status === "dead").map((r) => [r.runId, r]));
  const plan: GcPlan = { remove: [], keep: [], unowned: [] };
  for (const r of runs) if (r.status !== "dead") plan.keep.push({ runId: r.runId, status: r.status, reason: r.reason });

  for (const r of dead.values()) {
    const objs = new Map<string, OwnedObject>();
    const listedNetns = new Set(r.state!.objects.flatMap((x) => (x.kind === "netns" ? [x.name] : [])));
    const add = (o: OwnedObject) => objs.set(key(o), o);
    for (const o of r.state!.objects) {
      switch (o.kind) {
        case "netns":
          if (netns.has(o.name)) add(o);
          break;
        case "link":
          // Inside one of our namespaces it goes with the namespace; in the root namespace only
          // when it is there and carries our marker or none (killed between creation and marking).
          if (o.netns !== undefined) {
            if (netns.has(o.netns) && !listedNetns.has(o.netns)) add(o);
          } else if (rootLinks.has(o.name)) {
            const alias = rootLinks.get(o.name);
            if (alias === undefined || alias === "" || runOfLinkMarker(alias) === r.runId) add(o);
          }
          break;
        case "nft-table":
          if (o.netns !== undefined ? netns.has(o.netns) : tables.has(`${o.family} ${o.name}`)) add(o);
          break;
        case "process":
          if (probe(o.pid) === o.startTime) add(o);
          break;
        case "file":
        case "dir":
        case "clab-lab":
          add(o);
          break;
      }
    }
    for (const n of observed.netns) if (runOfNetns(n) === r.runId) add({ kind: "netns", name: n });
    for (const l of observed.links) if (runOfLinkMarker(l.alias) === r.runId && l.name.startsWith("bc")) add({ kind: "link", name: l.name });
    for (const t of observed.nftTables) if (t.name === `bc_${r.runId}`) add({ kind: "nft-table", family: t.family, name: t.name });
    plan.remove.push({ runId: r.runId, reason: r.reason, file: r.file, objects: [...objs.values()] });
  }

  const unowned = new Set<string>();
  for (const n of observed.netns) {
    const run = runOfNetns(n);
    if (run !== undefined && !known.has(run)) unowned.add(`netns ${n}`);
  }
  for (const l of observed.links) {
    const run = runOfLinkMarker(l.alias);
    if (run !== undefined && !known.has(run)) unowned.add(`link ${l.name}`);
  }
  for (const t of observed.nftTables) {
    const m = /^bc_([a-z0-9]{6,12})$/.exec(t.name);
    if (m && !known.has(m[1]!)) unowned.add(`nft table ${t.family} ${t.name}`);
  }
  plan.unowned = [...unowned].sort();
  return plan;
}

export async function observe(): Promise<Observed> {
  const netns = await listNetns();
  const lr = await execa("ip", ["-j", "link", "show"], { reject: false });
  let links: Observed["links"] = [];
  try {
    links = (JSON.parse(String(lr.stdout) || "[]") as { ifname: string; ifalias?: string }[]).map((l) => ({ name: l.ifname, ...(l.ifalias ? { alias: l.ifalias } : {}) }));
  } catch {
    links = [];
  }
  let nftTables: Observed["nftTables"] = [];
  const nr = await execa("nft", ["-j", "list", "tables"], { reject: false });
  if (nr.exitCode === 0) {
    try {
      const j = JSON.parse(String(nr.stdout)) as { nftables?: { table?: { family: string; name: string } }[] };
      nftTables = (j.nftables ?? []).flatMap((x) => (x.table ? [{ family: x.table.family, name: x.table.name }] : []));
    } catch {
      nftTables = [];
    }
  }
  return { netns, links, nftTables };
}

export async function runViews(dir: string): Promise<RunView[]> {
  return (await listStates(dir)).map((s) => classify(s));
}

export interface GcResult {
  dryRun: boolean;
  removed: { runId: string; reason: string; objects: string[]; failed: { object: string; error: string }[] }[];
  kept: GcPlan["keep"];
  unowned: string[];
  strayTempFiles: string[];
}

export async function gc(dir: string, options: { dryRun?: boolean; log?: (line: string) => void } = {}): Promise<GcResult> {
  const runs = await runViews(dir);
  const plan = planGc(runs, await observe());
  const stray = [...(await strayTempFiles(dir)), ...(await strayNftDirs(tmpdir()))];
  const out: GcResult = { dryRun: options.dryRun === true, removed: [], kept: plan.keep, unowned: plan.unowned, strayTempFiles: stray };
  for (const r of plan.remove) {
    if (options.dryRun) {
      out.removed.push({ runId: r.runId, reason: r.reason, objects: r.objects.map(describeObject), failed: [] });
      continue;
    }
    const res: RemovalResult = await removeObjects(r.objects, options.log);
    if (res.failed.length === 0) await removeState(dir, r.runId);
    out.removed.push({ runId: r.runId, reason: r.reason, objects: res.removed.map(describeObject), failed: res.failed.map((f) => ({ object: describeObject(f.object), error: f.error })) });
  }
  if (!options.dryRun) for (const f of stray) await rm(f, { recursive: true, force: true }).catch(() => undefined);
  return out;
}

export interface DownResult {
  runId: string;
  objects: string[];
  failed: { object: string; error: string }[];
}

/** `birdcage real down RUN`: removes a run (detached or dead; a live one only with force). */
export async function down(dir: string, runId: string, options: { force?: boolean; log?: (line: string) => void } = {}): Promise<DownResult> {
  const loaded = await readState(dir, runId);
  if (!loaded) throw new RunNotFound(`no run ${runId} (no state file in ${dir})`);
  const view = classify(loaded);
  if (view.status === "unreadable") throw new Error(`run ${runId}: state file ${loaded.file} unreadable (${view.reason}); nothing removed`);
  if (view.status === "live" && !options.force) throw new RunIsLive(`run ${runId} is ${view.reason}: stop that process (SIGINT/SIGTERM tears the run down) or use --force`);
  const plan = planGc([{ ...view, status: "dead" }], await observe());
  const objects = plan.remove[0]?.objects ?? [];
  const res = await removeObjects(objects, options.log);
  if (res.failed.length === 0) await removeState(dir, runId);
  return { runId, objects: res.removed.map(describeObject), failed: res.failed.map((f) => ({ object: describeObject(f.object), error: f.error })) };
}

export class RunNotFound extends Error {}
export class RunIsLive extends Error {}
