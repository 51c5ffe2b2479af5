// How fast the speaker core takes N IPv4 /32s from one iBGP peer into its Loc-RIB, and the heap per
// route, on the in-memory loopback (no TCP, no kernel): the core's own share of the issue-3 benchmark.
// Usage: npx tsx bench/bgp-speaker-ingest.ts [N]   (node --expose-gc for a steadier memory figure)
import { LoopbackNetwork } from "../src/core/bgp/loopback.ts";
import { ManualClock } from "../src/core/bgp/manual-clock.ts";
import { Speaker } from "../src/core/bgp/speaker.ts";
import { parseIP } from "../src/core/net/ip.ts";
import { encodeMessage, MessageType, packUpdates } from "../src/core/bgp/wire/index.ts";

const N = Number(process.argv[2] ?? 200_000);
const clock = new ManualClock();
const net = new LoopbackNetwork(clock, 0);
let installed = 0;
const speaker = new Speaker(
  { asNumber: 64512, routerId: "10.0.0.1", listen: { address: "10.0.0.1" }, peers: [{ address: "10.0.0.2", asNumber: 64512, passive: true }] },
  { clock, transport: net.transport("10.0.0.1"), sink: { apply: (c) => (installed += c.add.length - c.remove.length) } },
);
speaker.start();
const conn = net.transport("10.0.0.2").connect({ remoteAddress: "10.0.0.1", remotePort: 179 }, () => {});
conn.onData(() => {});
conn.send(encodeMessage({ type: MessageType.OPEN, version: 4, myAs: 64512, holdTime: 0, bgpId: 2, capabilities: [{ kind: "four-octet-as", asn: 64512 }] }));
conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
clock.advance(1);

const prefixes = Array.from({ length: N }, (_, i) => ({ family: 4 as const, addr: BigInt(0x0b000000 + i), len: 32 }));
const updates = packUpdates({ attrs: { origin: 0, asPath: [], nextHop: parseIP("10.0.0.2"), localPref: 100 }, announce: prefixes });
// One chunk per ~64 KiB, as a TCP read would deliver.
const chunks: Uint8Array[] = [];
let cur: Uint8Array[] = [];
let size = 0;
for (const u of updates) {
  cur.push(u);
  size += u.length;
  if (size > 65536) {
    chunks.push(Buffer.concat(cur));
    cur = [];
    size = 0;
  }
}
if (cur.length) chunks.push(Buffer.concat(cur));
prefixes.length = 0;

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heap0 = process.memoryUsage().heapUsed;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (const c of chunks) conn.send(c);
clock.advance(1);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
chunks.length = 0;
updates.length = 0;
gc?.();
const heap1 = process.memoryUsage().heapUsed;
const received = speaker.peers()[0]?.prefixesReceived ?? 0;
console.log(`speaker ingest: ${received} /32s from one iBGP peer (${installed} in the RouteSink)`);
console.log(`  time ${ms.toFixed(0)} ms (CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, GC threads included) = ${((received / ms) * 1000).toFixed(0)} routes/s; 1M extrapolated ${((ms * 1e6) / received / 1000).toFixed(1)} s (BIRD ~2 s over TCP, GoBGP ~52 s, FRR ~5 s)`);
console.log(`  heap ${((heap1 - heap0) / received).toFixed(0)} bytes/route${gc ? "" : " (run with node --expose-gc for a steadier figure)"} (target < 300; BIRD ~93)`);
