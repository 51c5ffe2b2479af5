// SHA-1 against node:crypto and the FIPS 180 examples.
import { describe, expect, test } from "@jest/globals";
import { createHash } from "node:crypto";
import { sha1 } from "../../../src/core/net/sha1.ts";
import { toHex } from "../../../src/core/net/sha2.ts";

describe("sha1", () => {
  test("FIPS 180 examples", () => {
    expect(toHex(sha1("abc"))).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
    expect(toHex(sha1(""))).toBe("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect(toHex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))).toBe("84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  });
  test("equals node:crypto for lengths around the block boundaries", () => {
    for (let n = 0; n < 200; n++) {
      const s = "x".repeat(n) + "é".repeat(n % 3);
      expect(toHex(sha1(s))).toBe(createHash("sha1").update(s).digest("hex"));
    }
  });
});
