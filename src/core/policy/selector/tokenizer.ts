// Selector tokenizer with Calico's rules (libcalico-go/lib/selector/tokenizer): whitespace is only
// space and tab; operator words are recognised only straight after a label and must end at a word
// boundary; `has(`, `all(` and `global(` are single tokens that allow inner spaces.
import { SelectorParseError } from "./error.ts";

export type TokenKind =
  | "label"
  | "string"
  | "{"
  | "}"
  | ","
  | "=="
  | "!="
  | "in"
  | "not in"
  | "!"
  | "contains"
  | "starts with"
  | "ends with"
  | "all"
  | "global"
  | "has"
  | "("
  | ")"
  | "&&"
  | "||"
  | "eof";

export interface Token {
  readonly kind: TokenKind;
  /** Label name or string contents; "" for other kinds. */
  readonly value: string;
  /** 0-based offset of the token's first character in the input. */
  readonly pos: number;
}

export const MAX_LABEL_LENGTH = 512;

const isIdentChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || // a-z
  (c >= 65 && c <= 90) || // A-Z
  (c >= 48 && c <= 57) || // 0-9
  c === 95 || // _
  c === 46 || // .
  c === 47 || // /
  c === 45; // -

export function isValidLabel(label: string): boolean {
  if (label.length === 0 || label.length > MAX_LABEL_LENGTH) return false;
  for (let i = 0; i < label.length; i++) if (!isIdentChar(label.charCodeAt(i))) return false;
  return true;
}

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = input.length;
  const fail = (reason: string, at: number): never => {
    throw new SelectorParseError(reason, at + 1, input);
  };
  const skipWs = (at: number): number => {
    while (at < n && (input.charCodeAt(at) === 32 || input.charCodeAt(at) === 9)) at++;
    return at;
  };
  const wordBoundary = (at: number): boolean => at >= n || !isIdentChar(input.charCodeAt(at));
  // One operator word, ending at a word boundary ("in", "contains").
  const matchWord = (at: number, word: string): number =>
    input.startsWith(word, at) && wordBoundary(at + word.length) ? at + word.length : -1;
  // Two words with optional whitespace between ("not in" / "notin"). As in Calico, whitespace after
  // the last word is skipped before the word-boundary check.
  const matchWords = (at: number, first: string, second: string): number => {
    if (!input.startsWith(first, at)) return -1;
    const p = skipWs(at + first.length);
    if (!input.startsWith(second, p)) return -1;
    const end = skipWs(p + second.length);
    return wordBoundary(end) ? end : -1;
  };
  const identEnd = (at: number): number => {
    let p = at;
    while (p < n && isIdentChar(input.charCodeAt(p))) p++;
    if (p === at) fail("expected identifier", at);
    if (p - at > MAX_LABEL_LENGTH) fail(`label too long (more than ${MAX_LABEL_LENGTH} characters)`, at);
    return p;
  };
  const push = (kind: TokenKind, pos: number, value = ""): void => {
    tokens.push({ kind, value, pos });
  };

  for (;;) {
    i = skipWs(i);
    if (i >= n) {
      push("eof", n);
      return tokens;
    }
    const start = i;
    const ch = input[i]!;
    switch (ch) {
      case "(":
      case ")":
      case "{":
      case "}":
      case ",":
        push(ch, start);
        i++;
        continue;
      case '"':
      case "'": {
        const close = input.indexOf(ch, i + 1);
        if (close < 0) fail("unterminated string", start);
        push("string", start, input.slice(i + 1, close));
        i = close + 1;
        continue;
      }
      case "=":
        if (input[i + 1] !== "=") fail("expected ==", start);
        push("==", start);
        i += 2;
        continue;
      case "!":
        if (input[i + 1] === "=") {
          push("!=", start);
          i += 2;
        } else {
          push("!", start);
          i++;
        }
        continue;
      case "&":
        if (input[i + 1] !== "&") fail("expected &&", start);
        push("&&", start);
        i += 2;
        continue;
      case "|":
        if (input[i + 1] !== "|") fail("expected ||", start);
        push("||", start);
        i += 2;
        continue;
    }

    if (ch === "\n" || ch === "\r") fail("a selector must be on one line (found a line break)", start);
    const last = tokens[tokens.length - 1];
    if (last?.kind === "label") {
      // Straight after a label only an operator word may follow.
      let p: number;
      if ((p = matchWord(i, "contains")) >= 0) push("contains", start);
      else if ((p = matchWords(i, "starts", "with")) >= 0) push("starts with", start);
      else if ((p = matchWords(i, "ends", "with")) >= 0) push("ends with", start);
      else if ((p = matchWords(i, "not", "in")) >= 0) push("not in", start);
      else if ((p = matchWord(i, "in")) >= 0) push("in", start);
      else p = fail(`expected operator after label "${last.value}"`, start);
      i = p;
      continue;
    }
    if (input.startsWith("has(", i)) {
      const identStart = skipWs(i + 4);
      const end = identEnd(identStart);
      const close = skipWs(end);
      if (input[close] !== ")") fail("expected ) to close has(", close);
      push("has", start, input.slice(identStart, end));
      i = close + 1;
      continue;
    }
    if (input.startsWith("all(", i) || input.startsWith("global(", i)) {
      const isAll = input[i] === "a";
      const close = skipWs(i + (isAll ? 4 : 7));
      if (input[close] !== ")") fail(`expected ) to close ${isAll ? "all" : "global"}(`, close);
      push(isAll ? "all" : "global", start);
      i = close + 1;
      continue;
    }
    const end = identEnd(i);
    push("label", start, input.slice(i, end));
    i = end;
  }
}
