// Exports of a loaded topology: JSON (the expanded model), Graphviz dot, and a containerlab topology
// file (routers as FRR containers, nodes as Linux containers, segments as Linux bridges).
import type { Topology } from "./model.ts";
import { bgpPeerings, type Peering } from "./peerings.ts";

/** The expanded topology as plain JSON-able data (stable key order: the model's). */
export function topologyToJSON(t: Topology): Record<string, unknown> {
  return {
    apiVersion: "birdcage/v1",
    kind: "Topology",
    metadata: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}) },
    segments: t.segments,
    routers: t.routers,
    nodes: t.nodes,
    links: t.links,
    cluster: t.cluster,
  };
}

/** A DOT quoted string: quotes escaped, `\\n` kept as Graphviz's line break. */
const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

/** Graphviz: segments as boxes, routers as diamonds, nodes as ellipses; BGP sessions dashed (up to `maxPeerings`). */
export function topologyToDot(t: Topology, options: { maxPeerings?: number; peerings?: Peering[] } = {}): string {
  const max = options.maxPeerings ?? 500;
  const lines = [`graph ${q(t.name)} {`, "  graph [overlap=false];", "  node [fontname=Helvetica fontsize=10];"];
  for (const s of t.segments) lines.push(`  ${q(s.name)} [shape=box style=filled fillcolor="#e8eef7" label=${q(`${s.name}\\n${[s.subnet, s.subnetV6].filter(Boolean).join(" ")}\\nMTU ${s.mtu}`)}];`);
  for (const r of t.routers) lines.push(`  ${q(r.name)} [shape=diamond style=filled fillcolor="#fde9c9" label=${q(`${r.name}${r.bgp ? `\\nAS ${r.bgp.asNumber}` : ""}`)}];`);
  for (const n of t.nodes) {
    const rr = n.routeReflectorClusterID !== undefined;
    lines.push(`  ${q(n.name)} [shape=ellipse${rr ? ' style=filled fillcolor="#d9f2d9"' : ""} label=${q(`${n.name}\\n${n.address ?? n.addressV6 ?? ""}${rr ? "\\nRR" : ""}`)}];`);
  }
  for (const r of t.routers) for (const i of r.interfaces) lines.push(`  ${q(r.name)} -- ${q(i.segment)} [label=${q(i.address ?? i.addressV6 ?? "")} fontsize=8];`);
  for (const n of t.nodes) lines.push(`  ${q(n.name)} -- ${q(n.segment)};`);
  const peerings = options.peerings ?? bgpPeerings(t);
  if (peerings.length <= max) {
    for (const p of peerings) lines.push(`  ${q(p.a)} -- ${q(p.b)} [style=dashed color="#888888" constraint=false];`);
  } else {
    lines.push(`  // ${peerings.length} BGP sessions left out (more than ${max})`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

export const CLAB_IMAGES = { node: "wbitt/network-multitool:3.22.2", router: "quay.io/frrouting/frr:10.5.1" } as const;

/**
 * A containerlab topology (as an object; print it as YAML). Each segment becomes a `bridge` node
 * named bc-<n> (containerlab expects the Linux bridge to exist: `ip link add bc-<n> type bridge`),
 * each attachment a veth link from the element's ethN to a port of that bridge. Addresses, gateways
 * and static routes are set by `exec`; FRR routers still need their BGP configuration bound in.
 */
export function topologyToClab(t: Topology): Record<string, unknown> {
  const bridge = new Map(t.segments.map((s, i) => [s.name, `bc-${i + 1}`]));
  const nodes: Record<string, Record<string, unknown>> = {};
  const links: { endpoints: [string, string]; mtu?: number }[] = [];
  const port = new Map<string, number>();
  const mtuOf = new Map(t.segments.map((s) => [s.name, s.mtu]));
  const linkMTU = new Map(t.links.filter((l) => l.mtu !== undefined).map((l) => [[...l.endpoints].sort().join("\u0000"), l.mtu!]));
  const attach = (element: string, eth: number, segment: string) => {
    const br = bridge.get(segment)!;
    const p = (port.get(br) ?? 0) + 1;
    port.set(br, p);
    links.push({ endpoints: [`${element}:eth${eth}`, `${br}:${br}p${p}`] });
  };
  for (const s of t.segments) nodes[bridge.get(s.name)!] = { kind: "bridge", labels: { "birdcage.segment": s.name } };
  for (const r of t.routers) {
    const exec: string[] = [];
    r.interfaces.forEach((i, k) => {
      attach(r.name, k + 1, i.segment);
      const mtu = linkMTU.get([r.name, i.segment].sort().join("\u0000")) ?? mtuOf.get(i.segment)!;
      exec.push(`ip link set eth${k + 1} mtu ${mtu}`);
      if (i.address) exec.push(`ip addr add ${i.address} dev eth${k + 1}`);
      if (i.addressV6) exec.push(`ip -6 addr add ${i.addressV6} dev eth${k + 1}`);
    });
    exec.push("sysctl -w net.ipv4.ip_forward=1");
    for (const sr of r.staticRoutes) exec.push(`ip route add ${sr.prefix} via ${sr.via}`);
    nodes[r.name] = { kind: "linux", image: CLAB_IMAGES.router, group: "routers", labels: { "birdcage.role": "router" }, exec };
  }
  for (const n of t.nodes) {
    attach(n.name, 1, n.segment);
    const mtu = linkMTU.get([n.name, n.segment].sort().join("\u0000")) ?? mtuOf.get(n.segment)!;
    const exec = [`ip link set eth1 mtu ${mtu}`];
    if (n.address) exec.push(`ip addr add ${n.address} dev eth1`);
    if (n.addressV6) exec.push(`ip -6 addr add ${n.addressV6} dev eth1`);
    if (n.gateway) exec.push(`ip route add default via ${n.gateway} dev eth1`);
    nodes[n.name] = { kind: "linux", image: CLAB_IMAGES.node, group: "nodes", labels: { "birdcage.role": "node", ...n.labels }, exec };
  }
  return {
    name: t.name,
    mgmt: { network: `bc-${t.name}-mgmt`.slice(0, 63), "ipv4-subnet": "172.20.20.0/24" },
    topology: { nodes, links: links.map((l) => ({ endpoints: l.endpoints })) },
  };
}
