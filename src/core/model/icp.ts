// IBM Cloud Private installer config.yaml: the Calico keys mapped onto an IPPool plus node settings.
// The file is large and mostly about other things, so keys we don't model are ignored; a key we do
// model with a bad value is a problem at its position.
import { formatPrefix, parsePrefix, prefixesOverlap } from "../net/ip.ts";
import { ipPoolSchema, type EncapMode, type IPPool } from "./calico.ts";
import { issueToProblems, describeValue } from "./issues.ts";
import { InputError, sortProblems, type Problem, type SourcePos } from "./problems.ts";
import { parseYamlDocuments, type SourceDocument } from "./yaml-source.ts";

/** How calico-node picks the node address (IP_AUTODETECTION_METHOD). */
export type AutodetectionMethod =
  | { readonly kind: "first-found" }
  | { readonly kind: "kubernetes-internal-ip" }
  | { readonly kind: "can-reach"; readonly destination: string }
  | { readonly kind: "interface"; readonly patterns: readonly string[] }
  | { readonly kind: "skip-interface"; readonly patterns: readonly string[] }
  | { readonly kind: "cidr"; readonly cidrs: readonly string[] };

export interface IcpConfig {
  readonly networkType: "calico";
  /** The pool the installer creates: `default-ipv4-ippool` over network_cidr. */
  readonly pool: IPPool;
  /** calico_tunnel_mtu: the MTU of the IPIP tunnel (and pod interfaces). */
  readonly tunnelMTU: number;
  /** calico_ip_autodetection_method as written, and understood. */
  readonly autodetectionMethod: string;
  readonly autodetection: AutodetectionMethod;
  /** service_cluster_ip_range, when given. */
  readonly serviceClusterIPRange?: string;
  readonly source: SourcePos;
}

export const ICP_DEFAULTS = {
  networkCIDR: "10.1.0.0/16",
  ipipMode: "Always" as EncapMode,
  // This project's seed value: not a documented ICP default (see calico-semantics.md §5).
  tunnelMTU: 1430,
  autodetectionMethod: "first-found",
  blockSize: 26,
} as const;

/** Keys that mark a YAML mapping as an ICP config.yaml (it has no apiVersion/kind). */
const ICP_MARKERS = [
  "network_type",
  "network_cidr",
  "service_cluster_ip_range",
  "calico_ipip_mode",
  "calico_ipip_enabled",
  "calico_tunnel_mtu",
  "calico_ip_autodetection_method",
  "cluster_name",
  "cluster_CA_domain",
  "kubelet_extra_args",
  "ansible_user",
  "management_services",
] as const;

/** True for a mapping without apiVersion/kind that carries ICP installer keys. */
export function looksLikeIcpConfig(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  if ("kind" in v || "apiVersion" in v) return false;
  return ICP_MARKERS.some((k) => k in v);
}

/** Parses an IP_AUTODETECTION_METHOD value; returns a reason string when it is not valid. */
export function parseAutodetectionMethod(text: string): AutodetectionMethod | string {
  const t = text.trim();
  if (t === "" || t === "first-found") return { kind: "first-found" };
  if (t === "kubernetes-internal-ip") return { kind: "kubernetes-internal-ip" };
  const eq = t.indexOf("=");
  const name = eq < 0 ? t : t.slice(0, eq);
  const arg = eq < 0 ? "" : t.slice(eq + 1);
  const list = arg.split(",").map((s) => s.trim());
  const expected = "expected first-found, kubernetes-internal-ip, can-reach=DEST, interface=REGEX[,REGEX...], skip-interface=REGEX[,REGEX...] or cidr=CIDR[,CIDR...]";
  switch (name) {
    case "can-reach":
      if (!/^[A-Za-z0-9.:_-]+$/.test(arg)) return `can-reach needs an IP address or host name, got "${arg}"`;
      return { kind: "can-reach", destination: arg };
    case "interface":
    case "skip-interface": {
      if (arg === "" || list.some((p) => p === "")) return `${name} needs one or more comma-separated regular expressions`;
      for (const p of list) {
        try {
          new RegExp(p);
        } catch {
          return `${name}: "${p}" is not a valid regular expression`;
        }
      }
      return { kind: name, patterns: list };
    }
    case "cidr": {
      if (arg === "") return "cidr needs one or more comma-separated CIDRs";
      for (const c of list) {
        try {
          parsePrefix(c, { strict: false });
        } catch {
          return `cidr: "${c}" is not a valid CIDR`;
        }
      }
      return { kind: "cidr", cidrs: list };
    }
    default:
      return `unknown autodetection method "${t}"; ${expected}`;
  }
}

export interface IcpParseResult {
  readonly config?: IcpConfig;
  readonly problems: Problem[];
}

/** Reads an ICP config.yaml without throwing. */
export function parseIcpConfig(text: string, file: string): IcpParseResult {
  const { documents, problems } = parseYamlDocuments(text, file);
  if (problems.length > 0) return { problems };
  const doc = documents[0];
  if (!doc) return { problems: [{ file, line: 1, column: 1, message: "empty ICP config.yaml" }] };
  if (documents.length > 1) problems.push({ ...documents[1]!.pos, message: "an ICP config.yaml is a single YAML document" });
  const config = icpFromDocument(doc, problems);
  return { config: problems.length === 0 ? config : undefined, problems: sortProblems(problems) };
}

/** Reads an ICP config.yaml; throws InputError with every problem. */
export function loadIcpConfig(text: string, file: string): IcpConfig {
  const r = parseIcpConfig(text, file);
  if (!r.config || r.problems.length > 0) throw new InputError(r.problems);
  return r.config;
}

function icpFromDocument(doc: SourceDocument, problems: Problem[]): IcpConfig | undefined {
  const v = doc.value;
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    problems.push({ ...doc.pos, message: `expected an ICP config.yaml mapping, got ${describeValue(v)}` });
    return undefined;
  }
  const cfg = v as Record<string, unknown>;
  const bad = (key: string, message: string) => problems.push({ ...doc.locate([key]), message: `${key}: ${message}` });
  const str = (key: string): string | undefined => {
    const x = cfg[key];
    if (x === undefined || x === null) return undefined;
    if (typeof x !== "string") {
      bad(key, `expected a string, got ${describeValue(x)}`);
      return undefined;
    }
    return x;
  };

  const networkType = str("network_type") ?? "calico";
  if (networkType !== "calico") bad("network_type", `only calico is modelled, got "${networkType}"`);

  const networkCIDR = str("network_cidr") ?? ICP_DEFAULTS.networkCIDR;

  let ipipMode: EncapMode = ICP_DEFAULTS.ipipMode;
  const mode = str("calico_ipip_mode");
  const enabled = cfg.calico_ipip_enabled;
  if (enabled !== undefined && enabled !== null) {
    if (typeof enabled !== "boolean") bad("calico_ipip_enabled", `expected true or false, got ${describeValue(enabled)}`);
    else ipipMode = enabled ? "Always" : "Never";
  }
  if (mode !== undefined) {
    if (mode !== "Always" && mode !== "CrossSubnet" && mode !== "Never") {
      bad("calico_ipip_mode", `expected one of Always, CrossSubnet, Never, got "${mode}"`);
    } else {
      if (typeof enabled === "boolean" && (mode === "Never") === enabled) {
        bad("calico_ipip_mode", `conflicts with calico_ipip_enabled: ${String(enabled)}`);
      }
      ipipMode = mode;
    }
  }

  let tunnelMTU: number = ICP_DEFAULTS.tunnelMTU;
  const mtu = cfg.calico_tunnel_mtu;
  if (mtu !== undefined && mtu !== null) {
    const n = typeof mtu === "string" && /^\d+$/.test(mtu) ? Number(mtu) : mtu;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 68 || n > 65535) {
      bad("calico_tunnel_mtu", `expected an MTU 68-65535, got ${describeValue(mtu)}`);
    } else tunnelMTU = n;
  }

  const methodText = str("calico_ip_autodetection_method") ?? ICP_DEFAULTS.autodetectionMethod;
  const method = parseAutodetectionMethod(methodText);
  if (typeof method === "string") bad("calico_ip_autodetection_method", method);

  const serviceRange = str("service_cluster_ip_range");
  if (serviceRange !== undefined) {
    try {
      const svc = parsePrefix(serviceRange, { strict: true });
      const pod = (() => {
        try {
          return parsePrefix(networkCIDR, { strict: false });
        } catch {
          return undefined;
        }
      })();
      if (pod && prefixesOverlap(svc, pod)) bad("service_cluster_ip_range", `${formatPrefix(svc)} overlaps network_cidr ${formatPrefix(pod)}`);
    } catch (e) {
      bad("service_cluster_ip_range", e instanceof Error ? e.message : String(e));
    }
  }

  // The pool goes through the same schema and rules as a hand-written IPPool; its problems point at
  // the ICP key they came from.
  const poolInput = {
    apiVersion: "projectcalico.org/v3",
    kind: "IPPool",
    metadata: { name: "default-ipv4-ippool" },
    spec: { cidr: networkCIDR, ipipMode, blockSize: ICP_DEFAULTS.blockSize, natOutgoing: true, nodeSelector: "all()" },
  };
  const fieldToKey: Record<string, string> = { cidr: "network_cidr", ipipMode: cfg.calico_ipip_mode !== undefined ? "calico_ipip_mode" : "calico_ipip_enabled", blockSize: "network_cidr" };
  const parsed = ipPoolSchema.safeParse(poolInput);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = String(issue.path[1] ?? "cidr");
      const key = fieldToKey[field] ?? "network_cidr";
      const [p] = issueToProblems({ ...issue, path: [] }, { ...doc, value: undefined });
      bad(key, p?.message ?? issue.message);
    }
    return undefined;
  }
  if (typeof method === "string") return undefined;
  return {
    networkType: "calico",
    pool: parsed.data,
    tunnelMTU,
    autodetectionMethod: methodText,
    autodetection: method,
    ...(serviceRange !== undefined ? { serviceClusterIPRange: serviceRange } : {}),
    source: doc.pos,
  };
}
