// Cross-check against Project Calico's own selector vectors, read from ../shared/conformance
// (beside the clone, never copied in). See that folder's README for what each file must satisfy.
import { describe, expect, test } from "@jest/globals";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseSelector, SelectorParseError } from "../../../../src/core/policy/selector/index.ts";
import { repoRoot } from "../../../helpers/paths.ts";

const dir = resolve(repoRoot, "../shared/conformance");

function readJsonl<T>(name: string): T[] {
  const file = resolve(dir, name);
  if (!existsSync(file)) throw new Error(`conformance data missing: ${file}`);
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}

interface Case {
  sel: string;
  match: Record<string, string>[];
  noMatch: Record<string, string>[];
}
interface Invalid {
  sel: string;
}
interface Canonical {
  sel: string;
  canonical: string;
  uid?: string;
}

const cases = readJsonl<Case>("calico-selector-cases.jsonl");
const invalid = readJsonl<Invalid>("calico-selector-invalid.jsonl");
const canonical = readJsonl<Canonical>("calico-selector-canonical.jsonl");

describe("Calico selector conformance", () => {
  test("the data files are present and non-trivial", () => {
    expect(cases.length).toBeGreaterThanOrEqual(58);
    expect(invalid.length).toBeGreaterThanOrEqual(25);
    expect(canonical.length).toBeGreaterThanOrEqual(13);
  });

  test.each(cases.map((c, i) => [i + 1, c.sel, c] as const))("case %i: %j matches as Calico", (_n, _s, c) => {
    const sel = parseSelector(c.sel);
    const reparsed = parseSelector(sel.canonical);
    for (const s of [sel, reparsed]) {
      for (const labels of c.match) expect({ labels, matched: s.matches(labels) }).toEqual({ labels, matched: true });
      for (const labels of c.noMatch) expect({ labels, matched: s.matches(labels) }).toEqual({ labels, matched: false });
      // The Map form of the matcher must agree.
      for (const labels of c.match) expect(s.matchesMap(new Map(Object.entries(labels)))).toBe(true);
      for (const labels of c.noMatch) expect(s.matchesMap(new Map(Object.entries(labels)))).toBe(false);
    }
  });

  test.each(invalid.map((c, i) => [i + 1, c.sel] as const))("invalid %i: %j is rejected", (_n, text) => {
    expect(() => parseSelector(text)).toThrow(SelectorParseError);
  });

  test.each(canonical.map((c, i) => [i + 1, c.sel, c] as const))("canonical %i: %j", (_n, _s, c) => {
    const sel = parseSelector(c.sel);
    expect(sel.canonical).toBe(c.canonical);
    if (c.uid !== undefined) expect(sel.uniqueId).toBe(c.uid);
  });
});
