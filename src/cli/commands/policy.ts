// `birdcage policy eval FILE... --from A --to B ...`: the Calico verdict for one flow over the
// policies, namespaces, pods and endpoints in resource files, with the trace of what decided.
// `birdcage policy show FILE... [--endpoint X]`: the policies that apply to each endpoint.
// `birdcage policy matrix -f FILE... --probes 80/TCP,...`: e2e-style truth tables between all pods.
// `birdcage policy render -f FILE... --node N --format nft|iptables`: the node's filter ruleset.
// `birdcage policy selector TEXT [--labels k=v,...]`: a selector's canonical form, unique ID and
// whether it matches label sets.
import { Option, type Command } from "commander";
import { isIP, type Family } from "../../core/net/ip.ts";
import { LoadedResources, loadResources } from "../../core/model/index.ts";
import {
  PolicySet,
  explainFlow,
  policyInputFromResources,
  type Flow,
  type FlowResult,
} from "../../core/policy/index.ts";
import { parseSelector, SelectorParseError } from "../../core/policy/selector/index.ts";
import { formatTruthTables, parseProbes, reachability, truthTableJson, type Probe } from "../../core/policy/matrix.ts";
import { planNode } from "../../core/policy/render/plan.ts";
import { renderNft } from "../../core/policy/render/nft.ts";
import { IPTABLES_HOOK, IPTABLES_HOST_HOOKS, renderIptables } from "../../core/policy/render/iptables.ts";
import { CheckFailed, UsageError } from "../errors.ts";
import { displayName, readInput } from "../io.ts";
import { formatTable, render, withOutput, type OutputFormat } from "../output.ts";

interface EvalOptions extends FileOptions {
  from: string;
  to: string;
  protocol: string;
  port?: string;
  srcPort?: string;
  icmpType?: string;
  icmpCode?: string;
  expect?: "allow" | "deny";
  output: OutputFormat;
}

function intOption(name: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > max) throw new UsageError(`--${name} must be an integer 0-${max} (got "${text}")`);
  return Number(text);
}

/** An address, or an endpoint given as `name` / `namespace/name`. */
function resolveAddress(set: PolicySet, text: string, option: string): string {
  if (isIP(text)) return text;
  const found = set.findEndpoint(text);
  if (found === undefined) throw new UsageError(`--${option} ${text}: not an IP address and no endpoint (pod) has that name`);
  return found.ip;
}

interface FileOptions {
  filename?: string[];
}

/** Resource files as `-f FILE...` and/or positional arguments; "-" is standard input. */
function withFiles(cmd: Command): Command {
  return cmd
    .argument("[file...]", 'resource files (Calico v3, Kubernetes, Lists; "-" reads standard input)')
    .option("-f, --filename <file...>", 'resource files (Calico v3, Kubernetes, kubectl Lists; "-" reads standard input)');
}

async function loadPolicySet(positional: readonly string[], opts: FileOptions): Promise<PolicySet> {
  const files = [...(opts.filename ?? []), ...positional];
  if (files.length === 0) throw new UsageError("no input: give resource files with -f FILE... (or -f - for standard input)");
  return new PolicySet(policyInputFromResources(await loadAll(files)));
}

async function loadAll(files: string[]): Promise<LoadedResources> {
  const entries = [];
  for (const path of files) entries.push(...loadResources(await readInput(path), displayName(path)).entries);
  return new LoadedResources(entries);
}

function registerEval(policy: Command): void {
  withFiles(withOutput(
    policy
      .command("eval")
      .description(
        "evaluate one flow against the Calico/Kubernetes policies in the files: egress policy of the source endpoint, " +
          "then ingress policy of the destination endpoint; prints the verdict and what decided it " +
          "(exit 1 if it differs from --expect, 2 on bad input)",
      )
      .requiredOption("--from <address|pod>", "source: an IP address or an endpoint name (name or namespace/name)")
      .requiredOption("--to <address|pod>", "destination: an IP address or an endpoint name")
      .option("--protocol <name|number>", "TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255", "TCP")
      .option("--port <n>", "destination port")
      .option("--src-port <n>", "source port")
      .option("--icmp-type <n>", "ICMP type")
      .option("--icmp-code <n>", "ICMP code")
      .addOption(new Option("--expect <verdict>", "fail (exit 1) unless the verdict is this").choices(["allow", "deny"])),
  )).action(async (files: string[], opts: EvalOptions) => {
    const set = await loadPolicySet(files, opts);
    const dstPort = intOption("port", opts.port, 65535);
    const srcPort = intOption("src-port", opts.srcPort, 65535);
    const icmpType = intOption("icmp-type", opts.icmpType, 255);
    const icmpCode = intOption("icmp-code", opts.icmpCode, 255);
    const flow: Flow = {
      src: resolveAddress(set, opts.from, "from"),
      dst: resolveAddress(set, opts.to, "to"),
      protocol: /^\d+$/.test(opts.protocol) ? Number(opts.protocol) : opts.protocol,
      ...(srcPort !== undefined ? { srcPort } : {}),
      ...(dstPort !== undefined ? { dstPort } : {}),
      ...(icmpType !== undefined ? { icmpType } : {}),
      ...(icmpCode !== undefined ? { icmpCode } : {}),
    };
    const result: FlowResult = set.evaluate(flow, { explain: true });
    const verdict = result.allowed ? "allow" : "deny";
    process.stdout.write(render({ flow, verdict, ...result }, opts.output, () => `${explainFlow(result).join("\n")}\n`));
    if (opts.expect !== undefined && opts.expect !== verdict) {
      throw new CheckFailed(`expected ${opts.expect}, got ${verdict}`);
    }
  });
}

function parseLabelSet(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === "") return labels;
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UsageError(`--labels "${text}": expected key=value[,key=value...]`);
    labels[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return labels;
}

function registerSelector(policy: Command): void {
  withOutput(
    policy
      .command("selector")
      .description("parse a Calico selector: canonical form, unique ID, and whether it matches each --labels set")
      .argument("<selector>", "the selector text (quote it for the shell)")
      .option("--labels <k=v,...>", "a label set to test (repeatable; an empty string is no labels)", (v: string, acc: string[]) => [...acc, v], [] as string[]),
  ).action((text: string, opts: { labels: string[]; output: OutputFormat }) => {
    let sel;
    try {
      sel = parseSelector(text);
    } catch (e) {
      if (e instanceof SelectorParseError) throw new UsageError(`${e.message}\n  ${text}\n  ${" ".repeat(Math.max(0, e.column - 1))}^`);
      throw e;
    }
    const tests = opts.labels.map((t) => {
      const labels = parseLabelSet(t);
      return { labels, matches: sel.matches(labels) };
    });
    const data = { selector: text, canonical: sel.canonical, uniqueId: sel.uniqueId, tests };
    process.stdout.write(
      render(data, opts.output, () =>
        [
          `canonical: ${sel.canonical}`,
          `uniqueId:  ${sel.uniqueId}`,
          ...tests.map((t) => `${t.matches ? "match   " : "no match"}  ${JSON.stringify(t.labels)}`),
        ].join("\n") + "\n",
      ),
    );
  });
}

function registerShow(policy: Command): void {
  withFiles(withOutput(
    policy
      .command("show")
      .description("list the endpoints in the files with the policies that apply to each, in evaluation order (json/yaml add effective labels)")
      .option("--endpoint <name>", "only this endpoint (name or namespace/name)"),
  )).action(async (files: string[], opts: FileOptions & { endpoint?: string; output: OutputFormat }) => {
    const set = await loadPolicySet(files, opts);
    let endpoints = set.describeEndpoints();
    if (opts.endpoint !== undefined) {
      const found = set.findEndpoint(opts.endpoint);
      if (found === undefined) throw new UsageError(`--endpoint ${opts.endpoint}: no endpoint has that name`);
      endpoints = endpoints.filter((e) => e.endpoint.name === found.endpoint.name && e.endpoint.namespace === found.endpoint.namespace);
    }
    const name = (e: (typeof endpoints)[number]): string => `${e.endpoint.namespace !== undefined ? `${e.endpoint.namespace}/` : ""}${e.endpoint.name}`;
    const list = (ps: readonly { tier: string; policy: string }[]): string => (ps.length === 0 ? "-" : ps.map((p) => `${p.tier}:${p.policy}`).join(", "));
    process.stdout.write(
      render({ endpoints, skippedPolicies: set.skippedPolicies }, opts.output, () =>
        formatTable(
          ["ENDPOINT", "KIND", "IPS", "INGRESS", "EGRESS"],
          endpoints.map((e) => [name(e), e.endpoint.kind, e.ips.join(","), list(e.ingress), list(e.egress)]),
        ),
      ),
    );
  });
}

function registerMatrix(policy: Command): void {
  withFiles(
    withOutput(
      policy
        .command("matrix")
        .description(
          "reachability truth table between all pods in the files, Kubernetes e2e style: one table per probe, " +
            "rows = client, columns = server, . allowed, X denied (json: {results: [{from, to, protocol, port, allowed}]})",
        )
        .option("--probes <list>", "comma-separated PORT/PROTOCOL probes (TCP, UDP, SCTP)", "80/TCP")
        .option("--family <4|6>", "address family to use for pods with both", "4"),
    ),
  ).action(async (positional: string[], opts: FileOptions & { probes: string; family: string; output: OutputFormat }) => {
    if (opts.family !== "4" && opts.family !== "6") throw new UsageError(`--family must be 4 or 6 (got "${opts.family}")`);
    let probes: Probe[];
    try {
      probes = parseProbes(opts.probes);
    } catch (e) {
      throw new UsageError(`--probes: ${(e as Error).message}`);
    }
    const set = await loadPolicySet(positional, opts);
    const r = reachability(set, probes, opts.family === "4" ? 4 : 6);
    process.stdout.write(render(truthTableJson(r), opts.output, () => formatTruthTables(r)));
  });
}

function registerRender(policy: Command): void {
  withFiles(
    withOutput(
      policy
        .command("render")
        .description(
          "print the Linux filter ruleset for one node's workloads (pods whose spec.nodeName is --node), felix-style: " +
            "nftables (table inet bc-filter, load with nft -f) or iptables (ipset restore + iptables-restore --noflush, " +
            "and ip6tables-restore --noflush when the ruleset has IPv6)",
        )
        .requiredOption("--node <name>", "the node whose workloads to render")
        .addOption(new Option("--format <format>", "ruleset format").choices(["nft", "iptables"]).default("nft"))
        .option("--iface-prefix <prefix>", "host-side interface name prefix of workload veths", "cali")
        .option("--family <4|6>", "iptables only: print this family's files (default: every family the ruleset has)"),
    ),
  ).action(async (positional: string[], opts: FileOptions & { node: string; format: "nft" | "iptables"; ifacePrefix: string; family?: string; output: OutputFormat }) => {
    if (opts.family !== undefined && opts.family !== "4" && opts.family !== "6") throw new UsageError(`--family must be 4 or 6 (got "${opts.family}")`);
    if (opts.family !== undefined && opts.format !== "iptables") throw new UsageError("--family goes with --format iptables (the nftables table is inet: both families)");
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,3}$/.test(opts.ifacePrefix)) {
      throw new UsageError(`--iface-prefix "${opts.ifacePrefix}": 1-4 letters, digits, "-" or "_", starting with a letter (interface names are prefix + 11 hex digits, at most 15)`);
    }
    const set = await loadPolicySet(positional, opts);
    const plan = planNode(set, { node: opts.node, ifacePrefix: opts.ifacePrefix });
    if (plan.endpoints.length === 0) {
      const nodes = [...new Set(set.describeEndpoints().flatMap((e) => (e.node !== undefined ? [e.node] : [])))].sort();
      process.stderr.write(`birdcage: warning: no workloads on node ${opts.node}${nodes.length > 0 ? ` (nodes with workloads: ${nodes.join(", ")})` : ""}\n`);
    }
    const interfaces = plan.endpoints.map((e) => ({ endpoint: e.id, interface: e.iface, ips: e.ips }));
    if (opts.format === "nft") {
      const nft = renderNft(plan);
      process.stdout.write(render({ format: "nft", node: opts.node, interfaces, nft }, opts.output, () => nft));
    } else {
      const families: Family[] = opts.family !== undefined ? [opts.family === "6" ? 6 : 4] : [...plan.families];
      const hooks = [IPTABLES_HOOK, ...(plan.hostEndpoints.length > 0 ? IPTABLES_HOST_HOOKS : [])];
      const files = families.map((family) => {
        const tool = family === 4 ? "iptables" : "ip6tables";
        return { family, restore: `${tool}-restore`, ...renderIptables(plan, family), hooks: hooks.map((h) => `${tool} ${h.join(" ")}`) };
      });
      const v4 = files.find((f) => f.family === 4);
      const text = (): string =>
        files
          .map((f) => `# --- ipset restore (IPv${f.family}) ---\n${f.ipset}# --- ${f.restore} --noflush (then once: ${f.hooks.join("; ")}) ---\n${f.iptables}`)
          .join("\n");
      // `ipset`/`iptables` (the IPv4 files) stay at the top level for existing readers.
      const data = { format: "iptables", node: opts.node, interfaces, ...(v4 ? { ipset: v4.ipset, iptables: v4.iptables } : {}), families: files };
      process.stdout.write(render(data, opts.output, text));
    }
  });
}

export function registerPolicy(program: Command): void {
  const policy = program.command("policy").description("Calico network policy: evaluate flows, list what applies, check selectors");
  registerEval(policy);
  registerShow(policy);
  registerMatrix(policy);
  registerRender(policy);
  registerSelector(policy);
}
