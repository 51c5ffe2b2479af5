// Loading resource files: YAML documents (and List documents) → typed, defaulted resources with
// their positions, or every problem found, each at file:line:col.
import { checkSelectorSyntax } from "./selector-check.ts";
import { issueToProblems, formatPath, describeValue } from "./issues.ts";
import { InputError, sortProblems, type Problem } from "./problems.ts";
import type * as z from "zod";
import { KINDS, LoadedResources, findKind, type KindInfo, type ResourceEntry, type ResourceKind } from "./resources.ts";
import { validateResourceSet } from "./resource-set.ts";
import { parseYamlDocuments, positionInScalar, type Path, type SourceDocument } from "./yaml-source.ts";

export interface ResourceParseResult {
  readonly resources: LoadedResources;
  /** Every problem, sorted by position; empty when the text is valid. */
  readonly problems: Problem[];
}

/**
 * Parses resource text without throwing: the resources that were valid and every problem found
 * (syntax, schema, per-resource rules, and rules across the resources of this text).
 */
export function parseResources(text: string, file: string): ResourceParseResult {
  const { documents, problems } = parseYamlDocuments(text, file);
  return parseResourceDocuments(documents, problems);
}

/**
 * Like parseResources, for documents already parsed (e.g. resources written inline inside a
 * topology file, as `doc.sub([...])`), so their problems point into the file that holds them.
 */
export function parseResourceDocuments(documents: readonly SourceDocument[], earlier: readonly Problem[] = []): ResourceParseResult {
  const problems = [...earlier];
  const entries: ResourceEntry[] = [];
  for (const doc of documents) {
    for (const item of flattenLists(doc, problems)) {
      const entry = loadOne(item, problems);
      if (entry) entries.push(entry);
    }
  }
  problems.push(...validateResourceSet(entries));
  return { resources: new LoadedResources(entries), problems: sortProblems(problems) };
}

/**
 * Parses several files as one set: each file's problems, plus the rules across files (a pool in
 * one file overlapping a pool in another), each problem reported once.
 */
export function parseResourceFiles(inputs: readonly { readonly text: string; readonly file: string }[]): ResourceParseResult {
  const results = inputs.map((i) => parseResources(i.text, i.file));
  const problems = results.flatMap((r) => r.problems);
  const sets = results.map((r) => r.resources);
  if (sets.length > 1) {
    const key = (p: Problem) => `${p.file}\u0000${p.line}\u0000${p.column}\u0000${p.message}`;
    const known = new Set(problems.map(key));
    problems.push(...validateResourceSet(sets).filter((p) => !known.has(key(p))));
  }
  return { resources: new LoadedResources(sets.flatMap((s) => s.entries)), problems: sortProblems(problems) };
}

/** Loads several files as one set; throws InputError carrying every problem of every file. */
export function loadResourceFiles(inputs: readonly { readonly text: string; readonly file: string }[]): LoadedResources {
  const r = parseResourceFiles(inputs);
  if (r.problems.length > 0) throw new InputError(r.problems);
  return r.resources;
}

/** Loads resource text; throws InputError carrying every problem. */
export function loadResources(text: string, file: string): LoadedResources {
  const r = parseResources(text, file);
  if (r.problems.length > 0) throw new InputError(r.problems);
  return r.resources;
}

const kindList = (): string => {
  const groups = new Map<string, string[]>();
  for (const k of KINDS) groups.set(k.apiVersion, [...(groups.get(k.apiVersion) ?? []), k.kind]);
  return [...groups].map(([v, ks]) => `${ks.join(", ")} (${v})`).join("; ");
};

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** `kind: List` (kubectl) and `kind: <Kind>List` (calicoctl) become their items. */
function flattenLists(doc: SourceDocument, problems: Problem[]): SourceDocument[] {
  const v = doc.value;
  if (!isMapping(v) || typeof v.kind !== "string" || !v.kind.endsWith("List")) return [doc];
  const itemKind = v.kind === "List" ? undefined : v.kind.slice(0, -"List".length);
  if (itemKind !== undefined && !findKind(v.apiVersion, itemKind)) return [doc]; // reported as an unknown kind
  if (v.kind === "List" && v.apiVersion !== "v1") {
    problems.push({ ...doc.locate(["apiVersion"]), message: `apiVersion: a List has apiVersion "v1", got ${describeValue(v.apiVersion)}` });
    return [];
  }
  if (v.items === undefined || v.items === null) return [];
  if (!Array.isArray(v.items)) {
    problems.push({ ...doc.locate(["items"]), message: `items: expected a list, got ${describeValue(v.items)}` });
    return [];
  }
  return v.items.map((item, i) => {
    const sub = doc.sub(["items", i]);
    // calicoctl's <Kind>List items may leave out apiVersion and kind.
    if (itemKind !== undefined && isMapping(item) && item.kind === undefined && item.apiVersion === undefined) {
      return { ...sub, value: { apiVersion: v.apiVersion, kind: itemKind, ...item } };
    }
    return sub;
  });
}

function loadOne(doc: SourceDocument, problems: Problem[]): ResourceEntry | undefined {
  const v = doc.value;
  if (!isMapping(v)) {
    problems.push({ ...doc.pos, message: `expected a resource (a mapping with apiVersion and kind), got ${describeValue(v)}` });
    return undefined;
  }
  if (v.kind === undefined) {
    problems.push({ ...doc.pos, message: `missing kind; expected one of ${kindList()}` });
    return undefined;
  }
  const info = findKind(v.apiVersion, v.kind);
  if (!info) {
    const sameKind = KINDS.filter((k) => k.kind === v.kind);
    if (sameKind.length > 0) {
      const want = sameKind.map((k) => JSON.stringify(k.apiVersion)).join(" or ");
      problems.push({ ...doc.locate(["apiVersion"]), message: `apiVersion: kind ${String(v.kind)} needs apiVersion ${want}, got ${describeValue(v.apiVersion)}` });
    } else {
      problems.push({ ...doc.locate(["kind"]), message: `unknown kind ${String(v.kind)} (apiVersion ${String(v.apiVersion)}); expected one of ${kindList()}` });
    }
    return undefined;
  }
  const selectorProblems = [...checkSelectors(info.key, v, doc), ...unquotedAsdot(v, doc)];
  let parsed: ReturnType<KindInfo["schema"]["safeParse"]>;
  try {
    parsed = info.schema.safeParse(v);
  } catch (e) {
    // A rule that trips over input it did not expect must not take the process down.
    problems.push({ ...doc.pos, message: `internal error while validating this ${info.kind}: ${e instanceof Error ? e.message : String(e)}` });
    return undefined;
  }
  if (!parsed.success) {
    problems.push(...selectorProblems, ...allIssues(info.schema, v, parsed.error.issues, doc));
    return undefined;
  }
  if (selectorProblems.length > 0) {
    problems.push(...selectorProblems);
    return undefined;
  }
  return { key: info.key, resource: parsed.data as never, source: doc.pos, at: (path, options) => doc.locate(path, options) };
}

/**
 * Zod skips an object's cross-field rules once one of its fields is ill-typed. To still report
 * every problem in one pass, drop the offending fields and parse once more, keeping the new issues
 * that neither lie under nor mention a dropped field (those would only be echoes of its absence).
 */
function allIssues(schema: KindInfo["schema"], raw: Record<string, unknown>, first: readonly z.core.$ZodIssue[], doc: SourceDocument): Problem[] {
  const pathOf = (issue: z.core.$ZodIssue): Path => issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const out = first.flatMap((issue) => issueToProblems(issue, doc));
  const seen = new Set(first.map((issue) => `${pathOf(issue).join("/")}|${issue.message}`));
  const clone = structuredClone(raw);
  const removed = first.map((issue) => removablePrefix(clone, pathOf(issue))).filter((p): p is Path => p !== undefined);
  if (removed.length === 0) return out;
  let again: ReturnType<KindInfo["schema"]["safeParse"]>;
  try {
    again = schema.safeParse(clone);
  } catch {
    return out;
  }
  if (again.success) return out;
  const names = removed.map((r) => String(r[r.length - 1]));
  for (const issue of again.error.issues) {
    const path = pathOf(issue);
    if (seen.has(`${path.join("/")}|${issue.message}`)) continue;
    // Under a dropped field, or about an object that lost a field: an echo of the removal.
    if (removed.some((r) => r.length <= path.length && r.every((seg, i) => seg === path[i]))) continue;
    if (removed.some((r) => path.length < r.length && path.every((seg, i) => seg === r[i]))) continue;
    if (names.some((n) => new RegExp(`\\b${n.replace(/[^A-Za-z0-9]/g, "\\$&")}\\b`).test(issue.message))) continue;
    out.push(...issueToProblems(issue, doc));
  }
  return out;
}

/** Deletes the deepest mapping key on `path` from `value`; returns the path that was cut. */
function removablePrefix(value: unknown, path: Path): Path | undefined {
  let cut = -1;
  let node: unknown = value;
  const parents: unknown[] = [];
  for (let i = 0; i < path.length; i++) {
    parents.push(node);
    const seg = path[i];
    if (isMapping(node) && typeof seg === "string" && seg in node) cut = i;
    node = isMapping(node) || Array.isArray(node) ? (node as Record<string | number, unknown>)[seg as string | number] : undefined;
  }
  if (cut < 0) return undefined;
  const parent = parents[cut] as Record<string, unknown>;
  delete parent[path[cut] as string];
  return path.slice(0, cut + 1);
}

// ---------------------------------------------------------------- selectors

interface SelectorRef {
  path: Path;
  allowGlobal: boolean;
}

function ruleSelectorRefs(base: Path, rules: unknown): SelectorRef[] {
  if (!Array.isArray(rules)) return [];
  return rules.flatMap((_, i) =>
    (["source", "destination"] as const).flatMap((side) => [
      { path: [...base, i, side, "selector"], allowGlobal: false },
      { path: [...base, i, side, "notSelector"], allowGlobal: false },
      { path: [...base, i, side, "namespaceSelector"], allowGlobal: true },
      { path: [...base, i, side, "serviceAccounts", "selector"], allowGlobal: false },
    ]),
  );
}

function selectorRefs(key: ResourceKind, raw: Record<string, unknown>): SelectorRef[] {
  const spec = isMapping(raw.spec) ? raw.spec : {};
  const top = (...names: string[]): SelectorRef[] => names.map((n) => ({ path: ["spec", n], allowGlobal: false }));
  switch (key) {
    case "IPPool":
      return top("nodeSelector", "namespaceSelector");
    case "BGPPeer":
      return top("nodeSelector", "peerSelector", "localWorkloadSelector");
    case "NetworkPolicy":
    case "GlobalNetworkPolicy":
    case "Profile":
      return [
        ...top("selector", "serviceAccountSelector", "namespaceSelector"),
        ...ruleSelectorRefs(["spec", "ingress"], spec.ingress),
        ...ruleSelectorRefs(["spec", "egress"], spec.egress),
      ];
    default:
      return [];
  }
}

function checkSelectors(key: ResourceKind, raw: Record<string, unknown>, doc: SourceDocument): Problem[] {
  const out: Problem[] = [];
  for (const ref of selectorRefs(key, raw)) {
    let text: unknown = raw;
    for (const seg of ref.path) text = isMapping(text) || Array.isArray(text) ? (text as Record<string | number, unknown>)[seg] : undefined;
    if (typeof text !== "string") continue;
    const where = formatPath(ref.path);
    const pos = doc.locate(ref.path);
    const span = doc.scalarAt(ref.path);
    const g = text.indexOf("global()");
    if (!ref.allowGlobal && g >= 0) {
      out.push({ ...positionInScalar(span, pos, g), message: `${where}: global() can only be used in an EntityRule namespaceSelector` });
      continue;
    }
    if (ref.allowGlobal && text.includes("global(") && text.trim() !== "global()") {
      out.push({ ...pos, message: `${where}: global() cannot be combined with other selectors` });
      continue;
    }
    const problem = checkSelectorSyntax(text);
    if (problem) out.push({ ...positionInScalar(span, pos, problem.column - 1), message: `${where}: invalid selector: ${problem.reason} (column ${problem.column} of the selector)` });
  }
  return out;
}

/**
 * An unquoted asdot AS number such as `asNumber: 65001.10` is a float to YAML (65001.1, the
 * trailing zero lost), so Calico refuses it and wants it quoted. Say so, with the text as written,
 * instead of a puzzling "65001.1 is invalid".
 */
function unquotedAsdot(raw: Record<string, unknown>, doc: SourceDocument): Problem[] {
  const out: Problem[] = [];
  for (const path of [["spec", "asNumber"], ["spec", "localASNumber"], ["spec", "bgp", "asNumber"]]) {
    let parent: unknown = raw;
    for (const seg of path.slice(0, -1)) parent = isMapping(parent) ? parent[seg] : undefined;
    const last = path[path.length - 1]!;
    if (!isMapping(parent) || typeof parent[last] !== "number" || Number.isInteger(parent[last])) continue;
    const text = doc.plainText(path);
    if (text === undefined || !/^\d+\.\d+$/.test(text)) continue;
    out.push({ ...doc.locate(path), message: `${formatPath(path)}: write the asdot AS number quoted, "${text}": unquoted, YAML reads it as the number ${String(parent[last])}` });
    parent[last] = text; // so that the schema does not report it a second time
  }
  return out;
}
