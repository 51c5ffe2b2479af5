// Bad input, at volume: 100,000+ seeded mutations of real and synthetic messages per run. The decoder
// may only return a message or throw BgpWireError; every error must be a NOTIFICATION the decoder is
// documented to raise, consistent with the message type and sendable as is; every UPDATE that
// decodes with problems must resolve to treat-as-withdraw or attribute-discard. Targeted mutations
// with a known right answer check that it is the *right* NOTIFICATION.
import { describe, expect, test } from "@jest/globals";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parsePrefix } from "../../../../src/core/net/ip.ts";
import {
  allPrefixes,
  BgpWireError,
  decodeMessage,
  encodeMessage,
  type Message,
  MessageType,
  notificationFor,
  toOldSpeaker,
  updateErrorAction,
} from "../../../../src/core/bgp/wire/index.ts";
import { decodeBgpCapture } from "../../../../real/capture/bgp-messages.ts";
import { sharedDir } from "../../../helpers/paths.ts";

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the decoder is documented to raise (docs/bgp-wire.md), by NOTIFICATION code. */
const RAISED: Record<number, Set<number>> = {
  1: new Set([1, 2, 3]),
  2: new Set([0, 1, 3, 4, 6]),
  3: new Set([1, 2, 3, 4, 5, 6, 8, 9, 10, 11]),
  7: new Set([1]),
};
/** Message type a code-2/3/7 error must come from. */
const TYPE_OF_CODE: Record<number, number> = { 2: MessageType.OPEN, 3: MessageType.UPDATE, 7: MessageType.ROUTE_REFRESH };
const TAW_SUBCODES = new Set([1, 3, 4, 5, 6, 8, 11]);
const DISCARD_SUBCODES = new Set([1, 4, 5, 9, 11]);

type Opts = { fourOctetAs: boolean; addPath?: { afi: number; safi: number }[] };
interface Seed {
  bytes: Uint8Array;
  opts: Opts;
}

function syntheticSeeds(): Seed[] {
  const nh = { family: 4 as const, value: 0xc0000201n };
  const msgs: [Message, Opts][] = [
    [{ type: MessageType.KEEPALIVE }, { fourOctetAs: true }],
    [{ type: MessageType.NOTIFICATION, code: 6, subcode: 2, data: Uint8Array.of(4, 0x62, 0x79, 0x65, 0x21) }, { fourOctetAs: true }],
    [{ type: MessageType.ROUTE_REFRESH, afi: 1, safi: 1, subtype: 0 }, { fourOctetAs: true }],
    [
      {
        type: MessageType.OPEN,
        version: 4,
        myAs: 65000,
        holdTime: 90,
        bgpId: 0xc0000201,
        capabilities: [
          { kind: "multiprotocol", afi: 1, safi: 1 },
          { kind: "multiprotocol", afi: 2, safi: 1 },
          { kind: "route-refresh" },
          { kind: "graceful-restart", restarting: false, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }] },
          { kind: "four-octet-as", asn: 65000 },
          { kind: "add-path", families: [{ afi: 1, safi: 1, sendReceive: 3 }] },
        ],
      },
      { fourOctetAs: true },
    ],
    [
      {
        type: MessageType.UPDATE,
        withdrawn: [parsePrefix("10.9.0.0/16")],
        nlri: [parsePrefix("10.1.2.0/24"), parsePrefix("10.1.3.128/25"), parsePrefix("10.1.4.1/32")],
        attrs: {
          origin: 0,
          asPath: [{ type: 2, asns: [65000, 4200000001] }],
          nextHop: nh,
          med: 5,
          localPref: 100,
          atomicAggregate: true,
          aggregator: { asn: 65001, address: 1 },
          communities: [0xfde80064],
          originatorId: 3,
          clusterList: [1, 2],
          extCommunities: [0x0002fde800000064n],
          largeCommunities: [{ global: 1, local1: 2, local2: 3 }],
          unknown: [{ flags: 0xe0, type: 35, value: Uint8Array.of(1, 2) }],
        },
      },
      { fourOctetAs: true },
    ],
    [
      {
        type: MessageType.UPDATE,
        withdrawn: [],
        nlri: [],
        attrs: {
          origin: 0,
          asPath: [],
          localPref: 100,
          mpReach: { afi: 2, safi: 1, nextHops: [{ family: 6, value: 0x20010db8000000000000000000000001n }], nlri: [parsePrefix("2001:db8:1::/48")] },
          mpUnreach: { afi: 2, safi: 1, withdrawn: [parsePrefix("2001:db8:2::/64")] },
        },
      },
      { fourOctetAs: true },
    ],
    [
      {
        type: MessageType.UPDATE,
        withdrawn: [],
        nlri: [parsePrefix("10.4.4.0/24")],
        attrs: toOldSpeaker({ origin: 0, asPath: [{ type: 2, asns: [4200000001, 65010] }], nextHop: nh, aggregator: { asn: 4200000001, address: 9 } }),
      },
      { fourOctetAs: false },
    ],
    [
      { type: MessageType.UPDATE, withdrawn: [{ ...parsePrefix("10.8.0.0/16"), pathId: 9 }], nlri: [{ ...parsePrefix("10.1.2.0/24"), pathId: 1 }], attrs: { origin: 0, asPath: [], nextHop: nh } },
      { fourOctetAs: true, addPath: [{ afi: 1, safi: 1 }] },
    ],
  ];
  return msgs.map(([m, opts]) => ({ bytes: encodeMessage(m, opts), opts }));
}

/** Real messages from the shared captures (BIRD, GoBGP, FRR, ExaBGP), when they are there. */
function captureSeeds(): Seed[] {
  const dir = resolve(sharedDir, "fixtures/pcap");
  const out: Seed[] = [];
  for (const f of ["bird-gobgp-frr-exabgp.pcap", "as4-old-speaker.pcap"]) {
    const p = resolve(dir, f);
    if (!existsSync(p)) continue;
    const seen = new Set<string>();
    for (const m of decodeBgpCapture(p).messages) {
      if (!m.message || m.message.type === MessageType.KEEPALIVE) continue;
      const key = Buffer.from(m.bytes).toString("hex");
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ bytes: m.bytes.slice(), opts: { fourOctetAs: f !== "as4-old-speaker.pcap" || m.message.type !== MessageType.UPDATE } });
    }
  }
  return out;
}

interface Stats {
  decoded: number;
  errors: number;
  withIssues: number;
  byCode: Map<string, number>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Decodes one input and checks the outcome; returns "ok", "issues" or the NOTIFICATION "c/s". */
function judge(b: Uint8Array, opts: Opts, stats: Stats): string {
  let m: Message;
  try {
    m = decodeMessage(b, opts);
  } catch (e) {
    if (!(e instanceof BgpWireError)) throw new Error(`non-BgpWireError ${String(e)} for ${hex(b)}`);
    const ok = RAISED[e.code]?.has(e.subcode) ?? false;
    if (!ok) throw new Error(`undocumented NOTIFICATION ${e.code}/${e.subcode} for ${hex(b)}`);
    const wantType = TYPE_OF_CODE[e.code];
    if (wantType !== undefined && b[18] !== wantType) throw new Error(`${e.code}/${e.subcode} from a type ${b[18]} message: ${hex(b)}`);
    if (e.code === 1 && e.subcode === 2 && e.data.length !== 2) throw new Error(`1/2 without the 2-octet length: ${hex(b)}`);
    if (e.code === 1 && e.subcode === 3 && (e.data.length !== 1 || e.data[0] !== b[18])) throw new Error(`1/3 without the type: ${hex(b)}`);
    // The NOTIFICATION must be sendable: it encodes, and a peer would read back the same code.
    const n = notificationFor(e);
    if (e.data.length < 4000) {
      const back = decodeMessage(encodeMessage(n));
      if (back.type !== MessageType.NOTIFICATION || back.code !== e.code || back.subcode !== e.subcode) throw new Error(`NOTIFICATION does not round-trip for ${hex(b)}`);
    }
    stats.errors++;
    const k = `${e.code}/${e.subcode}`;
    stats.byCode.set(k, (stats.byCode.get(k) ?? 0) + 1);
    return k;
  }
  stats.decoded++;
  if (m.type === MessageType.UPDATE && m.issues?.length) {
    stats.withIssues++;
    const action = updateErrorAction(m);
    if (action === "accept") throw new Error(`issues but accepted: ${hex(b)}`);
    for (const i of m.issues) {
      if (i.code !== 3) throw new Error(`issue with code ${i.code}: ${hex(b)}`);
      const allowed = i.action === "treat-as-withdraw" ? TAW_SUBCODES : DISCARD_SUBCODES;
      if (!allowed.has(i.subcode)) throw new Error(`${i.action} with subcode ${i.subcode}: ${hex(b)}`);
    }
    if (action === "treat-as-withdraw") allPrefixes(m); // must be computable
    return "issues";
  }
  return "ok";
}

/** In-place mutations on a scratch buffer: no allocation per message. Returns the new length. */
function mutate(rand: () => number, buf: Uint8Array, len: number): number {
  const pick = (n: number): number => (rand() * n) | 0;
  const ops = 1 + pick(3);
  for (let k = 0; k < ops; k++) {
    const r = rand();
    if (r < 0.03) {
      buf[pick(19)] = pick(256); // the header: marker, length, type
    } else if (r < 0.5) {
      buf[19 + pick(Math.max(1, len - 19))] = pick(256);
    } else if (r < 0.65) {
      const at = 19 + pick(Math.max(1, len - 19));
      buf[at] = ((buf[at] ?? 0) + (rand() < 0.5 ? 1 : 255)) & 255;
    } else if (r < 0.8) {
      len = Math.max(19, pick(len + 1));
    } else if (r < 0.9) {
      // Insert random octets (shift the tail right).
      const n = 1 + pick(16);
      if (len + n > buf.length) continue;
      const at = 19 + pick(Math.max(1, len - 19));
      buf.copyWithin(at + n, at, len);
      for (let i = 0; i < n; i++) buf[at + i] = pick(256);
      len += n;
    } else {
      // Delete octets (shift the tail left).
      const at = 19 + pick(Math.max(1, len - 19));
      const n = Math.min(1 + pick(8), len - at);
      buf.copyWithin(at, at + n, len);
      len -= n;
    }
  }
  if (rand() < 0.9) {
    buf[16] = len >> 8;
    buf[17] = len & 255;
  }
  return len;
}

/** Targeted breakages with one right answer each: [name, applies to type, break it, expected]. */
type Target = [string, number | undefined, (b: Uint8Array, len: number, r: () => number) => number, string];
const TARGETS: Target[] = [
  ["marker", undefined, (b, len, r) => ((b[(r() * 16) | 0] = (r() * 255) | 0), len), "1/1"],
  ["length < 19", undefined, (b, len, r) => ((b[16] = 0), (b[17] = (r() * 19) | 0), len), "1/2"],
  ["length > 4096", undefined, (b, len, r) => ((b[16] = 16 + ((r() * 239) | 0)), (b[17] = (r() * 256) | 0), len), "1/2"],
  ["length ≠ octets", undefined, (b, len) => ((b[16] = (len + 1) >> 8), (b[17] = (len + 1) & 255), len), "1/2"],
  ["type", undefined, (b, len, r) => ((b[18] = r() < 0.5 ? 0 : 6 + ((r() * 250) | 0)), len), "1/3"],
  ["KEEPALIVE body", MessageType.KEEPALIVE, (b, len) => ((b[len] = 0), (b[16] = 0), (b[17] = len + 1), len + 1), "1/2"],
  ["OPEN version", MessageType.OPEN, (b, len, r) => ((b[19] = r() < 0.5 ? 3 : 5 + ((r() * 250) | 0)), len), "2/1"],
  ["OPEN hold 1-2", MessageType.OPEN, (b, len, r) => ((b[22] = 0), (b[23] = 1 + ((r() * 2) | 0)), len), "2/6"],
  ["OPEN BGP ID 0", MessageType.OPEN, (b, len) => (b.fill(0, 24, 28), len), "2/3"],
  ["ROUTE-REFRESH length", MessageType.ROUTE_REFRESH, (b, len) => ((b[16] = 0), (b[17] = len - 1), len - 1), "1/2"],
];

describe("decoder fuzzing: errors map to NOTIFICATIONs or RFC 7606 actions", () => {
  const seeds = [...syntheticSeeds(), ...captureSeeds()];
  const N = 100_000;

  test(`${N.toLocaleString("en")} mutated messages: only documented NOTIFICATIONs, consistent and sendable; UPDATE issues resolve`, () => {
    const rand = mulberry32(0x5eed_b9a1);
    const stats: Stats = { decoded: 0, errors: 0, withIssues: 0, byCode: new Map() };
    const buf = new Uint8Array(4096 + 64);
    for (let i = 0; i < N; i++) {
      const seed = seeds[i % seeds.length] as Seed;
      buf.set(seed.bytes);
      const len = mutate(rand, buf, seed.bytes.length);
      const opts = rand() < 0.9 ? seed.opts : { fourOctetAs: !seed.opts.fourOctetAs };
      judge(buf.subarray(0, len), opts, stats);
    }
    expect(stats.decoded + stats.errors).toBe(N);
    // The mutations must reach every layer: decodable messages, RFC 7606 issues, and many error kinds.
    expect(stats.decoded).toBeGreaterThan(N / 20);
    expect(stats.errors).toBeGreaterThan(N / 4);
    expect(stats.withIssues).toBeGreaterThan(N / 100);
    expect([...stats.byCode.keys()].sort()).toEqual(expect.arrayContaining(["1/1", "1/2", "1/3", "2/0", "2/1", "2/4", "3/1", "3/2", "3/4", "3/9", "3/10", "7/1"]));
  });

  test("10,000 targeted breakages get exactly the NOTIFICATION RFC 4271 §6 prescribes", () => {
    const rand = mulberry32(0x7a29e7);
    const stats: Stats = { decoded: 0, errors: 0, withIssues: 0, byCode: new Map() };
    const buf = new Uint8Array(4096 + 64);
    const wrong: string[] = [];
    let applied = 0;
    for (let i = 0; i < 10_000; i++) {
      const seed = seeds[(rand() * seeds.length) | 0] as Seed;
      const [name, type, breakIt, expected] = TARGETS[(rand() * TARGETS.length) | 0] as Target;
      if (type !== undefined && seed.bytes[18] !== type) continue;
      buf.set(seed.bytes);
      const len = breakIt(buf, seed.bytes.length, rand);
      const got = judge(buf.subarray(0, len), seed.opts, stats);
      applied++;
      if (got !== expected && wrong.length < 10) wrong.push(`${name}: expected ${expected}, got ${got} for ${hex(buf.subarray(0, len))}`);
    }
    expect(wrong).toEqual([]);
    expect(applied).toBeGreaterThan(3000);
  });
});
