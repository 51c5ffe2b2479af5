// The kernel dataplane's policy loading, in network namespaces: policy-only changes go through a
// kept NodePlanner as nft deltas (no table reload) and leave the same ruleset a full load gives;
// iptables mode loads IPv4 and IPv6 and hooks FORWARD, INPUT and OUTPUT, and close() removes it all.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execa } from "execa";
import { execFileSync } from "node:child_process";
import { iptablesCleanup, iptablesLoader, KernelDataplane, type DataplaneError } from "../../../real/agent/kernel-dataplane.ts";
import { renderIptables, renderIptablesFamilies } from "../../../src/core/policy/render/iptables.ts";
import { world } from "../../../bench/policy-world.ts";
import { PolicySet, type Policy, type PolicySetInput } from "../../../src/core/policy/index.ts";
import { planNode } from "../../../src/core/policy/render/plan.ts";
import { renderNft } from "../../../src/core/policy/render/nft.ts";
import { addNetns, delNetns, describeWithNetns, testNetnsName } from "../../helpers/netns.ts";

const missing = ["nft", "iptables", "ip6tables", "ipset"].filter((t) => {
  try {
    execFileSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" });
    return false;
  } catch {
    return true;
  }
});
const suite = (what: string): typeof describe | typeof describe.skip => {
  if (missing.length === 0 || process.env.CI === "true") return describeWithNetns(what);
  console.warn(`skipping ${what}: ${missing.join(", ")} not installed`);
  return describe.skip;
};

const NS = testNetnsName("kdp");
const FRESH = testNetnsName("kdpf");
const IPT = testNetnsName("kdpi");
const IPT_FRESH = testNetnsName("kdpj");
const inNs = (ns: string, cmd: string, args: string[], input?: string) =>
  execa("ip", ["netns", "exec", ns, cmd, ...args], { reject: false, ...(input !== undefined ? { input } : {}) });

const pol = (name: string, spec: Record<string, unknown>): Policy => ({ kind: "NetworkPolicy", name, namespace: "shop", spec }) as unknown as Policy;
const ep = (name: string, labels: Record<string, string>, ips: string[], node = "node-1") => ({
  kind: "workload" as const,
  name,
  namespace: "shop",
  node,
  labels: { ...labels, "projectcalico.org/namespace": "shop" },
  ips,
  profiles: ["kns.shop"],
});
const profiles = [{ name: "kns.shop", ingress: [{ action: "Allow" as const }], egress: [{ action: "Allow" as const }] }];
const endpoints = [ep("web", { app: "web" }, ["10.9.1.2"]), ep("db", { app: "db" }, ["10.9.1.3"]), ep("cache", { app: "cache" }, ["10.9.2.4"], "node-2")];

const p1 = pol("db-from-web", { selector: "app == 'db'", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "TCP", source: { selector: "app == 'web'" }, destination: { ports: [5432] } }] });
const p2 = pol("web-egress", { selector: "app == 'web'", types: ["Egress"], egress: [{ action: "Allow", destination: { selector: "app in {'db', 'cache'}" } }] });
const p3 = pol("cache-deny", { selector: "app == 'web'", types: ["Ingress"], ingress: [{ action: "Deny", protocol: "UDP" }] });

/** Set and chain blocks of birdcage's table in a stable order (a delta appends chains where a full load interleaves them). */
async function blocks(ns: string): Promise<string[]> {
  // Without the test's own counter (it only shows the table was not replaced).
  const text = String((await inNs(ns, "nft", ["list", "table", "inet", "bc-filter"])).stdout).replace(/\n\tcounter survivor \{[^}]*\}/, "");
  return text.split(/\n(?=\t(?:set|chain) )/).map((b) => b.replace(/\n}\n?$/, "").trim()).sort();
}

/** The kernel handles of the table and of each chain. */
async function handles(ns: string): Promise<Map<string, string>> {
  const text = String((await inNs(ns, "nft", ["-a", "list", "table", "inet", "bc-filter"])).stdout);
  return new Map([...text.matchAll(/^\s*(table inet bc-filter|chain \S+) \{ # handle (\d+)/gm)].map((m) => [m[1]!, m[2]!]));
}

/** What a fresh full load of the same input gives, in a namespace of its own. */
async function freshBlocks(input: PolicySetInput): Promise<string[]> {
  await inNs(FRESH, "nft", ["delete", "table", "inet", "bc-filter"]);
  const r = await inNs(FRESH, "nft", ["-f", "-"], renderNft(planNode(new PolicySet(input), { node: "node-1" })));
  expect(r.stderr).toBe("");
  return blocks(FRESH);
}

/** birdcage's iptables chains (rules in order, chains by name) and ipsets (members sorted), both families. */
async function iptablesState(ns: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const tool of ["iptables", "ip6tables"]) {
    for (const line of String((await inNs(ns, tool, ["-S"])).stdout).split("\n")) {
      const m = /^-[AN] (bc-\S+)/.exec(line);
      if (m) (out[`${tool} ${m[1]}`] ??= []).push(line);
    }
  }
  const names = String((await inNs(ns, "ipset", ["list", "-n"])).stdout).split("\n").filter((n) => /^bc[46]-/.test(n));
  for (const n of names) {
    const text = String((await inNs(ns, "ipset", ["list", n])).stdout);
    out[`ipset ${n}`] = (text.split("Members:\n")[1] ?? "").split("\n").filter(Boolean).sort();
  }
  return out;
}

/** The same for a full load of `input` in a namespace of its own (emptied first). */
async function freshIptables(input: PolicySetInput): Promise<Record<string, string[]>> {
  await inNs(IPT_FRESH, "sh", ["-c", iptablesCleanup([4, 6])]);
  const plan = planNode(new PolicySet(input), { node: "node-1" });
  const r = await inNs(IPT_FRESH, "sh", ["-s"], iptablesLoader(renderIptablesFamilies(plan), plan.hostEndpoints.length > 0));
  expect(r.stderr).toBe("");
  return iptablesState(IPT_FRESH);
}

suite("kernel dataplane policy (root, ip, nft, iptables, ipset)")("kernel dataplane policy loading", () => {
  beforeAll(async () => {
    await delNetns(NS, FRESH, IPT, IPT_FRESH);
    await addNetns(NS);
    await addNetns(FRESH);
    await addNetns(IPT);
    await addNetns(IPT_FRESH);
  });
  afterAll(async () => {
    await delNetns(NS, FRESH, IPT, IPT_FRESH);
  });

  test("policy-only changes are nft deltas from the kept planner, equal to a full load, and never reload the table", async () => {
    const errors: DataplaneError[] = [];
    const dp = new KernelDataplane({ node: "node-1", nodeAddress: "192.168.78.1", netns: NS, onError: (e) => errors.push(e) });
    let input: PolicySetInput = { endpoints, profiles, policies: [p1, p2] };
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(errors).toEqual([]);
    expect(dp.policyLoads).toEqual({ full: 1, delta: 0, unchanged: 0, incremental: 0 });
    expect(await blocks(NS)).toEqual(await freshBlocks(input));
    const first = await handles(NS);
    expect(first.get("table inet bc-filter")).toBeDefined();
    let prev = first;
    // A counter the kernel keeps only as long as the table is not replaced.
    expect((await inNs(NS, "nft", ["add", "counter", "inet", "bc-filter", "survivor"])).exitCode).toBe(0);

    const steps: Policy[][] = [
      [p1, p2, p3], // added
      [p2, p3], // removed
      [p2, pol("cache-deny", { selector: "app == 'db'", types: ["Ingress"], ingress: [{ action: "Deny", protocol: "UDP" }] })], // selector changed
      [p2, p3, pol("v6", { selector: "all()", types: ["Egress"], egress: [{ action: "Allow", destination: { nets: ["fd00::/8"] } }] })], // brings IPv6
      [p1],
    ];
    for (const [i, policies] of steps.entries()) {
      input = { ...input, policies };
      // A new PolicySet, as the daemon builds on every watch event (new objects, same endpoints).
      dp.setPolicy(new PolicySet(structuredClone(input)));
      await dp.settled();
      expect(errors).toEqual([]);
      expect(dp.policyLoads).toEqual({ full: 1, delta: i + 1, unchanged: 0, incremental: i + 1 });
      expect(await blocks(NS)).toEqual(await freshBlocks(input));
      const now = await handles(NS);
      // The table and every chain that stayed keep their kernel handle: nothing was reloaded.
      expect(now.get("table inet bc-filter")).toBe(first.get("table inet bc-filter"));
      for (const [name, handle] of prev) if (now.has(name)) expect(`${name} ${now.get(name)}`).toBe(`${name} ${handle}`);
      prev = now;
      expect(String((await inNs(NS, "nft", ["list", "counter", "inet", "bc-filter", "survivor"])).stdout)).toContain("survivor");
    }

    // Same policies again: nothing to do.
    dp.setPolicy(new PolicySet(structuredClone(input)));
    await dp.settled();
    expect(dp.policyLoads).toMatchObject({ full: 1, delta: 5, unchanged: 1, incremental: 6 });

    // An endpoint change: a new planner, still a delta against the loaded plan.
    input = { ...input, endpoints: [...endpoints, ep("api", { app: "db" }, ["10.9.1.7"])] };
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(errors).toEqual([]);
    expect(dp.policyLoads).toMatchObject({ full: 1, delta: 6, incremental: 6 });
    expect(await blocks(NS)).toEqual(await freshBlocks(input));
    expect((await handles(NS)).get("table inet bc-filter")).toBe(first.get("table inet bc-filter"));

    // And policy-only again from there.
    input = { ...input, policies: [p1, p3] };
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(dp.policyLoads).toMatchObject({ full: 1, delta: 7, incremental: 7 });
    expect(await blocks(NS)).toEqual(await freshBlocks(input));

    // Someone deletes the table behind the agent's back: the failed delta falls back to a full load.
    await inNs(NS, "nft", ["delete", "table", "inet", "bc-filter"]);
    input = { ...input, policies: [p2] };
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(dp.policyLoads).toMatchObject({ full: 2, delta: 7 });
    expect(errors.map((e) => e.message).join("\n")).toContain("whole table was reloaded");
    expect(await blocks(NS)).toEqual(await freshBlocks(input));

    await dp.close();
    expect(String((await inNs(NS, "nft", ["list", "tables"])).stdout)).not.toContain("bc-filter");
  });

  test("iptables mode: policy-only changes load only the changed chains and ipset elements, leaving what a full load gives", async () => {
    const errors: DataplaneError[] = [];
    const dp = new KernelDataplane({ node: "node-1", nodeAddress: "192.168.78.1", netns: IPT, policy: "iptables", onError: (e) => errors.push(e) });
    let input: PolicySetInput = { endpoints, profiles, policies: [p1, p2] };
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(errors).toEqual([]);
    expect(dp.policyLoads).toMatchObject({ full: 1, delta: 0 });
    expect(await iptablesState(IPT)).toEqual(await freshIptables(input));
    const steps: Policy[][] = [
      [p1, p2, p3], // added
      [p2, p3], // removed: its chain deleted, its selector's ipset destroyed
      [p2, pol("cache-deny", { selector: "app == 'db'", types: ["Ingress"], ingress: [{ action: "Deny", protocol: "UDP", source: { nets: ["10.1.0.0/16", "10.2.0.0/16"] } }] })], // changed, with a CIDR ipset
      [p1, p2], // back
    ];
    for (const [i, policies] of steps.entries()) {
      input = { ...input, policies };
      dp.setPolicy(new PolicySet(structuredClone(input)));
      await dp.settled();
      expect(errors).toEqual([]);
      expect(dp.policyLoads).toMatchObject({ full: 1, delta: i + 1 });
      expect(await iptablesState(IPT)).toEqual(await freshIptables(input));
    }
    // A new workload that a policy's selector matches: its chains and the set's new element, as a delta too.
    input = { ...input, endpoints: [...endpoints, ep("web2", { app: "web" }, ["10.9.1.9"])] };
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(errors).toEqual([]);
    expect(dp.policyLoads).toMatchObject({ full: 1, delta: steps.length + 1 });
    expect(await iptablesState(IPT)).toEqual(await freshIptables(input));
    // Someone removes birdcage's hooks, chains and ipsets behind the agent's back: the delta fails
    // (the ipset it adds the new workload to is gone) and everything is loaded again.
    await inNs(IPT, "sh", ["-c", iptablesCleanup([4, 6])]);
    input = { ...input, endpoints: [...input.endpoints!, ep("web3", { app: "web" }, ["10.9.1.10"])] };
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(dp.policyLoads).toMatchObject({ full: 2 });
    expect(errors.map((e) => e.message).join("\n")).toContain("every chain is loaded again");
    expect(await iptablesState(IPT)).toEqual(await freshIptables(input));
    await dp.close();
  });

  test("iptables mode: a ruleset far larger than a command-line argument may be (128 KB) loads, and its deltas apply", async () => {
    const errors: DataplaneError[] = [];
    const dp = new KernelDataplane({ node: "node-0", nodeAddress: "192.168.78.1", netns: IPT, policy: "iptables", onError: (e) => errors.push(e) });
    const input = world(300, 150, { nodes: 3, rulesPerPolicy: 4 });
    const size = renderIptables(planNode(new PolicySet(input), { node: "node-0" })).iptables.length;
    expect(size).toBeGreaterThan(2 * 131072);
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(errors).toEqual([]);
    expect(dp.policyLoads).toMatchObject({ full: 1 });
    const rules = String((await inNs(IPT, "iptables", ["-S"])).stdout).split("\n").filter((l) => l.startsWith("-A bc-"));
    expect(rules.length).toBeGreaterThan(2000);
    const next = { ...input, policies: input.policies!.slice(1) };
    dp.setPolicy(new PolicySet(next));
    await dp.settled();
    expect(errors).toEqual([]);
    expect(dp.policyLoads).toMatchObject({ full: 1, delta: 1 });
    await dp.close();
  });

  test("iptables mode: IPv4 and IPv6 files, FORWARD/INPUT/OUTPUT hooks in both families, all removed by close()", async () => {
    const errors: DataplaneError[] = [];
    const dp = new KernelDataplane({ node: "node-1", nodeAddress: "192.168.78.1", netns: IPT, policy: "iptables", onError: (e) => errors.push(e) });
    const hep = { kind: "host" as const, name: "node-1-eth1", node: "node-1", interfaceName: "eth1", ips: ["192.168.78.1", "fd00:78::1"], labels: { role: "node" } };
    const v6 = pol("db-v6", { selector: "app == 'db'", types: ["Ingress"], ingress: [{ action: "Allow", source: { nets: ["fd00:1::/64", "fd00:2::/64"] } }] });
    const hostPol = { kind: "GlobalNetworkPolicy", name: "node-in", spec: { selector: "role == 'node'", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [8080] } }] } } as unknown as Policy;
    const input: PolicySetInput = { endpoints: [...endpoints, ep("db6", { app: "db" }, ["fd00:9::3"]), hep], profiles, policies: [p1, v6, hostPol] };
    dp.setPolicy(new PolicySet(input));
    await dp.settled();
    expect(errors).toEqual([]);
    for (const tool of ["iptables", "ip6tables"]) {
      const rules = String((await inNs(IPT, tool, ["-S"])).stdout);
      expect(rules).toContain("-A FORWARD -j bc-FORWARD");
      expect(rules).toContain("-A INPUT -j bc-INPUT");
      expect(rules).toContain("-A OUTPUT -j bc-OUTPUT");
      expect(rules).toMatch(/-N bc-fh-eth1/);
    }
    const v6rules = String((await inNs(IPT, "ip6tables", ["-S"])).stdout);
    expect(v6rules).toMatch(/bc6-c_/); // the IPv6 CIDR list as an inet6 ipset
    expect(String((await inNs(IPT, "ipset", ["list", "-n"])).stdout)).toMatch(/^bc6-/m);
    // Loading again does not add a second hook.
    dp.setPolicy(new PolicySet(structuredClone(input)));
    await dp.settled();
    expect(String((await inNs(IPT, "iptables", ["-S", "INPUT"])).stdout).match(/bc-INPUT/g)).toHaveLength(1);

    // The host endpoint goes: its INPUT/OUTPUT hooks go with it, FORWARD stays.
    dp.setPolicy(new PolicySet({ ...input, endpoints: input.endpoints!.filter((e) => e.kind !== "host") }));
    await dp.settled();
    expect(errors).toEqual([]);
    for (const tool of ["iptables", "ip6tables"]) {
      const rules = String((await inNs(IPT, tool, ["-S"])).stdout);
      expect(rules).toContain("-A FORWARD -j bc-FORWARD");
      expect(rules).not.toContain("-j bc-INPUT");
      expect(rules).not.toContain("-j bc-OUTPUT");
    }

    // The last IPv6 address and CIDR go: the IPv6 hooks and chains go too, IPv4 stays.
    dp.setPolicy(new PolicySet({ ...input, endpoints, policies: [p1] }));
    await dp.settled();
    expect(errors).toEqual([]);
    expect(String((await inNs(IPT, "ip6tables", ["-S"])).stdout)).not.toContain("bc-");
    expect(String((await inNs(IPT, "iptables", ["-S"])).stdout)).toContain("-A FORWARD -j bc-FORWARD");

    await dp.close();
    for (const tool of ["iptables", "ip6tables"]) expect(String((await inNs(IPT, tool, ["-S"])).stdout)).not.toContain("bc-");
    expect(String((await inNs(IPT, "ipset", ["list", "-n"])).stdout)).not.toMatch(/^bc[46]-/m);
  });
});
