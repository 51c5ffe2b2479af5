// Per-peer BGP message counters, counted where whole messages cross the session (the framer's output
// on the way in, the connection's send on the way out): integer fields on one object per direction
// (a session's are the compact DirectionCounters), so counting allocates nothing. The shape matches
// the simulator's transport counters (sim/transport.ts BgpCounters is a Pick of it) plus octets per
// type and prefix counts.
import { MessageType } from "./wire/index.ts";

export interface MessageCounters {
  /** Whole BGP messages, every type. */
  messages: number;
  /** Octets of those messages, headers included. */
  bytes: number;
  open: number;
  update: number;
  notification: number;
  keepalive: number;
  routeRefresh: number;
  /** Messages of any other type (received only: a framed message the decoder then rejects). */
  other: number;
  openBytes: number;
  updateBytes: number;
  notificationBytes: number;
  keepaliveBytes: number;
  routeRefreshBytes: number;
  otherBytes: number;
  /** Prefixes in the NLRI / MP_REACH_NLRI of UPDATEs (End-of-RIB carries none). */
  prefixesAnnounced: number;
  /** Prefixes in Withdrawn Routes / MP_UNREACH_NLRI of UPDATEs. */
  prefixesWithdrawn: number;
}

export interface PeerCounters {
  sent: MessageCounters;
  received: MessageCounters;
}

export function newMessageCounters(): MessageCounters {
  return {
    messages: 0,
    bytes: 0,
    open: 0,
    update: 0,
    notification: 0,
    keepalive: 0,
    routeRefresh: 0,
    other: 0,
    openBytes: 0,
    updateBytes: 0,
    notificationBytes: 0,
    keepaliveBytes: 0,
    routeRefreshBytes: 0,
    otherBytes: 0,
    prefixesAnnounced: 0,
    prefixesWithdrawn: 0,
  };
}

export function newPeerCounters(): PeerCounters {
  return { sent: newMessageCounters(), received: newMessageCounters() };
}

/**
 * A session's counters for one direction, smaller than a plain MessageCounters (a mesh node keeps two
 * per peer, a 1,000-node mesh two million): the counts every session has are fields; NOTIFICATION,
 * ROUTE-REFRESH and unknown-type counts and withdrawn prefixes (none in a cold-start mesh) sit in a
 * second object made when one of them first becomes non-zero; KEEPALIVE octets are 19 per KEEPALIVE
 * plus any odd ones (also in the second object); `messages` and `bytes` are sums (read-only).
 * Reads and writes like a MessageCounters otherwise; copyCounters makes plain ones.
 */
export class DirectionCounters implements MessageCounters {
  open = 0;
  update = 0;
  private keepalives = 0;
  openBytes = 0;
  updateBytes = 0;
  prefixesAnnounced = 0;
  private rare: RareCounters | undefined = undefined;

  get keepalive(): number {
    return this.keepalives;
  }
  /** Keeps keepaliveBytes as it was, as with independent fields. */
  set keepalive(v: number) {
    const bytes = this.keepaliveBytes;
    this.keepalives = v;
    this.keepaliveBytes = bytes;
  }
  get keepaliveBytes(): number {
    const r = this.rare;
    return KEEPALIVE_LENGTH * this.keepalives + (r === undefined ? 0 : r.keepaliveOddBytes);
  }
  set keepaliveBytes(v: number) {
    const odd = v - KEEPALIVE_LENGTH * this.keepalives;
    if (odd !== 0 || this.rare !== undefined) this.rareCounters().keepaliveOddBytes = odd;
  }

  get messages(): number {
    const r = this.rare;
    return this.open + this.update + this.keepalive + (r === undefined ? 0 : r.notification + r.routeRefresh + r.other);
  }
  get bytes(): number {
    const r = this.rare;
    return this.openBytes + this.updateBytes + this.keepaliveBytes + (r === undefined ? 0 : r.notificationBytes + r.routeRefreshBytes + r.otherBytes);
  }
  get prefixesWithdrawn(): number {
    return this.rare?.prefixesWithdrawn ?? 0;
  }
  set prefixesWithdrawn(v: number) {
    if (v !== 0 || this.rare !== undefined) this.rareCounters().prefixesWithdrawn = v;
  }
  get notification(): number {
    return this.rare?.notification ?? 0;
  }
  set notification(v: number) {
    if (v !== 0 || this.rare !== undefined) this.rareCounters().notification = v;
  }
  get routeRefresh(): number {
    return this.rare?.routeRefresh ?? 0;
  }
  set routeRefresh(v: number) {
    if (v !== 0 || this.rare !== undefined) this.rareCounters().routeRefresh = v;
  }
  get other(): number {
    return this.rare?.other ?? 0;
  }
  set other(v: number) {
    if (v !== 0 || this.rare !== undefined) this.rareCounters().other = v;
  }
  get notificationBytes(): number {
    return this.rare?.notificationBytes ?? 0;
  }
  set notificationBytes(v: number) {
    if (v !== 0 || this.rare !== undefined) this.rareCounters().notificationBytes = v;
  }
  get routeRefreshBytes(): number {
    return this.rare?.routeRefreshBytes ?? 0;
  }
  set routeRefreshBytes(v: number) {
    if (v !== 0 || this.rare !== undefined) this.rareCounters().routeRefreshBytes = v;
  }
  get otherBytes(): number {
    return this.rare?.otherBytes ?? 0;
  }
  set otherBytes(v: number) {
    if (v !== 0 || this.rare !== undefined) this.rareCounters().otherBytes = v;
  }

  /** Counts one message of `type` and `length` octets (as countMessage). */
  count(type: number, length: number): void {
    if (type === MessageType.UPDATE) {
      this.update++;
      this.updateBytes += length;
    } else if (type === MessageType.KEEPALIVE) {
      this.keepalives++;
      // A received one of another length is counted as it came (the decoder then rejects it).
      if (length !== KEEPALIVE_LENGTH) this.rareCounters().keepaliveOddBytes += length - KEEPALIVE_LENGTH;
    } else if (type === MessageType.OPEN) {
      this.open++;
      this.openBytes += length;
    } else {
      const r = this.rareCounters();
      if (type === MessageType.NOTIFICATION) {
        r.notification++;
        r.notificationBytes += length;
      } else if (type === MessageType.ROUTE_REFRESH) {
        r.routeRefresh++;
        r.routeRefreshBytes += length;
      } else {
        r.other++;
        r.otherBytes += length;
      }
    }
  }

  private rareCounters(): RareCounters {
    return (this.rare ??= new RareCounters());
  }
}

class RareCounters {
  notification = 0;
  routeRefresh = 0;
  other = 0;
  notificationBytes = 0;
  routeRefreshBytes = 0;
  otherBytes = 0;
  prefixesWithdrawn = 0;
  /** KEEPALIVE octets beyond 19 per KEEPALIVE. */
  keepaliveOddBytes = 0;
}

/** RFC 4271 §4.4: a KEEPALIVE is the 19-octet header alone. */
const KEEPALIVE_LENGTH = 19;

/** Counts one message of `type` and `length` octets. */
export function countMessage(c: MessageCounters, type: number, length: number): void {
  c.messages++;
  c.bytes += length;
  switch (type) {
    case MessageType.UPDATE:
      c.update++;
      c.updateBytes += length;
      break;
    case MessageType.KEEPALIVE:
      c.keepalive++;
      c.keepaliveBytes += length;
      break;
    case MessageType.OPEN:
      c.open++;
      c.openBytes += length;
      break;
    case MessageType.NOTIFICATION:
      c.notification++;
      c.notificationBytes += length;
      break;
    case MessageType.ROUTE_REFRESH:
      c.routeRefresh++;
      c.routeRefreshBytes += length;
      break;
    default:
      c.other++;
      c.otherBytes += length;
  }
}

/**
 * Counts every message in `bytes`, one or more whole encoded messages back to back (walking the
 * length fields of the headers); a trailing fragment that is not a whole header is counted as octets
 * of an "other" message, which our own encoder never produces.
 */
export function countEncoded(c: MessageCounters, bytes: Uint8Array): void {
  let o = 0;
  const n = bytes.length;
  while (n - o >= 19) {
    const len = ((bytes[o + 16] as number) << 8) | (bytes[o + 17] as number);
    if (len < 19 || len > n - o) break;
    countAny(c, bytes[o + 18] as number, len);
    o += len;
  }
  if (o < n) countAny(c, -1, n - o);
}

function countAny(c: MessageCounters, type: number, length: number): void {
  if (c instanceof DirectionCounters) c.count(type, length);
  else countMessage(c, type, length);
}

/** Adds `from` (plain or a session's) into `into` (a plain one), field by field. */
export function addCounters(into: MessageCounters, from: MessageCounters): void {
  for (const k of FIELDS) into[k] += from[k];
}

/** Plain copies (the fields in newMessageCounters' order), also of a session's counters. */
export function copyCounters(c: PeerCounters): PeerCounters {
  return { sent: copyMessageCounters(c.sent), received: copyMessageCounters(c.received) };
}

function copyMessageCounters(c: MessageCounters): MessageCounters {
  const out = newMessageCounters();
  for (const k of FIELDS) out[k] = c[k];
  return out;
}

const FIELDS = Object.keys(newMessageCounters()) as (keyof MessageCounters)[];
