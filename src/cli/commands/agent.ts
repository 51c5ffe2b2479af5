// `birdcage agent --topology FILE --node NAME`: one node's agent for real (real/agent/daemon.ts), run
// inside the node's network namespace until SIGINT/SIGTERM; `birdcage agent show` asks it over its
// control socket. Real mode starts one per node; it is also how a person runs birdcage on a node.
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { InputError } from "../../core/model/index.ts";
import { MemoryDatastore } from "../../core/datastore/memory.ts";
import type { Datastore } from "../../core/datastore/port.ts";
import { parseTopology } from "../../topology/index.ts";
import { topologyClusterView } from "../../topology/peerings.ts";
import { AgentDaemon } from "../../../real/agent/daemon.ts";
import { queryControl } from "../../../real/control-socket.ts";
import { EtcdDatastore } from "../../../real/datastore/etcd.ts";
import { UsageError } from "../errors.ts";
import { runUntilSignal } from "../daemon-run.ts";
import { formatTable, render, withOutput, type OutputFormat } from "../output.ts";

interface AgentOptions {
  topology?: string;
  node?: string;
  etcd?: string;
  etcdNamespace: string;
  control?: string;
  policy: "nft" | "iptables";
  holdTime?: string;
}

const positiveInt = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535 || (n > 0 && n < 3)) throw new UsageError(`${name}: expected 0 or 3-65535 seconds (got ${v})`);
  return n;
};

export function registerAgent(program: Command): void {
  const agent = program
    .command("agent")
    .description(
      "run one node's agent for real (BGP over TCP, routes/tunnels/nftables in this network namespace, " +
        "IPAM and policy in etcd) until SIGINT/SIGTERM; then Cease to every peer and everything it wrote removed",
    )
    // Checked in the action rather than as required options, so that `agent show` does not need them.
    .option("-t, --topology <file>", "topology file: the cluster (nodes, pools, BGP configuration and peers) (required)")
    .option("-n, --node <name>", "this node's name in the topology (required)")
    .option("--etcd <endpoints>", "etcd endpoint(s), comma-separated (default: an in-memory datastore, for a single node only)")
    .option("--etcd-namespace <ns>", "birdcage keeps its keys under /birdcage/<ns>/ in etcd", "default")
    .option("-s, --control <path>", "unix control socket for `birdcage agent show`")
    .option("--policy <format>", "policy dataplane: nft or iptables", "nft")
    .option("--hold-time <seconds>", "BGP hold time offered to every peer (default 90)")
    .action(async (opts: AgentOptions) => {
      if (opts.topology === undefined || opts.node === undefined) throw new UsageError("birdcage agent needs --topology FILE and --node NAME (see --help)");
      if (!existsSync(opts.topology)) throw new UsageError(`${opts.topology}: no such file`);
      if (opts.policy !== "nft" && opts.policy !== "iptables") throw new UsageError(`--policy: expected nft or iptables (got ${opts.policy})`);
      const holdTime = positiveInt("--hold-time", opts.holdTime);
      const r = parseTopology(readFileSync(opts.topology, "utf8"), opts.topology, { readFile: (p) => readFileSync(p, "utf8") });
      if (!r.topology) throw new InputError(r.problems);
      let datastore: Datastore;
      if (opts.etcd) datastore = new EtcdDatastore({ endpoints: opts.etcd.split(","), namespace: opts.etcdNamespace, dialTimeoutMs: 3000, requestTimeoutMs: 5000 });
      else {
        process.stderr.write("no --etcd given: using an in-memory datastore (this node cannot share IPAM with others)\n");
        datastore = new MemoryDatastore();
      }
      try {
        let daemon: AgentDaemon;
        try {
          daemon = new AgentDaemon({
            node: opts.node,
            cluster: topologyClusterView(r.topology),
            datastore,
            policy: opts.policy,
            ...(opts.control !== undefined ? { control: opts.control } : {}),
            ...(holdTime !== undefined ? { holdTime, connectRetryTime: Math.max(1, Math.min(5, Math.floor(holdTime / 3))) } : {}),
          });
        } catch (e) {
          throw new UsageError(e instanceof Error ? e.message : String(e));
        }
        await runUntilSignal(daemon);
      } finally {
        await datastore.close();
      }
    });

  withOutput(
    agent
      .command("show")
      .description("ask a running agent over its control socket: sessions, routes or pods")
      .argument("<what>", "sessions | routes | pods | status")
      .requiredOption("--socket <path>", "the agent's control socket (its --control)"),
  ).action(async (what: string, opts: { socket: string; output: OutputFormat }) => {
    if (!["sessions", "routes", "pods", "status"].includes(what)) throw new UsageError(`expected sessions, routes, pods or status (got ${what})`);
    let reply: Record<string, unknown>;
    try {
      reply = await queryControl(opts.socket, what);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (typeof reply.error === "string") throw new UsageError(reply.error);
    process.stdout.write(
      render(reply, opts.output, () => {
        const rows = (what === "status" ? [reply] : ((reply[what] as Record<string, unknown>[] | undefined) ?? [])) as Record<string, unknown>[];
        if (rows.length === 0) return `no ${what}\n`;
        const cols = Object.keys(rows[0]!).filter((k) => rows.every((r) => typeof r[k] !== "object" || r[k] === null));
        return formatTable(cols, rows.map((r) => cols.map((c) => String(r[c] ?? ""))));
      }),
    );
  });
}
