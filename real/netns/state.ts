// The run state file: /run/birdcage/<run>.json (or $BIRDCAGE_STATE_DIR). It names the process that
// holds the run (pid + kernel start time + boot id, so a reused pid is not mistaken for the holder)
// and every object of the run. Objects are added BEFORE they are created (an intent log), so after
// kill -9 the file still lists everything that may exist; `birdcage real gc` removes exactly that.
import { open, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RUN_ID_RE } from "./names.ts";

export const DEFAULT_STATE_DIR = "/run/birdcage";
export const STATE_VERSION = 1;

export function stateDir(): string {
  return process.env.BIRDCAGE_STATE_DIR || DEFAULT_STATE_DIR;
}

export type OwnedObject =
  | { kind: "netns"; name: string }
  /** A link; in the root namespace when `netns` is absent. */
  | { kind: "link"; name: string; netns?: string }
  | { kind: "nft-table"; family: string; name: string; netns?: string }
  | { kind: "process"; pid: number; startTime: string; command: string; netns?: string }
  | { kind: "file"; path: string }
  /** A directory removed with everything in it (etcd's data dir); its name must start with bc-. */
  | { kind: "dir"; path: string }
  /** A containerlab lab deployed from `file` (destroyed with `containerlab destroy -t file --cleanup`). */
  | { kind: "clab-lab"; name: string; file: string };

export interface Holder {
  pid: number;
  /** /proc/<pid>/stat field 22 (clock ticks since boot), as a string. */
  startTime: string;
  bootId: string;
}

export interface RunState {
  version: number;
  runId: string;
  engine: "netns" | "containerlab";
  createdAt: string;
  holder: Holder;
  /** Left running on purpose (`birdcage real up --detach`): only `birdcage real down` removes it. */
  detached: boolean;
  topology?: { name: string; file: string };
  objects: OwnedObject[];
  /** Free-form facts for `birdcage real ls` (e.g. element -> namespace). */
  info?: Record<string, unknown>;
}

export const statePath = (dir: string, runId: string): string => join(dir, `${runId}.json`);

export function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown";
  }
}

/** The kernel start time of a live process, or undefined when no such process exists. */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = rest[0];
  if (state === "Z" || state === "X") return undefined; // a zombie holds no objects
  return rest[19];
}

export function currentHolder(): Holder {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? "unknown", bootId: bootId() };
}

/** Is the holder of a run still the same live process? */
export type Liveness = { alive: true } | { alive: false; reason: string };
export function holderLiveness(h: Holder, probe: (pid: number) => string | undefined = processStartTime, boot: string = bootId()): Liveness {
  if (h.bootId !== boot) return { alive: false, reason: "created before the last reboot" };
  const st = probe(h.pid);
  if (st === undefined) return { alive: false, reason: `process ${h.pid} is gone` };
  if (st !== h.startTime) return { alive: false, reason: `pid ${h.pid} now belongs to another process` };
  return { alive: true };
}

/** Writes a new state file; fails if the run id is taken (exclusive create). */
export async function createState(dir: string, state: RunState): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  let fh;
  try {
    fh = await open(statePath(dir, state.runId), "wx", 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new Error(`run ${state.runId} already exists (${statePath(dir, state.runId)})`);
    throw e;
  }
  try {
    await fh.writeFile(JSON.stringify(state, null, 1) + "\n");
  } finally {
    await fh.close();
  }
}

/** Replaces the state file atomically (write to a temporary name, then rename). */
export async function writeState(dir: string, state: RunState): Promise<void> {
  const tmp = join(dir, `.${state.runId}.json.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(state, null, 1) + "\n", { mode: 0o644 });
  await rename(tmp, statePath(dir, state.runId));
}

export async function removeState(dir: string, runId: string): Promise<void> {
  await unlink(statePath(dir, runId)).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
}

export type LoadedState = { file: string; runId: string; state: RunState } | { file: string; runId: string; error: string };

/** Checks the shape of a parsed state file; returns the problem, or undefined when it is usable. */
export function stateProblem(x: unknown, runId: string): string | undefined {
  if (typeof x !== "object" || x === null) return "not a JSON object";
  const s = x as Partial<RunState>;
  if (s.runId !== runId) return `runId ${JSON.stringify(s.runId)} does not match the file name`;
  const h = s.holder;
  if (!h || typeof h.pid !== "number" || typeof h.startTime !== "string" || typeof h.bootId !== "string") return "holder missing or malformed";
  if (!Array.isArray(s.objects)) return "objects missing";
  for (const o of s.objects) if (typeof o !== "object" || o === null || typeof (o as { kind?: unknown }).kind !== "string") return "malformed object entry";
  return undefined;
}

export async function readState(dir: string, runId: string): Promise<LoadedState | undefined> {
  const file = statePath(dir, runId);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return { file, runId, error: String(e) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { file, runId, error: `not JSON: ${(e as Error).message}` };
  }
  const problem = stateProblem(parsed, runId);
  return problem ? { file, runId, error: problem } : { file, runId, state: parsed as RunState };
}

/** Every state file in the directory (none when it does not exist). */
export async function listStates(dir: string): Promise<LoadedState[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: LoadedState[] = [];
  for (const n of names.sort()) {
    const m = /^([a-z0-9]+)\.json$/.exec(n);
    if (!m || !RUN_ID_RE.test(m[1]!)) continue;
    const s = await readState(dir, m[1]!);
    if (s) out.push(s);
  }
  return out;
}

type PidProbe = (pid: number) => string | undefined;

/** Entries of `dir` whose name matches `pattern` (group 1: a pid) and whose pid no longer runs. */
async function entriesOfDeadPids(dir: string, pattern: RegExp, probe: PidProbe): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => {
    const m = pattern.exec(n);
    return m !== null && probe(Number(m[1])) === undefined;
  }).map((n) => join(dir, n));
}

/**
 * Working directories of agents' nft sessions (`bc-nft-<pid>-XXXXXX` in the temp dir, see
 * real/agent/nft-session.ts) whose process is gone: an agent killed with SIGKILL cannot remove its
 * own. A directory whose pid is alive (the agent, or another process that took its pid) is kept.
 */
export function strayNftDirs(dir: string, probe: PidProbe = processStartTime): Promise<string[]> {
  return entriesOfDeadPids(dir, /^bc-nft-(\d+)-[A-Za-z0-9]{6}$/, probe);
}

/** Temporary files of writers that died between write and rename. */
export function strayTempFiles(dir: string, probe: PidProbe = processStartTime): Promise<string[]> {
  return entriesOfDeadPids(dir, /^\.[a-z0-9]+\.json\.(\d+)\.tmp$/, probe);
}
