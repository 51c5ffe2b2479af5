import { describe, expect, test } from "@jest/globals";
import { dottedQuad } from "../../../src/core/bgp/dotted-quad.ts";
import { parseIP } from "../../../src/core/net/ip.ts";

/** What parseIP says for an IPv4 text, or undefined when it refuses it or reads something else. */
const viaParseIP = (t: string): number | undefined => {
  try {
    const ip = parseIP(t);
    return ip.family === 4 ? Number(ip.value) : undefined;
  } catch {
    return undefined;
  }
};

describe("dottedQuad", () => {
  test("plain dotted quads give their value; everything else is left to parseIP", () => {
    expect(dottedQuad("10.0.0.1")).toBe(0x0a000001);
    expect(dottedQuad("255.255.255.255")).toBe(0xffffffff);
    expect(dottedQuad("0.0.0.0")).toBe(0);
    for (const t of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.", ".1.2.3", "1.2.3.4 ", "::1", "::ffff:1.2.3.4", "1.2.3.1000", "a.b.c.d", "1.2.3.-4"]) {
      expect(dottedQuad(t)).toBeUndefined();
    }
  });

  test("agrees with parseIP wherever it answers, on random texts made of digits and dots", () => {
    let x = 12345;
    const rand = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    let answered = 0;
    for (let i = 0; i < 20_000; i++) {
      const parts = Array.from({ length: 3 + rand(3) }, () => (rand(10) === 0 ? "0" + rand(10) : String(rand(300))));
      const t = parts.join(".");
      const v = dottedQuad(t);
      if (v === undefined) continue;
      answered++;
      expect([t, v]).toEqual([t, viaParseIP(t)]);
    }
    expect(answered).toBeGreaterThan(1000);
  });
});
