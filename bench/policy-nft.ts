// Render and load one node's nftables ruleset for 1,000 policies (~10,000 rules) into a scratch
// `bc-` network namespace (target < 1 s), then change one policy and apply the incremental script
// (target < 50 ms, no full reload). Needs root and nft. Run: npx tsx bench/policy-nft.ts
import { execa } from "execa";
import { PolicySet, type Policy } from "../src/core/policy/index.ts";
import { renderNft, renderNftUpdate } from "../src/core/policy/render/nft.ts";
import { planNode, policyChainName } from "../src/core/policy/render/plan.ts";
import { world } from "./policy-world.ts";

const ns = `bc-bench-${process.pid.toString(36)}`;
/**
 * Loads a script with `nft -f -` in the namespace. Returns the nft process's own wall time, taken
 * by a shell around it inside the namespace, and the end-to-end time through `ip netns exec`
 * (which adds the spawn and namespace set-up costs of this busy machine).
 */
const nft = async (script: string): Promise<{ nft: number; total: number }> => {
  const t = performance.now();
  const r = await execa("ip", ["netns", "exec", ns, "sh", "-c", 's=$(date +%s%N); nft -f - || exit 1; e=$(date +%s%N); echo $((e - s))'], { input: script });
  return { nft: Number(String(r.stdout).trim()) / 1e6, total: performance.now() - t };
};
const ms = (x: { nft: number; total: number }): string => `${x.nft.toFixed(1)} ms (${x.total.toFixed(0)} ms with ip netns exec)`;

// Three nodes (coprime with the ten namespaces), so node-0 holds pods of every namespace.
const input = world(1000, 1000, { nodes: 3, rulesPerPolicy: 10 });
await execa("ip", ["netns", "add", ns]);
try {
  const t0 = performance.now();
  const set = new PolicySet(input);
  const t1 = performance.now();
  const plan = planNode(set, { node: "node-0" });
  const text = renderNft(plan);
  const t2 = performance.now();
  const policyRules = [...plan.chains.values()].filter((c) => c.name.startsWith("bc-pi-")).reduce((n, c) => n + c.rules.length, 0);
  const lines = text.split("\n").length;
  const load = await nft(text);
  const listed = await execa("ip", ["netns", "exec", ns, "nft", "-a", "list", "table", "inet", "bc-filter"]);
  const kernelRules = String(listed.stdout).split("\n").filter((l) => /# handle \d+$/.test(l) && !/^\s*(chain|set|table)/.test(l)).length;
  const reload = await nft(text);
  console.log(
    `node-0: ${plan.endpoints.length} workloads, ${[...plan.chains.keys()].filter((n) => n.startsWith("bc-pi-")).length} policy chains with ${policyRules} rules, ` +
      `${plan.sets.size} sets; ${lines} lines of nft, ${kernelRules} rules in the kernel`,
  );
  console.log(`build PolicySet      ${(t1 - t0).toFixed(0)} ms`);
  console.log(`plan + render        ${(t2 - t1).toFixed(0)} ms`);
  console.log(`nft -f (empty)       ${ms(load)}`);
  console.log(`nft -f (replace)     ${ms(reload)}`);
  const first = t2 - t1 + load.nft;
  console.log(`render + load        ${first.toFixed(0)} ms  target < 1000 ms: ${first < 1000 ? "met" : "MISSED"}`);

  // One policy that applies on node-0 changed: its first rule now allows another port.
  const target = set.policies.find((p) => plan.chains.has(policyChainName(p, "ingress")))!.policy;
  const changed: Policy[] = input.policies!.map((p) => (p === target ? { ...p, spec: { ...p.spec, ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [4242] } }, ...(p.spec.ingress ?? []).slice(1)] } } : p));
  const t3 = performance.now();
  const next = planNode(new PolicySet({ ...input, policies: changed }), { node: "node-0" });
  const update = renderNftUpdate(plan, next);
  const t4 = performance.now();
  const apply = await nft(update);
  const after = String((await execa("ip", ["netns", "exec", ns, "nft", "list", "table", "inet", "bc-filter"])).stdout);
  if (!after.includes("dport 4242")) throw new Error("the incremental update did not land");
  if (update.includes("delete table")) throw new Error("the update reloads the table");
  console.log(`one policy changed:  ${update.trim().split("\n").length} nft commands (${update.split("\n").filter((l) => l.startsWith("flush chain")).length} chain flushed, no table reload)`);
  console.log(`  re-plan + diff     ${(t4 - t3).toFixed(0)} ms (builds the new PolicySet and plan)`);
  const noop = await nft("");
  console.log(`  nft -f update      ${ms(apply)}  target < 50 ms: ${apply.nft < 50 ? "met" : "MISSED"}`);
  console.log(`  nft -f (empty script, for scale) ${ms(noop)}`);
} finally {
  await execa("ip", ["netns", "delete", ns], { reject: false });
}
