// Plain, JSON-safe views of decoded BGP messages (no bigints or byte arrays): what `bgp decode`
// prints, and a stable shape for any command that shows messages.
import {
  type BgpWireError,
  type Capability,
  CapabilityCode,
  capabilityCode,
  describeError,
  endOfRibFamily,
  formatAsPath,
  formatRouterId,
  type Message,
  MessageType,
  type NlriPrefix,
  peerAsn,
  type PathAttributes,
  updateErrorAction,
} from "../core/bgp/wire/index.ts";
import { formatAddress, formatPrefix } from "../core/net/ip.ts";

export const messageTypeName = (t: number): string =>
  ({ 1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH" })[t] ?? `type ${t}`;

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const community = (c: number): string => `${c >>> 16}:${c & 0xffff}`;
const prefix = (p: NlriPrefix): string => (p.pathId === undefined ? formatPrefix(p) : `${formatPrefix(p)} path-id ${p.pathId}`);
const familyName = (afi: number, safi: number): string =>
  `${({ 1: "ipv4", 2: "ipv6" } as Record<number, string>)[afi] ?? `afi ${afi}`}-${({ 1: "unicast", 2: "multicast" } as Record<number, string>)[safi] ?? `safi ${safi}`}`;

const capabilityNames: Record<number, string> = Object.fromEntries(
  Object.entries(CapabilityCode).map(([k, v]) => [v, k.toLowerCase().replaceAll("_", "-")]),
);

export function capabilityView(c: Capability): Record<string, unknown> {
  const code = capabilityCode(c);
  const base = { code, name: capabilityNames[code] ?? "unknown" };
  switch (c.kind) {
    case "multiprotocol":
      return { ...base, family: familyName(c.afi, c.safi) };
    case "graceful-restart":
      return {
        ...base,
        restarting: c.restarting,
        notification: c.notification,
        restartTime: c.restartTime,
        families: c.families.map((f) => ({ family: familyName(f.afi, f.safi), forwarding: f.forwarding })),
      };
    case "four-octet-as":
      return { ...base, asNumber: c.asn };
    case "add-path":
      return { ...base, families: c.families.map((f) => ({ family: familyName(f.afi, f.safi), sendReceive: ["none", "receive", "send", "both"][f.sendReceive] ?? f.sendReceive })) };
    case "unknown":
      return { ...base, value: hex(c.value) };
    default:
      return base;
  }
}

export function attributesView(a: PathAttributes): Record<string, unknown> {
  const v: Record<string, unknown> = {};
  if (a.origin !== undefined) v.origin = ["IGP", "EGP", "INCOMPLETE"][a.origin] ?? a.origin;
  if (a.asPath) v.asPath = formatAsPath(a.asPath);
  if (a.nextHop) v.nextHop = formatAddress(a.nextHop);
  if (a.med !== undefined) v.med = a.med;
  if (a.localPref !== undefined) v.localPref = a.localPref;
  if (a.atomicAggregate) v.atomicAggregate = true;
  if (a.aggregator) v.aggregator = { asNumber: a.aggregator.asn, address: formatRouterId(a.aggregator.address) };
  if (a.communities) v.communities = a.communities.map(community);
  if (a.originatorId !== undefined) v.originatorId = formatRouterId(a.originatorId);
  if (a.clusterList) v.clusterList = a.clusterList.map(formatRouterId);
  if (a.mpReach) {
    v.mpReach = {
      family: familyName(a.mpReach.afi, a.mpReach.safi),
      nextHops: a.mpReach.nextHops.map(formatAddress),
      nlri: a.mpReach.nlri.map(prefix),
      ...(a.mpReach.raw ? { raw: hex(a.mpReach.raw) } : {}),
    };
  }
  if (a.mpUnreach) {
    v.mpUnreach = { family: familyName(a.mpUnreach.afi, a.mpUnreach.safi), withdrawn: a.mpUnreach.withdrawn.map(prefix), ...(a.mpUnreach.raw ? { raw: hex(a.mpUnreach.raw) } : {}) };
  }
  if (a.extCommunities) v.extCommunities = a.extCommunities.map((x) => `0x${x.toString(16).padStart(16, "0")}`);
  if (a.as4Path) v.as4Path = formatAsPath(a.as4Path);
  if (a.as4Aggregator) v.as4Aggregator = { asNumber: a.as4Aggregator.asn, address: formatRouterId(a.as4Aggregator.address) };
  if (a.largeCommunities) v.largeCommunities = a.largeCommunities.map((c) => `${c.global}:${c.local1}:${c.local2}`);
  if (a.unknown) v.unknown = a.unknown.map((u) => ({ type: u.type, flags: `0x${u.flags.toString(16)}`, value: hex(u.value) }));
  return v;
}

/** The fields of one message, by type. */
export function messageView(m: Message): Record<string, unknown> {
  switch (m.type) {
    case MessageType.OPEN:
      return {
        version: m.version,
        asNumber: peerAsn(m),
        myAs: m.myAs,
        holdTime: m.holdTime,
        bgpId: formatRouterId(m.bgpId),
        capabilities: m.capabilities.map(capabilityView),
      };
    case MessageType.UPDATE: {
      const eor = endOfRibFamily(m);
      if (eor) return { endOfRib: familyName(eor.afi, eor.safi) };
      const action = updateErrorAction(m);
      return {
        withdrawn: m.withdrawn.map(prefix),
        attributes: attributesView(m.attrs),
        nlri: m.nlri.map(prefix),
        ...(action === "accept"
          ? {}
          : {
              errorAction: action,
              issues: (m.issues ?? []).map((i) => ({ action: i.action, code: i.code, subcode: i.subcode, name: describeError(i.code, i.subcode), attrType: i.attrType, detail: i.detail })),
            }),
      };
    }
    case MessageType.NOTIFICATION:
      return { code: m.code, subcode: m.subcode, name: describeError(m.code, m.subcode), data: hex(m.data) };
    case MessageType.KEEPALIVE:
      return {};
    case MessageType.ROUTE_REFRESH:
      return { family: familyName(m.afi, m.safi), subtype: ["normal", "BoRR", "EoRR"][m.subtype] ?? m.subtype };
  }
}

/** The NOTIFICATION a malformed message deserves. */
export const notificationView = (e: BgpWireError): Record<string, unknown> => ({
  code: e.code,
  subcode: e.subcode,
  name: describeError(e.code, e.subcode),
  data: hex(e.data),
  detail: e.detail,
});

/** One line summarising a message's fields, for the table form. */
export function messageSummary(m: Message): string {
  const v = messageView(m);
  switch (m.type) {
    case MessageType.OPEN:
      return `AS ${v.asNumber} hold ${m.holdTime} id ${v.bgpId} caps ${m.capabilities.map((c) => capabilityNames[capabilityCode(c)] ?? capabilityCode(c)).join(",")}`;
    case MessageType.UPDATE: {
      if (v.endOfRib) return `End-of-RIB ${v.endOfRib as string}`;
      const a = v.attributes as Record<string, unknown>;
      const parts: string[] = [];
      const mp = a.mpReach as { nlri: string[]; nextHops: string[] } | undefined;
      const mpu = a.mpUnreach as { withdrawn: string[] } | undefined;
      const nlri = [...(v.nlri as string[]), ...(mp?.nlri ?? [])];
      const wd = [...(v.withdrawn as string[]), ...(mpu?.withdrawn ?? [])];
      if (nlri.length) parts.push(`announce ${nlri.join(" ")}`);
      if (a.nextHop || mp) parts.push(`nh ${[a.nextHop as string | undefined, ...(mp?.nextHops ?? [])].filter(Boolean).join(",")}`);
      if (a.asPath !== undefined) parts.push(`path [${a.asPath as string}]`);
      for (const k of ["origin", "med", "localPref", "communities", "largeCommunities", "originatorId", "clusterList", "as4Path"] as const) {
        if (a[k] !== undefined) parts.push(`${k} ${Array.isArray(a[k]) ? (a[k] as string[]).join(",") : String(a[k])}`);
      }
      if (wd.length) parts.push(`withdraw ${wd.join(" ")}`);
      if (v.errorAction) parts.push(`!! ${v.errorAction as string}: ${(v.issues as { name: string; detail: string }[]).map((i) => `${i.name} ${i.detail}`).join("; ")}`);
      return parts.join("  ");
    }
    case MessageType.NOTIFICATION:
      return `${v.name as string}${m.data.length ? ` data ${v.data as string}` : ""}`;
    case MessageType.KEEPALIVE:
      return "";
    case MessageType.ROUTE_REFRESH:
      return `${v.family as string} ${v.subtype as string}`;
  }
}
