// The felix-style plan and its nftables/iptables texts: chain structure, marks, sets, incremental updates.
import { describe, expect, test } from "@jest/globals";
import { createHash } from "node:crypto";
import { PolicySet, parseSelector } from "../../../../src/core/index.ts";
import { renderIptables, renderIptablesFamilies } from "../../../../src/core/policy/render/iptables.ts";
import { nftRule, renderNft, renderNftUpdate } from "../../../../src/core/policy/render/nft.ts";
import { normalise, planNode, setName, workloadInterfaceName, type Plan } from "../../../../src/core/policy/render/plan.ts";
import { parsePrefix, formatPrefix } from "../../../../src/core/net/ip.ts";
import { kitchenSink, pod, small, withHostEndpoint } from "./fixtures.ts";

const plan = (input = small(), node = "node-1"): Plan => planNode(new PolicySet(input), { node });
const iface = (ns: string, name: string): string => workloadInterfaceName(ns, name);

/** The lines of one nft chain block in a full script. */
function chainBlock(text: string, name: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l === `\tchain ${name} {`);
  if (start < 0) throw new Error(`no chain ${name}`);
  const end = lines.indexOf("\t}", start);
  return lines.slice(start + 1, end).map((l) => l.trim());
}

describe("plan", () => {
  test("interface names: prefix + 11 hex digits of SHA-1, as Calico's CNI plugin", () => {
    expect(iface("shop", "web")).toMatch(/^cali[0-9a-f]{11}$/);
    expect(iface("shop", "web")).toBe(iface("shop", "web"));
    expect(iface("shop", "web")).not.toBe(iface("shop", "db"));
    expect(workloadInterfaceName("a", "b", "bc-")).toHaveLength(14);
    expect(() => workloadInterfaceName("a", "b", "toolong")).toThrow(RangeError);
    // As Calico's VethNameForWorkload: "cali" + hex(SHA-1("default.nginx"))[:11].
    expect(workloadInterfaceName("default", "nginx")).toBe(`cali${createHash("sha1").update("default.nginx").digest("hex").slice(0, 11)}`);
  });

  test("only the node's workloads, with tiers in order and policy chains shared", () => {
    const p = plan();
    expect(p.endpoints.map((e) => e.id).sort()).toEqual(["ops/mon", "shop/db", "shop/web"]);
    const db = p.endpoints.find((e) => e.id === "shop/db")!;
    expect(db.iface).toBe(iface("shop", "db"));
    expect(db.toChain).toBe(`bc-tw-${db.iface}`);
    expect(db.fromChain).toBe(`bc-fw-${db.iface}`);
    expect(db.ingress.map((t) => [t.tier, t.endDrop, t.policyChains.length])).toEqual([
      ["security", false, 1], // defaultAction Pass: no end-of-tier drop
      ["default", true, 1],
    ]);
    expect(db.egress).toEqual([]);
    expect(db.ingressProfiles).toEqual(["bc-pri-kns.shop"]);
    // The security policy is one chain for every endpoint.
    const security = new Set(p.endpoints.map((e) => e.ingress[0]!.policyChains[0]));
    expect(security.size).toBe(1);
  });

  test("selector sets hold every matching endpoint in the cluster, not just the node's", () => {
    const p = plan();
    const web = parseSelector("(projectcalico.org/namespace == 'shop') && (app == 'web')");
    const set = p.sets.get(setName(web.uniqueId, 4))!;
    expect(set.members).toEqual(["10.0.0.1/32", "10.0.1.1/32"]);
    expect(set.name).toBe(`bc4-${web.uniqueId.replace(":", "_")}`.slice(0, 31));
  });

  test("named-port sets hold (address, protocol, port) of endpoints declaring the name", () => {
    const p = plan();
    const port = [...p.sets.values()].find((s) => s.kind === "port")!;
    expect(port.members).toEqual(["10.0.0.1 6 8080", "10.0.1.1 6 8081"]);
  });

  test("normalise drops prefixes inside others", () => {
    const ps = ["10.0.0.0/8", "10.1.2.3/32", "11.0.0.1/32", "10.0.0.0/8"].map((t) => parsePrefix(t));
    expect(normalise(ps).map(formatPrefix)).toEqual(["10.0.0.0/8", "11.0.0.1/32"]);
  });
});

describe("nftables text", () => {
  test("the table is replaced atomically and the forward hook dispatches by interface", () => {
    const text = renderNft(plan());
    const lines = text.split("\n");
    expect(lines.slice(1, 4)).toEqual(["table inet bc-filter {}", "delete table inet bc-filter", "table inet bc-filter {"]);
    expect(text).not.toContain("flush ruleset");
    expect(chainBlock(text, "bc-forward")).toEqual([
      "type filter hook forward priority filter; policy accept;",
      "meta mark set meta mark & 0xffe0ffff",
      'iifname "cali*" jump bc-from-wl-dispatch',
      'oifname "cali*" jump bc-to-wl-dispatch',
      'meta mark & 0x00010000 == 0x00010000 accept comment "Policy explicitly accepted packet."',
    ]);
    const web = iface("shop", "web");
    // Conntrack and mark clearing run once per direction, before the jump to the workload's chain.
    const to = chainBlock(text, "bc-to-wl-dispatch");
    expect(to.slice(0, 3)).toEqual(["ct state established,related accept", "ct state invalid drop", "meta mark set meta mark & 0xfffcffff"]);
    expect(to[3]).toContain(`"${web}" : goto bc-tw-${web}`);
    const from = chainBlock(text, "bc-from-wl-dispatch");
    expect(from.slice(0, 4)).toEqual([
      "ct state established,related accept",
      "ct state invalid drop",
      'meta l4proto 17 th dport 4789 drop comment "Drop VXLAN encapped packets originating in workloads"',
      'meta l4proto 4 drop comment "Drop IPinIP encapped packets originating in workloads"',
    ]);
    expect(from[4]).toContain(`"${web}" : goto bc-fw-${web}`);
  });

  test("endpoint chain: tiers with pass/accept marks, end of tier, profiles", () => {
    const p = plan();
    const text = renderNft(p);
    const db = p.endpoints.find((e) => e.id === "shop/db")!;
    const [sec, def] = [db.ingress[0]!.policyChains[0]!, db.ingress[1]!.policyChains[0]!];
    expect(chainBlock(text, db.toChain)).toEqual([
      // The dispatch chain cleared the marks: the first tier and each tier's first jump need no test.
      `jump ${sec}`,
      'meta mark & 0x00010000 == 0x00010000 return comment "Return if policy accepted"',
      'meta mark set meta mark & 0xfffdffff comment "Start of tier default"',
      `jump ${def}`,
      'meta mark & 0x00010000 == 0x00010000 return comment "Return if policy accepted"',
      'meta mark & 0x00020000 == 0x00000000 drop comment "End of tier default. Drop if no policies passed packet"',
      // The namespace profile (one Allow) runs inline, and nothing follows an unconditional Allow.
      'goto bc-allow comment "profile kns.shop ingress rule 0"',
    ]);
    expect(chainBlock(text, db.fromChain)).toEqual(['goto bc-allow comment "profile kns.shop egress rule 0"']);
    // A longer profile, or one with Pass, is jumped to.
    const long = small();
    const profile = { name: "long", ingress: [{ action: "Deny" as const, protocol: "UDP" }, { action: "Pass" as const }] };
    const lp = plan({ ...long, profiles: [...long.profiles!, profile], endpoints: long.endpoints!.map((e) => (e.name === "db" ? { ...e, profiles: ["long", ...(e.profiles ?? [])] } : e)) });
    const lines = chainBlock(renderNft(lp), lp.endpoints.find((e) => e.id === "shop/db")!.toChain);
    expect(lines.slice(-3)).toEqual([
      "jump bc-pri-long",
      'meta mark & 0x00010000 == 0x00010000 return comment "Return if profile accepted"',
      'goto bc-allow comment "profile kns.shop ingress rule 0"',
    ]);
  });

  test("rules: Deny drops, Pass sets the pass mark, Allow the accept mark; ports OR-ed across numbers and names", () => {
    const p = plan();
    const text = renderNft(p);
    const db = p.endpoints.find((e) => e.id === "shop/db")!;
    expect(chainBlock(text, db.ingress[0]!.policyChains[0]!)).toEqual([
      // `ip saddr` brings its own nfproto test, a one-element set is the element.
      'ip saddr 192.0.2.0/24 drop comment "security.block ingress rule 0"',
      'meta l4proto 6 goto bc-pass comment "security.block ingress rule 1"',
    ]);
    const webSel = parseSelector("(projectcalico.org/namespace == 'shop') && (app == 'web')");
    expect(chainBlock(text, db.ingress[1]!.policyChains[0]!)).toEqual([
      `ip saddr @${setName(webSel.uniqueId, 4)} tcp dport 5432 goto bc-allow comment "shop/db-from-web ingress rule 0"`,
    ]);
    const web = p.endpoints.find((e) => e.id === "shop/web")!;
    const rules = chainBlock(text, web.ingress[1]!.policyChains[0]!);
    expect(rules).toHaveLength(2);
    expect(rules[0]).toBe('meta nfproto ipv4 tcp dport 9000 goto bc-allow comment "shop/web-http ingress rule 0"');
    expect(rules[1]).toMatch(/^meta l4proto 6 ip daddr \. meta l4proto \. th dport @bc4-n_\S+ goto bc-allow /);
    // The chains Allow and Pass go to set the mark; their end returns to the chain that jumped to the rule's chain.
    expect(chainBlock(text, "bc-allow")).toEqual(["meta mark set meta mark | 0x00010000"]);
    expect(chainBlock(text, "bc-pass")).toEqual(["meta mark set meta mark | 0x00020000"]);
    // Sets are declared with their members (a /32 printed as a bare address).
    expect(text).toMatch(new RegExp(`set ${setName(webSel.uniqueId, 4)} \\{\\n\\t\\ttype ipv4_addr\\n\\t\\tflags interval\\n\\t\\telements = \\{ 10\\.0\\.0\\.1, 10\\.0\\.1\\.1 \\}`));
    expect(text).toMatch(/type ipv4_addr \. inet_proto \. inet_service\n\t\telements = \{ 10\.0\.0\.1 \. 6 \. 8080, 10\.0\.1\.1 \. 6 \. 8081 \}/);
  });

  test("every rule feature prints; IPv6 rules only where the rule can match IPv6", () => {
    const p = plan(kitchenSink());
    expect(p.families).toEqual([4, 6]);
    const text = renderNft(p);
    const chain = [...p.chains.values()].find((c) => c.rules.some((r) => r.comment.startsWith("everything ingress")))!;
    const lines = chain.rules.map(nftRule);
    expect(lines).toContain('meta l4proto 1 icmp type . icmp code { 8 . 0 } log prefix "calico-packet: " comment "everything ingress rule 0"');
    expect(lines.some((l) => l.includes("icmp type . icmp code != { 3 . 4 }"))).toBe(true);
    expect(lines).toContain('meta l4proto != 6 ip saddr != { 10.0.0.0/8, 172.16.0.0/12 } drop comment "everything ingress rule 2"');
    expect(lines.some((l) => l.startsWith("meta l4proto 58 icmpv6 type 128 "))).toBe(true);
    expect(lines.some((l) => l.startsWith("ip6 saddr 2001:db8::/32 "))).toBe(true);
    expect(lines.some((l) => l.includes("ip saddr { 2001:db8"))).toBe(false);
    const udp = lines.filter((l) => l.includes("everything ingress rule 3"));
    expect(udp).toHaveLength(2); // IPv4 and IPv6
    expect(udp[0]).toMatch(/udp sport 1000-1010 udp dport != 53 ip daddr \. meta l4proto \. th dport != @bc4-n_/);
    // With no protocol the ports stay `th` behind a test of the protocols that have ports.
    expect(nftRule({ terms: [{ t: "portProtos" }, { t: "ports", dir: "dst", neg: false, ranges: [[80, 80], [443, 443]] }], verdict: "deny", comment: "c" })).toBe('meta l4proto { 6, 17, 132 } th dport { 80, 443 } drop comment "c"');
    // A family test with nothing else implying it stays.
    expect(nftRule({ terms: [{ t: "family", family: 6 }, { t: "proto", neg: false, proto: 6 }], verdict: "deny", comment: "c" })).toBe('meta nfproto ipv6 meta l4proto 6 drop comment "c"');
    // The network set's /32 inside its /24 is dropped from the interval set.
    expect(text).toContain("elements = { 198.51.100.0/24 }");
    expect(text).toContain("elements = { 2001:db8::/32 }");
  });
});

describe("incremental nftables updates", () => {
  test("nothing changed: empty script", () => {
    expect(renderNftUpdate(plan(), plan())).toBe("");
  });

  test("one policy changed: only its chain is flushed and refilled, no reload", () => {
    const before = small();
    const after = small();
    const changed = after.policies!.map((p) =>
      p.name === "db-from-web" ? { ...p, spec: { ...p.spec, ingress: [{ action: "Allow" as const, protocol: "TCP", destination: { ports: [5433] } }] } } : p,
    );
    const a = plan(before);
    const b = plan({ ...after, policies: changed });
    const script = renderNftUpdate(a, b);
    const chain = a.endpoints.find((e) => e.id === "shop/db")!.ingress[1]!.policyChains[0]!;
    expect(script.split("\n").filter((l) => l !== "")).toEqual([
      // The web selector is no longer used by any rule: its set goes, after the chain is refilled.
      `flush chain inet bc-filter ${chain}`,
      `add rule inet bc-filter ${chain} tcp dport 5433 goto bc-allow comment "shop/db-from-web ingress rule 0"`,
      `delete set inet bc-filter ${setName(parseSelector("(projectcalico.org/namespace == 'shop') && (app == 'web')").uniqueId, 4)}`,
    ]);
    expect(script).not.toContain("delete table");
  });

  test("a pod added elsewhere: only set elements change; a pod added here: its chains and the dispatch", () => {
    const base = small();
    const elsewhere = { ...base, endpoints: [...base.endpoints!, pod("shop", "web-3", "10.0.2.1", { app: "web" }, "node-3")] };
    const s1 = renderNftUpdate(plan(base), plan(elsewhere));
    const webSet = setName(parseSelector("(projectcalico.org/namespace == 'shop') && (app == 'web')").uniqueId, 4);
    expect(s1).toBe(`add element inet bc-filter ${webSet} { 10.0.2.1 }\n`);
    const gone = renderNftUpdate(plan(elsewhere), plan(base));
    expect(gone).toBe(`delete element inet bc-filter ${webSet} { 10.0.2.1 }\n`);

    const here = { ...base, endpoints: [...base.endpoints!, pod("ops", "mon-2", "10.0.0.4", { app: "mon" })] };
    const s2 = renderNftUpdate(plan(base), plan(here)).split("\n");
    const ifc = iface("ops", "mon-2");
    expect(s2).toContain(`add chain inet bc-filter bc-tw-${ifc}`);
    expect(s2).toContain("flush chain inet bc-filter bc-to-wl-dispatch");
    expect(s2.filter((l) => l.startsWith("flush chain")).sort()).toEqual(["flush chain inet bc-filter bc-from-wl-dispatch", "flush chain inet bc-filter bc-to-wl-dispatch"]);
    // And back: its chains are emptied, then deleted.
    const s3 = renderNftUpdate(plan(here), plan(base)).split("\n");
    expect(s3.indexOf(`flush chain inet bc-filter bc-tw-${ifc}`)).toBeLessThan(s3.indexOf(`delete chain inet bc-filter bc-tw-${ifc}`));
  });
});

describe("iptables text", () => {
  test("felix-style chains, marks then RETURN, ipsets for selectors and negated nets", () => {
    const out = renderIptables(plan());
    const lines = out.iptables.split("\n");
    expect(lines[0]).toBe("*filter");
    expect(lines).toContain(":bc-FORWARD - [0:0]");
    expect(lines).toContain("-A bc-FORWARD -i cali+ -j bc-from-wl-dispatch");
    expect(lines.at(-2)).toBe("COMMIT");
    const db = iface("shop", "db");
    expect(lines).toContain(`-A bc-to-wl-dispatch -o ${db} -g bc-tw-${db}`);
    const webSet = setName(parseSelector("(projectcalico.org/namespace == 'shop') && (app == 'web')").uniqueId, 4);
    const allow = lines.findIndex((l) => l.includes(`--match-set ${webSet} src`));
    expect(lines[allow]).toMatch(/ -p 6 -m set --match-set \S+ src -m multiport --dports 5432 .* -j MARK --set-xmark 0x10000\/0x10000$/);
    expect(lines[allow + 1]).toMatch(/-m mark --mark 0x10000\/0x10000 -j RETURN$/);
    expect(out.ipset).toContain(`create ${webSet} hash:net family inet -exist\nflush ${webSet}\nadd ${webSet} 10.0.0.1/32\nadd ${webSet} 10.0.1.1/32\n`);
    expect(out.ipset).toMatch(/hash:ip,port family inet -exist\nflush \S+\nadd \S+ 10\.0\.0\.1,tcp:8080\nadd \S+ 10\.0\.1\.1,tcp:8081/);
  });

  test("more than 15 ports split into OR-ed rules; IPv6 rules left out; portless protocols expanded", () => {
    const out = renderIptables(plan(kitchenSink()));
    const deny = out.iptables.split("\n").filter((l) => l.includes("everything ingress rule 6"));
    expect(deny).toHaveLength(2);
    expect(deny.map((l) => /--dports (\S+)/.exec(l)?.[1]?.split(",").length)).toEqual([15, 5]);
    expect(out.iptables).not.toContain("2001:db8");
    expect(out.iptables).not.toContain("ipv6");
    expect(out.iptables).toMatch(/-m set ! --match-set bc4-c_\S+ src .*-j DROP/);
    expect(out.ipset).toContain("add ");
  });
});

describe("ip6tables text", () => {
  test("IPv6 rules and sets only, ICMPv6 matches, inet6 ipsets; rules without addresses in both files", () => {
    const p = plan(kitchenSink());
    const v6 = renderIptables(p, 6);
    const v4 = renderIptables(p, 4);
    const lines = v6.iptables.split("\n");
    expect(lines.some((l) => l.includes("-m icmp6 --icmpv6-type 128") && l.includes("everything ingress rule 4"))).toBe(true);
    expect(lines.some((l) => l.includes("-s 2001:db8::/32") && l.includes("everything ingress rule 5"))).toBe(true);
    expect(v6.iptables).not.toMatch(/\b10\.0\.0\.0\/8|192\.0\.2\.0/);
    expect(v6.iptables).not.toContain("--icmp-type");
    expect(v6.ipset).toMatch(/^create bc6-\S+ hash:net family inet6 -exist$/m);
    expect(v6.ipset).not.toMatch(/family inet -exist/);
    expect(v6.ipset).toContain("2001:db8::/32");
    // The negated IPv4 CIDR list is an ipset of the IPv4 file only.
    expect(v4.iptables).toMatch(/--match-set bc4-c_\S+ src/);
    expect(v6.iptables).not.toMatch(/bc4-/);
    // The Pass egress to db (a selector: addresses) is per family; the family-less Allow is in both.
    const count = (out: string, rule: string) => out.split("\n").filter((l) => l.includes(`everything egress rule ${rule}"`)).length;
    expect([count(v4.iptables, "1"), count(v6.iptables, "1")]).toEqual([1, 1]);
    expect(v4.iptables.split("\n").find((l) => l.includes('everything egress rule 0"'))).toMatch(/--match-set bc4-\S+ dst/);
    expect(v6.iptables.split("\n").find((l) => l.includes('everything egress rule 0"'))).toMatch(/--match-set bc6-\S+ dst/);
  });

  test("renderIptablesFamilies gives an IPv6 file only when the ruleset has IPv6", () => {
    expect([...renderIptablesFamilies(plan()).keys()]).toEqual([4]);
    const both = renderIptablesFamilies(plan(kitchenSink()));
    expect([...both.keys()]).toEqual([4, 6]);
    expect(both.get(6)).toEqual(renderIptables(plan(kitchenSink()), 6));
  });

  test("host endpoints: the IPv6 file accepts neighbour discovery before policy, the IPv4 file does not", () => {
    const p = plan(withHostEndpoint());
    const v6 = renderIptables(p, 6).iptables.split("\n");
    expect(v6).toContain("-A bc-INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT");
    expect(v6.indexOf("-A bc-OUTPUT -p ipv6-icmp -m icmp6 --icmpv6-type 136 -j ACCEPT")).toBeLessThan(v6.indexOf("-A bc-OUTPUT -j bc-failsafe-out"));
    expect(renderIptables(p, 4).iptables).not.toContain("icmpv6");
  });
});

describe("policy groups", () => {
  test("consecutive policies with one selector share a group chain that stops on accept or pass", () => {
    const base = small();
    const input = {
      ...base,
      policies: [
        ...base.policies!,
        { kind: "NetworkPolicy" as const, name: "db-extra", namespace: "shop", spec: { order: 11, selector: "app == 'db'", types: ["Ingress" as const], ingress: [{ action: "Deny" as const }] } },
      ],
    };
    const p = plan(input);
    const db = p.endpoints.find((e) => e.id === "shop/db")!;
    const group = db.ingress[1]!.policyChains[0]!;
    expect(group).toMatch(/^bc-gi-_/);
    expect(group.length).toBeLessThanOrEqual(28);
    const members = p.groups.get(group)!;
    expect(members).toHaveLength(2);
    const text = renderNft(p);
    // In nft, member policies no other endpoint or group uses run inline in the group chain.
    expect(chainBlock(text, group)).toEqual([
      expect.stringMatching(/^ip saddr @bc4-\S+ tcp dport 5432 goto bc-allow comment "shop\/db-from-web ingress rule 0"$/),
      'drop comment "shop/db-extra ingress rule 0"',
    ]);
    expect(() => chainBlock(text, members[0]!)).toThrow(/no chain/);
    expect(renderIptables(p).iptables).toContain(`-A ${group} -m mark --mark 0x0/0x30000 -j ${members[1]}`);

    // A second db endpoint whose policies interleave with another selector's uses both on their
    // own: they keep their chains and the group jumps to them.
    const special = {
      ...input,
      endpoints: [...input.endpoints!, pod("shop", "db-2", "10.0.0.9", { app: "db", role: "special" })],
      policies: [...input.policies, { kind: "NetworkPolicy" as const, name: "special", namespace: "shop", spec: { order: 10.5, selector: "role == 'special'", types: ["Ingress" as const], ingress: [{ action: "Pass" as const }] } }],
    };
    const q = plan(special);
    const qtext = renderNft(q);
    const qgroup = q.endpoints.find((e) => e.id === "shop/db")!.ingress[1]!.policyChains[0]!;
    const shared = q.groups.get(qgroup)!;
    expect(q.endpoints.find((e) => e.id === "shop/db-2")!.ingress[1]!.policyChains).toEqual([shared[0], expect.stringMatching(/special/), shared[1]]);
    expect(chainBlock(qtext, qgroup)).toEqual(shared.map((m) => `meta mark & 0x00030000 == 0x00000000 jump ${m}`));
    expect(chainBlock(qtext, shared[1]!)).toEqual(['drop comment "shop/db-extra ingress rule 0"']);

    // A group of more than 16 rules keeps its jumps (an update refills a whole group chain).
    const many = Array.from({ length: 9 }, (_, i) => ({ action: "Allow" as const, protocol: "TCP", destination: { ports: [7000 + i] } }));
    const big = plan({ ...input, policies: input.policies.map((pol) => (pol.name === "db-extra" ? { ...pol, spec: { ...pol.spec, ingress: [...many, ...many.map((r) => ({ ...r, protocol: "UDP" }))] } } : pol)) });
    const bgroup = big.endpoints.find((e) => e.id === "shop/db")!.ingress[1]!.policyChains[0]!;
    expect(chainBlock(renderNft(big), bgroup)).toEqual(big.groups.get(bgroup)!.map((m) => `meta mark & 0x00030000 == 0x00000000 jump ${m}`));
  });
});

describe("host endpoints", () => {
  const withHep = (failsafe?: false) => {
    const base = small();
    return {
      ...base,
      ...(failsafe === false ? { failsafe: false as const } : {}),
      endpoints: [
        ...base.endpoints!,
        { kind: "host" as const, name: "node-1-eth0", node: "node-1", interfaceName: "eth0", ips: ["192.168.0.1"], labels: { role: "node" } },
        { kind: "host" as const, name: "node-2-eth0", node: "node-2", interfaceName: "eth0", ips: ["192.168.0.2"], labels: { role: "node" } },
        { kind: "host" as const, name: "by-address", node: "node-1", ips: ["192.168.0.9"], labels: { role: "node" } },
      ],
      policies: [
        ...base.policies!,
        { kind: "GlobalNetworkPolicy" as const, name: "node-ssh", spec: { selector: "role == 'node'", types: ["Ingress" as const], ingress: [{ action: "Allow" as const, protocol: "TCP", destination: { ports: [8080] } }] } },
      ],
    };
  };

  test("the node's host endpoints with an interface get fh/th chains; input and output hooks run failsafe ports, then dispatch by interface", () => {
    const p = plan(withHep());
    expect(p.hostEndpoints.map((e) => [e.id, e.iface, e.toChain, e.fromChain])).toEqual([["node-1-eth0", "eth0", "bc-fh-eth0", "bc-th-eth0"]]);
    expect(p.endpoints.every((e) => e.kind === "workload")).toBe(true);
    const hep = p.hostEndpoints[0]!;
    // The global security policy (all()) and node-ssh select it for ingress; nothing for egress.
    expect(hep.ingress.map((t) => t.tier)).toEqual(["security", "default"]);
    expect(hep.egress).toEqual([]);
    const text = renderNft(p);
    expect(chainBlock(text, "bc-input")).toEqual([
      "type filter hook input priority filter; policy accept;",
      "meta mark set meta mark & 0xffe0ffff",
      "jump bc-from-host-endpoint",
      'meta mark & 0x00010000 == 0x00010000 accept comment "Policy explicitly accepted packet."',
    ]);
    expect(chainBlock(text, "bc-from-host-endpoint")).toEqual([
      "ct state established,related accept",
      "ct state invalid drop",
      'meta l4proto . th dport { 6 . 22, 17 . 68, 6 . 179, 6 . 2379, 6 . 2380, 6 . 5473, 6 . 6443, 6 . 6666, 6 . 6667 } accept comment "Failsafe inbound"',
      'iifname vmap { "eth0" : goto bc-fh-eth0 }',
    ]);
    expect(chainBlock(text, "bc-to-host-endpoint")[2]).toMatch(/^meta l4proto \. th dport \{ 17 \. 53, 17 \. 67, 6 \. 179, .*\} accept comment "Failsafe outbound"$/);
    expect(chainBlock(text, "bc-to-host-endpoint")[3]).toBe('oifname vmap { "eth0" : goto bc-th-eth0 }');
    // No profile: default deny after the policies (egress: at once).
    expect(chainBlock(text, "bc-th-eth0")).toEqual(['drop comment "Drop if no profiles matched"']);
    expect(chainBlock(text, "bc-fh-eth0").at(-1)).toBe('drop comment "Drop if no profiles matched"');
    expect(chainBlock(text, "bc-fh-eth0")).not.toContain('meta l4proto 17 th dport 4789 drop comment "Drop VXLAN encapped packets originating in workloads"');
  });

  test("failsafe: false leaves the failsafe rules out; no host endpoint, no input/output hooks", () => {
    const text = renderNft(plan(withHep(false)));
    expect(chainBlock(text, "bc-from-host-endpoint")).toEqual(["ct state established,related accept", "ct state invalid drop", 'iifname vmap { "eth0" : goto bc-fh-eth0 }']);
    expect(renderNft(plan())).not.toContain("hook input");
  });

  test("an update that brings the first host endpoint adds the base chains with their hooks", () => {
    const script = renderNftUpdate(plan(), plan(withHep()));
    expect(script).toContain("add chain inet bc-filter bc-input { type filter hook input priority filter; policy accept; }");
    expect(script).toContain("add chain inet bc-filter bc-fh-eth0\n");
  });

  test("iptables: INPUT/OUTPUT chains through failsafe chains to fh/th chains", () => {
    const lines = renderIptables(plan(withHep())).iptables.split("\n");
    expect(lines).toContain("-A bc-INPUT -j bc-failsafe-in");
    expect(lines).toContain("-A bc-failsafe-in -p 6 -m tcp --dport 22 -j ACCEPT");
    expect(lines).toContain("-A bc-failsafe-out -p 17 -m udp --dport 53 -j ACCEPT");
    expect(lines).toContain("-A bc-from-host-endpoint -i eth0 -g bc-fh-eth0");
    expect(lines).toContain("-A bc-to-host-endpoint -o eth0 -g bc-th-eth0");
    expect(lines.filter((l) => l.startsWith("-A bc-th-eth0"))).not.toContainEqual(expect.stringContaining("4789"));
  });
});
