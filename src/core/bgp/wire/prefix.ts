// NLRI prefixes (RFC 4271 §4.3, RFC 4760 §5): a length octet and just enough octets to hold it.
// Prefixes use src/core/net/ip.ts's Prefix (family + bigint + len); trailing bits past the length are
// "irrelevant" on the wire (RFC 4271) and are cleared on decode so equal prefixes compare equal.
import type { Family, IPAddress, Prefix } from "../../net/ip.ts";
import { ErrorCode } from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import type { ByteWriter } from "./writer.ts";

/** A prefix as carried in NLRI: with ADD-PATH (RFC 7911) it also has a 4-octet Path Identifier. */
export type NlriPrefix = Prefix & { readonly pathId?: number };

const WORD_SHIFTS = [0n, 32n, 64n, 96n] as const;
const V6_MASKS: bigint[] = [];
for (let len = 0; len <= 128; len++) V6_MASKS.push(((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n));

/**
 * Decodes the prefixes in b[start, end). A bad length or a prefix running past `end` throws
 * UPDATE error `subcode` (3/10 for the NLRI and withdrawn fields, 3/9 inside MP attributes).
 * With `pathIds`, each prefix is preceded by its ADD-PATH Path Identifier.
 */
export function decodePrefixes(b: Uint8Array, start: number, end: number, family: Family, subcode: number, pathIds = false): NlriPrefix[] {
  const out: NlriPrefix[] = [];
  const max = family === 4 ? 32 : 128;
  let o = start;
  while (o < end) {
    let pathId = -1;
    if (pathIds) {
      if (o + 5 > end) throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, subcode, new Uint8Array(0), "path identifier overruns its field");
      pathId = ((((b[o] ?? 0) << 24) | ((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0)) >>> 0);
      o += 4;
    }
    const len = b[o++] ?? 0;
    if (len > max) throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, subcode, new Uint8Array(0), `prefix length ${len} > ${max}`);
    const n = (len + 7) >>> 3;
    if (o + n > end) throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, subcode, new Uint8Array(0), `prefix /${len} overruns its field`);
    if (family === 4) {
      let v = 0;
      for (let i = 0; i < 4; i++) v = (v << 8) | (i < n ? (b[o + i] ?? 0) : 0);
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      const addr = BigInt((v & mask) >>> 0);
      out.push(pathId < 0 ? { family: 4, addr, len } : { family: 4, addr, len, pathId });
    } else {
      // Only the 32-bit words the prefix occupies: BigInt arithmetic dominates the cost here.
      const words = (n + 3) >>> 2;
      let v = 0n;
      for (let w = 0; w < words; w++) {
        let word = 0;
        for (let i = w * 4; i < w * 4 + 4; i++) word = (word << 8) | (i < n ? (b[o + i] ?? 0) : 0);
        v = (v << 32n) | BigInt(word >>> 0);
      }
      if (words < 4) v <<= WORD_SHIFTS[4 - words] ?? 0n;
      const addr = v & (V6_MASKS[len] ?? 0n);
      out.push(pathId < 0 ? { family: 6, addr, len } : { family: 6, addr, len, pathId });
    }
    o += n;
  }
  return out;
}

export const prefixWireLength = (p: Prefix, pathIds = false): number => (pathIds ? 5 : 1) + ((p.len + 7) >>> 3);

export function encodePrefix(w: ByteWriter, p: NlriPrefix, family: Family, pathIds = false): void {
  const max = family === 4 ? 32 : 128;
  if (p.family !== family) throw new RangeError(`IPv${p.family} prefix in an IPv${family} NLRI field`);
  if (!Number.isInteger(p.len) || p.len < 0 || p.len > max) throw new RangeError(`prefix length ${p.len} out of range 0..${max}`);
  if (pathIds) {
    const id = p.pathId ?? 0;
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`path identifier ${id} is not a uint32`);
    w.u32(id);
  }
  const n = (p.len + 7) >>> 3;
  w.ensure(1 + n);
  w.buf[w.pos++] = p.len;
  if (family === 4) {
    const v = Number(p.addr & 0xffffffffn);
    for (let i = 0; i < n; i++) w.buf[w.pos++] = (v >>> (24 - 8 * i)) & 255;
  } else {
    for (let i = 0; i < n; i += 4) {
      const word = Number((p.addr >> (WORD_SHIFTS[3 - (i >>> 2)] ?? 0n)) & 0xffffffffn);
      for (let k = 0; k < 4 && i + k < n; k++) w.buf[w.pos++] = (word >>> (24 - 8 * k)) & 255;
    }
  }
  // Clear bits past the length in the last octet, whatever the caller's addr held.
  const spare = n * 8 - p.len;
  if (spare > 0) w.buf[w.pos - 1] = (w.buf[w.pos - 1] ?? 0) & ((0xff << spare) & 0xff);
}

export function encodePrefixes(w: ByteWriter, ps: readonly NlriPrefix[], family: Family, pathIds = false): void {
  for (const p of ps) encodePrefix(w, p, family, pathIds);
}

export function decodeAddress(b: Uint8Array, o: number, family: Family): IPAddress {
  const n = family === 4 ? 4 : 16;
  let v = 0n;
  if (family === 4) {
    v = BigInt((((b[o] ?? 0) << 24) | ((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0)) >>> 0);
  } else {
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(b[o + i] ?? 0);
  }
  return { family, value: v };
}

export function encodeAddress(w: ByteWriter, a: IPAddress): void {
  const n = a.family === 4 ? 4 : 16;
  w.ensure(n);
  for (let i = n - 1; i >= 0; i--) w.buf[w.pos + i] = Number((a.value >> BigInt(8 * (n - 1 - i))) & 255n);
  w.pos += n;
}
