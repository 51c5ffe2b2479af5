// Address and CIDR text helpers shared by the IPAM modules (bad input becomes IpamError InvalidArgument).
import { formatIP, parseIP, type IPAddress, type Prefix } from "../net/ip.ts";
import { IpamError } from "./errors.ts";
import type { Pool } from "./pools.ts";

export const prefixText = (p: Prefix): string => `${formatIP(p.family, p.addr)}/${p.len}`;

/** True when `p` lies inside the pool's CIDR. */
export function containsPrefix(pool: Pool, p: Prefix): boolean {
  if (pool.family !== p.family || p.len < pool.cidr.len) return false;
  if (p.family === 4) {
    // In plain numbers (exact below 2^32): this runs per affinity per request, and bigint shifts allocate.
    const d = 2 ** (32 - pool.cidr.len);
    return Math.floor(Number(p.addr) / d) === Math.floor(Number(pool.cidr.addr) / d);
  }
  const shift = BigInt((pool.family === 4 ? 32 : 128) - pool.cidr.len);
  return p.addr >> shift === pool.cidr.addr >> shift;
}

/** An address as text ("10.1.2.3", also "10.1.2.3/32"). */
export function parseAddress(text: string): IPAddress {
  try {
    return parseIP(String(text).replace(/\/(32|128)$/, ""));
  } catch (e) {
    throw new IpamError("InvalidArgument", (e as Error).message);
  }
}

/** A block CIDR as stored in handle records ("10.1.3.0/26"). */
export function parseCidr(text: string): Prefix {
  const slash = text.indexOf("/");
  const ip = parseAddress(text.slice(0, slash));
  return { family: ip.family, addr: ip.value, len: Number(text.slice(slash + 1)) };
}
