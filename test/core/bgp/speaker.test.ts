import { describe, expect, test } from "@jest/globals";
import { parseIP, parsePrefix } from "../../../src/core/net/ip.ts";
import { encodeMessage, endOfRibFamily, type Message, MessageType, parseRouterId, type UpdateMessage, WellKnownCommunity } from "../../../src/core/bgp/wire/index.ts";
import type { Connection, Transport } from "../../../src/core/bgp/ports.ts";
import { Speaker } from "../../../src/core/bgp/speaker.ts";
import { Lab, meshPeers, notifications, open, rawPeer } from "./lab.ts";

const allow = { importPolicy: () => true, exportPolicy: () => true };
const updates = (ms: Message[]): UpdateMessage[] => ms.filter((m): m is UpdateMessage => m.type === MessageType.UPDATE);
const v4 = (text: string) => parsePrefix(text);

describe("iBGP full mesh", () => {
  test("four speakers learn each other's prefixes with the originator as next hop", () => {
    const lab = new Lab();
    const all = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"];
    for (const a of all) lab.add(a, { asNumber: 64512, peers: meshPeers(a, all) });
    lab.startAll();
    all.forEach((a, i) => lab.node(a).speaker.originate(`10.1.${i}.0/26`, { blackhole: true }));
    lab.run(2);
    for (const [i, a] of all.entries()) {
      const sink = lab.node(a).sink.table;
      expect(sink.get(`10.1.${i}.0/26`)).toBe("blackhole");
      all.forEach((b, j) => {
        if (j !== i) expect(sink.get(`10.1.${j}.0/26`)).toBe(b);
      });
      const peers = lab.node(a).speaker.peers();
      expect(peers.every((p) => p.state === "Established" && p.prefixesReceived === 1 && p.prefixesSent === 1)).toBe(true);
    }
    const r = lab.node("10.0.0.1").speaker.routes().find((x) => x.prefix === "10.1.1.0/26");
    expect(r).toMatchObject({ nextHop: "10.0.0.2", asPath: "", best: true, peer: "10.0.0.2", localPref: 100, originatorId: null, clusterList: [] });
    // Withdrawal reaches everyone.
    lab.node("10.0.0.2").speaker.withdraw("10.1.1.0/26");
    lab.run(1);
    for (const a of all) expect(lab.node(a).sink.table.has("10.1.1.0/26")).toBe(false);
  });

  test("split horizon: a route learned over iBGP is not passed to another iBGP peer", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.2", asNumber: 64512 }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }, { address: "10.0.0.3", asNumber: 64512 }] });
    lab.add("10.0.0.3", { asNumber: 64512, peers: [{ address: "10.0.0.2", asNumber: 64512 }] });
    lab.startAll();
    lab.node("10.0.0.1").speaker.originate("10.1.0.0/26");
    lab.run(2);
    expect(lab.node("10.0.0.2").sink.table.get("10.1.0.0/26")).toBe("10.0.0.1");
    expect(lab.node("10.0.0.3").sink.table.has("10.1.0.0/26")).toBe(false);
  });
});

describe("route reflection (RFC 4456)", () => {
  // RR 10.0.0.1 (cluster 1.1.1.1); clients .2 .3; non-clients .4 .5 (each peered with the RR only).
  function rrLab(): Lab {
    const lab = new Lab();
    lab.add("10.0.0.1", {
      asNumber: 64512,
      clusterId: "1.1.1.1",
      peers: [
        { address: "10.0.0.2", asNumber: 64512, routeReflectorClient: true },
        { address: "10.0.0.3", asNumber: 64512, routeReflectorClient: true },
        { address: "10.0.0.4", asNumber: 64512 },
        { address: "10.0.0.5", asNumber: 64512 },
      ],
    });
    for (const a of ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]) lab.add(a, { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.run(2);
    return lab;
  }

  test("a client's route goes to all, with ORIGINATOR_ID and CLUSTER_LIST, next hop unchanged", () => {
    const lab = rrLab();
    lab.node("10.0.0.2").speaker.originate("10.2.0.0/26", { attrs: { med: 7 } });
    lab.run(1);
    for (const a of ["10.0.0.3", "10.0.0.4", "10.0.0.5"]) {
      expect(lab.node(a).sink.table.get("10.2.0.0/26")).toBe("10.0.0.2");
      const r = lab.node(a).speaker.bestRoutes().get("10.2.0.0/26");
      expect(r).toMatchObject({ originatorId: "10.0.0.2", clusterList: ["1.1.1.1"], med: 7, localPref: 100, asPath: "" });
    }
    // The originator does not get its own route back.
    expect(lab.node("10.0.0.2").speaker.routes().filter((r) => r.prefix === "10.2.0.0/26")).toHaveLength(1);
  });

  test("a non-client's route goes to clients only", () => {
    const lab = rrLab();
    lab.node("10.0.0.4").speaker.originate("10.4.0.0/26");
    lab.run(1);
    expect(lab.node("10.0.0.2").sink.table.get("10.4.0.0/26")).toBe("10.0.0.4");
    expect(lab.node("10.0.0.3").sink.table.get("10.4.0.0/26")).toBe("10.0.0.4");
    expect(lab.node("10.0.0.5").sink.table.has("10.4.0.0/26")).toBe(false);
    expect(lab.node("10.0.0.1").sink.table.get("10.4.0.0/26")).toBe("10.0.0.4");
  });

  test("loop prevention: own cluster ID in CLUSTER_LIST and own ORIGINATOR_ID are dropped", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, clusterId: "1.1.1.1", peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true, routeReflectorClient: true }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open());
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    const base = { origin: 0, asPath: [], nextHop: parseIP("10.0.0.99"), localPref: 100 };
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.1.0/24")], attrs: { ...base, clusterList: [parseRouterId("2.2.2.2"), parseRouterId("1.1.1.1")] } }));
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.2.0/24")], attrs: { ...base, originatorId: parseRouterId("10.0.0.1") } }));
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.3.0/24")], attrs: { ...base, clusterList: [parseRouterId("2.2.2.2")] } }));
    lab.run(1);
    const sink = lab.node("10.0.0.1").sink.table;
    expect(sink.has("10.9.1.0/24")).toBe(false);
    expect(sink.has("10.9.2.0/24")).toBe(false);
    expect(sink.get("10.9.3.0/24")).toBe("10.0.0.99");
    expect(lab.node("10.0.0.1").speaker.peers()[0]).toMatchObject({ state: "Established", prefixesReceived: 3, prefixesAccepted: 1 });
  });

  test("next-hop-self on the reflector rewrites the next hop towards that client", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", {
      asNumber: 64512,
      peers: [
        { address: "10.0.0.2", asNumber: 64512, routeReflectorClient: true },
        { address: "10.0.0.3", asNumber: 64512, routeReflectorClient: true, nextHopSelf: true },
      ],
    });
    for (const a of ["10.0.0.2", "10.0.0.3"]) lab.add(a, { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.run(2);
    lab.node("10.0.0.2").speaker.originate("10.2.0.0/26");
    lab.run(1);
    expect(lab.node("10.0.0.3").sink.table.get("10.2.0.0/26")).toBe("10.0.0.1");
  });
});

describe("eBGP", () => {
  function chain(policies: boolean): Lab {
    const lab = new Lab();
    const pol = policies ? allow : {};
    lab.add("10.0.0.1", { asNumber: 65001, peers: [{ address: "10.0.0.2", asNumber: 65002, ...pol }] });
    lab.add("10.0.0.2", { asNumber: 65002, peers: [{ address: "10.0.0.1", asNumber: 65001, ...pol }, { address: "10.0.0.3", asNumber: 65003, ...pol }] });
    lab.add("10.0.0.3", { asNumber: 65003, peers: [{ address: "10.0.0.2", asNumber: 65002, ...pol }] });
    lab.startAll();
    lab.run(2);
    return lab;
  }

  test("RFC 8212: without import/export policies nothing crosses an eBGP session", () => {
    const lab = chain(false);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    lab.node("10.0.0.1").speaker.originate("10.1.0.0/24");
    lab.run(1);
    expect(lab.node("10.0.0.2").speaker.routes()).toEqual([]);
    expect(lab.node("10.0.0.1").speaker.peers()[0]?.prefixesSent).toBe(0);
  });

  test("RFC 8212: an import policy alone does not make the other side export", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 65001, peers: [{ address: "10.0.0.2", asNumber: 65002 }] });
    lab.add("10.0.0.2", { asNumber: 65002, peers: [{ address: "10.0.0.1", asNumber: 65001, importPolicy: () => true }] });
    lab.startAll();
    lab.node("10.0.0.1").speaker.originate("10.1.0.0/24");
    lab.run(2);
    expect(lab.node("10.0.0.2").speaker.routes()).toEqual([]);
  });

  test("with policies: AS path prepended, next hop self, LOCAL_PREF not sent, MED not passed on", () => {
    const lab = chain(true);
    lab.node("10.0.0.1").speaker.originate("10.1.0.0/24", { attrs: { med: 50 } });
    lab.run(1);
    expect(lab.node("10.0.0.2").speaker.bestRoutes().get("10.1.0.0/24")).toMatchObject({ asPath: "65001", nextHop: "10.0.0.1", med: 50, localPref: null });
    expect(lab.node("10.0.0.3").speaker.bestRoutes().get("10.1.0.0/24")).toMatchObject({ asPath: "65002 65001", nextHop: "10.0.0.2", med: null });
    expect(lab.node("10.0.0.3").sink.table.get("10.1.0.0/24")).toBe("10.0.0.2");
  });

  test("an export policy sees a learned route without its received MED and may set its own (RFC 4271 §5.1.4)", () => {
    const seen: (number | undefined)[] = [];
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 65001, peers: [{ address: "10.0.0.2", asNumber: 65002, ...allow }] });
    lab.add("10.0.0.2", {
      asNumber: 65002,
      peers: [
        { address: "10.0.0.1", asNumber: 65001, ...allow },
        {
          address: "10.0.0.3",
          asNumber: 65003,
          importPolicy: () => true,
          exportPolicy: (r) => {
            seen.push(r.attrs.med);
            // Our own MED on one prefix; a changed copy without one (a community added) on the other.
            return r.prefix.len === 24 ? { ...r.attrs, med: 30 } : { ...r.attrs, communities: [65002 * 65536 + 1] };
          },
        },
      ],
    });
    lab.add("10.0.0.3", { asNumber: 65003, peers: [{ address: "10.0.0.2", asNumber: 65002, ...allow }] });
    lab.startAll();
    lab.run(2);
    lab.node("10.0.0.1").speaker.originate("10.1.0.0/24", { attrs: { med: 50 } });
    lab.node("10.0.0.1").speaker.originate("10.1.1.0/25", { attrs: { med: 50 } });
    lab.run(1);
    expect(lab.node("10.0.0.2").speaker.bestRoutes().get("10.1.0.0/24")).toMatchObject({ med: 50 });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((m) => m === undefined)).toBe(true);
    expect(lab.node("10.0.0.3").speaker.bestRoutes().get("10.1.0.0/24")).toMatchObject({ asPath: "65002 65001", med: 30 });
    expect(lab.node("10.0.0.3").speaker.bestRoutes().get("10.1.1.0/25")).toMatchObject({ asPath: "65002 65001", med: null });
  });

  test("NO_EXPORT stays inside the receiving AS; NO_ADVERTISE goes to no peer at all", () => {
    // 65001: .1 -> 65002: .2 (iBGP with .4) -> 65003: .3. AS 65001 tags routes on export.
    for (const community of [WellKnownCommunity.NO_EXPORT, WellKnownCommunity.NO_ADVERTISE]) {
      const lab = new Lab();
      const tag = (r: { prefix: { len: number }; attrs: object }) => (r.prefix.len === 24 ? { ...r.attrs, communities: [community] } : true);
      lab.add("10.0.0.1", { asNumber: 65001, peers: [{ address: "10.0.0.2", asNumber: 65002, importPolicy: () => true, exportPolicy: tag }] });
      lab.add("10.0.0.2", {
        asNumber: 65002,
        peers: [{ address: "10.0.0.1", asNumber: 65001, ...allow }, { address: "10.0.0.3", asNumber: 65003, ...allow }, { address: "10.0.0.4", asNumber: 65002 }],
      });
      lab.add("10.0.0.3", { asNumber: 65003, peers: [{ address: "10.0.0.2", asNumber: 65002, ...allow }] });
      lab.add("10.0.0.4", { asNumber: 65002, peers: [{ address: "10.0.0.2", asNumber: 65002 }] });
      lab.startAll();
      lab.node("10.0.0.1").speaker.originate("10.1.0.0/24");
      lab.node("10.0.0.1").speaker.originate("10.1.1.0/25");
      lab.run(2);
      expect(lab.node("10.0.0.2").sink.table.get("10.1.0.0/24")).toBe("10.0.0.1");
      expect(lab.node("10.0.0.2").speaker.bestRoutes().get("10.1.0.0/24")?.communities).toEqual([community === WellKnownCommunity.NO_EXPORT ? "65535:65281" : "65535:65282"]);
      expect(lab.node("10.0.0.3").sink.table.has("10.1.0.0/24")).toBe(false);
      expect(lab.node("10.0.0.3").sink.table.get("10.1.1.0/25")).toBe("10.0.0.2");
      expect(lab.node("10.0.0.4").sink.table.get("10.1.1.0/25")).toBe("10.0.0.1");
      expect(lab.node("10.0.0.4").sink.table.has("10.1.0.0/24")).toBe(community === WellKnownCommunity.NO_EXPORT);
    }
  });

  test("a path containing our own AS is dropped (loop)", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 65001, peers: [{ address: "10.0.0.99", asNumber: 65099, passive: true, ...allow }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open({ myAs: 65099, capabilities: [{ kind: "four-octet-as", asn: 65099 }] }));
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    const attrs = (path: number[]) => ({ origin: 0, asPath: [{ type: 2 as const, asns: path }], nextHop: parseIP("10.0.0.99") });
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.1.0/24")], attrs: attrs([65099, 65001]) }));
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.2.0/24")], attrs: attrs([65050]) }));
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.3.0/24")], attrs: attrs([65099]) }));
    lab.run(1);
    expect([...lab.node("10.0.0.1").sink.table.keys()]).toEqual(["10.9.3.0/24"]);
  });

  test("RFC 6793: towards a 2-octet-only peer the path carries AS_TRANS plus AS4_PATH", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 4200000001, peers: [{ address: "10.0.0.99", asNumber: 65099, passive: true, ...allow }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1", { fourOctetAs: false });
    p.conn.send(open({ myAs: 65099, capabilities: [] }));
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.node("10.0.0.1").speaker.originate("10.1.0.0/24");
    lab.run(1);
    const u = updates(p.got).find((m) => m.nlri.length);
    expect(u?.attrs.asPath).toEqual([{ type: 2, asns: [23456] }]);
    expect(u?.attrs.as4Path).toEqual([{ type: 2, asns: [4200000001] }]);
    // And an OLD speaker's AS_TRANS path is rebuilt from its AS4_PATH.
    p.conn.send(
      encodeMessage(
        { type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.0.0/24")], attrs: { origin: 0, asPath: [{ type: 2, asns: [65099, 23456] }], as4Path: [{ type: 2, asns: [4200000002] }], nextHop: parseIP("10.0.0.99") } },
        { fourOctetAs: false },
      ),
    );
    lab.run(1);
    expect(lab.node("10.0.0.1").speaker.bestRoutes().get("10.9.0.0/24")?.asPath).toBe("65099 4200000002");
  });
});

describe("UPDATE handling", () => {
  function established(lab: Lab, extra: object = {}) {
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true, ...extra }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open());
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.run(1);
    return p;
  }
  const ann = (prefixes: string[], extra: object = {}) =>
    encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: prefixes.map(v4), attrs: { origin: 0, asPath: [], nextHop: parseIP("10.0.0.99"), localPref: 100, ...extra } });

  test("the initial table is followed by End-of-RIB; ROUTE-REFRESH gets the table again", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true }] });
    lab.node("10.0.0.1").speaker.originate("10.1.0.0/26");
    lab.node("10.0.0.1").speaker.originate("10.1.0.64/26");
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open());
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.run(1);
    const us = updates(p.got);
    expect(us.map((u) => (endOfRibFamily(u) ? "EoR" : u.nlri.length))).toEqual([2, "EoR"]);
    p.conn.send(encodeMessage({ type: MessageType.ROUTE_REFRESH, afi: 1, safi: 1, subtype: 0 }));
    lab.run(1);
    expect(updates(p.got).map((u) => (endOfRibFamily(u) ? "EoR" : u.nlri.length))).toEqual([2, "EoR", 2, "EoR"]);
  });

  test("a new import policy is applied to everything after a ROUTE-REFRESH to the peers", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, importPolicy: (r) => r.prefix.len === 26, peers: [{ address: "10.0.0.2", asNumber: 64512 }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.node("10.0.0.2").speaker.originate("10.2.0.0/26");
    lab.node("10.0.0.2").speaker.originate("10.2.1.0/24");
    lab.run(2);
    const a = lab.node("10.0.0.1");
    expect([...a.sink.table.keys()]).toEqual(["10.2.0.0/26"]);
    expect(a.speaker.peers()[0]).toMatchObject({ prefixesReceived: 2, prefixesAccepted: 1 });
    a.speaker.setImportPolicy((r) => r.prefix.len === 24);
    lab.run(1);
    expect([...a.sink.table.keys()]).toEqual(["10.2.1.0/24"]);
    expect(a.speaker.refresh("10.0.0.9")).toBe(false);
  });

  test("RFC 7606 treat-as-withdraw: a malformed attribute withdraws the prefixes, the session stays", () => {
    const lab = new Lab();
    const p = established(lab);
    p.conn.send(ann(["10.9.0.0/24", "10.9.1.0/24"]));
    lab.run(1);
    expect(lab.node("10.0.0.1").sink.table.size).toBe(2);
    // ORIGIN value 7 is invalid: 3/6 as treat-as-withdraw. Encode ORIGIN 2, then patch the value.
    const bytes = ann(["10.9.0.0/24"], { origin: 2 });
    const at = bytes.findIndex((b, i) => b === 0x40 && bytes[i + 1] === 1 && bytes[i + 2] === 1 && bytes[i + 3] === 2);
    bytes[at + 3] = 7;
    p.conn.send(bytes);
    lab.run(1);
    expect([...lab.node("10.0.0.1").sink.table.keys()]).toEqual(["10.9.1.0/24"]);
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Established");
    expect(notifications(p.got)).toEqual([]);
  });

  test("max-prefix: exceeding the limit closes with Cease/1 carrying AFI, SAFI and the limit", () => {
    const lab = new Lab();
    const p = established(lab, { maxPrefixes: 2 });
    p.conn.send(ann(["10.9.0.0/24", "10.9.1.0/24"]));
    lab.run(1);
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Established");
    p.conn.send(ann(["10.9.2.0/24"]));
    lab.run(1);
    const n = p.got.find((m) => m.type === MessageType.NOTIFICATION);
    expect(n).toMatchObject({ code: 6, subcode: 1, data: Uint8Array.of(0, 1, 1, 0, 0, 0, 2) });
    expect(lab.node("10.0.0.1").sink.table.size).toBe(0);
    lab.run(60);
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Idle");
  });

  test("the decision process picks the higher LOCAL_PREF, then the shorter path, between two peers", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.98", asNumber: 64512, passive: true }, { address: "10.0.0.99", asNumber: 64512, passive: true }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    const q = rawPeer(lab, "10.0.0.98", "10.0.0.1");
    p.conn.send(open());
    q.conn.send(open({ bgpId: 0x0a000062 }));
    for (const x of [p, q]) x.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.run(1);
    const nh = (a: string) => ({ nextHop: parseIP(a) });
    p.conn.send(ann(["10.9.0.0/24"], { localPref: 200, asPath: [{ type: 2, asns: [1, 2, 3] }], ...nh("10.0.0.99") }));
    q.conn.send(ann(["10.9.0.0/24"], { localPref: 100, ...nh("10.0.0.98") }));
    lab.run(1);
    expect(lab.node("10.0.0.1").sink.table.get("10.9.0.0/24")).toBe("10.0.0.99");
    p.conn.send(ann(["10.9.0.0/24"], { localPref: 100, asPath: [{ type: 2, asns: [1, 2, 3] }], ...nh("10.0.0.99") }));
    lab.run(1);
    expect(lab.node("10.0.0.1").sink.table.get("10.9.0.0/24")).toBe("10.0.0.98");
    const routes = lab.node("10.0.0.1").speaker.routes();
    expect(routes.map((r) => [r.peer, r.best])).toEqual([
      ["10.0.0.98", true],
      ["10.0.0.99", false],
    ]);
  });
});

describe("IPv6", () => {
  test("MP-BGP IPv6 unicast between two IPv6 speakers, with the IPv6 next hop", () => {
    const lab = new Lab();
    lab.add("fd00::1", { asNumber: 64512, peers: [{ address: "fd00::2", asNumber: 64512 }] });
    lab.add("fd00::2", { asNumber: 64512, peers: [{ address: "fd00::1", asNumber: 64512 }] });
    lab.startAll();
    lab.node("fd00::1").speaker.originate("fd10:1::/122", { blackhole: true });
    lab.run(2);
    expect(lab.state("fd00::2", "fd00::1")).toBe("Established");
    expect(lab.node("fd00::2").sink.table.get("fd10:1::/122")).toBe("fd00::1");
    expect(lab.node("fd00::1").sink.table.get("fd10:1::/122")).toBe("blackhole");
    lab.node("fd00::1").speaker.withdraw("fd10:1::/122");
    lab.run(1);
    expect(lab.node("fd00::2").sink.table.size).toBe(0);
    expect(lab.node("fd00::1").sink.table.size).toBe(0);
  });
});

describe("addresses from dual-stack sockets", () => {
  test("an IPv4 peer reported as ::ffff:a.b.c.d is matched, and next hop self is its IPv4 form", () => {
    const lab = new Lab();
    const b = lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    // A transport that reports addresses the way node:net does on a "::" listener.
    const inner = lab.net.transport("10.0.0.1");
    const mapped = (c: Connection): Connection =>
      new Proxy(c, {
        get: (t, k) => {
          const v: unknown = Reflect.get(t, k);
          if (k === "remoteAddress" || k === "localAddress") return `::ffff:${String(v)}`;
          return typeof v === "function" ? v.bind(t) : v;
        },
      });
    const transport: Transport = { connect: inner.connect, listen: (_addr, port, cb) => inner.listen("0.0.0.0", port, (c) => cb(mapped(c))) };
    const a = new Speaker(
      { asNumber: 64512, routerId: "10.0.0.1", listen: { address: "::" }, peers: [{ address: "10.0.0.2", asNumber: 64512, passive: true }] },
      { clock: lab.clock, transport },
    );
    a.start();
    a.originate("10.1.0.0/26");
    b.speaker.start();
    lab.run(2);
    expect(a.peers()[0]?.state).toBe("Established");
    expect(b.sink.table.get("10.1.0.0/26")).toBe("10.0.0.1");
  });
});

describe("attributes too big to pass on", () => {
  test("a path whose attributes cannot fit an UPDATE is kept locally, not sent on, and nobody is dropped", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", {
      asNumber: 64512,
      peers: [
        { address: "10.0.0.99", asNumber: 64512, passive: true, routeReflectorClient: true },
        { address: "10.0.0.2", asNumber: 64512, routeReflectorClient: true },
      ],
    });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open());
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.run(1);
    // 1010 communities (4040 octets) fit the peer's UPDATE; the reflector's CLUSTER_LIST and
    // ORIGINATOR_ID push the reflected copy past 4096 octets.
    const communities = Array.from({ length: 1010 }, (_, i) => 0x10000 + i);
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.0.0/24")], attrs: { origin: 0, asPath: [], nextHop: parseIP("10.0.0.99"), communities } }));
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], nlri: [v4("10.9.1.0/24")], attrs: { origin: 0, asPath: [], nextHop: parseIP("10.0.0.99") } }));
    lab.run(1);
    expect(lab.node("10.0.0.1").sink.table.get("10.9.0.0/24")).toBe("10.0.0.99");
    expect(lab.node("10.0.0.1").logs.join("\n")).toContain("cannot send 1 prefixes");
    expect([...lab.node("10.0.0.2").sink.table.keys()]).toEqual(["10.9.1.0/24"]);
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Established");
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
  });
});

describe("export work shared across peers in one flush", () => {
  test("a reflected route reaches each client in its own form: next-hop-self for one, unchanged for another, never back to its source", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", {
      asNumber: 64512,
      clusterId: "1.1.1.1",
      peers: [
        { address: "10.0.0.2", asNumber: 64512, routeReflectorClient: true, nextHopSelf: true },
        { address: "10.0.0.3", asNumber: 64512, routeReflectorClient: true },
        { address: "10.0.0.4", asNumber: 64512, routeReflectorClient: true },
        { address: "10.0.0.5", asNumber: 64512, routeReflectorClient: true },
      ],
    });
    for (const c of ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]) lab.add(c, { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.run(2);
    lab.node("10.0.0.4").speaker.originate("10.4.0.0/26");
    lab.node("10.0.0.4").speaker.originate("10.4.0.64/26");
    lab.run(1);
    expect(lab.node("10.0.0.2").sink.table.get("10.4.0.0/26")).toBe("10.0.0.1");
    expect(lab.node("10.0.0.3").sink.table.get("10.4.0.0/26")).toBe("10.0.0.4");
    expect(lab.node("10.0.0.5").sink.table.get("10.4.0.64/26")).toBe("10.0.0.4");
    const r = lab.node("10.0.0.5").speaker.routes().find((x) => x.prefix === "10.4.0.0/26");
    expect(r).toMatchObject({ originatorId: "10.0.0.4", clusterList: ["1.1.1.1"] });
    expect(lab.node("10.0.0.4").speaker.routes().filter((x) => x.peer !== "local")).toEqual([]);
    // Withdrawn from all of them, again in one flush.
    lab.node("10.0.0.4").speaker.withdraw("10.4.0.0/26");
    lab.run(1);
    for (const c of ["10.0.0.2", "10.0.0.3", "10.0.0.5"]) expect(lab.node(c).sink.table.has("10.4.0.0/26")).toBe(false);
    expect(lab.node("10.0.0.3").sink.table.get("10.4.0.64/26")).toBe("10.0.0.4");
  });
});

describe("received paths shared across UPDATEs", () => {
  test("single-prefix UPDATEs with equal attributes share one Path; a different MED gets its own; a new session starts afresh", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, clusterId: "1.1.1.1", peers: [{ address: "10.0.0.2", asNumber: 64512, routeReflectorClient: true }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.run(2);
    const b = lab.node("10.0.0.2").speaker;
    for (const p of ["10.2.0.0/26", "10.2.0.64/26", "10.2.0.128/26"]) {
      b.originate(p); // one UPDATE each
      lab.run(1);
    }
    b.originate("10.2.1.0/26", { attrs: { med: 5 } });
    lab.run(1);
    type Entry = { paths: unknown };
    const loc = (lab.node("10.0.0.1").speaker as unknown as { loc: { values(): Iterable<Entry> } }).loc;
    const paths = [...loc.values()].map((e) => e.paths);
    expect(paths).toHaveLength(4);
    expect(new Set(paths).size).toBe(2);
    expect(lab.node("10.0.0.1").speaker.routes().find((r) => r.prefix === "10.2.1.0/26")?.med).toBe(5);
    expect(lab.node("10.0.0.1").speaker.routes().find((r) => r.prefix === "10.2.0.64/26")?.med).toBeNull();
    // After a reset the same announcements make new Paths (the old ones may be stale).
    lab.node("10.0.0.1").speaker.session("10.0.0.2")!.stop(undefined, "reset", true);
    lab.run(10);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    const again = [...loc.values()].map((e) => e.paths);
    expect(again).toHaveLength(4);
    expect(again.some((p) => paths.includes(p))).toBe(false);
  });
});
