// Path attributes (RFC 4271 §4.3/§5 and the RFCs that add attributes), decoded into one plain record
// the RIB can keep, with RFC 7606 revised error handling: each malformed attribute is classified as
// session reset (thrown), treat-as-withdraw or attribute-discard (reported as an UpdateIssue).
import type { IPAddress } from "../../net/ip.ts";
import { Afi, AttrFlag, AttrType, ErrorCode, Safi, UpdateErrorSubcode } from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import { decodeAddress, decodePrefixes, encodeAddress, encodePrefixes, type NlriPrefix } from "./prefix.ts";
import { type ByteWriter, checkUint, readU16, readU32 } from "./writer.ts";

export type AsPathSegmentTypeCode = 1 | 2 | 3 | 4;

export interface AsPathSegment {
  type: AsPathSegmentTypeCode;
  asns: number[];
}

export interface Aggregator {
  asn: number;
  /** IPv4 address of the aggregating speaker, as a uint32. */
  address: number;
}

export interface LargeCommunity {
  global: number;
  local1: number;
  local2: number;
}

export interface MpReach {
  afi: number;
  safi: number;
  /** One next hop, or for IPv6 the global address followed by the link-local one (RFC 2545). */
  nextHops: IPAddress[];
  nlri: NlriPrefix[];
  /** For AFI/SAFIs this codec does not parse: everything after AFI/SAFI, kept verbatim. */
  raw?: Uint8Array;
}

export interface MpUnreach {
  afi: number;
  safi: number;
  withdrawn: NlriPrefix[];
  raw?: Uint8Array;
}

/** An unrecognized optional transitive attribute, passed on with the Partial bit set. */
export interface RawAttribute {
  flags: number;
  type: number;
  value: Uint8Array;
}

/**
 * All attributes of one UPDATE. Router IDs, ORIGINATOR_ID, CLUSTER_LIST entries and aggregator
 * addresses are uint32 numbers; communities are uint32 (AS << 16 | value); extended communities are
 * 64-bit bigints.
 */
export interface PathAttributes {
  origin?: number;
  asPath?: AsPathSegment[];
  nextHop?: IPAddress;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: Aggregator;
  communities?: number[];
  originatorId?: number;
  clusterList?: number[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  extCommunities?: bigint[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: Aggregator;
  largeCommunities?: LargeCommunity[];
  unknown?: RawAttribute[];
}

export type UpdateErrorAction = "treat-as-withdraw" | "attribute-discard";

/** A non-fatal error found in an UPDATE (RFC 7606); the fatal ones are thrown as BgpWireError. */
export interface UpdateIssue {
  action: UpdateErrorAction;
  code: number;
  subcode: number;
  /** What a NOTIFICATION for this error would carry (usually the offending attribute). */
  data: Uint8Array;
  attrType: number;
  detail: string;
}

export interface AttributeCodecOptions {
  /** Whether both sides announced the 4-octet AS capability (RFC 6793). */
  fourOctetAs: boolean;
  /** Families whose NLRI carry ADD-PATH Path Identifiers in this direction (RFC 7911). */
  addPath?: readonly { afi: number; safi: number }[];
}

export const carriesPathIds = (opts: { addPath?: readonly { afi: number; safi: number }[] }, afi: number, safi: number): boolean =>
  opts.addPath?.some((f) => f.afi === afi && f.safi === safi) ?? false;

type Action = UpdateErrorAction | "session-reset";

/** RFC 7606 §7 (and RFC 6793 §6, RFC 8092 §6): what an error in each attribute leads to. */
function actionFor(type: number): Action {
  switch (type) {
    case AttrType.ATOMIC_AGGREGATE:
    case AttrType.AGGREGATOR:
    case AttrType.AS4_PATH:
    case AttrType.AS4_AGGREGATOR:
      return "attribute-discard";
    case AttrType.MP_REACH_NLRI:
    case AttrType.MP_UNREACH_NLRI:
      return "session-reset";
    default:
      return "treat-as-withdraw";
  }
}

const WELL_KNOWN = AttrFlag.TRANSITIVE;
const OPTIONAL = AttrFlag.OPTIONAL;
const OPTIONAL_TRANSITIVE = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;

/** The Optional/Transitive bits each known attribute must carry. */
const EXPECTED_FLAGS: Readonly<Record<number, number>> = {
  1: WELL_KNOWN,
  2: WELL_KNOWN,
  3: WELL_KNOWN,
  4: OPTIONAL,
  5: WELL_KNOWN,
  6: WELL_KNOWN,
  7: OPTIONAL_TRANSITIVE,
  8: OPTIONAL_TRANSITIVE,
  9: OPTIONAL,
  10: OPTIONAL,
  14: OPTIONAL,
  15: OPTIONAL,
  16: OPTIONAL_TRANSITIVE,
  17: OPTIONAL_TRANSITIVE,
  18: OPTIONAL_TRANSITIVE,
  32: OPTIONAL_TRANSITIVE,
};

export const isKnownAttribute = (type: number): boolean => EXPECTED_FLAGS[type] !== undefined;

export interface DecodedAttributes {
  attrs: PathAttributes;
  /** seen[type] is 1 when an attribute of that type appeared (even if malformed). */
  seen: Uint8Array;
}

/**
 * Decodes the path attribute field b[start, end). Fatal errors throw BgpWireError; the rest are
 * appended to `issues` and the offending attribute is left out of the result.
 */
export function decodeAttributes(
  b: Uint8Array,
  start: number,
  end: number,
  opts: AttributeCodecOptions,
  issues: UpdateIssue[],
): DecodedAttributes {
  const attrs: PathAttributes = {};
  const seen = new Uint8Array(256);
  let o = start;
  while (o < end) {
    const attrStart = o;
    const flags = b[o] ?? 0;
    const type = b[o + 1] ?? 0;
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    const headerLen = ext ? 4 : 3;
    const len = end - o < headerLen ? -1 : ext ? readU16(b, o + 2) : (b[o + 2] ?? 0);
    if (len < 0 || o + headerLen + len > end) {
      // RFC 7606 §4: treat-as-withdraw, the NLRI field is still found through the Total Path Attribute
      // Length. But if no MP attribute was parsed yet, MP NLRI may hide in the unreadable tail and
      // could not be withdrawn, so only a session reset is safe then.
      const detail = `attribute ${type} at offset ${attrStart - start} overruns the path attribute field`;
      if (!seen[AttrType.MP_REACH_NLRI] && !seen[AttrType.MP_UNREACH_NLRI]) {
        throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST, new Uint8Array(0), detail);
      }
      issues.push({
        action: "treat-as-withdraw",
        code: ErrorCode.UPDATE_MESSAGE,
        subcode: UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST,
        data: new Uint8Array(0),
        attrType: type,
        detail,
      });
      break;
    }
    const vs = o + headerLen;
    const ve = vs + len;
    o = ve;

    const fail = (subcode: number, detail: string, data: Uint8Array = b.slice(attrStart, ve)): void => {
      const action = actionFor(type);
      if (action === "session-reset") throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, subcode, data, detail);
      issues.push({ action, code: ErrorCode.UPDATE_MESSAGE, subcode, data, attrType: type, detail });
    };

    if (seen[type]) {
      if (type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI) {
        throw new BgpWireError(
          ErrorCode.UPDATE_MESSAGE,
          UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST,
          new Uint8Array(0),
          `duplicate attribute ${type}`,
        );
      }
      // RFC 7606 §3.g: keep the first, discard the rest.
      issues.push({
        action: "attribute-discard",
        code: ErrorCode.UPDATE_MESSAGE,
        subcode: UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST,
        data: new Uint8Array(0),
        attrType: type,
        detail: `duplicate attribute ${type} discarded`,
      });
      continue;
    }
    seen[type] = 1;

    const expected = EXPECTED_FLAGS[type];
    if (expected === undefined) {
      if ((flags & AttrFlag.OPTIONAL) === 0) {
        throw new BgpWireError(
          ErrorCode.UPDATE_MESSAGE,
          UpdateErrorSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
          b.slice(attrStart, ve),
          `unrecognized well-known attribute ${type}`,
        );
      }
      if (flags & AttrFlag.TRANSITIVE) {
        (attrs.unknown ??= []).push({ flags: flags & 0xe0, type, value: b.slice(vs, ve) });
      }
      continue;
    }
    // RFC 7606 §3.c judges the Optional and Transitive bits only; a stray Partial bit is tolerated.
    if ((flags & 0xc0) !== expected) {
      fail(UpdateErrorSubcode.ATTRIBUTE_FLAGS_ERROR, `attribute ${type} has flags 0x${flags.toString(16)}`);
      continue;
    }
    decodeValue(type, b, vs, len, opts, attrs, fail);
  }
  return { attrs, seen };
}

type Fail = (subcode: number, detail: string, data?: Uint8Array) => void;

const LENGTH = UpdateErrorSubcode.ATTRIBUTE_LENGTH_ERROR;
const NO_DATA = new Uint8Array(0);

function decodeValue(
  type: number,
  b: Uint8Array,
  vs: number,
  len: number,
  opts: AttributeCodecOptions,
  attrs: PathAttributes,
  fail: Fail,
): void {
  switch (type) {
    case AttrType.ORIGIN: {
      if (len !== 1) return fail(LENGTH, `ORIGIN length ${len}`);
      const v = b[vs] ?? 0;
      if (v > 2) return fail(UpdateErrorSubcode.INVALID_ORIGIN_ATTRIBUTE, `ORIGIN value ${v}`);
      attrs.origin = v;
      return;
    }
    case AttrType.AS_PATH: {
      const path = decodeAsPath(b, vs, len, opts.fourOctetAs ? 4 : 2);
      if (typeof path === "string") return fail(UpdateErrorSubcode.MALFORMED_AS_PATH, path, NO_DATA);
      attrs.asPath = path;
      return;
    }
    case AttrType.NEXT_HOP: {
      if (len !== 4) return fail(LENGTH, `NEXT_HOP length ${len}`);
      const v = readU32(b, vs);
      // 0.0.0.0, 255.255.255.255 and multicast can never be a next hop (RFC 4271 §6.3).
      if (v === 0 || v === 0xffffffff || v >>> 28 === 0xe) {
        return fail(UpdateErrorSubcode.INVALID_NEXT_HOP_ATTRIBUTE, `NEXT_HOP ${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`);
      }
      attrs.nextHop = { family: 4, value: BigInt(v) };
      return;
    }
    case AttrType.MULTI_EXIT_DISC:
      if (len !== 4) return fail(LENGTH, `MULTI_EXIT_DISC length ${len}`);
      attrs.med = readU32(b, vs);
      return;
    case AttrType.LOCAL_PREF:
      if (len !== 4) return fail(LENGTH, `LOCAL_PREF length ${len}`);
      attrs.localPref = readU32(b, vs);
      return;
    case AttrType.ATOMIC_AGGREGATE:
      if (len !== 0) return fail(LENGTH, `ATOMIC_AGGREGATE length ${len}`);
      attrs.atomicAggregate = true;
      return;
    case AttrType.AGGREGATOR: {
      const want = opts.fourOctetAs ? 8 : 6;
      if (len !== want) return fail(LENGTH, `AGGREGATOR length ${len}, expected ${want}`);
      attrs.aggregator = opts.fourOctetAs
        ? { asn: readU32(b, vs), address: readU32(b, vs + 4) }
        : { asn: readU16(b, vs), address: readU32(b, vs + 2) };
      return;
    }
    case AttrType.COMMUNITIES: {
      if (len === 0 || len % 4 !== 0) return fail(LENGTH, `COMMUNITIES length ${len} is not a non-zero multiple of 4`);
      const out: number[] = [];
      for (let i = vs; i < vs + len; i += 4) out.push(readU32(b, i));
      attrs.communities = out;
      return;
    }
    case AttrType.ORIGINATOR_ID:
      if (len !== 4) return fail(LENGTH, `ORIGINATOR_ID length ${len}`);
      attrs.originatorId = readU32(b, vs);
      return;
    case AttrType.CLUSTER_LIST: {
      if (len === 0 || len % 4 !== 0) return fail(LENGTH, `CLUSTER_LIST length ${len} is not a non-zero multiple of 4`);
      const out: number[] = [];
      for (let i = vs; i < vs + len; i += 4) out.push(readU32(b, i));
      attrs.clusterList = out;
      return;
    }
    case AttrType.MP_REACH_NLRI:
      attrs.mpReach = decodeMpReach(b, vs, len, opts, fail);
      return;
    case AttrType.MP_UNREACH_NLRI:
      attrs.mpUnreach = decodeMpUnreach(b, vs, len, opts, fail);
      return;
    case AttrType.EXTENDED_COMMUNITIES: {
      if (len === 0 || len % 8 !== 0) return fail(LENGTH, `EXTENDED_COMMUNITIES length ${len} is not a non-zero multiple of 8`);
      const out: bigint[] = [];
      for (let i = vs; i < vs + len; i += 8) out.push((BigInt(readU32(b, i)) << 32n) | BigInt(readU32(b, i + 4)));
      attrs.extCommunities = out;
      return;
    }
    case AttrType.AS4_PATH: {
      // RFC 6793 §3: between two NEW speakers AS4_PATH must not appear; if it does, drop it.
      if (opts.fourOctetAs) return;
      const path = decodeAsPath(b, vs, len, 4);
      if (typeof path === "string") return fail(UpdateErrorSubcode.OPTIONAL_ATTRIBUTE_ERROR, `AS4_PATH: ${path}`);
      attrs.as4Path = path;
      return;
    }
    case AttrType.AS4_AGGREGATOR:
      if (opts.fourOctetAs) return;
      if (len !== 8) return fail(LENGTH, `AS4_AGGREGATOR length ${len}`);
      attrs.as4Aggregator = { asn: readU32(b, vs), address: readU32(b, vs + 4) };
      return;
    case AttrType.LARGE_COMMUNITY: {
      if (len === 0 || len % 12 !== 0) return fail(LENGTH, `LARGE_COMMUNITY length ${len} is not a non-zero multiple of 12`);
      const out: LargeCommunity[] = [];
      for (let i = vs; i < vs + len; i += 12) out.push({ global: readU32(b, i), local1: readU32(b, i + 4), local2: readU32(b, i + 8) });
      attrs.largeCommunities = out;
      return;
    }
  }
}

/** Returns the segments, or a reason string when malformed (RFC 7606 §7.2). */
function decodeAsPath(b: Uint8Array, vs: number, len: number, asSize: 2 | 4): AsPathSegment[] | string {
  const out: AsPathSegment[] = [];
  const end = vs + len;
  let o = vs;
  while (o < end) {
    if (end - o < 2) return "truncated segment header";
    const type = b[o] ?? 0;
    const count = b[o + 1] ?? 0;
    if (type < 1 || type > 4) return `unknown segment type ${type}`;
    if (count === 0) return "empty segment";
    o += 2;
    if (o + count * asSize > end) return `segment of ${count} ASNs overruns the attribute`;
    const asns: number[] = new Array<number>(count);
    for (let i = 0; i < count; i++, o += asSize) asns[i] = asSize === 4 ? readU32(b, o) : readU16(b, o);
    out.push({ type: type as AsPathSegmentTypeCode, asns });
  }
  return out;
}

const isPrefixFamily = (afi: number, safi: number): boolean =>
  (afi === Afi.IPV4 || afi === Afi.IPV6) && (safi === Safi.UNICAST || safi === Safi.MULTICAST);

function mpPrefixes(b: Uint8Array, start: number, end: number, afi: number, pathIds: boolean, fail: Fail): NlriPrefix[] {
  try {
    return decodePrefixes(b, start, end, afi === Afi.IPV4 ? 4 : 6, UpdateErrorSubcode.OPTIONAL_ATTRIBUTE_ERROR, pathIds);
  } catch (e) {
    // Re-thrown by `fail` (MP errors always reset the session) with the attribute as data.
    fail(UpdateErrorSubcode.OPTIONAL_ATTRIBUTE_ERROR, `MP NLRI: ${(e as BgpWireError).detail}`);
    return [];
  }
}

function decodeMpReach(b: Uint8Array, vs: number, len: number, opts: AttributeCodecOptions, fail: Fail): MpReach | undefined {
  if (len < 5) {
    fail(UpdateErrorSubcode.OPTIONAL_ATTRIBUTE_ERROR, `MP_REACH_NLRI length ${len}`);
    return undefined;
  }
  const afi = readU16(b, vs);
  const safi = b[vs + 2] ?? 0;
  if (!isPrefixFamily(afi, safi)) return { afi, safi, nextHops: [], nlri: [], raw: b.slice(vs + 3, vs + len) };
  const nhLen = b[vs + 3] ?? 0;
  const nhStart = vs + 4;
  if (nhStart + nhLen + 1 > vs + len) {
    fail(UpdateErrorSubcode.OPTIONAL_ATTRIBUTE_ERROR, `MP_REACH_NLRI next hop length ${nhLen} overruns the attribute`);
    return undefined;
  }
  const nextHops: IPAddress[] = [];
  if (afi === Afi.IPV4 && nhLen === 4) nextHops.push(decodeAddress(b, nhStart, 4));
  else if (nhLen === 16 || nhLen === 32) {
    // 16/32 octets for IPv6 (RFC 2545), and for IPv4 NLRI with an IPv6 next hop (RFC 8950).
    nextHops.push(decodeAddress(b, nhStart, 6));
    if (nhLen === 32) nextHops.push(decodeAddress(b, nhStart + 16, 6));
  } else {
    fail(UpdateErrorSubcode.OPTIONAL_ATTRIBUTE_ERROR, `MP_REACH_NLRI next hop length ${nhLen} for AFI ${afi}`);
    return undefined;
  }
  // The octet after the next hop is reserved (was SNPA count); RFC 4760 says ignore it.
  const nlri = mpPrefixes(b, nhStart + nhLen + 1, vs + len, afi, carriesPathIds(opts, afi, safi), fail);
  return { afi, safi, nextHops, nlri };
}

function decodeMpUnreach(b: Uint8Array, vs: number, len: number, opts: AttributeCodecOptions, fail: Fail): MpUnreach | undefined {
  if (len < 3) {
    fail(UpdateErrorSubcode.OPTIONAL_ATTRIBUTE_ERROR, `MP_UNREACH_NLRI length ${len}`);
    return undefined;
  }
  const afi = readU16(b, vs);
  const safi = b[vs + 2] ?? 0;
  if (!isPrefixFamily(afi, safi)) return { afi, safi, withdrawn: [], raw: b.slice(vs + 3, vs + len) };
  return { afi, safi, withdrawn: mpPrefixes(b, vs + 3, vs + len, afi, carriesPathIds(opts, afi, safi), fail) };
}

// ---------------------------------------------------------------------------------------------
// Encoding: canonical flags, type-code order, Extended Length only when the value needs it.

/** Writes flags|type|len(2) then the value, and drops to a 1-octet length when it fits. */
function attribute(w: ByteWriter, flags: number, type: number, value: (w: ByteWriter) => void): void {
  w.ensure(4);
  const start = w.pos;
  w.buf[w.pos++] = flags | AttrFlag.EXTENDED_LENGTH;
  w.buf[w.pos++] = type;
  w.pos += 2;
  value(w);
  const len = w.pos - start - 4;
  if (len > 0xffff) throw new RangeError(`attribute ${type} is ${len} octets, more than 65535`);
  if (len <= 255) {
    w.buf[start] = flags;
    w.buf[start + 2] = len;
    w.buf.copyWithin(start + 3, start + 4, w.pos);
    w.pos--;
  } else {
    w.setU16(start + 2, len);
  }
}

function encodeAsPath(w: ByteWriter, path: readonly AsPathSegment[], asSize: 2 | 4, name: string): void {
  for (const seg of path) {
    checkUint(`${name} segment type`, seg.type, 4);
    if (seg.type < 1) throw new RangeError(`${name} segment type ${seg.type}`);
    const isSet = seg.type === 1 || seg.type === 4;
    if (seg.asns.length === 0 || (isSet && seg.asns.length > 255)) throw new RangeError(`${name} segment holds ${seg.asns.length} ASNs (1..255)`);
    // A sequence longer than 255 ASNs (heavy prepending) goes out as consecutive segments.
    for (let i = 0; i < seg.asns.length; i += 255) encodeSegment(w, seg.type, seg.asns.slice(i, i + 255), asSize, name);
  }
}

function encodeSegment(w: ByteWriter, type: number, asns: readonly number[], asSize: 2 | 4, name: string): void {
  w.u8(type);
  w.u8(asns.length);
  for (const asn of asns) {
    if (asSize === 2) {
      checkUint(`2-octet ${name} ASN (map it with toOldSpeaker first)`, asn, 0xffff);
      w.u16(asn);
    } else {
      checkUint(`${name} ASN`, asn, 0xffffffff);
      w.u32(asn);
    }
  }
}

function encodeMpReach(w: ByteWriter, mp: MpReach, opts: AttributeCodecOptions): void {
  checkUint("AFI", mp.afi, 0xffff);
  checkUint("SAFI", mp.safi, 0xff);
  w.u16(mp.afi);
  w.u8(mp.safi);
  if (mp.raw) {
    w.bytes(mp.raw);
    return;
  }
  if (mp.nextHops.length === 0 || mp.nextHops.length > 2) throw new RangeError(`MP_REACH_NLRI needs 1 or 2 next hops, got ${mp.nextHops.length}`);
  w.u8(mp.nextHops.reduce((n, a) => n + (a.family === 4 ? 4 : 16), 0));
  for (const nh of mp.nextHops) encodeAddress(w, nh);
  w.u8(0);
  encodePrefixes(w, mp.nlri, mp.afi === Afi.IPV4 ? 4 : 6, carriesPathIds(opts, mp.afi, mp.safi));
}

function encodeMpUnreach(w: ByteWriter, mp: MpUnreach, opts: AttributeCodecOptions): void {
  checkUint("AFI", mp.afi, 0xffff);
  checkUint("SAFI", mp.safi, 0xff);
  w.u16(mp.afi);
  w.u8(mp.safi);
  if (mp.raw) w.bytes(mp.raw);
  else encodePrefixes(w, mp.withdrawn, mp.afi === Afi.IPV4 ? 4 : 6, carriesPathIds(opts, mp.afi, mp.safi));
}

function encodeAggregator(w: ByteWriter, a: Aggregator, four: boolean): void {
  if (four) {
    checkUint("AGGREGATOR ASN", a.asn, 0xffffffff);
    w.u32(a.asn);
  } else {
    checkUint("2-octet AGGREGATOR ASN (map it with toOldSpeaker first)", a.asn, 0xffff);
    w.u16(a.asn);
  }
  w.u32(a.address);
}

function encodeKnown(w: ByteWriter, type: number, a: PathAttributes, opts: AttributeCodecOptions): void {
  const asSize = opts.fourOctetAs ? 4 : 2;
  switch (type) {
    case AttrType.ORIGIN:
      if (a.origin === undefined) return;
      checkUint("ORIGIN", a.origin, 2);
      return attribute(w, WELL_KNOWN, type, (w) => w.u8(a.origin ?? 0));
    case AttrType.AS_PATH:
      if (!a.asPath) return;
      return attribute(w, WELL_KNOWN, type, (w) => encodeAsPath(w, a.asPath ?? [], asSize, "AS_PATH"));
    case AttrType.NEXT_HOP:
      if (!a.nextHop) return;
      if (a.nextHop.family !== 4) throw new RangeError("NEXT_HOP must be IPv4; use MP_REACH_NLRI for IPv6");
      return attribute(w, WELL_KNOWN, type, (w) => encodeAddress(w, a.nextHop as IPAddress));
    case AttrType.MULTI_EXIT_DISC:
      if (a.med === undefined) return;
      checkUint("MED", a.med, 0xffffffff);
      return attribute(w, OPTIONAL, type, (w) => w.u32(a.med ?? 0));
    case AttrType.LOCAL_PREF:
      if (a.localPref === undefined) return;
      checkUint("LOCAL_PREF", a.localPref, 0xffffffff);
      return attribute(w, WELL_KNOWN, type, (w) => w.u32(a.localPref ?? 0));
    case AttrType.ATOMIC_AGGREGATE:
      if (!a.atomicAggregate) return;
      return attribute(w, WELL_KNOWN, type, () => {});
    case AttrType.AGGREGATOR:
      if (!a.aggregator) return;
      return attribute(w, OPTIONAL_TRANSITIVE, type, (w) => encodeAggregator(w, a.aggregator as Aggregator, opts.fourOctetAs));
    case AttrType.COMMUNITIES:
      if (!a.communities?.length) return;
      return attribute(w, OPTIONAL_TRANSITIVE, type, (w) => {
        for (const c of a.communities ?? []) w.u32(c);
      });
    case AttrType.ORIGINATOR_ID:
      if (a.originatorId === undefined) return;
      return attribute(w, OPTIONAL, type, (w) => w.u32(a.originatorId ?? 0));
    case AttrType.CLUSTER_LIST:
      if (!a.clusterList?.length) return;
      return attribute(w, OPTIONAL, type, (w) => {
        for (const c of a.clusterList ?? []) w.u32(c);
      });
    case AttrType.MP_REACH_NLRI:
      if (!a.mpReach) return;
      return attribute(w, OPTIONAL, type, (w) => encodeMpReach(w, a.mpReach as MpReach, opts));
    case AttrType.MP_UNREACH_NLRI:
      if (!a.mpUnreach) return;
      return attribute(w, OPTIONAL, type, (w) => encodeMpUnreach(w, a.mpUnreach as MpUnreach, opts));
    case AttrType.EXTENDED_COMMUNITIES:
      if (!a.extCommunities?.length) return;
      return attribute(w, OPTIONAL_TRANSITIVE, type, (w) => {
        for (const c of a.extCommunities ?? []) {
          if (c < 0n || c > 0xffffffffffffffffn) throw new RangeError(`extended community ${c} is not 64-bit`);
          w.u32(Number(c >> 32n));
          w.u32(Number(c & 0xffffffffn));
        }
      });
    case AttrType.AS4_PATH:
      // RFC 6793: only ever sent towards an OLD speaker.
      if (!a.as4Path || opts.fourOctetAs) return;
      return attribute(w, OPTIONAL_TRANSITIVE, type, (w) => encodeAsPath(w, a.as4Path ?? [], 4, "AS4_PATH"));
    case AttrType.AS4_AGGREGATOR:
      if (!a.as4Aggregator || opts.fourOctetAs) return;
      return attribute(w, OPTIONAL_TRANSITIVE, type, (w) => encodeAggregator(w, a.as4Aggregator as Aggregator, true));
    case AttrType.LARGE_COMMUNITY:
      if (!a.largeCommunities?.length) return;
      return attribute(w, OPTIONAL_TRANSITIVE, type, (w) => {
        for (const c of a.largeCommunities ?? []) {
          w.u32(c.global);
          w.u32(c.local1);
          w.u32(c.local2);
        }
      });
  }
}

const KNOWN_ORDER: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32];

/** Writes all attributes in type-code order (known and unknown interleaved). */
export function encodeAttributes(w: ByteWriter, a: PathAttributes, opts: AttributeCodecOptions): void {
  const unknown = a.unknown?.length ? [...a.unknown].sort((x, y) => x.type - y.type) : [];
  let u = 0;
  for (const type of KNOWN_ORDER) {
    while (u < unknown.length && (unknown[u]?.type ?? 0) < type) writeUnknown(w, unknown[u++] as RawAttribute);
    encodeKnown(w, type, a, opts);
  }
  while (u < unknown.length) writeUnknown(w, unknown[u++] as RawAttribute);
}

function writeUnknown(w: ByteWriter, r: RawAttribute): void {
  checkUint("attribute type", r.type, 255);
  if (isKnownAttribute(r.type)) throw new RangeError(`attribute ${r.type} is known; set its field instead of passing it raw`);
  if ((r.flags & OPTIONAL_TRANSITIVE) !== OPTIONAL_TRANSITIVE) throw new RangeError(`raw attribute ${r.type} must be optional transitive`);
  // RFC 4271 §5: an unrecognized transitive attribute is passed on with the Partial bit set.
  attribute(w, OPTIONAL_TRANSITIVE | AttrFlag.PARTIAL, r.type, (w) => w.bytes(r.value));
}

