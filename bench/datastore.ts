// Datastore operation cost: the in-memory store vs etcd (etcd3 client over gRPC to a local etcd it
// starts itself), for create, get, CAS update (get + update) and list, sequentially and with 8 callers
// at once. Reports operations per second and CPU milliseconds per operation in this process.
//
// Run: npx tsx bench/datastore.ts [--ops 2000] [--disk]
import { parseArgs } from "node:util";
import { formatTable } from "../src/cli/output.ts";
import { MemoryDatastore } from "../src/core/datastore/memory.ts";
import type { Datastore } from "../src/core/datastore/port.ts";
import { EtcdDatastore } from "../real/datastore/etcd.ts";
import { etcdBinary, ramDir, startEtcd } from "../real/etcd-server.ts";

const { values: args } = parseArgs({ options: { ops: { type: "string", default: "2000" }, disk: { type: "boolean", default: false } } });
const ops = Number(args.ops);
if (!Number.isInteger(ops) || ops < 8) {
  console.error("--ops must be an integer >= 8");
  process.exit(2);
}

interface Figure {
  opsPerSec: number;
  cpuMsPerOp: number;
}

async function measure(n: number, callers: number, op: (i: number, caller: number) => Promise<unknown>): Promise<Figure> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      for (let i = next++; i < n; i = next++) await op(i, caller);
    }),
  );
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { opsPerSec: n / (wall / 1000), cpuMsPerOp: (c.user + c.system) / 1000 / n };
}

async function suite(store: Datastore, n: number, callers: number, tag: string): Promise<[string, Figure][]> {
  const value = JSON.stringify({ cidr: "10.1.0.0/26", allocations: Array.from({ length: 64 }, (_, i) => (i % 3 ? null : i)) });
  const out: [string, Figure][] = [];
  out.push(["create", await measure(n, callers, (i) => store.create(`/${tag}/k/${String(i).padStart(6, "0")}`, value))]);
  out.push(["get", await measure(n, callers, (i) => store.get(`/${tag}/k/${String(i).padStart(6, "0")}`))]);
  // Each caller works on its own key, so these updates measure cost, not conflicts.
  for (let c = 0; c < callers; c++) await store.create(`/${tag}/counter/${c}`, "0");
  out.push([
    "CAS update (get+update)",
    await measure(n, callers, async (_, caller) => {
      const key = `/${tag}/counter/${caller}`;
      const kv = (await store.get(key))!;
      return store.update(key, String(Number(kv.value) + 1), kv.modRevision);
    }),
  ]);
  out.push(["list 64 keys", await measure(Math.max(8, Math.floor(n / 10)), callers, () => store.list(`/${tag}/k/0000`))]);
  return out;
}

const rows: (string | number)[][] = [];
const record = (backend: string, callers: number, figs: [string, Figure][]) => {
  for (const [op, f] of figs) rows.push([op, backend, callers, Math.round(f.opsPerSec), f.cpuMsPerOp.toFixed(3)]);
};

for (const callers of [1, 8]) record("memory", callers, await suite(new MemoryDatastore({ historyLimit: 1000 }), ops * 10, callers, `m${callers}`));

if (etcdBinary()) {
  const server = await startEtcd(args.disk ? {} : { tempParent: ramDir() });
  try {
    for (const callers of [1, 8]) {
      const store = new EtcdDatastore({ endpoints: server.endpoint, namespace: `bench-${process.pid}` });
      record("etcd", callers, await suite(store, ops, callers, `e${callers}`));
      await store.close();
    }
  } finally {
    await server.stop();
  }
} else {
  console.log("etcd not installed: memory figures only");
}

console.log(`memory: ${ops * 10} ops per row; etcd: ${ops} ops per row, data dir on ${args.disk ? "disk" : "tmpfs"}; one client connection`);
console.log(formatTable(["operation", "backend", "callers", "ops/s", "CPU ms/op"], rows));
for (const op of ["get", "CAS update (get+update)"]) {
  const m = rows.find((r) => r[0] === op && r[1] === "memory" && r[2] === 8);
  const e = rows.find((r) => r[0] === op && r[1] === "etcd" && r[2] === 8);
  if (m && e) console.log(`${op}, 8 callers: memory ${(Number(m[3]) / Number(e[3])).toFixed(0)}x the throughput of etcd`);
}
