// Small OPEN helpers a session needs when checking the peer.
import { findCapability } from "./capabilities.ts";
import type { OpenMessage } from "./messages.ts";

/** The peer's real AS: the 4-octet AS capability when present (RFC 6793 §4.1), else My AS. */
export function peerAsn(open: OpenMessage): number {
  return findCapability(open.capabilities, "four-octet-as")?.asn ?? open.myAs;
}

/** Dotted-quad form of a BGP identifier, ORIGINATOR_ID or cluster ID. */
export const formatRouterId = (id: number): string => `${id >>> 24}.${(id >>> 16) & 255}.${(id >>> 8) & 255}.${id & 255}`;

export function parseRouterId(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  const parts = m ? m.slice(1).map(Number) : [];
  if (parts.length !== 4 || parts.some((p) => p > 255)) throw new RangeError(`invalid router ID "${text}" (expected a.b.c.d)`);
  return parts.reduce((v, p) => v * 256 + p, 0);
}
