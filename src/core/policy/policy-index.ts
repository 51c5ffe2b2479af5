// Index items (policies) by a label condition their selector requires, so finding the policies
// that select an endpoint looks at a few buckets instead of every selector. As in Felix's label
// index, `label == "v"`, `label in {...}` and `has(label)` (and contains/starts/ends with, which
// imply has) are indexable, and `A && B` is indexable through either side; the rest is scanned.
import type { Labels, Selector, SelectorNode } from "./selector/index.ts";
import { LABEL_NAMESPACE } from "./model.ts";

type Key = { readonly kind: "eq"; readonly label: string; readonly values: readonly string[] } | { readonly kind: "has"; readonly label: string };

function conjuncts(node: SelectorNode, out: SelectorNode[] = []): SelectorNode[] {
  if (node.op === "and") for (const o of node.operands) conjuncts(o, out);
  else out.push(node);
  return out;
}

/** The most selective required condition of a selector, or undefined if none is indexable. */
export function indexKey(selector: Selector): Key | undefined {
  let best: Key | undefined;
  let bestRank = 0;
  for (const c of conjuncts(selector.ast)) {
    let key: Key | undefined;
    let rank = 0;
    if (c.op === "==") {
      key = { kind: "eq", label: c.label, values: [c.value] };
      rank = c.label === LABEL_NAMESPACE ? 4 : 5; // a namespace holds many endpoints; prefer other labels
    } else if (c.op === "in" && c.values.length > 0) {
      key = { kind: "eq", label: c.label, values: c.values };
      rank = 3;
    } else if (c.op === "has" || c.op === "contains" || c.op === "starts with" || c.op === "ends with") {
      key = { kind: "has", label: c.label };
      rank = 2;
    } else if (c.op === "in") {
      // `in {}` matches nothing: any bucket that is never looked up will do.
      key = { kind: "eq", label: c.label, values: [] };
      rank = 6;
    }
    if (key !== undefined && rank > bestRank) {
      best = key;
      bestRank = rank;
    }
  }
  return best;
}

export class PolicyIndex<T> {
  readonly #items: readonly T[];
  readonly #eq = new Map<string, Map<string, number[]>>();
  readonly #has = new Map<string, number[]>();
  readonly #scan: number[] = [];

  constructor(items: readonly T[], selectorOf: (item: T) => Selector) {
    this.#items = items;
    items.forEach((item, i) => {
      const key = indexKey(selectorOf(item));
      if (key === undefined) this.#scan.push(i);
      else if (key.kind === "has") push(this.#has, key.label, i);
      else {
        let byValue = this.#eq.get(key.label);
        if (byValue === undefined) this.#eq.set(key.label, (byValue = new Map()));
        for (const v of key.values) push(byValue, v, i);
      }
    });
  }

  /** Items whose selector might match these labels (a superset of the matches), in item order. */
  candidates(labels: Labels | ReadonlyMap<string, string>): T[] {
    // Each item sits in exactly one bucket, and a label has one value, so no item is hit twice.
    const hits: number[][] = [this.#scan];
    let total = this.#scan.length;
    const entries = labels instanceof Map ? labels.entries() : Object.entries(labels as Labels);
    for (const [label, value] of entries) {
      const eq = this.#eq.get(label)?.get(value);
      if (eq !== undefined) {
        hits.push(eq);
        total += eq.length;
      }
      const has = this.#has.get(label);
      if (has !== undefined) {
        hits.push(has);
        total += has.length;
      }
    }
    const order = new Int32Array(total);
    let n = 0;
    for (const list of hits) for (const i of list) order[n++] = i;
    order.sort();
    const out = new Array<T>(total);
    for (let j = 0; j < total; j++) out[j] = this.#items[order[j]!]!;
    return out;
  }
}

function push<K>(map: Map<K, number[]>, key: K, i: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [i]);
  else list.push(i);
}
