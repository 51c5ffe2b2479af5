// The pure-TS SHA-2 digests agree with node:crypto for every padding case and for UTF-8 text.
import { describe, expect, test } from "@jest/globals";
import { createHash } from "node:crypto";
import { base64UrlNoPad, sha224, sha256, toHex } from "../../../src/core/net/sha2.ts";

const nodeHex = (alg: string, data: Uint8Array | string): string => createHash(alg).update(data).digest("hex");

describe("sha224 / sha256", () => {
  test("FIPS 180-4 example vectors", () => {
    expect(toHex(sha224("abc"))).toBe("23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    expect(toHex(sha256("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(toHex(sha224(""))).toBe("d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f");
  });

  test("every length 0..300 bytes matches node:crypto (covers all padding boundaries)", () => {
    const bytes = new Uint8Array(300);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    for (let len = 0; len <= 300; len++) {
      const slice = bytes.subarray(0, len);
      expect(toHex(sha224(slice))).toBe(nodeHex("sha224", slice));
      expect(toHex(sha256(slice))).toBe(nodeHex("sha256", slice));
    }
  });

  test("strings are hashed as UTF-8", () => {
    for (const s of ["s:all()", "héllo wörld", "日本語 🚀", "a".repeat(1000)]) {
      expect(toHex(sha224(s))).toBe(nodeHex("sha224", s));
      expect(toHex(sha256(s))).toBe(nodeHex("sha256", s));
    }
  });
});

describe("base64UrlNoPad", () => {
  test("matches Buffer base64url for lengths 0..40", () => {
    for (let len = 0; len <= 40; len++) {
      const b = Uint8Array.from({ length: len }, (_, i) => (i * 97 + 251) & 0xff);
      expect(base64UrlNoPad(b)).toBe(Buffer.from(b).toString("base64url"));
    }
  });
});
