// The simulated TCP (sim/transport.ts) under a full mesh of raw connections: every pair of H hosts
// opens one connection (H(H-1)/2 sessions, 499,500 for H = 1000), then both ends send a 19-octet
// KEEPALIVE every 30 s for a few rounds. Figures: setup time, heap per session, messages per second
// of wall time, engine events per message; compared with the LoopbackNetwork of src/core/bgp (fixed
// latency, no TCP model) on the same workload. Then one bulk transfer (10 MB in 4 KB writes).
// Times are CPU time of this process (the machine is shared). Run: npx tsx bench/sim-transport.ts [hosts=300] [rounds=3]   (node --expose-gc for steadier heap figures)
import { SimEngine } from "../sim/engine.ts";
import { SimTransportNetwork, type Underlay, type UnderlayPath } from "../sim/transport.ts";
import { LoopbackNetwork } from "../src/core/bgp/loopback.ts";
import type { Connection, Transport } from "../src/core/bgp/ports.ts";

const H = Number(process.argv[2] ?? 300);
const ROUNDS = Number(process.argv[3] ?? 3);
const KEEPALIVE = new Uint8Array([...new Array<number>(16).fill(0xff), 0, 19, 4]);

const addr = (i: number): string => `10.${(i >> 8) & 255}.${i & 255}.1`;

/** Every host one hop from every other: 1 ms, two attachments, paths cached (constant version). */
function meshUnderlay(h: number): Underlay {
  const owner = new Map<string, string>();
  for (let i = 0; i < h; i++) owner.set(addr(i), `h${i}`);
  return {
    hostOf: (a) => owner.get(a),
    version: () => 0,
    underlayPath: (from, _src, dst): UnderlayPath => ({ ok: true, latencyMs: 1, links: [{ element: from, segment: "fabric" }, { element: owner.get(dst) ?? "?", segment: "fabric" }] }),
  };
}

/** CPU time of this process in ms: under a shared, loaded machine wall time says little. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const heapMB = (): number => process.memoryUsage().heapUsed / 1e6;

interface Result {
  setupMs: number;
  heapPerSessionB: number;
  runMs: number;
  messages: number;
  events: number;
}

function meshRun(name: string, make: (engine: SimEngine) => { transport(i: number): Transport }): Result {
  gc();
  const heap0 = heapMB();
  const engine = new SimEngine({ seed: 1 });
  const net = make(engine);
  const ends: Connection[] = [];
  const t0 = cpuMs();
  const transports = Array.from({ length: H }, (_, i) => net.transport(i));
  let received = 0;
  const count = (): void => {
    received++;
  };
  transports.forEach((t, i) =>
    t.listen(addr(i), 179, (c) => {
      c.onData(count);
      ends.push(c);
    }),
  );
  for (let i = 0; i < H; i++) {
    for (let j = i + 1; j < H; j++) {
      const c = transports[i]?.connect({ remoteAddress: addr(j), remotePort: 179, localAddress: addr(i) }, () => {}) as Connection;
      c.onData(count);
      ends.push(c);
    }
  }
  engine.run();
  const setupMs = cpuMs() - t0;
  gc();
  const heap1 = heapMB();
  const sessions = (H * (H - 1)) / 2;
  const ev0 = engine.stats.processed;
  const t1 = cpuMs();
  for (let r = 0; r < ROUNDS; r++) {
    engine.schedule(30_000, "bench", () => {
      for (const c of ends) c.send(KEEPALIVE);
    });
    engine.run();
  }
  const runMs = cpuMs() - t1;
  gc();
  const heap2 = heapMB();
  const messages = received;
  const events = engine.stats.processed - ev0;
  console.log(
    `${name.padEnd(22)} setup ${(setupMs / 1000).toFixed(2).padStart(6)} s  heap ${((heap1 - heap0) / sessions * 1e6).toFixed(0).padStart(5)} B/session (${((heap2 - heap0) / sessions * 1e6).toFixed(0).padStart(5)} after traffic)  ` +
      `${messages.toLocaleString("en").padStart(10)} msgs in ${(runMs / 1000).toFixed(2).padStart(6)} s = ${Math.round(messages / (runMs / 1000)).toLocaleString("en").padStart(9)} msg/s  ` +
      `${(events / messages).toFixed(2)} events/msg`,
  );
  if (messages !== sessions * 2 * ROUNDS) throw new Error(`${name}: ${messages} messages arrived, expected ${sessions * 2 * ROUNDS}`);
  (globalThis as { keep?: unknown }).keep = [net, ends]; // alive until measured
  return { setupMs, heapPerSessionB: ((heap2 - heap0) / sessions) * 1e6, runMs, messages, events };
}

console.log(`full mesh of ${H} hosts: ${((H * (H - 1)) / 2).toLocaleString("en")} sessions, ${ROUNDS} KEEPALIVE rounds each way`);
const sim = meshRun("SimTransportNetwork", (engine) => {
  const net = new SimTransportNetwork(engine, meshUnderlay(H));
  return { transport: (i) => net.transport(`h${i}`) };
});
const loop = meshRun("LoopbackNetwork", (engine) => {
  const net = new LoopbackNetwork(engine.clock("net"), 1);
  return { transport: (i) => net.transport(addr(i)) };
});
console.log(
  `sim/loopback: setup ${(sim.setupMs / loop.setupMs).toFixed(2)}x, heap ${(sim.heapPerSessionB / loop.heapPerSessionB).toFixed(2)}x, ` +
    `msg/s ${(sim.messages / sim.runMs / (loop.messages / loop.runMs)).toFixed(2)}x`,
);

// Bulk: 10 MB in 4 KB writes over a 10 ms path (slow start, then a full window per RTT).
{
  const engine = new SimEngine({ seed: 1 });
  const net = new SimTransportNetwork(engine, meshUnderlay(2));
  let got = 0;
  net.transport("h1").listen(addr(1), 179, (c) => c.onData((b) => (got += b.length)));
  const chunk = new Uint8Array(4096);
  const total = 10_000_000;
  const t0 = cpuMs();
  net.transport("h0").connect({ remoteAddress: addr(1), remotePort: 179 , localAddress: addr(0)}, (c) => {
    for (let o = 0; o < total; o += chunk.length) c.send(chunk);
  });
  engine.run();
  const ms = cpuMs() - t0;
  const st = net.stats().tcp;
  console.log(
    `bulk 10 MB over 1 ms: ${got === Math.ceil(total / 4096) * 4096 ? "complete" : `INCOMPLETE ${got}`} in ${engine.now().toFixed(0)} ms virtual, ` +
      `${(ms / 1000).toFixed(2)} s CPU (${(total / 1e6 / (ms / 1000)).toFixed(0)} MB/s), ${st.segments.toLocaleString("en")} segments in ${st.flights.toLocaleString("en")} flights`,
  );
}
