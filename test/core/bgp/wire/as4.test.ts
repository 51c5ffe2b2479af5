import { describe, expect, test } from "@jest/globals";
import {
  AS_TRANS,
  type AsPathSegment,
  asPathLength,
  decodeMessage,
  encodeMessage,
  formatAsPath,
  fromOldSpeaker,
  mergeAs4Path,
  MessageType,
  type PathAttributes,
  toOldSpeaker,
} from "../../../../src/core/bgp/wire/index.ts";

const seq = (...asns: number[]): AsPathSegment => ({ type: 2, asns });
const set = (...asns: number[]): AsPathSegment => ({ type: 1, asns });
const confed = (...asns: number[]): AsPathSegment => ({ type: 3, asns });

describe("RFC 6793 path length and merge", () => {
  test("path length counts an AS_SET as one and confederation segments as zero", () => {
    expect(asPathLength([seq(1, 2, 3), set(4, 5, 6), confed(7, 8)])).toBe(4);
    expect(formatAsPath([confed(7), seq(1, 2), set(4, 5)])).toBe("(7) 1 2 {4 5}");
  });

  const cases: { name: string; asPath: AsPathSegment[]; as4Path: AsPathSegment[]; want: AsPathSegment[] }[] = [
    {
      name: "the captured old-speaker path",
      asPath: [seq(AS_TRANS, AS_TRANS, 65010)],
      as4Path: [seq(4200000001, 4200000002, 65010)],
      want: [seq(4200000001, 4200000002, 65010)],
    },
    {
      name: "an OLD speaker prepended its own AS after the NEW ones",
      asPath: [seq(65020, 65021, AS_TRANS, 65010)],
      as4Path: [seq(4200000001, 65010)],
      want: [seq(65020, 65021, 4200000001, 65010)],
    },
    {
      name: "AS4_PATH longer than AS_PATH is ignored",
      asPath: [seq(AS_TRANS, 65010)],
      as4Path: [seq(4200000001, 4200000002, 65010)],
      want: [seq(AS_TRANS, 65010)],
    },
    {
      name: "an AS_SET in the leading part counts as one",
      asPath: [set(1, 2, 3), seq(AS_TRANS)],
      as4Path: [seq(4200000001)],
      want: [set(1, 2, 3), seq(4200000001)],
    },
    {
      name: "sets inside AS4_PATH are kept",
      asPath: [seq(65001, AS_TRANS), set(AS_TRANS, 7)],
      as4Path: [seq(4200000001), set(4200000002, 7)],
      want: [seq(65001, 4200000001), set(4200000002, 7)],
    },
    {
      name: "leading confederation segments stay",
      asPath: [confed(64512), seq(AS_TRANS, 65010)],
      as4Path: [seq(4200000001, 65010)],
      want: [confed(64512), seq(4200000001, 65010)],
    },
  ];
  test.each(cases)("$name", ({ asPath, as4Path, want }) => {
    expect(mergeAs4Path(asPath, as4Path)).toEqual(want);
  });
});

describe("RFC 6793 towards and from an OLD speaker", () => {
  const real: PathAttributes = {
    origin: 0,
    asPath: [confed(64512), seq(4200000001, 65010, 4200000002)],
    nextHop: { family: 4, value: 0xc0000204n },
    aggregator: { asn: 4200000002, address: 0x0a000001 },
  };

  test("toOldSpeaker maps non-mappable ASNs to AS_TRANS and adds AS4_PATH without confed segments", () => {
    const old = toOldSpeaker(real);
    expect(old.asPath).toEqual([confed(64512), seq(AS_TRANS, 65010, AS_TRANS)]);
    expect(old.as4Path).toEqual([seq(4200000001, 65010, 4200000002)]);
    expect(old.aggregator).toEqual({ asn: AS_TRANS, address: 0x0a000001 });
    expect(old.as4Aggregator).toEqual({ asn: 4200000002, address: 0x0a000001 });
    // Nothing to add when every ASN fits in two octets.
    const plain = toOldSpeaker({ asPath: [seq(65000)], aggregator: { asn: 65000, address: 1 } });
    expect(plain.as4Path).toBeUndefined();
    expect(plain.as4Aggregator).toBeUndefined();
  });

  test("the round trip over a 2-octet session gives back the real path", () => {
    const bytes = encodeMessage(
      { type: MessageType.UPDATE, withdrawn: [], attrs: toOldSpeaker(real), nlri: [{ family: 4, addr: 0x0a020000n, len: 24 }] },
      { fourOctetAs: false },
    );
    const m = decodeMessage(bytes, { fourOctetAs: false });
    if (m.type !== MessageType.UPDATE) throw new Error("not an UPDATE");
    expect(fromOldSpeaker(m.attrs)).toEqual(real);
  });

  test("AGGREGATOR that is not AS_TRANS: AS4_AGGREGATOR and AS4_PATH are both ignored", () => {
    const got = fromOldSpeaker({
      asPath: [seq(65001, AS_TRANS)],
      as4Path: [seq(4200000001)],
      aggregator: { asn: 65001, address: 5 },
      as4Aggregator: { asn: 4200000009, address: 5 },
    });
    expect(got).toEqual({ asPath: [seq(65001, AS_TRANS)], aggregator: { asn: 65001, address: 5 } });
  });

  test("AGGREGATOR AS_TRANS: AS4_AGGREGATOR is taken and the path rebuilt", () => {
    const got = fromOldSpeaker({
      asPath: [seq(65001, AS_TRANS)],
      as4Path: [seq(4200000001)],
      aggregator: { asn: AS_TRANS, address: 5 },
      as4Aggregator: { asn: 4200000009, address: 5 },
    });
    expect(got).toEqual({ asPath: [seq(65001, 4200000001)], aggregator: { asn: 4200000009, address: 5 } });
  });

  test("confederation segments in a received AS4_PATH are dropped before merging", () => {
    expect(fromOldSpeaker({ asPath: [seq(AS_TRANS, 1)], as4Path: [confed(9), seq(4200000001, 1)] }).asPath).toEqual([seq(4200000001, 1)]);
  });
});
