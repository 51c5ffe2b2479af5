// Shared by the SimBackend tests: topologies from topologies/ (optionally edited) and a started backend.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { SimBackend, type SimBackendOptions } from "../../sim/backend.ts";
import type { RouteObservation } from "../../src/scenario/backend.ts";
import { loadTopology, type Topology } from "../../src/topology/index.ts";
import { repoRoot } from "../helpers/paths.ts";

export function topologyFile(name: string, edit?: (text: string) => string): Topology {
  const file = resolve(repoRoot, "topologies", name);
  const text = readFileSync(file, "utf8");
  return loadTopology(edit ? edit(text) : text, file, { readFile: (p) => readFileSync(resolve(dirname(file), p), "utf8") }).topology;
}

export async function started(t: Topology, options: SimBackendOptions = {}, seed = 1): Promise<SimBackend> {
  const b = new SimBackend(options);
  await b.start(t, { seed });
  return b;
}

/** node -> prefix -> route, for lookups in assertions. */
export function routeTable(routes: RouteObservation[]): Map<string, Map<string, RouteObservation>> {
  const m = new Map<string, Map<string, RouteObservation>>();
  for (const r of routes) {
    let n = m.get(r.node);
    if (!n) m.set(r.node, (n = new Map()));
    n.set(r.prefix, r);
  }
  return m;
}

/** The blocks each node owns (affinity host:<node>), from the backend's IPAM view. */
export async function blocksByNode(b: SimBackend): Promise<Map<string, string[]>> {
  const m = new Map<string, string[]>();
  for (const blk of (await b.ipam()).blocks) {
    const node = blk.affinity?.replace(/^host:/, "");
    if (node === undefined) continue;
    m.set(node, [...(m.get(node) ?? []), blk.cidr]);
  }
  return m;
}
