// Selector syntax checking for the loader, by the policy module's parser (Calico's grammar), so a
// bad selector is reported at the column where it goes wrong.
import { parseSelector, SelectorParseError } from "../policy/selector/index.ts";

export interface SelectorSyntaxProblem {
  /** What is wrong, e.g. `expected string`. */
  readonly reason: string;
  /** 1-based column inside the selector text. */
  readonly column: number;
}

/** Checks a selector's syntax; undefined when it parses. */
export function checkSelectorSyntax(text: string): SelectorSyntaxProblem | undefined {
  try {
    parseSelector(text);
    return undefined;
  } catch (e) {
    if (e instanceof SelectorParseError) return { reason: e.reason, column: e.column };
    throw e;
  }
}
