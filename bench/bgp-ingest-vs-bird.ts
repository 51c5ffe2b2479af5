// Issue 3's ingest benchmark: a pre-encoded sender pushes N IPv4 /32s over TCP (eBGP, one session)
// from one network namespace to another, first to the birdcage speaker (core Speaker on TcpTransport
// and WallClock, no kernel), then to BIRD 2 in the same run. Timed from the sender's start until all N
// are in the receiver's Loc-RIB: from the moment the sender starts writing UPDATEs (after the OPEN
// exchange) until birdcage's prefixesAccepted reaches N (polled every 20 ms in the receiver) or
// BIRD's `birdc show route count` does (polled every 100 ms, so up to 0.1 s late). Memory per route: birdcage's heap after GC and RSS
// growth; BIRD's `show memory` total and RSS growth. Also the CPU time each receiver used until then
// (birdcage: process.cpuUsage from listening to done; BIRD: /proc utime+stime over its run, which
// includes answering the `birdc` polls): on a loaded machine a steadier comparison than wall time.
// Usage (root): npx tsx bench/bgp-ingest-vs-bird.ts [N]   (default 1,000,000)
// Internal modes, run inside the namespaces: --sender FILE, --receiver N.
import { execa, type ResultPromise } from "execa";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SENDER = "10.99.0.1";
const RECEIVER = "10.99.0.2";
const SENDER_AS = 65001;
const RECEIVER_AS = 64512;
const self = fileURLToPath(import.meta.url);

/** UPDATEs of up to 810 /32s each (11.0.0.0 upward), ORIGIN igp, AS_PATH [65001] (4-octet), NEXT_HOP 10.99.0.1; then End-of-RIB. */
function encodeUpdates(n: number): Buffer {
  const attrs = Buffer.from([0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, (SENDER_AS >> 8) & 0xff, SENDER_AS & 0xff, 0x40, 3, 4, 10, 99, 0, 1]);
  const perMsg = Math.floor((4096 - 23 - attrs.length) / 5);
  const msgs: Buffer[] = [];
  for (let start = 0; start < n; start += perMsg) {
    const count = Math.min(perMsg, n - start);
    const len = 23 + attrs.length + count * 5;
    const m = Buffer.alloc(len, 0xff);
    m.writeUInt16BE(len, 16);
    m[18] = 2;
    m.writeUInt16BE(0, 19);
    m.writeUInt16BE(attrs.length, 21);
    attrs.copy(m, 23);
    let o = 23 + attrs.length;
    for (let i = 0; i < count; i++) {
      m[o] = 32;
      m.writeUInt32BE(0x0b000000 + start + i, o + 1);
      o += 5;
    }
    msgs.push(m);
  }
  const eor = Buffer.alloc(23, 0xff);
  eor.writeUInt16BE(23, 16);
  eor[18] = 2;
  eor.writeUInt32BE(0, 19);
  msgs.push(eor);
  return Buffer.concat(msgs);
}

function header(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(19, 0xff);
  h.writeUInt16BE(19 + body.length, 16);
  h[18] = type;
  return Buffer.concat([h, body]);
}

/** Sender: connect (retrying), OPEN (hold 0), KEEPALIVE after the peer's OPEN, then the whole file. */
async function sender(file: string): Promise<void> {
  const updates = readFileSync(file);
  const caps = Buffer.from([2, 12, 1, 4, 0, 1, 0, 1, 65, 4, 0, 0, (SENDER_AS >> 8) & 0xff, SENDER_AS & 0xff]);
  const open = header(1, Buffer.concat([Buffer.from([4, (SENDER_AS >> 8) & 0xff, SENDER_AS & 0xff, 0, 0, 10, 99, 0, 1, caps.length]), caps]));
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: RECEIVER, port: 179, localAddress: SENDER });
      let buf = Buffer.alloc(0);
      let sent = false;
      s.on("connect", () => s.write(open));
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 19) {
          const len = buf.readUInt16BE(16);
          if (buf.length < len) break;
          const type = buf[18];
          buf = buf.subarray(len);
          if (type === 1) s.write(header(4, Buffer.alloc(0)));
          if (type === 3) console.error("sender: NOTIFICATION received");
          if (type === 4 && !sent) {
            sent = true;
            console.log(JSON.stringify({ sending: Date.now() }));
            s.write(updates);
          }
        }
      });
      s.on("error", () => resolve(false));
      s.on("close", () => resolve(sent));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Receiver: the birdcage speaker; prints `{"done": wall-clock ms, heap/rss per route}` once N are accepted. */
async function receiver(n: number): Promise<void> {
  const { Speaker } = await import("../src/core/bgp/index.ts");
  const { TcpTransport } = await import("../real/bgp/tcp-transport.ts");
  const { WallClock } = await import("../real/bgp/clock.ts");
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const base = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
  const speaker = new Speaker(
    {
      asNumber: RECEIVER_AS,
      routerId: RECEIVER,
      listen: { address: RECEIVER, port: 179 },
      importPolicy: () => true,
      peers: [{ address: SENDER, asNumber: SENDER_AS, passive: true, holdTime: 0 }],
    },
    { clock: new WallClock(), transport: new TcpTransport() },
  );
  speaker.start();
  const cpu0 = process.cpuUsage();
  console.log(JSON.stringify({ ready: true }));
  const timer = setInterval(() => {
    if ((speaker.peers()[0]?.prefixesAccepted ?? 0) < n) return;
    clearInterval(timer);
    const at = Date.now();
    const cpu = process.cpuUsage(cpu0);
    gc?.();
    const m = process.memoryUsage();
    console.log(JSON.stringify({ done: at, cpuMs: (cpu.user + cpu.system) / 1000, heapPerRoute: (m.heapUsed - base.heap) / n, rssPerRoute: (m.rss - base.rss) / n, gc: !!gc }));
    speaker.stop();
    setTimeout(() => process.exit(0), 300);
  }, 20);
}

/** The wall-clock time at which the sender began writing its UPDATEs (it prints it). */
const senderStart = (p: ResultPromise): Promise<number> =>
  new Promise((resolve, reject) => {
    p.stdout?.on("data", (d: Buffer) => {
      const m = /"sending":(\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    void p.then(() => reject(new Error("sender ended before sending")));
  });

/** CPU time (user + system) of a process so far, in ms (/proc/PID/stat, clock ticks of 10 ms). */
const cpuMsOf = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(f[11] ?? 0) + Number(f[12] ?? 0)) * 10;
};

const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1_000_000);
  if (!Number.isInteger(n) || n < 1) throw new Error("usage: bgp-ingest-vs-bird.ts [N]");
  if (process.getuid?.() !== 0) throw new Error("needs root (network namespaces)");
  const dir = mkdtempSync(join(tmpdir(), "bc-bench-ingest-"));
  const nsS = `bc-bench-${process.pid}-s`;
  const nsR = `bc-bench-${process.pid}-r`;
  const ip = (...a: string[]) => execa("ip", a);
  const children: ResultPromise[] = [];
  try {
    await ip("netns", "add", nsS);
    await ip("netns", "add", nsR);
    await ip("link", "add", "eth0", "netns", nsS, "type", "veth", "peer", "name", "eth0", "netns", nsR);
    await ip("-n", nsS, "addr", "add", `${SENDER}/24`, "dev", "eth0");
    await ip("-n", nsR, "addr", "add", `${RECEIVER}/24`, "dev", "eth0");
    for (const ns of [nsS, nsR]) {
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("-n", ns, "link", "set", "eth0", "up");
    }
    const file = join(dir, "updates.bin");
    writeFileSync(file, encodeUpdates(n));
    const runSender = (): ResultPromise => {
      const p = execa("ip", ["netns", "exec", nsS, process.execPath, "--import", "tsx", self, "--sender", file], { reject: false, timeout: 600_000 });
      children.push(p);
      return p;
    };

    // birdcage
    const recv = execa("ip", ["netns", "exec", nsR, process.execPath, "--expose-gc", "--max-old-space-size=4096", "--import", "tsx", self, "--receiver", String(n)], { reject: false, timeout: 600_000 });
    children.push(recv);
    const lines: Record<string, unknown>[] = [];
    const waitFor = (key: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const check = () => {
          const l = lines.find((x) => key in x);
          if (l) resolve(l);
        };
        recv.stdout?.on("data", (d: Buffer) => {
          for (const t of String(d).split("\n")) if (t.trim().startsWith("{")) lines.push(JSON.parse(t) as Record<string, unknown>);
          check();
        });
        void recv.then(() => reject(new Error(`receiver ended: ${String(recv.stderr ?? "")}`)));
      });
    await waitFor("ready");
    const s1 = runSender();
    const sendingAt = senderStart(s1);
    const done = await waitFor("done");
    const bcMs = Number(done.done) - (await sendingAt);
    await recv;
    s1.kill("SIGKILL");
    await s1;

    // BIRD
    const conf = join(dir, "bird.conf");
    const ctl = join(dir, "bird.ctl");
    writeFileSync(
      conf,
      `router id ${RECEIVER};
protocol device { scan time 10; }
protocol bgp sender { local ${RECEIVER} as ${RECEIVER_AS}; neighbor ${SENDER} as ${SENDER_AS}; passive on; hold time 240; ipv4 { import all; export none; }; }
`,
    );
    const bird = execa("ip", ["netns", "exec", nsR, "bird", "-f", "-c", conf, "-s", ctl, "-P", join(dir, "bird.pid")], { reject: false, timeout: 600_000 });
    children.push(bird);
    const birdc = async (...a: string[]) => String((await execa("birdc", ["-s", ctl, ...a], { reject: false })).stdout);
    for (let i = 0; i < 100 && !(await birdc("show", "status")).includes("Daemon is up"); i++) await new Promise((r) => setTimeout(r, 100));
    // `ip netns exec` execs bird, so the child's pid is BIRD's.
    const birdPid = bird.pid ?? 0;
    const rss0 = rssKb(birdPid);
    const mem = async () => Number(/Total:\s+([\d.]+)\s+(\w+)/.exec(await birdc("show", "memory"))?.slice(1).reduce((v, u) => String(Number(v) * ({ B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[u] ?? 1))) ?? 0);
    const mem0 = await mem();
    const birdCpu0 = cpuMsOf(birdPid);
    const t1 = Date.now();
    const s2 = runSender();
    const sendingAt2 = senderStart(s2);
    let count = 0;
    while (count < n && Date.now() - t1 < 600_000) {
      await new Promise((r) => setTimeout(r, 100));
      count = Number(/(\d+) of \d+ routes/.exec(await birdc("show", "route", "count"))?.[1] ?? 0);
    }
    const birdMs = Date.now() - (await sendingAt2);
    const birdCpuMs = cpuMsOf(birdPid) - birdCpu0;
    const birdMem = ((await mem()) - mem0) / n;
    const birdRss = ((rssKb(birdPid) - rss0) * 1024) / n;
    s2.kill("SIGKILL");
    bird.kill("SIGTERM");
    await Promise.allSettled([s2, bird]);

    const fmt = (x: number) => x.toFixed(0);
    console.log(`N = ${n.toLocaleString("en")} IPv4 /32s, one eBGP session over a veth pair between two namespaces`);
    console.log(`birdcage: ${(bcMs / 1000).toFixed(2)} s to Loc-RIB (CPU ${(Number(done.cpuMs) / 1000).toFixed(2)} s), heap ${fmt(Number(done.heapPerRoute))} B/route (after GC: ${String(done.gc)}), RSS growth ${fmt(Number(done.rssPerRoute))} B/route`);
    console.log(`BIRD 2:   ${(birdMs / 1000).toFixed(2)} s to Loc-RIB (CPU ${(birdCpuMs / 1000).toFixed(2)} s)${count < n ? ` (only ${count} after the time limit)` : ""}, show memory ${fmt(birdMem)} B/route, RSS growth ${fmt(birdRss)} B/route`);
    console.log(`ratio birdcage/BIRD: time ${(bcMs / birdMs).toFixed(2)}x, CPU ${(Number(done.cpuMs) / birdCpuMs).toFixed(2)}x, memory ${(Number(done.heapPerRoute) / birdMem).toFixed(2)}x (heap vs show memory)`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await Promise.allSettled(children);
    await execa("ip", ["netns", "del", nsS], { reject: false });
    await execa("ip", ["netns", "del", nsR], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  }
}

const mode = process.argv[2];
if (mode === "--sender") await sender(process.argv[3] ?? "");
else if (mode === "--receiver") await receiver(Number(process.argv[3]));
else await main();
