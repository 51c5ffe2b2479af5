// The standalone speaker's policy language: config parsing (errors at file:line:col), the filter
// semantics of compilePolicy, the policy in force per peer with RFC 8212 warnings, and the compiled
// policies on two core speakers over the loopback network (eBGP).
import { describe, expect, test } from "@jest/globals";
import type { RouteView } from "../../../src/core/bgp/index.ts";
import type { PathAttributes } from "../../../src/core/bgp/wire/index.ts";
import { parseIP, parsePrefix } from "../../../src/core/net/ip.ts";
import { formatProblems } from "../../../src/core/model/problems.ts";
import { loadDaemonConfig, parseDaemonConfig, type PolicySpec } from "../../../real/bgp/daemon-config.ts";
import { compilePolicy, corePolicies, effectivePolicy, parseCommunity, rfc8212Warnings } from "../../../real/bgp/daemon-policy.ts";
import { SpeakerDaemon, toPeerConfig, type ControlPeer } from "../../../real/bgp/daemon.ts";
import { Lab } from "../../core/bgp/lab.ts";

const errors = (text: string): string[] => parseDaemonConfig(text, "s.yaml").problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
const base = "asNumber: 64512\nrouterId: 192.0.2.1\n";

/** A policy spec parsed from YAML (so the tests exercise the schema too). */
function spec(yaml: string): PolicySpec {
  const c = loadDaemonConfig(`${base}import: ${yaml}\n`, "s.yaml");
  return c.import!;
}

const peer = { address: "192.0.2.2", asNumber: 64513 };
const route = (prefix: string, attrs: PathAttributes = {}): RouteView => ({
  prefix: parsePrefix(prefix),
  attrs,
  nextHops: [parseIP("192.0.2.2")],
  source: { kind: "ebgp", address: "192.0.2.2", addressValue: parseIP("192.0.2.2").value, peerAs: 64513, bgpId: 0, rrClient: false },
  blackhole: false,
});
const c = (text: string): number => parseCommunity(text)!;

describe("policy config", () => {
  test("all forms parse: all, none, one rule, a list of rules, per peer and speaker-wide", () => {
    const cfg = loadDaemonConfig(
      `${base}import: all
export:
  - { prefixes: [10.0.0.0/8], action: reject }
  - prefixes:
      - 10.1.0.0/16
      - { prefix: 172.16.0.0/12, ge: 24, le: 28 }
      - { prefix: "2001:db8::/32", le: 48 }
    communities: ["65000:1", no-export]
    set: { localPref: 200, med: 10, communities: { add: ["65000:100"], remove: ["65000:1"] } }
peers:
  - { address: 192.0.2.2, asNumber: 64513, import: none, export: { prefixes: [{ prefix: 10.2.0.0/16, ge: 24 }] } }
  - { address: 192.0.2.3, asNumber: 64512 }
`,
      "s.yaml",
    );
    expect(cfg.import).toBe("all");
    expect(cfg.export).toHaveLength(2);
    expect(cfg.peers[0]?.import).toBe("none");
    expect(cfg.peers[0]?.export).toEqual({ prefixes: [{ prefix: "10.2.0.0/16", ge: 24 }] });
    expect(cfg.peers[1]?.import).toBeUndefined();
  });

  test("bad policies are reported at file:line:col, naming the field and what was expected", () => {
    const text = `${base}import: allow
export:
  prefixes:
    - 10.0.0.1/8
    - { prefix: 10.0.0.0/16, ge: 8 }
    - { prefix: 10.0.0.0/16, ge: 28, le: 24 }
    - { prefix: "2001:db8::/32", le: 129 }
  communities: ["65536:1", "x"]
  set: { localPref: -1, bogus: 1 }
peers:
  - { address: 192.0.2.2, asNumber: 64513, import: [], export: { action: reject, set: { med: 1 } } }
  - { address: 192.0.2.3, asNumber: 64513, import: { prefixes: [10.0.0.0/8], colour: red } }
`;
    expect(errors(text)).toEqual([
      '3:9: import: expected all, none, a filter rule (mapping) or a list of rules, got string "allow"',
      "6:7: export.prefixes[0]: expected a prefix such as 10.1.0.0/26 (no host bits set)",
      "7:34: export.prefixes[1].ge: ge must be between the prefix length 16 and 32",
      "8:42: export.prefixes[2].le: le 24 is less than ge 28",
      "9:38: export.prefixes[3].le: Too big: expected number to be <=128",
      expect.stringMatching(/^10:17: export\.communities\[0\]: expected a community such as 65000:100 \(each half 0-65535\) or a well-known name/),
      expect.stringMatching(/^10:28: export\.communities\[1\]: expected a community/),
      "11:21: export.set.localPref: Too small: expected number to be >=0",
      "11:25: export.set.bogus: unknown field",
      "13:52: peers[0].import: Too small: expected array to have >=1 items",
      "13:87: peers[0].export.set: set has no effect on a rule with action: reject",
      "14:78: peers[1].import.colour: unknown field",
    ]);
  });

  test("a bad policy is an InputError (exit 2) with every problem formatted as file:line:col", () => {
    let err: unknown;
    try {
      loadDaemonConfig(`${base}peers:\n  - { address: 192.0.2.2, asNumber: 64513, import: { prefixes: [10.0.0.0/33] } }\n`, "cfg.yaml");
    } catch (e) {
      err = e;
    }
    expect((err as { problems?: unknown }).problems).toBeDefined();
    expect(formatProblems((err as { problems: Parameters<typeof formatProblems>[0] }).problems)).toMatch(/^cfg\.yaml:4:65: peers\[0\]\.import\.prefixes\[0\]: expected a prefix/);
  });
});

describe("filter semantics", () => {
  test("all accepts and none rejects everything", () => {
    expect(compilePolicy("all")(route("10.0.0.0/8"), peer)).toBe(true);
    expect(compilePolicy("none")(route("10.0.0.0/8"), peer)).toBe(false);
  });

  test("prefix lists: exact, ge only (up to the host length), le only, ge and le; IPv4 and IPv6; unmatched is rejected", () => {
    const p = compilePolicy(
      spec(`{ prefixes: [10.0.0.0/8, { prefix: 172.16.0.0/12, ge: 24 }, { prefix: 192.168.0.0/16, le: 20 }, { prefix: 100.64.0.0/10, ge: 20, le: 22 }, { prefix: "2001:db8::/32", ge: 48, le: 64 }] }`),
    );
    const cases: [string, boolean][] = [
      ["10.0.0.0/8", true],
      ["10.0.0.0/9", false], // exact entry: longer prefixes inside do not match
      ["11.0.0.0/8", false],
      ["172.16.0.0/12", false], // ge 24: the /12 itself is shorter
      ["172.16.5.0/24", true],
      ["172.31.255.255/32", true],
      ["172.32.0.0/24", false], // outside the /12
      ["192.168.0.0/16", true],
      ["192.168.16.0/20", true],
      ["192.168.16.0/21", false],
      ["100.64.0.0/19", false],
      ["100.127.252.0/22", true],
      ["100.64.0.0/23", false],
      ["2001:db8:1::/48", true],
      ["2001:db8:1:2::/64", true],
      ["2001:db8::/32", false],
      ["2001:db8:1:2::/65", false],
      ["2001:db9::/48", false],
      ["::/0", false],
    ];
    expect(cases.map(([pfx]) => [pfx, p(route(pfx), peer)])).toEqual(cases);
  });

  test("a prefix list does not match the other family", () => {
    const p = compilePolicy(spec(`{ prefixes: [{ prefix: 0.0.0.0/0, le: 32 }] }`));
    expect(p(route("10.1.0.0/24"), peer)).toBe(true);
    expect(p(route("2001:db8::/48"), peer)).toBe(false);
  });

  test("communities: the route must carry at least one of them (well-known names too)", () => {
    const p = compilePolicy(spec(`{ communities: ["65000:1", no-export] }`));
    expect(p(route("10.0.0.0/8", { communities: [c("65000:2"), c("65000:1")] }), peer)).toBe(true);
    expect(p(route("10.0.0.0/8", { communities: [0xffffff01] }), peer)).toBe(true);
    expect(p(route("10.0.0.0/8", { communities: [c("65000:2")] }), peer)).toBe(false);
    expect(p(route("10.0.0.0/8"), peer)).toBe(false);
  });

  test("both conditions must hold", () => {
    const p = compilePolicy(spec(`{ prefixes: [{ prefix: 10.0.0.0/8, le: 32 }], communities: ["65000:1"] }`));
    expect(p(route("10.1.0.0/16", { communities: [c("65000:1")] }), peer)).toBe(true);
    expect(p(route("10.1.0.0/16"), peer)).toBe(false);
    expect(p(route("11.0.0.0/16", { communities: [c("65000:1")] }), peer)).toBe(false);
  });

  test("rules in order, the first match decides: reject inside, accept the rest of a range, reject anything else", () => {
    const p = compilePolicy(spec(`[{ prefixes: [{ prefix: 10.66.0.0/16, le: 32 }], action: reject }, { prefixes: [{ prefix: 10.0.0.0/8, le: 24 }] }]`));
    expect(p(route("10.66.1.0/24"), peer)).toBe(false);
    expect(p(route("10.65.1.0/24"), peer)).toBe(true);
    expect(p(route("10.65.1.0/25"), peer)).toBe(false);
    expect(p(route("192.0.2.0/24"), peer)).toBe(false);
    // A rule without conditions matches everything: "reject these, accept the rest".
    const q = compilePolicy(spec(`[{ communities: [no-export], action: reject }, {}]`));
    expect(q(route("192.0.2.0/24"), peer)).toBe(true);
    expect(q(route("192.0.2.0/24", { communities: [0xffffff01] }), peer)).toBe(false);
  });

  test("set: LOCAL_PREF, MED, communities added (once) and removed, on a copy of the attributes", () => {
    const p = compilePolicy(spec(`{ set: { localPref: 200, med: 7, communities: { add: ["65000:100", "65000:2"], remove: ["65000:1"] } } }`));
    const attrs: PathAttributes = { origin: 0, communities: [c("65000:1"), c("65000:2")] };
    const r = p(route("10.0.0.0/8", attrs), peer);
    expect(r).toEqual({ origin: 0, localPref: 200, med: 7, communities: [c("65000:2"), c("65000:100")] });
    expect(attrs).toEqual({ origin: 0, communities: [c("65000:1"), c("65000:2")] }); // untouched: shared by the UPDATE's prefixes
    // The prefixes of one UPDATE share their attributes object, and share the result too.
    expect(p(route("10.1.0.0/16", attrs), peer)).toBe(r);
    expect(p(route("10.1.0.0/16", { ...attrs }), peer)).not.toBe(r);
    // Removing the only community leaves no COMMUNITIES attribute.
    const rm = compilePolicy(spec(`{ set: { communities: { remove: ["65000:1"] } } }`));
    expect(rm(route("10.0.0.0/8", { communities: [c("65000:1")] }), peer)).toEqual({});
    // A rule without set accepts the attributes as they are (true: the speaker keeps sharing them).
    expect(compilePolicy(spec(`{ set: {} }`))(route("10.0.0.0/8"), peer)).toBe(true);
  });

  test("communities: AS:value halves up to 65535, names case-insensitive", () => {
    expect(parseCommunity("65535:65535")).toBe(0xffffffff);
    expect(parseCommunity("0:0")).toBe(0);
    expect(parseCommunity("65536:0")).toBeUndefined();
    expect(parseCommunity("1:2:3")).toBeUndefined();
    expect(parseCommunity("NO-ADVERTISE")).toBe(0xffffff02);
  });
});

describe("policy in force per peer", () => {
  const cfg = (extra: string): ReturnType<typeof loadDaemonConfig> =>
    loadDaemonConfig(`${base}${extra}peers:\n  - { address: 192.0.2.2, asNumber: 64513 }\n  - { address: 192.0.2.3, asNumber: 64512 }\n  - { address: "2001:db8::4", asNumber: 64514, import: all }\n`, "s.yaml");

  test("without policies: iBGP all, eBGP RFC 8212 deny with one warning per peer and direction", () => {
    const c0 = cfg("");
    expect(c0.peers.map((p) => [effectivePolicy(c0, p, "import"), effectivePolicy(c0, p, "export")])).toEqual([
      ["rfc8212-deny", "rfc8212-deny"],
      ["all", "all"],
      ["all", "rfc8212-deny"],
    ]);
    expect(rfc8212Warnings(c0)).toEqual([
      "warning: eBGP peer 192.0.2.2 (AS 64513) has no import policy: RFC 8212 denies all routes from it; set import: all (or a filter) to accept",
      "warning: eBGP peer 192.0.2.2 (AS 64513) has no export policy: RFC 8212 sends it no routes; set export: all (or a filter) to announce",
      "warning: eBGP peer 2001:db8::4 (AS 64514) has no export policy: RFC 8212 sends it no routes; set export: all (or a filter) to announce",
    ]);
  });

  test("a speaker-wide policy applies to every peer without its own (iBGP too); a peer's own wins", () => {
    const c1 = cfg("import: none\nexport: { prefixes: [10.0.0.0/8] }\n");
    expect(c1.peers.map((p) => [effectivePolicy(c1, p, "import"), effectivePolicy(c1, p, "export")])).toEqual([
      ["none", "filter"],
      ["none", "filter"],
      ["all", "filter"],
    ]);
    expect(rfc8212Warnings(c1)).toEqual([]);
    expect(Object.keys(corePolicies(c1)).sort()).toEqual(["exportPolicy", "importPolicy"]);
    expect(corePolicies(cfg(""))).toEqual({});
    expect(Object.keys(toPeerConfig(c1.peers[2]!))).toContain("importPolicy");
    expect(Object.keys(toPeerConfig(c1.peers[0]!))).not.toContain("importPolicy");
  });
});

describe("compiled policies on two eBGP speakers (core Speaker, loopback network)", () => {
  /** AS 65001 (.1) originates; AS 65002 (.2) receives. Each side's config is a daemon config. */
  function pair(sender: string, receiver: string): Lab {
    const lab = new Lab();
    for (const [me, as, other, otherAs, extra] of [
      ["10.0.0.1", 65001, "10.0.0.2", 65002, sender],
      ["10.0.0.2", 65002, "10.0.0.1", 65001, receiver],
    ] as const) {
      const cfg = loadDaemonConfig(`asNumber: ${as}\nrouterId: ${me}\n${extra}peers:\n  - { address: ${other}, asNumber: ${otherAs} }\n`, "s.yaml");
      lab.add(me, { asNumber: as, routerId: me, ...corePolicies(cfg), peers: cfg.peers.map(toPeerConfig) });
    }
    lab.startAll();
    lab.run(2);
    for (const p of ["10.1.0.0/16", "10.1.1.0/24", "10.1.2.0/25", "10.2.0.0/24"]) lab.node("10.0.0.1").speaker.originate(p);
    lab.run(2);
    return lab;
  }
  const received = (lab: Lab): string[] => [...lab.node("10.0.0.2").sink.table.keys()].sort();

  test("no policy on either side: Established, but nothing crosses (RFC 8212)", () => {
    const lab = pair("", "");
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(received(lab)).toEqual([]);
    expect(lab.node("10.0.0.1").speaker.peers()[0]?.prefixesSent).toBe(0);
  });

  test("export: all without import on the receiver: sent, but not accepted", () => {
    const lab = pair("export: all\n", "");
    expect(lab.node("10.0.0.1").speaker.peers()[0]?.prefixesSent).toBe(4);
    expect(lab.node("10.0.0.2").speaker.peers()[0]).toMatchObject({ prefixesReceived: 4, prefixesAccepted: 0 });
    expect(received(lab)).toEqual([]);
  });

  test("export: all and import: all: every prefix arrives", () => {
    expect(received(pair("export: all\n", "import: all\n"))).toEqual(["10.1.0.0/16", "10.1.1.0/24", "10.1.2.0/25", "10.2.0.0/24"]);
  });

  test("a prefix-list import filter lets through exactly the matching prefixes, with its LOCAL_PREF and community", () => {
    const lab = pair("export: all\n", "import: { prefixes: [{ prefix: 10.1.0.0/16, ge: 24, le: 24 }], set: { localPref: 300, communities: { add: ['65002:7'] } } }\n");
    expect(received(lab)).toEqual(["10.1.1.0/24"]);
    expect(lab.node("10.0.0.2").speaker.bestRoutes().get("10.1.1.0/24")).toMatchObject({ localPref: 300, communities: ["65002:7"] });
  });

  test("a per-peer export filter on the sender: only what it lets out is sent", () => {
    const lab = new Lab();
    const a = loadDaemonConfig("asNumber: 65001\nrouterId: 10.0.0.1\npeers:\n  - { address: 10.0.0.2, asNumber: 65002, export: { prefixes: [10.2.0.0/24, 10.1.2.0/25] } }\n", "a.yaml");
    const b = loadDaemonConfig("asNumber: 65002\nrouterId: 10.0.0.2\nimport: all\npeers:\n  - { address: 10.0.0.1, asNumber: 65001 }\n", "b.yaml");
    lab.add("10.0.0.1", { asNumber: 65001, routerId: "10.0.0.1", ...corePolicies(a), peers: a.peers.map(toPeerConfig) });
    lab.add("10.0.0.2", { asNumber: 65002, routerId: "10.0.0.2", ...corePolicies(b), peers: b.peers.map(toPeerConfig) });
    lab.startAll();
    lab.run(2);
    for (const p of ["10.1.0.0/16", "10.1.2.0/25", "10.2.0.0/24"]) lab.node("10.0.0.1").speaker.originate(p);
    lab.run(2);
    expect(lab.node("10.0.0.1").speaker.peers()[0]?.prefixesSent).toBe(2);
    expect([...lab.node("10.0.0.2").sink.table.keys()].sort()).toEqual(["10.1.2.0/25", "10.2.0.0/24"]);
  });
});

describe("SpeakerDaemon", () => {
  test("start() logs the RFC 8212 warnings; the peers answer carries the policy in force", async () => {
    // Peers on a port nobody listens on: the sessions stay down, which is all this needs.
    const cfg = loadDaemonConfig(
      `${base}peers:
  - { address: 127.0.0.1, asNumber: 64513, port: 9, connectRetryTime: 60 }
  - { address: 127.0.0.2, asNumber: 64512, port: 9, connectRetryTime: 60 }
  - { address: 127.0.0.3, asNumber: 64514, port: 9, connectRetryTime: 60, import: { prefixes: [10.0.0.0/8] }, export: none }
`,
      "s.yaml",
    );
    const lines: string[] = [];
    const d = new SpeakerDaemon(cfg, { log: (l) => lines.push(l) });
    try {
      await d.start();
      expect(lines.filter((l) => l.includes("RFC 8212"))).toEqual([
        "warning: eBGP peer 127.0.0.1 (AS 64513) has no import policy: RFC 8212 denies all routes from it; set import: all (or a filter) to accept",
        "warning: eBGP peer 127.0.0.1 (AS 64513) has no export policy: RFC 8212 sends it no routes; set export: all (or a filter) to announce",
      ]);
      const peers = (d.answer("peers") as { peers: ControlPeer[] }).peers;
      expect(peers.map((p) => [p.address, p.import, p.export])).toEqual([
        ["127.0.0.1", "rfc8212-deny", "rfc8212-deny"],
        ["127.0.0.2", "all", "all"],
        ["127.0.0.3", "filter", "none"],
      ]);
    } finally {
      await d.stop();
    }
  });
});
