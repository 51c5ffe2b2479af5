/**
 * A selector that does not parse. `column` is 1-based and counts UTF-16 code units from the start
 * of the selector text (a selector is one line; a newline outside a string is itself an error).
 * It points at the first character of the offending token, or one past the end for an unexpected
 * end of input.
 */
export class SelectorParseError extends Error {
  readonly column: number;
  /** The reason without the position, e.g. `expected string`. */
  readonly reason: string;
  readonly selector: string;

  constructor(reason: string, column: number, selector: string) {
    super(`invalid selector: ${reason} at column ${column}`);
    this.name = "SelectorParseError";
    this.reason = reason;
    this.column = column;
    this.selector = selector;
  }
}
