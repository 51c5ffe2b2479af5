// Human-readable explanations of policy verdicts, for CLI output and scenario reports.
import type { Decision, DirectionResult, FlowResult, TraceStep } from "./policy-set.ts";

const who = (r: DirectionResult): string =>
  r.endpoint === undefined ? "" : ` of ${r.endpoint.kind} ${r.endpoint.namespace !== undefined ? `${r.endpoint.namespace}/` : ""}${r.endpoint.name}`;

/** One line saying what settled a direction, e.g. `denied by end of tier default (no policy allowed it)`. */
export function describeDecision(d: Decision): string {
  switch (d.kind) {
    case "rule":
      return `${d.action === "Allow" ? "allowed" : "denied"} by tier ${d.tier}, policy ${d.policy}, rule ${d.ruleIndex}`;
    case "end-of-tier":
      return `denied at the end of tier ${d.tier} (no policy in the tier allowed or passed it)`;
    case "profile-rule":
      return `${d.action === "Allow" ? "allowed" : "denied"} by profile ${d.profile}, rule ${d.ruleIndex}`;
    case "no-profile-match":
      return d.profiles.length === 0 ? "denied: no policy decided and the endpoint has no profiles" : `denied: no policy decided and no profile (${d.profiles.join(", ")}) matched`;
    case "failsafe":
      return `allowed by failsafe ${d.protocol}:${d.port}`;
    case "not-an-endpoint":
      return "allowed: not a Calico endpoint, no policy enforced here";
    case "same-endpoint":
      return "allowed: traffic to the endpoint's own address stays inside it";
  }
}

export function describeStep(s: TraceStep): string {
  switch (s.kind) {
    case "tier":
      return `tier ${s.tier}: ${s.policies.join(", ")}`;
    case "rule":
      return `  ${s.policy} rule ${s.ruleIndex} matched: ${s.action}`;
    case "policy-no-match":
      return `  ${s.policy}: no rule matched`;
    case "rule-no-match":
      return `${s.policy !== undefined ? `  ${s.policy}` : `profile ${s.profile}`} rule ${s.ruleIndex}: ${s.failed} does not match`;
    case "end-of-tier":
      return s.passed ? `  end of tier ${s.tier}: passed to the next tier` : `  end of tier ${s.tier}: default action ${s.defaultAction}`;
    case "profile-rule":
      return `profile ${s.profile} rule ${s.ruleIndex} matched: ${s.action}`;
    case "profile-no-match":
      return `profile ${s.profile}: no rule matched`;
  }
}

export function explainDirection(r: DirectionResult): string[] {
  return [`${r.direction}${who(r)}: ${describeDecision(r.decision)}`, ...r.trace.map((s) => `  ${describeStep(s)}`)];
}

export function explainFlow(r: FlowResult): string[] {
  return [r.allowed ? "ALLOWED" : "DENIED", ...explainDirection(r.egress), ...explainDirection(r.ingress)];
}
