// Selector grammar, semantics, error columns and canonical forms (beyond Calico's own vectors).
import { describe, expect, test } from "@jest/globals";
import {
  parseSelector,
  prefixLabels,
  selectorFromAst,
  SelectorParseError,
  validateSelector,
  isValidLabel,
} from "../../../../src/core/policy/selector/index.ts";

function parseError(text: string): SelectorParseError {
  try {
    parseSelector(text);
  } catch (e) {
    if (e instanceof SelectorParseError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("tokenizer rules (Calico tokenizer_test.go)", () => {
  test.each([
    'a=="b"',
    'label contains"value"',
    'label startswith "value"',
    'label starts  with "value"',
    'label starts\twith "value"',
    'startswith starts with "value"',
    'a notin{"bar"}&&!has(foo)||b in{"c"}',
    "has(calico/k8s_NS-.1/role)",
    'calico/k8s_ns == "kube-system" && k8s-app == "kube-dns"',
    "a not in {}",
    "global( )",
    "all( )",
    "has( foo )",
    'contains contains "contains"',
    'in in {"in"}',
    'has == "x"',
    'a in {"x",}',
    `${"l".repeat(512)} == "value"`,
  ])("accepts %j", (text) => {
    expect(validateSelector(text)).toBeUndefined();
  });

  test.each([
    `${"l".repeat(513)} == "value"`,
    'label == "value',
    "label == 'value",
    'label = "value"',
    "all(",
    "global(",
    "has()",
    "has(foo",
    "has( foo ",
    'a == "b" & has(foo)',
    'a == "b" | has(foo)',
    'label starts foo "value"',
    'label inf "value"',
    'label ends foo "value"',
    'label ends withs "value"',
    'label squiggles "value"',
    'a not in "bar"',
    "a in {,}",
    'a in {"x" "y"}',
    'a == "b"\n&& c == "d"',
    'a == "b" &&\nc == "d"',
    "a\n== 'b'",
    'a == "é" && b é "x"',
  ])("rejects %j", (text) => {
    expect(() => parseSelector(text)).toThrow(SelectorParseError);
  });

  test("label validity", () => {
    expect(isValidLabel("projectcalico.org/name")).toBe(true);
    expect(isValidLabel("")).toBe(false);
    expect(isValidLabel("a b")).toBe(false);
    expect(isValidLabel("x".repeat(513))).toBe(false);
  });
});

describe("semantics", () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['a != "x"', {}, true],
    ['a != "x"', { a: "x" }, false],
    ['a not in {"x"}', {}, true],
    ['a not in {"x", "y"}', {}, true],
    ['a not in {"x", "y"}', { a: "y" }, false],
    ["a not in {}", {}, true],
    ["a in {}", { a: "" }, false],
    ['a in {""}', { a: "" }, true],
    ['a == ""', {}, false],
    ['a == ""', { a: "" }, true],
    ['a contains ""', { a: "" }, true],
    ['a contains ""', {}, false],
    ['a starts with "pre"', { a: "prefix" }, true],
    ['a ends with "fix"', { a: "prefix" }, true],
    ["!has(a)", {}, true],
    ["has(a)", { a: "" }, true],
    ['!a == "x"', {}, true],
    ['!a != "x"', {}, false],
    ["global()", {}, true],
    // Labels named like Object.prototype members are ordinary absent labels.
    ["has(constructor)", {}, false],
    ['constructor != "x"', {}, true],
    ['toString in {"a", "b"}', {}, false],
    ['__proto__ == "x"', {}, false],
    // Precedence: && binds tighter than ||; ! binds to one primary only.
    ['a == "1" || b == "1" && c == "1"', { a: "1" }, true],
    ['(a == "1" || b == "1") && c == "1"', { a: "1" }, false],
    ['!a == "1" && b == "1"', { a: "2", b: "1" }, true],
    ['!(a == "1" && b == "1")', { a: "1", b: "2" }, true],
    ['a == "1" && b == "1" && c == "1"', { a: "1", b: "1", c: "1" }, true],
    ['a == "1" || b == "1" || c == "1"', { c: "1" }, true],
    ['a == "1" || b == "1" || c == "1"', {}, false],
  ];
  test.each(cases)("%s on %j is %s", (text, labels, expected) => {
    expect(parseSelector(text).matches(labels)).toBe(expected);
    expect(parseSelector(text).matchesMap(new Map(Object.entries(labels)))).toBe(expected);
  });

  test("conjunctions mixing equalities with other terms", () => {
    const sel = parseSelector("a == '1' && has(b) && c == '3' && d != '4'");
    expect(sel.canonical).toBe('(a == "1" && has(b) && c == "3" && d != "4")');
    expect(sel.matches({ a: "1", b: "", c: "3" })).toBe(true);
    expect(sel.matches({ a: "1", b: "", c: "3", d: "4" })).toBe(false);
    expect(sel.matches({ a: "1", c: "3" })).toBe(false);
    expect(sel.matches({ a: "1", b: "x", c: "2" })).toBe(false);
  });

  test("labels with own __proto__ key from JSON are matched", () => {
    const labels = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
    expect(parseSelector('__proto__ == "x"').matches(labels)).toBe(true);
  });
});

describe("canonical form", () => {
  test.each([
    ["a=='b'", 'a == "b"'],
    ["a == 'say \"hi\"'", "a == 'say \"hi\"'"],
    ["a in {'b'}", 'a in {"b"}'],
    ["a in {}", "a in {}"],
    ["a notin {'y','x',}", 'a not in {"x", "y"}'],
    ["a == '1' && b == '2' && c == '3'", '(a == "1" && b == "2" && c == "3")'],
    ["a == '1' || b == '2' && c == '3'", '(a == "1" || (b == "2" && c == "3"))'],
    ["(a == '1' && b == '2') && c == '3'", '((a == "1" && b == "2") && c == "3")'],
    ["!!has(a)", "has(a)"],
    ["!(!has(a))", "!!has(a)"],
    ["!(k == 'v')", '!k == "v"'],
    ["a endswith 'x'", 'a ends with "x"'],
    ["has(a)&&global()", "(has(a) && global())"],
    // Set members sort by code point (UTF-8 byte order), not UTF-16 unit order.
    ["a in {'\uffff', '\u{1f680}', 'b', 'B'}", 'a in {"B", "b", "\uffff", "\u{1f680}"}'],
  ])("%s -> %s", (text, canonical) => {
    expect(parseSelector(text).canonical).toBe(canonical);
    expect(String(parseSelector(text))).toBe(canonical);
  });

  test("equivalent spellings share a unique id", () => {
    const a = parseSelector("a in {'x', 'y'} && has(b)");
    const b = parseSelector('(a in {"y","x","x"}) && has( b )');
    expect(a.uniqueId).toBe(b.uniqueId);
    expect(a.uniqueId).toMatch(/^s:[A-Za-z0-9_-]{38}$/);
    expect(parseSelector("has(b)").uniqueId).not.toBe(a.uniqueId);
  });

  test("label prefixing matches Calico's PrefixVisitor output", () => {
    const sel = parseSelector("!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))");
    expect(selectorFromAst(prefixLabels(sel.ast, "visited/")).canonical).toBe(
      '!(!((visited/k == "v" && has(visited/t)) || all()) && visited/a in {"b", "c"})',
    );
  });
});

describe("parse errors point at the column (1-based)", () => {
  test.each([
    ['a == "b" && c = "d"', 15, "expected =="],
    ["a ", 3, "expected an operator"],
    ["b == b", 6, "expected a quoted string"],
    ["'b1' == b", 1, "found string"],
    ['a == "b" && %', 13, "expected identifier"],
    ['x == "unterminated', 6, "unterminated string"],
    ["(a == 'x'", 10, "expected )"],
    ["a == 'x')", 9, 'unexpected ")"'],
    ["has()", 5, "expected identifier"],
    ['a in "x"', 6, "expected a set literal"],
    ["a in {'x' 'y'}", 11, "expected a quoted string or }"],
    ['a == "b"\n&& c', 9, "one line"],
    ["label inf 'v'", 7, 'expected operator after label "label"'],
    // A single-word operator ends at the word; "in" is taken, then x is not a set literal.
    ["a in x", 6, "expected a set literal"],
    // After a two-word operator Calico skips spaces before checking the boundary, so "x" spoils it.
    ["a starts with x", 3, 'expected operator after label "a"'],
  ])("%j -> column %i", (text, column, reason) => {
    const e = parseError(text);
    expect(e.column).toBe(column);
    expect(e.reason).toContain(reason);
    expect(e.message).toContain(`column ${column}`);
    expect(e.selector).toBe(text);
  });

  test("deep nesting is a parse error, not a crash", () => {
    const deep = "(".repeat(100000) + "all()" + ")".repeat(100000);
    expect(parseError(deep).reason).toContain("nested");
    const ok = "(".repeat(200) + "has(a)" + ")".repeat(200);
    expect(parseSelector(ok).canonical).toBe("has(a)");
  });
});
