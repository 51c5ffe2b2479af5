// `birdcage real up --engine containerlab`: the topology exported with topologyToClab, renamed into
// the run (lab bc-<run>-<name>, bridges bc-<run>b<N>, bridge ports bc-<run>p<K>) and deployed with
// `containerlab deploy`. containerlab's bridges live in the ROOT namespace (containerlab expects
// them there), so they carry the bc: alias and are recorded in the run's state file like anything
// else. clabPlan() is pure and returns the exact argv arrays; clabUp() runs them.
import { execa } from "execa";
import { accessSync, constants } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { stringify } from "yaml";
import { topologyToClab, type Topology } from "../../src/topology/index.ts";
import { IFNAME_MAX, linkMarker } from "./names.ts";
import { RunOwner, type RunOwnerOptions } from "./owner.ts";

export interface ClabPlan {
  runId: string;
  labName: string;
  /** Where the containerlab topology file is written (a bc- file). */
  file: string;
  /** The containerlab topology (print with yaml's stringify). */
  topology: Record<string, unknown>;
  bridges: { name: string; segment: string; mtu: number }[];
  /** Commands of `up`, in order: bridges, then deploy. */
  up: string[][];
  /** Commands of `down`, in order: destroy, then the bridges. */
  down: string[][];
}

export const clabFile = (runId: string, dir: string = tmpdir()): string => join(dir, `bc-${runId}.clab.yaml`);

function ifname(name: string): string {
  if (name.length > IFNAME_MAX) throw new Error(`containerlab interface name ${name} is longer than ${IFNAME_MAX} characters: use a shorter run id (--run-id, 6 characters)`);
  return name;
}

export function clabPlan(t: Topology, runId: string, file: string = clabFile(runId)): ClabPlan {
  const base = topologyToClab(t) as { name: string; mgmt: Record<string, unknown>; topology: { nodes: Record<string, Record<string, unknown>>; links: { endpoints: [string, string] }[] } };
  const rename = new Map<string, string>();
  const bridges = t.segments.map((s, i) => {
    const name = ifname(`bc-${runId}b${i + 1}`);
    rename.set(`bc-${i + 1}`, name);
    return { name, segment: s.name, mtu: s.mtu };
  });
  const nodes: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(base.topology.nodes)) nodes[rename.get(k) ?? k] = v;
  let port = 0;
  const links = base.topology.links.map((l) => ({
    endpoints: l.endpoints.map((ep) => {
      const br = rename.get(ep.split(":")[0]!);
      return br ? `${br}:${ifname(`bc-${runId}p${++port}`)}` : ep;
    }),
  }));
  const labName = `bc-${runId}-${t.name}`.slice(0, 63);
  const topology = { name: labName, mgmt: { ...base.mgmt, network: `bc-${runId}-mgmt` }, topology: { nodes, links } };
  const marker = linkMarker(runId);
  return {
    runId,
    labName,
    file,
    topology,
    bridges,
    up: [
      ...bridges.flatMap((b) => [
        ["ip", "link", "add", b.name, "type", "bridge"],
        ["ip", "link", "set", b.name, "alias", marker, "mtu", String(b.mtu), "up"],
      ]),
      ["containerlab", "deploy", "-t", file],
    ],
    down: [["containerlab", "destroy", "-t", file, "--cleanup"], ...bridges.map((b) => ["ip", "link", "del", b.name])],
  };
}

/** The full path of an executable found on PATH, or undefined. */
export function onPath(bin: string, path: string = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const p = join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const CLAB_MISSING =
  "containerlab is not on PATH (it is not installable on this machine: no npm or Debian package, no Docker engine); use --engine netns, or --dry-run to print the commands";

export class ClabUnavailable extends Error {
  readonly exitCode = 2;
}

/** Deploys the plan under a run owner; everything is recorded before it is created. */
export async function clabUp(t: Topology, options: Omit<RunOwnerOptions, "engine" | "topology"> = {}): Promise<{ owner: RunOwner; plan: ClabPlan }> {
  if (!onPath("containerlab")) {
    throw new ClabUnavailable(CLAB_MISSING);
  }
  const owner = await RunOwner.create({ ...options, engine: "containerlab", topology: { name: t.name, file: t.file } });
  return owner.guard(async () => {
    let plan: ClabPlan | undefined;
    try {
      plan = clabPlan(t, owner.runId);
      await owner.intend([{ kind: "file", path: plan.file }]);
      await writeFile(plan.file, stringify(plan.topology));
      await owner.intend(plan.bridges.map((b) => ({ kind: "link" as const, name: b.name })));
      await owner.intend([{ kind: "clab-lab", name: plan.labName, file: plan.file }]);
      for (const argv of plan.up) {
        owner.checkInterrupted();
        const r = await execa(argv[0]!, argv.slice(1), { reject: false });
        if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${String(r.stderr).trim() || `exit ${r.exitCode}`}`);
      }
    } catch (e) {
      await owner.teardown();
      throw e;
    }
    return { owner, plan };
  });
}
