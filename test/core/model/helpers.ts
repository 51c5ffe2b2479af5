// Small helpers for the model tests: load a YAML text and look at problems as printed lines.
import { formatProblems, parseResources, type AnyResource } from "../../../src/core/model/index.ts";

/** The problems of `text` as the CLI prints them (file "t.yaml"). */
export function problems(text: string): string[] {
  return formatProblems(parseResources(text, "t.yaml").problems).trimEnd().split("\n").filter(Boolean);
}

/** The single resource of a valid text. */
export function one(text: string): AnyResource {
  const r = parseResources(text, "t.yaml");
  if (r.problems.length > 0) throw new Error(`unexpected problems:\n${formatProblems(r.problems)}`);
  if (r.resources.size !== 1) throw new Error(`expected one resource, got ${r.resources.size}`);
  return r.resources.entries[0]!.resource;
}

/** A Calico v3 resource document. */
export function calico(kind: string, name: string, spec: string, extraMeta = ""): string {
  return `apiVersion: projectcalico.org/v3\nkind: ${kind}\nmetadata:\n  name: ${name}\n${extraMeta}spec:\n${spec
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => `  ${l}`)
    .join("\n")}\n`;
}
