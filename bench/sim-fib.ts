// The simulator's FIB (sim/net/fib.ts) at scale: memory per route and lookups per second for 1M
// routes in one table and spread over 5,000 tables with shared entries (the 10,000 nodes × 200
// routes target, halved to keep the run short), against a plain binary trie; SimNetwork's
// underlay paths, computed and cached, on a 1,000-node rack topology; and the full target (10,000
// nodes × 200 routes) installed through SimDataplane.
// Usage: npx tsx bench/sim-fib.ts [case numbers]
import v8 from "node:v8";
import vm from "node:vm";
import { EntryInterner, Fib, type FibEntry } from "../sim/net/fib.ts";
import { SimEngine } from "../sim/engine.ts";
import { SimNetwork } from "../sim/net/network.ts";
import { loadTopology } from "../src/topology/index.ts";
import type { IPAddress, Prefix } from "../src/core/net/ip.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
const heap = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers; // IPv4 tables are typed arrays, mostly outside the JS heap
};
const fmt = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

// Deterministic pseudo-random 32-bit numbers (xorshift), so runs compare.
let seed = 0x12345678;
const rand = (): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
};

const v4 = (value: number): IPAddress => ({ family: 4, value: BigInt(value >>> 0) });
const prefix4 = (value: number, len: number): Prefix => ({ family: 4, addr: BigInt((len === 0 ? 0 : (value & (0xffffffff << (32 - len))) >>> 0) >>> 0), len });

function timeIt(label: string, n: number, fn: (i: number) => void): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const ms = performance.now() - t0;
  const perS = (n / ms) * 1000;
  console.log(`  ${label}: ${fmt(n)} in ${fmt(ms)} ms = ${fmt(perS / 1e6)} M/s`);
  return perS;
}

// ---- 1. One table, 1M routes (/26 blocks and /32s), shared entries over 1,000 next hops.
function oneTable(): void {
  console.log("1. one FIB, 1,000,000 routes (90% /26, 10% /32), entries shared over 1,000 next hops");
  const interner = new EntryInterner();
  const entries: FibEntry[] = Array.from({ length: 1000 }, (_, i) => interner.intern({ kind: "unicast", nextHops: [v4(0xc0a80000 + i)], encap: "ipip", owner: "agent", source: "bgp" }));
  const addrs = new Uint32Array(1_000_000);
  for (let i = 0; i < addrs.length; i++) addrs[i] = rand();
  const before = heap();
  const fib = new Fib();
  const t0 = performance.now();
  for (let i = 0; i < addrs.length; i++) fib.set(prefix4(addrs[i]!, i % 10 === 0 ? 32 : 26), entries[i % 1000]!);
  fib.set(prefix4(0, 0), entries[0]!);
  const buildMs = performance.now() - t0;
  const bytes = heap() - before;
  console.log(`  build: ${fmt(buildMs)} ms; ${fmt(fib.size)} routes; heap ${fmt(bytes / 1e6)} MB = ${fmt(bytes / fib.size)} B/route`);
  let hits = 0;
  timeIt("lookupV4 (present addresses)", 2_000_000, (i) => {
    if (fib.lookupV4(addrs[i % addrs.length]!) !== undefined) hits++;
  });
  timeIt("lookupV4 (random addresses, mostly the default route)", 2_000_000, () => {
    if (fib.lookupV4(rand()) !== undefined) hits++;
  });
  const probes = Array.from({ length: 1000 }, (_, i) => v4(addrs[i]!));
  timeIt("lookup(IPAddress) (bigint in)", 1_000_000, (i) => {
    if (fib.lookup(probes[i % 1000]!) !== undefined) hits++;
  });
  if (hits === 0) throw new Error("no hits");
}

// ---- 2. 5,000 tables × 200 routes: every node routes the other nodes' blocks through the same tunnel entries.
function manyTables(): void {
  const nodes = 5000;
  const perNode = 200;
  console.log(`2. ${fmt(nodes)} FIBs × ${perNode} routes (${fmt(nodes * perNode)} routes), /26 blocks via shared ipip entries`);
  const interner = new EntryInterner();
  const before = heap();
  const fibs: Fib[] = [];
  const t0 = performance.now();
  for (let n = 0; n < nodes; n++) {
    const fib = new Fib();
    fib.set(prefix4(0, 0), interner.intern({ kind: "unicast", nextHops: [v4(0x0a000001)], encap: "none", owner: "static", source: "static" }));
    for (let r = 0; r < perNode; r++) {
      const owner = (n + r + 1) % nodes; // the node the block belongs to
      fib.set(prefix4(0x0a010000 + ((n * perNode + r) << 6), 26), interner.intern({ kind: "unicast", nextHops: [v4(0xc0a80000 + owner)], encap: "ipip", owner: "agent", source: "bgp" }));
    }
    fibs.push(fib);
  }
  const buildMs = performance.now() - t0;
  const bytes = heap() - before;
  console.log(`  build: ${fmt(buildMs)} ms; heap ${fmt(bytes / 1e6)} MB = ${fmt(bytes / (nodes * (perNode + 1)))} B/route; ${fmt(interner.size)} distinct entries`);
  console.log(`  extrapolated to 10,000 nodes × 200 routes: ${fmt((bytes / (nodes * (perNode + 1))) * 10_000 * 201 / 1e6)} MB`);
  let hits = 0;
  timeIt("lookupV4 across tables", 2_000_000, (i) => {
    const n = i % nodes;
    if (fibs[n]!.lookupV4(0x0a010000 + ((((n * perNode + (i % perNode)) << 6) + 5) | 0)) !== undefined) hits++;
  });
  if (hits === 0) throw new Error("no hits");
}

// ---- 3. Comparison at 200,000 routes: per-length hash maps versus a binary trie (one bit per level).
function versusTrie(): void {
  // One hidden class for every node, so V8's inline caches stay monomorphic.
  class TrieNode {
    z: TrieNode | undefined = undefined;
    o: TrieNode | undefined = undefined;
    v: FibEntry | undefined = undefined;
  }
  const trieInsert = (root: TrieNode, addr: number, len: number, v: FibEntry): void => {
    let t = root;
    for (let b = 0; b < len; b++) {
      const bit = (addr >>> (31 - b)) & 1;
      t = bit ? (t.o ??= new TrieNode()) : (t.z ??= new TrieNode());
    }
    t.v = v;
  };
  const trieLookup = (root: TrieNode, addr: number): FibEntry | undefined => {
    let t: TrieNode | undefined = root;
    let best: FibEntry | undefined;
    for (let b = 0; t !== undefined; b++) {
      if (t.v !== undefined) best = t.v;
      if (b === 32) break;
      t = (addr >>> (31 - b)) & 1 ? t.o : t.z;
    }
    return best;
  };
  const n = 200_000;
  console.log(`3. ${fmt(n)} routes (/26 and /32): per-length hash maps vs binary trie`);
  const e: FibEntry = { kind: "unicast", nextHops: [v4(1)], encap: "none", owner: "agent", source: "bgp" };
  const addrs = new Uint32Array(n);
  for (let i = 0; i < n; i++) addrs[i] = rand();
  let before = heap();
  const fib = new Fib();
  let t0 = performance.now();
  for (let i = 0; i < n; i++) fib.set(prefix4(addrs[i]!, i % 10 === 0 ? 32 : 26), e);
  const fibBuild = performance.now() - t0;
  const fibBytes = heap() - before;
  before = heap();
  const root = new TrieNode();
  t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const len = i % 10 === 0 ? 32 : 26;
    trieInsert(root, len === 32 ? addrs[i]! : addrs[i]! & (0xffffffff << 6), len, e);
  }
  const trieBuild = performance.now() - t0;
  const trieBytes = heap() - before;
  console.log(`  build: maps ${fmt(fibBuild)} ms, trie ${fmt(trieBuild)} ms`);
  console.log(`  memory: maps ${fmt(fibBytes / n)} B/route, trie ${fmt(trieBytes / n)} B/route (${fmt(trieBytes / fibBytes)}×)`);
  let hits = 0;
  const a = timeIt("maps lookup", 2_000_000, (i) => {
    if (fib.lookupV4(addrs[i % n]!) !== undefined) hits++;
  });
  const b = timeIt("trie lookup", 500_000, (i) => {
    if (trieLookup(root, addrs[i % n]!) !== undefined) hits++;
  });
  console.log(`  maps / trie lookup speed: ${fmt(a / b)}×`);
  if (hits === 0) throw new Error("no hits");
}

// ---- 4. SimNetwork underlay paths on a generated rack topology (ToR routers, static routes).
function underlay(): void {
  const text = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: bench }
generate: { nodes: 1000, racks: 20, rackSubnet: "10.0.{rack}.0/24", torRouters: true, latencyMs: 0.05 }
`;
  const topology = loadTopology(text, "bench.yaml", { readFile: () => "" }).topology;
  console.log(`4. SimNetwork.underlayPath on ${fmt(topology.nodes.length)} nodes in 20 racks (node → ToR → fabric → ToR → node)`);
  let t0 = performance.now();
  const net = new SimNetwork(topology, new SimEngine({ seed: 1 }));
  console.log(`  network built in ${fmt(performance.now() - t0)} ms`);
  const nodes = topology.nodes.map((nd) => ({ name: nd.name, addr: nd.address!.split("/")[0]! }));
  const pairs = Array.from({ length: 20_000 }, (_, i) => [nodes[i % nodes.length]!, nodes[(i * 7919 + 13) % nodes.length]!] as const);
  let ok = 0;
  t0 = performance.now();
  for (const [x, y] of pairs) if (net.underlayPath(x.name, x.addr, y.addr, 1500).ok) ok++;
  const cold = performance.now() - t0;
  t0 = performance.now();
  for (let r = 0; r < 10; r++) for (const [x, y] of pairs) if (net.underlayPath(x.name, x.addr, y.addr, 1500).ok) ok++;
  const warm = performance.now() - t0;
  console.log(`  first computation: ${fmt((pairs.length / cold) * 1000)} paths/s; cached: ${fmt(((pairs.length * 10) / warm) * 1000)} paths/s (${fmt((cold / pairs.length) / (warm / pairs.length / 10))}×)`);
  t0 = performance.now();
  const n = 2000;
  for (let i = 0; i < n; i++) {
    const [x, y] = pairs[i]!;
    net.trace({ fromHost: x.name, src: x.addr, dst: y.addr, protocol: "tcp", srcPort: 40000, dstPort: 179, size: 100, df: true });
  }
  console.log(`  explained traces: ${fmt((n / (performance.now() - t0)) * 1000)} traces/s`);
  if (ok !== pairs.length * 11) throw new Error(`only ${ok} of ${pairs.length * 11} paths ok`);
}

// ---- 5. The scale target through the real path: 10,000 nodes, 200 routes each via SimDataplane.applyRoutes.
function scaleTarget(): void {
  const text = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: bench }
generate: { nodes: 10000, racks: 100, rackSubnet: "10.0.0.0/9", torRouters: true, latencyMs: 0.05 }
`;
  const topology = loadTopology(text, "bench.yaml", { readFile: () => "" }).topology;
  console.log(`5. ${fmt(topology.nodes.length)} nodes × 200 routes through SimDataplane.applyRoutes (ipip /26 blocks via other nodes)`);
  let before = heap();
  let t0 = performance.now();
  const net = new SimNetwork(topology, new SimEngine({ seed: 1 }));
  const built = performance.now() - t0;
  const netBytes = heap() - before;
  console.log(`  network of ${fmt(topology.nodes.length + topology.routers.length)} hosts built in ${fmt(built)} ms, ${fmt(netBytes / 1e6)} MB (${fmt(netBytes / (topology.nodes.length + topology.routers.length))} B/host)`);
  const addrs = topology.nodes.map((n) => BigInt(Number(n.address!.split("/")[0]!.split(".").reduce((a, b) => a * 256 + Number(b), 0))));
  before = heap();
  t0 = performance.now();
  const n = topology.nodes.length;
  for (let i = 0; i < n; i++) {
    const add = [];
    for (let r = 0; r < 200; r++) {
      const owner = (i + 1 + r * 37) % n;
      add.push({ prefix: prefix4((0x64000000 + owner * 64) | 0, 26), kind: "unicast" as const, nextHops: [{ family: 4 as const, value: addrs[owner]! }], encap: "ipip" as const });
    }
    net.dataplane(topology.nodes[i]!.name).applyRoutes({ add, remove: [] });
  }
  const ms = performance.now() - t0;
  const bytes = heap() - before;
  console.log(`  2,000,000 routes installed in ${fmt(ms)} ms (${fmt((2e6 / ms) * 1000 / 1e6)} M routes/s), ${fmt(bytes / 1e6)} MB = ${fmt(bytes / 2e6)} B/route`);
  const probes = 200_000;
  t0 = performance.now();
  let ok = 0;
  for (let i = 0; i < probes; i++) {
    const x = topology.nodes[i % n]!;
    const y = topology.nodes[(i * 7919 + 1) % n]!;
    if (net.underlayPath(x.name, x.address!.split("/")[0]!, y.address!.split("/")[0]!, 100).ok) ok++;
  }
  console.log(`  underlayPath over 10,000 nodes: ${fmt((probes / (performance.now() - t0)) * 1000)} paths/s (mostly first computations)`);
  if (ok !== probes) throw new Error(`${probes - ok} paths failed`);
}

// Each case in its own function, so its tables are garbage before the next one measures.
// Arguments pick cases by number (e.g. `npx tsx bench/sim-fib.ts 2 5`); none runs all.
const cases = [oneTable, manyTables, versusTrie, underlay, scaleTarget];
const pick = process.argv.slice(2).map(Number);
cases.forEach((c, i) => {
  if (pick.length === 0 || pick.includes(i + 1)) c();
});
