// What kind of file a text is, judged by its first document's shape, so that one command can take
// any of the files the testbed reads.
import { looksLikeIcpConfig } from "./icp.ts";
import { parseYamlDocuments } from "./yaml-source.ts";

/**
 * `resources`: Kubernetes/Calico objects (apiVersion + kind, or a List); `icp-config`: an IBM Cloud
 * Private config.yaml; `topology`: a birdcage topology (apiVersion birdcage/v1, kind Topology, loaded by
 * src/topology); `scenario`: a birdcage scenario (kind Scenario, loaded by src/scenario); `empty`: no documents.
 */
export type FileShape = "resources" | "icp-config" | "topology" | "scenario" | "empty";

export function detectFileShape(text: string): FileShape {
  const { documents, problems } = parseYamlDocuments(text, "-");
  const first = documents[0];
  if (!first) return problems.length > 0 ? "resources" : "empty"; // syntax errors are reported by the loader
  if (looksLikeIcpConfig(first.value)) return "icp-config";
  const v = first.value as Record<string, unknown> | null;
  if (v !== null && typeof v === "object" && v.apiVersion === "birdcage/v1" && v.kind === "Topology") return "topology";
  if (v !== null && typeof v === "object" && v.apiVersion === "birdcage/v1" && v.kind === "Scenario") return "scenario";
  return "resources";
}
