// `birdcage policy eval FILE... --from A --to B ...`: the Calico verdict for one flow over the
// policies, namespaces, pods and endpoints in resource files, with the trace of what decided.
// `birdcage policy show FILE... [--endpoint X]`: the policies that apply to each endpoint.
// `birdcage policy matrix FILE... --port N`: allowed/denied for every pair of endpoints.
// `birdcage policy selector TEXT [--labels k=v,...]`: a selector's canonical form, unique ID and
// whether it matches label sets.
import { Option, type Command } from "commander";
import { isIP } from "../../core/net/ip.ts";
import { LoadedResources, loadResources } from "../../core/model/index.ts";
import {
  PolicySet,
  explainFlow,
  policyInputFromResources,
  type Flow,
  type FlowResult,
} from "../../core/policy/index.ts";
import { parseSelector, SelectorParseError } from "../../core/policy/selector/index.ts";
import { CheckFailed, UsageError } from "../errors.ts";
import { displayName, readInput } from "../io.ts";
import { formatTable, render, withOutput, type OutputFormat } from "../output.ts";

interface EvalOptions {
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

async function loadAll(files: string[]): Promise<LoadedResources> {
  const entries = [];
  for (const path of files) entries.push(...loadResources(await readInput(path), displayName(path)).entries);
  return new LoadedResources(entries);
}

function registerEval(policy: Command): void {
  withOutput(
    policy
      .command("eval")
      .description(
        "evaluate one flow against the Calico/Kubernetes policies in the files: egress policy of the source endpoint, " +
          "then ingress policy of the destination endpoint; prints the verdict and what decided it " +
          "(exit 1 if it differs from --expect, 2 on bad input)",
      )
      .argument("<file...>", 'resource files (Calico v3, Kubernetes, Lists; "-" reads standard input)')
      .requiredOption("--from <address|pod>", "source: an IP address or an endpoint name (name or namespace/name)")
      .requiredOption("--to <address|pod>", "destination: an IP address or an endpoint name")
      .option("--protocol <name|number>", "TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255", "TCP")
      .option("--port <n>", "destination port")
      .option("--src-port <n>", "source port")
      .option("--icmp-type <n>", "ICMP type")
      .option("--icmp-code <n>", "ICMP code")
      .addOption(new Option("--expect <verdict>", "fail (exit 1) unless the verdict is this").choices(["allow", "deny"])),
  ).action(async (files: string[], opts: EvalOptions) => {
    const set = new PolicySet(policyInputFromResources(await loadAll(files)));
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
  withOutput(
    policy
      .command("show")
      .description("list the endpoints in the files with the policies that apply to each, in evaluation order (json/yaml add effective labels)")
      .argument("<file...>", 'resource files (Calico v3, Kubernetes, Lists; "-" reads standard input)')
      .option("--endpoint <name>", "only this endpoint (name or namespace/name)"),
  ).action(async (files: string[], opts: { endpoint?: string; output: OutputFormat }) => {
    const set = new PolicySet(policyInputFromResources(await loadAll(files)));
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
  withOutput(
    policy
      .command("matrix")
      .description("the verdict for every pair of endpoints in the files (rows: from, columns: to) for one protocol and port")
      .argument("<file...>", 'resource files (Calico v3, Kubernetes, Lists; "-" reads standard input)')
      .option("--protocol <name|number>", "TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255", "TCP")
      .option("--port <n>", "destination port")
      .option("--family <4|6>", "address family to use for endpoints with both", "4"),
  ).action(async (files: string[], opts: { protocol: string; port?: string; family: string; output: OutputFormat }) => {
    if (opts.family !== "4" && opts.family !== "6") throw new UsageError(`--family must be 4 or 6 (got "${opts.family}")`);
    const family = opts.family === "4" ? 4 : 6;
    const set = new PolicySet(policyInputFromResources(await loadAll(files)));
    const dstPort = intOption("port", opts.port, 65535);
    const protocol = /^\d+$/.test(opts.protocol) ? Number(opts.protocol) : opts.protocol;
    const endpoints = set
      .describeEndpoints()
      .map((e) => {
        const name = `${e.endpoint.namespace !== undefined ? `${e.endpoint.namespace}/` : ""}${e.endpoint.name}`;
        return { name, ip: set.findEndpoint(name, family)?.ip };
      })
      .filter((e): e is { name: string; ip: string } => e.ip !== undefined);
    const flows = endpoints.flatMap((from) =>
      endpoints.map((to) => {
        const r = set.evaluate({ src: from.ip, dst: to.ip, protocol, ...(dstPort !== undefined ? { dstPort } : {}) });
        return { from: from.name, to: to.name, verdict: r.allowed ? "allow" : "deny", egress: r.egress.decision, ingress: r.ingress.decision };
      }),
    );
    const verdicts = new Map(flows.map((f) => [`${f.from}\u0000${f.to}`, f.verdict]));
    const cell = (from: string, to: string): string => (verdicts.get(`${from}\u0000${to}`) === "allow" ? "." : "X");
    process.stdout.write(
      render({ protocol, ...(dstPort !== undefined ? { port: dstPort } : {}), flows }, opts.output, () => {
        const index = endpoints.map((e, i) => `${i + 1}: ${e.name}`).join("\n");
        const table = formatTable(
          ["FROM \\ TO", ...endpoints.map((_, i) => String(i + 1))],
          endpoints.map((from, i) => [`${i + 1}`, ...endpoints.map((to) => cell(from.name, to.name))]),
        );
        return `${index}\n\n${table}(. allowed, X denied)\n`;
      }),
    );
  });
}

export function registerPolicy(program: Command): void {
  const policy = program.command("policy").description("Calico network policy: evaluate flows, list what applies, check selectors");
  registerEval(policy);
  registerShow(policy);
  registerMatrix(policy);
  registerSelector(policy);
}
