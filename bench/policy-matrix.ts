// Truth table of 1,000 pods × 200 policies on one probe (1,000,000 flows), target under 2 s.
// Prints wall time and this process's CPU time (the machine may be shared). Run: npx tsx bench/policy-matrix.ts
import { PolicySet } from "../src/core/policy/index.ts";
import { parseProbes, reachability } from "../src/core/policy/matrix.ts";
import { world } from "./policy-world.ts";

const PODS = Number(process.env.PODS ?? 1000);
const POLICIES = 200;
const TARGET_MS = 2000;

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
const c0 = process.cpuUsage();
const t0 = performance.now();
const set = new PolicySet(world(PODS, POLICIES));
const t1 = performance.now();
const c1 = process.cpuUsage();
const r = reachability(set, parseProbes("80/TCP"));
const t2 = performance.now();
const c2 = process.cpuUsage();
const flows = r.pods.length ** 2;
const allowed = r.tables[0]!.allowed.reduce((a, b) => a + b, 0);
const total = t2 - t0;
const totalCpu = cpuMs(process.cpuUsage(c0));
console.log(`pods ${r.pods.length}, policies ${set.policies.length}, flows ${flows}, allowed ${allowed} (${((100 * allowed) / flows).toFixed(1)}%)`);
console.log(`build PolicySet   wall ${(t1 - t0).toFixed(0)} ms, cpu ${(cpuMs(c1) - cpuMs(c0)).toFixed(0)} ms`);
console.log(`truth table       wall ${(t2 - t1).toFixed(0)} ms, cpu ${(cpuMs(c2) - cpuMs(c1)).toFixed(0)} ms  (${(((t2 - t1) * 1000) / flows).toFixed(2)} µs/flow wall)`);
console.log(`total             wall ${total.toFixed(0)} ms, cpu ${totalCpu.toFixed(0)} ms; target < ${TARGET_MS} ms: ${total < TARGET_MS ? "met" : "MISSED"} (wall ${(total / TARGET_MS).toFixed(2)}× of target)`);
