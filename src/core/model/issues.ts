// Turning schema issues into positioned problems that name the field and say what was expected.
import type * as z from "zod";
import { AT_KEY } from "./fields.ts";
import type { Problem } from "./problems.ts";
import type { Path, SourceDocument } from "./yaml-source.ts";

/** `spec.ingress[0].ports[1]`, with odd keys quoted: `metadata.labels["app.kubernetes.io/name"]`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function valueAt(value: unknown, path: Path): unknown {
  let v = value;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** A short description of a value for "got ..." messages. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

const typeNames: Record<string, string> = { object: "a mapping", array: "a list", string: "a string", number: "a number", boolean: "true or false", int: "an integer" };

/** The problems for one schema issue of the document `src` (paths are relative to it). */
export function issueToProblems(issue: z.core.$ZodIssue, src: SourceDocument): Problem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const where = formatPath(path);
  const actual = valueAt(src.value, path);
  const at = (message: string, key = false): Problem => ({ ...src.locate(path, { key }), message: where ? `${where}: ${message}` : message });
  switch (issue.code) {
    case "invalid_type": {
      if (actual === undefined) return [at(`required field is missing (expected ${typeNames[issue.expected] ?? issue.expected})`)];
      return [at(`expected ${typeNames[issue.expected] ?? issue.expected}, got ${describeValue(actual)}`)];
    }
    case "invalid_value": {
      const options = issue.values.map((v) => JSON.stringify(v));
      if (actual === undefined) return [at(`required field is missing (expected ${options.join(" or ")})`)];
      const expected = options.length === 1 ? options[0] : `one of ${options.join(", ")}`;
      return [at(`expected ${expected}, got ${describeValue(actual)}`)];
    }
    case "unrecognized_keys":
      return issue.keys.map((k) => {
        const p = [...path, k];
        return { ...src.locate(p, { key: true }), message: `${formatPath(p)}: unknown field` };
      });
    case "invalid_union":
      if (actual === undefined) return [at("required field is missing")];
      return [at(`${issue.message}, got ${describeValue(actual)}`)];
    case "custom": {
      const key = (issue.params as Record<string, unknown> | undefined)?.[AT_KEY] === true;
      return [at(issue.message, key)];
    }
    default:
      return [at(issue.message)];
  }
}
