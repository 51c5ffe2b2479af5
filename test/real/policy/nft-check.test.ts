// Rendered rulesets are accepted by the real tools: `nft -c -f` (check mode) and loads into a
// scratch `bc-` network namespace, incremental scripts apply to a loaded table, and the iptables
// file passes `iptables-restore --test` once its ipsets exist.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execa } from "execa";
import { loadResources, LoadedResources } from "../../../src/core/model/index.ts";
import { PolicySet, policyInputFromResources, type Policy, type PolicySetInput } from "../../../src/core/policy/index.ts";
import { renderIptables } from "../../../src/core/policy/render/iptables.ts";
import { renderNft, renderNftUpdate } from "../../../src/core/policy/render/nft.ts";
import { diffPolicies, NodePlanner, planNode } from "../../../src/core/policy/render/plan.ts";
import { world } from "../../../bench/policy-world.ts";
import { kitchenSink, small, withHostEndpoint } from "../../core/policy/render/fixtures.ts";
import { CASES, clusterYaml, NODE } from "./cases.ts";
import { hasCommand, labSkipReason } from "./lab.ts";

const reason = labSkipReason();
const suite = reason === undefined || process.env.CI === "true" ? describe : describe.skip;
if (reason !== undefined && process.env.CI !== "true") console.warn(`skipping nft check tests: ${reason}`);

const ns = `bc-nc-${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
const inNs = (cmd: string, args: string[], input?: string) => execa("ip", ["netns", "exec", ns, cmd, ...args], { input: input ?? "", reject: false });

const caseInput = (policies: string): PolicySetInput =>
  policyInputFromResources(new LoadedResources([...loadResources(clusterYaml(), "cluster.yaml").entries, ...loadResources(policies, "case.yaml").entries]));

suite("rendered rulesets against nft and iptables-restore", () => {
  beforeAll(async () => {
    await execa("ip", ["netns", "add", ns]);
  });
  afterAll(async () => {
    await execa("ip", ["netns", "delete", ns], { reject: false });
  });

  const worlds: [string, () => PolicySetInput][] = [
    ["small", small],
    ["every rule feature", kitchenSink],
    ["a host endpoint", withHostEndpoint],
    ...CASES.map((c): [string, () => PolicySetInput] => [c.name, () => caseInput(c.policies)]),
  ];
  for (const [name, input] of worlds) {
    test(`nft -c accepts the ruleset: ${name}`, async () => {
      const text = renderNft(planNode(new PolicySet(input()), { node: NODE }));
      const r = await inNs("nft", ["-c", "-f", "-"], text);
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
    });
  }

  test("a broken ruleset is refused by nft -c (the check can fail)", async () => {
    const text = renderNft(planNode(new PolicySet(small()), { node: "node-1" })).replace("drop comment", "dorp comment");
    const r = await inNs("nft", ["-c", "-f", "-"], text);
    expect(r.exitCode).not.toBe(0);
  });

  test("load, then apply an incremental update to the loaded table; reload replaces it", async () => {
    const before = new PolicySet(kitchenSink());
    const input = kitchenSink();
    const after = new PolicySet({
      ...input,
      policies: input.policies!.map((p) => (p.name === "db-from-web" ? { ...p, spec: { ...p.spec, ingress: [{ action: "Allow" as const, protocol: "TCP", destination: { ports: [5433] } }] } } : p)),
    });
    const a = planNode(before, { node: "node-1" });
    const b = planNode(after, { node: "node-1" });
    expect((await inNs("nft", ["-f", "-"], renderNft(a))).exitCode).toBe(0);
    const update = renderNftUpdate(a, b);
    expect(update).toContain("flush chain");
    const r = await inNs("nft", ["-f", "-"], update);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const listed = String((await inNs("nft", ["list", "table", "inet", "bc-filter"])).stdout);
    expect(listed).toContain("dport 5433");
    expect(listed).not.toContain("dport 5432");
    // The full render of the new plan loads over it, and lists the same rules.
    expect((await inNs("nft", ["-f", "-"], renderNft(b))).exitCode).toBe(0);
    expect(String((await inNs("nft", ["list", "table", "inet", "bc-filter"])).stdout)).toBe(listed);
    expect((await inNs("nft", ["delete", "table", "inet", "bc-filter"])).exitCode).toBe(0);
  });

  test("NodePlanner: each incremental delta leaves the kernel with the ruleset a full load of the same policies gives", async () => {
    const blocks = async (): Promise<string[]> => {
      // Set and chain blocks in a stable order (a delta appends new chains where a full load interleaves them).
      const text = String((await inNs("nft", ["list", "table", "inet", "bc-filter"])).stdout);
      return text.split(/\n(?=\t(?:set|chain) )/).map((b) => b.replace(/\n}\n?$/, "").trim()).sort();
    };
    let input = world(90, 40, { nodes: 3, rulesPerPolicy: 3 });
    const planner = new NodePlanner(new PolicySet(input), { node: "node-0" });
    expect((await inNs("nft", ["-f", "-"], renderNft(planner.plan))).exitCode).toBe(0);
    const ps0 = input.policies!;
    const steps: Policy[][] = [
      ps0.slice(1),
      [...ps0.slice(1), { kind: "NetworkPolicy", name: "extra", namespace: "ns-0", spec: { selector: "all()", types: ["Ingress", "Egress"], ingress: [{ action: "Deny", protocol: "UDP", source: { selector: "role == 'role-1'" } }], egress: [{ action: "Allow", destination: { nets: ["fd00::/8"] } }] } }],
      ps0.slice(2).map((p, i) => (i % 5 === 0 ? { ...p, spec: { ...p.spec, selector: "role == 'role-2'" } } : p)),
    ];
    for (const next of steps) {
      const before = planner.plan;
      const plan = planner.update(diffPolicies(input.policies!, next));
      input = { ...input, policies: next };
      const delta = renderNftUpdate(before, plan);
      expect(delta).not.toContain("delete table");
      const r = await inNs("nft", ["-f", "-"], delta);
      expect(r.stderr).toBe("");
      const incremental = await blocks();
      expect((await inNs("nft", ["-f", "-"], renderNft(planNode(new PolicySet(input), { node: "node-0" })))).exitCode).toBe(0);
      expect(incremental).toEqual(await blocks());
    }
    expect((await inNs("nft", ["delete", "table", "inet", "bc-filter"])).exitCode).toBe(0);
  });

  const ipt6 = hasCommand("ip6tables-restore") && hasCommand("ipset");
  (ipt6 || process.env.CI === "true" ? test : test.skip)("ip6tables-restore --test accepts the IPv6 rendering once its ipsets exist", async () => {
    for (const input of [kitchenSink(), withHostEndpoint()]) {
      const out = renderIptables(planNode(new PolicySet(input), { node: "node-1" }), 6);
      const s = await inNs("ipset", ["restore", "-exist"], out.ipset);
      expect(s.stderr).toBe("");
      const r = await inNs("ip6tables-restore", ["--noflush", "--test"], out.iptables);
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
    }
  });

  const ipt = hasCommand("iptables-restore") && hasCommand("ipset");
  (ipt || process.env.CI === "true" ? test : test.skip)("iptables-restore --test accepts the iptables rendering once the ipsets exist", async () => {
    for (const input of [small(), kitchenSink(), withHostEndpoint()]) {
      const out = renderIptables(planNode(new PolicySet(input), { node: "node-1" }));
      const s = await inNs("ipset", ["restore"], out.ipset);
      expect(s.stderr).toBe("");
      const r = await inNs("iptables-restore", ["--noflush", "--test"], out.iptables);
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
    }
  });
});
