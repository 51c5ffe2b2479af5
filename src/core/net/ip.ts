// Addresses and prefixes as (family, bigint) pairs: one representation for IPv4 and IPv6 that makes
// containment, overlap and "the n-th subnet" plain integer arithmetic. Parsing and formatting lean on
// ipaddr.js; everything else is here.
import ipaddr from "ipaddr.js";

export type Family = 4 | 6;

export interface IPAddress {
  readonly family: Family;
  readonly value: bigint;
}

/** A network prefix; `addr` always has its host bits cleared. */
export interface Prefix {
  readonly family: Family;
  readonly addr: bigint;
  readonly len: number;
}

export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AddressError";
  }
}

export const familyBits = (family: Family): number => (family === 4 ? 32 : 128);

const allOnes = (bits: number): bigint => (1n << BigInt(bits)) - 1n;

export function parseIP(text: string): IPAddress {
  const s = text.trim();
  // Plain dotted quads are most of what a simulated cluster parses: skip ipaddr.js's regexes.
  const quad = dottedQuad(s);
  if (quad !== undefined) return { family: 4, value: BigInt(quad) };
  if (!ipaddr.isValid(s) || (s.includes(".") && !s.includes(":") && !ipaddr.IPv4.isValidFourPartDecimal(s))) {
    throw new AddressError(`invalid IP address "${text}"`);
  }
  const parsed = ipaddr.parse(s);
  const bytes = parsed.toByteArray();
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return { family: parsed.kind() === "ipv4" ? 4 : 6, value };
}

/**
 * The uint32 of a plain dotted quad ("10.0.0.1": four octets 0-255 without leading zeros, as
 * ipaddr.js's four-part decimal form), else undefined (parseIP then takes the general path).
 */
export function dottedQuad(text: string): number | undefined {
  let v = 0;
  let octet = -1;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return undefined; // leading zero
      octet = (octet < 0 ? 0 : octet * 10) + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (c === 46) {
      if (digits === 0) return undefined;
      v = v * 256 + octet;
      octet = -1;
      digits = 0;
      if (i < text.length && ++dots > 3) return undefined;
    } else return undefined;
  }
  return dots === 3 ? v : undefined;
}

export function isIP(text: string): boolean {
  try {
    parseIP(text);
    return true;
  } catch {
    return false;
  }
}

export function formatIP(family: Family, value: bigint): string {
  if (family === 4) {
    const v = Number(value);
    return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const bytes: number[] = [];
  for (let i = 15; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 255n));
  return ipaddr.fromByteArray(bytes).toString(); // RFC 5952 compressed form
}

export const formatAddress = (a: IPAddress): string => formatIP(a.family, a.value);

export function addressBytes(a: IPAddress): Uint8Array {
  const n = a.family === 4 ? 4 : 16;
  const out = new Uint8Array(n);
  let v = a.value;
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 255n);
    v >>= 8n;
  }
  return out;
}

/** Netmasks by family and length, made on first use (route and policy checks ask for them per route). */
const masks: { 4: (bigint | undefined)[]; 6: (bigint | undefined)[] } = { 4: [], 6: [] };

export function maskOf(family: Family, len: number): bigint {
  let m = masks[family][len];
  if (m === undefined) {
    const bits = familyBits(family);
    m = allOnes(bits) ^ allOnes(bits - len);
    if (Number.isInteger(len) && len >= 0 && len <= bits) masks[family][len] = m;
  }
  return m;
}

/**
 * Parses "a.b.c.d/len" or "v6/len". With `strict` (the default, as Calico validates pool CIDRs) host
 * bits must be zero; otherwise they are cleared. A bare address is a host prefix.
 */
export function parsePrefix(text: string, options: { strict?: boolean } = {}): Prefix {
  const strict = options.strict ?? true;
  const s = text.trim();
  const slash = s.indexOf("/");
  const ip = parseIP(slash < 0 ? s : s.slice(0, slash));
  const bits = familyBits(ip.family);
  let len = bits;
  if (slash >= 0) {
    const lenText = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits) {
      throw new AddressError(`invalid prefix length in "${text}" (expected 0-${bits})`);
    }
    len = Number(lenText);
  }
  const addr = ip.value & maskOf(ip.family, len);
  if (strict && addr !== ip.value) {
    throw new AddressError(`"${text}" has host bits set; did you mean ${formatIP(ip.family, addr)}/${len}?`);
  }
  return { family: ip.family, addr, len };
}

export const formatPrefix = (p: Prefix): string => `${formatIP(p.family, p.addr)}/${p.len}`;

/** Number of addresses in the prefix. */
export const prefixSize = (p: Prefix): bigint => 1n << BigInt(familyBits(p.family) - p.len);

export const lastAddress = (p: Prefix): bigint => p.addr + prefixSize(p) - 1n;

/**
 * `(a & maskOf(4, len)) === net` for IPv4 values, in doubles (no bigint made: route and policy
 * checks run per route); undefined outside 0..2^32-1 or 0..32, where the bigint test decides.
 */
function v4Within(a: bigint, net: bigint, len: number): boolean | undefined {
  const av = Number(a);
  const nv = Number(net);
  if (!(av >= 0 && av < 4294967296 && nv >= 0 && nv < 4294967296 && Number.isInteger(len) && len >= 0 && len <= 32)) return undefined;
  const unit = 2 ** (32 - len);
  return nv % unit === 0 && Math.floor(av / unit) === nv / unit;
}

export function prefixContainsAddress(p: Prefix, a: IPAddress): boolean {
  if (p.family !== a.family) return false;
  return (p.family === 4 ? v4Within(a.value, p.addr, p.len) : undefined) ?? (a.value & maskOf(p.family, p.len)) === p.addr;
}

/** True when `inner` lies inside (or equals) `outer`. */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.len > inner.len) return false;
  return (outer.family === 4 ? v4Within(inner.addr, outer.addr, outer.len) : undefined) ?? (inner.addr & maskOf(outer.family, outer.len)) === outer.addr;
}

export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  return prefixContains(a, b) || prefixContains(b, a);
}

export const prefixEquals = (a: Prefix, b: Prefix): boolean =>
  a.family === b.family && a.len === b.len && a.addr === b.addr;

/** The `index`-th subnet of length `len` inside `p` (0-based). */
export function subnetAt(p: Prefix, len: number, index: bigint): Prefix {
  if (len < p.len || len > familyBits(p.family)) throw new AddressError(`cannot split /${p.len} into /${len}`);
  const count = 1n << BigInt(len - p.len);
  if (index < 0n || index >= count) throw new AddressError(`subnet index ${index} out of range (0-${count - 1n})`);
  return { family: p.family, addr: p.addr + (index << BigInt(familyBits(p.family) - len)), len };
}

/** How many subnets of length `len` fit in `p`. */
export const subnetCount = (p: Prefix, len: number): bigint => (len < p.len ? 0n : 1n << BigInt(len - p.len));

/** Orders address texts by family, then numeric value; text that is not an address sorts by its characters. */
export function compareAddressText(a: string, b: string): number {
  try {
    const x = parseIP(a);
    const y = parseIP(b);
    return x.family - y.family || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0);
  } catch {
    return a < b ? -1 : a > b ? 1 : 0;
  }
}

/** Orders prefixes by family, then address, then length: a stable, human-friendly sort. */
export function comparePrefixes(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  return a.len - b.len;
}
