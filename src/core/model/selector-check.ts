// Selector syntax checking for the loader.
//
// HOOK: the selector parser is another module (src/core/policy/selector/). When it exports
// `parseSelector`, wire it in here so that every selector field is checked and the problem points
// at the column inside the selector. Until then only the structural checks below run.
import type { Path } from "./yaml-source.ts";

export interface SelectorSyntaxProblem {
  /** What is wrong, e.g. `expected string`. */
  readonly reason: string;
  /** 1-based column inside the selector text. */
  readonly column: number;
}

/** Checks a selector's syntax; undefined when it parses (or when no parser is wired in). */
export function checkSelectorSyntax(text: string): SelectorSyntaxProblem | undefined {
  void text;
  return undefined;
}

/** True when a real parser is wired in (tests use this to decide what to expect). */
export const selectorParserAvailable = false;

/** A selector field found in a resource, for checking after schema validation. */
export interface SelectorField {
  readonly path: Path;
  readonly text: string;
  /** Where `global()` may appear: only an EntityRule namespaceSelector allows it. */
  readonly allowGlobal: boolean;
}
