// Selector syntax tree, Calico's canonical printing of it, and compilation to closures.
// The tree mirrors libcalico-go/lib/selector/parser/ast.go node for node, because the canonical
// string (and so the unique ID, IP-set names, ...) is a print of exactly that tree.

export type Labels = Readonly<Record<string, string>>;

export type ValueOp = "==" | "!=" | "contains" | "starts with" | "ends with";
export type SetOp = "in" | "not in";

export type SelectorNode =
  | { readonly op: "all" }
  | { readonly op: "global" }
  | { readonly op: "has"; readonly label: string }
  | { readonly op: ValueOp; readonly label: string; readonly value: string }
  /** `values` are sorted (by code point, as Go sorts bytes) and de-duplicated. */
  | { readonly op: SetOp; readonly label: string; readonly values: readonly string[] }
  | { readonly op: "not"; readonly operand: SelectorNode }
  | { readonly op: "and" | "or"; readonly operands: readonly SelectorNode[] };

/** Compare by Unicode code point, which is the byte order of the UTF-8 encoding Go sorts. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xd800-0xdfff) encode code points above every BMP unit, so they sort last.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

export function sortedUnique(values: Iterable<string>): string[] {
  const sorted = [...new Set(values)].sort(compareCodePoints);
  return sorted;
}

const quote = (s: string): string => (s.includes('"') ? `'${s}'` : `"${s}"`);

/** Calico's `Selector.String()`: and/or parenthesised, `!` unspaced, `"` unless the value has one. */
export function printNode(node: SelectorNode): string {
  switch (node.op) {
    case "all":
      return "all()";
    case "global":
      return "global()";
    case "has":
      return `has(${node.label})`;
    case "==":
    case "!=":
    case "contains":
    case "starts with":
    case "ends with":
      return `${node.label} ${node.op} ${quote(node.value)}`;
    case "in":
    case "not in":
      return `${node.label} ${node.op} {${node.values.map(quote).join(", ")}}`;
    case "not":
      return `!${printNode(node.operand)}`;
    case "and":
      return `(${node.operands.map(printNode).join(" && ")})`;
    case "or":
      return `(${node.operands.map(printNode).join(" || ")})`;
  }
}

export type Matcher = (labels: Labels) => boolean;

const always: Matcher = () => true;

// Label lookups index the record directly: a missing key reads as undefined, and inherited
// Object.prototype members are never strings, so `typeof === "string"` means "label present".
export function compileNode(node: SelectorNode): Matcher {
  switch (node.op) {
    case "all":
    case "global":
      return always;
    case "has": {
      const k = node.label;
      return (l) => typeof l[k] === "string";
    }
    case "==": {
      const { label: k, value: v } = node;
      return (l) => l[k] === v;
    }
    case "!=": {
      const { label: k, value: v } = node;
      return (l) => l[k] !== v; // absent label: undefined !== v, so it matches (as Calico)
    }
    case "contains": {
      const { label: k, value: v } = node;
      return (l) => {
        const x = l[k];
        return typeof x === "string" && x.includes(v);
      };
    }
    case "starts with": {
      const { label: k, value: v } = node;
      return (l) => {
        const x = l[k];
        return typeof x === "string" && x.startsWith(v);
      };
    }
    case "ends with": {
      const { label: k, value: v } = node;
      return (l) => {
        const x = l[k];
        return typeof x === "string" && x.endsWith(v);
      };
    }
    case "in":
    case "not in": {
      const k = node.label;
      const negate = node.op === "not in";
      if (node.values.length === 0) return negate ? always : () => false;
      if (node.values.length === 1) {
        const v = node.values[0]!;
        return negate ? (l) => l[k] !== v : (l) => l[k] === v;
      }
      const set = new Set<unknown>(node.values);
      return negate ? (l) => !set.has(l[k]) : (l) => set.has(l[k]);
    }
    case "not": {
      const inner = compileNode(node.operand);
      return (l) => !inner(l);
    }
    case "and": {
      const parts = node.operands.map(compileNode);
      if (parts.length === 2) {
        const [a, b] = parts as [Matcher, Matcher];
        return (l) => a(l) && b(l);
      }
      return (l) => {
        for (const p of parts) if (!p(l)) return false;
        return true;
      };
    }
    case "or": {
      const parts = node.operands.map(compileNode);
      if (parts.length === 2) {
        const [a, b] = parts as [Matcher, Matcher];
        return (l) => a(l) || b(l);
      }
      return (l) => {
        for (const p of parts) if (p(l)) return true;
        return false;
      };
    }
  }
}

/** A copy of the tree with `prefix` put before every label name (Calico's PrefixVisitor). */
export function prefixLabels(node: SelectorNode, prefix: string): SelectorNode {
  switch (node.op) {
    case "all":
    case "global":
      return node;
    case "not":
      return { op: "not", operand: prefixLabels(node.operand, prefix) };
    case "and":
    case "or":
      return { op: node.op, operands: node.operands.map((o) => prefixLabels(o, prefix)) };
    default:
      return { ...node, label: prefix + node.label };
  }
}
