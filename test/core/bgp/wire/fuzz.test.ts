// Untrusted bytes must never crash the decoder: random and mutated messages (seeded, bounded) may
// only ever produce a message or a BgpWireError, and whatever decodes must encode again.
import { describe, expect, test } from "@jest/globals";
import { parsePrefix } from "../../../../src/core/net/ip.ts";
import { BgpWireError, decodeMessage, encodeMessage, type Message, MessageFramer, MessageType, toOldSpeaker } from "../../../../src/core/bgp/wire/index.ts";
import { hex } from "./bytes.ts";

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

const v6nh = { family: 6 as const, value: 0x20010db8000000000000000000000001n };
type Family = { afi: number; safi: number };
const seeds: { msg: Message; four: boolean; addPath?: Family[] }[] = [
  {
    msg: {
      type: MessageType.UPDATE,
      withdrawn: [{ ...parsePrefix("10.8.0.0/16"), pathId: 9 }],
      nlri: [{ ...parsePrefix("10.1.2.0/24"), pathId: 1 }],
      attrs: {
        origin: 0,
        asPath: [],
        nextHop: { family: 4, value: 0xc0000201n },
        mpUnreach: { afi: 2, safi: 1, withdrawn: [{ ...parsePrefix("2001:db8:9::/48"), pathId: 4 }] },
      },
    },
    four: true,
    addPath: [
      { afi: 1, safi: 1 },
      { afi: 2, safi: 1 },
    ],
  },
  { msg: { type: MessageType.KEEPALIVE }, four: true },
  { msg: { type: MessageType.NOTIFICATION, code: 6, subcode: 2, data: hex("0462796521") }, four: true },
  { msg: { type: MessageType.ROUTE_REFRESH, afi: 2, safi: 1, subtype: 1 }, four: true },
  {
    msg: {
      type: MessageType.OPEN,
      version: 4,
      myAs: 23456,
      holdTime: 90,
      bgpId: 0xc0000201,
      capabilities: [
        { kind: "multiprotocol", afi: 1, safi: 1 },
        { kind: "route-refresh" },
        { kind: "enhanced-route-refresh" },
        { kind: "graceful-restart", restarting: true, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }] },
        { kind: "four-octet-as", asn: 4200000001 },
        { kind: "unknown", code: 73, value: hex("02766d00") },
      ],
    },
    four: true,
  },
  {
    msg: {
      type: MessageType.UPDATE,
      withdrawn: [parsePrefix("10.9.0.0/16")],
      nlri: [parsePrefix("10.1.2.0/24"), parsePrefix("10.1.3.128/25")],
      attrs: {
        origin: 0,
        asPath: [{ type: 2, asns: [65000, 4200000001] }, { type: 1, asns: [1, 2] }],
        nextHop: { family: 4, value: 0xc0000201n },
        med: 5,
        localPref: 100,
        atomicAggregate: true,
        aggregator: { asn: 4200000001, address: 1 },
        communities: [0xffffff01, 0xfde80064],
        originatorId: 3,
        clusterList: [1, 2],
        extCommunities: [0x0002fde800000064n],
        largeCommunities: [{ global: 1, local1: 2, local2: 3 }],
        unknown: [{ flags: 0xe0, type: 35, value: hex("0102") }],
      },
    },
    four: true,
  },
  {
    msg: {
      type: MessageType.UPDATE,
      withdrawn: [],
      nlri: [],
      attrs: {
        origin: 2,
        asPath: [],
        mpReach: { afi: 2, safi: 1, nextHops: [v6nh, { family: 6, value: 0xfe80000000000000000000000000000an }], nlri: [parsePrefix("2001:db8:1::/48"), parsePrefix("::/0")] },
        mpUnreach: { afi: 2, safi: 1, withdrawn: [parsePrefix("2001:db8:2::/64")] },
      },
    },
    four: true,
  },
  {
    msg: {
      type: MessageType.UPDATE,
      withdrawn: [],
      nlri: [parsePrefix("10.4.4.0/24")],
      attrs: toOldSpeaker({ origin: 0, asPath: [{ type: 2, asns: [4200000001, 65010] }], nextHop: { family: 4, value: 0xc0000204n }, aggregator: { asn: 4200000001, address: 9 } }),
    },
    four: false,
  },
];
const corpus = seeds.map((s) => ({ bytes: encodeMessage(s.msg, { fourOctetAs: s.four, addPath: s.addPath }), four: s.four, addPath: s.addPath }));

function mutate(rand: () => number, src: Uint8Array): Uint8Array {
  const b = Uint8Array.from(src);
  const pick = (n: number): number => Math.floor(rand() * n);
  const ops = 1 + pick(4);
  let out = b;
  for (let i = 0; i < ops; i++) {
    const r = rand();
    if (r < 0.45) {
      // Flip an octet, mostly past the marker so the body parsers get exercised.
      const at = out.length > 19 && rand() < 0.9 ? 19 + pick(out.length - 19) : pick(out.length);
      out[at] = pick(256);
    } else if (r < 0.6) {
      out = out.slice(0, Math.max(19, pick(out.length + 1)));
    } else if (r < 0.75) {
      const extra = Uint8Array.from({ length: 1 + pick(40) }, () => pick(256));
      const at = 19 + pick(Math.max(1, out.length - 19));
      const next = new Uint8Array(out.length + extra.length);
      next.set(out.subarray(0, at));
      next.set(extra, at);
      next.set(out.subarray(at), at + extra.length);
      out = next;
    } else {
      // Small nudges to length octets are what find off-by-one bugs.
      const at = 19 + pick(Math.max(1, out.length - 19));
      if (at < out.length) out[at] = ((out[at] ?? 0) + (rand() < 0.5 ? 1 : 255)) & 255;
    }
  }
  // Usually keep the header length honest so the body decoders see the mutation.
  if (rand() < 0.85 && out.length <= 0xffff) {
    out[16] = out.length >> 8;
    out[17] = out.length & 255;
  }
  return out;
}

// jest's toEqual is too slow for a hot loop; a canonical JSON form compares the same things.
const canon = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v instanceof Uint8Array) return `0x${Buffer.from(v).toString("hex")}`;
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => [k, o[k]]));
    }
    return v;
  });

function same(a: unknown, b: unknown, bytes: Uint8Array): void {
  const x = canon(a);
  const y = canon(b);
  if (x !== y) throw new Error(`round trip differs for ${Buffer.from(bytes).toString("hex")}:\n${x}\n${y}`);
}

function check(bytes: Uint8Array, four: boolean, stats: { ok: number; err: number }, addPath: Family[] = []): void {
  let m: Message;
  try {
    m = decodeMessage(bytes, { fourOctetAs: four, addPath });
  } catch (e) {
    if (!(e instanceof BgpWireError)) throw new Error(`non-BgpWireError for ${Buffer.from(bytes).toString("hex")}: ${String(e)}`);
    stats.err++;
    return;
  }
  stats.ok++;
  // Whatever decoded must encode again and decode to the same values.
  const again = decodeMessage(encodeMessage(m, { fourOctetAs: four, addPath }), { fourOctetAs: four, addPath });
  if (m.type === MessageType.UPDATE && again.type === MessageType.UPDATE) {
    // Re-encoding sorts unknown attributes into type order and sets their Partial bit (RFC 4271 §5).
    const unknown = m.attrs.unknown?.map((u) => ({ ...u, flags: u.flags | 0x20 })).sort((a, b) => a.type - b.type);
    const attrs = unknown ? { ...m.attrs, unknown } : m.attrs;
    same([again.withdrawn, again.attrs, again.nlri], [m.withdrawn, attrs, m.nlri], bytes);
  } else {
    same(again, m, bytes);
  }
}

describe("decoder fuzzing", () => {
  test("20,000 mutated messages: only BgpWireError, and decodable ones re-encode", () => {
    const rand = mulberry32(0xb12dca9e);
    const stats = { ok: 0, err: 0 };
    for (let i = 0; i < 20_000; i++) {
      const seed = corpus[i % corpus.length] as (typeof corpus)[number];
      // Mostly the options the seed was encoded with, sometimes the wrong ones on purpose.
      const addPath = rand() < 0.8 ? seed.addPath : rand() < 0.5 ? [{ afi: 1, safi: 1 }] : undefined;
      check(mutate(rand, seed.bytes), rand() < 0.5 ? seed.four : !seed.four, stats, addPath);
    }
    // Both outcomes must be common, or the mutations are too weak or too destructive to mean much.
    expect(stats.ok).toBeGreaterThan(1000);
    expect(stats.err).toBeGreaterThan(1000);
  });

  test("10,000 random bodies behind a valid header", () => {
    const rand = mulberry32(42);
    const stats = { ok: 0, err: 0 };
    for (let i = 0; i < 10_000; i++) {
      const len = 19 + Math.floor(rand() * 200);
      const b = new Uint8Array(len);
      b.fill(0xff, 0, 16);
      b[16] = len >> 8;
      b[17] = len & 255;
      b[18] = 1 + Math.floor(rand() * 5);
      for (let j = 19; j < len; j++) b[j] = Math.floor(rand() * 256);
      check(b, rand() < 0.5, stats, rand() < 0.3 ? [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }] : []);
    }
    expect(stats.ok + stats.err).toBe(10_000);
  });

  test("framer on mutated streams in random chunks: whole messages or a BgpWireError", () => {
    const rand = mulberry32(7);
    for (let round = 0; round < 500; round++) {
      const parts = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => {
        const s = corpus[Math.floor(rand() * corpus.length)] as (typeof corpus)[number];
        return rand() < 0.3 ? mutate(rand, s.bytes) : s.bytes;
      });
      const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        stream.set(p, o);
        o += p.length;
      }
      const f = new MessageFramer();
      try {
        for (let at = 0; at < stream.length; ) {
          const n = 1 + Math.floor(rand() * 64);
          for (const m of f.push(stream.subarray(at, at + n))) expect(m.length).toBe(((m[16] ?? 0) << 8) | (m[17] ?? 0));
          at += n;
        }
      } catch (e) {
        if (!(e instanceof BgpWireError)) throw e;
        expect([1]).toContain(e.code);
      }
    }
  });
});
