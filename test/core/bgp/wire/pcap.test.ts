// Decodes every BGP message in the real captures of ../shared/fixtures/pcap (BIRD, GoBGP, FRR and
// ExaBGP talking to each other) and checks what they must contain; cross-checks against tshark.
import { describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { formatIP, formatPrefix } from "../../../../src/core/net/ip.ts";
import {
  BgpWireError,
  capabilityCode,
  decodeMessage,
  encodeMessage,
  endOfRibFamily,
  formatAsPath,
  formatRouterId,
  fromOldSpeaker,
  type Message,
  MessageFramer,
  MessageType,
  type OpenMessage,
  type UpdateMessage,
} from "../../../../src/core/bgp/wire/index.ts";
import { repoRoot } from "../../../helpers/paths.ts";
import { frameAt, readTcpSegments, tcpStreams, type TcpStream } from "../../../helpers/pcap.ts";
import { toHex } from "./bytes.ts";

const pcapDir = resolve(repoRoot, "../shared/fixtures/pcap");
const haveCaptures = existsSync(resolve(pcapDir, "bird-gobgp-frr-exabgp.pcap"));
if (!haveCaptures && process.env.CI !== "true") console.warn(`skipping capture tests: ${pcapDir} not found`);
const describeCaptures = haveCaptures || process.env.CI === "true" ? describe : describe.skip;

interface Decoded {
  frame: number;
  stream: TcpStream;
  bytes: Uint8Array;
  msg: Message;
}

const connKey = (s: TcpStream): string => [`${s.src}|${s.srcPort}`, `${s.dst}|${s.dstPort}`].sort().join("<>");

/** Frames and decodes every message of every stream, with 4-octet AS as the two OPENs negotiated it. */
function decodeCapture(file: string): Decoded[] {
  const streams = tcpStreams(readTcpSegments(resolve(pcapDir, file)));
  const framed = streams.map((s) => ({ s, frames: new MessageFramer().push(s.data) }));
  // First pass: which connections negotiated 4-octet AS (both OPENs carry capability 65).
  const opens = new Map<string, boolean[]>();
  for (const { s, frames } of framed) {
    const first = frames[0];
    if (first?.[18] === MessageType.OPEN) {
      const open = decodeMessage(first) as OpenMessage;
      const list = opens.get(connKey(s)) ?? [];
      list.push(open.capabilities.some((c) => c.kind === "four-octet-as"));
      opens.set(connKey(s), list);
    }
  }
  const out: Decoded[] = [];
  for (const { s, frames } of framed) {
    const caps = opens.get(connKey(s)) ?? [];
    const fourOctetAs = caps.length === 2 ? caps.every(Boolean) : true;
    let offset = 0;
    for (const bytes of frames) {
      offset += bytes.length;
      out.push({ frame: frameAt(s, offset - 1), stream: s, bytes, msg: decodeMessage(bytes, { fourOctetAs }) });
    }
  }
  return out.sort((a, b) => a.frame - b.frame);
}

const updates = (all: Decoded[]): (Decoded & { msg: UpdateMessage })[] =>
  all.filter((d): d is Decoded & { msg: UpdateMessage } => d.msg.type === MessageType.UPDATE);

/** Is this UPDATE in the form our encoder produces (type-code order, Extended Length only when needed)? */
function canonicalAttributes(b: Uint8Array): boolean {
  const wl = (b[19] ?? 0) * 256 + (b[20] ?? 0);
  let o = 21 + wl;
  const end = o + 2 + (b[o] ?? 0) * 256 + (b[o + 1] ?? 0);
  o += 2;
  let last = -1;
  while (o < end) {
    const flags = b[o] ?? 0;
    const type = b[o + 1] ?? 0;
    const ext = (flags & 0x10) !== 0;
    const len = ext ? (b[o + 2] ?? 0) * 256 + (b[o + 3] ?? 0) : (b[o + 2] ?? 0);
    if (type <= last || ext !== len > 255) return false;
    last = type;
    o += (ext ? 4 : 3) + len;
  }
  return true;
}

describeCaptures("captures: bird-gobgp-frr-exabgp.pcap", () => {
  const all = haveCaptures ? decodeCapture("bird-gobgp-frr-exabgp.pcap") : [];

  test("every message decodes, and no UPDATE has an RFC 7606 issue", () => {
    expect(all.length).toBeGreaterThan(100);
    expect(updates(all).filter((d) => d.msg.issues)).toEqual([]);
    const types = new Set(all.map((d) => d.msg.type));
    expect([...types].sort()).toEqual([1, 2, 3, 4]);
  });

  test("each daemon's capability set", () => {
    const firstOpen = new Map<string, number[]>();
    for (const d of all) {
      if (d.msg.type !== MessageType.OPEN) continue;
      const id = formatRouterId(d.msg.bgpId);
      if (!firstOpen.has(id)) firstOpen.set(id, d.msg.capabilities.map(capabilityCode));
    }
    expect(Object.fromEntries(firstOpen)).toEqual({
      "192.0.2.1": [1, 2, 64, 65, 70, 71], // BIRD
      "192.0.2.2": [2, 73, 1, 65, 64, 5], // GoBGP
      "192.0.2.3": [1, 128, 2, 70, 65, 6, 69, 73, 64, 71], // FRR
      "192.0.2.4": [1, 65, 64, 2, 70, 6], // ExaBGP
    });
    const frr = all.find((d) => d.msg.type === MessageType.OPEN && formatRouterId(d.msg.bgpId) === "192.0.2.3")?.msg as OpenMessage;
    // FRR 8.4 offers to receive ADD-PATH path IDs for IPv4 unicast by default.
    expect(frr.capabilities.find((c) => c.kind === "add-path")).toEqual({ kind: "add-path", families: [{ afi: 1, safi: 1, sendReceive: 1 }] });
    expect(frr.capabilities.filter((c) => c.kind === "extended-message").length).toBe(1);
  });

  test("MP_REACH with 16-octet (BIRD, GoBGP) and 32-octet (FRR) IPv6 next hops", () => {
    const reach = updates(all).flatMap((d) => (d.msg.attrs.mpReach ? [{ src: d.stream.src, mp: d.msg.attrs.mpReach }] : []));
    const view = reach.map(({ src, mp }) => `${src} ${mp.nextHops.map((a) => formatIP(a.family, a.value)).join(",")} ${mp.nlri.map(formatPrefix).join(",")}`);
    expect(view).toContain("2001:db8:0:0:0:0:0:1 2001:db8::1 2001:db8:1::/122");
    expect(view).toContain("2001:db8:0:0:0:0:0:2 2001:db8::2 2001:db8:2::/122");
    expect(view).toContain("2001:db8:0:0:0:0:0:3 2001:db8::3,fe80::c07:12ff:fe2d:ad7a 2001:db8:3::/122");
    // BIRD reflecting FRR's route passes the link-local next hop on.
    expect(view).toContain("2001:db8:0:0:0:0:0:1 2001:db8::3,fe80::c07:12ff:fe2d:ad7a 2001:db8:3::/122");
  });

  test("BIRD as route reflector adds ORIGINATOR_ID and CLUSTER_LIST", () => {
    const reflected = updates(all)
      .filter((d) => d.stream.src === "192.0.2.1" && d.msg.attrs.originatorId !== undefined)
      .map((d) => `${d.stream.dst} ${d.msg.nlri.map(formatPrefix).join(",")} originator ${formatRouterId(d.msg.attrs.originatorId ?? 0)} cluster ${(d.msg.attrs.clusterList ?? []).map(formatRouterId).join(",")}`);
    expect(reflected).toContain("192.0.2.2 10.3.0.0/26 originator 192.0.2.3 cluster 192.0.2.1");
    expect(reflected).toContain("192.0.2.3 10.4.0.64/26 originator 192.0.2.4 cluster 192.0.2.1");
    expect(reflected).toContain("192.0.2.4 10.2.0.0/26 originator 192.0.2.2 cluster 192.0.2.1");
  });

  test("communities from GoBGP (65000:100) and ExaBGP (65000:4)", () => {
    const tagged = updates(all)
      .filter((d) => d.msg.attrs.communities)
      .map((d) => `${d.stream.src} ${d.msg.nlri.map(formatPrefix).join(",")} ${(d.msg.attrs.communities ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`).join(",")}`);
    expect(tagged).toContain("192.0.2.2 10.2.0.0/26 65000:100");
    expect(tagged).toContain("192.0.2.4 10.4.0.0/26 65000:4");
  });

  test("End-of-RIB markers for IPv4 (empty UPDATE) and IPv6 (empty MP_UNREACH)", () => {
    const eor = updates(all).flatMap((d) => {
      const f = endOfRibFamily(d.msg);
      return f ? [`${d.stream.src} ${f.afi}/${f.safi} ${d.bytes.length}`] : [];
    });
    for (const src of ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]) expect(eor).toContain(`${src} 1/1 23`);
    for (const src of ["2001:db8:0:0:0:0:0:1", "2001:db8:0:0:0:0:0:3"]) expect(eor).toContain(`${src} 2/1 29`);
  });

  test("NOTIFICATIONs: Cease subcodes", () => {
    const notes = all.flatMap((d) => (d.msg.type === MessageType.NOTIFICATION ? [`${d.stream.src} ${d.msg.code}/${d.msg.subcode}`] : []));
    expect(notes).toContain("192.0.2.1 6/6"); // BIRD on reconfiguration
    expect(notes).toContain("192.0.2.1 6/3"); // BIRD: peer removed
    expect(notes).toContain("192.0.2.3 6/4"); // FRR: clear bgp
  });

  test("encode(decode(bytes)) == bytes for canonical UPDATEs; the rest round-trip by value", () => {
    let canonical = 0;
    for (const d of updates(all)) {
      const fourOctetAs = true;
      const again = encodeMessage(d.msg, { fourOctetAs });
      if (canonicalAttributes(d.bytes)) {
        canonical++;
        expect(toHex(again)).toBe(toHex(d.bytes));
      } else {
        expect(decodeMessage(again, { fourOctetAs })).toEqual(d.msg);
      }
    }
    expect(canonical).toBeGreaterThanOrEqual(40);
  });

  test("encode(decode(bytes)) == bytes for every KEEPALIVE, NOTIFICATION and OPEN", () => {
    for (const d of all) {
      if (d.msg.type === MessageType.UPDATE) continue;
      const grouped = toHex(encodeMessage(d.msg));
      const split = toHex(encodeMessage(d.msg, { capabilityLayout: "one-per-parameter" }));
      expect([grouped, split]).toContain(toHex(d.bytes));
    }
  });
});

describeCaptures("captures: as4-old-speaker.pcap", () => {
  const all = haveCaptures ? decodeCapture("as4-old-speaker.pcap") : [];

  test("every message decodes; the OLD speaker's path merges to 4200000001 4200000002 65010", () => {
    const withAs4 = updates(all).filter((d) => d.msg.attrs.as4Path);
    expect(withAs4.length).toBe(1);
    const attrs = withAs4[0]?.msg.attrs ?? {};
    expect(formatAsPath(attrs.asPath ?? [])).toBe("23456 23456 65010");
    expect(formatAsPath(attrs.as4Path ?? [])).toBe("4200000001 4200000002 65010");
    expect(formatAsPath(fromOldSpeaker(attrs).asPath ?? [])).toBe("4200000001 4200000002 65010");
    expect(withAs4[0]?.msg.nlri.map(formatPrefix)).toEqual(["10.4.4.0/24"]);
  });

  test("the OLD speaker's OPEN says AS_TRANS with no capability 65; BIRD answers 2/2 Bad Peer AS", () => {
    const old = all.find((d) => d.msg.type === MessageType.OPEN && formatRouterId(d.msg.bgpId) === "192.0.2.4")?.msg as OpenMessage;
    expect(old.myAs).toBe(23456);
    expect(old.capabilities.some((c) => c.kind === "four-octet-as")).toBe(false);
    const bad = all.find((d) => d.msg.type === MessageType.NOTIFICATION && d.msg.code === 2)?.msg;
    expect(bad).toEqual({ type: MessageType.NOTIFICATION, code: 2, subcode: 2, data: Uint8Array.of(0x5b, 0xa0) });
  });
});

describeCaptures("captures: malformed.pcap", () => {
  // Each message is its own TCP segment; a broken stream cannot be framed past the first error, so
  // each segment is decoded on its own, as a fresh connection would see it.
  const segs = haveCaptures ? readTcpSegments(resolve(pcapDir, "malformed.pcap")).filter((s) => s.payload.length > 0) : [];
  const outcome = (payload: Uint8Array): string => {
    try {
      const frames = new MessageFramer().push(payload);
      if (frames.length !== 1) return `${frames.length} frames`;
      return `ok ${decodeMessage(frames[0] as Uint8Array).type}`;
    } catch (e) {
      if (!(e instanceof BgpWireError)) throw e;
      return `${e.code}/${e.subcode} ${toHex(e.data)}`.trim();
    }
  };

  test("the valid KEEPALIVE is accepted and each malformed message gets its error", () => {
    expect(segs.map((s) => outcome(s.payload))).toEqual([
      "ok 4", // (1) valid KEEPALIVE
      "1/1", // (2) zero marker: Connection Not Synchronized
      "1/2 0012", // (3) length 18: Bad Message Length, the length as data
      "3/10", // (4) NLRI prefix length 33: Invalid Network Field
      "2/0", // (5) capability overruns its parameter: OPEN Message Error
    ]);
  });
});

// tshark is a decoder we did not write: the same captures must read the same through it.
const tshark = ((): string | undefined => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return "tshark";
  } catch {
    return undefined;
  }
})();
if (!tshark && process.env.CI !== "true") console.warn("skipping tshark cross-check: tshark not installed (apt-get install tshark)");
const describeTshark = (tshark && haveCaptures) || process.env.CI === "true" ? describe : describe.skip;

describeTshark("captures: cross-check with tshark", () => {
  const fields = [
    "frame.number",
    "bgp.type",
    "bgp.open.identifier",
    "bgp.cap.type",
    "bgp.nlri_prefix",
    "bgp.mp_reach_nlri_ipv6_prefix",
    "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6",
    "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local",
    "bgp.update.path_attribute.community_as",
    "bgp.update.path_attribute.community_value",
    "bgp.update.path_attribute.originator_id",
    "bgp.path_attribute.cluster_id",
    "bgp.notify.major_error",
  ];

  test.each(["bird-gobgp-frr-exabgp.pcap", "as4-old-speaker.pcap"])("%s: per frame, the same messages and fields", (file) => {
    const out = execFileSync(
      "tshark",
      ["-r", resolve(pcapDir, file), "-Y", "bgp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", ...fields.flatMap((f) => ["-e", f])],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    const theirs = out.split("\n").filter((line) => line.length > 0).map((line) => line.split("\t").join(" ; "));
    const byFrame = new Map<number, Decoded[]>();
    for (const d of decodeCapture(file)) byFrame.set(d.frame, [...(byFrame.get(d.frame) ?? []), d]);
    const ours = [...byFrame.entries()].map(([frame, ds]) => {
      const msgs = ds.map((d) => d.msg);
      const opens = msgs.filter((m): m is OpenMessage => m.type === MessageType.OPEN);
      const ups = msgs.filter((m): m is UpdateMessage => m.type === MessageType.UPDATE);
      const j = (xs: (string | number)[]): string => xs.join("|");
      return [
        frame,
        j(msgs.map((m) => m.type)),
        j(opens.map((o) => formatRouterId(o.bgpId))),
        j(opens.flatMap((o) => o.capabilities.map(capabilityCode))),
        j(ups.flatMap((u) => u.nlri.map((p) => formatIP(4, p.addr)))),
        j(ups.flatMap((u) => (u.attrs.mpReach?.nlri ?? []).map((p) => formatIP(6, p.addr)))),
        j(ups.flatMap((u) => (u.attrs.mpReach?.nextHops ?? []).slice(0, 1).map((a) => formatIP(a.family, a.value)))),
        j(ups.flatMap((u) => (u.attrs.mpReach?.nextHops ?? []).slice(1).map((a) => formatIP(a.family, a.value)))),
        j(ups.flatMap((u) => (u.attrs.communities ?? []).map((c) => c >>> 16))),
        j(ups.flatMap((u) => (u.attrs.communities ?? []).map((c) => c & 0xffff))),
        j(ups.flatMap((u) => (u.attrs.originatorId === undefined ? [] : [formatRouterId(u.attrs.originatorId)]))),
        j(ups.flatMap((u) => (u.attrs.clusterList ?? []).map(formatRouterId))),
        j(msgs.flatMap((m) => (m.type === MessageType.NOTIFICATION ? [m.code] : []))),
      ].join(" ; ");
    });
    expect(ours).toEqual(theirs);
  });
});

describeTshark("captures: AS paths as tshark prints them", () => {
  test.each(["bird-gobgp-frr-exabgp.pcap", "as4-old-speaker.pcap"])("%s: every AS_PATH and AS4_PATH, in order", (file) => {
    const out = execFileSync("tshark", ["-r", resolve(pcapDir, file), "-Y", "bgp", "-O", "bgp"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const theirs = [...out.matchAll(/Path Attribute - (AS4?_PATH): (.*)$/gm)].map((m) => `${m[1]}: ${(m[2] ?? "").trim()}`);
    const ours = updates(decodeCapture(file)).flatMap((d) => {
      const lines: string[] = [];
      if (d.msg.attrs.asPath) lines.push(`AS_PATH: ${formatAsPath(d.msg.attrs.asPath) || "empty"}`);
      if (d.msg.attrs.as4Path) lines.push(`AS4_PATH: ${formatAsPath(d.msg.attrs.as4Path)}`);
      return lines;
    });
    expect(ours.length).toBeGreaterThan(0);
    expect(ours).toEqual(theirs);
  });
});
