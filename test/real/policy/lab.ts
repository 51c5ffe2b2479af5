// A node network namespace with pod namespaces behind veth pairs, wired as Calico wires pods:
// pod /32 on eth0, default route via 169.254.1.1, host side `cali…` with MAC ee:ee:ee:ee:ee:ee
// and a /32 route per pod. Static neighbours on both sides, so no ARP is needed. Each pod runs a
// small TCP/UDP echo server (node), and probes run as one node process per client namespace.
import { execa, type ResultPromise } from "execa";
import { execFileSync } from "node:child_process";
import { workloadInterfaceName } from "../../../src/core/policy/render/plan.ts";

export interface LabPod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
}

export interface Probe {
  readonly ip: string;
  readonly protocol: "TCP" | "UDP";
  readonly port: number;
}

/** Why real policy tests cannot run here, or undefined when they can. */
export function labSkipReason(): string | undefined {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  for (const bin of ["ip", "nft"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    } catch {
      return `needs the ${bin} command`;
    }
  }
  return undefined;
}

export function hasCommand(bin: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// Exits when its stdin closes (the test process ended) or after 10 minutes at the latest.
const SERVER = `
const net = require("node:net"), dgram = require("node:dgram");
const [tcp, udp] = JSON.parse(process.argv[1]);
let ready = 0;
const done = () => { if (++ready === tcp.length + udp.length) process.stdout.write("ready\\n"); };
for (const port of tcp) net.createServer((s) => { s.on("error", () => {}); s.end("ok"); }).listen(port, "0.0.0.0", done);
for (const port of udp) { const u = dgram.createSocket("udp4"); u.on("message", (m, r) => u.send(m, r.port, r.address)); u.bind(port, "0.0.0.0", done); }
process.stdin.on("end", () => process.exit(0)); process.stdin.resume();
setTimeout(() => process.exit(0), 600000).unref();
`;

// Probes all targets at once; prints one 0/1 per probe. Every probe ends by its timeout.
const CLIENT = `
const net = require("node:net"), dgram = require("node:dgram");
const [probes, ms] = JSON.parse(process.argv[1]);
const tcp = (p) => new Promise((res) => {
  const s = net.connect({ host: p.ip, port: p.port });
  const t = setTimeout(() => { s.destroy(); res(0); }, ms);
  s.on("connect", () => { clearTimeout(t); s.destroy(); res(1); });
  s.on("error", () => { clearTimeout(t); res(0); });
});
const udp = (p) => new Promise((res) => {
  const u = dgram.createSocket("udp4");
  const t = setTimeout(() => { u.close(); res(0); }, ms);
  u.on("message", () => { clearTimeout(t); u.close(); res(1); });
  u.on("error", () => { clearTimeout(t); u.close(); res(0); });
  u.send("probe", p.port, p.ip);
});
Promise.all(probes.map((p) => (p.protocol === "TCP" ? tcp(p) : udp(p)))).then((r) => process.stdout.write(r.join("")));
`;

export class Lab {
  readonly suffix: string;
  readonly nodeNs: string;
  readonly podNs = new Map<string, string>();
  readonly servers: ResultPromise[] = [];
  readonly namespaces: string[] = [];

  constructor(readonly pods: readonly LabPod[]) {
    this.suffix = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
    this.nodeNs = `bc-pn-${this.suffix}`;
  }

  static iface(p: LabPod): string {
    return workloadInterfaceName(p.namespace, p.name);
  }

  async setup(served: { tcp: readonly number[]; udp: readonly number[] }): Promise<void> {
    await this.#netns(this.nodeNs);
    const node: string[] = ["link set lo up"];
    for (const [i, p] of this.pods.entries()) {
      const ns = `bc-pp${i}-${this.suffix}`;
      this.podNs.set(`${p.namespace}/${p.name}`, ns);
      await this.#netns(ns);
      const iface = Lab.iface(p);
      const mac = `02:bc:00:00:00:${(i + 1).toString(16).padStart(2, "0")}`;
      await execa("ip", ["link", "add", "name", iface, "address", "ee:ee:ee:ee:ee:ee", "netns", this.nodeNs, "type", "veth", "peer", "name", "eth0", "address", mac, "netns", ns]);
      node.push(`link set ${iface} up`, `route add ${p.ip}/32 dev ${iface}`, `neigh add ${p.ip} lladdr ${mac} dev ${iface} nud permanent`);
      await execa("ip", ["-n", ns, "-batch", "-"], {
        input: [
          "link set lo up",
          "link set eth0 up",
          `addr add ${p.ip}/32 dev eth0`,
          "route add 169.254.1.1 dev eth0 scope link",
          "route add default via 169.254.1.1 dev eth0",
          "neigh add 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent",
        ].join("\n"),
      });
    }
    await execa("ip", ["-n", this.nodeNs, "-batch", "-"], { input: node.join("\n") });
    await execa("ip", ["netns", "exec", this.nodeNs, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]);
    for (const p of this.pods) await this.#startServer(p, served);
  }

  async #netns(name: string): Promise<void> {
    if (this.namespaces.length === 0) process.once("exit", this.#leftovers);
    await execa("ip", ["netns", "add", name]);
    this.namespaces.push(name);
  }

  // If the process ends without teardown (a crashed run), still remove the namespaces.
  readonly #leftovers = (): void => {
    for (const ns of this.namespaces) {
      try {
        execFileSync("ip", ["netns", "delete", ns], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
  };

  async #startServer(p: LabPod, served: { tcp: readonly number[]; udp: readonly number[] }): Promise<void> {
    const ns = this.podNs.get(`${p.namespace}/${p.name}`)!;
    const proc = execa("ip", ["netns", "exec", ns, process.execPath, "-e", SERVER, JSON.stringify([served.tcp, served.udp])], { stdin: "pipe", reject: false });
    this.servers.push(proc);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`echo server in ${ns} did not start`)), 15_000);
      proc.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) {
          clearTimeout(t);
          resolve();
        }
      });
      void proc.then((r) => {
        clearTimeout(t);
        reject(new Error(`echo server in ${ns} exited: ${String(r.stderr)}`));
      });
    });
  }

  /** Run the probes of each client pod in parallel (one process per client); results per client. */
  async probe(byClient: ReadonlyMap<string, readonly Probe[]>, timeoutMs: number): Promise<Map<string, boolean[]>> {
    const entries = [...byClient];
    const results = await Promise.all(
      entries.map(async ([client, probes]) => {
        const ns = this.podNs.get(client)!;
        const r = await execa("ip", ["netns", "exec", ns, process.execPath, "-e", CLIENT, JSON.stringify([probes, timeoutMs])], { timeout: timeoutMs + 20_000 });
        const bits = String(r.stdout);
        if (bits.length !== probes.length) throw new Error(`probe client in ${ns} printed "${bits}"`);
        return [client, [...bits].map((b) => b === "1")] as const;
      }),
    );
    return new Map(results);
  }

  async nft(script: string): Promise<void> {
    await execa("ip", ["netns", "exec", this.nodeNs, "nft", "-f", "-"], { input: script });
  }

  async exec(cmd: string, args: readonly string[], input?: string): Promise<string> {
    const r = await execa("ip", ["netns", "exec", this.nodeNs, cmd, ...args], input !== undefined ? { input } : {});
    return String(r.stdout);
  }

  async teardown(): Promise<void> {
    for (const s of this.servers) {
      s.stdin?.end();
      if (s.pid !== undefined) {
        try {
          process.kill(s.pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
    }
    await Promise.allSettled(this.servers);
    for (const ns of this.namespaces.reverse()) await execa("ip", ["netns", "delete", ns], { reject: false });
    this.namespaces.length = 0;
    process.removeListener("exit", this.#leftovers);
  }
}
