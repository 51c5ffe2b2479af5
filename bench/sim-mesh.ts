// SimBackend cold start to convergence: full node-to-node mesh of N nodes on one segment (IPIP
// CrossSubnet, so every node claims a block for its tunnel address and originates it: N² routes in
// total), and N nodes in racks of 100 behind ToR routers with 4 global route reflectors: without
// encapsulation (no IPAM blocks, so sessions only: 10,000 nodes × 10,000 blocks would be 10^8 FIB
// entries) or with IPIP (every node's block everywhere). Prints wall time (start and run), virtual
// time, events/s, BGP messages/s, peak RSS, and the issue's targets. Each case runs in a fresh
// process so RSS is its own.
//
// Run: npx tsx bench/sim-mesh.ts [case...]
//   cases: mesh100 mesh300 mesh1000 rr1000 rr1000-ipip rr10000, or any meshN / rrN / rrN-ipip
//   (default: mesh100 rr1000 rr10000; figures and what does not fit yet: docs/simulator.md)
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { SimBackend } from "../sim/backend.ts";
import { loadTopology } from "../src/topology/index.ts";

interface Case {
  name: string;
  nodes: number;
  yaml: string;
  /** Issue targets: wall seconds, RSS GB. */
  target?: { wallS: number; rssGB?: number };
}

function meshCase(n: number): Case {
  return {
    name: `mesh${n}`,
    nodes: n,
    yaml: `apiVersion: birdcage/v1
kind: Topology
metadata: { name: mesh-${n} }
generate: { nodes: ${n}, rackSubnet: 10.10.0.0/16, latencyMs: 0.05 }
cluster:
  podCIDR: 10.200.0.0/14
  encapsulation: { type: ipip, mode: CrossSubnet }
`,
    ...(n === 1000 ? { target: { wallS: 60, rssGB: 8 } } : {}),
  };
}

function rrCase(n: number, encap: "ipip" | "none"): Case {
  const racks = Math.max(1, Math.ceil(n / 100));
  return {
    name: `rr${n}${encap === "none" ? "" : "-ipip"}`,
    nodes: n,
    yaml: `apiVersion: birdcage/v1
kind: Topology
metadata: { name: rr-${n} }
generate:
  nodes: ${n}
  racks: ${racks}
  rackSubnet: 10.0.0.0/8
  rackPrefixLength: 24
  torRouters: true
  routeReflectors: { global: 4 }
  latencyMs: 0.05
cluster:
  podCIDR: 10.200.0.0/14
  encapsulation: ${encap === "none" ? "{ type: none }" : "{ type: ipip, mode: CrossSubnet }"}
`,
    ...(n === 10000 ? { target: { wallS: 60 } } : {}),
  };
}

const CASES: Record<string, () => Case> = {
  mesh100: () => meshCase(100),
  mesh300: () => meshCase(300),
  mesh1000: () => meshCase(1000),
  rr1000: () => rrCase(1000, "none"),
  "rr1000-ipip": () => rrCase(1000, "ipip"),
  rr10000: () => rrCase(10000, "none"),
};

async function runCase(c: Case): Promise<void> {
  let peakRss = process.memoryUsage().rss;
  // GC pauses (ms), so the report can say how much of the time was the collector's.
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  const cpu0 = process.cpuUsage();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  const { topology } = loadTopology(c.yaml, `${c.name}.yaml`, { readFile: () => "" });
  const b = new SimBackend();
  const t0 = performance.now();
  await b.start(topology, { seed: 1 });
  const t1 = performance.now();
  const cpuStart = process.cpuUsage(cpu0);
  const conv = await b.waitConverged(600_000, 0);
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  gcObserver.disconnect();
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  clearInterval(sampler);
  const counters = await b.counters();
  const sample = await b.sample();
  const wall = (t2 - t0) / 1000;
  const events = counters.events ?? 0;
  const line = {
    case: c.name,
    nodes: c.nodes,
    converged: conv.converged,
    sessionEnds: sample.sessionsEstablished,
    routes: sample.routes,
    wallS: +wall.toFixed(2),
    startS: +((t1 - t0) / 1000).toFixed(2),
    runS: +((t2 - t1) / 1000).toFixed(2),
    // CPU time of this process (user + system): less sensitive to other load on the machine than wall.
    cpuS: +((cpu.user + cpu.system) / 1e6).toFixed(2),
    cpuStartS: +((cpuStart.user + cpuStart.system) / 1e6).toFixed(2),
    gcS: +(gcMs / 1000).toFixed(2),
    virtualMs: +conv.at.toFixed(3),
    events,
    eventsPerS: Math.round(events / wall),
    bgpMessages: counters.bgpMessages.total,
    bgpUpdates: counters.bgpMessages.update,
    bgpMessagesPerS: Math.round(counters.bgpMessages.total / wall),
    eventsPerCpuS: Math.round(events / ((cpu.user + cpu.system) / 1e6)),
    peakRssMB: Math.round(peakRss / 2 ** 20),
    load1: +(loadavg()[0] ?? 0).toFixed(1),
  };
  console.log(JSON.stringify(line));
  if (c.target) {
    const ok = wall < c.target.wallS && (c.target.rssGB === undefined || peakRss < c.target.rssGB * 2 ** 30);
    console.log(`  target: < ${c.target.wallS} s wall${c.target.rssGB ? `, < ${c.target.rssGB} GB` : ""}: ${ok ? "met" : "NOT met"} (${wall.toFixed(1)} s, ${(peakRss / 2 ** 30).toFixed(2)} GB)`);
  }
  await b.stop();
}

/** The named cases, or any size: meshN, rrN, rrN-ipip (e.g. mesh500, rr200-ipip for growth curves). */
function caseFor(name: string): (() => Case) | undefined {
  if (CASES[name]) return CASES[name];
  const m = /^(mesh|rr)(\d+)(-ipip)?$/.exec(name);
  if (!m || (m[1] === "mesh" && m[3])) return undefined;
  const n = Number(m[2]);
  return m[1] === "mesh" ? () => meshCase(n) : () => rrCase(n, m[3] ? "ipip" : "none");
}

const args = process.argv.slice(2);
if (args[0] === "--one") {
  const make = caseFor(args[1] ?? "");
  if (!make) throw new Error(`unknown case ${args[1]}`);
  await runCase(make());
} else {
  const names = args.length > 0 ? args : ["mesh100", "rr1000", "rr10000"];
  for (const n of names) if (!caseFor(n)) throw new Error(`unknown case ${n} (known: ${Object.keys(CASES).join(", ")}, or meshN / rrN / rrN-ipip)`);
  console.log(`SimBackend cold start to converged (node ${process.version}, one process per case)`);
  for (const n of names) {
    // A fresh process per case, so peak RSS and JIT state are the case's own.
    // V8 flags for a heap of several GB built by millions of small long-lived objects (flags given to
    // this process win; the figures are mesh1000's, docs/simulator.md):
    // - the old space may grow to 7.5 GB (V8's default limit here is ~4 GB; the issue's budget is 8 GB);
    // - a 128 MB young generation from the start (V8 starts at 1 MB and doubles it now and then, up to
    //   16 MB: with a multi-GB heap every scavenge costs tens of ms however little survives;
    //   197 -> 140 s wall with 64 MB back then, 68.6 -> 63.3 s from 64 to 128 MB now, 256 no better);
    // - no allocation-site pretenuring: V8 moves object literals that always survive (a session's
    //   state) to old-space allocation on the main thread; left young, the parallel scavenger promotes
    //   them on both cores (mesh1000 with 128 MB: 63.3 -> 52–66 s wall over 7 runs, start 9.2 -> 7.7–9.2 s).
    const flags: [name: string, flag: string][] = [
      ["--max-old-space-size", "--max-old-space-size=7680"],
      ["--max-semi-space-size", "--max-semi-space-size=128"],
      ["--min-semi-space-size", "--min-semi-space-size=128"],
      ["--allocation-site-pretenuring", "--no-allocation-site-pretenuring"],
    ];
    const given = (name: string) => process.execArgv.some((a) => a.startsWith(name) || a.startsWith(name.replace("--", "--no-")));
    const heap = flags.filter(([name]) => !given(name)).map(([, flag]) => flag);
    const out = execFileSync(process.execPath, [...heap, ...process.execArgv, fileURLToPath(import.meta.url), "--one", n], { encoding: "utf8", maxBuffer: 1 << 24 });
    process.stdout.write(out);
  }
}
