// Removing the objects of a run: used by teardown, `birdcage real down` and `birdcage real gc`.
// Only objects that carry our prefix are touched, whatever a state file says, so a corrupted or
// hand-edited state file cannot make us delete someone else's namespace or link.
import { execa } from "execa";
import { execFileSync } from "node:child_process";
import { readdirSync, readlinkSync, rmSync, statSync, unlinkSync } from "node:fs";
import { rm, unlink } from "node:fs/promises";
import { basename, isAbsolute } from "node:path";
import { PREFIX } from "./names.ts";
import { processStartTime, type OwnedObject } from "./state.ts";

export interface RemovalResult {
  removed: OwnedObject[];
  failed: { object: OwnedObject; error: string }[];
}

/** Refuses objects whose names lack the prefix (bc-, bc_, or a bc- file name). */
export function hasOurPrefix(o: OwnedObject): boolean {
  switch (o.kind) {
    case "netns":
    case "link":
      return o.name.startsWith(PREFIX);
    case "nft-table":
      return o.name.startsWith("bc_");
    case "file":
      return basename(o.path).startsWith(PREFIX);
    case "dir":
      // rm -r: only an absolute path whose last component is ours, never a bare prefix.
      return isAbsolute(o.path) && basename(o.path).startsWith(PREFIX) && basename(o.path).length > PREFIX.length;
    case "clab-lab":
      return o.name.startsWith(PREFIX) && basename(o.file).startsWith(PREFIX);
    case "process":
      return true; // identified by pid + start time, checked before any signal
  }
}

export const describeObject = (o: OwnedObject): string => {
  switch (o.kind) {
    case "netns":
      return `netns ${o.name}`;
    case "link":
      return `link ${o.name}${o.netns ? ` (netns ${o.netns})` : ""}`;
    case "nft-table":
      return `nft table ${o.family} ${o.name}${o.netns ? ` (netns ${o.netns})` : ""}`;
    case "process":
      return `process ${o.pid} (${o.command})`;
    case "file":
      return `file ${o.path}`;
    case "dir":
      return `directory ${o.path}`;
    case "clab-lab":
      return `containerlab lab ${o.name} (${o.file})`;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, up to `graceMs` to exit, then SIGKILL. Only pids whose start time still matches. */
export async function stopProcesses(procs: { pid: number; startTime: string }[], graceMs = 1000): Promise<void> {
  const live = () => procs.filter((p) => processStartTime(p.pid) === p.startTime);
  const signal = (sig: NodeJS.Signals) => {
    for (const p of live()) {
      try {
        process.kill(p.pid, sig);
      } catch {
        // gone meanwhile
      }
    }
  };
  if (live().length === 0) return;
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (live().length > 0 && Date.now() < deadline) await sleep(25);
  signal("SIGKILL");
  for (let i = 0; i < 40 && live().length > 0; i++) await sleep(25);
}

/**
 * Processes whose network namespace is one of `names` (what `ip netns pids` finds, for all names in
 * one pass over /proc instead of one `ip` process per namespace): a process is inside when its
 * /proc/PID/ns/net is the same nsfs inode as /run/netns/NAME.
 */
export function pidsInNetns(names: readonly string[]): { pid: number; startTime: string; netns: string }[] {
  const byIno = new Map<string, string>();
  for (const n of names) {
    try {
      const st = statSync(`/run/netns/${n}`);
      byIno.set(`${st.dev}:${st.ino}`, n);
    } catch {
      // not mounted (gone)
    }
  }
  if (byIno.size === 0) return [];
  const out: { pid: number; startTime: string; netns: string }[] = [];
  for (const pid of otherPids()) {
    let st;
    try {
      st = statSync(`/proc/${pid}/ns/net`);
    } catch {
      continue;
    }
    const netns = byIno.get(`${st.dev}:${st.ino}`);
    if (netns === undefined) continue;
    const startTime = processStartTime(pid);
    if (startTime !== undefined) out.push({ pid, startTime, netns });
  }
  return out;
}

/** Every pid in /proc but our own (none if /proc cannot be read). */
function otherPids(): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid).map(Number);
}

/**
 * Processes whose working directory is one of `dirs` or inside one: etcd runs in its data dir, so a
 * run killed between spawning etcd and recording its pid still leaves it findable through the dir.
 */
export function pidsWithCwdIn(dirs: readonly string[]): { pid: number; startTime: string }[] {
  if (dirs.length === 0) return [];
  const out: { pid: number; startTime: string }[] = [];
  for (const pid of otherPids()) {
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue;
    }
    if (!dirs.some((d) => cwd === d || cwd.startsWith(`${d}/`))) continue;
    const startTime = processStartTime(pid);
    if (startTime !== undefined) out.push({ pid, startTime });
  }
  return out;
}

export async function listNetns(): Promise<string[]> {
  const r = await execa("ip", ["netns", "list"], { reject: false });
  if (r.exitCode !== 0) return [];
  return String(r.stdout)
    .split("\n")
    .map((l) => l.trim().split(" ")[0] ?? "")
    .filter(Boolean);
}

/** Deletes namespaces in one `ip -force -batch` (a missing one is not an error). */
export async function deleteNetns(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await execa("ip", ["-force", "-batch", "-"], { input: names.map((n) => `netns del ${n}`).join("\n") + "\n", reject: false });
}

/**
 * Removes objects in a safe order: processes, containerlab labs, processes inside the namespaces,
 * namespaces (taking their links, bridges, qdiscs and nft tables with them), root-namespace links,
 * nft tables, files, directories. Objects already gone count as removed.
 */
export async function removeObjects(objects: OwnedObject[], log: (line: string) => void = () => undefined): Promise<RemovalResult> {
  const result: RemovalResult = { removed: [], failed: [] };
  const mine = objects.filter((o) => {
    if (hasOurPrefix(o)) return true;
    result.failed.push({ object: o, error: "refused: name without the bc- prefix" });
    return false;
  });
  const of = <K extends OwnedObject["kind"]>(k: K) => mine.filter((o): o is Extract<OwnedObject, { kind: K }> => o.kind === k);

  const procs = of("process");
  await stopProcesses(procs);
  for (const p of procs) {
    if (processStartTime(p.pid) === p.startTime) result.failed.push({ object: p, error: "still running after SIGKILL" });
    else result.removed.push(p);
  }

  for (const lab of of("clab-lab")) {
    const r = await execa("containerlab", ["destroy", "-t", lab.file, "--cleanup"], { reject: false });
    if (r.exitCode === 0) result.removed.push(lab);
    else result.failed.push({ object: lab, error: r.failed && r.exitCode === undefined ? "containerlab is not on PATH" : String(r.stderr).trim() || `exit ${r.exitCode}` });
  }

  const nsObjs = of("netns");
  const existing = new Set(await listNetns());
  const toDelete = nsObjs.filter((n) => existing.has(n.name)).map((n) => n.name);
  const inside = pidsInNetns(toDelete);
  if (inside.length > 0) log(`stopping ${inside.length} process(es) inside the namespaces`);
  await stopProcesses(inside);
  await deleteNetns(toDelete);
  const after = new Set(await listNetns());
  for (const n of nsObjs) {
    if (after.has(n.name)) result.failed.push({ object: n, error: "ip netns del failed" });
    else result.removed.push(n);
  }
  const gone = new Set(nsObjs.map((n) => n.name));

  for (const l of of("link")) {
    if (l.netns !== undefined && gone.has(l.netns)) {
      result.removed.push(l); // went with its namespace
      continue;
    }
    const r = await execa("ip", [...(l.netns ? ["-n", l.netns] : []), "link", "del", l.name], { reject: false });
    if (r.exitCode === 0 || /Cannot find device|does not exist|No such file/i.test(String(r.stderr))) result.removed.push(l);
    else result.failed.push({ object: l, error: String(r.stderr).trim() });
  }

  for (const t of of("nft-table")) {
    if (t.netns !== undefined && gone.has(t.netns)) {
      result.removed.push(t);
      continue;
    }
    const cmd = t.netns ? ["ip", "netns", "exec", t.netns, "nft"] : ["nft"];
    const r = await execa(cmd[0]!, [...cmd.slice(1), "delete", "table", t.family, t.name], { reject: false });
    if (r.exitCode === 0 || /No such file|does not exist/i.test(String(r.stderr))) result.removed.push(t);
    else result.failed.push({ object: t, error: String(r.stderr).trim() || `exit ${r.exitCode}` });
  }

  for (const f of of("file")) {
    try {
      await unlink(f.path);
      result.removed.push(f);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") result.removed.push(f);
      else result.failed.push({ object: f, error: String(e) });
    }
  }
  const dirs = of("dir");
  await stopProcesses(pidsWithCwdIn(dirs.map((d) => d.path)));
  for (const d of dirs) {
    try {
      await rm(d.path, { recursive: true, force: true });
      result.removed.push(d);
    } catch (e) {
      result.failed.push({ object: d, error: String(e) });
    }
  }
  for (const f of result.failed) log(`could not remove ${describeObject(f.object)}: ${f.error}`);
  return result;
}

/**
 * Last-chance synchronous cleanup for process 'exit': kill our processes, delete namespaces and
 * files and directories. True when none of the namespaces or directories remains.
 */
export function removeObjectsSync(objects: OwnedObject[]): boolean {
  let dirsLeft = false;
  for (const o of objects) {
    if (o.kind === "process" && processStartTime(o.pid) === o.startTime) {
      try {
        process.kill(o.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  const ns = objects.filter((o) => o.kind === "netns" && hasOurPrefix(o)).map((o) => (o as { name: string }).name);
  // A namespace with a process in it outlives `ip netns del`: kill what runs inside first.
  for (const p of pidsInNetns(ns)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  if (ns.length > 0) {
    try {
      execFileSync("ip", ["-force", "-batch", "-"], { input: ns.map((n) => `netns del ${n}`).join("\n") + "\n", stdio: ["pipe", "ignore", "ignore"] });
    } catch {
      // some were already gone
    }
  }
  for (const o of objects) {
    if (o.kind === "file" && hasOurPrefix(o)) {
      try {
        unlinkSync(o.path);
      } catch {
        // gone
      }
    }
    if (o.kind === "dir" && hasOurPrefix(o)) {
      try {
        rmSync(o.path, { recursive: true, force: true, maxRetries: 2 });
      } catch {
        dirsLeft = true; // gc retries through the state file
      }
    }
  }
  if (dirsLeft) return false;
  if (ns.length === 0) return true;
  try {
    const left = new Set(execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").map((l) => l.split(" ")[0]));
    return ns.every((n) => !left.has(n));
  } catch {
    return false;
  }
}
