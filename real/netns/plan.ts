// What the netns builder will do for a topology, as data: namespace names, interface names and
// the `ip -batch` / `tc -batch` lines per namespace. Pure (no I/O), so naming and commands are
// unit-tested without root; build.ts only runs the plan.
//
// Layout: one namespace per node and router; one "fabric" namespace holding a Linux bridge per L2
// segment; per attachment a veth pair, the fabric end on the segment's bridge, the element end
// (eth0, eth1, … in interface order) in the element's namespace. Nothing is created in the root
// namespace except the namespaces themselves.
import type { Topology } from "../../src/topology/index.ts";
import { bridgeName, elementIfname, elementNetns, fabricNetns, fabricPortName, linkMarker } from "./names.ts";

export interface PlannedInterface {
  element: string;
  segment: string;
  /** Name inside the element's namespace (eth0, eth1, …). */
  ifname: string;
  /** Name of the other end, on the segment's bridge in the fabric namespace. */
  fabricPort: string;
  bridge: string;
  address?: string;
  addressV6?: string;
  mtu: number;
  latencyMs: number;
  loss: number;
  bandwidthMbps?: number;
  /** Starts down (the fabric end is set down: the element sees the carrier go). */
  down: boolean;
}

export interface PlannedElement {
  name: string;
  kind: "node" | "router";
  netns: string;
  interfaces: PlannedInterface[];
  /** `ip -n NETNS -batch` lines. */
  batch: string[];
  /** sysctl settings (`sysctl -qw` arguments), applied before the batch: forwarding on routers, no IPv6 DAD. */
  sysctl: string[];
  /** `tc -n NETNS -batch` lines (netem), empty when the attachments have no latency/loss/bandwidth. */
  tc: string[];
}

export interface PlannedSegment {
  name: string;
  bridge: string;
  mtu: number;
  ports: string[];
}

export interface NetnsPlan {
  runId: string;
  fabric: string;
  /** All namespaces: the fabric first, then routers and nodes. */
  namespaces: string[];
  /** `ip -batch` lines in the root namespace (namespace creation). */
  netnsBatch: string[];
  /** `ip -n FABRIC -batch` lines: bridges and veth pairs (the element ends go straight into their namespaces). */
  fabricBatch: string[];
  /** `ip -n FABRIC -batch` lines run last: links that start down. */
  fabricDownBatch: string[];
  /** `tc -n FABRIC -batch` lines (netem on the fabric ends). */
  fabricTc: string[];
  segments: PlannedSegment[];
  elements: PlannedElement[];
}

/** netem on one end of an attachment: half the one-way latency, and the loss that gives `loss` over both ends. */
export function netemArgs(i: Pick<PlannedInterface, "latencyMs" | "loss" | "bandwidthMbps">): string | undefined {
  const parts: string[] = [];
  const delayUs = Math.round((i.latencyMs * 1000) / 2);
  if (delayUs > 0) parts.push(`delay ${delayUs}us`);
  if (i.loss > 0) {
    const perEnd = 1 - Math.sqrt(1 - i.loss);
    parts.push(`loss ${(perEnd * 100).toPrecision(6).replace(/\.?0+$/, "")}%`);
  }
  if (i.bandwidthMbps !== undefined && i.bandwidthMbps > 0) parts.push(`rate ${i.bandwidthMbps}mbit`);
  return parts.length > 0 ? `netem ${parts.join(" ")}` : undefined;
}

const isV6 = (a: string) => a.includes(":");

export function planNetns(t: Topology, runId: string): NetnsPlan {
  const fabric = fabricNetns(runId);
  const marker = linkMarker(runId);
  const segIndex = new Map(t.segments.map((s, i) => [s.name, i + 1]));
  const segments: PlannedSegment[] = t.segments.map((s, i) => ({ name: s.name, bridge: bridgeName(i + 1), mtu: s.mtu, ports: [] }));
  const linkOf = new Map(t.links.map((l) => [[...l.endpoints].sort().join("\u0000"), l]));
  const elementOfNetns = new Map<string, string>();

  const attach = (element: string, k: number, segment: string, address?: string, addressV6?: string): PlannedInterface => {
    const si = segIndex.get(segment);
    if (si === undefined) throw new Error(`${element}: unknown segment ${segment}`);
    const seg = segments[si - 1]!;
    const s = t.segments[si - 1]!;
    const link = linkOf.get([element, segment].sort().join("\u0000"));
    const fabricPort = fabricPortName(si, seg.ports.length + 1);
    seg.ports.push(fabricPort);
    return {
      element,
      segment,
      ifname: elementIfname(k),
      fabricPort,
      bridge: seg.bridge,
      ...(address !== undefined ? { address } : {}),
      ...(addressV6 !== undefined ? { addressV6 } : {}),
      mtu: link?.mtu ?? s.mtu,
      latencyMs: link?.latencyMs ?? s.latencyMs,
      loss: link?.loss ?? s.loss,
      ...(link?.bandwidthMbps !== undefined ? { bandwidthMbps: link.bandwidthMbps } : {}),
      down: link?.down ?? false,
    };
  };

  const addressLines = (i: PlannedInterface) => [
    `link set ${i.ifname} alias ${marker} up`,
    ...(i.address ? [`addr add ${i.address} dev ${i.ifname}`] : []),
    ...(i.addressV6 ? [`addr add ${i.addressV6} dev ${i.ifname} nodad`] : []),
  ];
  const tcLines = (i: PlannedInterface, dev: string) => {
    const n = netemArgs(i);
    return n ? [`qdisc add dev ${dev} root ${n}`] : [];
  };
  const nsFor = (name: string) => {
    const ns = elementNetns(runId, name);
    const prev = elementOfNetns.get(ns);
    if (prev !== undefined) throw new Error(`namespace name ${ns} for ${name} collides with ${prev}`);
    elementOfNetns.set(ns, name);
    return ns;
  };

  // IPv6 link-local addresses would stay tentative for a second of DAD after the link comes up, and
  // neighbour discovery through a router stalls meanwhile: no DAD on our interfaces (set while the
  // link is still down, before the batch).
  const noDad = (ifs: PlannedInterface[]) => ifs.filter((i) => i.addressV6 !== undefined).map((i) => `net.ipv6.conf.${i.ifname}.accept_dad=0`);
  const elements: PlannedElement[] = [];
  for (const r of t.routers) {
    const interfaces = r.interfaces.map((i, k) => attach(r.name, k, i.segment, i.address, i.addressV6));
    const batch = ["link set lo up", ...interfaces.flatMap(addressLines)];
    for (const sr of r.staticRoutes) batch.push(`route add ${sr.prefix} via ${sr.via}`);
    elements.push({
      name: r.name,
      kind: "router",
      netns: nsFor(r.name),
      interfaces,
      batch,
      sysctl: ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", ...noDad(interfaces)],
      tc: interfaces.flatMap((i) => tcLines(i, i.ifname)),
    });
  }
  for (const n of t.nodes) {
    const i = attach(n.name, 0, n.segment, n.address, n.addressV6);
    const batch = ["link set lo up", ...addressLines(i)];
    if (n.gateway) batch.push(`route add ${isV6(n.gateway) ? "::/0" : "default"} via ${n.gateway} dev ${i.ifname}`);
    elements.push({ name: n.name, kind: "node", netns: nsFor(n.name), interfaces: [i], batch, sysctl: noDad([i]), tc: tcLines(i, i.ifname) });
  }

  const fabricBatch = ["link set lo up"];
  for (const s of segments) fabricBatch.push(`link add ${s.bridge} type bridge mcast_snooping 0`, `link set ${s.bridge} alias ${marker} up`);
  const fabricTc: string[] = [];
  const fabricDownBatch: string[] = [];
  for (const e of elements) {
    for (const i of e.interfaces) {
      fabricBatch.push(
        `link add ${i.fabricPort} mtu ${i.mtu} type veth peer name ${i.ifname} mtu ${i.mtu} netns ${e.netns}`,
        `link set ${i.fabricPort} alias ${marker} master ${i.bridge} up`,
      );
      fabricTc.push(...tcLines(i, i.fabricPort));
      if (i.down) fabricDownBatch.push(`link set ${i.fabricPort} down`);
    }
  }
  // Bridge MTUs last: a bridge follows its smallest port unless its MTU is set to a new value
  // after the ports are in (setting the value it already has does not pin it).
  for (const s of segments) fabricBatch.push(`link set ${s.bridge} mtu ${s.mtu}`);
  const namespaces = [fabric, ...elements.map((e) => e.netns)];
  return {
    runId,
    fabric,
    namespaces,
    netnsBatch: namespaces.map((n) => `netns add ${n}`),
    fabricBatch,
    fabricDownBatch,
    fabricTc,
    segments,
    elements,
  };
}
