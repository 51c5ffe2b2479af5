// The handle record (/calico/ipam/v2/handle/<id>): a secondary index from a handle (one pod, one
// tunnel) to how many addresses it holds in each block: {"block":{"10.1.3.0/26":1},"deleted":false}.
import { IpamError } from "./errors.ts";

export type HandleBlocks = ReadonlyMap<string, number>;

export function serializeHandle(blocks: HandleBlocks): string {
  let s = `{"block":{`;
  let first = true;
  for (const [cidr, n] of blocks) {
    s += `${first ? "" : ","}${JSON.stringify(cidr)}:${n}`;
    first = false;
  }
  return s + `},"deleted":false}`;
}

export function parseHandle(key: string, json: string): Map<string, number> {
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch (e) {
    throw new IpamError("Corrupt", `handle ${key}: invalid JSON (${(e as Error).message})`);
  }
  const block = (o as { block?: unknown } | null)?.block;
  if (typeof block !== "object" || block === null || Array.isArray(block)) throw new IpamError("Corrupt", `handle ${key}: "block" must be an object`);
  const out = new Map<string, number>();
  for (const [cidr, n] of Object.entries(block)) {
    if (!Number.isInteger(n) || (n as number) < 0) throw new IpamError("Corrupt", `handle ${key}: count for ${cidr} must be a non-negative integer`);
    out.set(cidr, n as number);
  }
  return out;
}
