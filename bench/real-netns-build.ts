// Build time of real-mode topologies out of network namespaces (needs root): quickstart and a
// 20-node two-segment topology, each built and torn down ROUNDS times by NetnsBuilder (one
// `ip -batch` per namespace, started from 2 shells in parallel, and from 1), against the same plan
// run as one `ip` exec per command from Node. Run: npx tsx bench/real-netns-build.ts
import { execa } from "execa";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTopology, type Topology } from "../src/topology/index.ts";
import { NetnsBuilder, planNetns, RunOwner } from "../real/netns/index.ts";

const ROUNDS = 3;
const reader = { readFile: (p: string) => readFileSync(p, "utf8") };

function twoSegments(n: number): Topology {
  const nodes = Array.from({ length: n }, (_, i) => {
    const net = i % 2 === 0 ? 1 : 2;
    return `  - { name: n${i + 1}, segment: seg-${net}, address: 10.93.${net}.${10 + i}/24, gateway: 10.93.${net}.1 }`;
  });
  const text = `apiVersion: birdcage/v1
kind: Topology
metadata: { name: two-seg-${n} }
segments:
  - { name: seg-1, subnet: 10.93.1.0/24 }
  - { name: seg-2, subnet: 10.93.2.0/24 }
routers:
  - name: r1
    interfaces:
      - { segment: seg-1, address: 10.93.1.1/24 }
      - { segment: seg-2, address: 10.93.2.1/24 }
nodes:
${nodes.join("\n")}
`;
  return loadTopology(text, "two-seg.yaml", reader).topology;
}

/** The same plan, one `ip` process per command (what a naive builder does). */
async function naive(t: Topology, dir: string): Promise<{ build: number; teardown: number }> {
  const owner = await RunOwner.create({ stateDir: dir, signals: false });
  const p = planNetns(t, owner.runId);
  const t0 = performance.now();
  await owner.intend(p.namespaces.map((name) => ({ kind: "netns" as const, name })));
  for (const ns of p.namespaces) await execa("ip", ["netns", "add", ns]);
  for (const line of p.fabricBatch) await execa("ip", ["-n", p.fabric, ...line.split(" ")]);
  for (const e of p.elements) {
    for (const line of e.batch) await execa("ip", ["-n", e.netns, ...line.split(" ")]);
    if (e.sysctl.length) await execa("ip", ["netns", "exec", e.netns, "sysctl", "-qw", ...e.sysctl]);
  }
  const build = performance.now() - t0;
  const t1 = performance.now();
  await owner.teardown();
  return { build, teardown: performance.now() - t1 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(0).padStart(6)} ms`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("needs root (network namespaces): skipped");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "bc-bench-state-"));
  const load = (await execa("cat", ["/proc/loadavg"])).stdout.split(" ").slice(0, 3).join(" ");
  console.log(`load average ${load}; ${ROUNDS} rounds each, median (min-max)`);
  try {
    const cases: [string, Topology][] = [
      ["quickstart (5 ns + fabric)", loadTopology(readFileSync("topologies/quickstart.yaml", "utf8"), "topologies/quickstart.yaml", reader).topology],
      ["20 nodes, 2 segments (21 ns + fabric)", twoSegments(20)],
    ];
    for (const [name, t] of cases) {
      console.log(`\n${name}`);
      for (const concurrency of [2, 1]) {
        const builds: number[] = [];
        const downs: number[] = [];
        let phases = "";
        for (let r = 0; r < ROUNDS; r++) {
          const w = await new NetnsBuilder({ stateDir: dir, signals: false, concurrency }).build(t);
          builds.push(w.timings.total);
          const tm = w.timings;
          phases = `namespaces ${tm.namespaces.toFixed(0)}, fabric ${tm.fabric.toFixed(0)}, elements ${tm.elements.toFixed(0)}, netem probe ${tm.netem.toFixed(0)}`;
          const t1 = performance.now();
          await w.teardown();
          downs.push(performance.now() - t1);
        }
        console.log(`  NetnsBuilder, ${concurrency} shell(s): build ${fmt(median(builds))} (${Math.min(...builds).toFixed(0)}-${Math.max(...builds).toFixed(0)})  teardown ${fmt(median(downs))}   last: ${phases}`);
      }
      const nb: number[] = [];
      const nd: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const x = await naive(t, dir);
        nb.push(x.build);
        nd.push(x.teardown);
      }
      console.log(`  one ip exec per command:   build ${fmt(median(nb))} (${Math.min(...nb).toFixed(0)}-${Math.max(...nb).toFixed(0)})  teardown ${fmt(median(nd))}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
