// Selector syntax tree, Calico's canonical printing of it, and compilation to closures.
// The tree mirrors libcalico-go/lib/selector/parser/ast.go node for node, because the canonical
// string (and so the unique ID, IP-set names, ...) is a print of exactly that tree.

export type Labels = Readonly<Record<string, string>>;

export type ValueOp = "==" | "!=" | "contains" | "starts with" | "ends with";
export type SetOp = "in" | "not in";

type ValueNode = { readonly op: ValueOp; readonly label: string; readonly value: string };

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
export type MapMatcher = (labels: ReadonlyMap<string, string>) => boolean;

/** Reads a label; undefined when absent. */
type Reader<L> = (labels: L, key: string) => string | undefined;

// Inherited Object.prototype members are never strings, so they read as absent labels.
const readRecord: Reader<Labels> = (l, k) => {
  const v = l[k];
  return typeof v === "string" ? v : undefined;
};
const readMap: Reader<ReadonlyMap<string, string>> = (l, k) => l.get(k);

// Label names come out of the parser as slices of the selector text; hand V8 the internalized
// copy (a round trip through an object key) so lookups do not re-hash a sliced string each time.
function intern(s: string): string {
  const o: Record<string, true> = {};
  o[s] = true;
  return Object.keys(o)[0] ?? s;
}

/** Compile to closures over plain label records. */
export const compileNode = (node: SelectorNode): Matcher => compileWith(node, readRecord);

/**
 * Compile to closures over Maps. Map.get costs the same whatever the shape of the label object,
 * whereas keyed loads on many differently shaped records go megamorphic in V8; on the shared test
 * machine both measured about the same (bench/policy.ts), so this is for predictability.
 */
export const compileMapNode = (node: SelectorNode): MapMatcher => compileWith(node, readMap);

function compileWith<L>(node: SelectorNode, read: Reader<L>): (labels: L) => boolean {
  switch (node.op) {
    case "all":
    case "global":
      return () => true;
    case "has": {
      const k = intern(node.label);
      return (l) => read(l, k) !== undefined;
    }
    case "==": {
      const k = intern(node.label);
      const v = intern(node.value);
      return (l) => read(l, k) === v;
    }
    case "!=": {
      const k = intern(node.label);
      const v = intern(node.value);
      return (l) => read(l, k) !== v; // absent label: undefined !== v, so it matches (as Calico)
    }
    case "contains": {
      const k = intern(node.label);
      const v = node.value;
      return (l) => read(l, k)?.includes(v) === true;
    }
    case "starts with": {
      const k = intern(node.label);
      const v = node.value;
      return (l) => read(l, k)?.startsWith(v) === true;
    }
    case "ends with": {
      const k = intern(node.label);
      const v = node.value;
      return (l) => read(l, k)?.endsWith(v) === true;
    }
    case "in":
    case "not in": {
      const k = intern(node.label);
      const negate = node.op === "not in";
      if (node.values.length === 0) return () => negate;
      if (node.values.length === 1) {
        const v = intern(node.values[0]!);
        return negate ? (l) => read(l, k) !== v : (l) => read(l, k) === v;
      }
      const set = new Set<string | undefined>(node.values.map(intern));
      return negate ? (l) => !set.has(read(l, k)) : (l) => set.has(read(l, k));
    }
    case "not": {
      const inner = compileWith(node.operand, read);
      return (l) => !inner(l);
    }
    case "and": {
      // Conjunctions of equalities (every converted K8s selector) are checked in one loop rather
      // than one closure call per term; the other terms follow. Terms are pure, so order is free.
      const eqs = node.operands.filter((o): o is ValueNode => o.op === "==");
      if (eqs.length >= 2) {
        const keys = eqs.map((e) => intern(e.label));
        const values = eqs.map((e) => intern(e.value));
        const rest = node.operands.filter((o) => o.op !== "==").map((o) => compileWith(o, read));
        const n = keys.length;
        return (l) => {
          for (let i = 0; i < n; i++) if (read(l, keys[i]!) !== values[i]) return false;
          for (const p of rest) if (!p(l)) return false;
          return true;
        };
      }
      const parts = node.operands.map((o) => compileWith(o, read));
      if (parts.length === 2) {
        const [a, b] = parts as [(l: L) => boolean, (l: L) => boolean];
        return (l) => a(l) && b(l);
      }
      return (l) => {
        for (const p of parts) if (!p(l)) return false;
        return true;
      };
    }
    case "or": {
      const parts = node.operands.map((o) => compileWith(o, read));
      if (parts.length === 2) {
        const [a, b] = parts as [(l: L) => boolean, (l: L) => boolean];
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
