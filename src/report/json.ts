// report.json: the RunReport as stable, documented JSON (docs/reports.md). Keys come in a fixed
// order per object (fields added to the contract later follow, sorted by name), arrays keep the
// order the runner gave them, every number is rounded to 3 decimals, so the same inputs and seed
// give byte-identical files.
import type { RunReport } from "../scenario/result.ts";
import { compareStrings, round3 } from "./format.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The key order of one kind of object; `fields` gives the shape of nested objects (or of each array element). */
interface Shape {
  order: readonly string[];
  fields?: Readonly<Record<string, Shape>>;
  /** A map keyed by name (e.g. perNode): keys sorted, each value of this shape. */
  values?: Shape;
}

const hop: Shape = { order: ["at", "action", "out", "size"] };
const probe: Shape = { order: ["name", "at", "outcome", "reason", "dropKind", "encap", "pathMtu", "hops"], fields: { hops: hop } };
const assertion: Shape = { order: ["name", "kind", "passed", "expected", "actual", "details", "at", "step", "source"] };
const step: Shape = {
  order: ["index", "kind", "description", "start", "end", "convergence", "error"],
  fields: { convergence: { order: ["converged", "took"] } },
};
const sample: Shape = {
  order: ["t", "sessionsEstablished", "routes", "bgpMessages", "perNode"],
  fields: { perNode: { order: [], values: { order: ["sessions", "routes"] } } },
};
const session: Shape = { order: ["node", "peer", "peerName", "state", "type", "prefixesReceived", "prefixesSent"] };
const route: Shape = { order: ["node", "prefix", "kind", "nextHops", "encap", "source"] };
const ipam: Shape = {
  order: ["inUse", "problems", "blocks"],
  fields: { blocks: { order: ["cidr", "affinity", "allocated", "size"] } },
};
const counters: Shape = {
  order: ["bgpMessages", "bgpBytes", "events"],
  fields: { bgpMessages: { order: ["total", "open", "update", "keepalive", "notification", "routeRefresh"] } },
};
const scenario: Shape = {
  order: ["scenario", "topology", "mode", "seed", "passed", "duration", "assertions", "steps", "probes", "samples", "timeline", "final"],
  fields: {
    scenario: { order: ["name", "file", "description"] },
    topology: { order: ["name", "file", "nodes", "routers", "segments"] },
    assertions: assertion,
    steps: step,
    probes: probe,
    samples: sample,
    timeline: { order: ["t", "node", "kind", "text"] },
    final: { order: ["sessions", "routes", "ipam", "counters"], fields: { sessions: session, routes: route, ipam, counters } },
  },
};
const comparison: Shape = {
  order: ["file", "scenario", "passed", "notCompared", "differences", "stale"],
  fields: {
    differences: { order: ["observation", "sim", "real", "known"], fields: { known: { order: ["pattern", "reason", "source"] } } },
    stale: { order: ["observation", "reason", "source"] },
  },
};
const runReport: Shape = { order: ["birdcage", "passed", "scenarios", "comparisons"], fields: { scenarios: scenario, comparisons: comparison } };

const orderSets = new WeakMap<Shape, Set<string>>();
function orderSet(shape: Shape): Set<string> {
  let set = orderSets.get(shape);
  if (!set) orderSets.set(shape, (set = new Set(shape.order)));
  return set;
}

const keep = (v: unknown): boolean => v !== undefined && typeof v !== "function";

/** Any value as canonical JSON data: shaped key order, undefined dropped, numbers rounded, non-finite numbers null. */
export function canonical(value: unknown, shape?: Shape): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return Number.isFinite(value) ? round3(value) : null;
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) {
    const out = new Array<Json>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = value[i] === undefined ? null : canonical(value[i], shape);
    return out;
  }
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const out: Record<string, Json> = {};
    if (shape?.values) {
      for (const k of Object.keys(obj).filter((k) => keep(obj[k])).sort(compareStrings)) out[k] = canonical(obj[k], shape.values);
      return out;
    }
    const known = shape ? orderSet(shape) : undefined;
    if (shape) for (const k of shape.order) if (Object.hasOwn(obj, k) && keep(obj[k])) out[k] = canonical(obj[k], shape.fields?.[k]);
    let rest: string[] | undefined;
    for (const k of Object.keys(obj)) if (!known?.has(k) && keep(obj[k])) (rest ??= []).push(k);
    if (rest) for (const k of rest.sort(compareStrings)) out[k] = canonical(obj[k], shape?.fields?.[k]);
    return out;
  }
  return null;
}

/** report.json text: canonical, 2-space indent, trailing newline. */
export function reportJson(report: RunReport): string {
  return JSON.stringify(canonical(report, runReport), null, 2) + "\n";
}
