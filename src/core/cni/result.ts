// CNI result objects: the Success result of ADD (and its parse, as prevResult for CHECK), and the
// Version result. Shapes follow the spec of the requested cniVersion: 0.3.x/0.4.0 carry ips[].version,
// 1.0.0 dropped it.
import { formatIP, parseIP, parsePrefix } from "../net/ip.ts";
import { CNI_ERR, CniError } from "./errors.ts";
import { LATEST_VERSION, SUPPORTED_VERSIONS, type CniVersion, type DnsConfig } from "./config.ts";

export interface CniInterface {
  name: string;
  mac?: string;
  /** The container's netns path; absent for host interfaces. */
  sandbox?: string;
}

export interface CniIpConfig {
  /** "4" | "6"; only in results of cniVersion < 1.0.0. */
  version?: "4" | "6";
  /** Address with prefix length, e.g. 10.244.3.7/32. */
  address: string;
  gateway?: string;
  /** Index into interfaces. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: DnsConfig;
}

export interface VersionResult {
  cniVersion: string;
  supportedVersions: string[];
}

/** Calico's pod gateway: a link-local next hop the host-side veth answers for by proxy ARP. */
export const POD_GATEWAY_V4 = "169.254.1.1";
/** IPv6 gateway: the host-side veth's own link-local address (EUI-64 of its MAC ee:ee:ee:ee:ee:ee). */
export const POD_GATEWAY_V6 = "fe80::ecee:eeff:feee:eeee";

export interface AddResultInput {
  cniVersion: CniVersion;
  hostInterface: { name: string; mac: string };
  containerInterface: { name: string; mac: string; sandbox: string };
  /** The pod's addresses (plain, without prefix length), IPv4 and/or IPv6. */
  addresses: readonly string[];
  dns?: DnsConfig | undefined;
}

/** ADD's result: interfaces [host veth, container veth], the /32s on the container side, the default route. */
export function buildAddResult(input: AddResultInput): CniResult {
  const withVersion = input.cniVersion !== "1.0.0";
  const families = new Set<4 | 6>();
  const ips = input.addresses.map((a): CniIpConfig => {
    const ip = parseIP(a);
    families.add(ip.family);
    const [len, gateway] = ip.family === 4 ? [32, POD_GATEWAY_V4] : [128, POD_GATEWAY_V6];
    return { ...(withVersion ? { version: String(ip.family) as "4" | "6" } : {}), address: `${formatIP(ip.family, ip.value)}/${len}`, gateway, interface: 1 };
  });
  const routes: CniRoute[] = [];
  if (families.has(4)) routes.push({ dst: "0.0.0.0/0", gw: POD_GATEWAY_V4 });
  if (families.has(6)) routes.push({ dst: "::/0", gw: POD_GATEWAY_V6 });
  return {
    cniVersion: input.cniVersion,
    interfaces: [
      { name: input.hostInterface.name, mac: input.hostInterface.mac },
      { name: input.containerInterface.name, mac: input.containerInterface.mac, sandbox: input.containerInterface.sandbox },
    ],
    ips,
    routes,
    dns: input.dns ? { ...input.dns } : {},
  };
}

/** VERSION's result: echoes the requested cniVersion (the latest when none was given). */
export function versionResult(requested?: string): VersionResult {
  return { cniVersion: requested ?? LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const bad = (msg: string): CniError => new CniError(CNI_ERR.INVALID_CONFIG, `prevResult: ${msg}`);

/** A prevResult as the runtime hands it back (CHECK): shape-checked, addresses parsed. */
export function parsePrevResult(v: unknown): CniResult {
  if (v === undefined) throw new CniError(CNI_ERR.INVALID_CONFIG, "prevResult is required for CHECK", "the runtime must pass the result of the preceding ADD");
  if (!isObject(v)) throw bad("must be an object");
  const ifs = v["interfaces"];
  if (!Array.isArray(ifs) || ifs.length > 64) throw bad("interfaces must be a list");
  const interfaces = ifs.map((i, n): CniInterface => {
    if (!isObject(i) || typeof i["name"] !== "string" || i["name"] === "") throw bad(`interfaces[${n}] needs a name`);
    const out: CniInterface = { name: i["name"] };
    if (typeof i["mac"] === "string") out.mac = i["mac"];
    if (typeof i["sandbox"] === "string" && i["sandbox"] !== "") out.sandbox = i["sandbox"];
    return out;
  });
  const rawIps = v["ips"] ?? [];
  if (!Array.isArray(rawIps) || rawIps.length > 64) throw bad("ips must be a list");
  const ips = rawIps.map((i, n): CniIpConfig => {
    if (!isObject(i) || typeof i["address"] !== "string") throw bad(`ips[${n}] needs an address`);
    try {
      parsePrefix(i["address"], { strict: false });
    } catch {
      throw bad(`ips[${n}].address ${JSON.stringify(i["address"]).slice(0, 60)} is not an address/prefix`);
    }
    const out: CniIpConfig = { address: i["address"] };
    const idx = i["interface"];
    if (idx !== undefined) {
      if (typeof idx !== "number" || !Number.isInteger(idx) || idx < 0 || idx >= interfaces.length) throw bad(`ips[${n}].interface ${String(idx)} is not an index into interfaces`);
      out.interface = idx;
    }
    if (typeof i["gateway"] === "string") out.gateway = i["gateway"];
    return out;
  });
  const rawRoutes = v["routes"] ?? [];
  if (!Array.isArray(rawRoutes) || rawRoutes.length > 256) throw bad("routes must be a list");
  const routes = rawRoutes.map((r, n): CniRoute => {
    if (!isObject(r) || typeof r["dst"] !== "string") throw bad(`routes[${n}] needs a dst`);
    return typeof r["gw"] === "string" ? { dst: r["dst"], gw: r["gw"] } : { dst: r["dst"] };
  });
  const cniVersion = typeof v["cniVersion"] === "string" ? v["cniVersion"] : LATEST_VERSION;
  return { cniVersion, interfaces, ips, routes, dns: isObject(v["dns"]) ? (v["dns"] as DnsConfig) : {} };
}
