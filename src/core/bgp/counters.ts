// Per-peer BGP message counters, counted where whole messages cross the session (the framer's output
// on the way in, the connection's send on the way out): plain integer fields on one object per
// direction, so counting allocates nothing. The shape matches the simulator's transport counters
// (sim/transport.ts BgpCounters is a Pick of it) plus octets per type and prefix counts.
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
    countMessage(c, bytes[o + 18] as number, len);
    o += len;
  }
  if (o < n) countMessage(c, -1, n - o);
}

/** Adds `from` into `into`, field by field. */
export function addCounters(into: MessageCounters, from: MessageCounters): void {
  for (const k of Object.keys(into) as (keyof MessageCounters)[]) into[k] += from[k];
}

export function copyCounters(c: PeerCounters): PeerCounters {
  return { sent: { ...c.sent }, received: { ...c.received } };
}
