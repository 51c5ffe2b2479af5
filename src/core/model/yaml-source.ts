// YAML (and JSON, which is YAML) documents that remember where every value came from, so that a
// problem found anywhere in a resource can be reported as file:line:col.
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node as YamlNode, type Pair } from "yaml";
import type { Problem, SourcePos } from "./problems.ts";

/** A path into a document's value: map keys and sequence indices. */
export type Path = readonly (string | number)[];

/** Where a scalar's text sits, for pointing inside it (e.g. at a column of a selector). */
export interface ScalarSpan {
  readonly pos: SourcePos;
  /** True when the scalar is a single-line plain or quoted string whose characters map 1:1. */
  readonly exact: boolean;
}

/** One part of a file (a document, or an item of a List document) and its positions. */
export interface SourceDocument {
  readonly file: string;
  /** The value as plain data (maps → objects, sequences → arrays). */
  readonly value: unknown;
  /** Where the document (or List item) starts. */
  readonly pos: SourcePos;
  /**
   * The position of the value at `path` (relative to this document), or of its key with
   * `key: true`. A path that does not exist resolves to the deepest part that does: the key of
   * the last map entry found, so "missing field" problems point at the enclosing field.
   */
  locate(path: Path, options?: { key?: boolean }): SourcePos;
  /** The scalar at `path`, if there is one. */
  scalarAt(path: Path): ScalarSpan | undefined;
  /** The source text of the plain (unquoted) scalar at `path`, e.g. "65001.10" that YAML reads as a float. */
  plainText(path: Path): string | undefined;
  /** The same document seen from `path` inward (used for the items of a List). */
  sub(path: Path): SourceDocument;
}

export interface ParsedYaml {
  readonly documents: SourceDocument[];
  readonly problems: Problem[];
}

/** Parses every document in `text`; syntax errors become problems and their documents are dropped. */
export function parseYamlDocuments(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [];
  const documents: SourceDocument[] = [];
  const posOf = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  // A stream that is not YAML at all comes back as an EmptyStream with errors.
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) {
    for (const e of (docs as { errors?: { pos: [number, number]; message: string }[] }).errors ?? []) {
      problems.push({ ...posOf(e.pos[0]), message: yamlMessage(e.message) });
    }
  }
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ ...posOf(e.pos[0]), message: yamlMessage(e.message) });
      continue;
    }
    // An empty document (a trailing "---", or only comments) holds nothing.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null && doc.contents.source === "")) continue;
    try {
      documents.push(makeSource(doc, doc.contents as YamlNode, file, posOf, text));
    } catch (e) {
      // e.g. "Excessive alias count": an alias bomb must not take the process down.
      const start = (doc.contents as { range?: [number, number, number] }).range?.[0] ?? 0;
      problems.push({ ...posOf(start), message: yamlMessage(e instanceof Error ? e.message : String(e)) });
    }
  }
  return { documents, problems };
}

function yamlMessage(message: string): string {
  // Messages from `yaml` sometimes carry a "at line N, column M" suffix or a code excerpt.
  const first = message.split("\n")[0] ?? message;
  return `invalid YAML: ${first.replace(/ at line \d+, column \d+:?$/, "")}`;
}

function makeSource(
  doc: Document.Parsed,
  root: YamlNode,
  file: string,
  posOf: (offset: number) => SourcePos,
  text: string,
): SourceDocument {
  const deref = (n: unknown): unknown => (isAlias(n) ? n.resolve(doc) : n);
  const start = (n: unknown): number | undefined => {
    const r = (n as { range?: [number, number, number] } | null | undefined)?.range;
    return r ? r[0] : undefined;
  };

  interface Walk {
    node: unknown; // the deepest node reached
    pair: Pair | undefined; // the map entry whose value is `node` (if reached through a map)
    complete: boolean;
  }
  const walk = (path: Path): Walk => {
    let node: unknown = root;
    let pair: Pair | undefined;
    for (const seg of path) {
      node = deref(node);
      if (isMap(node)) {
        const found = node.items.find((p) => {
          const k = isScalar(p.key) ? p.key.value : p.key;
          return String(k) === String(seg);
        });
        if (!found) return { node, pair, complete: false };
        pair = found;
        node = found.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (item === undefined) return { node, pair, complete: false };
        pair = undefined;
        node = item;
      } else {
        return { node, pair, complete: false };
      }
    }
    return { node, pair, complete: true };
  };

  const fallback = start(root) ?? 0;
  const source: SourceDocument = {
    file,
    value: root.toJS(doc, { maxAliasCount: 100 }) as unknown,
    pos: posOf(fallback),
    locate(path, options = {}) {
      const w = walk(path);
      if (w.complete) {
        if (options.key && w.pair) return posOf(start(w.pair.key) ?? fallback);
        // An empty value (`key:` with nothing after it) has no useful range: point at the key.
        const s = w.node === null || w.node === undefined ? undefined : start(w.node);
        if (s !== undefined && !(isScalar(w.node) && w.node.value === null && w.pair)) return posOf(s);
        if (w.pair) return posOf(start(w.pair.key) ?? fallback);
        return posOf(fallback);
      }
      if (w.pair) return posOf(start(w.pair.key) ?? fallback);
      return posOf(start(w.node) ?? fallback);
    },
    scalarAt(path) {
      const w = walk(path);
      const n = deref(w.node);
      if (!w.complete || !isScalar(n)) return undefined;
      const s = start(n);
      if (s === undefined) return undefined;
      const plainish = n.type === "PLAIN" || n.type === "QUOTE_SINGLE" || n.type === "QUOTE_DOUBLE";
      const raw = text.slice(s, n.range?.[1] ?? s);
      const quoted = n.type !== "PLAIN";
      // 1:1 only when the source text is exactly the value (plus quotes) on one line.
      const inner = quoted ? raw.slice(1, -1) : raw;
      const exact = plainish && !raw.includes("\n") && inner === String(n.value);
      return { pos: posOf(s + (quoted ? 1 : 0)), exact };
    },
    plainText(path) {
      const w = walk(path);
      const n = deref(w.node);
      if (!w.complete || !isScalar(n) || n.type !== "PLAIN" || !n.range) return undefined;
      return text.slice(n.range[0], n.range[1]).trim();
    },
    sub(prefix) {
      return subSource(source, prefix);
    },
  };
  return source;
}

function subSource(parent: SourceDocument, prefix: Path): SourceDocument {
  let value: unknown = parent.value;
  for (const seg of prefix) value = (value as Record<string | number, unknown> | null | undefined)?.[seg];
  const self: SourceDocument = {
    file: parent.file,
    value,
    pos: parent.locate(prefix),
    locate: (path, options) => parent.locate([...prefix, ...path], options),
    scalarAt: (path) => parent.scalarAt([...prefix, ...path]),
    plainText: (path) => parent.plainText([...prefix, ...path]),
    sub: (path) => subSource(self, path),
  };
  return self;
}

/** A position `offset` characters into a scalar, when the scalar's text maps 1:1 to its value. */
export function positionInScalar(span: ScalarSpan | undefined, fallback: SourcePos, offset: number): SourcePos {
  if (!span) return fallback;
  if (!span.exact) return span.pos;
  return { ...span.pos, column: span.pos.column + offset };
}
