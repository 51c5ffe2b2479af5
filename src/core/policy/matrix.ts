// Reachability truth tables between workloads, as the Kubernetes network-policy e2e tests print
// them (rows = client, columns = server, one table per probe).
import type { Family } from "../net/ip.ts";
import { parsePrefix, formatIP } from "../net/ip.ts";
import type { PolicySet } from "./policy-set.ts";
import { protocolName, protocolNumber } from "./protocols.ts";

export interface Probe {
  /** TCP, UDP or SCTP. */
  readonly protocol: string;
  readonly port: number;
}

export interface MatrixPod {
  /** `namespace/name`. */
  readonly name: string;
  readonly ip: string;
}

export interface TruthTable {
  readonly probe: Probe;
  /** allowed[from * pods.length + to] */
  readonly allowed: Uint8Array;
}

export interface Reachability {
  readonly pods: readonly MatrixPod[];
  readonly tables: readonly TruthTable[];
}

/** Parse `80/TCP,81/UDP` (protocol defaults to TCP); throws RangeError with the bad item. */
export function parseProbes(text: string): Probe[] {
  return text.split(",").map((item) => {
    const m = /^\s*(\d{1,5})(?:\/([A-Za-z]+))?\s*$/.exec(item);
    const port = m ? Number(m[1]) : NaN;
    const proto = protocolNumber(m?.[2] ?? "TCP");
    if (!m || port < 1 || port > 65535 || (proto !== 6 && proto !== 17 && proto !== 132)) {
      throw new RangeError(`bad probe "${item}": expected PORT/PROTOCOL with a port 1-65535 and TCP, UDP or SCTP`);
    }
    return { protocol: protocolName(proto), port };
  });
}

/** The workloads with an address of `family`, in input order. */
export function matrixPods(set: PolicySet, family: Family = 4): MatrixPod[] {
  const pods: MatrixPod[] = [];
  for (const e of set.describeEndpoints()) {
    if (e.endpoint.kind !== "workload") continue;
    const name = `${e.endpoint.namespace !== undefined ? `${e.endpoint.namespace}/` : ""}${e.endpoint.name}`;
    for (const text of e.ips) {
      const p = parsePrefix(text, { strict: false });
      if (p.family === family) {
        pods.push({ name, ip: formatIP(p.family, p.addr) });
        break;
      }
    }
  }
  return pods;
}

/** Verdicts for every ordered pair of pods, per probe. */
export function reachability(set: PolicySet, probes: readonly Probe[], family: Family = 4): Reachability {
  const pods = matrixPods(set, family);
  const n = pods.length;
  const addrs = pods.map((p) => set.address(p.ip));
  const tables = probes.map((probe) => {
    const allowed = new Uint8Array(n * n);
    const proto = protocolNumber(probe.protocol)!;
    // allowed[i][j] = egress of i towards j && ingress of j from i, each computed a row at a time.
    for (let i = 0; i < n; i++) allowed.set(set.directionVerdicts(addrs[i]!, "egress", addrs, proto, probe.port), i * n);
    for (let j = 0; j < n; j++) {
      const ingress = set.directionVerdicts(addrs[j]!, "ingress", addrs, proto, probe.port);
      for (let i = 0; i < n; i++) allowed[i * n + j]! &= ingress[i]!;
    }
    return { probe, allowed };
  });
  return { pods, tables };
}

/** The e2e-style text: per probe a header line, then `-` and server names, one row per client. */
export function formatTruthTables(r: Reachability): string {
  const names = r.pods.map((p) => p.name);
  const width = Math.max(1, ...names.map((s) => s.length));
  const out: string[] = [];
  for (const t of r.tables) {
    out.push(`${t.probe.port}/${t.probe.protocol}:`);
    out.push(["-".padEnd(width), ...names].join("\t"));
    r.pods.forEach((from, i) => {
      const cells = r.pods.map((_, j) => (t.allowed[i * r.pods.length + j] === 1 ? "." : "X"));
      out.push([from.name.padEnd(width), ...cells].join("\t"));
    });
    out.push("");
  }
  return out.join("\n");
}

/** `{results: [{from, to, protocol, port, allowed}]}`, per probe, then client, then server. */
export function truthTableJson(r: Reachability): { results: { from: string; to: string; protocol: string; port: number; allowed: boolean }[] } {
  const results = [];
  for (const t of r.tables) {
    for (let i = 0; i < r.pods.length; i++) {
      for (let j = 0; j < r.pods.length; j++) {
        results.push({ from: r.pods[i]!.name, to: r.pods[j]!.name, protocol: t.probe.protocol, port: t.probe.port, allowed: t.allowed[i * r.pods.length + j] === 1 });
      }
    }
  }
  return { results };
}
