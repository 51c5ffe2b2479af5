// The kernel route writer: the RouteSink port for real, batching route changes through one
// `ip [-n NS] -force -batch -` per batch.
//
// Routes carry birdcage's own protocol number, so `ip route show proto N` lists exactly ours and
// removal and flush touch nothing else: a delete names the protocol, and the kernel refuses to match
// a route of another protocol. Default 201, because it is free everywhere we know of:
// /etc/iproute2/rt_protos (0-18, 42 babel, 99 openr, 186-192), FRR's rt_protos.d (186-197), Calico
// (12 bird for BIRD's routes, 3 boot for Felix's workload routes, 80 for Felix's other routes).
//
// `route replace` is keyed by the kernel on prefix, table and metric, not protocol: a same-prefix
// route of another protocol at the same metric is taken over. Give `metric` to keep ours apart.
import { execa } from "execa";
import { formatAddress, formatPrefix, type Prefix } from "../../src/core/net/ip.ts";
import type { RouteChanges, RouteEntry, RouteSink } from "../../src/core/bgp/ports.ts";

export const DEFAULT_ROUTE_PROTOCOL = 201;

export interface KernelRouteWriterOptions {
  /** Named network namespace (`ip -n NS`); the process's own namespace when omitted. */
  netns?: string;
  /** Route protocol number, 1-255 (default 201). Must not be one another daemon uses (12 bird, 3 boot). */
  protocol?: number;
  /** Routing table (default main). */
  table?: number;
  /** Route metric/priority (default the kernel's: 0 for IPv4, 1024 for IPv6). */
  metric?: number;
  /** The `ip` binary (default "ip" from PATH). */
  ipPath?: string;
  /** Called for every failed route command; the writer carries on with the rest. */
  onError?: (e: RouteWriteError) => void;
}

export interface RouteWriteError {
  op: "replace" | "remove" | "flush" | "batch";
  prefix?: string;
  command?: string;
  message: string;
}

export interface BatchResult {
  commands: number;
  errors: RouteWriteError[];
  /** Wall time of the `ip` run, milliseconds. */
  ms: number;
}

/**
 * A route as the kernel takes it: the core's RouteEntry plus where it leaves. `dev` with `onlink`
 * sends a unicast route through a tunnel device to a next hop that is not on a connected subnet
 * (Calico's `via <node> dev tunl0 onlink`); `dev` alone on a unicast route without next hops is a
 * link-scope route to a local interface (a pod's veth).
 */
export type KernelRoute = RouteEntry & { dev?: string; onlink?: boolean };

type Pending = { op: "replace"; entry: KernelRoute } | { op: "remove"; prefix: Prefix };

export class KernelRouteWriter implements RouteSink {
  readonly protocol: number;
  private readonly opts: KernelRouteWriterOptions;
  private pending = new Map<string, Pending>();
  private running: Promise<void> | undefined;
  private scheduled = false;
  private readonly waiters: (() => void)[] = [];
  /** Totals since construction. */
  readonly stats = { batches: 0, commands: 0, errors: 0 };

  constructor(options: KernelRouteWriterOptions = {}) {
    const protocol = options.protocol ?? DEFAULT_ROUTE_PROTOCOL;
    if (!Number.isInteger(protocol) || protocol < 1 || protocol > 255) throw new Error(`route protocol must be 1-255 (got ${protocol})`);
    if (protocol === 12 || protocol === 3) throw new Error(`route protocol ${protocol} belongs to ${protocol === 12 ? "BIRD" : "boot (Felix, ip route add)"}; pick another`);
    if (options.netns !== undefined && !/^[A-Za-z0-9_.-]+$/.test(options.netns)) throw new Error(`bad namespace name "${options.netns}"`);
    this.protocol = protocol;
    this.opts = options;
  }

  /** Queues the changes; they go to the kernel in one batch with whatever else arrives meanwhile. */
  apply(changes: RouteChanges & { add: KernelRoute[] }): void {
    for (const entry of changes.add) this.pending.set(formatPrefix(entry.prefix), { op: "replace", entry });
    for (const prefix of changes.remove) this.pending.set(formatPrefix(prefix), { op: "remove", prefix });
    this.schedule();
  }

  /** Resolves when everything applied so far has been written (or failed and been reported). */
  settled(): Promise<void> {
    if (!this.running && !this.scheduled && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Writes changes now and reports the outcome (what apply() does in the background). */
  async write(changes: RouteChanges & { add: KernelRoute[] }): Promise<BatchResult> {
    await this.settled();
    const items: Pending[] = [
      ...changes.add.map((entry) => ({ op: "replace" as const, entry })),
      ...changes.remove.map((prefix) => ({ op: "remove" as const, prefix })),
    ];
    return this.runBatch(items);
  }

  /** Removes every route with our protocol (both families) from the table. */
  async flush(): Promise<RouteWriteError[]> {
    await this.settled();
    const errors: RouteWriteError[] = [];
    for (const family of ["-4", "-6"]) {
      const r = await execa(this.opts.ipPath ?? "ip", [...this.nsArgs(), family, "route", "flush", "proto", String(this.protocol), ...this.tableArgs()], { reject: false });
      if (r.exitCode !== 0) errors.push({ op: "flush", message: `ip ${family} route flush proto ${this.protocol}: ${String(r.stderr).trim() || `exit ${r.exitCode}`}` });
    }
    for (const e of errors) this.report(e);
    return errors;
  }

  /** The `ip -batch` line for one change (exposed for the benchmark and tests). */
  command(p: Pending): string {
    const suffix = `proto ${this.protocol}${this.opts.table !== undefined ? ` table ${this.opts.table}` : ""}${this.opts.metric !== undefined ? ` metric ${this.opts.metric}` : ""}`;
    if (p.op === "remove") return `route del ${formatPrefix(p.prefix)} ${suffix}`;
    const e = p.entry;
    const dst = formatPrefix(e.prefix);
    if (e.kind === "blackhole") return `route replace blackhole ${dst} ${suffix}`;
    const dev = e.dev !== undefined ? ` dev ${checkDevice(e.dev)}` : "";
    const onlink = e.onlink ? " onlink" : "";
    if (e.nextHops.length === 0) {
      if (e.dev === undefined) throw new Error(`unicast route ${dst} without a next hop`);
      return `route replace ${dst}${dev} scope link ${suffix}`;
    }
    if (e.nextHops.length === 1) return `route replace ${dst} via ${formatAddress(e.nextHops[0] as RouteEntry["nextHops"][number])}${dev}${onlink} ${suffix}`;
    return `route replace ${dst} ${suffix} ${e.nextHops.map((h) => `nexthop via ${formatAddress(h)}${dev}${onlink}`).join(" ")}`;
  }

  private nsArgs(): string[] {
    return this.opts.netns !== undefined ? ["-n", this.opts.netns] : [];
  }
  private tableArgs(): string[] {
    return this.opts.table !== undefined ? ["table", String(this.opts.table)] : [];
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // Let the rest of this tick's apply() calls join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const items = [...this.pending.values()];
      this.pending = new Map();
      this.running = this.runBatch(items).then(() => undefined);
      await this.running;
    }
    this.running = undefined;
    for (const w of this.waiters.splice(0)) w();
  }

  private async runBatch(items: Pending[]): Promise<BatchResult> {
    const errors: RouteWriteError[] = [];
    const lines: string[] = [];
    const kept: Pending[] = [];
    for (const p of items) {
      try {
        lines.push(this.command(p));
        kept.push(p);
      } catch (e) {
        errors.push({ op: "replace", prefix: p.op === "remove" ? formatPrefix(p.prefix) : formatPrefix(p.entry.prefix), message: (e as Error).message });
      }
    }
    const start = performance.now();
    if (lines.length > 0) {
      let r;
      try {
        r = await execa(this.opts.ipPath ?? "ip", [...this.nsArgs(), "-force", "-batch", "-"], { input: lines.join("\n") + "\n", reject: false });
      } catch (e) {
        r = undefined;
        errors.push({ op: "batch", message: `cannot run ip: ${(e as Error).message}` });
      }
      if (r && r.exitCode !== 0) errors.push(...this.parseFailures(String(r.stderr), kept, lines, r.exitCode));
    }
    this.stats.batches++;
    this.stats.commands += lines.length;
    this.stats.errors += errors.length;
    for (const e of errors) this.report(e);
    return { commands: lines.length, errors, ms: performance.now() - start };
  }

  /** `ip -batch` prints the error, then "Command failed -:LINE"; map each to its change. */
  private parseFailures(stderr: string, items: Pending[], lines: string[], exitCode: number | undefined): RouteWriteError[] {
    const out: RouteWriteError[] = [];
    const text = stderr.split("\n");
    let message: string[] = [];
    for (const line of text) {
      const m = /^Command failed -:(\d+)$/.exec(line.trim());
      if (!m) {
        if (line.trim()) message.push(line.trim());
        continue;
      }
      const n = Number(m[1]) - 1;
      const item = items[n];
      // A delete of a route that is already gone is what we wanted.
      const msg = message.join(" ") || "failed";
      message = [];
      if (item?.op === "remove" && /No such process|not found/i.test(msg)) continue;
      out.push({
        op: item?.op ?? "batch",
        ...(item ? { prefix: formatPrefix(item.op === "remove" ? item.prefix : item.entry.prefix) } : {}),
        ...(lines[n] !== undefined ? { command: lines[n] } : {}),
        message: msg,
      });
    }
    if (out.length === 0 && message.length > 0) out.push({ op: "batch", message: `ip -batch exit ${exitCode}: ${message.join(" ")}` });
    return out;
  }

  private report(e: RouteWriteError): void {
    if (!this.opts.onError) return;
    try {
      this.opts.onError(e);
    } catch {
      // the error callback's own failure must not stop route writing
    }
  }
}

/** Interface names go into `ip -batch` lines: refuse anything that is not a plain Linux name. */
function checkDevice(dev: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(dev)) throw new Error(`bad interface name "${dev}"`);
  return dev;
}
