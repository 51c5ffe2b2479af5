// The encoder checked by a decoder we did not write: messages we encode are written to a pcap and
// read back by tshark, which must see no malformed packet and exactly the values we put in.
import { describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseIP, parsePrefix } from "../../../../src/core/net/ip.ts";
import { encodeMessage, endOfRib, type Message, MessageType, type PathAttributes, toOldSpeaker } from "../../../../src/core/bgp/wire/index.ts";
import { tcpStreamPcap } from "../../../helpers/pcap.ts";

const haveTshark = ((): boolean => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!haveTshark && process.env.CI !== "true") console.warn("skipping encoder-vs-tshark tests: tshark not installed (apt-get install tshark)");
const describeTshark = haveTshark || process.env.CI === "true" ? describe : describe.skip;

function tshark(messages: Message[], args: string[], fourOctetAs = true): string {
  const dir = mkdtempSync(join(tmpdir(), "bc-bgpwire-"));
  try {
    const file = join(dir, "enc.pcap");
    writeFileSync(file, tcpStreamPcap(messages.map((m) => encodeMessage(m, { fourOctetAs }))));
    return execFileSync("tshark", ["-r", file, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ip = (s: string) => parseIP(s);
const messages: Message[] = [
  {
    type: MessageType.OPEN,
    version: 4,
    myAs: 23456,
    holdTime: 90,
    bgpId: 0xc0000201,
    capabilities: [
      { kind: "multiprotocol", afi: 2, safi: 1 },
      { kind: "route-refresh" },
      { kind: "enhanced-route-refresh" },
      { kind: "graceful-restart", restarting: true, notification: false, restartTime: 120, families: [{ afi: 2, safi: 1, forwarding: true }] },
      { kind: "four-octet-as", asn: 4200000001 },
    ],
  },
  { type: MessageType.KEEPALIVE },
  {
    type: MessageType.UPDATE,
    withdrawn: [parsePrefix("10.9.0.0/16")],
    nlri: [parsePrefix("10.1.2.0/24"), parsePrefix("10.1.3.64/26")],
    attrs: {
      origin: 2,
      asPath: [{ type: 2, asns: [65000, 4200000001] }],
      nextHop: ip("192.0.2.1"),
      med: 5,
      localPref: 100,
      atomicAggregate: true,
      aggregator: { asn: 4200000001, address: 0xc0000201 },
      communities: [0xffffff01, 0xfde80064],
      originatorId: 0xc0000203,
      clusterList: [0xc0000201, 0xc0000202],
      extCommunities: [0x0002fde800000064n],
      largeCommunities: [{ global: 4200000001, local1: 1, local2: 2 }],
    },
  },
  {
    type: MessageType.UPDATE,
    withdrawn: [],
    nlri: [],
    attrs: {
      origin: 0,
      asPath: [],
      localPref: 100,
      mpReach: { afi: 2, safi: 1, nextHops: [ip("2001:db8::3"), ip("fe80::c07:12ff:fe2d:ad7a")], nlri: [parsePrefix("2001:db8:3::/122")] },
    },
  },
  endOfRib(2, 1),
  { type: MessageType.ROUTE_REFRESH, afi: 2, safi: 1, subtype: 1 },
  { type: MessageType.NOTIFICATION, code: 6, subcode: 2, data: Uint8Array.of(4, 0x62, 0x79, 0x65, 0x21) },
];

describeTshark("encoder vs tshark", () => {
  test("nothing malformed, no expert warnings", () => {
    expect(tshark(messages, ["-Y", "_ws.malformed || _ws.expert.severity >= warning"])).toBe("");
  });

  test("tshark reads back the values we encoded", () => {
    const fields: [string, string][] = [
      ["type", "bgp.type"],
      ["my AS", "bgp.open.myas"],
      ["capabilities", "bgp.cap.type"],
      ["4-octet AS", "bgp.cap.4as"],
      ["GR time", "bgp.cap.gr.timers.restart_time"],
      ["attributes", "bgp.update.path_attribute.type_code"],
      ["origin", "bgp.update.path_attribute.origin"],
      ["next hop", "bgp.update.path_attribute.next_hop"],
      ["MED", "bgp.update.path_attribute.multi_exit_disc"],
      ["local pref", "bgp.update.path_attribute.local_pref"],
      ["aggregator", "bgp.update.path_attribute.aggregator_as"],
      ["community AS", "bgp.update.path_attribute.community_as"],
      ["community value", "bgp.update.path_attribute.community_value"],
      ["originator", "bgp.update.path_attribute.originator_id"],
      ["cluster", "bgp.path_attribute.cluster_id"],
      ["large global", "bgp.large_communities.ga"],
      ["ext AS", "bgp.ext_com.value_as2"],
      ["ext value", "bgp.ext_com.value_an4"],
      ["NLRI", "bgp.nlri_prefix"],
      ["withdrawn", "bgp.withdrawn_prefix"],
      ["MP next hop", "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6"],
      ["MP link-local", "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local"],
      ["MP NLRI", "bgp.mp_reach_nlri_ipv6_prefix"],
      ["MP_UNREACH AFI", "bgp.update.path_attribute.mp_unreach_nlri.afi"],
      ["refresh subtype", "bgp.route_refresh.subtype"],
      ["notify", "bgp.notify.major_error"],
      ["cease", "bgp.notify.minor_error_cease"],
      ["shutdown text", "bgp.notify.communication"],
    ];
    const out = tshark(messages, ["-Y", "bgp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", ...fields.flatMap(([, f]) => ["-e", f])]);
    const frames = out
      .split("\n")
      .filter((l) => l.length > 0)
      .map((line) => Object.fromEntries(line.split("\t").flatMap((v, i) => (v ? [[fields[i]?.[0] ?? "", v]] : []))));
    expect(frames).toEqual([
      { type: "1", "my AS": "23456", capabilities: "1|2|70|64|65", "4-octet AS": "4200000001", "GR time": "120" },
      { type: "4" },
      {
        type: "2",
        attributes: "1|2|3|4|5|6|7|8|9|10|16|32",
        origin: "2",
        "next hop": "192.0.2.1",
        MED: "5",
        "local pref": "100",
        aggregator: "4200000001",
        "community AS": "65000",
        "community value": "100",
        originator: "192.0.2.3",
        cluster: "192.0.2.1|192.0.2.2",
        "large global": "4200000001",
        "ext AS": "65000",
        "ext value": "100",
        NLRI: "10.1.2.0|10.1.3.64",
        withdrawn: "10.9.0.0",
      },
      {
        type: "2",
        attributes: "1|2|5|14",
        origin: "0",
        "local pref": "100",
        "MP next hop": "2001:db8::3",
        "MP link-local": "fe80::c07:12ff:fe2d:ad7a",
        "MP NLRI": "2001:db8:3::",
      },
      { type: "2", attributes: "15", "MP_UNREACH AFI": "2" },
      { type: "5", "refresh subtype": "1" },
      { type: "3", notify: "6", cease: "2", "shutdown text": "bye!" },
    ]);
  });

  test("AS paths as tshark prints them, 4-octet and towards an OLD speaker", () => {
    const path: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [4200000001, 65010] }, { type: 1, asns: [7, 8] }], nextHop: ip("192.0.2.4") };
    const update = (attrs: PathAttributes): Message => ({ type: MessageType.UPDATE, withdrawn: [], attrs, nlri: [parsePrefix("10.4.4.0/24")] });
    const lines = (text: string) => [...text.matchAll(/Path Attribute - (AS4?_PATH: .*?)\s*$/gm)].map((m) => m[1]);
    expect(lines(tshark([update(path)], ["-O", "bgp"]))).toEqual(["AS_PATH: 4200000001 65010 {7, 8}"]);
    expect(lines(tshark([update(toOldSpeaker(path))], ["-o", "bgp.asn_len:2", "-O", "bgp"], false))).toEqual([
      "AS_PATH: 23456 65010 {7, 8}",
      "AS4_PATH: 4200000001 65010 {7, 8}",
    ]);
  });
});
