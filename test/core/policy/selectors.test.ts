// Calico's rewriting of policy and rule selectors into endpoint-label selectors (updateprocessors).
import { describe, expect, test } from "@jest/globals";
import { entityRuleSelector, policyEndpointSelector, type Policy } from "../../../src/core/policy/index.ts";
import { parseSelector } from "../../../src/core/policy/selector/index.ts";

const canon = (s: string): string => parseSelector(s).canonical;

describe("policyEndpointSelector", () => {
  test("namespaced policy is limited to its namespace", () => {
    const p: Policy = { kind: "NetworkPolicy", name: "a", namespace: "prod", spec: { selector: "app == 'web'" } };
    expect(policyEndpointSelector(p)).toBe("(app == 'web') && projectcalico.org/namespace == 'prod'");
    expect(policyEndpointSelector({ ...p, spec: {} })).toBe("projectcalico.org/namespace == 'prod'");
  });

  test("namespaced policy with a service account selector", () => {
    const p: Policy = { kind: "NetworkPolicy", name: "a", namespace: "prod", spec: { selector: "all()", serviceAccountSelector: "role == 'x'" } };
    expect(canon(policyEndpointSelector(p))).toBe('((all() && projectcalico.org/namespace == "prod") && pcsa.role == "x")');
  });

  test("global policy: namespaceSelector prefixed with pcns., all() means any namespaced endpoint", () => {
    const p: Policy = { kind: "GlobalNetworkPolicy", name: "g", spec: { selector: "app == 'web'", namespaceSelector: "all()" } };
    expect(canon(policyEndpointSelector(p))).toBe('(app == "web" && has(projectcalico.org/namespace))');
    const q: Policy = { kind: "GlobalNetworkPolicy", name: "g", spec: { namespaceSelector: "team == 'a'" } };
    expect(policyEndpointSelector(q)).toBe('pcns.team == "a"');
    expect(policyEndpointSelector({ kind: "GlobalNetworkPolicy", name: "g", spec: {} })).toBe("");
  });

  test("global policy: serviceAccountSelector all() means any endpoint with a service account", () => {
    const p: Policy = { kind: "GlobalNetworkPolicy", name: "g", spec: { selector: "app == 'web'", serviceAccountSelector: "all()" } };
    expect(canon(policyEndpointSelector(p))).toBe('(app == "web" && has(projectcalico.org/serviceaccount))');
  });
});

describe("entityRuleSelector", () => {
  test("no selector fields: no constraint, even in a namespaced policy", () => {
    expect(entityRuleSelector({ nets: ["10.0.0.0/8"] }, "prod")).toBe("");
    expect(entityRuleSelector(undefined, "prod")).toBe("");
  });

  test("selector in a namespaced policy is scoped to the namespace", () => {
    expect(entityRuleSelector({ selector: "app == 'x'" }, "prod")).toBe("(projectcalico.org/namespace == 'prod') && (app == 'x')");
  });

  test("selector in a global policy is not scoped", () => {
    expect(entityRuleSelector({ selector: "app == 'x'" }, "")).toBe("app == 'x'");
  });

  test("notSelector alone still scopes the positive side to the namespace", () => {
    expect(entityRuleSelector({ notSelector: "app == 'x'" }, "prod")).toBe("projectcalico.org/namespace == 'prod'");
  });

  test("namespaceSelector all() and global()", () => {
    expect(entityRuleSelector({ namespaceSelector: "all()" }, "prod")).toBe("has(projectcalico.org/namespace)");
    expect(entityRuleSelector({ namespaceSelector: "global()" }, "")).toBe("!has(projectcalico.org/namespace)");
    expect(entityRuleSelector({ namespaceSelector: "projectcalico.org/name == 'db'", selector: "app == 'x'" }, "prod")).toBe(
      '(pcns.projectcalico.org/name == "db") && (app == \'x\')',
    );
  });

  test("service accounts: names and selector are AND-ed, then the endpoint selector", () => {
    expect(entityRuleSelector({ serviceAccounts: { names: ["b", "a"] } }, "prod")).toBe(
      "(projectcalico.org/namespace == 'prod') && (projectcalico.org/serviceaccount in {\"a\", \"b\"})",
    );
    expect(entityRuleSelector({ serviceAccounts: { names: ["a"], selector: "role == 'x'" }, selector: "app == 'y'" }, "")).toBe(
      "((pcsa.role == \"x\") && (projectcalico.org/serviceaccount in {\"a\"})) && (app == 'y')",
    );
  });
});
