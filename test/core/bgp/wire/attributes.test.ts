import { describe, expect, test } from "@jest/globals";
import { parsePrefix } from "../../../../src/core/net/ip.ts";
import {
  BgpWireError,
  decodeMessage,
  encodeMessage,
  MessageType,
  type PathAttributes,
  type UpdateMessage,
  updateErrorAction,
  WellKnownCommunity,
  allPrefixes,
} from "../../../../src/core/bgp/wire/index.ts";
import { BASE_ATTRS, hex, toHex, update } from "./bytes.ts";

const v4 = (text: string) => ({ family: 4 as const, value: BigInt(text.split(".").reduce((v, p) => v * 256 + Number(p), 0)) });
const v6 = (hexText: string) => ({ family: 6 as const, value: BigInt(`0x${hexText}`) });

function decodeUpdate(bytes: Uint8Array, fourOctetAs = true): UpdateMessage {
  const m = decodeMessage(bytes, { fourOctetAs });
  if (m.type !== MessageType.UPDATE) throw new Error(`expected an UPDATE, got type ${m.type}`);
  return m;
}

describe("path attributes: bytes to values", () => {
  const cases: { name: string; attr: string; four?: boolean; want: PathAttributes }[] = [
    { name: "ORIGIN INCOMPLETE", attr: "40010102", want: { origin: 2 } },
    { name: "ORIGIN with Extended Length", attr: "5001000100", want: { origin: 0 } },
    { name: "ORIGIN with a stray Partial bit and low flag bits", attr: "6f010100", want: { origin: 0 } },
    {
      name: "AS_PATH 4-octet sequence",
      attr: "40020e 0203 0000fde8 0000fde9 fa56ea01",
      want: { asPath: [{ type: 2, asns: [65000, 65001, 4200000001] }] },
    },
    {
      name: "AS_PATH 2-octet sequence and set",
      attr: "40020c 0202 fde8 fde9 0102 0001 0002",
      four: false,
      want: { asPath: [{ type: 2, asns: [65000, 65001] }, { type: 1, asns: [1, 2] }] },
    },
    { name: "AS_PATH empty (iBGP origination)", attr: "400200", want: { asPath: [] } },
    { name: "NEXT_HOP", attr: "400304 c0000201", want: { nextHop: v4("192.0.2.1") } },
    { name: "MULTI_EXIT_DISC", attr: "800404 00000064", want: { med: 100 } },
    { name: "LOCAL_PREF", attr: "400504 000000c8", want: { localPref: 200 } },
    { name: "ATOMIC_AGGREGATE", attr: "400600", want: { atomicAggregate: true } },
    { name: "AGGREGATOR 2-octet", attr: "c00706 fde8 c0000201", four: false, want: { aggregator: { asn: 65000, address: 0xc0000201 } } },
    { name: "AGGREGATOR 4-octet", attr: "c00708 fa56ea01 c0000201", want: { aggregator: { asn: 4200000001, address: 0xc0000201 } } },
    {
      name: "COMMUNITIES with well-known values",
      attr: "c00810 ffffff01 ffffff02 ffffff03 fde80064",
      want: {
        communities: [WellKnownCommunity.NO_EXPORT, WellKnownCommunity.NO_ADVERTISE, WellKnownCommunity.NO_EXPORT_SUBCONFED, 65000 * 65536 + 100],
      },
    },
    { name: "ORIGINATOR_ID", attr: "800904 c0000203", want: { originatorId: 0xc0000203 } },
    { name: "CLUSTER_LIST", attr: "800a08 c0000201 c0000202", want: { clusterList: [0xc0000201, 0xc0000202] } },
    {
      name: "MP_REACH_NLRI IPv6, 16-octet next hop",
      attr: "800e1c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80001",
      want: { mpReach: { afi: 2, safi: 1, nextHops: [v6("20010db8000000000000000000000001")], nlri: [parsePrefix("2001:db8:1::/48")] } },
    },
    {
      name: "MP_REACH_NLRI IPv6, 32-octet global + link-local next hop",
      attr: "800e2c 0002 01 20 20010db8000000000000000000000003 fe800000000000000c0712fffe2dad7a 00 30 20010db80003",
      want: {
        mpReach: {
          afi: 2,
          safi: 1,
          nextHops: [v6("20010db8000000000000000000000003"), v6("fe800000000000000c0712fffe2dad7a")],
          nlri: [parsePrefix("2001:db8:3::/48")],
        },
      },
    },
    {
      name: "MP_REACH_NLRI IPv4 unicast",
      attr: "800e0d 0001 01 04 c0000201 00 18 0a0102",
      want: { mpReach: { afi: 1, safi: 1, nextHops: [v4("192.0.2.1")], nlri: [parsePrefix("10.1.2.0/24")] } },
    },
    {
      name: "MP_REACH_NLRI of an unparsed family (VPNv4) kept raw",
      attr: "40010100 400200 800e06 0001 80 0a0b0c",
      want: { origin: 0, asPath: [], mpReach: { afi: 1, safi: 128, nextHops: [], nlri: [], raw: hex("0a0b0c") } },
    },
    {
      name: "MP_UNREACH_NLRI IPv6",
      attr: "800f0c 0002 01 40 20010db800000001",
      want: { mpUnreach: { afi: 2, safi: 1, withdrawn: [parsePrefix("2001:db8:0:1::/64")] } },
    },
    { name: "EXTENDED_COMMUNITIES route target", attr: "c01008 0002fde800000064", want: { extCommunities: [0x0002fde800000064n] } },
    {
      name: "AS4_PATH from an OLD speaker",
      attr: "c0110e 0203 fa56ea01 fa56ea02 0000fdf2",
      four: false,
      want: { as4Path: [{ type: 2, asns: [4200000001, 4200000002, 65010] }] },
    },
    { name: "AS4_PATH from a NEW speaker is dropped", attr: "c0110e 0203 fa56ea01 fa56ea02 0000fdf2", want: {} },
    { name: "AS4_AGGREGATOR", attr: "c01208 fa56ea01 c0000201", four: false, want: { as4Aggregator: { asn: 4200000001, address: 0xc0000201 } } },
    { name: "LARGE_COMMUNITY", attr: "c0200c 0000fde8 00000001 00000002", want: { largeCommunities: [{ global: 65000, local1: 1, local2: 2 }] } },
    { name: "unknown optional transitive kept raw", attr: "c02304 01020304", want: { unknown: [{ flags: 0xc0, type: 35, value: hex("01020304") }] } },
    { name: "unknown optional transitive, Partial already set", attr: "e02301 aa", want: { unknown: [{ flags: 0xe0, type: 35, value: hex("aa") }] } },
    { name: "unknown optional non-transitive dropped", attr: "806302 abcd", want: {} },
  ];
  test.each(cases)("$name", ({ attr, four, want }) => {
    // An MP_REACH needs ORIGIN and AS_PATH beside it, or the UPDATE is treat-as-withdraw.
    const mandatory = want.mpReach && want.origin === undefined;
    const u = decodeUpdate(update((mandatory ? "40010100400200" : "") + attr.replace(/\s/g, "")), four ?? true);
    expect(u.attrs).toEqual(mandatory ? { origin: 0, asPath: [], ...want } : want);
    expect(u.issues).toBeUndefined();
  });

  test("attributes in any order decode the same", () => {
    const a = decodeUpdate(update("400504 00000064" + "400304 c0000201" + "400200" + "40010100", "180a0102"));
    const b = decodeUpdate(update("40010100 400200 400304c0000201 40050400000064", "180a0102"));
    expect(a).toEqual(b);
    expect(a.nlri).toEqual([parsePrefix("10.1.2.0/24")]);
  });

  test("every IPv6 prefix length encodes to the same octets as a naive reference and decodes back", () => {
    for (let len = 0; len <= 128; len++) {
      const addr = (0x20010db8_1234_5678_9abc_def0_1357_9bdfn >> BigInt(128 - len)) << BigInt(128 - len);
      const n = Math.ceil(len / 8);
      let ref = len.toString(16).padStart(2, "0");
      for (let i = 0; i < n; i++) ref += Number((addr >> BigInt(120 - 8 * i)) & 255n).toString(16).padStart(2, "0");
      const m: UpdateMessage = {
        type: MessageType.UPDATE,
        withdrawn: [],
        attrs: { mpUnreach: { afi: 2, safi: 1, withdrawn: [{ family: 6, addr, len }] } },
        nlri: [],
      };
      const bytes = encodeMessage(m);
      expect(toHex(bytes.subarray(bytes.length - ref.length / 2))).toBe(ref);
      expect(decodeUpdate(bytes).attrs.mpUnreach?.withdrawn).toEqual([{ family: 6, addr, len }]);
    }
  });

  test("NLRI trailing bits are cleared; /0 and /32 work", () => {
    const u = decodeUpdate(update(BASE_ATTRS.replace(/\s/g, ""), "170a0103" + "00" + "200a000001"));
    expect(u.nlri).toEqual([parsePrefix("10.1.2.0/23"), parsePrefix("0.0.0.0/0"), parsePrefix("10.0.0.1/32")]);
  });
});

describe("RFC 7606 error handling", () => {
  type Want = { action: "treat-as-withdraw" | "attribute-discard"; subcode: number; data?: string } | { thrown: [number, number]; data?: string };
  const N = "180a0102"; // NLRI 10.1.2.0/24
  const cases: { name: string; attrs: string; nlri?: string; withdrawn?: string; four?: boolean; want: Want }[] = [
    { name: "ORIGIN length 2", attrs: "40010200 00 400200 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 5, data: "4001020000" } },
    { name: "ORIGIN value 3", attrs: "40010103 400200 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 6, data: "40010103" } },
    { name: "ORIGIN with optional flag", attrs: "c0010100 400200 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 4, data: "c0010100" } },
    { name: "AS_PATH segment type 5", attrs: "40010100 40020405 01fde8 00".replace(" 00", "") + " 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 11 } },
    { name: "AS_PATH empty segment", attrs: "40010100 4002020200 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 11 } },
    { name: "AS_PATH segment overrun", attrs: "40010100 4002060203 0000fde8 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 11 } },
    { name: "AS_PATH 2-octet path read as 4-octet", attrs: "40010100 4002060202 fde8fde9 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 11 } },
    { name: "NEXT_HOP length 5", attrs: "40010100 400200 400305c000020100", nlri: N, want: { action: "treat-as-withdraw", subcode: 5 } },
    { name: "NEXT_HOP 0.0.0.0", attrs: "40010100 400200 40030400000000", nlri: N, want: { action: "treat-as-withdraw", subcode: 8, data: "40030400000000" } },
    { name: "NEXT_HOP multicast", attrs: "40010100 400200 400304e0000001", nlri: N, want: { action: "treat-as-withdraw", subcode: 8 } },
    { name: "MED length 3", attrs: BASE_ATTRS + "800403000001", nlri: N, want: { action: "treat-as-withdraw", subcode: 5, data: "800403000001" } },
    { name: "LOCAL_PREF length 2", attrs: BASE_ATTRS + "4005020001", nlri: N, want: { action: "treat-as-withdraw", subcode: 5 } },
    { name: "LOCAL_PREF with optional flag", attrs: BASE_ATTRS + "80050400000064", nlri: N, want: { action: "treat-as-withdraw", subcode: 4 } },
    { name: "COMMUNITIES length 5", attrs: BASE_ATTRS + "c00805ffffff0100", nlri: N, want: { action: "treat-as-withdraw", subcode: 5 } },
    { name: "COMMUNITIES length 0", attrs: BASE_ATTRS + "c00800", nlri: N, want: { action: "treat-as-withdraw", subcode: 5 } },
    { name: "ORIGINATOR_ID length 3", attrs: BASE_ATTRS + "800903c00002", nlri: N, want: { action: "treat-as-withdraw", subcode: 5 } },
    { name: "CLUSTER_LIST length 6", attrs: BASE_ATTRS + "800a06c00002010000", nlri: N, want: { action: "treat-as-withdraw", subcode: 5 } },
    { name: "EXTENDED_COMMUNITIES length 7", attrs: BASE_ATTRS + "c010070002fde8000000", nlri: N, want: { action: "treat-as-withdraw", subcode: 5 } },
    { name: "LARGE_COMMUNITY length 13", attrs: BASE_ATTRS + "c0200d" + "00".repeat(13), nlri: N, want: { action: "treat-as-withdraw", subcode: 5 } },
    { name: "ATOMIC_AGGREGATE length 1", attrs: BASE_ATTRS + "40060100", nlri: N, want: { action: "attribute-discard", subcode: 5 } },
    { name: "AGGREGATOR length 7", attrs: BASE_ATTRS + "c00707fde8c000020100", nlri: N, want: { action: "attribute-discard", subcode: 5 } },
    { name: "AGGREGATOR 2-octet on a 4-octet session", attrs: BASE_ATTRS + "c00706fde8c0000201", nlri: N, want: { action: "attribute-discard", subcode: 5 } },
    { name: "AS4_PATH malformed", attrs: BASE_ATTRS + "c0110405010000", nlri: N, four: false, want: { action: "attribute-discard", subcode: 9 } },
    { name: "AS4_AGGREGATOR length 6", attrs: BASE_ATTRS + "c01206fde8c0000201", nlri: N, four: false, want: { action: "attribute-discard", subcode: 5 } },
    { name: "duplicate COMMUNITIES: first kept", attrs: BASE_ATTRS + "c00804fde80001 c00804fde80002", nlri: N, want: { action: "attribute-discard", subcode: 1 } },
    { name: "missing ORIGIN with NLRI", attrs: "400200 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 3, data: "01" } },
    { name: "missing AS_PATH with NLRI", attrs: "40010100 400304c0000201", nlri: N, want: { action: "treat-as-withdraw", subcode: 3, data: "02" } },
    { name: "missing NEXT_HOP with NLRI", attrs: "40010100 400200", nlri: N, want: { action: "treat-as-withdraw", subcode: 3, data: "03" } },
    {
      name: "MP_REACH without AS_PATH",
      attrs: "800e1c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80001 40010100",
      want: { action: "treat-as-withdraw", subcode: 3, data: "02" },
    },
    {
      name: "attribute overrun after MP_UNREACH",
      attrs: "800f03000201 40010100 4002",
      want: { action: "treat-as-withdraw", subcode: 1 },
    },
    { name: "attribute overrun with no MP attribute", attrs: "40010100 400209 0201", nlri: N, want: { thrown: [3, 1] } },
    { name: "truncated attribute header", attrs: "40010100 40", nlri: N, want: { thrown: [3, 1] } },
    { name: "MP_REACH next hop length 5", attrs: BASE_ATTRS + "800e0a 0002 01 05 0102030405 00", want: { thrown: [3, 9] } },
    { name: "MP_REACH prefix /129", attrs: BASE_ATTRS + "800e16 0002 01 10 20010db8000000000000000000000001 00 81", want: { thrown: [3, 9] } },
    { name: "MP_REACH prefix overruns", attrs: BASE_ATTRS + "800e17 0002 01 10 20010db8000000000000000000000001 00 4020", want: { thrown: [3, 9] } },
    { name: "MP_UNREACH length 2", attrs: "800f020002", want: { thrown: [3, 9], data: "800f020002" } },
    { name: "MP_REACH with well-known flags", attrs: BASE_ATTRS + "400e0c0001010 4c000020100180a0102".replace(/ /g, ""), want: { thrown: [3, 4] } },
    { name: "duplicate MP_UNREACH", attrs: "800f03000201 800f03000201", want: { thrown: [3, 1] } },
    { name: "unrecognized well-known attribute", attrs: BASE_ATTRS + "406300", nlri: N, want: { thrown: [3, 2], data: "406300" } },
    { name: "NLRI prefix length 33", attrs: BASE_ATTRS, nlri: "210a010203", want: { thrown: [3, 10] } },
    { name: "NLRI prefix overrun", attrs: BASE_ATTRS, nlri: "180a01", want: { thrown: [3, 10] } },
    { name: "withdrawn prefix length 40", attrs: "", withdrawn: "280a0102030405", want: { thrown: [3, 10] } },
  ];
  test.each(cases)("$name", ({ attrs, nlri, withdrawn, four, want }) => {
    const bytes = update(attrs.replace(/\s/g, ""), nlri ?? "", withdrawn ?? "");
    if ("thrown" in want) {
      let err: unknown;
      try {
        decodeMessage(bytes, { fourOctetAs: four ?? true });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BgpWireError);
      const e = err as BgpWireError;
      expect([e.code, e.subcode]).toEqual(want.thrown);
      if (want.data !== undefined) expect(toHex(e.data)).toBe(want.data);
      return;
    }
    const u = decodeUpdate(bytes, four ?? true);
    expect(updateErrorAction(u)).toBe(want.action);
    const issue = u.issues?.find((i) => i.action === want.action);
    expect(issue?.code).toBe(3);
    expect(issue?.subcode).toBe(want.subcode);
    if (want.data !== undefined) expect(toHex(issue?.data ?? new Uint8Array(0))).toBe(want.data);
  });

  test("duplicate: the first value wins; treat-as-withdraw lists every prefix", () => {
    const u = decodeUpdate(update(BASE_ATTRS.replace(/\s/g, "") + "c00804fde80001c00804fde80002", "180a0102"));
    expect(u.attrs.communities).toEqual([65000 * 65536 + 1]);
    const t = decodeUpdate(update("800f0c0002014020010db800000001 40010103 400200".replace(/ /g, ""), "", "180a0909"));
    expect(updateErrorAction(t)).toBe("treat-as-withdraw");
    expect(allPrefixes(t).length).toBe(2);
  });

  test("withdraw-only UPDATE needs no mandatory attributes", () => {
    const u = decodeUpdate(update("", "", "180a0102 10ac10".replace(/\s/g, "")));
    expect(u.withdrawn).toEqual([parsePrefix("10.1.2.0/24"), parsePrefix("172.16.0.0/16")]);
    expect(updateErrorAction(u)).toBe("accept");
  });
});

describe("path attributes: encoding", () => {
  const full: PathAttributes = {
    origin: 1,
    asPath: [
      { type: 2, asns: [65000, 4200000001] },
      { type: 1, asns: [7, 8] },
    ],
    nextHop: v4("192.0.2.1"),
    med: 5,
    localPref: 100,
    atomicAggregate: true,
    aggregator: { asn: 4200000001, address: 0xc0000201 },
    communities: [WellKnownCommunity.NO_EXPORT, 0xfde80064],
    originatorId: 0xc0000203,
    clusterList: [0xc0000201],
    mpReach: { afi: 2, safi: 1, nextHops: [v6("20010db8000000000000000000000003"), v6("fe80000000000000000000000000000a")], nlri: [parsePrefix("2001:db8::/32")] },
    mpUnreach: { afi: 2, safi: 1, withdrawn: [parsePrefix("2001:db8:ffff::/48")] },
    extCommunities: [0x0002fde800000064n, 0xffffffffffffffffn],
    largeCommunities: [{ global: 4200000001, local1: 0, local2: 0xffffffff }],
    unknown: [
      { flags: 0xe0, type: 35, value: hex("00000001") },
      { flags: 0xe0, type: 11, value: hex("ff") },
    ],
  };

  test("decode(encode(x)) == x for every attribute, 4-octet session", () => {
    const m: UpdateMessage = { type: MessageType.UPDATE, withdrawn: [parsePrefix("10.9.0.0/16")], attrs: full, nlri: [parsePrefix("10.1.2.0/24")] };
    const back = decodeUpdate(encodeMessage(m));
    expect(back).toEqual({ ...m, attrs: { ...full, unknown: [...(full.unknown ?? [])].sort((a, b) => a.type - b.type) } });
  });

  test("decode(encode(x)) == x on a 2-octet session with AS4_PATH and AS4_AGGREGATOR", () => {
    const attrs: PathAttributes = {
      origin: 0,
      asPath: [{ type: 2, asns: [23456, 65010] }],
      nextHop: v4("192.0.2.4"),
      aggregator: { asn: 23456, address: 1 },
      as4Path: [{ type: 2, asns: [4200000001, 65010] }],
      as4Aggregator: { asn: 4200000001, address: 1 },
    };
    const m: UpdateMessage = { type: MessageType.UPDATE, withdrawn: [], attrs, nlri: [parsePrefix("10.2.0.0/24")] };
    expect(decodeUpdate(encodeMessage(m, { fourOctetAs: false }), false)).toEqual(m);
    expect(() => encodeMessage({ ...m, attrs: { ...attrs, asPath: [{ type: 2, asns: [4200000001] }] } }, { fourOctetAs: false })).toThrow(RangeError);
  });

  test("canonical order and flags: unknown attributes sorted in, Partial set", () => {
    const bytes = encodeMessage({
      type: MessageType.UPDATE,
      withdrawn: [],
      nlri: [parsePrefix("10.1.2.0/24")],
      attrs: { localPref: 100, unknown: [{ flags: 0xc0, type: 35, value: hex("01") }], nextHop: v4("192.0.2.1"), asPath: [], origin: 0, med: 0 },
    });
    expect(toHex(bytes.subarray(19))).toBe(
      "0000" + "0020" + "40010100" + "400200" + "400304c0000201" + "80040400000000" + "40050400000064" + "e0230101" + "180a0102",
    );
  });

  test("Extended Length only when the value exceeds 255 octets", () => {
    const communities = Array.from({ length: 64 }, (_, i) => i);
    const m: UpdateMessage = { type: MessageType.UPDATE, withdrawn: [], attrs: { communities }, nlri: [] };
    const bytes = encodeMessage(m);
    expect(toHex(bytes.subarray(23, 27))).toBe("d0080100");
    expect(decodeUpdate(bytes).attrs.communities).toEqual(communities);
    const small = encodeMessage({ ...m, attrs: { communities: communities.slice(0, 63) } });
    expect(toHex(small.subarray(23, 26))).toBe("c008fc");
  });

  test("an AS_SEQUENCE of 600 ASNs goes out as segments of 255, 255 and 90", () => {
    const asns = Array.from({ length: 600 }, (_, i) => 64512 + (i % 3));
    const m: UpdateMessage = { type: MessageType.UPDATE, withdrawn: [], attrs: { asPath: [{ type: 2, asns }] }, nlri: [] };
    const back = decodeUpdate(encodeMessage(m)).attrs.asPath ?? [];
    expect(back.map((s) => [s.type, s.asns.length])).toEqual([
      [2, 255],
      [2, 255],
      [2, 90],
    ]);
    expect(back.flatMap((s) => s.asns)).toEqual(asns);
    expect(() => encodeMessage({ ...m, attrs: { asPath: [{ type: 1, asns }] } })).toThrow(RangeError);
  });

  test("encoding rejects values that cannot be on the wire", () => {
    const base: UpdateMessage = { type: MessageType.UPDATE, withdrawn: [], attrs: {}, nlri: [] };
    expect(() => encodeMessage({ ...base, attrs: { origin: 3 } })).toThrow(RangeError);
    expect(() => encodeMessage({ ...base, nlri: [parsePrefix("2001:db8::/32")] })).toThrow(RangeError);
    expect(() => encodeMessage({ ...base, attrs: { asPath: [{ type: 2, asns: [] }] } })).toThrow(RangeError);
    expect(() => encodeMessage({ ...base, nlri: Array.from({ length: 1000 }, () => parsePrefix("10.0.0.0/32")) })).toThrow(/maximum 4096/);
  });
});
