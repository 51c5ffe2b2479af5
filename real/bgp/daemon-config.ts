// The standalone speaker's YAML config (`birdcage bgp speaker --config FILE`): a zod schema, and a
// loader that reports every problem as file:line:col through src/core/model's YAML positions.
import * as z from "zod";
import { issueToProblems } from "../../src/core/model/issues.ts";
import { InputError, sortProblems, type Problem } from "../../src/core/model/problems.ts";
import { parseYamlDocuments } from "../../src/core/model/yaml-source.ts";
import { familyBits, parseIP, parsePrefix } from "../../src/core/net/ip.ts";
import { parseCommunity } from "./daemon-policy.ts";

const ipText = (what: string) =>
  z.string().refine((s) => {
    try {
      parseIP(s);
      return true;
    } catch {
      return false;
    }
  }, `expected an IPv4 or IPv6 ${what}`);

const prefixText = z.string().refine((s) => {
  try {
    parsePrefix(s, { strict: true });
    return true;
  } catch {
    return false;
  }
}, "expected a prefix such as 10.1.0.0/26 (no host bits set)");

const asn = z.number().int().min(1).max(4294967295);
const routerId = z.union([z.string().refine((s) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split(".").every((o) => Number(o) <= 255) && s !== "0.0.0.0", "expected a non-zero dotted quad such as 10.0.0.1"), z.number().int().min(1).max(4294967295)], { error: "expected a non-zero dotted quad such as 10.0.0.1 or a number 1-4294967295" });
const holdTime = z.number().int().refine((n) => n === 0 || (n >= 3 && n <= 65535), "hold time must be 0 or 3-65535 seconds");

const u32 = z.number().int().min(0).max(4294967295);
const communityText = z.string().refine((s) => parseCommunity(s) !== undefined, "expected a community such as 65000:100 (each half 0-65535) or a well-known name (no-export, no-advertise, no-export-subconfed, no-peer, blackhole, graceful-shutdown)");

/** A prefix-list entry: "10.0.0.0/8" (exactly that prefix) or { prefix, ge, le } (lengths ge..le inside it). */
const prefixEntry = z.union([
  prefixText,
  z
    .strictObject({ prefix: prefixText, ge: z.number().int().min(0).max(128).optional(), le: z.number().int().min(0).max(128).optional() })
    .superRefine((e, ctx) => {
      let p;
      try {
        p = parsePrefix(e.prefix, { strict: true });
      } catch {
        return; // reported by prefixText
      }
      const max = familyBits(p.family);
      for (const k of ["ge", "le"] as const) {
        const v = e[k];
        if (v !== undefined && v <= 128 && (v < p.len || v > max)) ctx.addIssue({ code: "custom", path: [k], message: `${k} must be between the prefix length ${p.len} and ${max}` });
      }
      if (e.ge !== undefined && e.le !== undefined && e.ge > e.le) ctx.addIssue({ code: "custom", path: ["le"], message: `le ${e.le} is less than ge ${e.ge}` });
    }),
]);

/**
 * One filter rule: it matches when the route's prefix is in `prefixes` (if given) and the route
 * carries at least one of `communities` (if given). The first matching rule decides: accept with
 * `set` applied, or reject (`action: reject`). No rule matches → reject.
 */
const filterRule = z
  .strictObject({
    prefixes: z.array(prefixEntry).min(1).optional(),
    communities: z.array(communityText).min(1).optional(),
    action: z.enum(["accept", "reject"]).optional(),
    set: z
      .strictObject({
        localPref: u32.optional(),
        med: u32.optional(),
        communities: z.strictObject({ add: z.array(communityText).optional(), remove: z.array(communityText).optional() }).optional(),
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    if (r.action === "reject" && r.set) ctx.addIssue({ code: "custom", path: ["set"], message: "set has no effect on a rule with action: reject" });
  });

/** `all`, `none`, a filter rule or a list of them (first match decides). */
const policySpec = z.union([z.literal("all"), z.literal("none"), filterRule, z.array(filterRule).min(1)], {
  error: "expected all, none, a filter rule (mapping) or a list of rules",
});

const peerSchema = z.strictObject({
  address: ipText("address"),
  asNumber: asn,
  port: z.number().int().min(1).max(65535).optional(),
  localAddress: ipText("address").optional(),
  passive: z.boolean().optional(),
  routeReflectorClient: z.boolean().optional(),
  clusterId: routerId.optional(),
  holdTime: holdTime.optional(),
  /** The smallest hold time accepted from the peer (smaller: NOTIFICATION 2/6). */
  minHoldTime: z.number().int().min(3).max(65535).optional(),
  connectRetryTime: z.number().int().min(1).max(65535).optional(),
  gracefulRestart: z.union([z.strictObject({ restartTime: z.number().int().min(0).max(4095) }), z.literal(false)]).optional(),
  nextHopSelf: z.boolean().optional(),
  maxPrefixes: z.number().int().min(1).optional(),
  families: z.array(z.union([z.literal(4), z.literal(6)])).min(1).optional(),
  /** This peer's policy, overriding the speaker-wide one. */
  import: policySpec.optional(),
  export: policySpec.optional(),
});

export const speakerConfigSchema = z.strictObject({
  asNumber: asn,
  routerId,
  clusterId: routerId.optional(),
  listen: z.strictObject({ address: ipText("address"), port: z.number().int().min(0).max(65535).optional() }).optional(),
  /**
   * `restarting`: this start is a restart (R bit in the first OPEN; `forwarding`: F bit, the kernel
   * routes were kept); `selectionDeferral` (s): defer best-path selection until every peer's
   * End-of-RIB or this many seconds (RFC 4724 §4.1).
   */
  gracefulRestart: z
    .union([
      z.strictObject({
        restartTime: z.number().int().min(0).max(4095),
        restarting: z.boolean().optional(),
        forwarding: z.boolean().optional(),
        selectionDeferral: z.number().int().min(1).max(3600).optional(),
      }),
      z.literal(false),
    ])
    .optional(),
  /**
   * The policy for peers without their own. Neither set: iBGP peers accept and send everything, eBGP
   * peers nothing (RFC 8212), as BIRD 2 does.
   */
  import: policySpec.optional(),
  export: policySpec.optional(),
  peers: z.array(peerSchema).default([]),
  originate: z.array(prefixText).default([]),
  kernel: z
    .strictObject({
      install: z.boolean(),
      protocol: z.number().int().min(1).max(255).refine((n) => n !== 12 && n !== 3, "protocol 12 is BIRD's and 3 is boot's; pick another").optional(),
      netns: z.string().regex(/^[A-Za-z0-9_.-]+$/, "expected a namespace name").optional(),
      table: z.number().int().min(1).max(4294967295).optional(),
    })
    .optional(),
  control: z.strictObject({ socket: z.string().min(1) }).optional(),
});

export type DaemonConfig = z.infer<typeof speakerConfigSchema>;
export type DaemonPeerConfig = z.infer<typeof peerSchema>;
export type PolicySpec = z.infer<typeof policySpec>;
export type FilterRule = z.infer<typeof filterRule>;
export type PrefixEntry = z.infer<typeof prefixEntry>;

/**
 * A union's issue replaced by the issues of its one branch that got past the type check (an
 * object with a bad field inside, a string failing its own check), so the error names that field
 * and says what was wrong instead of only "expected one of ...".
 */
function unionIssues(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== "invalid_union" || !issue.errors) return [issue];
  const shallow = (i: z.core.$ZodIssue): boolean => i.path.length === 0 && (i.code === "invalid_type" || i.code === "invalid_value");
  const deep = issue.errors.filter((branch) => branch.length > 0 && !branch.every(shallow));
  if (deep.length !== 1) return [issue];
  return deep[0]!.flatMap((i) => unionIssues({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue));
}

/** Parses and validates the config; every problem (syntax, schema, cross-field) is returned. */
export function parseDaemonConfig(text: string, file: string): { config?: DaemonConfig; problems: Problem[] } {
  const parsed = parseYamlDocuments(text, file);
  if (parsed.problems.length > 0) return { problems: sortProblems(parsed.problems) };
  const doc = parsed.documents[0];
  if (!doc) return { problems: [{ file, line: 1, column: 1, message: "empty file: expected a speaker config (asNumber, routerId, peers, ...)" }] };
  const problems: Problem[] = [];
  if (parsed.documents.length > 1) problems.push({ ...parsed.documents[1]!.pos, message: "a speaker config holds one document" });
  const r = speakerConfigSchema.safeParse(doc.value);
  if (!r.success) return { problems: sortProblems([...problems, ...r.error.issues.flatMap(unionIssues).flatMap((i) => issueToProblems(i, doc))]) };
  const config = r.data;
  // The core has one cluster ID per speaker: peers may repeat it, not contradict it.
  const clusterIds = new Set<string>();
  if (config.clusterId !== undefined) clusterIds.add(String(config.clusterId));
  const seen = new Map<string, number>();
  config.peers.forEach((p, i) => {
    if (p.clusterId !== undefined) {
      clusterIds.add(String(p.clusterId));
      if (clusterIds.size > 1) problems.push({ ...doc.locate(["peers", i, "clusterId"]), message: `peers[${i}].clusterId: the speaker has one cluster ID; ${p.clusterId} differs from an earlier one` });
    }
    const key = parseIP(p.address).value.toString() + "/" + parseIP(p.address).family;
    if (seen.has(key)) problems.push({ ...doc.locate(["peers", i, "address"]), message: `peers[${i}].address: ${p.address} is also peers[${seen.get(key)}]` });
    else seen.set(key, i);
  });
  return problems.length > 0 ? { problems: sortProblems(problems) } : { config, problems: [] };
}

/** parseDaemonConfig, throwing InputError (exit 2) on any problem. */
export function loadDaemonConfig(text: string, file: string): DaemonConfig {
  const { config, problems } = parseDaemonConfig(text, file);
  if (!config) throw new InputError(problems);
  return config;
}

/** The cluster ID in force: the top-level one, else the first peer's. */
export function effectiveClusterId(config: DaemonConfig): string | number | undefined {
  return config.clusterId ?? config.peers.find((p) => p.clusterId !== undefined)?.clusterId;
}
