import { describe, expect, test } from "@jest/globals";
import { parsePrefix } from "../../../../src/core/net/ip.ts";
import {
  AS_TRANS,
  BgpWireError,
  decodeMessage,
  encodeMessage,
  type Message,
  MessageType,
  packUpdates,
  peerAsn,
  parseRouterId,
  formatRouterId,
  endOfRib,
  endOfRibFamily,
  unsupportedCapabilityData,
  notificationFor,
} from "../../../../src/core/bgp/wire/index.ts";
import { hex, message, toHex } from "./bytes.ts";

function wireError(f: () => unknown): BgpWireError {
  try {
    f();
  } catch (e) {
    if (e instanceof BgpWireError) return e;
    throw e;
  }
  throw new Error("expected a BgpWireError");
}

const KEEPALIVE = "ffffffffffffffffffffffffffffffff001304";

describe("message header", () => {
  const cases: { name: string; bytes: Uint8Array; code: number; subcode: number; data: string }[] = [
    { name: "zero marker", bytes: hex("00".repeat(16) + "001304"), code: 1, subcode: 1, data: "" },
    { name: "one bad marker octet", bytes: hex("ff".repeat(15) + "fe001304"), code: 1, subcode: 1, data: "" },
    { name: "length 18", bytes: hex("ff".repeat(16) + "001204"), code: 1, subcode: 2, data: "0012" },
    { name: "length 4097", bytes: hex("ff".repeat(16) + "100104"), code: 1, subcode: 2, data: "1001" },
    { name: "KEEPALIVE of 20 octets", bytes: message(4, "00"), code: 1, subcode: 2, data: "0014" },
    { name: "OPEN shorter than 29", bytes: message(1, "04fde8005ac0000201"), code: 1, subcode: 2, data: "001c" },
    { name: "UPDATE shorter than 23", bytes: message(2, "0000"), code: 1, subcode: 2, data: "0015" },
    { name: "NOTIFICATION shorter than 21", bytes: message(3, "06"), code: 1, subcode: 2, data: "0014" },
    { name: "ROUTE-REFRESH shorter than 23", bytes: message(5, "000100"), code: 1, subcode: 2, data: "0016" },
    { name: "type 7", bytes: message(7, ""), code: 1, subcode: 3, data: "07" },
    { name: "type 0", bytes: message(0, ""), code: 1, subcode: 3, data: "00" },
    { name: "truncated buffer", bytes: hex("ff".repeat(16) + "00"), code: 1, subcode: 2, data: "0011" },
    { name: "length field disagrees with buffer", bytes: hex(KEEPALIVE + "00"), code: 1, subcode: 2, data: "0013" },
  ];
  test.each(cases)("$name → $code/$subcode", ({ bytes, code, subcode, data }) => {
    const e = wireError(() => decodeMessage(bytes));
    expect([e.code, e.subcode, toHex(e.data)]).toEqual([code, subcode, data]);
  });

  test("a decoding error names itself and becomes the NOTIFICATION to send", () => {
    const e = wireError(() => decodeMessage(message(7, "")));
    expect(e.message).toBe("Message Header Error / Bad Message Type (1/3): unknown message type 7");
    expect(toHex(encodeMessage(notificationFor(e)))).toBe("ffffffffffffffffffffffffffffffff0016" + "03" + "010307");
  });

  test("KEEPALIVE decodes and encodes to its 19 octets", () => {
    expect(decodeMessage(hex(KEEPALIVE))).toEqual({ type: MessageType.KEEPALIVE });
    expect(toHex(encodeMessage({ type: MessageType.KEEPALIVE }))).toBe(KEEPALIVE);
  });

  test("Extended Message raises the UPDATE limit but not OPEN's", () => {
    const big = message(2, "0000" + "0000" + "18" + "0a0000".repeat(2000));
    expect(wireError(() => decodeMessage(big)).subcode).toBe(2);
    const u = decodeMessage(big, { maxMessageLength: 65535 });
    expect(u.type === MessageType.UPDATE && u.nlri.length).toBe(2000);
  });
});

// BIRD 2.0.12's OPEN from bird-gobgp-frr-exabgp.pcap (frame 4).
const BIRD_OPEN = "ffffffffffffffffffffffffffffffff00390104fde8005ac00002011c021a0104000100010200400600780001010041040000fde846004700";
// ExaBGP 4.2.21's OPEN (frame 95): one capability per optional parameter, GR with R and F set.
const EXABGP_OPEN =
  "ffffffffffffffffffffffffffffffff00430104fde8005ac0000204260206010400010001020641040000fde802084006807800010180020202000202460002020600";

describe("OPEN", () => {
  test("BIRD's OPEN: fields and capabilities", () => {
    const m = decodeMessage(hex(BIRD_OPEN));
    expect(m).toEqual({
      type: MessageType.OPEN,
      version: 4,
      myAs: 65000,
      holdTime: 90,
      bgpId: parseRouterId("192.0.2.1"),
      capabilities: [
        { kind: "multiprotocol", afi: 1, safi: 1 },
        { kind: "route-refresh" },
        { kind: "graceful-restart", restarting: false, notification: false, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: false }] },
        { kind: "four-octet-as", asn: 65000 },
        { kind: "enhanced-route-refresh" },
        { kind: "unknown", code: 71, value: new Uint8Array(0) },
      ],
    });
  });

  test("one parameter per capability (old Cisco style) decodes the same", () => {
    const grouped = decodeMessage(hex(BIRD_OPEN));
    const split = encodeMessage(grouped, { capabilityLayout: "one-per-parameter" });
    expect(split.length).toBe(hex(BIRD_OPEN).length + 2 * 5); // a 2-octet parameter header for each of 5 more
    expect(decodeMessage(split)).toEqual(grouped);
  });

  test("encodes BIRD's OPEN byte for byte", () => {
    expect(toHex(encodeMessage(decodeMessage(hex(BIRD_OPEN))))).toBe(BIRD_OPEN);
  });

  test("RFC 9072 extended optional parameters are parsed and produced when needed", () => {
    // 255, 255, length 0x000a, then a Capabilities parameter with a 2-octet length holding MP + RR.
    const body = "04 fde8 005a c0000201 ff ff 000b 02 0008 010400010001 0200".replace(/\s/g, "");
    const m = decodeMessage(message(1, body));
    expect(m.type === MessageType.OPEN && m.capabilities).toEqual([{ kind: "multiprotocol", afi: 1, safi: 1 }, { kind: "route-refresh" }]);
    const many: Message = {
      type: MessageType.OPEN,
      version: 4,
      myAs: 65000,
      holdTime: 90,
      bgpId: 1,
      capabilities: Array.from({ length: 70 }, (_, i) => ({ kind: "multiprotocol" as const, afi: 1, safi: i })),
    };
    const bytes = encodeMessage(many);
    expect([bytes[28], bytes[29]]).toEqual([255, 255]);
    expect(decodeMessage(bytes)).toEqual(many);
  });

  const openCases: { name: string; body: string; code: number; subcode: number; data: string }[] = [
    { name: "version 3", body: "03fde8005ac000020100", code: 2, subcode: 1, data: "0004" },
    { name: "hold time 1", body: "04fde80001c000020100", code: 2, subcode: 6, data: "" },
    { name: "hold time 2", body: "04fde80002c000020100", code: 2, subcode: 6, data: "" },
    { name: "BGP identifier 0", body: "04fde8005a0000000000", code: 2, subcode: 3, data: "" },
    { name: "authentication parameter (type 1)", body: "04fde8005ac00002010301010a", code: 2, subcode: 4, data: "" },
    { name: "capability overruns its parameter", body: "04fde8005ac0000201060204010400010001", code: 2, subcode: 0, data: "" },
    { name: "parameter overruns the parameters", body: "04fde8005ac00002010402080200", code: 2, subcode: 0, data: "" },
    { name: "MP capability of length 3", body: "04fde8005ac00002010502030103000100".slice(0, 34), code: 2, subcode: 0, data: "" },
  ];
  test.each(openCases)("$name → $code/$subcode", ({ body, code, subcode, data }) => {
    const e = wireError(() => decodeMessage(message(1, body)));
    expect([e.code, e.subcode, toHex(e.data)]).toEqual([code, subcode, data]);
  });

  test("hold time 0 and 3 are acceptable", () => {
    expect(decodeMessage(message(1, "04fde80000c000020100")).type).toBe(MessageType.OPEN);
    expect(decodeMessage(message(1, "04fde80003c000020100")).type).toBe(MessageType.OPEN);
  });

  test("peerAsn prefers the 4-octet AS capability; Unsupported Capability data lists capabilities", () => {
    const m = decodeMessage(message(1, "045ba0005ac00002040802064104fa56ea01"));
    expect(m.type === MessageType.OPEN && [m.myAs, peerAsn(m)]).toEqual([AS_TRANS, 4200000001]);
    expect(toHex(unsupportedCapabilityData([{ kind: "unknown", code: 69, value: hex("00010101") }]))).toBe("450400010101");
    expect(formatRouterId(parseRouterId("192.0.2.44"))).toBe("192.0.2.44");
  });

  test("graceful restart flags and per-family forwarding bit", () => {
    // ExaBGP: R set, restart time 120, IPv4 unicast with F.
    const m = decodeMessage(hex(EXABGP_OPEN));
    expect(toHex(encodeMessage(m, { capabilityLayout: "one-per-parameter" }))).toBe(EXABGP_OPEN);
    const gr = m.type === MessageType.OPEN ? m.capabilities[2] : undefined;
    expect(gr).toEqual({ kind: "graceful-restart", restarting: true, notification: false, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }] });
    const n: Message = {
      type: MessageType.OPEN,
      version: 4,
      myAs: 1,
      holdTime: 0,
      bgpId: 9,
      capabilities: [{ kind: "graceful-restart", restarting: false, notification: true, restartTime: 4095, families: [] }],
    };
    expect(toHex(encodeMessage(n)).slice(-12)).toBe("0204" + "4002" + "4fff");
    expect(decodeMessage(encodeMessage(n))).toEqual(n);
  });
});

describe("NOTIFICATION, ROUTE-REFRESH", () => {
  test("NOTIFICATION with and without data", () => {
    expect(decodeMessage(message(3, "0606"))).toEqual({ type: MessageType.NOTIFICATION, code: 6, subcode: 6, data: new Uint8Array(0) });
    const n: Message = { type: MessageType.NOTIFICATION, code: 6, subcode: 2, data: hex("0462796521") };
    expect(toHex(encodeMessage(n))).toBe("ffffffffffffffffffffffffffffffff001a0306020462796521");
    expect(decodeMessage(encodeMessage(n))).toEqual(n);
  });

  test.each([
    [0, "normal request"],
    [1, "BoRR"],
    [2, "EoRR"],
  ])("ROUTE-REFRESH subtype %i (%s)", (subtype) => {
    const bytes = message(5, `0002${subtype.toString(16).padStart(2, "0")}01`);
    const m = decodeMessage(bytes);
    expect(m).toEqual({ type: MessageType.ROUTE_REFRESH, afi: 2, safi: 1, subtype });
    expect(toHex(encodeMessage(m))).toBe(toHex(bytes));
  });

  test("BoRR of the wrong length is a ROUTE-REFRESH error 7/1 carrying the message", () => {
    const bytes = message(5, "0001010100");
    const e = wireError(() => decodeMessage(bytes));
    expect([e.code, e.subcode, toHex(e.data)]).toEqual([7, 1, toHex(bytes)]);
  });
});

describe("End-of-RIB and packing", () => {
  test("End-of-RIB markers", () => {
    expect(toHex(encodeMessage(endOfRib()))).toBe("ffffffffffffffffffffffffffffffff001702" + "00000000");
    expect(toHex(encodeMessage(endOfRib(2, 1)))).toBe("ffffffffffffffffffffffffffffffff001d02" + "0000" + "0006" + "800f03000201");
    const v6 = decodeMessage(encodeMessage(endOfRib(2, 1)));
    expect(v6.type === MessageType.UPDATE && endOfRibFamily(v6)).toEqual({ afi: 2, safi: 1 });
  });

  test("packUpdates fills 4096-octet UPDATEs: 20k /32s with the blaster's attributes", () => {
    const prefixes = Array.from({ length: 20_000 }, (_, i) => ({ family: 4 as const, addr: 0x0a000000n + BigInt(i), len: 32 }));
    const attrs = { origin: 0, asPath: [], nextHop: { family: 4 as const, value: 0xc0000201n }, localPref: 100 };
    const msgs = packUpdates({ attrs, announce: prefixes });
    // 4096 - 19 - 4 - 21 octets of attributes leaves room for 810 five-octet /32s, as the blaster packs.
    expect(msgs[0]?.length).toBe(4094);
    expect(msgs.length).toBe(Math.ceil(20_000 / 810));
    let n = 0;
    for (const b of msgs) {
      const m = decodeMessage(b);
      if (m.type !== MessageType.UPDATE) throw new Error("not an UPDATE");
      expect(m.attrs).toEqual(attrs);
      n += m.nlri.length;
    }
    expect(n).toBe(20_000);
  });

  test("packUpdates for IPv6 uses MP_REACH / MP_UNREACH and stays within the limit", () => {
    const announce = Array.from({ length: 1000 }, (_, i) => parsePrefix(`2001:db8:${i.toString(16)}::/48`));
    const nh = { family: 6 as const, value: 0x20010db8000000000000000000000001n };
    const msgs = packUpdates({ attrs: { origin: 0, asPath: [], mpReach: { afi: 2, safi: 1, nextHops: [nh], nlri: [] } }, announce, withdraw: announce.slice(0, 10) });
    const seen: string[] = [];
    for (const b of msgs) {
      expect(b.length).toBeLessThanOrEqual(4096);
      const m = decodeMessage(b);
      if (m.type !== MessageType.UPDATE) throw new Error("not an UPDATE");
      seen.push(...(m.attrs.mpReach?.nlri ?? []).map((p) => p.addr.toString(16)));
      if (m.attrs.mpUnreach) expect(m.attrs.mpUnreach.withdrawn.length).toBe(10);
    }
    expect(seen.length).toBe(1000);
    expect(msgs.length).toBe(1 + Math.ceil(1000 / Math.floor((4096 - 23 - 4 - 3 - 20 - 3 - 4 - 1) / 7)));
  });
});
