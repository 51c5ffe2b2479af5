// "birdcage/core" resolves by package self-reference (package.json "exports") to the pure core API.
import { describe, expect, test } from "@jest/globals";
import { Ipam, MemoryDatastore, parseSelector, planIpam, SelectorParseError } from "birdcage/core";
import * as direct from "../../src/core/index.ts";

describe("birdcage/core package entry", () => {
  test("exports the selector API", () => {
    const sel = parseSelector("app == 'web' && tier in {'b', 'a'}");
    expect(sel.canonical).toBe('(app == "web" && tier in {"a", "b"})');
    expect(sel.matches({ app: "web", tier: "a" })).toBe(true);
    expect(sel.matches({ app: "web" })).toBe(false);
    expect(() => parseSelector("app = 'web'")).toThrow(SelectorParseError);
  });

  test("is the same module as src/core/index.ts", () => {
    expect(parseSelector).toBe(direct.parseSelector);
  });

  test("exports the datastore and IPAM", async () => {
    const ipam = new Ipam(new MemoryDatastore(), { pools: [{ name: "p", cidr: "10.7.0.0/24" }] });
    const { ipv4 } = await ipam.autoAssign({ host: "n1", handleId: "h1", num4: 1 });
    // The first address of whichever block n1's reproducible search order starts at.
    expect(ipv4).toHaveLength(1);
    expect(ipv4[0]).toMatch(/^10\.7\.0\.(0|64|128|192)$/);
    expect((await planIpam({ pool: "10.7.0.0/24", nodes: 4, podsPerNode: 1 })).totalBlocks).toBe(4);
  });
});
