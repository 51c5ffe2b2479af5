// The one error type the codec throws on untrusted bytes. It carries exactly what the NOTIFICATION
// that answers it must contain (RFC 4271 §6), so a session can send it back without translation.
import { describeError } from "./constants.ts";

export class BgpWireError extends Error {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
  /** What was wrong, without the code names. */
  readonly detail: string;

  constructor(code: number, subcode: number, data: Uint8Array = new Uint8Array(0), detail?: string) {
    super(`${describeError(code, subcode)}${detail ? `: ${detail}` : ""}`);
    this.name = "BgpWireError";
    this.code = code;
    this.subcode = subcode;
    this.data = data;
    this.detail = detail ?? "";
  }
}

export const isBgpWireError = (e: unknown): e is BgpWireError => e instanceof BgpWireError;

export const u16Bytes = (n: number): Uint8Array => Uint8Array.of((n >>> 8) & 255, n & 255);
