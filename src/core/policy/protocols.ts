// Protocols and ports as Calico's numorstring types accept them, parsed once into numbers and ranges.
import type { PortValue, ProtocolValue } from "./model.ts";

const PROTOCOL_BY_NAME: Readonly<Record<string, number>> = {
  tcp: 6,
  udp: 17,
  icmp: 1,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

const NAME_BY_PROTOCOL: Readonly<Record<number, string>> = {
  6: "TCP",
  17: "UDP",
  1: "ICMP",
  58: "ICMPv6",
  132: "SCTP",
  136: "UDPLite",
};

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMP = 1;
export const PROTO_ICMPV6 = 58;
export const PROTO_SCTP = 132;

/** Protocol number for a name (any case) or number; undefined when it is neither. */
export function protocolNumber(p: ProtocolValue): number | undefined {
  if (typeof p === "number") return Number.isInteger(p) && p >= 1 && p <= 255 ? p : undefined;
  const named = PROTOCOL_BY_NAME[p.toLowerCase()];
  if (named !== undefined) return named;
  if (/^\d{1,3}$/.test(p)) return protocolNumber(Number(p));
  return undefined;
}

/** Calico's spelling for well-known protocols (TCP, ICMPv6, ...), else the number. */
export const protocolName = (n: number): string => NAME_BY_PROTOCOL[n] ?? String(n);

/** Numeric port matches are only valid with these protocols (Calico validator). */
export const protocolHasPorts = (n: number): boolean => n === PROTO_TCP || n === PROTO_UDP || n === PROTO_SCTP;

export type PortMatch =
  | { readonly kind: "range"; readonly min: number; readonly max: number }
  | { readonly kind: "named"; readonly name: string };

// Kubernetes/IANA port names: letters, digits and inner hyphens, at most 15 characters.
const PORT_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,13}[A-Za-z0-9])?$/;

const isPortNumber = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 65535;

/** Parse `80`, `"80"`, `"80:90"` or `"http"`; undefined when invalid. */
export function parsePort(v: PortValue): PortMatch | undefined {
  if (typeof v === "number") return isPortNumber(v) ? { kind: "range", min: v, max: v } : undefined;
  const range = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(v);
  if (range) {
    const min = Number(range[1]);
    const max = range[2] === undefined ? min : Number(range[2]);
    return isPortNumber(min) && isPortNumber(max) && min <= max ? { kind: "range", min, max } : undefined;
  }
  return PORT_NAME.test(v) ? { kind: "named", name: v } : undefined;
}

/** Calico's print of a port: a number, `"min:max"`, or the name. */
export function formatPort(p: PortMatch): PortValue {
  if (p.kind === "named") return p.name;
  return p.min === p.max ? p.min : `${p.min}:${p.max}`;
}
