// The datastore layout, identical to Calico's etcd v3 keys (libcalico-go/lib/backend/model):
//   /calico/ipam/v2/assignment/ipv4/block/10.1.3.0-26        an AllocationBlock
//   /calico/ipam/v2/host/<host>/ipv4/block/10.1.3.0-26        a BlockAffinity {state, deleted}
//   /calico/ipam/v2/handle/<handleID>                         an IPAMHandle {block: {cidr: n}}
//   /calico/ipam/v2/config                                    the IPAMConfig singleton
import { formatIP, parsePrefix, type Family, type Prefix } from "../net/ip.ts";
import { IpamError } from "./errors.ts";

export const IPAM_ROOT = "/calico/ipam/v2/";
export const CONFIG_KEY = "/calico/ipam/v2/config";
export const HANDLE_PREFIX = "/calico/ipam/v2/handle/";
export const HOST_PREFIX = "/calico/ipam/v2/host/";

/** "10.1.3.0/26" → "10.1.3.0-26" (Calico replaces the slash so the CIDR is one path segment). */
export const cidrSegment = (p: Prefix): string => `${formatIP(p.family, p.addr)}-${p.len}`;

export const blockPrefix = (family: Family): string => `/calico/ipam/v2/assignment/ipv${family}/block/`;
const blockKeys = new Map<bigint, string>();
const blockKeys4 = new Map<number, string>();

/** The block's key; memoised, as the same few thousand keys are built on every request. */
export function blockKey(p: Prefix): string {
  if (p.family === 4) {
    // IPv4 address and length packed into one exact number (< 2^38): no bigint arithmetic to allocate.
    const id4 = Number(p.addr) * 64 + p.len;
    let key4 = blockKeys4.get(id4);
    if (key4 === undefined) {
      key4 = blockPrefix(4) + cidrSegment(p);
      if (blockKeys4.size >= 200_000) blockKeys4.clear();
      blockKeys4.set(id4, key4);
    }
    return key4;
  }
  // IPv6: the address and length packed into one bigint.
  const id = (p.addr << 8n) | BigInt(p.len);
  let key = blockKeys.get(id);
  if (key === undefined) {
    key = blockPrefix(p.family) + cidrSegment(p);
    if (blockKeys.size >= 200_000) blockKeys.clear();
    blockKeys.set(id, key);
  }
  return key;
}

export const hostAffinityPrefix = (host: string, family: Family): string => `${HOST_PREFIX}${host}/ipv${family}/block/`;
export const affinityKey = (host: string, p: Prefix): string => hostAffinityPrefix(host, p.family) + cidrSegment(p);

export const handleKey = (handleId: string): string => HANDLE_PREFIX + handleId;

function segmentToPrefix(segment: string, key: string): Prefix {
  const dash = segment.lastIndexOf("-");
  if (dash < 0) throw new IpamError("Corrupt", `key ${key} does not end in <address>-<length>`);
  try {
    return parsePrefix(`${segment.slice(0, dash)}/${segment.slice(dash + 1)}`);
  } catch (e) {
    throw new IpamError("Corrupt", `key ${key}: ${(e as Error).message}`);
  }
}

export function parseBlockKey(key: string): Prefix {
  const m = /^\/calico\/ipam\/v2\/assignment\/ipv([46])\/block\/([^/]+)$/.exec(key);
  if (!m) throw new IpamError("Corrupt", `not a block key: ${key}`);
  return segmentToPrefix(m[2]!, key);
}

export interface AffinityKeyParts {
  host: string;
  cidr: Prefix;
}

const affinityKeyCache = new Map<string, AffinityKeyParts | undefined>();

/** Parses an affinity key; undefined for other keys under the host tree. Memoised (keys recur constantly). */
export function parseAffinityKey(key: string): AffinityKeyParts | undefined {
  if (affinityKeyCache.has(key)) return affinityKeyCache.get(key);
  const m = /^\/calico\/ipam\/v2\/host\/([^/]+)\/ipv([46])\/block\/([^/]+)$/.exec(key);
  const parts = m ? { host: m[1]!, cidr: segmentToPrefix(m[3]!, key) } : undefined;
  if (affinityKeyCache.size > 100_000) affinityKeyCache.clear();
  affinityKeyCache.set(key, parts);
  return parts;
}

/** Host names and handle IDs become key segments, so they must be non-empty and slash-free. */
export function checkSegment(what: string, value: unknown): string {
  if (typeof value !== "string" || value === "" || value.length > 253 || /[\s/]/.test(value)) {
    throw new IpamError("InvalidArgument", `${what} must be a non-empty string of at most 253 characters without "/" or whitespace, got ${JSON.stringify(value)}`);
  }
  return value;
}
