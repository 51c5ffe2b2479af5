// What kind of file a text is, judged by its first document's shape, so that one command can take
// any of the files the testbed reads.
import { looksLikeIcpConfig } from "./icp.ts";
import { parseYamlDocuments } from "./yaml-source.ts";

/**
 * `resources`: Kubernetes/Calico objects (apiVersion + kind, or a List); `icp-config`: an IBM Cloud
 * Private config.yaml; `empty`: no documents. Topology and scenario files will get their own shapes.
 */
export type FileShape = "resources" | "icp-config" | "empty";

export function detectFileShape(text: string): FileShape {
  const { documents, problems } = parseYamlDocuments(text, "-");
  const first = documents[0];
  if (!first) return problems.length > 0 ? "resources" : "empty"; // syntax errors are reported by the loader
  if (looksLikeIcpConfig(first.value)) return "icp-config";
  return "resources";
}
