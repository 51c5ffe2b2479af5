// How Calico rewrites v3 selectors into the endpoint-label selectors Felix evaluates
// (libcalico-go syncersv1/updateprocessors: networkpolicyprocessor.go, globalnetworkpolicyprocessor.go,
// rules.go, selectors.go). Built as text exactly as Calico builds it, then parsed, so canonical
// forms and unique IDs come out identical.
import { parseSelector, prefixLabels, selectorFromAst } from "./selector/index.ts";
import {
  LABEL_NAMESPACE,
  LABEL_SERVICE_ACCOUNT,
  NAMESPACE_LABEL_PREFIX,
  SERVICE_ACCOUNT_LABEL_PREFIX,
  type EntityRule,
  type Policy,
  type ServiceAccountMatch,
} from "./model.ts";

/** Parse, prefix every label, print canonically (parseSelectorAttachPrefix). */
export function attachPrefix(selector: string, prefix: string): string {
  return selectorFromAst(prefixLabels(parseSelector(selector).ast, prefix)).canonical;
}

function prefixAndAppend(current: string, extra: string | undefined, prefix: string): string {
  if (extra === undefined || extra === "") return current;
  const prefixed = attachPrefix(extra, prefix);
  return current !== "" ? `(${current}) && ${prefixed}` : prefixed;
}

/** The selector over endpoint labels that decides which endpoints a policy applies to. */
export function policyEndpointSelector(policy: Policy): string {
  const spec = policy.spec;
  let selector = spec.selector ?? "";
  if (policy.kind === "GlobalNetworkPolicy") {
    if (spec.namespaceSelector !== undefined && spec.namespaceSelector !== "") {
      selector = prefixAndAppend(selector, spec.namespaceSelector, NAMESPACE_LABEL_PREFIX);
      selector = selector.replaceAll("all()", `has(${LABEL_NAMESPACE})`);
    }
    if (spec.serviceAccountSelector !== undefined && spec.serviceAccountSelector !== "") {
      selector = prefixAndAppend(selector, spec.serviceAccountSelector, SERVICE_ACCOUNT_LABEL_PREFIX);
      selector = selector.replaceAll("all()", `has(${LABEL_SERVICE_ACCOUNT})`);
    }
    return selector;
  }
  const ns = policy.namespace ?? "";
  if (ns !== "") {
    const nsSel = `${LABEL_NAMESPACE} == '${ns}'`;
    selector = selector === "" ? nsSel : `(${selector}) && ${nsSel}`;
  }
  return prefixAndAppend(selector, spec.serviceAccountSelector, SERVICE_ACCOUNT_LABEL_PREFIX);
}

function serviceAccountSelector(sam: ServiceAccountMatch): string {
  const updated = sam.selector !== undefined && sam.selector !== "" ? attachPrefix(sam.selector, SERVICE_ACCOUNT_LABEL_PREFIX) : "";
  const names = sam.names ?? [];
  if (names.length === 0) return updated;
  const byName = parseSelector(`${LABEL_SERVICE_ACCOUNT} in { '${names.join("', '")}' }`).canonical;
  return updated !== "" ? `(${updated}) && (${byName})` : byName;
}

/**
 * The positive selector of a rule's source or destination, with the namespace scoping Calico adds:
 * in a namespaced policy, a selector (or notSelector) without namespaceSelector means "in this
 * namespace"; namespaceSelector `all()` means any namespace, `global()` means non-namespaced
 * entities only. Returns "" when the rule places no selector constraint.
 */
export function entityRuleSelector(er: EntityRule | undefined, namespace: string): string {
  if (er === undefined) return "";
  const saSel = er.serviceAccounts !== undefined ? serviceAccountSelector(er.serviceAccounts) : "";
  const nsSelText = er.namespaceSelector ?? "";
  let nsSelector = "";
  if (nsSelText !== "") {
    nsSelector = attachPrefix(nsSelText, NAMESPACE_LABEL_PREFIX)
      .replaceAll("all()", `has(${LABEL_NAMESPACE})`)
      .replaceAll("global()", `!has(${LABEL_NAMESPACE})`);
  } else if (namespace !== "") {
    nsSelector = `${LABEL_NAMESPACE} == '${namespace}'`;
  }
  const parts = [saSel, er.selector ?? ""].filter((s) => s !== "");
  let selector = parts.length === 0 ? "" : parts.length === 1 ? parts[0]! : `(${parts.join(") && (")})`;
  const notSelector = er.notSelector ?? "";
  if (nsSelector !== "" && (selector !== "" || notSelector !== "" || nsSelText !== "")) {
    selector = selector !== "" ? `(${nsSelector}) && (${selector})` : nsSelector;
  }
  return selector;
}
