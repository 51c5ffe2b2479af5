// Kernel route installation, side by side in one run: birdcage's KernelRouteWriter (apply() then
// settled(), i.e. command generation + one `ip -force -batch -` through execa), a plain
// `ip -batch FILE` of the same routes (the floor: what iproute2 itself costs), and BIRD 2's kernel
// protocol exporting a static protocol of the same routes (timed from `birdc enable` until all are
// in the kernel, polled every POLL_MS, so BIRD's figure is ± POLL_MS plus one `ip route show`).
// Each method gets a fresh bc- namespace with a veth pair; everything is removed at the end.
// Run (as root): npx tsx bench/kernel-routes.ts [N ...]   (default 10000 100000)
import { execa, type ResultPromise } from "execa";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseIP, parsePrefix } from "../src/core/net/ip.ts";
import type { RouteEntry } from "../src/core/bgp/ports.ts";
import { KernelRouteWriter } from "../real/bgp/kernel-routes.ts";

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const SIZES = sizes.length ? sizes : [10_000, 100_000];
const POLL_MS = 50;
const tag = `bc-bench-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "bc-bench-kr-"));
const namespaces = new Set<string>();
let bird: ResultPromise | undefined;

const ip = async (...args: string[]): Promise<string> => String((await execa("ip", args)).stdout);
const addr = (i: number): string => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

async function freshNamespace(name: string): Promise<string> {
  const ns = `${tag}-${name}`;
  await execa("ip", ["netns", "del", ns], { reject: false });
  await ip("netns", "add", ns);
  namespaces.add(ns);
  await ip("-n", ns, "link", "set", "lo", "up");
  await ip("-n", ns, "link", "add", "bcb0", "type", "veth", "peer", "name", "bcb1");
  await ip("-n", ns, "link", "set", "bcb0", "up");
  await ip("-n", ns, "link", "set", "bcb1", "up");
  await ip("-n", ns, "addr", "add", "10.99.0.1/24", "dev", "bcb0");
  return ns;
}

/** Number of IPv4 routes with this protocol in the namespace's main table. */
async function count(ns: string, proto: string): Promise<number> {
  const out = await ip("-n", ns, "-4", "route", "show", "proto", proto);
  return out === "" ? 0 : out.split("\n").length;
}

async function cleanup(): Promise<void> {
  if (bird?.pid) {
    bird.kill("SIGTERM");
    await bird.catch(() => undefined);
    bird = undefined;
  }
  for (const ns of namespaces) await execa("ip", ["netns", "del", ns], { reject: false });
  namespaces.clear();
}

async function viaWriter(n: number): Promise<number> {
  const ns = await freshNamespace("w");
  const w = new KernelRouteWriter({ netns: ns, onError: (e) => console.error("route error:", e) });
  const gw = [parseIP("10.99.0.2")];
  const add: RouteEntry[] = [];
  for (let i = 0; i < n; i++) add.push({ prefix: parsePrefix(`${addr(i)}/32`), kind: "unicast", nextHops: gw });
  const t0 = performance.now();
  // As the speaker would: many apply() calls (one per UPDATE's worth of prefixes), batched by the writer.
  for (let i = 0; i < n; i += 810) w.apply({ add: add.slice(i, i + 810), remove: [] });
  await w.settled();
  const s = (performance.now() - t0) / 1000;
  const got = await count(ns, String(w.protocol));
  if (got !== n) throw new Error(`writer: ${got} routes in the kernel, expected ${n}`);
  await ip("netns", "del", ns);
  namespaces.delete(ns);
  return s;
}

async function viaPlainBatch(n: number): Promise<number> {
  const ns = await freshNamespace("p");
  const file = join(dir, `plain-${n}.batch`);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`route replace ${addr(i)}/32 via 10.99.0.2 proto 201`);
  writeFileSync(file, lines.join("\n") + "\n");
  const t0 = performance.now();
  await execa("ip", ["-n", ns, "-force", "-batch", file]);
  const s = (performance.now() - t0) / 1000;
  const got = await count(ns, "201");
  if (got !== n) throw new Error(`plain ip -batch: ${got} routes, expected ${n}`);
  await ip("netns", "del", ns);
  namespaces.delete(ns);
  return s;
}

async function viaBird(n: number): Promise<number | string> {
  try {
    await execa("bird", ["--version"]);
  } catch {
    return "bird not installed";
  }
  const ns = await freshNamespace("b");
  const conf = join(dir, `bird-${n}.conf`);
  const sock = join(dir, `bird-${n}.ctl`);
  const routes: string[] = [];
  for (let i = 0; i < n; i++) routes.push(`  route ${addr(i)}/32 via 10.99.0.2;`);
  writeFileSync(
    conf,
    [
      "router id 10.99.0.1;",
      "protocol device { scan time 10; }",
      "protocol kernel k4 { ipv4 { export all; import none; }; learn off; scan time 3600; }",
      "protocol static s4 {",
      "  disabled;",
      "  ipv4;",
      ...routes,
      "}",
      "",
    ].join("\n"),
  );
  bird = execa("ip", ["netns", "exec", ns, "bird", "-f", "-c", conf, "-s", sock, "-P", join(dir, "bird.pid")], { reject: false, buffer: false, stdio: "ignore" });
  const birdc = (...args: string[]) => execa("birdc", ["-s", sock, ...args], { reject: false });
  for (let i = 0; i < 600; i++) {
    const r = await birdc("show", "status");
    if (r.exitCode === 0 && String(r.stdout).includes("Daemon is up")) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const t0 = performance.now();
  await birdc("enable", "s4");
  let got = 0;
  while (got < n) {
    if (performance.now() - t0 > 120_000) throw new Error(`BIRD: only ${got} of ${n} routes after 120 s`);
    await new Promise((res) => setTimeout(res, POLL_MS));
    got = await count(ns, "bird");
  }
  const s = (performance.now() - t0) / 1000;
  bird.kill("SIGTERM");
  await bird;
  bird = undefined;
  await ip("netns", "del", ns);
  namespaces.delete(ns);
  return s;
}

process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));

try {
  if (process.getuid?.() !== 0) throw new Error("needs root (network namespaces)");
  console.log(`kernel route install, IPv4 /32s via one gateway, each method in a fresh namespace (${new Date().toISOString()})`);
  console.log(`${"routes".padStart(8)}  ${"birdcage writer".padStart(16)}  ${"plain ip -batch".padStart(16)}  ${"BIRD kernel".padStart(14)}  ${"writer/plain".padStart(12)}  ${"writer/BIRD".padStart(12)}`);
  for (const n of SIZES) {
    const plain = await viaPlainBatch(n);
    const writer = await viaWriter(n);
    const b = await viaBird(n);
    const bs = typeof b === "number" ? `${b.toFixed(3)} s` : b;
    console.log(
      `${n.toLocaleString("en").padStart(8)}  ${`${writer.toFixed(3)} s`.padStart(16)}  ${`${plain.toFixed(3)} s`.padStart(16)}  ${bs.padStart(14)}  ${`${(writer / plain).toFixed(2)}x`.padStart(12)}  ${(typeof b === "number" ? `${(writer / b).toFixed(2)}x` : "-").padStart(12)}`,
    );
  }
  console.log(`(BIRD: from "birdc enable" of a static protocol until all routes are in the kernel; polled every ${POLL_MS} ms)`);
} finally {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
}
