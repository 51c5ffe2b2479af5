// CNI error results (CNI spec 1.0, "Error" result type): a numeric code, a short msg and details.
// Codes 0-99 are the spec's well-known ones; 100+ are birdcage's own.

export const CNI_ERR = {
  /** Incompatible CNI version (cniVersion not supported, or CHECK asked of a pre-0.4.0 config). */
  INCOMPATIBLE_VERSION: 1,
  /** Unsupported field in the network configuration (the message names key and value). */
  UNSUPPORTED_FIELD: 2,
  /** Container unknown or does not exist (its network namespace is gone). */
  UNKNOWN_CONTAINER: 3,
  /** Invalid necessary environment variables (the message names them). */
  INVALID_ENV: 4,
  /** I/O failure, e.g. reading stdin. */
  IO_FAILURE: 5,
  /** Failed to decode content (stdin is not JSON, or too big to try). */
  DECODING_FAILURE: 6,
  /** Invalid network config. */
  INVALID_CONFIG: 7,
  /** A transient condition (the datastore is unreachable): the runtime should retry. */
  TRY_AGAIN_LATER: 11,
  /** birdcage: IPAM could not give the pod an address (pool exhausted, block limit, ...). */
  IPAM_FAILED: 100,
  /** birdcage: creating or removing interfaces, addresses or routes failed. */
  DATAPLANE_FAILED: 101,
  /** birdcage: CHECK found the attachment missing or different from prevResult. */
  CHECK_FAILED: 102,
  /** birdcage: CNI_IFNAME already exists in the container and is not ours. */
  INTERFACE_EXISTS: 103,
} as const;

export type CniErrorCode = (typeof CNI_ERR)[keyof typeof CNI_ERR];

export class CniError extends Error {
  readonly code: number;
  readonly details: string | undefined;
  constructor(code: number, msg: string, details?: string) {
    super(msg);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }
}

export const isCniError = (e: unknown): e is CniError => e instanceof CniError;

/** The spec's error result object, printed on stdout with a non-zero exit code. */
export interface CniErrorResult {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorResult(cniVersion: string, e: CniError): CniErrorResult {
  return { cniVersion, code: e.code, msg: e.message, ...(e.details !== undefined ? { details: e.details } : {}) };
}
