// IPAM under concurrency on a real etcd: N hosts (default 8), each an Ipam client with its own etcd
// connection, allocate at once from one pool. Reports allocations per second, p50/p99 latency per
// allocation, duplicates (must be 0), disagreements with the stored blocks (must be 0) and the CAS
// conflicts/retries the IPAM counted; the same workload on the in-memory Datastore is the comparison.
// Starts (and stops) its own etcd on loopback; its data dir is in /dev/shm unless --disk.
//
// Run: npx tsx bench/ipam-etcd-concurrency.ts [--hosts 8] [--per-host 250] [--workers 1] [--disk]
import { parseArgs } from "node:util";
import { formatTable } from "../src/cli/output.ts";
import { MemoryDatastore } from "../src/core/datastore/memory.ts";
import type { Datastore } from "../src/core/datastore/port.ts";
import type { IpPoolInput } from "../src/core/ipam/index.ts";
import { EtcdDatastore } from "../real/datastore/etcd.ts";
import { etcdBinary, ramDir, startEtcd } from "../real/etcd-server.ts";
import { compareWithDatastore, duplicateAddresses, percentile, runIpamLoad } from "../real/ipam-load.ts";

const { values: args } = parseArgs({
  options: {
    hosts: { type: "string", default: "8" },
    "per-host": { type: "string", default: "250" },
    workers: { type: "string", default: "1" },
    disk: { type: "boolean", default: false },
  },
});
const hosts = Number(args.hosts);
const perHost = Number(args["per-host"]);
const workers = Number(args.workers);
for (const [name, v] of [["hosts", hosts], ["per-host", perHost], ["workers", workers]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}
if (!etcdBinary()) {
  console.error("etcd is not installed (/usr/bin/etcd); apt-get install etcd-server");
  process.exit(1);
}

interface Scenario {
  name: string;
  pools: IpPoolInput[];
  perHost: number | "untilExhausted";
}
const scenarios: Scenario[] = [
  { name: "/16 pool, /26 blocks", pools: [{ name: "big", cidr: "10.1.0.0/16", blockSize: 26 }], perHost },
  { name: "tiny /24 pool drained", pools: [{ name: "tiny", cidr: "10.9.0.0/24", blockSize: 26 }], perHost: "untilExhausted" },
];

const server = await startEtcd(args.disk ? {} : { tempParent: ramDir() });
const rows: (string | number)[][] = [];
let failures = 0;
let nsCounter = 0;
try {
  for (const sc of scenarios) {
    for (const backend of ["etcd", "memory"] as const) {
      const opened: Datastore[] = [];
      let hostsSpec;
      let checker: Datastore;
      if (backend === "etcd") {
        const namespace = `bench-${process.pid}-${nsCounter++}`;
        const open = () => {
          const s = new EtcdDatastore({ endpoints: server.endpoint, namespace, requestTimeoutMs: 30_000 });
          opened.push(s);
          return s;
        };
        hostsSpec = Array.from({ length: hosts }, (_, i) => ({ host: `node-${i + 1}`, store: open() }));
        checker = open();
      } else {
        // One shared store: the in-memory Datastore is one process's world, so all hosts share it.
        const mem = new MemoryDatastore({ historyLimit: 0 });
        opened.push(mem);
        hostsSpec = Array.from({ length: hosts }, (_, i) => ({ host: `node-${i + 1}`, store: mem }));
        checker = mem;
      }
      const r = await runIpamLoad({ hosts: hostsSpec, pools: sc.pools, perHost: sc.perHost, workersPerHost: workers });
      const dups = duplicateAddresses(r.allocations).size;
      const d = await compareWithDatastore(checker, r.allocations);
      const disagreements = d.missing.length + d.extra.length + d.wrongHandle.length + d.wrongAffinity.length;
      if (dups > 0 || disagreements > 0) failures++;
      // Latency per autoAssign call (one address each).
      const perCall = new Map(r.allocations.map((a) => [a.handleId, a.latencyMs]));
      const lat = [...perCall.values()];
      rows.push([
        sc.name,
        backend,
        `${hosts}x${workers}`,
        r.allocations.length,
        (r.wallMs / 1000).toFixed(2),
        Math.round(r.allocations.length / (r.wallMs / 1000)),
        percentile(lat, 50).toFixed(2),
        percentile(lat, 99).toFixed(2),
        dups,
        disagreements,
        r.counters.casConflicts,
        r.counters.retries,
        r.counters.reads + r.counters.lists,
        r.counters.writes,
      ]);
      for (const s of opened) await s.close();
    }
  }
} finally {
  await server.stop();
}

console.log(`etcd on loopback, data dir on ${args.disk ? "disk" : "tmpfs (/dev/shm)"}; ${hosts} hosts, ${workers} worker(s) each; one address per autoAssign`);
console.log(
  formatTable(
    ["scenario", "backend", "hosts", "allocs", "wall s", "alloc/s", "p50 ms", "p99 ms", "dups", "disagree", "CAS conflicts", "retries", "reads", "writes"],
    rows,
  ),
);
const etcdRate = Number(rows[0]?.[5]);
const memRate = Number(rows[1]?.[5]);
console.log(`memory vs etcd throughput (first scenario): ${(memRate / etcdRate).toFixed(1)}x`);
if (failures > 0) {
  console.log(`FAILED: ${failures} run(s) with duplicates or disagreements`);
  process.exitCode = 1;
}
