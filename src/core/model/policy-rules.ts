// Calico v3 policy rules (api/pkg/apis/projectcalico/v3/policy_common.go) and the checks Calico's
// validator makes on them (libcalico-go/lib/validator/v3/validator.go: validateRule, validateEntityRule).
import * as z from "zod";
import {
  annotations,
  ipVersion,
  port,
  protocol,
  protocolSupportsPorts,
  selector,
  strictCidr,
  strictObject,
  tryPrefix,
} from "./fields.ts";

export const actions = ["Allow", "Deny", "Log", "Pass"] as const;
export const policyTypes = ["Ingress", "Egress"] as const;

const icmpFields = strictObject({
  type: z.number().int().min(0, "ICMP type must be 0-254").max(254, "ICMP type must be 0-254").optional(),
  code: z.number().int().min(0, "ICMP code must be 0-255").max(255, "ICMP code must be 0-255").optional(),
}).superRefine((v, ctx) => {
  if (v.code !== undefined && v.type === undefined) {
    ctx.addIssue({ code: "custom", path: ["code"], message: "ICMP code specified without an ICMP type" });
  }
});

const serviceAccountMatch = strictObject({
  names: z.array(z.string()).optional(),
  selector: selector.optional(),
});

const serviceMatch = strictObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
});

const netList = z.array(strictCidr).max(256, "at most 256 CIDRs");
const portList = z.array(port).max(50, "at most 50 ports");

export const entityRuleSchema = strictObject({
  nets: netList.optional(),
  notNets: netList.optional(),
  selector: selector.optional(),
  notSelector: selector.optional(),
  namespaceSelector: selector.optional(),
  ports: portList.optional(),
  notPorts: portList.optional(),
  serviceAccounts: serviceAccountMatch.optional(),
  services: serviceMatch.optional(),
}).superRefine((r, ctx) => {
  if (r.services) {
    if (!r.services.name) ctx.addIssue({ code: "custom", path: ["services", "name"], message: "must specify a service name" });
    if (r.namespaceSelector !== undefined) ctx.addIssue({ code: "custom", path: ["services"], message: "cannot specify namespaceSelector and services on the same rule" });
    if (r.selector !== undefined || r.notSelector !== undefined) ctx.addIssue({ code: "custom", path: ["services"], message: "cannot specify selector/notSelector and services on the same rule" });
    if (r.serviceAccounts) ctx.addIssue({ code: "custom", path: ["services"], message: "cannot specify serviceAccounts and services on the same rule" });
    if (r.nets?.length || r.notNets?.length) ctx.addIssue({ code: "custom", path: ["services"], message: "cannot specify nets/notNets and services on the same rule" });
  }
  (r.notNets ?? []).forEach((n, i) => {
    if (n === "0.0.0.0/0" || n === "::/0") ctx.addIssue({ code: "custom", path: ["notNets", i], message: `${n} in notNets would match nothing` });
  });
});

const httpMatch = z.looseObject({}); // application-layer policy: accepted, not modelled

export const ruleSchema = strictObject({
  action: z.enum(actions),
  ipVersion: ipVersion.optional(),
  protocol: protocol.optional(),
  notProtocol: protocol.optional(),
  icmp: icmpFields.optional(),
  notICMP: icmpFields.optional(),
  source: entityRuleSchema.optional(),
  destination: entityRuleSchema.optional(),
  http: httpMatch.optional(),
  metadata: strictObject({ annotations: annotations.optional() }).optional(),
}).superRefine((rule, ctx) => {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
  if (!protocolSupportsPorts(rule.protocol)) {
    for (const side of ["source", "destination"] as const) {
      for (const f of ["ports", "notPorts"] as const) {
        if (rule[side]?.[f]?.length) issue([side, f], "rules that specify ports must set protocol to TCP or UDP or SCTP");
      }
    }
  }
  const isIcmp = (p: unknown) => p === "ICMP" || p === "ICMPv6" || p === 1 || p === 58 || p === "1" || p === "58";
  if (rule.icmp && !isIcmp(rule.protocol)) issue(["icmp"], "rules that specify ICMP fields must set protocol to ICMP");
  if (rule.notICMP && !isIcmp(rule.protocol)) issue(["notICMP"], "rules that specify ICMP fields must set protocol to ICMP");
  if ((rule.protocol === "ICMP" || rule.notProtocol === "ICMP") && rule.ipVersion !== undefined && rule.ipVersion !== 4) {
    issue(["ipVersion"], "must set ipVersion to 4 with protocol ICMP");
  }
  if ((rule.protocol === "ICMPv6" || rule.notProtocol === "ICMPv6") && rule.ipVersion !== undefined && rule.ipVersion !== 6) {
    issue(["ipVersion"], "must set ipVersion to 6 with protocol ICMPv6");
  }
  if (rule.http && rule.protocol !== undefined && rule.protocol !== "TCP") {
    issue(["protocol"], "rules that specify HTTP fields must set protocol to TCP or empty");
  }
  if (rule.http && rule.action !== "Allow") issue(["http"], "HTTP match is only valid for Allow rules");
  // One IP family per rule, and it must agree with ipVersion.
  let seen4 = false;
  let seen6 = false;
  for (const side of ["source", "destination"] as const) {
    for (const f of ["nets", "notNets"] as const) {
      const nets = rule[side]?.[f] ?? [];
      let v4 = false;
      let v6 = false;
      for (const n of nets) {
        const fam = tryPrefix(n)?.family;
        v4 ||= fam === 4;
        v6 ||= fam === 6;
      }
      if (rule.ipVersion !== undefined && ((v4 && rule.ipVersion !== 4) || (v6 && rule.ipVersion !== 6))) {
        issue([side, f], `rule ipVersion ${rule.ipVersion} doesn't match the CIDR version`);
      }
      if ((v4 && seen6) || (v6 && seen4) || (v4 && v6)) issue([side, f], "rule contains both IPv4 and IPv6 CIDRs");
      seen4 ||= v4;
      seen6 ||= v6;
    }
  }
  if (rule.destination?.services && rule.destination.ports?.length) issue(["destination", "ports"], "cannot specify ports with a service selector");
  if (rule.destination?.services && rule.destination.notPorts?.length) issue(["destination", "notPorts"], "cannot specify notPorts with a service selector");
});

export type Action = (typeof actions)[number];
export type PolicyType = (typeof policyTypes)[number];
/** A Calico entity rule (source or destination match). */
export type EntityRule = z.output<typeof entityRuleSchema>;
/** A Calico policy rule. */
export type Rule = z.output<typeof ruleSchema>;
export type ICMPFields = z.output<typeof icmpFields>;

/** Per-direction rule checks that depend on the direction (validateNetworkPolicySpec). */
export function directionChecks(
  spec: { ingress?: readonly Rule[] | undefined; egress?: readonly Rule[] | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  (spec.egress ?? []).forEach((r, i) => {
    if (r.source?.services) ctx.addIssue({ code: "custom", path: ["egress", i, "source", "services"], message: "services are not allowed in an egress rule source" });
    if (r.http) ctx.addIssue({ code: "custom", path: ["egress", i, "http"], message: "HTTP match is not allowed in egress rules" });
  });
  (spec.ingress ?? []).forEach((r, i) => {
    if (r.destination?.services) ctx.addIssue({ code: "custom", path: ["ingress", i, "destination", "services"], message: "services are not allowed in an ingress rule destination" });
  });
}

/** Calico's default for `types` when omitted: Ingress unless the policy has only egress rules. */
export function defaultPolicyTypes(spec: { ingress?: readonly unknown[] | undefined; egress?: readonly unknown[] | undefined }): PolicyType[] {
  const hasIn = (spec.ingress?.length ?? 0) > 0;
  const hasEg = (spec.egress?.length ?? 0) > 0;
  if (hasIn && hasEg) return ["Ingress", "Egress"];
  if (hasEg) return ["Egress"];
  return ["Ingress"];
}
