// The real check of policy rendering: the truth table observed with real TCP and UDP connections
// between pod namespaces, through the rendered ruleset loaded in the node namespace, must equal
// the one `birdcage policy matrix` computes — for nftables on every case, iptables on some.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { loadResources, LoadedResources } from "../../../src/core/model/index.ts";
import { formatTruthTables, parseProbes, reachability, type Reachability } from "../../../src/core/policy/matrix.ts";
import { PolicySet, policyInputFromResources } from "../../../src/core/policy/index.ts";
import { IPTABLES_HOOK, renderIptables } from "../../../src/core/policy/render/iptables.ts";
import { renderNft, NFT_TABLE } from "../../../src/core/policy/render/nft.ts";
import { planNode } from "../../../src/core/policy/render/plan.ts";
import { CASES, clusterYaml, NODE, PODS, SERVED, type PolicyCase } from "./cases.ts";
import { hasCommand, Lab, labSkipReason, type Probe } from "./lab.ts";

const reason = labSkipReason();
const suite = reason === undefined || process.env.CI === "true" ? describe : describe.skip;
if (reason !== undefined && process.env.CI !== "true") console.warn(`skipping real policy tests: ${reason}`);

const DENY_TIMEOUT_MS = 300;
const RECHECK_TIMEOUT_MS = 1500;

function policySet(c: PolicyCase): PolicySet {
  const entries = [...loadResources(clusterYaml(), "cluster.yaml").entries, ...loadResources(c.policies, `${c.name}.yaml`).entries];
  return new PolicySet(policyInputFromResources(new LoadedResources(entries)));
}

/** Probe every ordered pair for every probe and fill a truth table shaped like `expected`. */
async function observe(lab: Lab, expected: Reachability): Promise<Reachability> {
  const pods = expected.pods;
  const run = async (timeout: number, want: (t: number, i: number, j: number) => boolean): Promise<Map<string, boolean>> => {
    const byClient = new Map<string, Probe[]>();
    const keys = new Map<string, string[]>();
    expected.tables.forEach((t, ti) => {
      pods.forEach((from, i) => {
        pods.forEach((to, j) => {
          if (!want(ti, i, j)) return;
          (byClient.get(from.name) ?? byClient.set(from.name, []).get(from.name)!).push({ ip: to.ip, protocol: t.probe.protocol as "TCP" | "UDP", port: t.probe.port });
          (keys.get(from.name) ?? keys.set(from.name, []).get(from.name)!).push(`${ti}:${i}:${j}`);
        });
      });
    });
    const out = new Map<string, boolean>();
    for (const [client, res] of await lab.probe(byClient, timeout)) res.forEach((ok, k) => out.set(keys.get(client)![k]!, ok));
    return out;
  };
  const first = await run(DENY_TIMEOUT_MS, () => true);
  // A busy machine can make an allowed connection slower than the short timeout: probe the pairs
  // seen as denied once more with a longer one (a dropped packet stays dropped).
  const again = await run(RECHECK_TIMEOUT_MS, (t, i, j) => first.get(`${t}:${i}:${j}`) === false);
  const n = pods.length;
  return {
    pods,
    tables: expected.tables.map((t, ti) => {
      const allowed = new Uint8Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) allowed[i * n + j] = first.get(`${ti}:${i}:${j}`) || again.get(`${ti}:${i}:${j}`) ? 1 : 0;
      return { probe: t.probe, allowed };
    }),
  };
}

suite("real truth tables through rendered rulesets (root, network namespaces)", () => {
  const lab = new Lab(PODS);

  beforeAll(async () => {
    await lab.setup(SERVED);
  }, 60_000);

  afterAll(async () => {
    await lab.teardown();
  }, 30_000);

  test("pods reach each other with no ruleset loaded", async () => {
    const set = policySet({ name: "none", probes: "80/TCP,81/UDP", policies: "" });
    const expected = reachability(set, parseProbes("80/TCP,81/UDP"));
    expect(expected.tables.every((t) => t.allowed.every((a) => a === 1))).toBe(true);
    expect(formatTruthTables(await observe(lab, expected))).toBe(formatTruthTables(expected));
  }, 60_000);

  test("a ruleset that does not fit the policies is caught (the probes see denials)", async () => {
    const [denyIngress, denyEgress] = [CASES[0]!, CASES[1]!];
    const expected = reachability(policySet(denyEgress), parseProbes(denyEgress.probes));
    await lab.nft(renderNft(planNode(policySet(denyIngress), { node: NODE })));
    const observed = await observe(lab, expected);
    expect(formatTruthTables(observed)).not.toBe(formatTruthTables(expected));
    expect(formatTruthTables(observed)).toBe(formatTruthTables(reachability(policySet(denyIngress), parseProbes(denyEgress.probes))));
  }, 60_000);

  for (const c of CASES) {
    test(`nftables: ${c.name}`, async () => {
      const set = policySet(c);
      const expected = reachability(set, parseProbes(c.probes));
      await lab.nft(renderNft(planNode(set, { node: NODE })));
      const observed = await observe(lab, expected);
      expect(formatTruthTables(observed)).toBe(formatTruthTables(expected));
      // The case must deny something, or it proves nothing about the rendering.
      expect(expected.tables.some((t) => t.allowed.includes(0))).toBe(true);
    }, 60_000);
  }

  const iptablesCases = CASES.filter((c) => ["tiers with Pass and Deny", "named ports", "ipBlock with except"].includes(c.name));
  const iptablesReady = hasCommand("iptables-restore") && hasCommand("ipset");
  if (!iptablesReady && process.env.CI !== "true") console.warn("skipping iptables cases: needs iptables-restore and ipset");
  for (const c of iptablesCases) {
    (iptablesReady || process.env.CI === "true" ? test : test.skip)(`iptables-restore: ${c.name}`, async () => {
      const set = policySet(c);
      const expected = reachability(set, parseProbes(c.probes));
      // Only one dataplane at a time: drop birdcage's nft table, then load ipsets and chains.
      await lab.nft(`table inet ${NFT_TABLE} {}\ndelete table inet ${NFT_TABLE}\n`);
      const out = renderIptables(planNode(set, { node: NODE }));
      await lab.exec("ipset", ["restore"], out.ipset);
      await lab.exec("iptables-restore", ["--noflush"], out.iptables);
      const hooked = await lab.exec("iptables", ["-S", "FORWARD"]);
      if (!hooked.includes("-j bc-FORWARD")) await lab.exec("iptables", [...IPTABLES_HOOK]);
      try {
        const observed = await observe(lab, expected);
        expect(formatTruthTables(observed)).toBe(formatTruthTables(expected));
      } finally {
        await lab.exec("iptables", ["-D", "FORWARD", "-j", "bc-FORWARD"]);
      }
    }, 60_000);
  }
});
