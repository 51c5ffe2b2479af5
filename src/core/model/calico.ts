// Calico projectcalico.org/v3 resources: schemas (strict, as calicoctl decodes), Calico's defaults
// (clientv3 validateAndSetDefaults) and the per-resource checks of libcalico-go's validator.
import * as z from "zod";
import { formatPrefix, parsePrefix, prefixesOverlap } from "../net/ip.ts";
import {
  asNumber,
  dnsLabel,
  dnsSubdomain,
  ipAddress,
  looseCidr,
  metadata,
  portNameProblem,
  protocol,
  protocolSupportsPorts,
  selector,
  strictCidr,
  strictObject,
  tryPrefix,
} from "./fields.ts";
import { defaultPolicyTypes, directionChecks, policyTypes, ruleSchema } from "./policy-rules.ts";

export const CALICO_API_VERSION = "projectcalico.org/v3";

type Issue = (path: (string | number)[], message: string) => void;
const issuer = (ctx: z.core.$RefinementCtx): Issue => (path, message) => ctx.addIssue({ code: "custom", path, message });

/** A top-level resource: apiVersion, kind, metadata, spec (and a tolerated status). */
function resource<K extends string, M extends z.ZodType, S extends z.ZodType>(kind: K, meta: M, spec: S) {
  return strictObject({
    apiVersion: z.literal(CALICO_API_VERSION),
    kind: z.literal(kind),
    metadata: meta,
    // `spec:` with nothing after it is null in YAML; Go decoding treats it as absent.
    spec: z.preprocess((v) => (v === null ? undefined : v), spec),
    status: z.unknown().optional(),
  });
}

// ---------------------------------------------------------------- IPPool

export const encapModes = ["Always", "CrossSubnet", "Never"] as const;
export type EncapMode = (typeof encapModes)[number];
export const allowedUses = ["Workload", "Tunnel", "LoadBalancer"] as const;

const V4_LINK_LOCAL = parsePrefix("169.254.0.0/16");
const V6_LINK_LOCAL = parsePrefix("fe80::/10");

const ipPoolSpec = strictObject({
  cidr: looseCidr,
  blockSize: z.number().int().optional(),
  ipipMode: z.enum(encapModes).optional(),
  vxlanMode: z.enum(encapModes).optional(),
  natOutgoing: z.boolean().optional(),
  disabled: z.boolean().optional(),
  disableBGPExport: z.boolean().optional(),
  nodeSelector: selector.optional(),
  namespaceSelector: selector.optional(),
  allowedUses: z.array(z.enum(allowedUses)).optional(),
  assignmentMode: z.enum(["Automatic", "Manual"]).optional(),
})
  .superRefine((s, ctx) => {
    const issue = issuer(ctx);
    const p = tryPrefix(s.cidr);
    if (!p) return; // reported by the cidr field
    const strict = (() => {
      try {
        parsePrefix(s.cidr, { strict: true });
        return true;
      } catch {
        return false;
      }
    })();
    if (!strict) issue(["cidr"], `IP pool CIDR is not strictly masked; did you mean ${formatPrefix(p)}?`);
    if (p.family === 4 && prefixesOverlap(p, V4_LINK_LOCAL)) issue(["cidr"], "IP pool range overlaps with IPv4 Link Local range 169.254.0.0/16");
    if (p.family === 6 && prefixesOverlap(p, V6_LINK_LOCAL)) issue(["cidr"], "IP pool range overlaps with IPv6 Link Local range fe80::/10");
    const [lo, hi] = p.family === 4 ? [20, 32] : [116, 128];
    const blockSize = s.blockSize ?? (p.family === 4 ? 26 : 122);
    if (s.blockSize !== undefined && (s.blockSize < lo || s.blockSize > hi)) {
      issue(["blockSize"], `blockSize ${s.blockSize} is out of range for an IPv${p.family} pool (expected ${lo}-${hi})`);
    } else if (!s.disabled && p.len > blockSize) {
      issue(["cidr"], `IP pool size is too small for use with Calico IPAM: /${p.len} is smaller than the block size /${blockSize}; it must be equal to or greater than the block size`);
    }
    const ipipOn = s.ipipMode === "Always" || s.ipipMode === "CrossSubnet";
    const vxlanOn = s.vxlanMode === "Always" || s.vxlanMode === "CrossSubnet";
    if (p.family === 6 && s.ipipMode !== undefined && s.ipipMode !== "Never") {
      issue(["ipipMode"], "IPIPMode other than 'Never' is not supported on an IPv6 IP pool");
    }
    if (ipipOn && vxlanOn) issue(["vxlanMode"], "ipipMode and vxlanMode cannot both be enabled on the same IP pool");
    const lb = s.allowedUses?.includes("LoadBalancer") ?? false;
    if (lb) {
      if (s.allowedUses?.some((u) => u !== "LoadBalancer")) issue(["allowedUses"], "LoadBalancer cannot be used at the same time as Workload or Tunnel");
      if (ipipOn || vxlanOn) issue([ipipOn ? "ipipMode" : "vxlanMode"], "neither ipipMode nor vxlanMode can be enabled on an IP pool with allowedUses LoadBalancer");
      if (s.nodeSelector !== undefined && s.nodeSelector.trim() !== "all()") issue(["nodeSelector"], "an IP pool with allowedUses LoadBalancer must have nodeSelector all()");
    }
    if (s.namespaceSelector && s.allowedUses?.includes("Tunnel")) {
      issue(["namespaceSelector"], "namespaceSelector cannot be used on an IP pool with allowedUses Tunnel");
    }
  })
  .transform((s) => {
    const prefix = parsePrefix(s.cidr, { strict: false });
    const family = prefix.family;
    return {
      ...s,
      cidr: formatPrefix(prefix), // Calico stores the normalised form (e.g. "FD00:0::/48" → "fd00::/48")
      blockSize: s.blockSize ?? (family === 4 ? 26 : 122),
      ipipMode: s.ipipMode ?? "Never",
      vxlanMode: s.vxlanMode ?? "Never",
      natOutgoing: s.natOutgoing ?? false,
      disabled: s.disabled ?? false,
      disableBGPExport: s.disableBGPExport ?? false,
      nodeSelector: s.nodeSelector ?? "all()",
      allowedUses: s.allowedUses ?? ["Workload", "Tunnel"],
      assignmentMode: s.assignmentMode ?? "Automatic",
    };
  });

export const ipPoolSchema = resource("IPPool", metadata(dnsSubdomain, false), ipPoolSpec);

// ---------------------------------------------------------------- IPAMConfiguration

const ipamConfigSpec = strictObject({
  strictAffinity: z.boolean().optional(),
  autoAllocateBlocks: z.boolean().optional(),
  maxBlocksPerHost: z.number().int().min(0, "must be 0-1000000").max(1_000_000, "must be 0-1000000").optional(),
  kubeVirtVMAddressPersistence: z.enum(["Enabled", "Disabled"]).optional(),
})
  .superRefine((s, ctx) => {
    const issue = issuer(ctx);
    if ((s.maxBlocksPerHost ?? 0) > 0 && s.strictAffinity !== true) {
      issue(["maxBlocksPerHost"], "maxBlocksPerHost > 0 requires strictAffinity: true");
    }
    if (s.strictAffinity === false && s.autoAllocateBlocks === false) {
      issue(["autoAllocateBlocks"], "strictAffinity and autoAllocateBlocks cannot both be false");
    }
  })
  .transform((s) => ({
    ...s,
    strictAffinity: s.strictAffinity ?? false,
    autoAllocateBlocks: s.autoAllocateBlocks ?? true,
    maxBlocksPerHost: s.maxBlocksPerHost ?? 0,
  }));

export const ipamConfigurationSchema = resource(
  "IPAMConfiguration",
  metadata(z.string().refine((n) => n === "default", 'the IPAMConfiguration is a singleton: its name must be "default"'), false),
  ipamConfigSpec.prefault({}),
);

// ---------------------------------------------------------------- BGPConfiguration

const cidrBlock = strictObject({ cidr: strictCidr });
const communityValue = /^(\d+):(\d+)$|^(\d+):(\d+):(\d+)$/;
function communityProblem(v: string): string | undefined {
  const m = communityValue.exec(v);
  if (!m) return `community "${v}" must be "aa:nn" or "aa:nn:mm"`;
  const parts = v.split(":").map(Number);
  const max = parts.length === 2 ? 65535 : 4294967295;
  if (parts.some((n) => n > max)) return `community "${v}" has a part above ${max}`;
  return undefined;
}

const bgpConfigSpec = strictObject({
  logSeverityScreen: z.enum(["Trace", "Debug", "Info", "Warning", "Error", "Fatal"]).optional(),
  nodeToNodeMeshEnabled: z.boolean().optional(),
  asNumber: asNumber.optional(),
  serviceClusterIPs: z.array(cidrBlock).optional(),
  serviceExternalIPs: z.array(cidrBlock).optional(),
  serviceLoadBalancerIPs: z.array(cidrBlock).optional(),
  serviceLoadBalancerAggregation: z.enum(["Enabled", "Disabled"]).optional(),
  communities: z.array(strictObject({ name: dnsSubdomain, value: z.string() })).optional(),
  prefixAdvertisements: z.array(strictObject({ cidr: strictCidr, communities: z.array(z.string()) })).optional(),
  listenPort: z.number().int().min(1, "must be 1-65535").max(65535, "must be 1-65535").optional(),
  nodeMeshPassword: z.looseObject({}).optional(),
  nodeMeshMaxRestartTime: z.string().optional(),
  bindMode: z.enum(["None", "NodeIP"]).optional(),
  ignoredInterfaces: z.array(z.string()).optional(),
  localWorkloadPeeringIPV4: ipAddress.optional(),
  localWorkloadPeeringIPV6: ipAddress.optional(),
  programClusterRoutes: z.enum(["Enabled", "Disabled", "EnabledIPIPOnly", "EnabledNoEncapOnly"]).optional(),
  ipv4NormalRoutePriority: z.number().int().optional(),
  ipv6NormalRoutePriority: z.number().int().optional(),
}).superRefine((s, ctx) => {
  const issue = issuer(ctx);
  const names = new Set((s.communities ?? []).map((c) => c.name));
  (s.communities ?? []).forEach((c, i) => {
    const p = communityProblem(c.value);
    if (p) issue(["communities", i, "value"], p);
  });
  if ((s.communities?.length ?? 0) > 0 && (s.prefixAdvertisements?.length ?? 0) === 0) {
    issue(["communities"], "communities are defined but not used in prefixAdvertisements");
  }
  (s.prefixAdvertisements ?? []).forEach((pa, i) =>
    pa.communities.forEach((c, j) => {
      if (!names.has(c) && communityProblem(c)) issue(["prefixAdvertisements", i, "communities", j], `community "${c}" is neither defined in communities nor a valid "aa:nn"/"aa:nn:mm" value`);
    }),
  );
  if (s.nodeToNodeMeshEnabled === false && s.nodeMeshPassword) issue(["nodeMeshPassword"], "nodeMeshPassword cannot be set if nodeToNodeMeshEnabled is false");
  if (s.nodeToNodeMeshEnabled === false && s.nodeMeshMaxRestartTime) issue(["nodeMeshMaxRestartTime"], "nodeMeshMaxRestartTime cannot be set if nodeToNodeMeshEnabled is false");
});

export const bgpConfigurationSchema = resource("BGPConfiguration", metadata(dnsSubdomain, false), bgpConfigSpec.prefault({})).transform((r) =>
  // Only the global "default" object carries cluster-wide defaults; "node.<name>" objects override
  // individual fields and must not mask the global values.
  r.metadata.name === "default"
    ? {
        ...r,
        spec: {
          ...r.spec,
          logSeverityScreen: r.spec.logSeverityScreen ?? "Info",
          nodeToNodeMeshEnabled: r.spec.nodeToNodeMeshEnabled ?? true,
          asNumber: r.spec.asNumber ?? 64512,
          listenPort: r.spec.listenPort ?? 179,
        },
      }
    : r,
);

// ---------------------------------------------------------------- BGPPeer

/** "IP", "IPv4:port" or "[IPv6]:port" (validator processIPPort). */
export function splitPeerIP(s: string): { ip: string; port?: number } | undefined {
  let ip = s;
  let portText: string | undefined;
  const v4 = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s);
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s);
  if (v4) [ip, portText] = [v4[1] ?? "", v4[2]];
  else if (v6) [ip, portText] = [v6[1] ?? "", v6[2]];
  if (ipAddress.safeParse(ip).success === false) return undefined;
  if (portText === undefined) return { ip };
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { ip, port };
}

const bgpPeerSpec = strictObject({
  node: dnsSubdomain.optional(),
  nodeSelector: selector.optional(),
  peerIP: z.string().refine((s) => splitPeerIP(s) !== undefined, 'expected "<IP>", "<IPv4>:<port>" or "[<IPv6>]:<port>"').optional(),
  asNumber: asNumber.optional(),
  peerSelector: selector.optional(),
  localWorkloadSelector: selector.optional(),
  localASNumber: asNumber.optional(),
  keepOriginalNextHop: z.boolean().optional(),
  nextHopMode: z.enum(["Auto", "Self", "Keep"]).optional(),
  password: z.looseObject({}).optional(),
  sourceAddress: z.enum(["UseNodeIP", "None"]).optional(),
  maxRestartTime: z.string().optional(),
  keepaliveTime: z.string().optional(),
  numAllowedLocalASNumbers: z.number().int().min(0).optional(),
  ttlSecurity: z.number().int().min(0).max(255).optional(),
  reachableBy: ipAddress.optional(),
  filters: z.array(z.string()).optional(),
  reversePeering: z.enum(["Auto", "Manual"]).optional(),
})
  .superRefine((s, ctx) => {
    const issue = issuer(ctx);
    if (s.node && s.nodeSelector) issue(["node"], "node must be empty when nodeSelector is specified");
    if (s.peerIP && s.peerSelector) issue(["peerIP"], "peerIP must be empty when peerSelector is specified");
    if (s.asNumber && s.peerSelector) issue(["asNumber"], "asNumber must be empty when peerSelector is specified (the AS comes from the remote node)");
    if (!s.asNumber && s.localWorkloadSelector) issue(["asNumber"], "asNumber must be set when localWorkloadSelector is specified");
    if (s.peerIP && s.localWorkloadSelector) issue(["peerIP"], "peerIP must be empty when localWorkloadSelector is specified");
    if (s.peerSelector && s.localWorkloadSelector) issue(["peerSelector"], "peerSelector must be empty when localWorkloadSelector is specified");
    if (!s.peerIP && !s.peerSelector && !s.localWorkloadSelector) issue([], "a BGPPeer needs one of peerIP, peerSelector or localWorkloadSelector");
    if (s.peerIP && s.asNumber === undefined) issue(["peerIP"], "asNumber is required with peerIP");
    if (s.reachableBy) {
      const peer = s.peerIP ? splitPeerIP(s.peerIP) : undefined;
      if (!s.peerIP) issue(["reachableBy"], "reachableBy must be empty when peerIP is empty");
      else if (peer && ipAddress.safeParse(s.reachableBy).success && peer.ip.includes(":") !== s.reachableBy.includes(":")) {
        issue(["reachableBy"], "reachableBy and peerIP address families differ");
      }
    }
    if (s.keepOriginalNextHop && s.nextHopMode) issue(["keepOriginalNextHop"], "keepOriginalNextHop is deprecated and must not be true when nextHopMode is set");
  })
  .transform((s) => ({ ...s, sourceAddress: s.sourceAddress ?? "UseNodeIP", reversePeering: s.reversePeering ?? "Auto" }));

export const bgpPeerSchema = resource("BGPPeer", metadata(dnsSubdomain, false), bgpPeerSpec);

// ---------------------------------------------------------------- Node

const nodeSpec = strictObject({
  bgp: strictObject({
    ipv4Address: looseCidr.optional(),
    ipv6Address: looseCidr.optional(),
    ipv4IPIPTunnelAddr: ipAddress.optional(),
    asNumber: asNumber.optional(),
    routeReflectorClusterID: z.string().refine((s) => /^\d+\.\d+\.\d+\.\d+$/.test(s) && ipAddress.safeParse(s).success, "expected an IPv4-formatted cluster ID such as 244.0.0.1").optional(),
  })
    .refine((b) => Object.values(b).some((v) => v !== undefined), "spec.bgp should not be empty")
    .optional(),
  ipv4VXLANTunnelAddr: ipAddress.optional(),
  vxlanTunnelMACAddr: z.string().optional(),
  ipv6VXLANTunnelAddr: ipAddress.optional(),
  vxlanTunnelMACAddrV6: z.string().optional(),
  orchRefs: z.array(strictObject({ nodeName: z.string().optional(), orchestrator: z.string() })).optional(),
  wireguard: strictObject({ interfaceIPv4Address: ipAddress.optional(), interfaceIPv6Address: ipAddress.optional() }).optional(),
  addresses: z.array(strictObject({ address: z.string(), type: z.enum(["CalicoNodeIP", "InternalIP", "ExternalIP"]).optional() })).optional(),
});

export const calicoNodeSchema = resource("Node", metadata(dnsSubdomain, false), nodeSpec.prefault({}));

// ---------------------------------------------------------------- Tier

/** Tiers whose order Calico fixes. */
export const FIXED_TIER_ORDERS: Readonly<Record<string, number>> = { "kube-admin": 1_000, default: 1_000_000, "kube-baseline": 10_000_000 };

const tierSpec = strictObject({
  order: z.number().optional(),
  defaultAction: z.enum(["Deny", "Pass"]).optional(),
});

export const tierSchema = resource("Tier", metadata(dnsLabel, false), tierSpec.prefault({}))
  .superRefine((t, ctx) => {
    const fixed = FIXED_TIER_ORDERS[t.metadata.name];
    if (fixed !== undefined && t.spec.order !== undefined && t.spec.order !== fixed) {
      ctx.addIssue({ code: "custom", path: ["spec", "order"], message: `${t.metadata.name} tier order must be ${fixed}` });
    }
  })
  .transform((t) => ({
    ...t,
    spec: { ...t.spec, order: t.spec.order ?? FIXED_TIER_ORDERS[t.metadata.name], defaultAction: t.spec.defaultAction ?? "Deny" },
  }));

// ---------------------------------------------------------------- NetworkPolicy, GlobalNetworkPolicy

const labelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const networkPolicyNameRegex = new RegExp(`^((${labelFmt})(\\.${labelFmt})?|((?:knp|ossg)\\.default\\.(${labelFmt}(\\.${labelFmt})*)))$`);
const globalNetworkPolicyNameRegex = new RegExp(`^(${labelFmt}\\.)?${labelFmt}$`);
const policyName = (re: RegExp) =>
  z.string().max(253, "must be at most 253 characters").regex(re, "policy names must be a DNS-1123 label, optionally prefixed by the tier name and a dot (tier.name)");

const policySpecFields = {
  tier: dnsLabel.optional(),
  order: z.number().optional(),
  selector: selector.optional(),
  types: z.array(z.enum(policyTypes)).optional(),
  ingress: z.array(ruleSchema).optional(),
  egress: z.array(ruleSchema).optional(),
  serviceAccountSelector: selector.optional(),
  performanceHints: z.array(z.enum(["AssumeNeededOnEveryNode"])).optional(),
};

function policyChecks(spec: z.output<z.ZodObject<typeof policySpecFields>>, ctx: z.core.$RefinementCtx): void {
  const seen = new Set<string>();
  (spec.types ?? []).forEach((t, i) => {
    if (seen.has(t)) ctx.addIssue({ code: "custom", path: ["types", i], message: `'${t}' type specified more than once` });
    seen.add(t);
  });
  directionChecks(spec, ctx);
}

/** The tier-prefix rule for names of policies in a non-default tier. */
function tierNameCheck(name: string, tier: string | undefined, ctx: z.core.$RefinementCtx): void {
  const t = tier ?? "default";
  if (t !== "default" && !name.startsWith(`${t}.`)) {
    ctx.addIssue({ code: "custom", path: ["metadata", "name"], message: `policy "${name}" is in tier "${t}", so its name must start with "${t}."` });
  }
}

const withPolicyDefaults = <S extends { tier?: string | undefined; selector?: string | undefined; types?: ("Ingress" | "Egress")[] | undefined; ingress?: unknown[] | undefined; egress?: unknown[] | undefined }>(s: S) => ({
  ...s,
  tier: s.tier ?? "default",
  selector: s.selector ?? "all()",
  types: s.types ?? defaultPolicyTypes(s),
  ingress: (s.ingress ?? []) as NonNullable<S["ingress"]>,
  egress: (s.egress ?? []) as NonNullable<S["egress"]>,
});

export const networkPolicySchema = resource(
  "NetworkPolicy",
  metadata(policyName(networkPolicyNameRegex), true),
  strictObject(policySpecFields).superRefine(policyChecks).prefault({}),
)
  .superRefine((p, ctx) => tierNameCheck(p.metadata.name, p.spec.tier, ctx))
  .transform((p) => ({ ...p, metadata: { ...p.metadata, namespace: p.metadata.namespace ?? "default" }, spec: withPolicyDefaults(p.spec) }));

const gnpSpec = strictObject({
  ...policySpecFields,
  namespaceSelector: selector.optional(),
  doNotTrack: z.boolean().optional(),
  preDNAT: z.boolean().optional(),
  applyOnForward: z.boolean().optional(),
}).superRefine((s, ctx) => {
  policyChecks(s, ctx);
  const issue = issuer(ctx);
  if (s.doNotTrack && s.preDNAT) issue(["preDNAT"], "preDNAT and doNotTrack cannot both be true");
  if (s.preDNAT && (s.egress?.length ?? 0) > 0) issue(["egress"], "a preDNAT policy cannot have egress rules");
  if (s.preDNAT) (s.types ?? []).forEach((t, i) => t === "Egress" && issue(["types", i], "a preDNAT policy cannot have the Egress type"));
  if (!s.applyOnForward && (s.doNotTrack || s.preDNAT)) issue(["applyOnForward"], "applyOnForward must be true if either preDNAT or doNotTrack is true");
  // At global scope a service name needs its namespace.
  (s.egress ?? []).forEach((r, i) => {
    if (r.destination?.services && !r.destination.services.namespace) issue(["egress", i, "destination", "services", "namespace"], "must specify a namespace");
  });
  (s.ingress ?? []).forEach((r, i) => {
    if (r.source?.services && !r.source.services.namespace) issue(["ingress", i, "source", "services", "namespace"], "must specify a namespace");
  });
});

export const globalNetworkPolicySchema = resource("GlobalNetworkPolicy", metadata(policyName(globalNetworkPolicyNameRegex), false), gnpSpec.prefault({}))
  .superRefine((p, ctx) => tierNameCheck(p.metadata.name, p.spec.tier, ctx))
  .transform((p) => ({
    ...p,
    spec: {
      ...withPolicyDefaults(p.spec),
      doNotTrack: p.spec.doNotTrack ?? false,
      preDNAT: p.spec.preDNAT ?? false,
      applyOnForward: p.spec.applyOnForward ?? false,
    },
  }));

// ---------------------------------------------------------------- NetworkSet, GlobalNetworkSet, Profile

const noNamespaceLabel = (r: { metadata: { labels?: Record<string, string> | undefined } }, ctx: z.core.$RefinementCtx) => {
  if (r.metadata.labels && "projectcalico.org/namespace" in r.metadata.labels) {
    ctx.addIssue({ code: "custom", path: ["metadata", "labels", "projectcalico.org/namespace"], message: "projectcalico.org/namespace is not a valid label name" });
  }
};

const netSetSpec = strictObject({ nets: z.array(looseCidr).optional() }).transform((s) => ({ nets: s.nets ?? [] }));

export const networkSetSchema = resource("NetworkSet", metadata(dnsSubdomain, true), netSetSpec.prefault({}))
  .superRefine(noNamespaceLabel)
  .transform((r) => ({ ...r, metadata: { ...r.metadata, namespace: r.metadata.namespace ?? "default" } }));

export const globalNetworkSetSchema = resource("GlobalNetworkSet", metadata(dnsSubdomain, false), netSetSpec.prefault({})).superRefine(noNamespaceLabel);

export const profileSchema = resource(
  "Profile",
  metadata(dnsSubdomain, false),
  strictObject({
    ingress: z.array(ruleSchema).optional(),
    egress: z.array(ruleSchema).optional(),
    labelsToApply: z.record(z.string(), z.string()).optional(),
  }).prefault({}),
);

// ---------------------------------------------------------------- HostEndpoint, WorkloadEndpoint

const endpointPort = strictObject({
  name: z.string(),
  protocol,
  port: z.number().int().min(1, "must be 1-65535").max(65535, "must be 1-65535"),
}).superRefine((p, ctx) => {
  const issue = issuer(ctx);
  const np = portNameProblem(p.name);
  if (np) issue(["name"], np);
  if (!protocolSupportsPorts(p.protocol)) issue(["protocol"], "endpoint port protocol must be TCP, UDP or SCTP");
});

export const hostEndpointSchema = resource(
  "HostEndpoint",
  metadata(dnsSubdomain, false),
  strictObject({
    node: z.string().optional(),
    interfaceName: z.string().refine((s) => s === "*" || /^[a-zA-Z0-9_.-]{1,15}$/.test(s), "expected an interface name (1-15 of a-z A-Z 0-9 _ . -) or *").optional(),
    expectedIPs: z.array(ipAddress).optional(),
    profiles: z.array(z.string()).optional(),
    ports: z.array(endpointPort).optional(),
  }).superRefine((s, ctx) => {
    const issue = issuer(ctx);
    if (!s.interfaceName && !(s.expectedIPs?.length)) issue([], "a host endpoint needs interfaceName or expectedIPs");
    if (!s.node) issue(["node"], "a host endpoint needs a node");
  }),
);

const workloadPort = strictObject({
  name: z.string().optional(),
  protocol,
  port: z.number().int().min(0).max(65535),
  hostPort: z.number().int().min(0).max(65535).optional(),
  hostIP: ipAddress.optional(),
}).superRefine((p, ctx) => {
  const issue = issuer(ctx);
  if (!protocolSupportsPorts(p.protocol)) issue(["protocol"], "workload endpoint port protocol must be TCP, UDP or SCTP");
  if (!p.name && !p.hostPort) issue(["name"], "a workload endpoint port needs a name unless hostPort is set");
  if (p.name) {
    const np = portNameProblem(p.name);
    if (np) issue(["name"], np);
  }
});

export const workloadEndpointSchema = resource(
  "WorkloadEndpoint",
  metadata(dnsSubdomain, true),
  strictObject({
    orchestrator: z.string().optional(),
    workload: z.string().optional(),
    node: z.string().optional(),
    containerID: z.string().optional(),
    pod: z.string().optional(),
    endpoint: z.string().optional(),
    serviceAccountName: z.string().optional(),
    ipNetworks: z.array(looseCidr).optional(),
    ipNATs: z.array(strictObject({ internalIP: ipAddress, externalIP: ipAddress })).optional(),
    ipv4Gateway: ipAddress.optional(),
    ipv6Gateway: ipAddress.optional(),
    profiles: z.array(z.string()).optional(),
    interfaceName: z.string().optional(),
    mac: z.string().optional(),
    ports: z.array(workloadPort).optional(),
    allowSpoofedSourcePrefixes: z.array(looseCidr).optional(),
  }).superRefine((s, ctx) => {
    (s.ipNetworks ?? []).forEach((n, i) => {
      const p = tryPrefix(n);
      if (p && p.len !== (p.family === 4 ? 32 : 128)) ctx.addIssue({ code: "custom", path: ["ipNetworks", i], message: `IP network ${n} contains multiple addresses (expected a /${p.family === 4 ? 32 : 128})` });
    });
  }),
).transform((r) => ({ ...r, metadata: { ...r.metadata, namespace: r.metadata.namespace ?? "default" } }));

// ---------------------------------------------------------------- FelixConfiguration

const mtu = z.number().int().min(0, "must be 0 (auto-detect) or an MTU up to 65535").max(65535, "must be 0 (auto-detect) or an MTU up to 65535");
const failsafePort = strictObject({
  protocol: z.enum(["TCP", "UDP", "SCTP"]),
  port: z.number().int().min(1, "must be 1-65535").max(65535, "must be 1-65535"),
  net: looseCidr.optional(),
});

/**
 * Felix has some 200 settings; the ones about encapsulation and MTU (calico-semantics §5) are
 * checked and the rest are kept unchecked, so that `calicoctl get felixconfiguration -o yaml` loads.
 */
const felixConfigSpec = z.looseObject({
  ipipEnabled: z.boolean().optional(),
  ipipMTU: mtu.optional(),
  vxlanEnabled: z.boolean().optional(),
  vxlanMTU: mtu.optional(),
  vxlanMTUV6: mtu.optional(),
  vxlanPort: z.number().int().min(1).max(65535).optional(),
  vxlanVNI: z.number().int().min(1).max(16777215).optional(),
  wireguardEnabled: z.boolean().optional(),
  wireguardEnabledV6: z.boolean().optional(),
  wireguardMTU: mtu.optional(),
  wireguardMTUV6: mtu.optional(),
  mtuIfacePattern: z
    .string()
    .refine((p) => {
      try {
        new RegExp(p);
        return true;
      } catch {
        return false;
      }
    }, "expected a regular expression")
    .optional(),
  logSeverityScreen: z.enum(["Trace", "Debug", "Info", "Warning", "Error", "Fatal"]).optional(),
  natOutgoingAddress: ipAddress.refine((s) => !s.includes(":"), "expected an IPv4 address").optional(),
  defaultEndpointToHostAction: z.enum(["Drop", "Accept", "Return"]).optional(),
  failsafeInboundHostPorts: z.array(failsafePort).optional(),
  failsafeOutboundHostPorts: z.array(failsafePort).optional(),
  routeSource: z.enum(["WorkloadIPs", "CalicoIPAM"]).optional(),
  programClusterRoutes: z.enum(["Enabled", "Disabled"]).optional(),
});

export const felixConfigurationSchema = resource("FelixConfiguration", metadata(dnsSubdomain, false), felixConfigSpec.prefault({}));

// ---------------------------------------------------------------- types

export type IPPool = z.output<typeof ipPoolSchema>;
export type IPPoolSpec = IPPool["spec"];
export type IPAMConfiguration = z.output<typeof ipamConfigurationSchema>;
export type BGPConfiguration = z.output<typeof bgpConfigurationSchema>;
export type BGPPeer = z.output<typeof bgpPeerSchema>;
/** Calico's Node resource (named so to avoid confusion with topology nodes). */
export type CalicoNode = z.output<typeof calicoNodeSchema>;
export type Tier = z.output<typeof tierSchema>;
/** projectcalico.org/v3 NetworkPolicy (namespaced). */
export type CalicoNetworkPolicy = z.output<typeof networkPolicySchema>;
export type GlobalNetworkPolicy = z.output<typeof globalNetworkPolicySchema>;
export type NetworkSet = z.output<typeof networkSetSchema>;
export type GlobalNetworkSet = z.output<typeof globalNetworkSetSchema>;
export type Profile = z.output<typeof profileSchema>;
export type HostEndpoint = z.output<typeof hostEndpointSchema>;
export type WorkloadEndpoint = z.output<typeof workloadEndpointSchema>;
/** FelixConfiguration: MTU/encapsulation fields typed, other Felix settings kept as given. */
export type FelixConfiguration = z.output<typeof felixConfigurationSchema>;

/** Calico kinds and their schemas, in the order `validate` lists them. */
export const calicoSchemas = {
  IPPool: ipPoolSchema,
  IPAMConfiguration: ipamConfigurationSchema,
  BGPConfiguration: bgpConfigurationSchema,
  BGPPeer: bgpPeerSchema,
  Node: calicoNodeSchema,
  Tier: tierSchema,
  NetworkPolicy: networkPolicySchema,
  GlobalNetworkPolicy: globalNetworkPolicySchema,
  NetworkSet: networkSetSchema,
  GlobalNetworkSet: globalNetworkSetSchema,
  Profile: profileSchema,
  HostEndpoint: hostEndpointSchema,
  WorkloadEndpoint: workloadEndpointSchema,
  FelixConfiguration: felixConfigurationSchema,
} as const;

