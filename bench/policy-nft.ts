// Render and load one node's nftables ruleset for 1,000 policies (~10,000 rules) into a scratch
// `bc-` network namespace (target < 1 s), then change one policy and apply it incrementally
// (NodePlanner.update + renderNftUpdate + the delta through the agent's NftSession: target < 50 ms
// end to end, no full reload). Loads go through NftSession (one `nft -i` kept in the namespace, as
// the agent's kernel dataplane does); each figure is set beside a plain `nft -f` of the same text
// (a new process through `ip netns exec`), so the ratio shows what birdcage adds to nft itself.
// Needs root and nft. Run: npx tsx bench/policy-nft.ts
import { execa } from "execa";
import { PolicySet, type Policy } from "../src/core/policy/index.ts";
import { renderNft, renderNftUpdate } from "../src/core/policy/render/nft.ts";
import { NodePlanner, policyChainName } from "../src/core/policy/render/plan.ts";
import { NftSession } from "../real/agent/nft-session.ts";
import { world } from "./policy-world.ts";

const ns = `bc-bench-${process.pid.toString(36)}`;

/**
 * Loads a script with `nft -f -` in the namespace. `nft` is the nft process's own wall time and
 * `cpu` its user+system CPU time (GNU time inside the namespace: load-independent); `total` is the
 * end-to-end time through `ip netns exec`, which adds spawn and namespace set-up costs.
 */
const nft = async (script: string): Promise<{ nft: number; cpu: number; total: number }> => {
  const t = performance.now();
  const r = await execa("ip", ["netns", "exec", ns, "/usr/bin/time", "-f", "%e %U %S", "nft", "-f", "-"], { input: script });
  const total = performance.now() - t;
  const [wall, user, sys] = String(r.stderr).trim().split("\n").at(-1)!.split(" ").map(Number);
  return { nft: wall! * 1000, cpu: (user! + sys!) * 1000, total };
};
const fmt = (x: { nft: number; cpu: number; total: number }): string => `${x.nft.toFixed(0)} ms wall, ${x.cpu.toFixed(0)} ms CPU (${x.total.toFixed(0)} ms with ip netns exec)`;
const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
const loadavg = async (): Promise<string> => String((await execa("uptime")).stdout).trim();
/** One transaction through the session, timed end to end (file write, nft, answer). */
const viaSession = async (session: NftSession, script: string): Promise<number> => {
  const t = performance.now();
  const r = await session.run(script);
  if (!r.ok) throw new Error(`nft refused the script: ${r.stderr}`);
  return performance.now() - t;
};

// Three nodes (coprime with the ten namespaces), so node-0 holds pods of every namespace.
const input = world(1000, 1000, { nodes: 3, rulesPerPolicy: 10 });
await execa("ip", ["netns", "add", ns]);
const session = new NftSession({ netns: ns });
try {
  console.log(`uptime before: ${await loadavg()}`);
  // The agent starts its nft process once; a first empty transaction waits for it.
  const started = await viaSession(session, "");
  const t0 = performance.now();
  const set = new PolicySet(input);
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  const planner = new NodePlanner(set, { node: "node-0" });
  const plan = planner.plan;
  const text = renderNft(plan);
  const t2 = performance.now();
  const renderCpu = cpuMs(process.cpuUsage(c1));
  await viaSession(session, text);
  const t3 = performance.now();
  const first = t3 - t1;
  const sessionLoad = t3 - t2;
  const listed = await execa("ip", ["netns", "exec", ns, "nft", "-a", "list", "table", "inet", "bc-filter"]);
  const kernelRules = String(listed.stdout).split("\n").filter((l) => /# handle \d+$/.test(l) && !/^\s*(chain|set|table)/.test(l)).length;
  // The same again in this (now warm) process, as a running agent would plan.
  const t2w = performance.now();
  const c2w = process.cpuUsage();
  renderNft(new NodePlanner(set, { node: "node-0" }).plan);
  const warmRender = performance.now() - t2w;
  const warmRenderCpu = cpuMs(process.cpuUsage(c2w));
  const sessionReload = await viaSession(session, text);
  // Plain nft -f of the same text: a new process each time, no tunables.
  await execa("ip", ["netns", "exec", ns, "nft", "delete", "table", "inet", "bc-filter"]);
  const load = await nft(text);
  const reload = await nft(text);
  const policyRules = [...plan.chains.values()].filter((c) => c.name.startsWith("bc-pi-")).reduce((n, c) => n + c.rules.length, 0);
  const sourceRules = set.policies.reduce((n, p) => n + p.ingress.length, 0);
  console.log(
    `node-0: ${plan.endpoints.length} workloads, ${[...plan.chains.keys()].filter((n) => n.startsWith("bc-pi-")).length} policy chains with ${policyRules} rules ` +
      `(${sourceRules} policy rules in the cluster; repeats that can never fire left out), ${plan.sets.size} sets; ${text.split("\n").length} lines of nft, ${kernelRules} rules in the kernel`,
  );
  console.log(`build PolicySet        ${(t1 - t0).toFixed(0)} ms (not counted below: the evaluator's model)`);
  console.log(`plan + render          ${(t2 - t1).toFixed(0)} ms wall, ${renderCpu.toFixed(0)} ms CPU (first run in this process)`);
  console.log(`plan + render (warm)   ${warmRender.toFixed(0)} ms wall, ${warmRenderCpu.toFixed(0)} ms CPU`);
  console.log(`plain nft -f (empty)   ${fmt(load)}`);
  console.log(`plain nft -f (replace) ${fmt(reload)}`);
  console.log(
    `NftSession             started in ${started.toFixed(0)} ms (once per agent); load into the empty table ${sessionLoad.toFixed(0)} ms, ` +
      `replace ${sessionReload.toFixed(0)} ms wall (a fresh nft process first grows its heap: page faults are dear on this VM)`,
  );
  console.log(
    `render + load          ${first.toFixed(0)} ms wall (plan + render + NftSession load) = ${(first / load.nft).toFixed(2)} × the plain nft -f of the same text; ` +
      `warm: ${(warmRender + sessionReload).toFixed(0)} ms wall (plan + render in a warm process + a replacing load). Target < 1000 ms: ${first < 1000 ? "met" : "MISSED"}`,
  );

  // One policy that applies on node-0 changed: its first rule now allows another port. A first
  // change (another policy) is applied before, as a running agent would have; then CHANGES more,
  // each to another policy, each timed end to end (the median is the figure: on the shared machine
  // single changes are slowed 5-10x by the scheduler or a GC, see the max).
  const targets = set.policies.filter((p) => plan.chains.has(policyChainName(p, "ingress"))).map((p) => p.policy);
  const port = (p: Policy, n: number): Policy => ({ ...p, spec: { ...p.spec, ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [n] } }, ...(p.spec.ingress ?? []).slice(1)] } });
  const w0 = performance.now();
  let prev = planner.update({ upsert: [port(targets[0]!, 4141)] });
  const w1 = performance.now();
  const warmApply = await viaSession(session, renderNftUpdate(plan, prev));
  console.log(`first change (warm-up) NodePlanner.update + renderNftUpdate ${(w1 - w0).toFixed(1)} ms, NftSession ${warmApply.toFixed(1)} ms`);
  const CHANGES = 15;
  const runs: { update: number; diff: number; cpu: number; apply: number; total: number; commands: number; flushed: number }[] = [];
  let last = "";
  for (let i = 1; i <= CHANGES; i++) {
    const t3 = performance.now();
    const c3 = process.cpuUsage();
    const next = planner.update({ upsert: [port(targets[i % targets.length]!, 4200 + i)] });
    const t4 = performance.now();
    const update = renderNftUpdate(prev, next);
    const t5 = performance.now();
    const cpu = cpuMs(process.cpuUsage(c3));
    const apply = await viaSession(session, update);
    const t6 = performance.now();
    if (update.includes("delete table")) throw new Error("the update reloads the table");
    runs.push({ update: t4 - t3, diff: t5 - t4, cpu, apply, total: t6 - t3, commands: update.trim().split("\n").length, flushed: update.split("\n").filter((l) => l.startsWith("flush chain")).length });
    prev = next;
    last = update;
  }
  const after = String((await execa("ip", ["netns", "exec", ns, "nft", "list", "table", "inet", "bc-filter"])).stdout);
  if (!after.includes(`dport ${4200 + CHANGES}`)) throw new Error("the incremental update did not land");
  const plain = await nft(last);
  const noop = await nft("");
  const sessionNoop = await viaSession(session, "");
  const median = (k: keyof (typeof runs)[number]): number => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  const max = (k: keyof (typeof runs)[number]): number => Math.max(...runs.map((r) => r[k]));
  const endToEnd = median("total");
  console.log(`one policy changed:    ${CHANGES} changes, each ${median("commands")} nft commands (${median("flushed")} chain flushed, no table reload); median (max)`);
  console.log(`  NodePlanner.update   ${median("update").toFixed(1)} ms (${max("update").toFixed(1)})`);
  console.log(`  renderNftUpdate      ${median("diff").toFixed(1)} ms (${max("diff").toFixed(1)}); both: ${median("cpu").toFixed(1)} ms CPU`);
  console.log(`  NftSession (delta)   ${median("apply").toFixed(1)} ms wall (${max("apply").toFixed(1)}); an empty transaction: ${sessionNoop.toFixed(1)} ms`);
  console.log(
    `  end to end           ${endToEnd.toFixed(1)} ms wall (${max("total").toFixed(1)}) (update + diff + NftSession) = ${(endToEnd / plain.nft).toFixed(2)} × a plain nft -f of the delta. ` +
      `Target < 50 ms: ${endToEnd < 50 ? "met" : "MISSED"} (${runs.filter((r) => r.total < 50).length}/${CHANGES} under 50 ms)`,
  );
  console.log(`  plain nft -f of the last delta again ${fmt(plain)}; empty script ${fmt(noop)}`);
  console.log(`uptime after: ${await loadavg()}`);
} finally {
  await session.close();
  await execa("ip", ["netns", "delete", ns], { reject: false });
}
