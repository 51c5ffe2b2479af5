// BGP wire codec throughput: 100k unique /32s packed into maximum-size (4096-octet) UPDATEs, as the
// research blaster did (810 per message), encoded, framed from a TCP-like byte stream, and decoded;
// plus IPv6 /64s in MP_REACH. Run: npx tsx bench/bgp-codec.ts
import type { Prefix } from "../src/core/net/ip.ts";
import { decodeMessage, MessageFramer, MessageType, packUpdates, type PathAttributes } from "../src/core/bgp/wire/index.ts";

const N = 100_000;
const ROUNDS = 5;

function best(label: string, fn: () => number): { ms: number; count: number } {
  fn(); // warm up
  let ms = Infinity;
  let count = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    count = fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, count };
}

function report(label: string, ms: number, messages: number, prefixes: number): void {
  const s = ms / 1000;
  console.log(
    `${label.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms  ${Math.round(messages / s).toLocaleString("en").padStart(10)} msg/s  ${Math.round(prefixes / s).toLocaleString("en").padStart(12)} prefixes/s`,
  );
}

function run(name: string, prefixes: Prefix[], attrs: PathAttributes): number {
  const enc = best("encode", () => packUpdates({ attrs, announce: prefixes }).length);
  const msgs = packUpdates({ attrs, announce: prefixes });
  const bytes = msgs.reduce((n, m) => n + m.length, 0);
  console.log(`\n${name}: ${prefixes.length.toLocaleString("en")} prefixes in ${msgs.length} UPDATEs, ${(bytes / 1e6).toFixed(2)} MB (${(prefixes.length / msgs.length).toFixed(0)} per UPDATE)`);
  report("encode (packUpdates)", enc.ms, msgs.length, prefixes.length);

  const dec = best("decode", () => {
    let n = 0;
    for (const m of msgs) {
      const u = decodeMessage(m);
      if (u.type === MessageType.UPDATE) n += u.nlri.length + (u.attrs.mpReach?.nlri.length ?? 0);
    }
    return n;
  });
  if (dec.count !== prefixes.length) throw new Error(`decoded ${dec.count} prefixes, expected ${prefixes.length}`);
  report("decode", dec.ms, msgs.length, prefixes.length);

  // The stream as TCP would deliver it: 64 KiB reads, messages straddling the boundaries.
  const stream = new Uint8Array(bytes);
  let o = 0;
  for (const m of msgs) {
    stream.set(m, o);
    o += m.length;
  }
  const framed = best("frame+decode", () => {
    const f = new MessageFramer();
    let n = 0;
    for (let at = 0; at < stream.length; at += 65536) {
      for (const m of f.push(stream.subarray(at, at + 65536))) {
        const u = decodeMessage(m);
        if (u.type === MessageType.UPDATE) n += u.nlri.length + (u.attrs.mpReach?.nlri.length ?? 0);
      }
    }
    return n;
  });
  report("frame + decode (64 KiB chunks)", framed.ms, msgs.length, prefixes.length);
  return framed.ms;
}

const v4 = Array.from({ length: N }, (_, i): Prefix => ({ family: 4, addr: 0x0a000000n + BigInt(i), len: 32 }));
const v4attrs: PathAttributes = { origin: 0, asPath: [], nextHop: { family: 4, value: 0xc0000201n }, localPref: 100 };
const v4ms = run("IPv4 /32, iBGP attributes (ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF)", v4, v4attrs);

const v6 = Array.from({ length: N }, (_, i): Prefix => ({ family: 6, addr: (0x20010db8n << 96n) + (BigInt(i) << 64n), len: 64 }));
const v6attrs: PathAttributes = {
  origin: 0,
  asPath: [],
  localPref: 100,
  mpReach: { afi: 2, safi: 1, nextHops: [{ family: 6, value: (0x20010db8n << 96n) + 1n }], nlri: [] },
};
run("IPv6 /64 in MP_REACH_NLRI", v6, v6attrs);

// Comparison with the research measurements (docs: shared/reference/bgp-interop.md §3.2): BIRD 2
// took 1.99 s after Established to take in 1M /32s, FRR 5.14 s, GoBGP ~52 s; the codec's share
// of that for 1M, projected linearly from the 100k run above:
const projected = (v4ms * 10) / 1000;
console.log(`\nprojected frame+decode of 1M /32s: ${projected.toFixed(2)} s`);
for (const [who, s] of [
  ["BIRD 2.0.12", 1.99],
  ["FRR 8.4.4", 5.14],
  ["GoBGP 3.10", 52.35],
] as const) {
  console.log(`  ${who.padEnd(12)} whole ingest ${s.toFixed(2)} s -> wire decoding alone is ${((projected / s) * 100).toFixed(0)}% of it`);
}
