// Probes for real mode: ping for ICMP, and for TCP/UDP a short-lived Node server in the target's
// namespace plus a client with a 2 s deadline in the source's (no nc/socat needed): Node's, or
// Python's when the probe sets `df` (Node cannot set IP_MTU_DISCOVER). Every
// process is bounded by a timeout and killed on the way out.
import { execa } from "execa";
import { existsSync } from "node:fs";

const SERVER = `
const [p, port, v6] = process.argv.slice(1);
if (p === "udp") {
  const s = require("node:dgram").createSocket(v6 === "6" ? "udp6" : "udp4");
  s.on("message", (m, r) => s.send("ok", r.port, r.address));
  s.on("error", (e) => { console.log("error " + e.code); process.exit(1); });
  s.bind(+port, () => console.log("ready"));
  setTimeout(() => process.exit(0), 10000);
} else {
  const s = require("node:net").createServer((c) => { c.on("error", () => {}); c.once("data", () => c.end("ok")); });
  s.on("error", (e) => { console.log("error " + e.code); process.exit(1); });
  s.listen(+port, () => console.log("ready"));
  setTimeout(() => process.exit(0), 10000);
}`;

const CLIENT = `
const [p, addr, port, size, v6] = process.argv.slice(1);
const payload = Buffer.alloc(Math.max(1, +size), 120);
const done = (ok, why) => { console.log(ok ? "ok" : "fail " + why); process.exit(ok ? 0 : 1); };
setTimeout(() => done(false, "timeout"), 2000);
if (p === "udp") {
  const s = require("node:dgram").createSocket(v6 === "6" ? "udp6" : "udp4");
  s.on("message", () => done(true));
  s.on("error", (e) => done(false, e.code));
  s.send(payload, +port, addr, (e) => { if (e) done(false, e.code); });
} else {
  const c = require("node:net").connect({ host: addr, port: +port }, () => c.write(payload));
  c.on("data", () => done(true));
  c.on("error", (e) => done(false, e.code));
}`;

/**
 * The client when the probe sets `df`: Node cannot set IP_MTU_DISCOVER on its sockets, Python's
 * socket module can (by number: IP_MTU_DISCOVER 10 / IPV6_MTU_DISCOVER 23, PMTUDISC_DO 2 sets DF and
 * refuses what does not fit the path MTU with EMSGSIZE, PMTUDISC_DONT 0 sends without DF so routers
 * fragment). Same protocol and output as CLIENT.
 */
const DF_CLIENT = `
import errno, socket, sys
p, addr, port, size, v6, df = sys.argv[1:]
fam = socket.AF_INET6 if v6 == "6" else socket.AF_INET
level, opt = (41, 23) if v6 == "6" else (0, 10)
def done(ok, why=""):
    print("ok" if ok else "fail " + why, flush=True)
    sys.exit(0 if ok else 1)
try:
    s = socket.socket(fam, socket.SOCK_DGRAM if p == "udp" else socket.SOCK_STREAM)
    s.setsockopt(level, opt, 2 if df == "1" else 0)
    s.settimeout(2)
    payload = b"x" * max(1, int(size))
    if p == "udp":
        s.sendto(payload, (addr, int(port)))
        s.recvfrom(100)
    else:
        s.connect((addr, int(port)))
        s.sendall(payload)
        s.recv(100)
    done(True)
except socket.timeout:
    done(False, "timeout")
except OSError as e:
    done(False, errno.errorcode.get(e.errno, str(e)))
`;

/** The Python that runs DF_CLIENT (the system one: `ip netns exec` keeps PATH, pyenv shims may not work as root there). */
export const PYTHON = "/usr/bin/python3";

export interface ReachResult {
  delivered: boolean;
  /** Why not, from the tool's own words (e.g. "timeout", "ECONNREFUSED", ping's error line). */
  detail: string;
  /** The tool reported a size problem (EMSGSIZE, "message too long", "Frag needed"). */
  mtu: boolean;
  /** The tool reported an unreachable destination or network. */
  unreachable: boolean;
}

const nsExec = (ns: string, cmd: string, args: string[], timeoutMs: number) =>
  execa("ip", ["netns", "exec", ns, cmd, ...args], { reject: false, timeout: timeoutMs, all: true });

function classify(delivered: boolean, text: string): ReachResult {
  const line = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/^(PING|---|\d+ packets|rtt )/.test(l)).slice(-1)[0] ?? "";
  return {
    delivered,
    detail: line,
    mtu: /EMSGSIZE|message too long|frag needed|mtu/i.test(text),
    unreachable: /unreachable|ENETUNREACH|EHOSTUNREACH/i.test(text),
  };
}

/** One ICMP echo of `size` bytes (IP packet), Don't Fragment as asked, 2 s to answer. */
export async function pingOnce(ns: string, dst: string, size: number, df: boolean): Promise<ReachResult> {
  const v6 = dst.includes(":");
  const payload = Math.max(0, size - (v6 ? 48 : 28));
  const r = await nsExec(ns, "ping", [...(v6 ? ["-6"] : []), "-n", "-c", "1", "-W", "2", "-s", String(payload), "-M", df ? "do" : "dont", dst], 6_000);
  return classify(r.exitCode === 0, String(r.all ?? ""));
}

/**
 * A TCP or UDP exchange: a server on `port` in `dstNs` answers the first data it gets; the client in
 * `srcNs` sends `size` bytes (IP packet size minus headers) and waits 2 s for the answer.
 */
export async function exchange(protocol: "tcp" | "udp", srcNs: string, dstNs: string, dst: string, port: number, size: number, df?: boolean): Promise<ReachResult> {
  if (df !== undefined && !existsSync(PYTHON)) throw new Error(`a ${protocol} probe with df needs ${PYTHON} (Node cannot set IP_MTU_DISCOVER on a socket): install python3 or leave df out`);
  const v6 = dst.includes(":") ? "6" : "4";
  const server = execa("ip", ["netns", "exec", dstNs, process.execPath, "-e", SERVER, protocol, String(port), v6], { reject: false, timeout: 12_000 });
  try {
    const ready = await new Promise<string>((resolve) => {
      let out = "";
      const t = setTimeout(() => resolve(`server did not start within 8 s${out ? `: ${out.trim()}` : ""}`), 8_000);
      server.stdout?.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes("ready")) {
          clearTimeout(t);
          resolve("");
        } else if (out.includes("error")) {
          clearTimeout(t);
          resolve(`server: ${out.trim()}`);
        }
      });
      void server.then(() => {
        clearTimeout(t);
        resolve(`server exited: ${out.trim()}`);
      });
    });
    if (ready !== "") throw new Error(`${protocol}/${port} probe: ${ready}`);
    const payload = Math.max(1, size - (v6 === "6" ? 40 : 20) - (protocol === "udp" ? 8 : 20));
    const r =
      df === undefined
        ? await nsExec(srcNs, process.execPath, ["-e", CLIENT, protocol, dst, String(port), String(payload), v6], 8_000)
        : await nsExec(srcNs, PYTHON, ["-c", DF_CLIENT, protocol, dst, String(port), String(payload), v6, df ? "1" : "0"], 8_000);
    return classify(r.exitCode === 0, String(r.all ?? ""));
  } finally {
    server.kill("SIGKILL");
    await server.catch(() => undefined);
  }
}
