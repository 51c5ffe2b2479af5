// The IPAM configuration singleton (/calico/ipam/v2/config). Stored with the field names of Calico's
// backend model (model/ipam_config.go); read with Calico's defaults when absent.
import { IpamError } from "./errors.ts";

/** As Calico's v3 IPAMConfiguration spec. */
export interface IpamConfigInput {
  strictAffinity?: boolean;
  autoAllocateBlocks?: boolean;
  maxBlocksPerHost?: number;
}

export interface IpamConfig {
  readonly strictAffinity: boolean;
  readonly autoAllocateBlocks: boolean;
  /** 0 = unset: autoAssign then applies Calico's safeguard cap of 20 blocks per host. */
  readonly maxBlocksPerHost: number;
}

export const DEFAULT_CONFIG: IpamConfig = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 };

/** The cap Calico applies when neither the config nor the request sets one. */
export const DEFAULT_MAX_BLOCKS_PER_HOST = 20;

/** Validates as Calico's SetIPAMConfig and the CRD bounds do. */
export function normalizeConfig(input: IpamConfigInput): IpamConfig {
  if (typeof input !== "object" || input === null) throw new IpamError("InvalidConfig", "IPAM config must be an object");
  const cfg: IpamConfig = {
    strictAffinity: input.strictAffinity ?? DEFAULT_CONFIG.strictAffinity,
    autoAllocateBlocks: input.autoAllocateBlocks ?? DEFAULT_CONFIG.autoAllocateBlocks,
    maxBlocksPerHost: input.maxBlocksPerHost ?? DEFAULT_CONFIG.maxBlocksPerHost,
  };
  if (typeof cfg.strictAffinity !== "boolean" || typeof cfg.autoAllocateBlocks !== "boolean") {
    throw new IpamError("InvalidConfig", "strictAffinity and autoAllocateBlocks must be booleans");
  }
  if (!Number.isInteger(cfg.maxBlocksPerHost) || cfg.maxBlocksPerHost < 0 || cfg.maxBlocksPerHost > 1_000_000) {
    throw new IpamError("InvalidConfig", `maxBlocksPerHost must be an integer 0-1000000, got ${String(cfg.maxBlocksPerHost)}`);
  }
  if (!cfg.strictAffinity && !cfg.autoAllocateBlocks) {
    throw new IpamError("InvalidConfig", "Cannot disable 'StrictAffinity' and 'AutoAllocateBlocks' at the same time");
  }
  if (cfg.maxBlocksPerHost > 0 && !cfg.strictAffinity) {
    throw new IpamError("InvalidConfig", "MaxBlocksPerHost requires StrictAffinity to be enabled");
  }
  return cfg;
}

export function serializeConfig(c: IpamConfig): string {
  return JSON.stringify({ strict_affinity: c.strictAffinity, auto_allocate_blocks: c.autoAllocateBlocks, maxBlocksPerHost: c.maxBlocksPerHost });
}

export function parseConfig(json: string): IpamConfig {
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch (e) {
    throw new IpamError("Corrupt", `IPAM config: invalid JSON (${(e as Error).message})`);
  }
  if (typeof o !== "object" || o === null) throw new IpamError("Corrupt", "IPAM config is not an object");
  const r = o as Record<string, unknown>;
  const cfg = {
    strictAffinity: r.strict_affinity ?? false,
    autoAllocateBlocks: r.auto_allocate_blocks ?? true,
    maxBlocksPerHost: r.maxBlocksPerHost ?? 0,
  };
  if (typeof cfg.strictAffinity !== "boolean" || typeof cfg.autoAllocateBlocks !== "boolean" || !Number.isInteger(cfg.maxBlocksPerHost)) {
    throw new IpamError("Corrupt", "IPAM config has fields of the wrong type");
  }
  return cfg as IpamConfig;
}
