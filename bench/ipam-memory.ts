// IPAM allocator speed on the in-memory datastore: 1,000 nodes × 100 pods = 100,000 allocations from
// a /15 pool of /26 blocks (2,048 blocks; each node claims 2), the real allocator end to end (planIpam:
// affinity list, block read, handle create, block CAS write, claims). Target: < 2 s.
// Comparison: the same datastore operations with no IPAM logic at all (the floor set by the store).
// Informative: the same cluster in a /16 (1,024 blocks) runs out at node 513: borrowing, then failures.
// Run: npx tsx bench/ipam-memory.ts
import { MemoryDatastore } from "../src/core/datastore/memory.ts";
import { planIpam, type PlanInput } from "../src/core/ipam/index.ts";

const TARGET_S = 2;

interface Timing {
  wall: number;
  cpu: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<Timing & { value: T }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, value };
}

/** The datastore calls one steady-state allocation makes (config get, affinity list, block get, handle create, block CAS), nothing else. */
async function datastoreFloor(nodes: number, pods: number): Promise<number> {
  const ds = new MemoryDatastore({ historyLimit: 0 });
  await ds.create("/calico/ipam/v2/config", `{"strict_affinity":false,"auto_allocate_blocks":true,"maxBlocksPerHost":0}`);
  const value = "x".repeat(6000); // about the size of a /26 block's JSON
  let ops = 0;
  for (let n = 0; n < nodes; n++) {
    const blocks: { key: string; rev: number }[] = [];
    for (let b = 0; b < 2; b++) {
      const seg = `10.${n >> 8}.${n & 255}.${b * 64}-26`;
      await ds.create(`/calico/ipam/v2/host/node-${n}/ipv4/block/${seg}`, `{"state":"confirmed","deleted":false}`);
      const kv = await ds.create(`/calico/ipam/v2/assignment/ipv4/block/${seg}`, value);
      blocks.push({ key: kv.key, rev: kv.modRevision });
    }
    for (let p = 0; p < pods; p++) {
      await ds.get("/calico/ipam/v2/config");
      await ds.list(`/calico/ipam/v2/host/node-${n}/ipv4/block/`);
      const bk = blocks[p < 64 ? 0 : 1]!;
      await ds.get(bk.key);
      await ds.create(`/calico/ipam/v2/handle/k8s-pod-network.node-${n}.pod-${p}`, `{"block":{"10.0.0.0/26":1},"deleted":false}`);
      bk.rev = (await ds.update(bk.key, value + p, bk.rev)).modRevision;
      ops++;
    }
  }
  return ops;
}

await planIpam({ pool: "10.0.0.0/20", nodes: 30, podsPerNode: 100 }); // warm up the JIT
await datastoreFloor(30, 100);

const input: PlanInput = { pool: "10.0.0.0/15", nodes: 1000, podsPerNode: 100 };
const main = await timed(() => planIpam(input));
const floor = await timed(() => datastoreFloor(1000, 100));
const r = main.value;
console.log(`1,000 nodes × 100 pods, ${input.pool}, /26 blocks, in-memory datastore`);
console.log(`  allocations        ${r.allocated.toLocaleString("en")} (failed ${r.failed}, borrowed ${r.borrowed}, blocks ${r.blocksClaimed})`);
console.log(`  total              ${main.wall.toFixed(3)} s wall, ${main.cpu.toFixed(3)} s CPU (process, incl. GC threads)`);
console.log(`  rate               ${Math.round(r.allocated / main.wall).toLocaleString("en")} allocations/s`);
console.log(`  datastore alone    ${floor.wall.toFixed(3)} s wall, ${floor.cpu.toFixed(3)} s CPU for the same ${floor.value.toLocaleString("en")} allocations' store calls`);
console.log(`  IPAM / store time  ${(main.wall / floor.wall).toFixed(2)}×`);
console.log(`  target < ${TARGET_S} s      ${main.wall < TARGET_S ? "MET" : "NOT MET"}`);

const full = await timed(() => planIpam({ pool: "10.1.0.0/16", nodes: 1000, podsPerNode: 100 }));
const f = full.value;
console.log(
  `same cluster in 10.1.0.0/16: ${f.allocated.toLocaleString("en")} allocated, ${f.borrowed.toLocaleString("en")} borrowed, ` +
    `${f.failed.toLocaleString("en")} failed, exhausted at node ${f.exhaustedAtNode}; ${full.wall.toFixed(3)} s wall, ${full.cpu.toFixed(3)} s CPU`,
);
