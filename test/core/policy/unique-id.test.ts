// Calico's content-derived IDs: selector UIDs and length-limited names.
import { describe, expect, test } from "@jest/globals";
import { createHash } from "node:crypto";
import { felixIpSetName, lengthLimitedId, makeUniqueId } from "../../../src/core/policy/unique-id.ts";

describe("makeUniqueId", () => {
  test("all() gives the UID Felix uses for its IP set", () => {
    const uid = makeUniqueId("s", "all()");
    expect(uid).toBe("s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug");
    expect(felixIpSetName(uid, 4)).toBe("cali40s:5y5I3VdRZfDU01O--xXAPx2");
    expect(felixIpSetName(uid, 6)).toBe("cali60s:5y5I3VdRZfDU01O--xXAPx2");
    expect(felixIpSetName("short", 4)).toBe("cali40short");
  });

  test("is prefix + base64url(sha224(prefix:content))", () => {
    const expected = "n:" + createHash("sha224").update("n:s:abc,tcp,http").digest("base64url");
    expect(makeUniqueId("n", "s:abc,tcp,http")).toBe(expected);
  });
});

describe("lengthLimitedId", () => {
  test("short names are kept", () => {
    expect(lengthLimitedId("cali-pi-", "gnp/policy-1", 28)).toBe("cali-pi-gnp/policy-1");
  });

  test("long names are hashed to exactly the limit", () => {
    const suffix = "np/some-namespace/a-rather-long-policy-name";
    const id = lengthLimitedId("cali-pi-", suffix, 28);
    const hash = createHash("sha256").update(suffix).digest("base64url");
    expect(id).toBe("cali-pi-_" + hash.slice(0, 28 - 1 - "cali-pi-".length));
    expect(id).toHaveLength(28);
  });

  test("a suffix starting with _ that exactly fills the limit is hashed", () => {
    const suffix = "_" + "x".repeat(19);
    expect(lengthLimitedId("cali-pi-", suffix, 28)).not.toBe("cali-pi-" + suffix);
    expect(lengthLimitedId("cali-pi-", "y" + suffix.slice(1), 28)).toBe("cali-pi-y" + "x".repeat(19));
  });
});
