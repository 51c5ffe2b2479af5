// Cuts a TCP byte stream into whole BGP messages. Chunks may split a header, hold several messages,
// or both. A bad marker (1/1) or length (1/2) is fatal for the stream: the framer then stays broken
// and rethrows the same error, because nothing after it can be trusted to be a message boundary.
import { HEADER_LENGTH, MAX_MESSAGE_LENGTH } from "./constants.ts";
import type { BgpWireError } from "./errors.ts";
import { checkHeader } from "./messages.ts";

const NOTHING = new Uint8Array(0);
/** `pending` of a framer that failed; its error is in `failures` (rare: no field per framer for it). */
const FAILED = new Uint8Array(0);
const failures = new WeakMap<MessageFramer, BgpWireError>();

export class MessageFramer {
  /** Raise to 65535 once Extended Message (RFC 8654) is negotiated. */
  maxMessageLength: number;
  /** A partial message left from the last chunk; the shared empty array when there is none, FAILED after an error. */
  private pending: Uint8Array = NOTHING;

  constructor(opts: { maxMessageLength?: number } = {}) {
    this.maxMessageLength = opts.maxMessageLength ?? MAX_MESSAGE_LENGTH;
  }

  /** Octets received but not yet part of a whole message. */
  get buffered(): number {
    return this.pending.length;
  }

  get error(): BgpWireError | undefined {
    return this.pending === FAILED ? failures.get(this) : undefined;
  }

  /**
   * Adds a chunk and returns the whole messages now available, each a complete message including
   * its header. Returned arrays may share memory with `chunk`; copy them if the chunk is reused.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.each(chunk, collect, out);
    return out;
  }

  /**
   * Adds a chunk and calls `visit(ctx, data, offset, length)` for each whole message now available, in
   * order, until it returns false. Every header of the chunk is checked first (a bad one throws before
   * any message is visited, as push does). Nothing is allocated per message: `data` is the chunk, or
   * the partial message left from the last chunk joined with it.
   */
  each<C>(chunk: Uint8Array, visit: (ctx: C, data: Uint8Array, offset: number, length: number) => boolean, ctx: C): void {
    if (this.pending === FAILED) throw failures.get(this);
    let data = chunk;
    if (this.pending.length) {
      data = new Uint8Array(this.pending.length + chunk.length);
      data.set(this.pending);
      data.set(chunk, this.pending.length);
    }
    let o = 0;
    try {
      while (data.length - o >= HEADER_LENGTH) {
        const length = checkHeader(data, o, this.maxMessageLength);
        if (data.length - o < length) break;
        o += length;
      }
      // A partial header can already show a bad marker; report it now rather than wait for more.
      for (let i = o; i < data.length && i - o < 16; i++) {
        if (data[i] !== 0xff) checkHeader(data, o, this.maxMessageLength);
      }
    } catch (e) {
      failures.set(this, e as BgpWireError);
      this.pending = FAILED;
      throw e;
    }
    this.pending = o === data.length ? NOTHING : data.slice(o);
    for (let i = 0; i < o; ) {
      // Checked above: the length field is valid.
      const length = ((data[i + 16] as number) << 8) | (data[i + 17] as number);
      if (!visit(ctx, data, i, length)) return;
      i += length;
    }
  }
}

function collect(out: Uint8Array[], data: Uint8Array, offset: number, length: number): boolean {
  out.push(data.subarray(offset, offset + length));
  return true;
}
