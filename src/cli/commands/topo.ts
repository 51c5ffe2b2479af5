// `birdcage topo validate|show|export FILE`: check a topology file (file:line:col problems, exit 2),
// show its segments, routers, nodes and BGP sessions, or export it as JSON, Graphviz dot or a
// containerlab topology file.
import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { stringify } from "yaml";
import { formatProblems } from "../../core/model/index.ts";
import { bgpPeerings, buildGraph, parseTopology, topologyToClab, topologyToDot, topologyToJSON, type Topology } from "../../topology/index.ts";
import { EXIT_BAD_INPUT } from "../errors.ts";
import { displayName, readInput } from "../io.ts";
import { formatTable, render, withOutput, type OutputFormat } from "../output.ts";

/** Loads FILE; on problems prints them and sets exit code 2, returning undefined. */
async function load(path: string): Promise<Topology | undefined> {
  const text = await readInput(path);
  const r = parseTopology(text, displayName(path), { readFile: (p) => readFileSync(p, "utf8") });
  if (!r.topology) {
    process.stderr.write(formatProblems(r.problems));
    process.exitCode = EXIT_BAD_INPUT;
    return undefined;
  }
  return r.topology;
}

export function summarize(t: Topology) {
  const peerings = bgpPeerings(t);
  const g = buildGraph(t);
  const pool = t.cluster.ipPools.map((p) => `${p.spec.cidr} (ipip ${p.spec.ipipMode}, vxlan ${p.spec.vxlanMode})`).join(", ");
  return {
    name: t.name,
    segments: t.segments.length,
    routers: t.routers.length,
    nodes: t.nodes.length,
    routeReflectors: t.nodes.filter((n) => n.routeReflectorClusterID !== undefined).length,
    bgpSessions: peerings.length,
    nodeToNodeMesh: t.cluster.nodeToNodeMesh,
    ipPools: pool,
    tunnelMTU: t.cluster.tunnelMTU,
    graph: { vertices: g.order, edges: g.size },
  };
}

/** Sessions listed in the table form; JSON/YAML list them all. */
const TABLE_SESSIONS = 2000;

export function registerTopo(program: Command): void {
  const topo = program.command("topo").description("topology files (topologies/*.yaml): validate, show, export");

  withOutput(topo.command("validate").description("check a topology file: a summary, or every problem as file:line:col: message (exit 2)").argument("<file>", 'topology file ("-" reads standard input)')).action(
    async (file: string, opts: { output: OutputFormat }) => {
      const t = await load(file);
      if (!t) return;
      const s = summarize(t);
      process.stdout.write(
        render(s, opts.output, () => `${displayName(file)}: topology ${s.name} OK: ${s.segments} segments, ${s.routers} routers, ${s.nodes} nodes (${s.routeReflectors} route reflectors), ${s.bgpSessions} BGP sessions${s.nodeToNodeMesh ? " (node-to-node mesh)" : ""}; pools ${s.ipPools}; tunnel MTU ${s.tunnelMTU}\n`),
      );
    },
  );

  withOutput(topo.command("show").description("segments, routers, nodes and BGP sessions of a topology").argument("<file>", "topology file")).action(async (file: string, opts: { output: OutputFormat }) => {
    const t = await load(file);
    if (!t) return;
    const peerings = bgpPeerings(t);
    const data = {
      summary: summarize(t),
      segments: t.segments,
      routers: t.routers.map((r) => ({ name: r.name, interfaces: r.interfaces, staticRoutes: r.staticRoutes.length, ...(r.bgp ? { asNumber: r.bgp.asNumber } : {}) })),
      nodes: t.nodes,
      peerings,
    };
    process.stdout.write(
      render(data, opts.output, () =>
        [
          `SEGMENTS\n${formatTable(["NAME", "SUBNET", "SUBNETV6", "MTU"], t.segments.map((s) => [s.name, s.subnet ?? "-", s.subnetV6 ?? "-", s.mtu]))}`,
          `ROUTERS\n${formatTable(["NAME", "INTERFACES", "STATIC ROUTES", "BGP AS"], t.routers.map((r) => [r.name, r.interfaces.map((i) => `${i.segment}=${i.address ?? i.addressV6}`).join(" "), r.staticRoutes.length, r.bgp?.asNumber ?? "-"]))}`,
          `NODES\n${formatTable(["NAME", "SEGMENT", "ADDRESS", "AS", "RR CLUSTER", "LABELS"], t.nodes.map((n) => [n.name, n.segment, n.address ?? n.addressV6 ?? "-", n.asNumber, n.routeReflectorClusterID ?? "-", Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(",")]))}`,
          `BGP SESSIONS (${peerings.length})\n${formatTable(["A", "B", "TYPE", "REFLECTED", "FROM"], peerings.slice(0, TABLE_SESSIONS).map((p) => [p.a, p.b, p.type, p.reflected ? "yes" : "no", p.source]))}` +
            (peerings.length > TABLE_SESSIONS ? `... ${peerings.length - TABLE_SESSIONS} more (--output json|yaml lists all)\n` : ""),
        ].join("\n"),
      ),
    );
  });

  topo
    .command("export")
    .description("print a topology as JSON (expanded), Graphviz dot, or a containerlab topology file (YAML)")
    .argument("<file>", "topology file")
    .addOption(new Option("-f, --format <format>", "export format").choices(["json", "dot", "clab"]).default("json"))
    .action(async (file: string, opts: { format: "json" | "dot" | "clab" }) => {
      const t = await load(file);
      if (!t) return;
      if (opts.format === "json") process.stdout.write(JSON.stringify(topologyToJSON(t), null, 2) + "\n");
      else if (opts.format === "dot") process.stdout.write(topologyToDot(t));
      else process.stdout.write(stringify(topologyToClab(t)));
    });
}
