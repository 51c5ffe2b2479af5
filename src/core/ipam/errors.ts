// IPAM errors carry a stable code so callers (CLI, agent, CNI) can branch without parsing messages.

export type IpamErrorCode =
  | "InvalidArgument" // bad input from the caller: exit 2 territory
  | "InvalidPool"
  | "InvalidConfig"
  | "NoQualifiedPool" // no enabled pool selects the node for this use and family
  | "NoFreeBlocks" // no block could be claimed and (strict affinity) none may be borrowed
  | "BlockLimit" // the host already owns its maximum number of blocks
  | "Exhausted" // not enough free addresses anywhere
  | "NotFound"
  | "MaxRetries" // CAS kept failing: excessive concurrent IPAM requests
  | "Corrupt"; // a stored record is not valid JSON of the expected shape

export class IpamError extends Error {
  constructor(
    readonly code: IpamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "IpamError";
  }
}

export const isIpamError = (e: unknown, code?: IpamErrorCode): e is IpamError =>
  e instanceof IpamError && (code === undefined || e.code === code);

/** Internal: another host won the race for a block; pick another one. */
export class BlockClaimConflict extends Error {
  constructor(readonly cidr: string) {
    super(`block ${cidr} was claimed by another host`);
    this.name = "BlockClaimConflict";
  }
}

/** Internal: an affinity points at a block that belongs to someone else (and was deleted). */
export class StaleAffinity extends Error {
  constructor(readonly cidr: string) {
    super(`affinity for ${cidr} is stale`);
    this.name = "StaleAffinity";
  }
}

/** Internal: an affinity release that required an empty block found it in use. */
export class BlockNotEmpty extends Error {
  constructor(readonly cidr: string) {
    super(`block ${cidr} is not empty`);
    this.name = "BlockNotEmpty";
  }
}
