// report.json read back: a zod schema of the documented format (docs/reports.md), so a saved
// report can be checked and rendered again (HTML, JUnit) without rerunning the scenarios. Objects
// are loose: fields added to the format later pass through untouched. docs/report.schema.json is
// generated from this schema (a test keeps the two equal).
import * as z from "zod";
import type { RunReport } from "../scenario/result.ts";

/** reportJson writes a non-finite number as null; reading gives NaN back. */
const num = z.union([z.number(), z.null().transform(() => Number.NaN)]);
const obj = <T extends z.ZodRawShape>(shape: T) => z.looseObject(shape);

const sessionState = z.enum(["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"]);
const encap = z.enum(["none", "ipip", "vxlan"]);

const assertion = obj({
  name: z.string(),
  kind: z.string(),
  passed: z.boolean(),
  expected: z.string(),
  actual: z.string(),
  details: z.array(z.string()).optional(),
  at: num,
  step: num,
  source: z.string().optional(),
});

const step = obj({
  index: num,
  kind: z.string(),
  description: z.string(),
  start: num,
  end: num,
  convergence: obj({ converged: z.boolean(), took: num }).optional(),
  error: z.string().optional(),
});

const sample = obj({
  t: num,
  sessionsEstablished: num,
  routes: num,
  bgpMessages: num,
  perNode: z.record(z.string(), obj({ sessions: num, routes: num })).optional(),
});

const probe = obj({
  name: z.string(),
  at: num,
  outcome: z.enum(["delivered", "fragmented", "dropped"]),
  reason: z.string().optional(),
  dropKind: z.string().optional(),
  encap,
  pathMtu: num.optional(),
  hops: z.array(obj({ at: z.string(), action: z.string(), out: z.string().optional(), size: num.optional() })),
});

const scenario = obj({
  scenario: obj({ name: z.string(), file: z.string(), description: z.string().optional() }),
  topology: obj({ name: z.string(), file: z.string(), nodes: num, routers: num, segments: num }),
  mode: z.enum(["sim", "real"]),
  seed: num,
  passed: z.boolean(),
  duration: num,
  assertions: z.array(assertion),
  steps: z.array(step),
  probes: z.array(probe),
  samples: z.array(sample),
  timeline: z.array(
    obj({ t: num, node: z.string().optional(), kind: z.enum(["session", "route", "step", "failure", "restore", "probe", "note"]), text: z.string() }),
  ),
  final: obj({
    sessions: z.array(
      obj({
        node: z.string(),
        peer: z.string(),
        peerName: z.string().optional(),
        state: sessionState,
        type: z.enum(["iBGP", "eBGP"]),
        prefixesReceived: num,
        prefixesSent: num,
      }),
    ),
    routes: z.array(
      obj({ node: z.string(), prefix: z.string(), kind: z.enum(["unicast", "blackhole", "local"]), nextHops: z.array(z.string()), encap, source: z.string() }),
    ),
    ipam: obj({
      inUse: num,
      problems: z.array(z.string()),
      blocks: z.array(obj({ cidr: z.string(), affinity: z.string().nullable(), allocated: num, size: num })),
    }),
    counters: obj({
      bgpMessages: obj({ total: num, open: num, update: num, keepalive: num, notification: num, routeRefresh: num }),
      bgpBytes: num,
      events: num.optional(),
    }),
  }),
});

const knownDifference = obj({ observation: z.string(), reason: z.string(), source: z.string().optional() });

const comparison = obj({
  file: z.string(),
  scenario: z.string(),
  passed: z.boolean(),
  notCompared: z.string().optional(),
  differences: z.array(
    obj({ observation: z.string(), sim: z.string(), real: z.string(), known: obj({ pattern: z.string(), reason: z.string(), source: z.string().optional() }).optional() }),
  ),
  stale: z.array(knownDifference),
});

export const runReportSchema = obj({ birdcage: z.string(), passed: z.boolean(), scenarios: z.array(scenario), comparisons: z.array(comparison).optional() });

export class ReportFormatError extends Error {}

/** Parses report.json text; a clear error names the first wrong field by its path. */
export function readReport(text: string): RunReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ReportFormatError(`not JSON: ${(e as Error).message}`);
  }
  const r = runReportSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
    throw new ReportFormatError(`not a birdcage report: ${path ? `${path.slice(path.startsWith(".") ? 1 : 0)}: ` : ""}${issue.message}`);
  }
  const report: RunReport = r.data;
  return report;
}

/** The JSON Schema (draft 2020-12) of report.json, as docs/report.schema.json holds it. */
export function reportJsonSchema(): object {
  return {
    ...z.toJSONSchema(runReportSchema, { io: "input", unrepresentable: "any" }),
    title: "birdcage report.json",
    description: "What `birdcage run` writes as report.json; documented in docs/reports.md.",
  };
}
