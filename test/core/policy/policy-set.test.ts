// Flow evaluation: tiers, policy order, actions, rule matches, profiles, host endpoints, traces.
import { describe, expect, test } from "@jest/globals";
import {
  FlowError,
  PolicyInputError,
  PolicySet,
  k8sNetworkPolicyToCalico,
  namespaceToProfile,
  podToEndpoint,
  serviceAccountToProfile,
  explainFlow,
  type Endpoint,
  type Flow,
  type Policy,
  type PolicySetInput,
  type Rule,
  type Tier,
} from "../../../src/core/policy/index.ts";

const IP = { web: "10.0.1.1", db: "10.0.1.2", devWeb: "10.0.2.1", host: "192.168.0.1", ext: "203.0.113.5", partner: "198.51.100.7", v6a: "fd00::1", v6b: "fd00::2" };

const endpoints: Endpoint[] = [
  podToEndpoint({ name: "web", namespace: "prod", labels: { app: "web" }, ips: [IP.web], serviceAccount: "frontend", ports: [{ name: "http", protocol: "TCP", port: 8080 }] }),
  podToEndpoint({ name: "db", namespace: "prod", labels: { app: "db" }, ips: [IP.db], ports: [{ name: "pg", protocol: "TCP", port: 5432 }] }),
  podToEndpoint({ name: "dev-web", namespace: "dev", labels: { app: "web" }, ips: [IP.devWeb] }),
  podToEndpoint({ name: "v6a", namespace: "prod", labels: { app: "v6a" }, ips: [IP.v6a] }),
  podToEndpoint({ name: "v6b", namespace: "prod", labels: { app: "v6b" }, ips: [IP.v6b] }),
  { kind: "host", name: "node-1", labels: { role: "node" }, ips: [IP.host] },
];

function world(extra: Partial<PolicySetInput> = {}): PolicySet {
  return new PolicySet({
    profiles: [
      namespaceToProfile({ name: "prod", labels: { team: "a" } }),
      namespaceToProfile({ name: "dev", labels: { team: "b" } }),
      serviceAccountToProfile({ name: "frontend", namespace: "prod", labels: { tier: "front" } }),
    ],
    endpoints,
    networkSets: [
      { name: "external", labels: { kind: "ext" }, nets: ["203.0.113.0/24"] },
      { name: "partners", namespace: "prod", labels: { partner: "yes" }, nets: ["198.51.100.0/24"] },
    ],
    ...extra,
  });
}

const tcp = (src: string, dst: string, dstPort = 80, more: Partial<Flow> = {}): Flow => ({ src, dst, protocol: "TCP", dstPort, srcPort: 40000, ...more });

const np = (name: string, spec: Policy["spec"], namespace = "prod"): Policy => ({ kind: "NetworkPolicy", name, namespace, spec });
const gnp = (name: string, spec: Policy["spec"]): Policy => ({ kind: "GlobalNetworkPolicy", name, spec });
const ingressTo = (app: string, rules: Rule[], extra: Partial<Policy["spec"]> = {}): Policy["spec"] => ({ selector: `app == '${app}'`, types: ["Ingress"], ingress: rules, ...extra });

/** Ingress verdict at db for a flow, with a policy set made of `policies`. */
function dbIngress(policies: Policy[], flow: Flow = tcp(IP.web, IP.db), extra: Partial<PolicySetInput> = {}) {
  return world({ policies, ...extra }).evaluate(flow).ingress;
}

describe("defaults", () => {
  test("no policy: the namespace profile allows both directions", () => {
    const r = world().evaluate(tcp(IP.web, IP.db));
    expect(r.allowed).toBe(true);
    expect(r.egress.decision).toEqual({ kind: "profile-rule", profile: "kns.prod", ruleIndex: 0, action: "Allow" });
    expect(r.ingress.decision).toEqual({ kind: "profile-rule", profile: "kns.prod", ruleIndex: 0, action: "Allow" });
    expect(r.egress.endpoint).toEqual({ kind: "workload", name: "web", namespace: "prod" });
  });

  test("an endpoint without profiles and without policy drops", () => {
    const set = new PolicySet({ endpoints: [{ kind: "workload", name: "bare", ips: ["10.9.0.1"] }] });
    const r = set.evaluate(tcp("10.9.9.9", "10.9.0.1"));
    expect(r.allowed).toBe(false);
    expect(r.ingress.decision).toEqual({ kind: "no-profile-match", profiles: [] });
    expect(r.egress.decision).toEqual({ kind: "not-an-endpoint" });
  });

  test("traffic from an endpoint to its own address is not policed", () => {
    const r = world({ policies: [np("deny-all", { selector: "all()", types: ["Ingress", "Egress"] })] }).evaluate(tcp(IP.db, IP.db));
    expect(r.allowed).toBe(true);
    expect(r.ingress.decision).toEqual({ kind: "same-endpoint" });
  });

  test("a policy with no rules selecting the endpoint denies at the end of its tier", () => {
    const r = dbIngress([np("deny-all", ingressTo("db", []))]);
    expect(r.allowed).toBe(false);
    expect(r.decision).toEqual({ kind: "end-of-tier", tier: "default" });
    expect(r.trace).toEqual([
      { kind: "tier", tier: "default", policies: ["prod/deny-all"] },
      { kind: "policy-no-match", tier: "default", policy: "prod/deny-all" },
      { kind: "end-of-tier", tier: "default", defaultAction: "Deny", passed: false },
    ]);
  });

  test("types: an ingress-only policy leaves egress to the profile", () => {
    const set = world({ policies: [np("deny-all", { selector: "all()", types: ["Ingress"] })] });
    const r = set.evaluate(tcp(IP.web, IP.db));
    expect(r.egress.allowed).toBe(true);
    expect(r.ingress.allowed).toBe(false);
  });

  test("types default from the rules present", () => {
    const set = world({ policies: [np("eg", { selector: "app == 'web'", egress: [{ action: "Deny" }] })] });
    expect(set.policies[0]!.types).toEqual(new Set(["Egress"]));
    expect(set.evaluate(tcp(IP.web, IP.db)).egress.allowed).toBe(false);
    expect(set.evaluate(tcp(IP.db, IP.web)).ingress.allowed).toBe(true);
  });
});

describe("selectors and namespaces", () => {
  const allowFrom = (source: Rule["source"]): Policy[] => [np("allow", ingressTo("db", [{ action: "Allow", source }]))];

  test("a rule selector without namespaceSelector only matches the policy's namespace", () => {
    expect(dbIngress(allowFrom({ selector: "app == 'web'" })).allowed).toBe(true);
    expect(dbIngress(allowFrom({ selector: "app == 'web'" }), tcp(IP.devWeb, IP.db)).allowed).toBe(false);
  });

  test.each([
    ["projectcalico.org/name == 'dev'", true, false],
    ["kubernetes.io/metadata.name == 'dev'", true, false],
    ["team == 'b'", true, false],
    ["all()", true, true],
    ["team == 'nope'", false, false],
  ])("namespaceSelector %s: dev-web %s, prod web %s", (nsSel, devAllowed, prodAllowed) => {
    const policies = allowFrom({ namespaceSelector: nsSel, selector: "app == 'web'" });
    expect(dbIngress(policies, tcp(IP.devWeb, IP.db)).allowed).toBe(devAllowed);
    expect(dbIngress(policies, tcp(IP.web, IP.db)).allowed).toBe(prodAllowed);
  });

  test("namespaceSelector global() matches non-namespaced entities only", () => {
    const policies = [gnp("g", ingressTo("db", [{ action: "Allow", source: { namespaceSelector: "global()" } }]))];
    expect(dbIngress(policies, tcp(IP.host, IP.db)).allowed).toBe(true);
    expect(dbIngress(policies, tcp(IP.ext, IP.db)).allowed).toBe(true); // global network set
    expect(dbIngress(policies, tcp(IP.web, IP.db)).allowed).toBe(false);
    expect(dbIngress(policies, tcp("8.8.8.8", IP.db)).allowed).toBe(false); // unknown address: in no IP set
  });

  test("notSelector", () => {
    const policies = [gnp("g", ingressTo("db", [{ action: "Allow", source: { notSelector: "app == 'web'" } }]))];
    expect(dbIngress(policies, tcp(IP.web, IP.db)).allowed).toBe(false);
    expect(dbIngress(policies, tcp(IP.devWeb, IP.db)).allowed).toBe(false);
    expect(dbIngress(policies, tcp(IP.host, IP.db)).allowed).toBe(true);
    expect(dbIngress(policies, tcp("8.8.8.8", IP.db)).allowed).toBe(true);
  });

  test("network sets: global by label, namespaced ones only from their namespace's policies", () => {
    const ext = [gnp("g", ingressTo("db", [{ action: "Allow", source: { selector: "kind == 'ext'" } }]))];
    expect(dbIngress(ext, tcp(IP.ext, IP.db)).allowed).toBe(true);
    expect(dbIngress(ext, tcp("203.0.114.1", IP.db)).allowed).toBe(false);
    const partner = (ns: string) => [np("p", { selector: "all()", types: ["Ingress"], ingress: [{ action: "Allow", source: { selector: "partner == 'yes'" } }] }, ns)];
    expect(dbIngress(partner("prod"), tcp(IP.partner, IP.db)).allowed).toBe(true);
    expect(world({ policies: partner("dev") }).evaluate(tcp(IP.partner, IP.devWeb)).ingress.allowed).toBe(false);
  });

  test("a workload's own pcns./pcsa. labels are ignored: it cannot pose as another namespace", () => {
    const spoof = podToEndpoint({ name: "spoof", namespace: "prod", labels: { "pcns.projectcalico.org/name": "dev", "pcns.team": "b" }, ips: ["10.0.1.9"] });
    const policies = allowFrom({ namespaceSelector: "team == 'b'" });
    expect(world({ policies, endpoints: [...endpoints, spoof] }).evaluate(tcp("10.0.1.9", IP.db)).ingress.allowed).toBe(false);
    expect(world({ policies, endpoints: [...endpoints, spoof] }).evaluate(tcp(IP.devWeb, IP.db)).ingress.allowed).toBe(true);
  });

  test("a label called __proto__ is an ordinary label", () => {
    const odd = { kind: "workload", name: "odd", ips: ["10.9.0.2"], labels: JSON.parse('{"__proto__": "x"}') as Record<string, string>, profiles: ["kns.prod"] } as const;
    const policies = [gnp("g", ingressTo("db", [{ action: "Allow", source: { selector: "__proto__ == 'x'" } }]))];
    expect(world({ policies, endpoints: [...endpoints, odd] }).evaluate(tcp("10.9.0.2", IP.db)).ingress.allowed).toBe(true);
  });

  test("service accounts by name and by label", () => {
    expect(dbIngress(allowFrom({ serviceAccounts: { names: ["frontend"] } })).allowed).toBe(true);
    expect(dbIngress(allowFrom({ serviceAccounts: { names: ["other"] } })).allowed).toBe(false);
    expect(dbIngress(allowFrom({ serviceAccounts: { selector: "tier == 'front'" } })).allowed).toBe(true);
  });

  test("policy selector in a namespaced policy never selects other namespaces", () => {
    const set = world({ policies: [np("deny", { selector: "app == 'web'", types: ["Ingress"] })] });
    expect(set.evaluate(tcp(IP.db, IP.web)).ingress.allowed).toBe(false);
    expect(set.evaluate(tcp(IP.db, IP.devWeb)).ingress.allowed).toBe(true);
  });

  test("global policy with namespaceSelector", () => {
    const set = world({ policies: [gnp("g", { selector: "app == 'web'", namespaceSelector: "team == 'b'", types: ["Ingress"] })] });
    expect(set.evaluate(tcp(IP.db, IP.devWeb)).ingress.allowed).toBe(false);
    expect(set.evaluate(tcp(IP.db, IP.web)).ingress.allowed).toBe(true);
  });
});

describe("order, actions and tiers", () => {
  test("lower order first; equal orders by name; no order last", () => {
    const deny = (name: string, order?: number) => np(name, ingressTo("db", [{ action: "Deny" }], order === undefined ? {} : { order }));
    const allow = (name: string, order?: number) => np(name, ingressTo("db", [{ action: "Allow" }], order === undefined ? {} : { order }));
    expect(dbIngress([deny("d", 20), allow("a", 10)]).allowed).toBe(true);
    expect(dbIngress([deny("d", 10), allow("a", 20)]).allowed).toBe(false);
    expect(dbIngress([deny("b", 10), allow("a", 10)]).decision).toMatchObject({ policy: "prod/a" });
    expect(dbIngress([deny("a"), allow("b", 1e9)]).allowed).toBe(true);
  });

  test("Log records and continues; the first Allow/Deny decides", () => {
    const r = dbIngress([np("p", ingressTo("db", [{ action: "Log" }, { action: "Allow", protocol: "UDP" }, { action: "Deny" }]))]);
    expect(r.allowed).toBe(false);
    expect(r.decision).toEqual({ kind: "rule", tier: "default", policy: "prod/p", ruleIndex: 2, action: "Deny" });
    expect(r.trace.filter((s) => s.kind === "rule").map((s) => s.kind === "rule" && s.action)).toEqual(["Log", "Deny"]);
  });

  const tiers: Tier[] = [
    { name: "security", order: 100 },
    { name: "platform", order: 200, defaultAction: "Pass" },
  ];
  const inTier = (tier: string, name: string, rules: Rule[], order?: number): Policy =>
    gnp(`${tier}.${name}`, { ...ingressTo("db", rules), tier, ...(order !== undefined ? { order } : {}) });

  test("tiers run in order; Pass skips the rest of the tier", () => {
    const policies = [
      inTier("security", "pass", [{ action: "Pass", source: { selector: "app == 'web'" } }], 1),
      inTier("security", "deny", [{ action: "Deny" }], 2),
      np("allow", ingressTo("db", [{ action: "Allow" }])),
    ];
    const r = dbIngress(policies, tcp(IP.web, IP.db), { tiers });
    expect(r.allowed).toBe(true);
    expect(r.decision).toEqual({ kind: "rule", tier: "default", policy: "prod/allow", ruleIndex: 0, action: "Allow" });
    expect(r.trace[0]).toEqual({ kind: "tier", tier: "security", policies: ["security.pass", "security.deny"] });
    expect(r.trace).toContainEqual({ kind: "end-of-tier", tier: "security", defaultAction: "Deny", passed: true });
    // The host is not app=web, so the Pass rule does not match and the next policy denies.
    expect(dbIngress(policies, tcp(IP.host, IP.db), { tiers }).decision).toEqual({
      kind: "rule",
      tier: "security",
      policy: "security.deny",
      ruleIndex: 0,
      action: "Deny",
    });
  });

  test("end of a Deny tier drops; a Pass tier falls through", () => {
    const noMatch: Rule[] = [{ action: "Allow", protocol: "UDP" }];
    expect(dbIngress([inTier("security", "p", noMatch)], tcp(IP.web, IP.db), { tiers }).decision).toEqual({ kind: "end-of-tier", tier: "security" });
    const r = dbIngress([inTier("platform", "p", noMatch)], tcp(IP.web, IP.db), { tiers });
    expect(r.allowed).toBe(true);
    expect(r.decision).toEqual({ kind: "profile-rule", profile: "kns.prod", ruleIndex: 0, action: "Allow" });
  });

  test("tiers with no policy for the endpoint are skipped", () => {
    const other = gnp("security.other", { tier: "security", selector: "app == 'nothing'", ingress: [{ action: "Deny" }] });
    expect(dbIngress([other], tcp(IP.web, IP.db), { tiers }).allowed).toBe(true);
  });

  test("Pass in the last tier goes to the profiles", () => {
    const r = dbIngress([np("p", ingressTo("db", [{ action: "Pass" }]))]);
    expect(r.allowed).toBe(true);
    expect(r.decision.kind).toBe("profile-rule");
  });

  test("policies in a tier that does not exist are rejected", () => {
    expect(() => world({ policies: [inTier("nope", "p", [])] })).toThrow(/tier "nope" does not exist/);
  });
});

describe("rule matches", () => {
  const oneRule = (rule: Omit<Rule, "action">, flow: Flow) =>
    dbIngress([np("p", ingressTo("db", [{ action: "Allow", ...rule }]))], flow).allowed;

  test("protocol and notProtocol (names, any case, or numbers)", () => {
    expect(oneRule({ protocol: "TCP" }, tcp(IP.web, IP.db))).toBe(true);
    expect(oneRule({ protocol: "udp" }, tcp(IP.web, IP.db))).toBe(false);
    expect(oneRule({ protocol: 6 }, tcp(IP.web, IP.db))).toBe(true);
    expect(oneRule({ notProtocol: "TCP" }, tcp(IP.web, IP.db))).toBe(false);
    expect(oneRule({ notProtocol: "UDP" }, tcp(IP.web, IP.db))).toBe(true);
  });

  test("nets and notNets", () => {
    const rule = { source: { nets: ["203.0.113.0/24"], notNets: ["203.0.113.128/25"] } };
    expect(oneRule(rule, tcp("203.0.113.5", IP.db))).toBe(true);
    expect(oneRule(rule, tcp("203.0.113.200", IP.db))).toBe(false);
    expect(oneRule(rule, tcp("10.0.0.1", IP.db))).toBe(false);
    expect(oneRule({ destination: { nets: ["10.0.1.0/24"] } }, tcp(IP.web, IP.db))).toBe(true);
    expect(oneRule({ destination: { notNets: ["10.0.1.2"] } }, tcp(IP.web, IP.db))).toBe(false);
  });

  test("IP version: other-family CIDR lists drop the rule; ipVersion restricts it", () => {
    const v6 = (rule: Omit<Rule, "action">) =>
      world({ policies: [np("p", ingressTo("v6b", [{ action: "Allow", ...rule }]))] }).evaluate(tcp(IP.v6a, IP.v6b)).ingress.allowed;
    expect(v6({})).toBe(true);
    expect(v6({ source: { nets: ["fd00::/64"] } })).toBe(true);
    expect(v6({ source: { nets: ["10.0.0.0/8"] } })).toBe(false);
    expect(v6({ source: { notNets: ["10.0.0.0/8"] } })).toBe(false);
    expect(v6({ ipVersion: 6 })).toBe(true);
    expect(v6({ ipVersion: 4 })).toBe(false);
  });

  test("ports: numbers, ranges, notPorts, source ports", () => {
    expect(oneRule({ protocol: "TCP", destination: { ports: [80] } }, tcp(IP.web, IP.db, 80))).toBe(true);
    expect(oneRule({ protocol: "TCP", destination: { ports: ["8000:8100"] } }, tcp(IP.web, IP.db, 8100))).toBe(true);
    expect(oneRule({ protocol: "TCP", destination: { ports: ["8000:8100"] } }, tcp(IP.web, IP.db, 8101))).toBe(false);
    expect(oneRule({ protocol: "TCP", destination: { notPorts: [22, "8000:8100"] } }, tcp(IP.web, IP.db, 80))).toBe(true);
    expect(oneRule({ protocol: "TCP", destination: { notPorts: [22, "8000:8100"] } }, tcp(IP.web, IP.db, 22))).toBe(false);
    expect(oneRule({ protocol: "TCP", source: { ports: ["32768:60999"] } }, tcp(IP.web, IP.db, 80))).toBe(true);
    expect(oneRule({ protocol: "TCP", source: { ports: [53] } }, tcp(IP.web, IP.db, 80))).toBe(false);
  });

  test("named ports resolve against the endpoint that owns the address", () => {
    expect(oneRule({ protocol: "TCP", destination: { ports: ["pg"] } }, tcp(IP.web, IP.db, 5432))).toBe(true);
    expect(oneRule({ protocol: "TCP", destination: { ports: ["pg"] } }, tcp(IP.web, IP.db, 5433))).toBe(false);
    expect(oneRule({ destination: { ports: ["pg"] } }, { src: IP.web, dst: IP.db, protocol: "UDP", dstPort: 5432 })).toBe(false);
    expect(oneRule({ protocol: "TCP", destination: { ports: ["http"] } }, tcp(IP.web, IP.db, 8080))).toBe(false);
    // Egress to a named port of the peer: web's port "http" is 8080.
    const set = world({ policies: [np("e", { selector: "app == 'db'", types: ["Egress"], egress: [{ action: "Allow", protocol: "TCP", destination: { selector: "app == 'web'", ports: ["http"] } }] })] });
    expect(set.evaluate(tcp(IP.db, IP.web, 8080)).egress.allowed).toBe(true);
    expect(set.evaluate(tcp(IP.db, IP.web, 80)).egress.allowed).toBe(false);
  });

  test("ICMP type and code, notICMP", () => {
    const ping = (type: number, code = 0): Flow => ({ src: IP.web, dst: IP.db, protocol: "ICMP", icmpType: type, icmpCode: code });
    expect(oneRule({ protocol: "ICMP", icmp: { type: 8 } }, ping(8))).toBe(true);
    expect(oneRule({ protocol: "ICMP", icmp: { type: 8 } }, ping(0))).toBe(false);
    expect(oneRule({ protocol: "ICMP", icmp: { type: 3, code: 4 } }, ping(3, 4))).toBe(true);
    expect(oneRule({ protocol: "ICMP", icmp: { type: 3, code: 4 } }, ping(3, 1))).toBe(false);
    expect(oneRule({ protocol: "ICMP", notICMP: { type: 8 } }, ping(8))).toBe(false);
    expect(oneRule({ protocol: "ICMP", notICMP: { type: 8 } }, ping(0))).toBe(true);
  });

  test("ports never match a portless flow", () => {
    const flow: Flow = { src: IP.web, dst: IP.db, protocol: "TCP" };
    expect(oneRule({ protocol: "TCP", destination: { ports: [80] } }, flow)).toBe(false);
    expect(oneRule({ protocol: "TCP", destination: { notPorts: [80] } }, flow)).toBe(false);
  });
});

describe("explain", () => {
  test("with explain, each rule that does not match names the first field that failed", () => {
    const policies = [
      np("p", ingressTo("db", [
        { action: "Allow", protocol: "UDP" },
        { action: "Allow", protocol: "TCP", destination: { ports: [443] } },
        { action: "Allow", source: { selector: "app == 'nothing'" } },
        { action: "Allow", source: { nets: ["fd00::/8"] } },
        { action: "Allow", source: { notNets: ["10.0.0.0/8"] } },
      ])),
    ];
    const set = world({ policies });
    const r = set.evaluate(tcp(IP.web, IP.db, 80), { explain: true }).ingress;
    expect(r.trace.filter((s) => s.kind === "rule-no-match").map((s) => s.kind === "rule-no-match" && [s.ruleIndex, s.failed])).toEqual([
      [0, "protocol"],
      [1, "destination.ports"],
      [2, "source.selector"],
      [3, "ipFamily"],
      [4, "source.notNets"],
    ]);
    expect(set.evaluate(tcp(IP.web, IP.db, 80)).ingress.trace.some((s) => s.kind === "rule-no-match")).toBe(false);
    // Explaining does not change the verdict.
    expect(set.evaluate(tcp(IP.web, IP.db, 80), { explain: true }).ingress.decision).toEqual(set.evaluate(tcp(IP.web, IP.db, 80)).ingress.decision);
  });
});

describe("host endpoints", () => {
  test("default deny without policy or profile, except failsafe ports", () => {
    const set = world();
    expect(set.evaluate(tcp(IP.web, IP.host, 80)).ingress.decision).toEqual({ kind: "no-profile-match", profiles: [] });
    expect(set.evaluate(tcp(IP.web, IP.host, 22)).ingress.decision).toEqual({ kind: "failsafe", protocol: "tcp", port: 22 });
    expect(set.evaluate({ src: IP.host, dst: IP.web, protocol: "UDP", dstPort: 53 }).egress.decision.kind).toBe("failsafe");
    expect(world({ failsafe: false }).evaluate(tcp(IP.web, IP.host, 22)).ingress.allowed).toBe(false);
  });

  test("global policies select host endpoints; namespaced ones cannot", () => {
    const allowNode = gnp("nodes", { selector: "role == 'node'", ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [10250] } }] });
    expect(world({ policies: [allowNode] }).evaluate(tcp(IP.web, IP.host, 10250)).ingress.allowed).toBe(true);
    const ns = np("nodes", { selector: "role == 'node'", ingress: [{ action: "Allow" }] });
    expect(world({ policies: [ns] }).policiesFor(IP.host, "ingress")).toEqual([]);
  });
});

describe("Kubernetes NetworkPolicy end to end", () => {
  const knp = k8sNetworkPolicyToCalico({
    metadata: { name: "db", namespace: "prod" },
    spec: {
      podSelector: { matchLabels: { app: "db" } },
      policyTypes: ["Ingress"],
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: "web" } } }], ports: [{ port: 5432 }] },
        { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dev" } } }], ports: [{ port: "pg" }] },
        { from: [{ ipBlock: { cidr: "203.0.113.0/24", except: ["203.0.113.0/28"] } }] },
      ],
    },
  });

  test.each([
    [IP.web, 5432, true, 0],
    [IP.web, 80, false, undefined],
    [IP.devWeb, 5432, true, 1],
    [IP.devWeb, 80, false, undefined],
    [IP.ext, 9999, false, undefined],
    ["203.0.113.20", 9999, true, 2],
  ])("%s -> db:%i allowed=%s (rule %s)", (src, port, allowed, ruleIndex) => {
    const r = dbIngress([knp], tcp(src, IP.db, port));
    expect(r.allowed).toBe(allowed);
    if (ruleIndex !== undefined) expect(r.decision).toEqual({ kind: "rule", tier: "default", policy: "prod/knp.default.db", ruleIndex, action: "Allow" });
    else expect(r.decision).toEqual({ kind: "end-of-tier", tier: "default" });
  });

  test("explanation text", () => {
    const lines = explainFlow(world({ policies: [knp] }).evaluate(tcp(IP.web, IP.db, 80)));
    expect(lines[0]).toBe("DENIED");
    expect(lines).toContain("ingress of workload prod/db: denied at the end of tier default (no policy in the tier allowed or passed it)");
  });
});

describe("input checking", () => {
  test("problems are collected with their paths", () => {
    let err: unknown;
    try {
      world({
        policies: [
          np("bad", {
            selector: "app = 'x'",
            ingress: [
              { action: "Allow", source: { nets: ["10.0.0.0/33"], selector: "a ==" } },
              { action: "Allow", destination: { ports: [80] } },
              { action: "Allow", icmp: { type: 8 } },
              { action: "Allow", destination: { notNets: ["0.0.0.0/0"] } },
              { action: "Allow", protocol: "TCP", destination: { ports: ["99999"] } },
              { action: "Nope" as "Allow" },
            ],
          }),
        ],
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyInputError);
    const paths = (err as PolicyInputError).problems.map((p) => p.path);
    expect(paths).toEqual([
      "policy prod/bad: spec.selector",
      "policy prod/bad: spec.ingress[0].source.nets[0]",
      "policy prod/bad: spec.ingress[0].source.selector",
      "policy prod/bad: spec.ingress[1].destination.ports[0]",
      "policy prod/bad: spec.ingress[2].icmp",
      "policy prod/bad: spec.ingress[3].destination.notNets[0]",
      "policy prod/bad: spec.ingress[4].destination.ports[0]",
      "policy prod/bad: spec.ingress[5].action",
    ]);
    expect((err as Error).message).toContain("column");
  });

  test("rules using unmodelled matches are refused, not silently widened", () => {
    expect(() => world({ policies: [np("svc", ingressTo("db", [{ action: "Allow", destination: { services: { name: "db" } } }]))] })).toThrow(
      /spec\.ingress\[0\]\.destination\.services: Kubernetes Service matches are not supported/,
    );
    expect(() => world({ policies: [np("alp", ingressTo("db", [{ action: "Allow", http: { methods: ["GET"] } }]))] })).toThrow(/spec\.ingress\[0\]\.http/);
  });

  test("bad flows are FlowErrors", () => {
    const set = world();
    expect(() => set.evaluate(tcp("10.0.0.300", IP.db))).toThrow(FlowError);
    expect(() => set.evaluate(tcp(IP.v6a, IP.db))).toThrow(/different IP families/);
    expect(() => set.evaluate({ src: IP.web, dst: IP.db, protocol: "bogus" })).toThrow(/unknown protocol/);
    expect(() => set.evaluate(tcp(IP.web, IP.db, 70000))).toThrow(/dstPort/);
  });

  test("preDNAT and doNotTrack policies are not part of the filter path", () => {
    const set = world({ policies: [gnp("raw", { selector: "all()", preDNAT: true, applyOnForward: true, ingress: [{ action: "Deny" }] })] });
    expect(set.skippedPolicies).toEqual(["raw"]);
    expect(set.evaluate(tcp(IP.web, IP.db)).allowed).toBe(true);
  });
});

describe("reusing an earlier set's compiled policies", () => {
  test("unchanged policies keep their compiled object, changed and new ones are compiled, verdicts are those of a fresh set", () => {
    const a = np("a", ingressTo("db", [{ action: "Allow", source: { selector: "app == 'web'" } }]));
    const b = np("b", ingressTo("web", [{ action: "Deny", protocol: "TCP", destination: { ports: [81] } }]));
    const first = new PolicySet({ endpoints, policies: [a, b] });
    // New objects of the same content (as parsed again from the datastore), one changed, one new.
    const b2 = np("b", ingressTo("web", [{ action: "Deny", protocol: "TCP", destination: { ports: [80] } }]));
    const c = np("c", ingressTo("web", [{ action: "Allow" }]));
    const input = { endpoints, policies: [structuredClone(a), b2, c] };
    const second = new PolicySet(input, { reuse: first });
    const byName = (s: PolicySet, name: string) => s.policies.find((p) => p.policy.name === name)!;
    expect(byName(second, "a")).toBe(byName(first, "a"));
    expect(byName(second, "b")).not.toBe(byName(first, "b"));
    expect(byName(second, "b").policy).toBe(b2);
    const fresh = new PolicySet(input);
    for (const flow of [tcp(IP.web, IP.db), tcp(IP.db, IP.web, 80), tcp(IP.db, IP.web, 81), tcp(IP.devWeb, IP.db)]) {
      expect(second.evaluate(flow)).toEqual(fresh.evaluate(flow));
    }
    expect(second.evaluate(tcp(IP.db, IP.web, 80)).allowed).toBe(false);
  });

  test("a reused policy is still checked against the new set's tiers", () => {
    const t = np("t", { ...ingressTo("db", [{ action: "Allow" }]), tier: "security" });
    const first = new PolicySet({ endpoints, tiers: [{ name: "security", order: 1 }], policies: [t] });
    expect(() => new PolicySet({ endpoints, policies: [t] }, { reuse: first })).toThrow(/tier "security" does not exist/);
  });
});
