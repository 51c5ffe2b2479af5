// NodePlanner.update must give the plan a fresh planNode gives for the changed policies, while
// sharing every unchanged chain, set and endpoint with the previous plan.
import { describe, expect, test } from "@jest/globals";
import { PolicyInputError, PolicySet, type Policy, type PolicySetInput } from "../../../../src/core/policy/index.ts";
import { nftRuleset, renderNft, renderNftUpdate } from "../../../../src/core/policy/render/nft.ts";
import { diffPolicies, NodePlanner, planNode, type Plan } from "../../../../src/core/policy/render/plan.ts";
import { world } from "../../../../bench/policy-world.ts";
import { kitchenSink, small, withHostEndpoint } from "./fixtures.ts";

const NODE = "node-1";
const fresh = (input: PolicySetInput, node = NODE): Plan => planNode(new PolicySet(input), { node });

/** The incremental plan and a fresh one print the same ruleset (no update between them). */
function expectSame(inc: Plan, input: PolicySetInput, node = NODE): void {
  const full = fresh(input, node);
  expect(renderNftUpdate(inc, full)).toBe("");
  expect(renderNftUpdate(full, inc)).toBe("");
  const sorted = (p: Plan) => [...nftRuleset(p).chains].map(([n, c]) => [n, c.rules]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
  expect(sorted(inc)).toEqual(sorted(full));
  expect(inc.endpoints.map((e) => e.id)).toEqual(full.endpoints.map((e) => e.id));
}

const np = (name: string, namespace: string, spec: Policy["spec"]): Policy => ({ kind: "NetworkPolicy", name, namespace, spec });

describe("NodePlanner.update", () => {
  test("a policy's rules change: only its chain is new, everything else is the same object", () => {
    const input = small();
    const planner = new NodePlanner(new PolicySet(input), { node: NODE });
    const before = planner.plan;
    const changed = np("db-from-web", "shop", { order: 10, selector: "app == 'db'", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [5433] } }] });
    const after = planner.update({ upsert: [changed] });
    expectSame(after, { ...input, policies: input.policies!.map((p) => (p.name === "db-from-web" ? changed : p)) });
    const changedChain = [...after.chains.keys()].find((n) => n.includes("db-from-web"))!;
    for (const [name, c] of after.chains) if (name !== changedChain) expect(c).toBe(before.chains.get(name));
    // Only the endpoint the policy selects is planned again.
    for (const ep of after.endpoints) {
      if (ep.id === "shop/db") expect(ep).not.toBe(before.endpoints.find((e) => e.id === ep.id));
      else expect(ep).toBe(before.endpoints.find((e) => e.id === ep.id));
    }
    expect(renderNftUpdate(before, after)).toBe(renderNftUpdate(before, fresh({ ...input, policies: input.policies!.map((p) => (p.name === "db-from-web" ? changed : p)) })));
  });

  test("selector changes, removals, additions, new groups, order changes and a new IP family all match a fresh plan", () => {
    let input = kitchenSink();
    const planner = new NodePlanner(new PolicySet(input), { node: NODE });
    const steps: ((ps: Policy[]) => Policy[])[] = [
      // The selector moves the policy from db to web.
      (ps) => ps.map((p) => (p.name === "db-from-web" ? { ...p, spec: { ...p.spec, selector: "app == 'web'" } } : p)),
      // A policy with a new rule selector and the same selector as another: a group forms.
      (ps) => [...ps, np("web-extra", "shop", { order: 20, selector: "app == 'web'", ingress: [{ action: "Deny", source: { selector: "app == 'mon'", namespaceSelector: "all()" } }] })],
      // Its order moves it in front of the other.
      (ps) => ps.map((p) => (p.name === "web-extra" ? { ...p, spec: { ...p.spec, order: 1 } } : p)),
      // Removal.
      (ps) => ps.filter((p) => p.name !== "web-http"),
      // An egress policy in the security tier.
      (ps) => [...ps, { kind: "GlobalNetworkPolicy", name: "security.egress", spec: { tier: "security", order: 2, selector: "app == 'mon'", types: ["Egress"], egress: [{ action: "Pass" }] } }],
      (ps) => ps.filter((p) => p.name !== "everything"),
    ];
    for (const step of steps) {
      const next = step([...input.policies!]);
      const plan = planner.update(diffPolicies(input.policies!, next));
      input = { ...input, policies: next };
      expectSame(plan, input);
    }
  });

  test("a selector whose set went with the last rule using it gets its set back when a rule uses it again", () => {
    let input = small();
    const planner = new NodePlanner(new PolicySet(input), { node: NODE });
    const steps: ((ps: Policy[]) => Policy[])[] = [
      (ps) => ps.filter((p) => p.name !== "db-from-web"), // the only rule selecting app == 'web'
      (ps) => [...ps, np("again", "shop", { selector: "app == 'db'", ingress: [{ action: "Allow", protocol: "TCP", source: { selector: "app == 'web'" }, destination: { ports: ["http"] } }] })],
      (ps) => ps.filter((p) => p.name !== "again" && p.name !== "web-http"), // named-port sets go too
      (ps) => [...ps, np("again", "shop", { selector: "app == 'db'", ingress: [{ action: "Allow", protocol: "TCP", source: { selector: "app == 'web'" }, destination: { ports: ["http"] } }] })],
    ];
    for (const step of steps) {
      const next = step([...input.policies!]);
      const plan = planner.update(diffPolicies(input.policies!, next));
      input = { ...input, policies: next };
      expectSame(plan, input);
      for (const c of plan.chains.values()) for (const r of c.rules) for (const t of r.terms) if (t.t === "set" || t.t === "namedPorts") expect(plan.sets.has(t.set)).toBe(true);
    }
  });

  test("a policy bringing the first IPv6 CIDR re-plans for both families", () => {
    const input = small();
    const planner = new NodePlanner(new PolicySet(input), { node: NODE });
    expect(planner.plan.families).toEqual([4]);
    const v6 = np("v6", "shop", { selector: "app == 'db'", ingress: [{ action: "Allow", source: { nets: ["fd00::/8"] } }] });
    const plan = planner.update({ upsert: [v6] });
    expect(plan.families).toEqual([4, 6]);
    expectSame(plan, { ...input, policies: [...input.policies!, v6] });
  });

  test("a larger world: twenty random single-policy changes, each matching a fresh plan", () => {
    let input = world(120, 60, { nodes: 3, rulesPerPolicy: 4 });
    const planner = new NodePlanner(new PolicySet(input), { node: "node-0" });
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    for (let i = 0; i < 20; i++) {
      const ps = [...input.policies!];
      const k = rand(ps.length);
      const p = ps[k]!;
      const kind = rand(3);
      if (kind === 0) ps[k] = { ...p, spec: { ...p.spec, selector: `app == 'app-${rand(20)}'`, ingress: (p.spec.ingress ?? []).slice(1) } };
      else if (kind === 1) ps.splice(k, 1);
      else ps.push(np(`extra-${i}`, `ns-${rand(10)}`, { selector: `role == 'role-${rand(5)}'`, ingress: [{ action: "Allow", protocol: "UDP", source: { selector: `app == 'app-${rand(20)}'` }, destination: { ports: [53] } }] }));
      const plan = planner.update(diffPolicies(input.policies!, ps));
      input = { ...input, policies: ps };
      expectSame(plan, input, "node-0");
    }
  });

  test("policies selecting a host endpoint: its chains follow the change as a fresh plan's do", () => {
    let input = withHostEndpoint();
    const planner = new NodePlanner(new PolicySet(input), { node: NODE });
    const steps: ((ps: Policy[]) => Policy[])[] = [
      (ps) => ps.map((p) => (p.name === "node-web" ? { ...p, spec: { ...p.spec, ingress: [{ action: "Deny" as const, protocol: "TCP", destination: { ports: [22] } }] } } : p)),
      (ps) => [...ps, { kind: "GlobalNetworkPolicy", name: "node-egress", spec: { selector: "role == 'node'", types: ["Egress"], egress: [{ action: "Allow", protocol: "TCP", destination: { selector: "app == 'db'", namespaceSelector: "all()" } }] } }],
      (ps) => ps.filter((p) => p.name !== "node-web"),
    ];
    for (const step of steps) {
      const next = step([...input.policies!]);
      const before = planner.plan;
      const plan = planner.update(diffPolicies(input.policies!, next));
      input = { ...input, policies: next };
      expectSame(plan, input);
      expect(plan.hostEndpoints[0]).not.toBe(before.hostEndpoints[0]);
    }
  });

  test("an invalid policy throws and changes nothing", () => {
    const input = small();
    const planner = new NodePlanner(new PolicySet(input), { node: NODE });
    const before = planner.plan;
    expect(() => planner.update({ upsert: [np("bad", "shop", { selector: "app ==", ingress: [] })] })).toThrow(PolicyInputError);
    expect(() => planner.update({ upsert: [np("bad", "shop", { tier: "nope", selector: "all()" })] })).toThrow(/tier "nope" does not exist/);
    expect(planner.plan).toBe(before);
    expect(planner.update({})).toBe(before);
  });

  test("diffPolicies: changed content is upserted, vanished policies removed, equal ones left", () => {
    const a = small().policies!;
    const b = small().policies!.filter((p) => p.name !== "web-http").map((p) => (p.name === "db-from-web" ? { ...p, spec: { ...p.spec, order: 11 } } : p));
    const d = diffPolicies(a, b);
    expect(d.upsert!.map((p) => p.name)).toEqual(["db-from-web"]);
    expect(d.remove).toEqual([{ kind: "NetworkPolicy", namespace: "shop", name: "web-http" }]);
    expect(diffPolicies(a, small().policies!)).toEqual({ upsert: [], remove: [] });
  });
});

describe("rules that can never fire are left out", () => {
  test("a rule repeating an earlier Allow/Deny/Pass match is dropped; one after a Log is kept", () => {
    const input = small();
    const repeat = np("repeat", "shop", {
      selector: "app == 'db'",
      ingress: [
        { action: "Log", protocol: "TCP" },
        { action: "Allow", protocol: "TCP" },
        { action: "Deny", protocol: "TCP" },
        { action: "Allow", protocol: "UDP" },
      ],
    });
    const p = fresh({ ...input, policies: [...input.policies!, repeat] });
    const chain = [...p.chains.values()].find((c) => c.name.includes("repeat"))!;
    expect(chain.rules.map((r) => [r.verdict, r.comment])).toEqual([
      ["log", "shop/repeat ingress rule 0"],
      ["allow", "shop/repeat ingress rule 1"],
      ["allow", "shop/repeat ingress rule 3"],
    ]);
    expect(renderNft(p)).not.toContain("shop/repeat ingress rule 2");
  });
});
