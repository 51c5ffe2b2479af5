// The CNI plugin's inputs, parsed strictly: the network configuration on stdin and the CNI_*
// environment. Both are untrusted (whatever the runtime or a user hands us), so sizes are bounded,
// every field is checked, and every failure is a CniError with the spec's code:
//   not JSON / too big -> 6, unsupported cniVersion -> 1, unknown field -> 2 (names key and value),
//   bad value -> 7, missing or bad CNI_* variable -> 4 (names the variable).
import { normalizePool, isIpamError, type IpPoolInput, type Pool } from "../ipam/index.ts";
import { formatPrefix, isIP, prefixesOverlap } from "../net/ip.ts";
import { CNI_ERR, CniError } from "./errors.ts";

/** Spec versions birdcage speaks (0.1.0/0.2.0 results have another shape and are not offered). */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = "1.0.0";

/** Upper bound on the network configuration (stdin). Real ones are a few hundred bytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export const DEFAULT_MTU = 1500;
export const DEFAULT_DATASTORE_NAMESPACE = "default";
/**
 * The protocol of the pod routes the plugin writes: 202, one above the agent's 201
 * (real/bgp/kernel-routes.ts), because the agent flushes its own protocol when it stops and must
 * not take the pods' routes with it (Calico keeps them apart too: BIRD 12, Felix/CNI 80 and boot).
 */
export const DEFAULT_CNI_ROUTE_PROTOCOL = 202;

export type CniCommand = "ADD" | "DEL" | "CHECK" | "VERSION";

export interface DnsConfig {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface EtcdDatastoreConfig {
  type: "etcd";
  /** etcd client URLs: http://host:port, https://host:port or unix:///path. */
  endpoints: string[];
  /** birdcage keeps its keys under /birdcage/<namespace>/ in etcd (the CLI's --etcd-namespace). */
  namespace: string;
  /** Per-request deadline, milliseconds. */
  timeoutMs: number;
}

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  /** MTU of both ends of the veth. */
  mtu: number;
  /** This node's name in IPAM (block affinity host); undefined = the caller's hostname. */
  nodename: string | undefined;
  datastore: EtcdDatastoreConfig;
  /** assign4/assign6: Calico's assign_ipv4 (default true) and assign_ipv6 (default false). */
  ipam: { type: "birdcage-ipam"; pools: Pool[]; poolInputs: IpPoolInput[]; assign4: boolean; assign6: boolean };
  /** Protocol number of the node's /32 route to the pod. */
  routeProtocol: number;
  dns: DnsConfig | undefined;
  /** The runtime's prevResult (CHECK, DEL), unparsed. */
  prevResult: unknown;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NAMESPACE_RE = /^[A-Za-z0-9._-]+$/;
const ENDPOINT_RE = /^(https?:\/\/[A-Za-z0-9.\-_[\]:]+|unix:\/\/\/[^\s]+)$/;

// Keys the protocol reserves or adds at run time: accepted, not used.
const RUNTIME_KEYS = new Set(["args", "runtimeConfig", "capabilities", "prevResult", "ipMasq"]);
const KNOWN_KEYS = new Set(["cniVersion", "name", "type", "mtu", "nodename", "datastore", "ipam", "routeProtocol", "dns"]);

const describe = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
};
const invalid = (msg: string, details?: string): CniError => new CniError(CNI_ERR.INVALID_CONFIG, msg, details);
const unsupported = (key: string, value: unknown): CniError =>
  new CniError(CNI_ERR.UNSUPPORTED_FIELD, `unsupported field ${key}=${describe(value)}`, `birdcage does not know the field "${key}"`);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses JSON text from stdin; empty, oversized or malformed input is decoding failure (6). */
export function decodeJson(text: string, what = "network configuration"): unknown {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new CniError(CNI_ERR.DECODING_FAILURE, `${what} is too large`, `${text.length} characters; the limit is ${MAX_CONFIG_BYTES} bytes`);
  }
  if (text.trim() === "") throw new CniError(CNI_ERR.DECODING_FAILURE, `no ${what} on stdin`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CniError(CNI_ERR.DECODING_FAILURE, `${what} is not valid JSON`, (e as Error).message);
  }
}

/** The cniVersion of a decoded config, checked against what we support (error code 1). */
export function checkVersion(v: unknown): CniVersion {
  if (typeof v !== "string" || v === "") throw invalid("cniVersion is required (a string such as \"1.0.0\")");
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, "incompatible CNI versions", `config is "${v.slice(0, 40)}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`);
  }
  return v as CniVersion;
}

/** cniVersion as given in a config, if it is a plausible version string (for error results). */
export function declaredVersion(decoded: unknown): string | undefined {
  if (!isObject(decoded)) return undefined;
  const v = decoded["cniVersion"];
  return typeof v === "string" && /^\d+\.\d+\.\d+$/.test(v) ? v : undefined;
}

/** Validates a decoded network configuration. */
export function parseNetConf(decoded: unknown): NetConf {
  if (!isObject(decoded)) throw new CniError(CNI_ERR.DECODING_FAILURE, "network configuration must be a JSON object");
  const cniVersion = checkVersion(decoded["cniVersion"]);
  for (const [k, v] of Object.entries(decoded)) {
    if (!KNOWN_KEYS.has(k) && !RUNTIME_KEYS.has(k) && !k.startsWith("cni.dev/")) throw unsupported(k, v);
  }
  const name = str(decoded, "name", true);
  if (!NAME_RE.test(name)) throw invalid(`name ${describe(name)}: must start with a letter or digit, then letters, digits, _ . -`);
  const type = str(decoded, "type", true);
  if (/[/\\]/.test(type)) throw invalid(`type ${describe(type)} must not contain / or \\`);
  const mtu = int(decoded, "mtu", 68, 65535) ?? DEFAULT_MTU;
  const nodenameRaw = str(decoded, "nodename", false);
  if (nodenameRaw !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(nodenameRaw)) throw invalid(`nodename ${describe(nodenameRaw)} is not a node name`);
  const routeProtocol = int(decoded, "routeProtocol", 1, 255) ?? DEFAULT_CNI_ROUTE_PROTOCOL;
  if (routeProtocol === 3 || routeProtocol === 12) throw invalid(`routeProtocol ${routeProtocol} belongs to ${routeProtocol === 12 ? "BIRD" : "boot (Felix)"}; pick another`);
  return {
    cniVersion,
    name,
    type,
    mtu,
    nodename: nodenameRaw,
    datastore: parseDatastore(decoded["datastore"]),
    ipam: parseIpam(decoded["ipam"]),
    routeProtocol,
    dns: parseDns(decoded["dns"], "dns"),
    prevResult: decoded["prevResult"],
  };
}

function parseDatastore(v: unknown): EtcdDatastoreConfig {
  if (v === undefined) throw invalid("datastore is required, e.g. {\"type\":\"etcd\",\"endpoints\":[\"http://127.0.0.1:2379\"]}");
  if (!isObject(v)) throw invalid("datastore must be an object");
  for (const [k, val] of Object.entries(v)) if (!["type", "endpoints", "namespace", "timeoutMs"].includes(k)) throw unsupported(`datastore.${k}`, val);
  if (v["type"] !== "etcd") {
    throw invalid(`datastore.type ${describe(v["type"])} is not supported`, "only \"etcd\": each plugin run is a separate process, so IPAM state must live in a shared store");
  }
  const eps = v["endpoints"];
  if (!Array.isArray(eps) || eps.length === 0 || eps.length > 16) throw invalid("datastore.endpoints must be a list of 1-16 etcd URLs");
  const endpoints = eps.map((e, i) => {
    if (typeof e !== "string" || e.length > 512 || !ENDPOINT_RE.test(e)) throw invalid(`datastore.endpoints[${i}] ${describe(e)}: expected http://host:port, https://host:port or unix:///path`);
    return e;
  });
  const ns = v["namespace"] ?? DEFAULT_DATASTORE_NAMESPACE;
  if (typeof ns !== "string" || !NAMESPACE_RE.test(ns) || ns.length > 128) throw invalid(`datastore.namespace ${describe(ns)}: use letters, digits, '.', '_' or '-'`);
  const timeoutMs = int(v, "timeoutMs", 100, 120_000, "datastore.") ?? 5000;
  return { type: "etcd", endpoints, namespace: ns, timeoutMs };
}

function parseIpam(v: unknown): NetConf["ipam"] {
  if (v === undefined) throw invalid("ipam is required: {\"type\":\"birdcage-ipam\",\"pools\":[{\"name\":\"default-ipv4-ippool\",\"cidr\":\"10.244.0.0/16\"}]}");
  if (!isObject(v)) throw invalid("ipam must be an object");
  for (const [k, val] of Object.entries(v)) if (!["type", "pools", "assign_ipv4", "assign_ipv6"].includes(k)) throw unsupported(`ipam.${k}`, val);
  const assign4 = flag(v, "assign_ipv4", true);
  const assign6 = flag(v, "assign_ipv6", false);
  if (!assign4 && !assign6) throw invalid("ipam: assign_ipv4 and assign_ipv6 are both false: the pod would get no address");
  if (v["type"] !== "birdcage-ipam") throw invalid(`ipam.type ${describe(v["type"])} is not supported`, "only the built-in \"birdcage-ipam\" (delegated IPAM plugins are not run)");
  const raw = v["pools"];
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 64) throw invalid("ipam.pools must be a list of 1-64 IP pools ({name, cidr, blockSize?, ...} as Calico's IPPool spec)");
  const pools: Pool[] = [];
  raw.forEach((p, i) => {
    if (!isObject(p)) throw invalid(`ipam.pools[${i}] must be an object`);
    try {
      pools.push(normalizePool(p as IpPoolInput));
    } catch (e) {
      if (isIpamError(e) || e instanceof Error) throw invalid(`ipam.pools[${i}]: ${e.message}`);
      throw e;
    }
  });
  for (let i = 0; i < pools.length; i++) {
    for (let j = i + 1; j < pools.length; j++) {
      const a = pools[i]!;
      const b = pools[j]!;
      if (a.name === b.name) throw invalid(`ipam.pools: two pools named "${a.name}"`);
      if (prefixesOverlap(a.cidr, b.cidr)) throw invalid(`ipam.pools: ${formatPrefix(a.cidr)} (${a.name}) overlaps ${formatPrefix(b.cidr)} (${b.name})`);
    }
  }
  for (const [family, wanted] of [[4, assign4], [6, assign6]] as const) {
    if (wanted && !pools.some((p) => p.family === family && !p.disabled)) {
      throw invalid(`ipam.pools: no enabled IPv${family} pool${family === 4 ? " (set assign_ipv4 to false for an IPv6-only pod)" : ""}`);
    }
  }
  return { type: "birdcage-ipam", pools, poolInputs: raw as IpPoolInput[], assign4, assign6 };
}

/** Calico writes these flags as strings ("true"/"false"); booleans are accepted too. */
function flag(o: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  throw invalid(`ipam.${key} ${describe(v)} must be "true" or "false"`);
}

function parseDns(v: unknown, at: string): DnsConfig | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw invalid(`${at} must be an object`);
  const out: DnsConfig = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === "domain") {
      if (typeof val !== "string" || val.length > 253) throw invalid(`${at}.domain must be a string`);
      out.domain = val;
    } else if (k === "nameservers" || k === "search" || k === "options") {
      if (!Array.isArray(val) || val.length > 32 || !val.every((s) => typeof s === "string" && s.length <= 253)) throw invalid(`${at}.${k} must be a list of strings`);
      if (k === "nameservers") {
        const bad = (val as string[]).find((s) => !isIP(s));
        if (bad !== undefined) throw invalid(`${at}.nameservers: ${describe(bad)} is not an IP address`);
      }
      out[k] = [...(val as string[])];
    } else {
      throw unsupported(`${at}.${k}`, val);
    }
  }
  return out;
}

function str(o: Record<string, unknown>, key: string, required: true): string;
function str(o: Record<string, unknown>, key: string, required: false): string | undefined;
function str(o: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || v === "" || v.length > 253) throw invalid(`${key} ${v === undefined ? "is required" : `${describe(v)} must be a non-empty string`}`);
  return v;
}

function int(o: Record<string, unknown>, key: string, min: number, max: number, at = ""): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw invalid(`${at}${key} ${describe(v)} must be an integer ${min}-${max}`);
  return v;
}

// ------------------------------------------------------------------------------- environment

export interface K8sArgs {
  namespace: string;
  pod: string;
  infraContainerId?: string;
  podUid?: string;
}

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  /** Path of the container's network namespace; may be absent for DEL. */
  netns: string | undefined;
  ifname: string;
  /** K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS, when both are given. */
  k8s: K8sArgs | undefined;
  cniPath: string[];
}

const COMMANDS: readonly string[] = ["ADD", "DEL", "CHECK", "VERSION"];
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_ENV = 4096;
const badEnv = (vars: string[], msg: string): CniError => new CniError(CNI_ERR.INVALID_ENV, msg, `invalid or missing: ${vars.join(", ")}`);

/** CNI_COMMAND alone (VERSION needs nothing else). */
export function parseCommand(env: Readonly<Record<string, string | undefined>>): CniCommand {
  const c = env["CNI_COMMAND"];
  if (c === undefined || c === "") throw badEnv(["CNI_COMMAND"], "CNI_COMMAND is not set");
  if (!COMMANDS.includes(c)) throw badEnv(["CNI_COMMAND"], `CNI_COMMAND ${describe(c)} is not one of ADD, DEL, CHECK, VERSION`);
  return c as CniCommand;
}

/** Every CNI_* variable the command needs, checked (error code 4 names the variables). */
export function parseEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const command = parseCommand(env);
  const need = command === "VERSION" ? [] : command === "DEL" ? ["CNI_CONTAINERID", "CNI_IFNAME"] : ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"];
  const missing = need.filter((k) => (env[k] ?? "") === "");
  if (missing.length > 0) throw badEnv(missing, `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set (required for ${command})`);
  const tooLong = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"].filter((k) => (env[k]?.length ?? 0) > MAX_ENV);
  if (tooLong.length > 0) throw badEnv(tooLong, `${tooLong.join(", ")} longer than ${MAX_ENV} characters`);
  const containerId = env["CNI_CONTAINERID"] ?? "";
  // The ID goes into the host interface's alias (at most 255 bytes) and the IPAM handle.
  if (command !== "VERSION" && (!CONTAINER_ID_RE.test(containerId) || containerId.length > 200)) {
    throw badEnv(["CNI_CONTAINERID"], `CNI_CONTAINERID ${describe(containerId)}: letters, digits, _ . - (starting with a letter or digit), at most 200 characters`);
  }
  const netnsRaw = env["CNI_NETNS"];
  const netns = netnsRaw === undefined || netnsRaw === "" ? undefined : netnsRaw;
  if (netns !== undefined && (!netns.startsWith("/") || /[\s\0]/.test(netns) || netns.split("/").includes(".."))) {
    throw badEnv(["CNI_NETNS"], `CNI_NETNS ${describe(netns)} must be an absolute path to a network namespace (e.g. /run/netns/NAME)`);
  }
  const ifname = env["CNI_IFNAME"] ?? "";
  if (command !== "VERSION") checkIfname(ifname);
  const k8s = parseCniArgs(env["CNI_ARGS"] ?? "");
  const cniPath = (env["CNI_PATH"] ?? "").split(":").filter((p) => p !== "");
  return { command, containerId, netns, ifname, k8s, cniPath };
}

/** Linux interface name rules (the spec's: not empty, not . or .., < 16 bytes, no / : or whitespace). */
export function checkIfname(ifname: string): void {
  if (ifname === "" || ifname === "." || ifname === ".." || ifname.length > 15 || /[/:\s]/.test(ifname) || !/^[\x21-\x7e]+$/.test(ifname)) {
    throw badEnv(["CNI_IFNAME"], `CNI_IFNAME ${describe(ifname)} is not a valid interface name (1-15 printable characters, no / : or whitespace, not . or ..)`);
  }
}

const K8S_NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const KNOWN_ARGS = new Set(["IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"]);

/** CNI_ARGS "K=V;K=V". Unknown keys are an error unless IgnoreUnknown=1|true (CNI's convention). */
export function parseCniArgs(text: string): K8sArgs | undefined {
  if (text === "") return undefined;
  const pairs = new Map<string, string>();
  for (const part of text.split(";")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw badEnv(["CNI_ARGS"], `CNI_ARGS: ${describe(part)} is not KEY=VALUE`);
    pairs.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const ignore = /^(1|true)$/i.test(pairs.get("IgnoreUnknown") ?? "");
  const unknown = [...pairs.keys()].filter((k) => !KNOWN_ARGS.has(k));
  if (unknown.length > 0 && !ignore) throw badEnv(["CNI_ARGS"], `CNI_ARGS: unknown ${unknown.map((k) => describe(k)).join(", ")} (add IgnoreUnknown=1 to pass them)`);
  const namespace = pairs.get("K8S_POD_NAMESPACE");
  const pod = pairs.get("K8S_POD_NAME");
  if (namespace === undefined && pod === undefined) return undefined;
  if (namespace === undefined || pod === undefined) throw badEnv(["CNI_ARGS"], "CNI_ARGS: K8S_POD_NAMESPACE and K8S_POD_NAME go together");
  if (namespace.length > 63 || !K8S_NAME_RE.test(namespace)) throw badEnv(["CNI_ARGS"], `CNI_ARGS: K8S_POD_NAMESPACE ${describe(namespace)} is not a Kubernetes namespace name`);
  if (!K8S_NAME_RE.test(pod)) throw badEnv(["CNI_ARGS"], `CNI_ARGS: K8S_POD_NAME ${describe(pod)} is not a Kubernetes pod name`);
  const out: K8sArgs = { namespace, pod };
  const infra = pairs.get("K8S_POD_INFRA_CONTAINER_ID");
  if (infra !== undefined && infra !== "") out.infraContainerId = infra;
  const uid = pairs.get("K8S_POD_UID");
  if (uid !== undefined && uid !== "") out.podUid = uid;
  return out;
}
