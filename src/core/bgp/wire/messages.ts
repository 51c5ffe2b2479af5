// The five BGP messages (RFC 4271 §4, RFC 2918, RFC 7313) and their codec. One call decodes one
// whole message (header included); MessageFramer cuts a TCP byte stream into such messages.
import { type Capability, decodeCapabilities, encodeCapability } from "./capabilities.ts";
import {
  type AttributeCodecOptions,
  carriesPathIds,
  decodeAttributes,
  encodeAttributes,
  type PathAttributes,
  type UpdateIssue,
} from "./attributes.ts";
import {
  AttrType,
  BGP_VERSION,
  ErrorCode,
  HEADER_LENGTH,
  HeaderErrorSubcode,
  MARKER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  MIN_MESSAGE_LENGTH,
  OpenErrorSubcode,
  OptionalParameterType,
  RouteRefreshErrorSubcode,
  UpdateErrorSubcode,
} from "./constants.ts";
import { BgpWireError, u16Bytes } from "./errors.ts";
import { decodePrefixes, encodePrefixes, type NlriPrefix } from "./prefix.ts";
import { ByteWriter, checkUint, readU16, readU32 } from "./writer.ts";

export interface OpenMessage {
  type: typeof MessageType.OPEN;
  version: number;
  /** The 2-octet My AS field: AS_TRANS when the real AS needs 4 octets (see peerAsn). */
  myAs: number;
  holdTime: number;
  /** BGP Identifier as a uint32. */
  bgpId: number;
  capabilities: Capability[];
}

export interface UpdateMessage {
  type: typeof MessageType.UPDATE;
  /** IPv4 unicast withdrawals in the classic field; other families are in attrs.mpUnreach. */
  withdrawn: NlriPrefix[];
  attrs: PathAttributes;
  /** IPv4 unicast NLRI in the classic field; other families are in attrs.mpReach. */
  nlri: NlriPrefix[];
  /**
   * Non-fatal RFC 7606 findings, only present when there are some. If any says treat-as-withdraw the
   * receiver must withdraw every prefix of this UPDATE (see updateErrorAction).
   */
  issues?: UpdateIssue[];
}

export interface NotificationMessage {
  type: typeof MessageType.NOTIFICATION;
  code: number;
  subcode: number;
  data: Uint8Array;
}

export interface KeepaliveMessage {
  type: typeof MessageType.KEEPALIVE;
}

export interface RouteRefreshMessage {
  type: typeof MessageType.ROUTE_REFRESH;
  afi: number;
  safi: number;
  /** RFC 7313: 0 normal request, 1 BoRR, 2 EoRR; others must be ignored by the receiver. */
  subtype: number;
}

export type Message = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

export interface CodecOptions {
  /** 4-octet AS negotiated (RFC 6793); decides AS_PATH/AGGREGATOR width. Default true. */
  fourOctetAs?: boolean;
  /** 4096, or up to 65535 once Extended Message (RFC 8654) is negotiated. Default 4096. */
  maxMessageLength?: number;
  /**
   * Families whose NLRI carry ADD-PATH Path Identifiers in this direction (RFC 7911): for decoding,
   * those we said we receive and the peer said it sends; for encoding, the reverse.
   */
  addPath?: readonly { afi: number; safi: number }[];
  /** Encode only: all capabilities in one optional parameter (default) or one parameter each. */
  capabilityLayout?: "grouped" | "one-per-parameter";
}

const headerError = (subcode: number, data: Uint8Array, detail: string): BgpWireError =>
  new BgpWireError(ErrorCode.MESSAGE_HEADER, subcode, data, detail);

/**
 * Checks the marker and length of a header at b[o..o+19) and returns the total length. Does not look
 * at the type, so a framer can cut messages of any type out of the stream.
 */
export function checkHeader(b: Uint8Array, o: number, maxMessageLength = MAX_MESSAGE_LENGTH): number {
  for (let i = 0; i < MARKER_LENGTH; i++) {
    if (b[o + i] !== 0xff) throw headerError(HeaderErrorSubcode.CONNECTION_NOT_SYNCHRONIZED, new Uint8Array(0), "marker is not all ones");
  }
  const length = readU16(b, o + 16);
  if (length < HEADER_LENGTH || length > maxMessageLength) {
    throw headerError(HeaderErrorSubcode.BAD_MESSAGE_LENGTH, u16Bytes(length), `length ${length} outside ${HEADER_LENGTH}..${maxMessageLength}`);
  }
  return length;
}

/** Decodes exactly one message, header included. Throws only BgpWireError. */
export function decodeMessage(b: Uint8Array, opts: CodecOptions = {}): Message {
  if (b.length < HEADER_LENGTH) {
    // Fewer bytes than a header: if they are not even a marker, that is what is wrong.
    for (let i = 0; i < Math.min(b.length, MARKER_LENGTH); i++) {
      if (b[i] !== 0xff) throw headerError(HeaderErrorSubcode.CONNECTION_NOT_SYNCHRONIZED, new Uint8Array(0), "marker is not all ones");
    }
    throw headerError(HeaderErrorSubcode.BAD_MESSAGE_LENGTH, u16Bytes(b.length), `only ${b.length} octets, a header needs ${HEADER_LENGTH}`);
  }
  const length = checkHeader(b, 0, opts.maxMessageLength ?? MAX_MESSAGE_LENGTH);
  if (length !== b.length) {
    throw headerError(HeaderErrorSubcode.BAD_MESSAGE_LENGTH, u16Bytes(length), `length field ${length} but ${b.length} octets given`);
  }
  const type = b[18] ?? 0;
  const min = MIN_MESSAGE_LENGTH[type];
  if (min === undefined) throw headerError(HeaderErrorSubcode.BAD_MESSAGE_TYPE, Uint8Array.of(type), `unknown message type ${type}`);
  // OPEN and KEEPALIVE stay within 4096 even with Extended Message (RFC 8654 §4); KEEPALIVE is exactly 19.
  const max = type === MessageType.KEEPALIVE ? HEADER_LENGTH : type === MessageType.OPEN ? MAX_MESSAGE_LENGTH : length;
  if (length < min || length > max) {
    throw headerError(HeaderErrorSubcode.BAD_MESSAGE_LENGTH, u16Bytes(length), `length ${length} is wrong for message type ${type}`);
  }
  switch (type) {
    case MessageType.OPEN:
      return decodeOpen(b);
    case MessageType.UPDATE:
      return decodeUpdate(b, { fourOctetAs: opts.fourOctetAs ?? true, addPath: opts.addPath ?? [] });
    case MessageType.NOTIFICATION:
      return { type: MessageType.NOTIFICATION, code: b[19] ?? 0, subcode: b[20] ?? 0, data: b.slice(21) };
    case MessageType.KEEPALIVE:
      return { type: MessageType.KEEPALIVE };
    default:
      return decodeRouteRefresh(b);
  }
}

const openError = (subcode: number, detail: string, data: Uint8Array = new Uint8Array(0)): BgpWireError =>
  new BgpWireError(ErrorCode.OPEN_MESSAGE, subcode, data, detail);

function decodeOpen(b: Uint8Array): OpenMessage {
  const version = b[19] ?? 0;
  if (version !== BGP_VERSION) {
    throw openError(OpenErrorSubcode.UNSUPPORTED_VERSION_NUMBER, `version ${version}`, u16Bytes(BGP_VERSION));
  }
  const myAs = readU16(b, 20);
  const holdTime = readU16(b, 22);
  const bgpId = readU32(b, 24);
  let optLen = b[28] ?? 0;
  let o = 29;
  // RFC 9072: Non-Ext OP Len 255 + Non-Ext OP Type 255, then a 2-octet length and 2-octet param lengths.
  const extended = optLen === 255 && b[29] === OptionalParameterType.EXTENDED_LENGTH;
  if (extended) {
    if (b.length < 32) throw openError(OpenErrorSubcode.UNSPECIFIC, "truncated extended optional parameters length");
    optLen = readU16(b, 30);
    o = 32;
  }
  if (o + optLen !== b.length) {
    throw openError(OpenErrorSubcode.UNSPECIFIC, `optional parameters length ${optLen} does not match the message length ${b.length}`);
  }
  const capabilities: Capability[] = [];
  const end = o + optLen;
  const paramHeader = extended ? 3 : 2;
  while (o < end) {
    if (o + paramHeader > end) throw openError(OpenErrorSubcode.UNSPECIFIC, "truncated optional parameter header");
    const ptype = b[o] ?? 0;
    const plen = extended ? readU16(b, o + 1) : (b[o + 1] ?? 0);
    o += paramHeader;
    if (o + plen > end) throw openError(OpenErrorSubcode.UNSPECIFIC, `optional parameter ${ptype} length ${plen} overruns the parameters`);
    if (ptype !== OptionalParameterType.CAPABILITIES) {
      throw openError(OpenErrorSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, `optional parameter type ${ptype}`);
    }
    decodeCapabilities(b, o, o + plen, capabilities);
    o += plen;
  }
  if (holdTime === 1 || holdTime === 2) throw openError(OpenErrorSubcode.UNACCEPTABLE_HOLD_TIME, `hold time ${holdTime}`);
  if (bgpId === 0) throw openError(OpenErrorSubcode.BAD_BGP_IDENTIFIER, "BGP identifier 0");
  return { type: MessageType.OPEN, version, myAs, holdTime, bgpId, capabilities };
}

const updateError = (subcode: number, detail: string): BgpWireError =>
  new BgpWireError(ErrorCode.UPDATE_MESSAGE, subcode, new Uint8Array(0), detail);

function decodeUpdate(b: Uint8Array, opts: AttributeCodecOptions): UpdateMessage {
  const end = b.length;
  const withdrawnLen = readU16(b, 19);
  const wStart = 21;
  const wEnd = wStart + withdrawnLen;
  if (wEnd + 2 > end) throw updateError(UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST, `withdrawn routes length ${withdrawnLen} overruns the message`);
  const attrLen = readU16(b, wEnd);
  const aStart = wEnd + 2;
  const aEnd = aStart + attrLen;
  if (aEnd > end) throw updateError(UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST, `total path attribute length ${attrLen} overruns the message`);
  // Prefix fields first: errors there always reset the session, and RFC 7606 needs them parsed to
  // treat an UPDATE as a withdraw.
  const ids = carriesPathIds(opts, 1, 1);
  const withdrawn = decodePrefixes(b, wStart, wEnd, 4, UpdateErrorSubcode.INVALID_NETWORK_FIELD, ids);
  const nlri = decodePrefixes(b, aEnd, end, 4, UpdateErrorSubcode.INVALID_NETWORK_FIELD, ids);
  const issues: UpdateIssue[] = [];
  const { attrs, seen } = decodeAttributes(b, aStart, aEnd, opts, issues);
  // RFC 7606 §3.d: a missing well-known mandatory attribute means treat-as-withdraw (if there is NLRI).
  if (nlri.length > 0 || seen[AttrType.MP_REACH_NLRI]) {
    const mandatory = nlri.length > 0 ? [AttrType.ORIGIN, AttrType.AS_PATH, AttrType.NEXT_HOP] : [AttrType.ORIGIN, AttrType.AS_PATH];
    for (const t of mandatory) {
      if (!seen[t]) {
        issues.push({
          action: "treat-as-withdraw",
          code: ErrorCode.UPDATE_MESSAGE,
          subcode: UpdateErrorSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
          data: Uint8Array.of(t),
          attrType: t,
          detail: `missing well-known attribute ${t}`,
        });
      }
    }
  }
  const msg: UpdateMessage = { type: MessageType.UPDATE, withdrawn, attrs, nlri };
  if (issues.length > 0) msg.issues = issues;
  return msg;
}

function decodeRouteRefresh(b: Uint8Array): RouteRefreshMessage {
  const subtype = b[21] ?? 0;
  // RFC 7313 §5: BoRR/EoRR must be exactly 4 octets of body; a normal request may carry ORFs (ignored).
  if ((subtype === 1 || subtype === 2) && b.length !== 23) {
    throw new BgpWireError(
      ErrorCode.ROUTE_REFRESH_MESSAGE,
      RouteRefreshErrorSubcode.INVALID_MESSAGE_LENGTH,
      b.slice(),
      `ROUTE-REFRESH subtype ${subtype} with length ${b.length}`,
    );
  }
  return { type: MessageType.ROUTE_REFRESH, afi: readU16(b, 19), subtype, safi: b[22] ?? 0 };
}

// ---------------------------------------------------------------------------------------------

const scratch = new ByteWriter(8192);

/** Encodes one message. Invalid field values throw RangeError (a programming error, not wire input). */
export function encodeMessage(m: Message, opts: CodecOptions = {}): Uint8Array {
  const w = scratch;
  w.pos = 0;
  w.ensure(HEADER_LENGTH);
  w.buf.fill(0xff, 0, MARKER_LENGTH);
  w.pos = HEADER_LENGTH;
  w.buf[18] = m.type;
  switch (m.type) {
    case MessageType.OPEN:
      encodeOpen(w, m, opts);
      break;
    case MessageType.UPDATE:
      encodeUpdateBody(w, m, { fourOctetAs: opts.fourOctetAs ?? true, addPath: opts.addPath ?? [] });
      break;
    case MessageType.NOTIFICATION:
      checkUint("error code", m.code, 255);
      checkUint("error subcode", m.subcode, 255);
      w.u8(m.code);
      w.u8(m.subcode);
      w.bytes(m.data);
      break;
    case MessageType.KEEPALIVE:
      break;
    case MessageType.ROUTE_REFRESH:
      checkUint("AFI", m.afi, 0xffff);
      checkUint("SAFI", m.safi, 0xff);
      checkUint("ROUTE-REFRESH subtype", m.subtype, 0xff);
      w.u16(m.afi);
      w.u8(m.subtype);
      w.u8(m.safi);
      break;
    default:
      throw new RangeError(`unknown message type ${(m as { type: unknown }).type}`);
  }
  const max = m.type === MessageType.OPEN ? MAX_MESSAGE_LENGTH : (opts.maxMessageLength ?? MAX_MESSAGE_LENGTH);
  if (w.pos > max) throw new RangeError(`message is ${w.pos} octets, more than the maximum ${max}`);
  w.setU16(16, w.pos);
  return w.finish();
}

function encodeOpen(w: ByteWriter, m: OpenMessage, opts: CodecOptions): void {
  checkUint("BGP version", m.version, 255);
  checkUint("My AS (use AS_TRANS for a 4-octet AS)", m.myAs, 0xffff);
  checkUint("hold time", m.holdTime, 0xffff);
  checkUint("BGP identifier", m.bgpId, 0xffffffff);
  w.u8(m.version);
  w.u16(m.myAs);
  w.u16(m.holdTime);
  w.u32(m.bgpId);
  // Encode the parameters with 2-octet lengths, then squeeze to the classic form when it fits.
  const params = new ByteWriter(256);
  const groups = opts.capabilityLayout === "one-per-parameter" ? m.capabilities.map((c) => [c]) : m.capabilities.length ? [m.capabilities] : [];
  const bodies = groups.map((g) => {
    const pw = new ByteWriter(64);
    for (const c of g) encodeCapability(pw, c);
    return pw.finish();
  });
  const classic = bodies.every((p) => p.length <= 255) && bodies.reduce((n, p) => n + 2 + p.length, 0) <= 255;
  for (const p of bodies) {
    params.u8(OptionalParameterType.CAPABILITIES);
    if (classic) params.u8(p.length);
    else params.u16(p.length);
    params.bytes(p);
  }
  if (classic) {
    w.u8(params.pos);
  } else {
    checkUint("extended optional parameters length", params.pos, 0xffff);
    w.u8(255);
    w.u8(OptionalParameterType.EXTENDED_LENGTH);
    w.u16(params.pos);
  }
  w.bytes(params.buf.subarray(0, params.pos));
}

export function encodeUpdateBody(w: ByteWriter, m: Pick<UpdateMessage, "withdrawn" | "attrs" | "nlri">, opts: AttributeCodecOptions): void {
  const ids = carriesPathIds(opts, 1, 1);
  const wAt = w.pos;
  w.u16(0);
  encodePrefixes(w, m.withdrawn, 4, ids);
  w.setU16(wAt, w.pos - wAt - 2);
  const aAt = w.pos;
  w.u16(0);
  encodeAttributes(w, m.attrs, opts);
  const attrLen = w.pos - aAt - 2;
  if (attrLen > 0xffff) throw new RangeError(`path attributes are ${attrLen} octets`);
  w.setU16(aAt, attrLen);
  encodePrefixes(w, m.nlri, 4, ids);
}
