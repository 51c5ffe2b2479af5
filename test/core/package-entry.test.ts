// "birdcage/core" resolves by package self-reference (package.json "exports") to the pure core API.
import { describe, expect, test } from "@jest/globals";
import { parseSelector, SelectorParseError } from "birdcage/core";
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
});
