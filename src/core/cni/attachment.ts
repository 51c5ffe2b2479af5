// One pod attachment as birdcage's CNI plugin lays it out (Calico's), and the rules that keep ADD,
// CHECK and DEL idempotent. Pure: the real side observes the kernel, these functions decide.
//
//   node netns:  cali<hash> (veth, MAC ee:ee:ee:ee:ee:ee, proxy_arp=1, alias bc-cni:<net>:<containerID>)
//                route <pod>/32 dev cali<hash> scope link proto <routeProtocol>
//   pod netns:   eth0 (veth peer) with <pod>/32
//                route 169.254.1.1 dev eth0 scope link ; route default via 169.254.1.1 dev eth0
//   IPv6 (assign_ipv6): <pod6>/128 on eth0 (nodad), default via fe80::ecee:eeff:feee:eeee (the host
//                side's own link-local, no proxy needed), node route <pod6>/128 dev cali<hash>
//
// The pod reaches its gateway 169.254.1.1 by ARP, which the host side answers by proxy ARP; the node
// routes to the pod by its /32 through the host-side veth. No bridge, no subnet on the link.
import { workloadInterfaceName } from "../policy/render/plan.ts";
import { formatIP, parseIP } from "../net/ip.ts";
import { CNI_ERR, CniError } from "./errors.ts";
import type { CniEnv } from "./config.ts";
import { POD_GATEWAY_V4, POD_GATEWAY_V6 } from "./result.ts";

/** Calico sets this MAC on every host-side veth, so pods see the same gateway MAC everywhere. */
export const HOST_VETH_MAC = "ee:ee:ee:ee:ee:ee";

/** The owner marker on host-side veths: the interface alias. */
export const OWNER_ALIAS_PREFIX = "bc-cni:";

/** IPAM handle of a container, as Calico's CNI plugin: `<network name>.<containerID>`. */
export const handleIdFor = (networkName: string, containerId: string): string => `${networkName}.${containerId}`;

/** The host-side veth: cali + hash of namespace.pod for Kubernetes pods, else cali + the container ID's head. */
export function hostInterfaceName(env: Pick<CniEnv, "k8s" | "containerId">): string {
  if (env.k8s) return workloadInterfaceName(env.k8s.namespace, env.k8s.pod);
  return `cali${env.containerId.slice(0, 11)}`;
}

export const ownerAlias = (networkName: string, containerId: string): string => `${OWNER_ALIAS_PREFIX}${networkName}:${containerId}`;

export interface ExpectedAttachment {
  hostIf: string;
  containerIf: string;
  mtu: number;
  /** Plain addresses of the pod (IPv4 and/or IPv6). */
  addresses: readonly string[];
  alias: string;
  routeProtocol: number;
}

export interface ObservedLink {
  name: string;
  ifindex: number;
  /** For a veth, the peer's ifindex (in the peer's namespace). */
  peerIfindex: number | undefined;
  kind: string | undefined;
  mtu: number;
  up: boolean;
  mac: string;
  alias: string | undefined;
  /** Addresses with prefix length, e.g. 10.244.3.7/32, fd00::5/128, fe80::ecee:eeff:feee:eeee/64. */
  addresses: string[];
}

export interface ObservedRoute {
  /** "default" or address/len. */
  dst: string;
  gateway: string | undefined;
  dev: string | undefined;
  scope: string | undefined;
  protocol: string | undefined;
}

export interface ObservedAttachment {
  host: ObservedLink | undefined;
  container: ObservedLink | undefined;
  /** Routes in the pod's namespace (all of them, both families). */
  containerRoutes: ObservedRoute[];
  /** The node's routes to the pod's addresses. */
  hostRoutes: ObservedRoute[];
  /** net.ipv4.conf.<hostIf>.proxy_arp, when the host link exists. */
  proxyArp: boolean | undefined;
}

const canon = (a: string): string => {
  const ip = parseIP(a);
  return formatIP(ip.family, ip.value);
};
/** The address as a host prefix: a/32 or a/128. */
const hostPrefix = (a: string): string => {
  const ip = parseIP(a);
  return `${formatIP(ip.family, ip.value)}/${ip.family === 4 ? 32 : 128}`;
};
const isV6 = (a: string): boolean => parseIP(a).family === 6;

/** What is missing or different from the expected attachment; empty when all is in place. */
export function verifyAttachment(want: ExpectedAttachment, seen: ObservedAttachment): string[] {
  const problems: string[] = [];
  const h = seen.host;
  const c = seen.container;
  if (!h) problems.push(`host interface ${want.hostIf} does not exist`);
  else {
    if (h.kind !== "veth") problems.push(`host interface ${want.hostIf} is a ${h.kind ?? "non-veth"} link, not a veth`);
    if (h.alias !== want.alias) problems.push(`host interface ${want.hostIf} belongs to ${h.alias ?? "no one (no alias)"}, not ${want.alias}`);
    if (h.mtu !== want.mtu) problems.push(`host interface ${want.hostIf} has MTU ${h.mtu}, not ${want.mtu}`);
    if (!h.up) problems.push(`host interface ${want.hostIf} is down`);
    if (want.addresses.some((a) => !isV6(a)) && seen.proxyArp !== true) problems.push(`proxy_arp is off on ${want.hostIf}`);
    if (want.addresses.some(isV6) && !h.addresses.includes(`${POD_GATEWAY_V6}/64`)) problems.push(`host interface ${want.hostIf} lacks the gateway address ${POD_GATEWAY_V6}`);
  }
  if (!c) problems.push(`container interface ${want.containerIf} does not exist`);
  else {
    if (c.kind !== "veth") problems.push(`container interface ${want.containerIf} is a ${c.kind ?? "non-veth"} link, not a veth`);
    if (h && c.peerIfindex !== h.ifindex) problems.push(`container interface ${want.containerIf} is not the peer of ${want.hostIf}`);
    if (c.mtu !== want.mtu) problems.push(`container interface ${want.containerIf} has MTU ${c.mtu}, not ${want.mtu}`);
    if (!c.up) problems.push(`container interface ${want.containerIf} is down`);
    const have = new Set(c.addresses);
    for (const a of want.addresses) if (!have.has(hostPrefix(a))) problems.push(`container interface ${want.containerIf} lacks ${hostPrefix(a)}`);
  }
  if (want.addresses.some((a) => !isV6(a))) {
    const gw = seen.containerRoutes.find((r) => r.dst === `${POD_GATEWAY_V4}/32` && r.dev === want.containerIf && r.scope === "link");
    if (!gw) problems.push(`pod route ${POD_GATEWAY_V4} dev ${want.containerIf} scope link is missing`);
    const def = seen.containerRoutes.find((r) => r.dst === "default" && r.gateway === POD_GATEWAY_V4 && r.dev === want.containerIf);
    if (!def) problems.push(`pod route default via ${POD_GATEWAY_V4} dev ${want.containerIf} is missing`);
  }
  if (want.addresses.some(isV6)) {
    const def6 = seen.containerRoutes.find((r) => r.dst === "default" && r.gateway === POD_GATEWAY_V6 && r.dev === want.containerIf);
    if (!def6) problems.push(`pod route default via ${POD_GATEWAY_V6} dev ${want.containerIf} is missing`);
  }
  for (const a of want.addresses) {
    const dst = hostPrefix(a);
    const r = seen.hostRoutes.find((x) => x.dst === dst);
    if (!r) problems.push(`node route ${dst} dev ${want.hostIf} is missing`);
    else if (r.dev !== want.hostIf) problems.push(`node route ${dst} goes to ${r.dev ?? "no device"}, not ${want.hostIf}`);
    else if (r.protocol !== String(want.routeProtocol)) problems.push(`node route ${dst} has protocol ${r.protocol ?? "?"}, not ${want.routeProtocol}`);
  }
  return problems;
}

/**
 * Proxy ARP answers the pod's ARP for 169.254.1.1 only when the node routes 169.254.1.1 out of another
 * interface (a default route does). `gatewayDev` is that route's device, undefined when there is none.
 */
export function proxyArpProblem(hostIf: string, gatewayDev: string | undefined): string | undefined {
  if (gatewayDev === undefined) return `the node has no route to ${POD_GATEWAY_V4} (no default route): proxy ARP on ${hostIf} will not answer the pod's gateway`;
  if (gatewayDev === hostIf) return `the node routes ${POD_GATEWAY_V4} into ${hostIf} itself: proxy ARP will not answer the pod's gateway`;
  return undefined;
}

export type AddDecision =
  /** Everything is in place for these addresses: answer with the same result. */
  | { kind: "reuse" }
  /** Build the attachment (removing a host link of ours or of a stale sandbox of the same pod first). */
  | { kind: "create"; removeHostLink: boolean };

/**
 * ADD's idempotency rule. `handleAddresses` are the addresses IPAM already holds for this container
 * (a previous ADD). Refuses, before anything is allocated or touched, to take over interfaces that are
 * not birdcage's: a host link without our alias, or a container CNI_IFNAME that is not the peer of ours.
 */
export function decideAdd(want: Omit<ExpectedAttachment, "addresses">, handleAddresses: readonly string[], seen: ObservedAttachment): AddDecision {
  if (handleAddresses.length > 0 && verifyAttachment({ ...want, addresses: handleAddresses }, seen).length === 0) return { kind: "reuse" };
  const h = seen.host;
  if (h && !(h.kind === "veth" && h.alias?.startsWith(OWNER_ALIAS_PREFIX))) {
    throw new CniError(CNI_ERR.INTERFACE_EXISTS, `host interface ${want.hostIf} already exists and is not birdcage's`, `kind ${h.kind ?? "?"}, alias ${h.alias ?? "(none)"}`);
  }
  const c = seen.container;
  if (c && !(h && c.peerIfindex === h.ifindex)) {
    throw new CniError(CNI_ERR.INTERFACE_EXISTS, `interface ${want.containerIf} already exists in the container`, "it is not the peer of this pod's host-side veth; birdcage will not replace it");
  }
  return { kind: "create", removeHostLink: h !== undefined };
}

/** DEL removes the host link only when it carries this container's alias (not a newer sandbox's). */
export const shouldDeleteHostLink = (alias: string, seen: ObservedLink | undefined): boolean => seen !== undefined && seen.alias === alias;

export interface AttachmentCommands {
  /** `ip -batch` lines run in the node's namespace first (the link, down: sysctls go in before it is up). */
  hostLink: string[];
  /** `ip -batch` lines run in the node's namespace after the sysctls. */
  hostUp: string[];
  /** `ip -batch` lines run inside the container's namespace. */
  container: string[];
  /** `ip -batch` lines run in the node's namespace last. */
  hostRoutes: string[];
}

/** The `ip -batch` commands that build an attachment (sysctls are written separately). */
export function attachmentCommands(want: ExpectedAttachment, netnsPath: string): AttachmentCommands {
  for (const [what, v] of [["interface", want.hostIf], ["interface", want.containerIf], ["alias", want.alias], ["netns", netnsPath]] as const) {
    if (/[\s"'\\#]/.test(v) || v === "") throw new RangeError(`${what} ${JSON.stringify(v)} cannot go into an ip batch line`);
  }
  const v4 = want.addresses.filter((a) => !isV6(a)).map(canon);
  const v6 = want.addresses.filter(isV6).map(canon);
  return {
    hostLink: [
      `link add ${want.hostIf} mtu ${want.mtu} address ${HOST_VETH_MAC} type veth peer name ${want.containerIf} mtu ${want.mtu} netns ${netnsPath}`,
      `link set dev ${want.hostIf} alias ${want.alias}`,
    ],
    hostUp: [`link set dev ${want.hostIf} up`],
    container: [
      `link set dev ${want.containerIf} up`,
      ...v4.map((a) => `address add ${a}/32 dev ${want.containerIf}`),
      // nodad: usable at once; the address is unique by IPAM, not by duplicate detection.
      ...v6.map((a) => `address add ${a}/128 dev ${want.containerIf} nodad`),
      ...(v4.length > 0 ? [`route replace ${POD_GATEWAY_V4} dev ${want.containerIf} scope link`, `route replace default via ${POD_GATEWAY_V4} dev ${want.containerIf}`] : []),
      ...(v6.length > 0 ? [`route replace default via ${POD_GATEWAY_V6} dev ${want.containerIf}`] : []),
    ],
    hostRoutes: [
      ...v4.map((a) => `route replace ${a}/32 dev ${want.hostIf} scope link proto ${want.routeProtocol}`),
      ...v6.map((a) => `route replace ${a}/128 dev ${want.hostIf} proto ${want.routeProtocol}`),
    ],
  };
}
