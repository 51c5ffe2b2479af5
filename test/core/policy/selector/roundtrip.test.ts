// Printer and parser agree: for random syntax trees, parsing the canonical print gives the same tree
// (trees with a directly doubled "!" are left out: Calico's parser collapses "!!").
import { describe, expect, test } from "@jest/globals";
import { parseSelector, selectorFromAst, type SelectorNode } from "../../../../src/core/policy/selector/index.ts";
import { sortedUnique } from "../../../../src/core/policy/selector/ast.ts";
import { rng } from "../../../helpers/rng.ts";

describe("canonical print round trip", () => {
  test("parse(print(tree)) == tree for 2000 random trees", () => {
    const rand = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const labels = ["a", "app", "k8s-app", "calico/ns.x_y", "in", "contains", "has", "all"];
    const values = ["", "x", "it's", 'say "hi"', "a b", "日本", "!&|(){}", "==", "in"];
    const leaf = (): SelectorNode => {
      const label = pick(labels);
      switch (Math.floor(rand() * 6)) {
        case 0:
          return { op: "all" };
        case 1:
          return { op: "global" };
        case 2:
          return { op: "has", label };
        case 3:
          return { op: pick(["==", "!=", "contains", "starts with", "ends with"] as const), label, value: pick(values) };
        default:
          return { op: pick(["in", "not in"] as const), label, values: sortedUnique(Array.from({ length: Math.floor(rand() * 4) }, () => pick(values))) };
      }
    };
    const tree = (depth: number, negatedParent = false): SelectorNode => {
      const r = rand();
      if (depth === 0 || r < 0.3) return leaf();
      if (r < 0.45 && !negatedParent) return { op: "not", operand: tree(depth - 1, true) };
      const n = 2 + Math.floor(rand() * 3);
      return { op: rand() < 0.5 ? "and" : "or", operands: Array.from({ length: n }, () => tree(depth - 1)) };
    };
    for (let i = 0; i < 2000; i++) {
      const t = tree(4);
      const printed = selectorFromAst(t).canonical;
      const back = parseSelector(printed);
      expect({ printed, ast: back.ast }).toEqual({ printed, ast: t });
      expect(back.canonical).toBe(printed);
    }
  });
});
