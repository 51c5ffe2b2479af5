// Validation and compilation of policies and rules: selectors parsed, CIDRs, protocols and ports
// turned into numbers once, so evaluating a flow does no parsing. Problems are collected with a
// path (`policy ns/name: spec.ingress[0].source.nets[1]: ...`) instead of stopping at the first.
import { parsePrefix, type Prefix } from "../net/ip.ts";
import { parseSelector, type Selector } from "./selector/index.ts";
import type { Action, EntityRule, IcmpMatch, Policy, PolicyType, PortValue, Rule } from "./model.ts";
import { parsePort, protocolHasPorts, protocolNumber, PROTO_ICMP, PROTO_ICMPV6, type PortMatch } from "./protocols.ts";
import { entityRuleSelector, policyEndpointSelector } from "./selectors.ts";

export interface Problem {
  readonly path: string;
  readonly message: string;
}

export class PolicyInputError extends Error {
  readonly problems: readonly Problem[];
  readonly exitCode = 2;
  constructor(problems: readonly Problem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
    this.name = "PolicyInputError";
    this.problems = problems;
  }
}

export class Problems {
  readonly list: Problem[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new PolicyInputError(this.list);
  }
}

export interface CompiledSide {
  readonly nets?: readonly Prefix[];
  readonly notNets?: readonly Prefix[];
  /** Positive selector after Calico's namespace scoping; undefined = no constraint. */
  readonly selector?: Selector;
  readonly notSelector?: Selector;
  readonly ports?: readonly PortMatch[];
  readonly notPorts?: readonly PortMatch[];
}

export interface CompiledIcmp {
  readonly type: number;
  readonly code?: number;
}

export interface CompiledRule {
  /** 0-based position in the policy's (or profile's) ingress or egress list. */
  readonly index: number;
  readonly action: Action;
  readonly ipVersion?: 4 | 6;
  readonly protocol?: number;
  readonly notProtocol?: number;
  readonly icmp?: CompiledIcmp;
  readonly notIcmp?: CompiledIcmp;
  readonly source: CompiledSide;
  readonly destination: CompiledSide;
  readonly rule: Rule;
}

export interface CompiledPolicy {
  readonly policy: Policy;
  /** `name` for global policies, `namespace/name` for namespaced ones. */
  readonly id: string;
  readonly tier: string;
  readonly order: number;
  readonly selector: Selector;
  readonly types: ReadonlySet<PolicyType>;
  readonly ingress: readonly CompiledRule[];
  readonly egress: readonly CompiledRule[];
  /** preDNAT / doNotTrack policies live in other chains; the filter-path evaluation skips them. */
  readonly filterPath: boolean;
}

const ACTIONS = new Set<string>(["Allow", "Deny", "Log", "Pass"]);

function compileSelector(text: string, path: string, problems: Problems): Selector | undefined {
  try {
    return parseSelector(text);
  } catch (e) {
    problems.add(path, e instanceof Error ? e.message : String(e));
    return undefined;
  }
}

function compileNets(nets: readonly string[] | undefined, path: string, negated: boolean, problems: Problems): Prefix[] | undefined {
  if (nets === undefined || nets.length === 0) return undefined;
  const out: Prefix[] = [];
  nets.forEach((n, i) => {
    try {
      const p = parsePrefix(n, { strict: false });
      if (negated && p.len === 0) problems.add(`${path}[${i}]`, `"${n}" matches everything; a negated catch-all is not allowed`);
      out.push(p);
    } catch (e) {
      problems.add(`${path}[${i}]`, e instanceof Error ? e.message : String(e));
    }
  });
  if (out.length > 0 && out.some((p) => p.family !== out[0]!.family)) problems.add(path, "mixes IPv4 and IPv6 CIDRs");
  return out;
}

function compilePorts(
  ports: readonly PortValue[] | undefined,
  path: string,
  protocol: number | undefined,
  problems: Problems,
): PortMatch[] | undefined {
  if (ports === undefined || ports.length === 0) return undefined;
  const out: PortMatch[] = [];
  ports.forEach((v, i) => {
    const p = parsePort(v);
    if (p === undefined) {
      problems.add(`${path}[${i}]`, `invalid port ${JSON.stringify(v)} (expected 0-65535, "min:max" or a port name)`);
      return;
    }
    if (p.kind === "range" && (protocol === undefined || !protocolHasPorts(protocol))) {
      problems.add(`${path}[${i}]`, "numeric ports need protocol TCP, UDP or SCTP");
    }
    out.push(p);
  });
  return out;
}

function compileIcmp(m: IcmpMatch | undefined, path: string, protocol: number | undefined, problems: Problems): CompiledIcmp | undefined {
  if (m === undefined) return undefined;
  if (protocol !== PROTO_ICMP && protocol !== PROTO_ICMPV6) problems.add(path, "needs protocol ICMP or ICMPv6");
  if (m.type === undefined) {
    if (m.code !== undefined) problems.add(path, "code requires type");
    return undefined;
  }
  if (!Number.isInteger(m.type) || m.type < 0 || m.type > 254) problems.add(`${path}.type`, "must be 0-254");
  if (m.code !== undefined && (!Number.isInteger(m.code) || m.code < 0 || m.code > 255)) problems.add(`${path}.code`, "must be 0-255");
  return m.code !== undefined ? { type: m.type, code: m.code } : { type: m.type };
}

function compileSide(er: EntityRule | undefined, namespace: string, path: string, protocol: number | undefined, problems: Problems): CompiledSide {
  if (er === undefined) return {};
  // Refuse rather than ignore: dropping a constraint would make an Allow rule allow too much.
  if (er.services !== undefined) problems.add(`${path}.services`, "Kubernetes Service matches are not supported by birdcage's policy evaluation");
  const side: {
    -readonly [K in keyof CompiledSide]: CompiledSide[K];
  } = {};
  const nets = compileNets(er.nets, `${path}.nets`, false, problems);
  if (nets) side.nets = nets;
  const notNets = compileNets(er.notNets, `${path}.notNets`, true, problems);
  if (notNets) side.notNets = notNets;
  // Validate the user's own selectors first, so errors point at the field the user wrote.
  const before = problems.list.length;
  let notSelector: Selector | undefined;
  for (const field of ["selector", "notSelector", "namespaceSelector"] as const) {
    const text = er[field];
    if (text === undefined) continue;
    const s = compileSelector(text, `${path}.${field}`, problems);
    if (field === "notSelector" && text !== "") notSelector = s;
  }
  if (er.serviceAccounts?.selector !== undefined) {
    compileSelector(er.serviceAccounts.selector, `${path}.serviceAccounts.selector`, problems);
  }
  if (problems.list.length === before) {
    try {
      const combined = entityRuleSelector(er, namespace);
      if (combined !== "") {
        const s = compileSelector(combined, `${path}.selector`, problems);
        if (s) side.selector = s;
      }
    } catch (e) {
      problems.add(`${path}.selector`, e instanceof Error ? e.message : String(e));
    }
  }
  if (notSelector) side.notSelector = notSelector;
  const ports = compilePorts(er.ports, `${path}.ports`, protocol, problems);
  if (ports) side.ports = ports;
  const notPorts = compilePorts(er.notPorts, `${path}.notPorts`, protocol, problems);
  if (notPorts) side.notPorts = notPorts;
  return side;
}

export function compileRule(rule: Rule, index: number, namespace: string, path: string, problems: Problems): CompiledRule {
  if (!ACTIONS.has(rule.action)) problems.add(`${path}.action`, `must be Allow, Deny, Log or Pass (got ${JSON.stringify(rule.action)})`);
  if (rule.ipVersion !== undefined && rule.ipVersion !== 4 && rule.ipVersion !== 6) problems.add(`${path}.ipVersion`, "must be 4 or 6");
  if (rule.http !== undefined) problems.add(`${path}.http`, "HTTP (application layer) matches are not supported by birdcage's policy evaluation");
  const proto = (field: "protocol" | "notProtocol"): number | undefined => {
    const v = rule[field];
    if (v === undefined) return undefined;
    const n = protocolNumber(v);
    if (n === undefined) problems.add(`${path}.${field}`, `unknown protocol ${JSON.stringify(v)}`);
    return n;
  };
  const protocol = proto("protocol");
  const notProtocol = proto("notProtocol");
  const icmp = compileIcmp(rule.icmp, `${path}.icmp`, protocol, problems);
  const notIcmp = compileIcmp(rule.notICMP, `${path}.notICMP`, protocol, problems);
  return {
    index,
    action: rule.action,
    ...(rule.ipVersion !== undefined ? { ipVersion: rule.ipVersion } : {}),
    ...(protocol !== undefined ? { protocol } : {}),
    ...(notProtocol !== undefined ? { notProtocol } : {}),
    ...(icmp ? { icmp } : {}),
    ...(notIcmp ? { notIcmp } : {}),
    source: compileSide(rule.source, namespace, `${path}.source`, protocol, problems),
    destination: compileSide(rule.destination, namespace, `${path}.destination`, protocol, problems),
    rule,
  };
}

export function compileRules(rules: readonly Rule[] | undefined, namespace: string, path: string, problems: Problems): CompiledRule[] {
  return (rules ?? []).map((r, i) => compileRule(r, i, namespace, `${path}[${i}]`, problems));
}

/** Calico's default for omitted `types`: from which rule lists are present; none -> Ingress. */
export function defaultTypes(policy: Policy): PolicyType[] {
  const hasIngress = (policy.spec.ingress?.length ?? 0) > 0;
  const hasEgress = (policy.spec.egress?.length ?? 0) > 0;
  if (hasIngress && hasEgress) return ["Ingress", "Egress"];
  if (hasEgress) return ["Egress"];
  return ["Ingress"];
}

export const policyId = (p: Policy): string => (p.namespace !== undefined && p.namespace !== "" ? `${p.namespace}/${p.name}` : p.name);

export function compilePolicy(policy: Policy, problems: Problems): CompiledPolicy {
  const id = policyId(policy);
  const path = `policy ${id}`;
  const namespaced = policy.kind !== "GlobalNetworkPolicy";
  const namespace = namespaced ? (policy.namespace ?? "") : "";
  if (namespaced && namespace === "") problems.add(path, `${policy.kind} needs a namespace`);
  if (!namespaced && policy.namespace !== undefined && policy.namespace !== "") problems.add(path, "GlobalNetworkPolicy has no namespace");
  if (namespaced && policy.spec.namespaceSelector !== undefined) problems.add(`${path}: spec.namespaceSelector`, "only GlobalNetworkPolicy has namespaceSelector");
  const spec = policy.spec;
  const before = problems.list.length;
  for (const field of ["selector", "serviceAccountSelector", "namespaceSelector"] as const) {
    const text = spec[field];
    if (text !== undefined) compileSelector(text, `${path}: spec.${field}`, problems);
  }
  let selector = parseSelector("all()");
  if (problems.list.length === before) {
    selector = compileSelector(policyEndpointSelector(policy), `${path}: spec.selector`, problems) ?? selector;
  }
  const types = new Set<PolicyType>(spec.types !== undefined && spec.types.length > 0 ? spec.types : defaultTypes(policy));
  for (const t of types) if (t !== "Ingress" && t !== "Egress") problems.add(`${path}: spec.types`, `unknown type ${JSON.stringify(t)}`);
  if (spec.order !== undefined && !Number.isFinite(spec.order)) problems.add(`${path}: spec.order`, "must be a finite number");
  return {
    policy,
    id,
    tier: spec.tier ?? "default",
    order: spec.order ?? Number.POSITIVE_INFINITY,
    selector,
    types,
    ingress: compileRules(spec.ingress, namespace, `${path}: spec.ingress`, problems),
    egress: compileRules(spec.egress, namespace, `${path}: spec.egress`, problems),
    filterPath: spec.preDNAT !== true && spec.doNotTrack !== true,
  };
}
