// Recursive-descent selector parser with Calico's grammar (libcalico-go/lib/selector/parser):
//   selector := (empty) | or EOF;  or := and ("||" and)*;  and := op ("&&" op)*
//   op := "!"* (has(l) | all() | global() | l OP "s" | l [not] in {"s", ...} | "(" or ")")
// Leading "!"s collapse to one negation (or none), as Calico does.
import { sortedUnique, type SelectorNode, type ValueOp } from "./ast.ts";
import { SelectorParseError } from "./error.ts";
import { tokenize, type Token } from "./tokenizer.ts";

// Untrusted input must not blow the stack; Calico has no such limit but no real selector nests this deep.
const MAX_DEPTH = 500;

function describe(t: Token): string {
  switch (t.kind) {
    case "eof":
      return "end of selector";
    case "label":
      return `label "${t.value}"`;
    case "string":
      return `string "${t.value}"`;
    case "has":
      return `has(${t.value})`;
    case "all":
    case "global":
      return `${t.kind}()`;
    default:
      return `"${t.kind}"`;
  }
}

export function parseToNode(input: string): SelectorNode {
  const tokens = tokenize(input);
  let i = 0;
  let depth = 0;
  const peek = (): Token => tokens[i]!;
  const fail = (reason: string, t: Token): never => {
    throw new SelectorParseError(reason, t.pos + 1, input);
  };

  const parseOr = (): SelectorNode => {
    const parts = [parseAnd()];
    while (peek().kind === "||") {
      i++;
      parts.push(parseAnd());
    }
    return parts.length === 1 ? parts[0]! : { op: "or", operands: parts };
  };

  const parseAnd = (): SelectorNode => {
    const parts = [parseOp()];
    while (peek().kind === "&&") {
      i++;
      parts.push(parseOp());
    }
    return parts.length === 1 ? parts[0]! : { op: "and", operands: parts };
  };

  const parseOp = (): SelectorNode => {
    let negated = false;
    while (peek().kind === "!") {
      negated = !negated;
      i++;
    }
    const node = parsePrimary();
    return negated ? { op: "not", operand: node } : node;
  };

  const parsePrimary = (): SelectorNode => {
    const t = peek();
    switch (t.kind) {
      case "has":
        i++;
        return { op: "has", label: t.value };
      case "all":
        i++;
        return { op: "all" };
      case "global":
        i++;
        return { op: "global" };
      case "(": {
        if (++depth > MAX_DEPTH) fail(`parentheses nested more than ${MAX_DEPTH} deep`, t);
        i++;
        const inner = parseOr();
        const close = peek();
        if (close.kind !== ")") fail(`expected ) but found ${describe(close)}`, close);
        i++;
        depth--;
        return inner;
      }
      case "label":
        return parseLabelOp();
      default:
        return fail(`expected a label, has(), all(), global(), "!" or "(" but found ${describe(t)}`, t);
    }
  };

  const parseLabelOp = (): SelectorNode => {
    const label = tokens[i++]!.value;
    const opTok = peek();
    i++;
    switch (opTok.kind) {
      case "==":
      case "!=":
      case "contains":
      case "starts with":
      case "ends with": {
        const v = peek();
        if (v.kind !== "string") fail(`expected a quoted string after ${opTok.kind} but found ${describe(v)}`, v);
        i++;
        return { op: opTok.kind as ValueOp, label, value: v.value };
      }
      case "in":
      case "not in": {
        const brace = peek();
        if (brace.kind !== "{") fail(`expected a set literal {…} after ${opTok.kind} but found ${describe(brace)}`, brace);
        i++;
        const values: string[] = [];
        // Strings separated by commas; a trailing comma is allowed, a lone comma is not.
        while (peek().kind === "string") {
          values.push(peek().value);
          i++;
          if (peek().kind !== ",") break;
          i++;
        }
        const close = peek();
        if (close.kind !== "}") fail(`expected a quoted string or } but found ${describe(close)}`, close);
        i++;
        return { op: opTok.kind, label, values: sortedUnique(values) };
      }
      default:
        return fail(`expected an operator after label "${label}" but found ${describe(opTok)}`, opTok);
    }
  };

  if (peek().kind === "eof") return { op: "all" };
  const root = parseOr();
  const rest = peek();
  if (rest.kind !== "eof") fail(`unexpected ${describe(rest)} after the end of the expression`, rest);
  return root;
}
