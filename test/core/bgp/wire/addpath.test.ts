import { describe, expect, test } from "@jest/globals";
import { parsePrefix } from "../../../../src/core/net/ip.ts";
import {
  BgpWireError,
  type Capability,
  decodeMessage,
  encodeMessage,
  type Message,
  MessageType,
  negotiateAddPath,
  packUpdates,
  type UpdateMessage,
} from "../../../../src/core/bgp/wire/index.ts";
import { BASE_ATTRS, message, toHex, update } from "./bytes.ts";

const v4uni = [{ afi: 1, safi: 1 }];
const v6uni = [{ afi: 2, safi: 1 }];

describe("ADD-PATH (RFC 7911)", () => {
  test("classic NLRI and withdrawn routes with path identifiers", () => {
    const bytes = update(BASE_ATTRS.replace(/\s/g, ""), "00000001180a0102" + "00000002180a0102", "0000000710ac10");
    const m = decodeMessage(bytes, { addPath: v4uni });
    expect(m.type === MessageType.UPDATE && [m.nlri, m.withdrawn]).toEqual([
      [
        { ...parsePrefix("10.1.2.0/24"), pathId: 1 },
        { ...parsePrefix("10.1.2.0/24"), pathId: 2 },
      ],
      [{ ...parsePrefix("172.16.0.0/16"), pathId: 7 }],
    ]);
    expect(toHex(encodeMessage(m as Message, { addPath: v4uni }))).toBe(toHex(bytes));
  });

  test("MP_REACH / MP_UNREACH NLRI with path identifiers only for the negotiated family", () => {
    const reach = "800e20 0002 01 10 20010db8000000000000000000000001 00 0000000a 30 20010db80001".replace(/\s/g, "");
    const bytes = update("40010100 400200".replace(/\s/g, "") + reach + "800f0e000201 00000003 3020010db80002".replace(/\s/g, ""));
    const m = decodeMessage(bytes, { addPath: v6uni });
    if (m.type !== MessageType.UPDATE) throw new Error("not an UPDATE");
    expect(m.attrs.mpReach?.nlri).toEqual([{ ...parsePrefix("2001:db8:1::/48"), pathId: 10 }]);
    expect(m.attrs.mpUnreach?.withdrawn).toEqual([{ ...parsePrefix("2001:db8:2::/48"), pathId: 3 }]);
    expect(toHex(encodeMessage(m, { addPath: v6uni }))).toBe(toHex(bytes));
    // Read without ADD-PATH the same octets are a different, invalid prefix list.
    expect(() => decodeMessage(bytes, { addPath: v4uni })).toThrow(BgpWireError);
  });

  test("a truncated path identifier is an Invalid Network Field", () => {
    let err: unknown;
    try {
      decodeMessage(update(BASE_ATTRS.replace(/\s/g, ""), "000000"), { addPath: v4uni });
    } catch (e) {
      err = e;
    }
    expect(err instanceof BgpWireError && [err.code, err.subcode]).toEqual([3, 10]);
  });

  test("encoding without a pathId writes 0; decode(encode(x)) == x", () => {
    const m: UpdateMessage = {
      type: MessageType.UPDATE,
      withdrawn: [],
      attrs: { origin: 0, asPath: [], nextHop: { family: 4, value: 0xc0000201n } },
      nlri: [{ ...parsePrefix("10.1.0.0/26"), pathId: 0xffffffff }, parsePrefix("10.2.0.0/26")],
    };
    const back = decodeMessage(encodeMessage(m, { addPath: v4uni }), { addPath: v4uni });
    expect(back.type === MessageType.UPDATE && back.nlri).toEqual([
      { ...parsePrefix("10.1.0.0/26"), pathId: 0xffffffff },
      { ...parsePrefix("10.2.0.0/26"), pathId: 0 },
    ]);
  });

  test("packUpdates counts the 4 path identifier octets", () => {
    const prefixes = Array.from({ length: 2000 }, (_, i) => ({ family: 4 as const, addr: 0x0a000000n + BigInt(i), len: 32, pathId: i }));
    const attrs = { origin: 0, asPath: [], nextHop: { family: 4 as const, value: 0xc0000201n }, localPref: 100 };
    const msgs = packUpdates({ attrs, announce: prefixes }, { addPath: v4uni });
    expect(msgs.length).toBe(Math.ceil(2000 / Math.floor((4096 - 23 - 21) / 9)));
    const back = msgs.flatMap((b) => {
      const m = decodeMessage(b, { addPath: v4uni });
      return m.type === MessageType.UPDATE ? m.nlri : [];
    });
    expect(back).toEqual(prefixes);
  });

  test("capability decode/encode and negotiation per direction", () => {
    const caps: Capability[] = [
      { kind: "add-path", families: [{ afi: 1, safi: 1, sendReceive: 3 }, { afi: 2, safi: 1, sendReceive: 1 }] },
      { kind: "extended-message" },
    ];
    const open: Message = { type: MessageType.OPEN, version: 4, myAs: 65000, holdTime: 90, bgpId: 1, capabilities: caps };
    const bytes = encodeMessage(open);
    expect(toHex(bytes.subarray(29))).toBe("020c" + "450800010103" + "00020101" + "0600");
    expect(decodeMessage(bytes)).toEqual(open);
    expect(() => decodeMessage(message(1, "04fde8005a00000001050203450100"))).toThrow(/ADD-PATH capability length 1/);
    // We receive and send for IPv4; for IPv6 we only receive, and the peer (FRR-like) only receives.
    const peer: Capability[] = [{ kind: "add-path", families: [{ afi: 1, safi: 1, sendReceive: 2 }, { afi: 2, safi: 1, sendReceive: 1 }] }];
    expect(negotiateAddPath(caps, peer)).toEqual({ receive: [{ afi: 1, safi: 1 }], send: [] });
    expect(negotiateAddPath(peer, caps)).toEqual({ receive: [], send: [{ afi: 1, safi: 1 }] });
    expect(negotiateAddPath(caps, [])).toEqual({ receive: [], send: [] });
  });
});
