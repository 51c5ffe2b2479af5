// Helpers around UPDATE messages that a session or RIB needs: the RFC 7606 verdict, End-of-RIB
// markers (RFC 4724 §2), and packing many prefixes into as few maximum-size UPDATEs as possible.
import type { Prefix } from "../../net/ip.ts";
import { carriesPathIds, type PathAttributes, type UpdateErrorAction } from "./attributes.ts";
import { Afi, HEADER_LENGTH, MAX_MESSAGE_LENGTH, MessageType, Safi } from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import { type CodecOptions, encodeMessage, type Message, type NotificationMessage, type UpdateMessage } from "./messages.ts";
import { type NlriPrefix, prefixWireLength } from "./prefix.ts";

/** The strongest RFC 7606 action among an UPDATE's issues, or "accept" when it has none. */
export function updateErrorAction(u: UpdateMessage): "accept" | UpdateErrorAction {
  if (!u.issues?.length) return "accept";
  return u.issues.some((i) => i.action === "treat-as-withdraw") ? "treat-as-withdraw" : "attribute-discard";
}

/** Every prefix an UPDATE touches, for treat-as-withdraw: classic and MP, announced and withdrawn. */
export function allPrefixes(u: UpdateMessage): NlriPrefix[] {
  return [...u.withdrawn, ...u.nlri, ...(u.attrs.mpReach?.nlri ?? []), ...(u.attrs.mpUnreach?.withdrawn ?? [])];
}

export interface AddressFamily {
  afi: number;
  safi: number;
}

const IPV4_UNICAST: AddressFamily = Object.freeze({ afi: Afi.IPV4, safi: Safi.UNICAST });

/** The family whose End-of-RIB this UPDATE is, or undefined (read-only). */
export function endOfRibFamily(u: UpdateMessage): AddressFamily | undefined {
  if (u.withdrawn.length || u.nlri.length) return undefined;
  // Counted without a key list: every UPDATE received goes through here.
  let present = 0;
  const attrs = u.attrs as Record<string, unknown>;
  for (const k in attrs) if (attrs[k] !== undefined) present++;
  if (present === 0) return IPV4_UNICAST;
  const un = u.attrs.mpUnreach;
  if (present === 1 && un && un.withdrawn.length === 0 && !un.raw?.length) return { afi: un.afi, safi: un.safi };
  return undefined;
}

export function endOfRib(afi: number = Afi.IPV4, safi: number = Safi.UNICAST): UpdateMessage {
  const attrs: PathAttributes = afi === Afi.IPV4 && safi === Safi.UNICAST ? {} : { mpUnreach: { afi, safi, withdrawn: [] } };
  return { type: MessageType.UPDATE, withdrawn: [], attrs, nlri: [] };
}

export const keepalive = (): Message => ({ type: MessageType.KEEPALIVE });

/** The NOTIFICATION that answers a decoding error. */
export const notificationFor = (e: BgpWireError | { code: number; subcode: number; data: Uint8Array }): NotificationMessage => ({
  type: MessageType.NOTIFICATION,
  code: e.code,
  subcode: e.subcode,
  data: e.data,
});

export interface UpdateBatch {
  /** Attributes shared by every announced prefix. For IPv6, attrs.mpReach supplies AFI/SAFI and next hops. */
  attrs?: PathAttributes;
  announce?: readonly NlriPrefix[];
  withdraw?: readonly NlriPrefix[];
}

/**
 * Encodes withdrawals and announcements of one family into as few UPDATEs as fit the maximum message
 * length: IPv4 unicast in the classic fields, anything else in MP_REACH/MP_UNREACH.
 */
export function packUpdates(batch: UpdateBatch, opts: CodecOptions = {}): Uint8Array[] {
  const max = opts.maxMessageLength ?? MAX_MESSAGE_LENGTH;
  const out: Uint8Array[] = [];
  const announce = batch.announce ?? [];
  const withdraw = batch.withdraw ?? [];
  const attrs = batch.attrs ?? {};
  const classic = (p: Prefix): boolean => p.family === 4 && (!attrs.mpReach || attrs.mpReach.afi !== Afi.IPV4);

  const chunk = (ps: readonly NlriPrefix[], room: number, pathIds: boolean): NlriPrefix[][] => {
    if (room < 5 + 17) throw new RangeError(`attributes leave only ${room} octets for prefixes`);
    const chunks: NlriPrefix[][] = [];
    let cur: NlriPrefix[] = [];
    let used = 0;
    for (const p of ps) {
      const n = prefixWireLength(p, pathIds);
      if (used + n > room) {
        chunks.push(cur);
        cur = [];
        used = 0;
      }
      cur.push(p);
      used += n;
    }
    if (cur.length) chunks.push(cur);
    return chunks;
  };
  const base = HEADER_LENGTH + 4;

  const wClassic = withdraw.filter(classic);
  const wMp = withdraw.filter((p) => !classic(p));
  for (const c of chunk(wClassic, max - base, carriesPathIds(opts, Afi.IPV4, Safi.UNICAST))) out.push(encodeMessage({ type: MessageType.UPDATE, withdrawn: c, attrs: {}, nlri: [] }, opts));
  if (wMp.length) {
    const afi = wMp[0]?.family === 4 ? Afi.IPV4 : Afi.IPV6;
    const safi = attrs.mpReach?.safi ?? Safi.UNICAST;
    // MP_UNREACH header: flags, type, 2-octet length, AFI, SAFI.
    for (const c of chunk(wMp, max - base - 4 - 3, carriesPathIds(opts, afi, safi))) {
      out.push(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], attrs: { mpUnreach: { afi, safi, withdrawn: c } }, nlri: [] }, opts));
    }
  }
  if (announce.length) {
    const mp = announce.some((p) => !classic(p));
    if (mp && !attrs.mpReach) throw new RangeError("announcing non-IPv4 prefixes needs attrs.mpReach (AFI, SAFI, next hops)");
    const template = mp && attrs.mpReach ? { ...attrs, mpReach: { ...attrs.mpReach, nlri: [] } } : attrs;
    // Size with no prefixes, plus one octet in case the MP_REACH length grows past 255.
    const fixed = encodeMessage({ type: MessageType.UPDATE, withdrawn: [], attrs: template, nlri: [] }, opts).length + (mp ? 1 : 0);
    const ids = mp && attrs.mpReach ? carriesPathIds(opts, attrs.mpReach.afi, attrs.mpReach.safi) : carriesPathIds(opts, Afi.IPV4, Safi.UNICAST);
    for (const c of chunk(announce, max - fixed, ids)) {
      const m: UpdateMessage = mp && attrs.mpReach
        ? { type: MessageType.UPDATE, withdrawn: [], attrs: { ...attrs, mpReach: { ...attrs.mpReach, nlri: c } }, nlri: [] }
        : { type: MessageType.UPDATE, withdrawn: [], attrs, nlri: c };
      out.push(encodeMessage(m, opts));
    }
  }
  return out;
}
