// renderIptablesUpdate: the --noflush file declares (empties) and refills only the chains that
// changed and deletes those gone, the ipset script adds and deletes only the changed elements, and
// applying both to the previous ruleset gives exactly the next one.
import { describe, expect, test } from "@jest/globals";
import { PolicySet, type Policy, type PolicySetInput } from "../../../../src/core/policy/index.ts";
import { iptablesRuleset, renderIptables, renderIptablesUpdate, type IptablesRuleset } from "../../../../src/core/policy/render/iptables.ts";
import { NodePlanner, planNode, type Plan } from "../../../../src/core/policy/render/plan.ts";
import type { Family } from "../../../../src/core/net/ip.ts";
import { kitchenSink, small, withHostEndpoint } from "./fixtures.ts";

const NODE = "node-1";
const np = (name: string, namespace: string, spec: Policy["spec"]): Policy => ({ kind: "NetworkPolicy", name, namespace, spec });

interface State {
  chains: Map<string, string[]>;
  sets: Map<string, Set<string>>;
}
const stateOf = (rs: IptablesRuleset): State => ({
  chains: new Map([...rs.chains].map(([n, l]) => [n, [...l]])),
  sets: new Map([...rs.sets].map(([n, s]) => [n, new Set(s.members)])),
});

/** Applies an update the way ipset restore and iptables-restore --noflush would, to a model of the kernel. */
function apply(state: State, prev: Plan, next: Plan, family: Family): State {
  const u = renderIptablesUpdate(prev, next, family);
  const chains = new Map(state.chains);
  const sets = new Map([...state.sets].map(([n, s]) => [n, new Set(s)]));
  const ipset = (text: string): void => {
    for (const line of text.split("\n").filter(Boolean)) {
      const [op, name, member] = line.split(" ") as [string, string, string | undefined];
      if (op === "create") sets.set(name, sets.get(name) ?? new Set());
      else if (op === "flush") sets.get(name)!.clear();
      else if (op === "add") sets.get(name)!.add(member!);
      else if (op === "del") sets.get(name)!.delete(member!);
      else if (op === "destroy") sets.delete(name);
      else throw new Error(`unexpected ipset line ${line}`);
    }
  };
  ipset(u.ipset);
  for (const line of u.iptables.split("\n").filter(Boolean)) {
    if (line === "*filter" || line === "COMMIT") continue;
    const declared = /^:(\S+) - \[0:0\]$/.exec(line);
    if (declared) chains.set(declared[1]!, []);
    else if (line.startsWith("-X ")) chains.delete(line.slice(3));
    else if (line.startsWith("-A ")) chains.get(line.split(" ")[1]!)!.push(line);
    else throw new Error(`unexpected iptables line ${line}`);
  }
  ipset(u.ipsetAfter);
  return { chains, sets };
}

describe("renderIptablesUpdate", () => {
  test("one policy's rules change: only its chain is declared and refilled, the set it no longer uses destroyed afterwards", () => {
    const input = small();
    const planner = new NodePlanner(new PolicySet(input), { node: NODE });
    const before = planner.plan;
    const after = planner.update({ upsert: [np("db-from-web", "shop", { order: 10, selector: "app == 'db'", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [5433] } }] })] });
    const u = renderIptablesUpdate(before, after);
    const chain = [...after.chains.keys()].find((n) => n.includes("db-from-web"))!;
    expect(u.changedChains).toEqual([chain]);
    expect(u.deletedChains).toEqual([]);
    expect(u.iptables.split("\n").filter((l) => l.startsWith(":"))).toEqual([`:${chain} - [0:0]`]);
    expect(u.iptables).toContain("--dports 5433");
    expect(u.ipset).toBe("");
    // The old rule's source selector is used by no rule any more: its set goes, after the chains.
    const gone = [...before.sets.keys()].filter((n) => !after.sets.has(n));
    expect(gone.length).toBeGreaterThan(0);
    expect(u.ipsetAfter).toBe(gone.map((n) => `destroy ${n}\n`).join(""));
    expect(apply(stateOf(iptablesRuleset(before)), before, after, 4)).toEqual(stateOf(iptablesRuleset(after)));
  });

  test("nothing changed: every part is empty", () => {
    const p = planNode(new PolicySet(kitchenSink()), { node: NODE });
    const q = planNode(new PolicySet(kitchenSink()), { node: NODE });
    expect(renderIptablesUpdate(p, q)).toEqual({ ipset: "", iptables: "", ipsetAfter: "", changedChains: [], deletedChains: [] });
  });

  test("additions, removals, selector and endpoint changes in both families: applying each update gives the next ruleset", () => {
    const base = kitchenSink();
    const inputs: PolicySetInput[] = [
      base,
      { ...base, policies: base.policies!.filter((p) => p.name !== "db-from-web") },
      { ...base, policies: [...base.policies!, np("v6-in", "shop", { selector: "app == 'web'", types: ["Ingress"], ingress: [{ action: "Allow", source: { nets: ["fd00:1::/64", "fd00:2::/64"] } }] })] },
      { ...base, policies: base.policies!.map((p) => (p.name === "db-from-web" ? { ...p, spec: { ...p.spec, selector: "app == 'web'" } } : p)) },
      { ...base, endpoints: base.endpoints!.filter((e) => e.name !== "web") },
      base,
    ];
    for (const family of [4, 6] as const) {
      let prev = planNode(new PolicySet(inputs[0]!), { node: NODE });
      let state = stateOf(iptablesRuleset(prev, family));
      for (const input of inputs.slice(1)) {
        const next = planNode(new PolicySet(input), { node: NODE });
        state = apply(state, prev, next, family);
        expect(state).toEqual(stateOf(iptablesRuleset(next, family)));
        prev = next;
      }
    }
  });

  test("the full file is the structured ruleset printed; a hooked chain cannot be deleted by an update", () => {
    const withHost = planNode(new PolicySet(withHostEndpoint()), { node: NODE });
    const rs = iptablesRuleset(withHost);
    const full = renderIptables(withHost).iptables;
    for (const [name, lines] of rs.chains) {
      expect(full).toContain(`:${name} - [0:0]`);
      for (const l of lines) expect(full).toContain(l);
    }
    expect(rs.chains.has("bc-INPUT")).toBe(true);
    const input = withHostEndpoint();
    const without = planNode(new PolicySet({ ...input, endpoints: input.endpoints!.filter((e) => e.kind !== "host") }), { node: NODE });
    expect(() => renderIptablesUpdate(withHost, without)).toThrow(/bc-INPUT is hooked/);
  });
});
