// IPAM allocator speed on the in-memory datastore: 1,000 nodes × 100 pods = 100,000 allocations from
// a /15 pool of /26 blocks (2,048 blocks; each node claims 2), the real allocator end to end (planIpam:
// CAS writes, handle records, block claims). Target: < 2 s. A second, informative run packs the same
// cluster into a /16 (1,024 blocks), which runs out at node 513: borrowing, then failures.
// Run: npx tsx bench/ipam-memory.ts
import { planIpam, type PlanInput } from "../src/core/ipam/index.ts";

const TARGET_S = 2;

async function measure(input: PlanInput): Promise<{ wall: number; cpu: number; allocated: number; failed: number; borrowed: number; exhaustedAtNode: number | null }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await planIpam(input);
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, allocated: r.allocated, failed: r.failed, borrowed: r.borrowed, exhaustedAtNode: r.exhaustedAtNode };
}

await planIpam({ pool: "10.0.0.0/20", nodes: 30, podsPerNode: 100 }); // warm up the JIT

const main = await measure({ pool: "10.0.0.0/15", nodes: 1000, podsPerNode: 100 });
const rate = main.allocated / main.wall;
console.log(`1,000 nodes × 100 pods, 10.0.0.0/15, /26 blocks (in-memory datastore)`);
console.log(`  allocations      ${main.allocated.toLocaleString("en")}   (failed ${main.failed}, borrowed ${main.borrowed})`);
console.log(`  total            ${main.wall.toFixed(3)} s wall, ${main.cpu.toFixed(3)} s CPU`);
console.log(`  rate             ${Math.round(rate).toLocaleString("en")} allocations/s`);
console.log(`  target < ${TARGET_S} s    ${main.wall < TARGET_S ? "MET" : "NOT MET"}`);

const full = await measure({ pool: "10.1.0.0/16", nodes: 1000, podsPerNode: 100 });
console.log(`same cluster in 10.1.0.0/16 (runs out): ${full.allocated.toLocaleString("en")} allocated, ${full.borrowed.toLocaleString("en")} borrowed, ` +
  `${full.failed.toLocaleString("en")} failed, exhausted at node ${full.exhaustedAtNode}; ${full.wall.toFixed(3)} s wall, ${full.cpu.toFixed(3)} s CPU`);
