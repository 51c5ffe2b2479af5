// Calico label selectors: parse once, match fast, print and hash exactly as Calico does.
// Public API: parseSelector, Selector, SelectorParseError (see docs/policy.md for the grammar).
import { compileMapNode, compileNode, printNode, type Labels, type MapMatcher, type Matcher, type SelectorNode } from "./ast.ts";
import { parseToNode } from "./parser.ts";
import { makeUniqueId } from "../unique-id.ts";

export { SelectorParseError } from "./error.ts";
export { isValidLabel } from "./tokenizer.ts";
export { prefixLabels, type Labels, type SelectorNode } from "./ast.ts";

export interface Selector {
  /** True when the labels satisfy the selector (absent labels behave as in Calico). */
  matches(labels: Labels): boolean;
  /** The same test over a Map: faster when many selectors meet many label sets. */
  matchesMap(labels: ReadonlyMap<string, string>): boolean;
  /** Calico's canonical print (`Selector.String()`), e.g. `(a == "b" && !has(c))`. */
  readonly canonical: string;
  /** `"s:" + base64url(SHA-224("s:" + canonical))`: Calico's selector UID (IP-set ID). */
  readonly uniqueId: string;
  /** The syntax tree, for indexing and rewriting; treat as immutable. */
  readonly ast: SelectorNode;
  toString(): string;
}

class CompiledSelector implements Selector {
  readonly canonical: string;
  readonly ast: SelectorNode;
  readonly matches: Matcher;
  #uid: string | undefined;
  #mapMatcher: MapMatcher | undefined;

  constructor(ast: SelectorNode) {
    this.ast = ast;
    this.canonical = printNode(ast);
    this.matches = compileNode(ast);
  }

  matchesMap(labels: ReadonlyMap<string, string>): boolean {
    return (this.#mapMatcher ??= compileMapNode(this.ast))(labels);
  }

  get uniqueId(): string {
    return (this.#uid ??= makeUniqueId("s", this.canonical));
  }

  toString(): string {
    return this.canonical;
  }

  toJSON(): string {
    return this.canonical;
  }
}

/**
 * Parse a selector. Empty or blank text is `all()`. Throws SelectorParseError (with a 1-based
 * column) when the text is not a valid Calico selector.
 */
export function parseSelector(text: string): Selector {
  return new CompiledSelector(parseToNode(text));
}

/** Build a Selector from a syntax tree (e.g. one rewritten with prefixLabels). */
export function selectorFromAst(ast: SelectorNode): Selector {
  return new CompiledSelector(ast);
}

/** The parse error message for `text`, or undefined when it is a valid selector. */
export function validateSelector(text: string): string | undefined {
  try {
    parseToNode(text);
    return undefined;
  } catch (e) {
    if (e instanceof Error && e.name === "SelectorParseError") return e.message;
    throw e;
  }
}
