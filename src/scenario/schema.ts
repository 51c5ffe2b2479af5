// The scenario file as written (apiVersion birdcage/v1, kind Scenario), checked with zod. Field
// shapes only; references to the topology (nodes, links, pods) are checked in load.ts, where the
// topology and every position are known. Steps and assertions are single-key mappings
// (`- fail: {...}`); load.ts picks the schema by that key so errors name the right fields.
import * as z from "zod";
import { dnsSubdomain, labels, strictObject } from "../core/model/fields.ts";
import { observationProblem } from "./compare.ts";
import { parseDuration } from "./duration.ts";

export const SCENARIO_API_VERSION = "birdcage/v1";

/** A schema that picks one of several by the value's type, so errors come from the right one. */
export function byType<T>(options: Partial<Record<"number" | "string" | "boolean" | "object" | "array", z.ZodType<T>>>, expected: string): z.ZodType<T> {
  return z.unknown().transform((v, ctx): T => {
    const t = Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
    const s = (options as Record<string, z.ZodType<T> | undefined>)[t];
    if (!s) {
      ctx.issues.push({ code: "custom", message: expected, input: v });
      return z.NEVER;
    }
    const r = s.safeParse(v);
    if (!r.success) {
      for (const i of r.error.issues) ctx.issues.push({ ...(i as z.core.$ZodIssueCustom), input: v });
      return z.NEVER;
    }
    return r.data;
  }) as unknown as z.ZodType<T>;
}

/** Milliseconds from "5s", "500ms", "2m", "1m30s". */
export const duration = byType<number>(
  {
    string: z.string().transform((s, ctx) => {
      const d = parseDuration(s);
      if (typeof d === "number") return d;
      ctx.issues.push({ code: "custom", message: d.error, input: s });
      return z.NEVER;
    }),
  },
  "expected a duration such as 500ms, 5s, 2m or 1m30s",
);

/** A count condition: a number means exactly that many. */
export interface Count {
  exactly?: number;
  atLeast?: number;
  atMost?: number;
  under?: number;
  over?: number;
}
const nonNegInt = z.number().int("expected a whole number").min(0, "expected a number >= 0");
export const count = byType<Count>(
  {
    number: nonNegInt.transform((n) => ({ exactly: n })),
    object: strictObject({ exactly: nonNegInt.optional(), atLeast: nonNegInt.optional(), atMost: nonNegInt.optional(), under: nonNegInt.optional(), over: nonNegInt.optional() }).refine(
      (c) => Object.values(c).some((v) => v !== undefined),
      "expected at least one of exactly, atLeast, atMost, under, over",
    ),
  },
  "expected a number, or a mapping with exactly, atLeast, atMost, under or over",
);

/** "all", or a count. */
export const allOrCount = byType<"all" | Count>(
  { string: z.literal("all", { error: 'expected "all" or a count' }), number: count, object: count },
  'expected "all", a number, or a mapping with exactly, atLeast, atMost, under or over',
);

const protocol = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(["tcp", "udp", "icmp"], { error: 'expected "tcp", "udp" or "icmp"' }));
const port = z.number().int("expected a whole port number").min(1, "ports are 1-65535").max(65535, "ports are 1-65535");
/** IP packet size in bytes. */
const size = z.number().int("expected a whole number of bytes").min(20, "a packet is at least 20 bytes (the IPv4 header)").max(65535, "a packet is at most 65535 bytes");
/** "namespace/name" of a pod, a node or router name, or an address. Resolved against the topology in load.ts. */
const endpoint = z.string().min(1, "must not be empty");

const flowFields = {
  from: endpoint,
  to: endpoint,
  protocol: protocol.default("tcp"),
  port: port.optional(),
  size: size.optional(),
  df: z.boolean().optional(),
};
const needsPort = (f: { protocol: string; port?: number | undefined }, ctx: z.core.$RefinementCtx) => {
  if (f.protocol !== "icmp" && f.port === undefined) ctx.addIssue({ code: "custom", message: `a ${f.protocol} flow needs a port`, path: ["port"] });
  if (f.protocol === "icmp" && f.port !== undefined) ctx.addIssue({ code: "custom", message: "icmp has no ports", path: ["port"] });
};
export const flowSchema = strictObject(flowFields).superRefine(needsPort);
export type FlowFile = z.infer<typeof flowSchema>;

// --- steps -------------------------------------------------------------------------------------

export const waitSchema = strictObject({
  /** The only kind of wait there is; written for readability. */
  converged: z.literal(true, { error: "expected true (wait until routing has converged; use advance to let time pass)" }).default(true),
  timeout: duration.default(60_000),
});

const podName = dnsSubdomain;
export const podItemSchema = strictObject({
  name: podName,
  namespace: dnsSubdomain.default("default"),
  node: z.string(),
  labels: labels.default({}),
  ip: z.string().optional(),
});
export const podGeneratorSchema = strictObject({
  /** Pods per node. */
  perNode: z.number().int().min(1, "at least 1 pod per node").max(1000, "at most 1000 pods per node"),
  namespace: dnsSubdomain.default("default"),
  /** Pod names are <namePrefix>-<node>-<k>, k from 1. */
  namePrefix: dnsSubdomain.default("pod"),
  labels: labels.default({}),
  /** The nodes to put pods on (default: every node). */
  nodes: z.array(z.string()).optional(),
});
export const podsSchema = byType<z.infer<typeof podItemSchema>[] | z.infer<typeof podGeneratorSchema>>(
  { array: z.array(podItemSchema).min(1, "expected at least one pod"), object: podGeneratorSchema },
  "expected a list of pods, or a generator such as { perNode: 5, namespace: shop, labels: { app: web } }",
);

/** A pod reference "namespace/name". */
export const podRef = z.string().regex(/^[^/\s]+\/[^/\s]+$/, 'expected a pod as "namespace/name"');
export const deletePodsSchema = z.array(podRef).min(1, "expected at least one pod");

/** Inline resources and/or file paths (relative to the scenario file). */
export const resourcesSchema = byType<(string | Record<string, unknown>)[]>(
  {
    string: z.string().transform((s) => [s]),
    array: z.array(byType<string | Record<string, unknown>>({ string: z.string(), object: z.record(z.string(), z.unknown()) }, "expected a file path or an inline resource (a mapping with apiVersion and kind)")),
    object: z.record(z.string(), z.unknown()).transform((o) => [o]),
  },
  "expected a file path, an inline resource, or a list of them",
);

const linkText = z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an attachment as "element@segment", e.g. node-3@seg-b');
export const failSchema = strictObject({
  link: linkText.optional(),
  node: z.string().optional(),
  router: z.string().optional(),
  /** For a node: "crash" (kill -9; peers keep stale routes under graceful restart) or "stop" (clean shutdown). */
  how: z.enum(["crash", "stop"], { error: 'expected "crash" or "stop"' }).optional(),
}).superRefine((f, ctx) => {
  const set = [f.link, f.node, f.router].filter((v) => v !== undefined).length;
  if (set !== 1) ctx.addIssue({ code: "custom", message: "expected exactly one of link, node or router" });
  if (f.how !== undefined && f.node === undefined) ctx.addIssue({ code: "custom", message: "how applies to a node only", path: ["how"] });
});
export const restoreSchema = strictObject({ link: linkText.optional(), node: z.string().optional(), router: z.string().optional() }).superRefine((f, ctx) => {
  if ([f.link, f.node, f.router].filter((v) => v !== undefined).length !== 1) ctx.addIssue({ code: "custom", message: "expected exactly one of link, node or router" });
});

export const probeSchema = strictObject({ name: z.string().min(1).optional(), ...flowFields }).superRefine(needsPort);

// --- assertions --------------------------------------------------------------------------------

export const sessionsAssertSchema = strictObject({
  node: z.string().optional(),
  established: allOrCount.default("all"),
});

const prefixList = z.array(z.string());
export const routesAssertSchema = strictObject({
  /** A node or router name, or "all" (every node). */
  node: z.string(),
  present: prefixList.default([]),
  absent: prefixList.default([]),
  /** The pod blocks (IPAM affinities) of these nodes must have routes: "all" = every other node. */
  podBlocksOf: byType<"all" | string[]>({ string: z.literal("all", { error: 'expected "all" or a list of nodes' }), array: z.array(z.string()) }, 'expected "all" or a list of nodes').optional(),
}).refine((r) => r.present.length > 0 || r.absent.length > 0 || r.podBlocksOf !== undefined, "expected present, absent and/or podBlocksOf");

export const reachSchema = flowSchema;

export const matrixAssertSchema = strictObject({
  /** "all" pods existing at that point, or a list of pods / patterns ("shop/web-1", "shop/*"). */
  pods: byType<"all" | string[]>({ string: z.literal("all", { error: 'expected "all" or a list of pods' }), array: z.array(z.string()).min(1) }, 'expected "all" or a list of pods').default("all"),
  protocol: protocol.default("tcp"),
  port: port.optional(),
  /** "FROM -> TO": allow|deny, applied in order (later entries win); "default" applies first. */
  expect: z.record(z.string(), z.enum(["allow", "deny"], { error: 'expected "allow" or "deny"' })),
}).superRefine(needsPort);

export const mtuAssertSchema = strictObject({
  ...flowFields,
  protocol: protocol.default("icmp"),
  size,
  df: z.boolean().default(true),
  expect: z.enum(["delivered", "fragmented", "dropped"], { error: 'expected "delivered", "fragmented" or "dropped"' }),
}).superRefine(needsPort);

export const ipamAssertSchema = strictObject({
  /** Blocks with affinity to `node` (or all blocks): { node: node-1, atLeast: 1 }. */
  blocks: strictObject({ node: z.string().optional(), exactly: nonNegInt.optional(), atLeast: nonNegInt.optional(), atMost: nonNegInt.optional(), under: nonNegInt.optional(), over: nonNegInt.optional() })
    .refine((b) => [b.exactly, b.atLeast, b.atMost, b.under, b.over].some((v) => v !== undefined), "expected at least one of exactly, atLeast, atMost, under, over")
    .optional(),
  problems: count.optional(),
  inUse: count.optional(),
}).refine((i) => i.blocks !== undefined || i.problems !== undefined || i.inUse !== undefined, "expected blocks, problems and/or inUse");

export const convergenceAssertSchema = strictObject({
  under: duration.optional(),
  converged: z.boolean().default(true),
});

export const messagesAssertSchema = strictObject({
  total: count.optional(),
  updates: count.optional(),
  keepalives: count.optional(),
  notifications: count.optional(),
  opens: count.optional(),
  bytes: count.optional(),
  /** Count from the start of the run, or from the start of the last wait step. */
  since: z.enum(["start", "last-wait"], { error: 'expected "start" or "last-wait"' }).default("start"),
}).refine((m) => [m.total, m.updates, m.keepalives, m.notifications, m.opens, m.bytes].some((v) => v !== undefined), "expected at least one of total, updates, keepalives, notifications, opens, bytes");

export const ASSERTION_SCHEMAS = {
  sessions: sessionsAssertSchema,
  routes: routesAssertSchema,
  reachable: reachSchema,
  unreachable: reachSchema,
  matrix: matrixAssertSchema,
  mtu: mtuAssertSchema,
  ipam: ipamAssertSchema,
  convergence: convergenceAssertSchema,
  messages: messagesAssertSchema,
} as const;
export type AssertionKind = keyof typeof ASSERTION_SCHEMAS;

export const STEP_SCHEMAS = {
  wait: waitSchema,
  pods: podsSchema,
  deletePods: deletePodsSchema,
  apply: resourcesSchema,
  delete: resourcesSchema,
  fail: failSchema,
  restore: restoreSchema,
  advance: duration,
  probe: probeSchema,
  // assert: a list of assertion items, each dispatched by its kind in load.ts.
} as const;
export type StepKind = keyof typeof STEP_SCHEMAS | "assert";

export const scenarioHeaderSchema = strictObject({
  apiVersion: z.literal(SCENARIO_API_VERSION),
  kind: z.literal("Scenario"),
  metadata: strictObject({ name: dnsSubdomain, description: z.string().optional() }),
  /** A topology file (relative to the scenario file), or a topology written inline. */
  topology: byType<string | Record<string, unknown>>({ string: z.string().min(1), object: z.record(z.string(), z.unknown()) }, "expected a topology file path or an inline topology"),
  seed: z.number().int("expected a whole number").min(0).max(2 ** 32 - 1).optional(),
  steps: z.array(z.unknown()).min(1, "a scenario needs at least one step"),
  /** `--mode both`: differences between the simulator and real mode that are expected, each with why. */
  knownDifferences: z
    .array(
      strictObject({
        observation: z.string({ error: "expected an observation path such as routes/node-3" }).trim().min(1, "expected an observation path such as routes/node-3").superRefine((o, ctx) => {
          const p = observationProblem(o);
          if (p !== undefined) ctx.addIssue({ code: "custom", message: p });
        }),
        reason: z.string({ error: "a known difference needs a reason: why sim and real differ here" }).trim().min(1, "a known difference needs a reason: why sim and real differ here"),
      }),
    )
    .optional(),
});
