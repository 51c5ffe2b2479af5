// Semantic checks of a loaded topology, each problem at the position of the field at fault (or of
// `generate` for generated elements): names, references, addresses against their segments,
// duplicates, overlapping subnets, BGP peer references.
import type { Problem, SourcePos } from "../core/model/problems.ts";
import type { ResourceEntry } from "../core/model/resources.ts";
import { formatPrefix, parseIP, parsePrefix, prefixContainsAddress, prefixesOverlap, prefixSize, type IPAddress, type Prefix } from "../core/net/ip.ts";
import { parseSelector, validateSelector } from "../core/policy/selector/index.ts";
import type { Origin, Topology, TopologyOrigins } from "./model.ts";

const addrKey = (a: IPAddress) => `${a.family}/${a.value}`;

export function checkTopology(
  t: Topology,
  o: TopologyOrigins,
  peerEntries: readonly ResourceEntry<"BGPPeer">[],
  genOrigin: Origin,
  poolPositions: readonly SourcePos[] = [],
): Problem[] {
  const problems: Problem[] = [];
  const report = (pos: SourcePos, message: string) => problems.push({ ...pos, message });
  const seg = (n: string) => o.segments.get(n) ?? genOrigin;
  const rtr = (n: string) => o.routers.get(n) ?? genOrigin;
  const nod = (n: string) => o.nodes.get(n) ?? genOrigin;

  // One namespace for segments, routers and nodes: they are the vertices of one graph.
  const owner = new Map<string, string>();
  const claim = (name: string, what: string, origin: Origin) => {
    const prev = owner.get(name);
    if (prev) report(origin.at(["name"]), `duplicate name "${name}" (already used by a ${prev})`);
    else owner.set(name, what);
  };

  const subnets = new Map<string, { v4?: Prefix; v6?: Prefix }>();
  const seenSegs: { name: string; p: Prefix }[] = [];
  t.segments.forEach((s, idx) => {
    const origin = o.segmentAt[idx] ?? seg(s.name);
    if (owner.has(s.name)) {
      claim(s.name, "segment", origin);
      return;
    }
    claim(s.name, "segment", origin);
    const entry: { v4?: Prefix; v6?: Prefix } = {};
    for (const [field, text] of [["subnet", s.subnet], ["subnetV6", s.subnetV6]] as const) {
      if (text === undefined) continue;
      const p = parsePrefix(text, { strict: true });
      if (p.family === 4) entry.v4 = p;
      else entry.v6 = p;
      const clash = seenSegs.find((x) => prefixesOverlap(x.p, p));
      if (clash) report(origin.at([field]), `${field}: ${text} overlaps segment ${clash.name}'s ${formatPrefix(clash.p)}`);
      seenSegs.push({ name: s.name, p });
    }
    if (s.subnetV6 !== undefined && s.mtu < 1280) report(origin.at(["mtu"]), `mtu: ${s.mtu} is below 1280, the IPv6 minimum, on a segment with subnetV6`);
    subnets.set(s.name, entry);
  });
  t.routers.forEach((r, i) => claim(r.name, "router", o.routerAt[i] ?? rtr(r.name)));
  t.nodes.forEach((n, i) => claim(n.name, "node", o.nodeAt[i] ?? nod(n.name)));

  // Pod address pools must not overlap the networks the nodes and routers live on.
  t.cluster.ipPools.forEach((pool, i) => {
    const p = parsePrefix(pool.spec.cidr, { strict: false });
    const clash = seenSegs.find((x) => prefixesOverlap(x.p, p));
    if (clash) report(poolPositions[i] ?? genOrigin.pos, `IP pool ${pool.metadata.name} (${pool.spec.cidr}) overlaps segment ${clash.name}'s subnet ${formatPrefix(clash.p)}`);
  });

  // Addresses: inside their segment's subnet, not its network/broadcast address, unique.
  const addresses = new Map<string, string>(); // address → "node x" / "router y"
  const checkAddress = (origin: Origin, path: (string | number)[], text: string | undefined, segment: string, family: 4 | 6, who: string): IPAddress | undefined => {
    if (text === undefined) return undefined;
    const field = path.join(".").replace(/\.(\d+)\./g, "[$1].");
    const p = parsePrefix(text, { strict: false });
    const a: IPAddress = { family: p.family, value: hostValue(text) };
    const sub = subnets.get(segment)?.[family === 4 ? "v4" : "v6"];
    if (p.family !== family) {
      report(origin.at(path), `${field}: expected an IPv${family} address, got ${text}`);
      return undefined;
    }
    if (!sub) {
      if (subnets.has(segment)) report(origin.at(path), `${field}: segment ${segment} has no IPv${family} subnet`);
      return undefined;
    }
    if (!prefixContainsAddress(sub, a)) report(origin.at(path), `${field}: ${text} is outside segment ${segment}'s subnet ${formatPrefix(sub)}`);
    else if (p.len !== sub.len) report(origin.at(path), `${field}: prefix length /${p.len} differs from segment ${segment}'s /${sub.len}`);
    else if (family === 4 && sub.len < 31 && (a.value === sub.addr || a.value === sub.addr + prefixSize(sub) - 1n)) {
      report(origin.at(path), `${field}: ${text} is the ${a.value === sub.addr ? "network" : "broadcast"} address of ${formatPrefix(sub)}`);
    }
    const k = addrKey(a);
    const prev = addresses.get(k);
    if (prev) report(origin.at(path), `${field}: address ${text.split("/")[0]} is already used by ${prev}`);
    else addresses.set(k, who);
    return a;
  };

  const segmentExists = (origin: Origin, path: (string | number)[], name: string): boolean => {
    if (subnets.has(name)) return true;
    const field = path.join(".").replace(/\.(\d+)\./g, "[$1].");
    const known = [...subnets.keys()];
    report(origin.at(path), `${field}: unknown segment "${name}"${known.length > 0 && known.length <= 10 ? ` (segments: ${known.join(", ")})` : ""}`);
    return false;
  };

  // Routers first, so node gateways can be matched against router addresses.
  const routerAddrs = new Map<string, { router: string; segment: string }>();
  for (const [idx, r] of t.routers.entries()) {
    const origin = o.routerAt[idx] ?? rtr(r.name);
    const onSegs = new Set<string>();
    const ifPrefixes: Prefix[] = [];
    r.interfaces.forEach((itf, i) => {
      if (!segmentExists(origin, ["interfaces", i, "segment"], itf.segment)) return;
      if (onSegs.has(itf.segment)) report(origin.at(["interfaces", i, "segment"]), `interfaces[${i}].segment: router ${r.name} already has an interface on ${itf.segment}`);
      onSegs.add(itf.segment);
      if (itf.address === undefined && itf.addressV6 === undefined) report(origin.at(["interfaces", i]), `interfaces[${i}]: needs address and/or addressV6`);
      for (const [field, fam] of [["address", 4], ["addressV6", 6]] as const) {
        const a = checkAddress(origin, ["interfaces", i, field], itf[field], itf.segment, fam, `router ${r.name}`);
        if (a) {
          routerAddrs.set(addrKey(a), { router: r.name, segment: itf.segment });
          ifPrefixes.push(parsePrefix(itf[field]!, { strict: false }));
        }
      }
    });
    r.staticRoutes.forEach((sr, i) => {
      const via = parseIP(sr.via);
      if (!ifPrefixes.some((p) => p.family === via.family && prefixContainsAddress(p, via))) {
        report(origin.at(["staticRoutes", i, "via"]), `staticRoutes[${i}].via: ${sr.via} is not on any of router ${r.name}'s interface subnets`);
      }
    });
  }

  for (const [idx, n] of t.nodes.entries()) {
    const origin = o.nodeAt[idx] ?? nod(n.name);
    if (!segmentExists(origin, ["segment"], n.segment)) continue;
    if (n.address === undefined && n.addressV6 === undefined) report(origin.at(["name"]), `node ${n.name}: needs address and/or addressV6`);
    checkAddress(origin, ["address"], n.address, n.segment, 4, `node ${n.name}`);
    checkAddress(origin, ["addressV6"], n.addressV6, n.segment, 6, `node ${n.name}`);
    if (n.gateway !== undefined) {
      const gw = parseIP(n.gateway);
      const r = routerAddrs.get(addrKey(gw));
      if (!r) report(origin.at(["gateway"]), `gateway: ${n.gateway} is not the address of a router`);
      else if (r.segment !== n.segment) report(origin.at(["gateway"]), `gateway: ${n.gateway} (router ${r.router}) is on segment ${r.segment}, not on ${n.segment}`);
    }
  }

  // Attachments, for links: "node|segment" / "router|segment".
  const attached = new Set<string>();
  for (const n of t.nodes) attached.add(`${n.name}|${n.segment}`);
  for (const r of t.routers) for (const i of r.interfaces) attached.add(`${r.name}|${i.segment}`);
  const linked = new Map<string, number>();
  t.links.forEach((l, i) => {
    const origin = o.links[i] ?? genOrigin;
    const [a, b] = l.endpoints;
    const kinds = [a, b].map((x) => owner.get(x));
    for (const [j, x] of [a, b].entries()) if (!owner.has(x)) report(origin.at(["endpoints", j]), `endpoints[${j}]: unknown segment, router or node "${x}"`);
    if (kinds[0] === undefined || kinds[1] === undefined) return;
    const segIdx = kinds.indexOf("segment");
    if (segIdx < 0 || kinds[1 - segIdx] === "segment") {
      report(origin.at(["endpoints"]), `endpoints: a link is one attachment: a node or router, and a segment (got ${kinds[0]} ${a} and ${kinds[1]} ${b})`);
      return;
    }
    const elem = segIdx === 0 ? b : a;
    const segment = segIdx === 0 ? a : b;
    if (!attached.has(`${elem}|${segment}`)) report(origin.at(["endpoints"]), `endpoints: ${kinds[1 - segIdx]} ${elem} has no interface on segment ${segment}`);
    else if (linked.has(`${elem}|${segment}`)) report(origin.at(["endpoints"]), `endpoints: ${elem}–${segment} already has a link (links[${linked.get(`${elem}|${segment}`)}])`);
    else linked.set(`${elem}|${segment}`, i);
  });

  // BGP: router peers and BGPPeer resources must name nodes and addresses that exist.
  const nodeNames = new Set(t.nodes.map((n) => n.name));
  const allAddrs = addresses;
  for (const [idx, r] of t.routers.entries()) {
    const origin = o.routerAt[idx] ?? rtr(r.name);
    r.bgp?.peers.forEach((p, i) => {
      const at = (f: string) => origin.at(["bgp", "peers", i, f]);
      if (p.node !== undefined && !nodeNames.has(p.node)) report(at("node"), `bgp.peers[${i}].node: unknown node "${p.node}"`);
      if (p.address !== undefined) {
        if (!allAddrs.has(addrKey(parseIP(p.address)))) report(at("address"), `bgp.peers[${i}].address: no node or router has address ${p.address}`);
        if (p.asNumber === undefined) report(at("address"), `bgp.peers[${i}]: asNumber is required with address`);
      }
      if (p.nodeSelector !== undefined) {
        const err = validateSelector(p.nodeSelector);
        if (err) report(at("nodeSelector"), `bgp.peers[${i}].nodeSelector: ${err}`);
        else {
          const sel = parseSelector(p.nodeSelector);
          if (!t.nodes.some((n) => sel.matches(n.labels))) report(at("nodeSelector"), `bgp.peers[${i}].nodeSelector: ${p.nodeSelector} matches no node`);
        }
      }
    });
  }
  for (const e of peerEntries) {
    const s = e.resource.spec;
    if (s.node !== undefined && !nodeNames.has(s.node)) report(e.at(["spec", "node"]), `spec.node: no node "${s.node}" in the topology`);
    if (s.peerIP !== undefined) {
      const ip = s.peerIP.replace(/^\[(.*)\]:\d+$/, "$1").replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1");
      if (!allAddrs.has(addrKey(parseIP(ip)))) report(e.at(["spec", "peerIP"]), `spec.peerIP: no node or router in the topology has address ${ip}`);
    }
  }
  return problems;
}

/** The address part of "a.b.c.d/len" (parsePrefix masks the host bits off). */
function hostValue(text: string): bigint {
  const slash = text.indexOf("/");
  return parseIP(slash < 0 ? text : text.slice(0, slash)).value;
}
