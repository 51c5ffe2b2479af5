// `birdcage ipam plan|check|show`: sizing a pool with the real allocator, and inspecting the IPAM
// state that agents keep in etcd (in the spirit of `calicoctl ipam check|show`).
import { Option, type Command } from "commander";
import { SingleBar } from "cli-progress";
import type { Datastore } from "../../core/datastore/port.ts";
import {
  Ipam,
  checkIpam,
  isIpamError,
  planIpam,
  type CheckReport,
  type PlanEncapsulation,
  type PlanInput,
  type PlanResult,
} from "../../core/ipam/index.ts";
import {
  ICP_DEFAULTS,
  detectFileShape,
  loadIcpConfig,
  loadResourceFiles,
  type IPPool,
  type LoadedResources,
} from "../../core/model/index.ts";
import { parsePrefix } from "../../core/net/ip.ts";
import { EtcdDatastore } from "../../../real/datastore/etcd.ts";
import { CheckFailed, UsageError } from "../errors.ts";
import { displayName, readInput } from "../io.ts";
import { formatTable, render, withOutput, type OutputFormat } from "../output.ts";

const int = (name: string) => (v: string): number => {
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a whole number, got "${v}"`);
  return Number(v);
};

export function registerIpam(program: Command): void {
  const ipam = program.command("ipam").description("IP address management: size pools, check and inspect allocations");

  withOutput(
    ipam
      .command("plan")
      .description(
        "run the real allocator on an in-memory datastore: N nodes, M pods each, node by node; is the pool big enough?",
      )
      .option("--pool <cidr>", `pool CIDR (default: the ICP default network_cidr ${ICP_DEFAULTS.networkCIDR})`)
      .option("-f, --file <file>", "take the pool (and IPAMConfiguration) from an IPPool resource file or an ICP config.yaml")
      .option("--block-size <n>", "block prefix length (default 26 for IPv4, 122 for IPv6)", int("--block-size"))
      .requiredOption("--nodes <n>", "number of nodes", int("--nodes"))
      .requiredOption("--pods-per-node <m>", "pods created on each node", int("--pods-per-node"))
      .option("--strict-affinity", "never borrow addresses from other nodes' blocks")
      .option("--max-blocks-per-host <k>", "per-node block cap (needs --strict-affinity, as in Calico)", int("--max-blocks-per-host"))
      .addOption(
        new Option("--encapsulation <mode>", "tunnel mode: each node also gets a tunnel address").choices(["none", "ipip", "vxlan"]),
      ),
  ).action(async (opts: PlanCliOptions) => {
    const input = await planInput(opts);
    const bar = progressBar(input.nodes);
    let result: PlanResult;
    try {
      result = await planIpam(input, bar ? { onProgress: (done) => bar.update(done) } : {});
    } catch (e) {
      if (isIpamError(e) && (e.code === "InvalidArgument" || e.code === "InvalidPool")) throw new UsageError(e.message);
      throw e;
    } finally {
      bar?.stop();
    }
    process.stdout.write(render(result, opts.output, () => planTable(result)));
    if (result.failed > 0) throw new CheckFailed(`${result.failed} assignment(s) failed`);
  });

  withOutput(
    etcdOptions(
      ipam
        .command("check")
        .description("check the IPAM data in etcd: leaked addresses, blocks without affinity, handle mismatches")
        .option("-f, --file <file...>", "pods (and Calico Nodes) that exist; allocations for anything else are leaks"),
    ),
  ).action(async (opts: EtcdCliOptions & { file?: string[]; output: OutputFormat }) => {
    const live = opts.file ? await loadFiles(opts.file) : undefined;
    const report = await withDatastore(opts, (store) =>
      checkIpam(store, live ? { liveWorkloads: live.pods.map((p) => ({ namespace: String(p.metadata.namespace ?? "default"), pod: p.metadata.name })) } : {}),
    );
    process.stdout.write(render(report, opts.output, () => checkTable(report, live !== undefined)));
    if (!report.ok) throw new CheckFailed(`ipam check found ${report.summary.problems} problem(s)`);
  });

  withOutput(
    etcdOptions(
      ipam
        .command("show")
        .description("show blocks and usage in etcd, or who holds one address")
        .option("--ip <address>", "show one address: in use or not, handle and owner attributes"),
    ),
  ).action(async (opts: EtcdCliOptions & { ip?: string; output: OutputFormat }) => {
    await withDatastore(opts, async (store) => {
      const client = new Ipam(store, { pools: [] });
      if (opts.ip !== undefined) {
        const info = await client.lookup(opts.ip).catch((e: unknown) => {
          throw isIpamError(e) ? new UsageError(e.message) : e;
        });
        process.stdout.write(
          render(info, opts.output, () => {
            if (!info.allocated) return `IP ${info.address} is not currently assigned${info.block ? ` (block ${info.block})` : ""}\n`;
            const attrs = Object.entries(info.attributes).map(([k, v]) => `${k}:${v}`).join(" ");
            return `IP ${info.address} is in use\nBlock: ${info.block} (host ${info.blockHost ?? "none"})${info.borrowed ? " - borrowed" : ""}\nHandle ID: ${info.handleId ?? "none"}\nActive Owner Attributes: ${attrs}\n`;
          }),
        );
        return;
      }
      const blocks = await client.blocks();
      process.stdout.write(
        render({ blocks }, opts.output, () =>
          formatTable(
            ["BLOCK", "HOST", "IPS TOTAL", "IPS IN USE", "IPS FREE"],
            blocks.map((b) => [b.cidr, b.host ?? "-", b.capacity, `${b.inUse} (${pct(b.inUse, b.capacity)})`, `${b.free} (${pct(b.free, b.capacity)})`]),
          ),
        ),
      );
    });
  });
}

// ------------------------------------------------------------------------------------------- plan

interface PlanCliOptions {
  pool?: string;
  file?: string;
  blockSize?: number;
  nodes: number;
  podsPerNode: number;
  strictAffinity?: boolean;
  maxBlocksPerHost?: number;
  encapsulation?: PlanEncapsulation;
  output: OutputFormat;
}

/** Pool and settings from the file (if any), overridden by flags. */
async function planInput(opts: PlanCliOptions): Promise<PlanInput> {
  if (opts.pool !== undefined && opts.file !== undefined) throw new UsageError("give --pool or -f, not both");
  let fromFile: Partial<PlanInput> = {};
  if (opts.file !== undefined) fromFile = await planSettingsFromFile(opts.file);
  const pool = opts.pool ?? fromFile.pool ?? ICP_DEFAULTS.networkCIDR;
  try {
    parsePrefix(pool);
  } catch (e) {
    throw new UsageError(`--pool: ${(e as Error).message}`);
  }
  const input: PlanInput = {
    pool,
    nodes: opts.nodes,
    podsPerNode: opts.podsPerNode,
    strictAffinity: opts.strictAffinity ?? fromFile.strictAffinity ?? false,
    maxBlocksPerHost: opts.maxBlocksPerHost ?? fromFile.maxBlocksPerHost ?? 0,
    encapsulation: opts.encapsulation ?? fromFile.encapsulation ?? "none",
  };
  const blockSize = opts.blockSize ?? fromFile.blockSize;
  if (blockSize !== undefined) input.blockSize = blockSize;
  if ((input.maxBlocksPerHost ?? 0) > 0 && !input.strictAffinity) {
    throw new UsageError("--max-blocks-per-host needs --strict-affinity (Calico rejects maxBlocksPerHost without strictAffinity)");
  }
  return input;
}

async function planSettingsFromFile(file: string): Promise<Partial<PlanInput>> {
  const text = await readInput(file);
  const name = displayName(file);
  if (detectFileShape(text) === "icp-config") {
    const icp = loadIcpConfig(text, name);
    return poolSettings(icp.pool);
  }
  const resources = loadResourceFiles([{ text, file: name }]);
  const pools = resources.ipPools;
  const pool = pools[0];
  if (!pool) throw new UsageError(`${name}: no IPPool in this file`);
  if (pools.length > 1) {
    throw new UsageError(`${name}: ${pools.length} IPPools (${pools.map((p) => p.metadata.name).join(", ")}); plan one pool at a time`);
  }
  const settings = poolSettings(pool);
  const cfg = resources.ipamConfig?.spec;
  if (cfg) {
    settings.strictAffinity = cfg.strictAffinity;
    settings.maxBlocksPerHost = cfg.maxBlocksPerHost;
  }
  return settings;
}

function poolSettings(pool: IPPool): Partial<PlanInput> {
  const s = pool.spec;
  const encapsulation: PlanEncapsulation = s.vxlanMode !== "Never" ? "vxlan" : s.ipipMode !== "Never" ? "ipip" : "none";
  return { pool: s.cidr, blockSize: s.blockSize, encapsulation };
}

function progressBar(total: number): SingleBar | undefined {
  if (!process.stderr.isTTY || process.env.CI || total < 200) return undefined;
  const bar = new SingleBar({ format: "planning [{bar}] {value}/{total} nodes", stream: process.stderr, hideCursor: true });
  bar.start(total, 0);
  return bar;
}

const pct = (part: number, whole: number): string => (whole === 0 ? "0%" : `${Math.round((part / whole) * 100)}%`);
const num = (n: number): string => n.toLocaleString("en-US");

/** What a user should do, worked out from the plan's numbers. */
export function planAdvice(r: PlanResult): string[] {
  const bits = r.pool.includes(":") ? 128 : 32;
  const poolLen = Number(r.pool.split("/")[1]);
  const perNode = r.podsPerNode + (r.encapsulation === "none" ? 0 : 1);
  const blocksPerNodeNeeded = Math.max(1, Math.ceil(perNode / r.addressesPerBlock));
  const blocksNeeded = r.nodes * blocksPerNodeNeeded;
  // The largest pool prefix length (smallest pool) that gives every node blocks of its own.
  const neededPoolLen = r.blockSize - Math.ceil(Math.log2(blocksNeeded));
  // The block size that fits the same pool, if one does (smallest blocks waste the fewest addresses).
  let fittingBlockSize: number | null = null;
  for (let bs = Math.min(bits, poolLen + 30); bs >= poolLen; bs--) {
    const per = Math.max(1, Math.ceil(perNode / 2 ** (bits - bs)));
    if (r.nodes * per <= 2 ** (bs - poolLen) && per <= r.maxBlocksPerHost && bs >= (bits === 32 ? 20 : 116) && bs <= bits) {
      fittingBlockSize = bs;
      break;
    }
  }
  const out: string[] = [];
  const enough = r.failed === 0 && r.borrowed === 0 && r.blockLimitAtNode === null;
  if (enough) {
    const spare = Math.floor((r.totalBlocks - r.blocksClaimed) / blocksPerNodeNeeded);
    out.push(
      `OK: ${r.pool} is big enough. ${num(r.nodes)} nodes × ${num(r.podsPerNode)} pods use ${num(r.blocksClaimed)} of ${num(r.totalBlocks)} /${r.blockSize} blocks (${pct(r.blocksClaimed, r.totalBlocks)}); room for about ${num(spare)} more nodes like these.`,
    );
    return out;
  }
  if (r.blockLimitAtNode !== null) {
    out.push(
      `Node ${r.blockLimitAtNode} reached the per-node cap of ${r.maxBlocksPerHost} blocks (${num(r.maxBlocksPerHost * r.addressesPerBlock)} addresses) before all ${num(perNode)} of its addresses were assigned: raise maxBlocksPerHost to at least ${blocksPerNodeNeeded} or use larger blocks.`,
    );
  }
  if (r.exhaustedAtNode !== null) {
    const what = r.strictAffinity
      ? `with strict affinity nothing is borrowed, so ${num(r.failed)} assignment(s) failed`
      : r.failed > 0
        ? `nodes borrowed ${num(r.borrowed)} addresses from other nodes' blocks and ${num(r.failed)} assignment(s) still failed`
        : `from there on nodes borrow from other nodes' blocks: ${num(r.borrowed)} addresses, each advertised as its own /${bits} route`;
    out.push(`The pool has no free block left for node ${r.exhaustedAtNode}: ${what}.`);
    const fixes = [`a pool of /${Math.max(0, neededPoolLen)} or larger`];
    if (fittingBlockSize !== null && fittingBlockSize !== r.blockSize) fixes.push(`--block-size ${fittingBlockSize} on this pool`);
    out.push(`For every node to have blocks of its own, use ${fixes.join(", or ")}.`);
  }
  if (r.firstFailure) out.push(`First failure: ${r.firstFailure.node} ${r.firstFailure.what}: ${r.firstFailure.message}`);
  return out;
}

function planTable(r: PlanResult): string {
  const rows: [string, string][] = [
    ["pool", `${r.pool} (${num(r.poolSize)} addresses)`],
    ["blocks", `${num(r.totalBlocks)} × /${r.blockSize} (${num(r.addressesPerBlock)} addresses each)`],
    ["nodes × pods", `${num(r.nodes)} × ${num(r.podsPerNode)}${r.encapsulation === "none" ? "" : ` + 1 ${r.encapsulation} tunnel address each`}`],
    ["settings", `strictAffinity ${r.strictAffinity}, maxBlocksPerHost ${r.maxBlocksPerHost}`],
    ["blocks claimed", `${num(r.blocksClaimed)} (${pct(r.blocksClaimed, r.totalBlocks)} of the pool); per node min ${r.blocksPerNode.min}, max ${r.blocksPerNode.max}`],
    ["allocated", `${num(r.allocated)} (${pct(r.allocated, r.poolSize)} of the pool, ${pct(r.allocated, r.blocksClaimed * r.addressesPerBlock)} of claimed blocks)`],
    ["borrowed", `${num(r.borrowed)}${r.nodesBorrowing ? ` by ${num(r.nodesBorrowing)} nodes` : ""}`],
    ["failed", num(r.failed)],
    ["exhausted at node", r.exhaustedAtNode === null ? "-" : String(r.exhaustedAtNode)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n\n" + planAdvice(r).join("\n") + "\n";
}

// ------------------------------------------------------------------------------ check and show

interface EtcdCliOptions {
  etcd: string;
  etcdNamespace: string;
}

function etcdOptions(cmd: Command): Command {
  return cmd
    .option("--etcd <endpoints>", "etcd endpoint(s), comma-separated", process.env.BIRDCAGE_ETCD ?? "http://127.0.0.1:2379")
    .option("--etcd-namespace <ns>", "birdcage keeps its keys under /birdcage/<ns>/ in etcd", "default");
}

async function withDatastore<T>(opts: EtcdCliOptions, fn: (store: Datastore) => Promise<T>): Promise<T> {
  let store: EtcdDatastore;
  try {
    store = new EtcdDatastore({ endpoints: opts.etcd.split(","), namespace: opts.etcdNamespace, dialTimeoutMs: 3000, requestTimeoutMs: 5000 });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  try {
    return await fn(store);
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "Unavailable") {
      throw new UsageError(`cannot reach etcd at ${opts.etcd}: ${e.message}`);
    }
    throw e;
  } finally {
    await store.close();
  }
}

async function loadFiles(files: string[]): Promise<LoadedResources> {
  const inputs = await Promise.all(files.map(async (f) => ({ text: await readInput(f), file: displayName(f) })));
  return loadResourceFiles(inputs);
}

function checkTable(r: CheckReport, hadPods: boolean): string {
  const s = r.summary;
  const lines = [
    `Checked ${s.blocks} blocks, ${s.allocations} allocations, ${s.handles} handles, ${s.affinities} affinities.`,
    hadPods ? `Leaked addresses: ${r.leaked.length}` : "Leaked addresses: not checked (give the live pods with -f)",
    ...r.leaked.map((l) => `  ${l.address} in ${l.block}: ${l.reason}${l.handleId ? ` (handle ${l.handleId})` : ""}`),
    `Blocks without affinity: ${r.blocksWithoutAffinity.length}`,
    ...r.blocksWithoutAffinity.map((b) => `  ${b.cidr}: ${b.empty ? "empty" : `${b.inUse} addresses in use`}`),
    `Handle mismatches: ${r.handleMismatches.length}`,
    ...r.handleMismatches.map((h) => `  ${h.handleId} in ${h.block}: ${h.problem} (recorded ${h.recorded}, actual ${h.actual})`),
    `Affinities without blocks: ${r.affinitiesWithoutBlocks.length}`,
    ...r.affinitiesWithoutBlocks.map((a) => `  ${a.host} ${a.cidr} (${a.state})`),
    `Affinity mismatches: ${r.affinityMismatches.length}`,
    ...r.affinityMismatches.map((a) => `  ${a.host} ${a.cidr}: block says ${a.blockAffinity ?? "no affinity"}`),
    r.ok ? "IPAM is consistent." : `Found ${s.problems} problem(s).`,
  ];
  return lines.join("\n") + "\n";
}

