// The topology file as written (apiVersion birdcage/v1, kind Topology), checked with zod. Field
// shapes only: references, address ranges and overlaps are checked in check.ts, where every
// element's position is known. Unknown fields are errors that list the allowed ones.
import * as z from "zod";
import { asNumber, dnsSubdomain, labels, strictObject } from "../core/model/fields.ts";
import { encapModes } from "../core/model/calico.ts";
import { parseIP, parsePrefix } from "../core/net/ip.ts";

export const TOPOLOGY_API_VERSION = "birdcage/v1";

const prefixText = (family?: 4 | 6) =>
  z.string().superRefine((s, ctx) => {
    try {
      const p = parsePrefix(s, { strict: true });
      if (family && p.family !== family) ctx.addIssue({ code: "custom", message: `expected an IPv${family} prefix, got "${s}"` });
    } catch (e) {
      ctx.addIssue({ code: "custom", message: `${(e as Error).message}` });
    }
  });

/** An interface address with its prefix length, e.g. 192.168.1.10/24 (host bits set, as `ip addr` takes). */
const interfaceAddress = z.string().superRefine((s, ctx) => {
  if (!s.includes("/")) {
    ctx.addIssue({ code: "custom", message: `expected an address with a prefix length, e.g. 192.168.1.10/24, got "${s}"` });
    return;
  }
  try {
    parsePrefix(s, { strict: false });
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

const ipText = z.string().superRefine((s, ctx) => {
  try {
    parseIP(s);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

const ipv4Text = ipText.refine((s) => /^\d+\.\d+\.\d+\.\d+$/.test(s), "expected an IPv4 address");

const mtu = z.number().int("expected an integer MTU").min(68, "MTU must be at least 68 (the IPv4 minimum)").max(65535, "MTU must be at most 65535");

const name = dnsSubdomain;

export const segmentSchema = strictObject({
  name,
  subnet: prefixText(4).optional(),
  subnetV6: prefixText(6).optional(),
  mtu: mtu.default(1500),
  /** One-way latency between any two attachments of the segment (ms). */
  latencyMs: z.number().min(0).default(0),
  /** Probability a frame is lost on the segment, 0..1. */
  loss: z.number().min(0).max(1).default(0),
}).refine((s) => s.subnet !== undefined || s.subnetV6 !== undefined, { message: "a segment needs subnet (IPv4) and/or subnetV6" });

export const staticRouteSchema = strictObject({
  prefix: prefixText(),
  via: ipText,
});

export const bgpPeerRefSchema = strictObject({
  address: ipText.optional(),
  node: name.optional(),
  nodeSelector: z.string().optional(),
  asNumber: asNumber.optional(),
  routeReflectorClient: z.boolean().default(false),
}).superRefine((p, ctx) => {
  const set = [p.address, p.node, p.nodeSelector].filter((v) => v !== undefined).length;
  if (set !== 1) ctx.addIssue({ code: "custom", message: "a peer needs exactly one of address, node or nodeSelector" });
});

export const routerSchema = strictObject({
  name,
  interfaces: z
    .array(strictObject({ segment: name, address: interfaceAddress.optional(), addressV6: interfaceAddress.optional() }))
    .min(1, "a router needs at least one interface"),
  staticRoutes: z.array(staticRouteSchema).default([]),
  bgp: strictObject({
    asNumber,
    routerId: ipv4Text.optional(),
    peers: z.array(bgpPeerRefSchema).default([]),
  }).optional(),
});

export const nodeSchema = strictObject({
  name,
  segment: name,
  address: interfaceAddress.optional(),
  addressV6: interfaceAddress.optional(),
  /** Default gateway (a router address on the node's segment). */
  gateway: ipText.optional(),
  labels: labels.default({}),
  asNumber: asNumber.optional(),
  routeReflectorClusterID: ipv4Text.optional(),
});

export const linkSchema = strictObject({
  /** Two element names: an attachment (node or router, and a segment) whose properties this sets. */
  endpoints: z.tuple([name, name]),
  latencyMs: z.number().min(0).optional(),
  loss: z.number().min(0).max(1).optional(),
  mtu: mtu.optional(),
  bandwidthMbps: z.number().positive().optional(),
  /** Starts down (a scenario brings it up). */
  down: z.boolean().default(false),
});

const rrSchema = z.union([
  strictObject({ perRack: z.number().int().min(1) }),
  strictObject({ global: z.number().int().min(1) }),
]);

export const generateSchema = strictObject({
  nodes: z.number().int().min(1).max(100_000),
  racks: z.number().int().min(1).max(4096).default(1),
  nodesPerRack: z.number().int().min(1).optional(),
  /** A template with {rack} (1-based), e.g. 10.0.{rack}.0/24, or a base CIDR split into equal rack subnets. */
  rackSubnet: z.string().default("10.0.{rack}.0/24"),
  /** Prefix length of each rack when rackSubnet is a base CIDR (default: the smallest that fits). */
  rackPrefixLength: z.number().int().min(1).max(32).optional(),
  mtu: mtu.default(1500),
  latencyMs: z.number().min(0).default(0),
  /** A ToR router per rack (x.x.x.1) on each rack segment and on a fabric segment between racks. */
  torRouters: z.boolean().default(false),
  fabricSubnet: prefixText(4).default("10.255.255.0/24"),
  /** ToRs peer with the nodes of their rack (eBGP from torAsNumber + rack - 1). */
  torBgp: z.boolean().default(false),
  torAsNumber: asNumber.default(65000),
  routeReflectors: rrSchema.optional(),
  asNumber: asNumber.optional(),
  namePrefix: dnsSubdomain.default("node"),
});

export const clusterSchema = strictObject({
  /** Calico resources written inline, or paths (relative to the topology file) of files holding them. */
  resources: z.array(z.union([z.string(), z.record(z.string(), z.unknown())], { error: "expected a file path or an inline resource (a mapping with apiVersion and kind)" })).default([]),
  /** Calico resources of one kind, inline; apiVersion and kind may be left out (as in calicoctl's <Kind>List items). */
  ipPools: z.array(z.record(z.string(), z.unknown())).default([]),
  bgpConfiguration: z.record(z.string(), z.unknown()).optional(),
  bgpPeers: z.array(z.record(z.string(), z.unknown())).default([]),
  /** An ICP installer config.yaml (path relative to the topology file). */
  icpConfig: z.string().optional(),
  /** The default pool's CIDR when no IPPool is given (Calico's default 192.168.0.0/16). */
  podCIDR: prefixText().optional(),
  blockSize: z.number().int().optional(),
  encapsulation: strictObject({ type: z.enum(["ipip", "vxlan", "none"]), mode: z.enum(encapModes).default("Always") }).optional(),
  tunnelMTU: mtu.optional(),
  ipAutodetectionMethod: z.string().optional(),
  asNumber: asNumber.optional(),
  nodeToNodeMesh: z.boolean().optional(),
});

export const topologyFileSchema = strictObject({
  apiVersion: z.literal(TOPOLOGY_API_VERSION),
  kind: z.literal("Topology"),
  metadata: strictObject({ name: dnsSubdomain, description: z.string().optional() }),
  generate: generateSchema.optional(),
  segments: z.array(segmentSchema).default([]),
  routers: z.array(routerSchema).default([]),
  nodes: z.array(nodeSchema).default([]),
  links: z.array(linkSchema).default([]),
  cluster: clusterSchema.prefault({}),
});

export type TopologyFile = z.output<typeof topologyFileSchema>;
export type SegmentSpec = z.output<typeof segmentSchema>;
export type RouterSpec = z.output<typeof routerSchema>;
export type NodeSpec = z.output<typeof nodeSchema>;
export type LinkSpec = z.output<typeof linkSchema>;
export type GenerateSpec = z.output<typeof generateSchema>;
export type ClusterSpec = z.output<typeof clusterSchema>;
export type BgpPeerRef = z.output<typeof bgpPeerRefSchema>;
