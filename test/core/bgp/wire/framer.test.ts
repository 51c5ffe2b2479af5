import { describe, expect, test } from "@jest/globals";
import { BgpWireError, decodeMessage, encodeMessage, endOfRib, MessageFramer, MessageType } from "../../../../src/core/bgp/wire/index.ts";
import { hex, message, toHex } from "./bytes.ts";

const KEEPALIVE = hex("ffffffffffffffffffffffffffffffff001304");
const NOTIFICATION = message(3, "0602");
const UPDATE = encodeMessage(endOfRib(2, 1));

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe("MessageFramer", () => {
  const stream = concat(KEEPALIVE, UPDATE, NOTIFICATION, KEEPALIVE);

  test("several messages in one chunk", () => {
    const f = new MessageFramer();
    expect(f.push(stream).map(toHex)).toEqual([KEEPALIVE, UPDATE, NOTIFICATION, KEEPALIVE].map(toHex));
    expect(f.buffered).toBe(0);
  });

  test("every split point of the stream, including inside headers", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const f = new MessageFramer();
      const got = [...f.push(stream.subarray(0, cut)), ...f.push(stream.subarray(cut))];
      expect(got.map(toHex)).toEqual([KEEPALIVE, UPDATE, NOTIFICATION, KEEPALIVE].map(toHex));
    }
  });

  test("each visits the messages in place, stops when told, and checks every header first", () => {
    const f = new MessageFramer();
    const seen: string[] = [];
    const visit = (out: string[], data: Uint8Array, offset: number, length: number): boolean => {
      out.push(toHex(data.subarray(offset, offset + length)));
      return out.length < 2;
    };
    f.each(concat(stream, KEEPALIVE.subarray(0, 5)), visit, seen);
    expect(seen).toEqual([KEEPALIVE, UPDATE].map(toHex));
    // The rest of the chunk was framed all the same: the partial KEEPALIVE waits for its tail.
    expect(f.buffered).toBe(5);
    const more: string[] = [];
    f.each(KEEPALIVE.subarray(5), (out: string[], data, o, n) => out.push(toHex(data.subarray(o, o + n))) > 0, more);
    expect(more).toEqual([toHex(KEEPALIVE)]);
    // A bad header anywhere in the chunk: nothing of the chunk is visited.
    const g = new MessageFramer();
    const bad = concat(KEEPALIVE, hex("ffffffffffffffffffffffffffffffff000304"));
    const none: string[] = [];
    expect(() => g.each(bad, visit, none)).toThrow(BgpWireError);
    expect(none).toEqual([]);
  });

  test("one octet at a time", () => {
    const f = new MessageFramer();
    const got: Uint8Array[] = [];
    for (const b of stream) got.push(...f.push(Uint8Array.of(b)));
    expect(got.map((m) => decodeMessage(m).type)).toEqual([MessageType.KEEPALIVE, MessageType.UPDATE, MessageType.NOTIFICATION, MessageType.KEEPALIVE]);
  });

  test("a bad marker is 1/1 as soon as a marker octet is wrong, and the framer stays broken", () => {
    const f = new MessageFramer();
    expect(f.push(KEEPALIVE).length).toBe(1);
    let err: unknown;
    try {
      f.push(hex("ffff00"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BgpWireError);
    expect([(err as BgpWireError).code, (err as BgpWireError).subcode]).toEqual([1, 1]);
    expect(() => f.push(KEEPALIVE)).toThrow(BgpWireError);
    expect(f.error?.subcode).toBe(1);
    // The same error object each time, nothing buffered; another framer is not affected.
    let again: unknown;
    try {
      f.push(KEEPALIVE);
    } catch (e) {
      again = e;
    }
    expect(again).toBe(err);
    expect(f.error).toBe(err);
    expect(f.buffered).toBe(0);
    const g = new MessageFramer();
    expect(g.error).toBeUndefined();
    expect(g.push(KEEPALIVE).length).toBe(1);
  });

  test.each([
    [18, "0012"],
    [4097, "1001"],
    [0, "0000"],
  ])("length %i is 1/2 with the length as data", (len, data) => {
    const f = new MessageFramer();
    const bad = hex("ff".repeat(16) + len.toString(16).padStart(4, "0") + "04");
    try {
      f.push(bad);
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(BgpWireError);
      expect([(e as BgpWireError).code, (e as BgpWireError).subcode, toHex((e as BgpWireError).data)]).toEqual([1, 2, data]);
    }
  });

  test("waits for the rest of a message; larger limit after Extended Message", () => {
    const f = new MessageFramer();
    const big = message(2, "0000" + "0000" + "180a0000".repeat(1500).slice(0, 2 * 5000));
    expect(() => new MessageFramer().push(big)).toThrow(/Bad Message Length/);
    f.maxMessageLength = 65535;
    expect(f.push(big.subarray(0, 3000))).toEqual([]);
    expect(f.buffered).toBe(3000);
    expect(f.push(big.subarray(3000)).map((m) => m.length)).toEqual([big.length]);
  });
});
