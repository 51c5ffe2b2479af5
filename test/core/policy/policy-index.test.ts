// The selector index must never lose a match: candidates are a superset of the true matches, in order.
import { describe, expect, test } from "@jest/globals";
import { indexKey, PolicyIndex } from "../../../src/core/policy/policy-index.ts";
import { parseSelector, type Selector } from "../../../src/core/policy/selector/index.ts";
import { rng } from "../../helpers/rng.ts";

describe("indexKey", () => {
  test.each([
    ["app == 'web'", { kind: "eq", label: "app", values: ["web"] }],
    ["(app == 'web') && projectcalico.org/namespace == 'prod'", { kind: "eq", label: "app", values: ["web"] }],
    ["all() && projectcalico.org/namespace == 'prod'", { kind: "eq", label: "projectcalico.org/namespace", values: ["prod"] }],
    ["has(a) && b in {'x', 'y'}", { kind: "eq", label: "b", values: ["x", "y"] }],
    ["a starts with 'x'", { kind: "has", label: "a" }],
    ["a == 'x' || b == 'y'", undefined],
    ["!has(a)", undefined],
    ["a != 'x'", undefined],
  ])("%s", (text, key) => {
    expect(indexKey(parseSelector(text))).toEqual(key);
  });
});

describe("PolicyIndex", () => {
  test("candidates include every match (randomised against brute force)", () => {
    const rand = rng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const labels = ["app", "tier", "env", "projectcalico.org/namespace"];
    const values = ["a", "b", "c"];
    const atom = (): string => {
      const l = pick(labels);
      switch (Math.floor(rand() * 7)) {
        case 0:
          return `${l} == '${pick(values)}'`;
        case 1:
          return `${l} != '${pick(values)}'`;
        case 2:
          return `${l} in {'${pick(values)}', '${pick(values)}'}`;
        case 3:
          return `has(${l})`;
        case 4:
          return `!has(${l})`;
        case 5:
          return `${l} starts with '${pick(values)}'`;
        default:
          return "all()";
      }
    };
    const expr = (depth: number): string => {
      if (depth === 0 || rand() < 0.4) return atom();
      return `(${expr(depth - 1)}) ${rand() < 0.7 ? "&&" : "||"} (${expr(depth - 1)})`;
    };
    const selectors: Selector[] = Array.from({ length: 300 }, () => parseSelector(expr(3)));
    const index = new PolicyIndex(selectors, (s) => s);
    let matches = 0;
    for (let n = 0; n < 500; n++) {
      const l: Record<string, string> = {};
      for (const k of labels) if (rand() < 0.6) l[k] = pick(values);
      const expected = selectors.filter((s) => s.matches(l));
      const got = index.candidates(l).filter((s) => s.matches(l));
      expect(got).toEqual(expected);
      matches += expected.length;
    }
    expect(matches).toBeGreaterThan(1000); // the data is not trivially empty
  });
});
