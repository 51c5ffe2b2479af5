// Loading a topology file: YAML with positions (src/core/model's loader), the zod schema, generator
// expansion, cluster settings from inline resources / resource files / ICP config.yaml (each loaded
// by the model's loaders so their problems point into their own files), then the semantic checks.
// Every problem is collected before failing, each as file:line:col.
import { bgpConfigurationSchema, ipPoolSchema, type BGPConfiguration, type BGPPeer, type IPPool } from "../core/model/calico.ts";
import { parseAutodetectionMethod, parseIcpConfig, type IcpConfig } from "../core/model/icp.ts";
import { issueToProblems } from "../core/model/issues.ts";
import { parseResourceDocuments, parseResources } from "../core/model/load.ts";
import { InputError, sortProblems, type Problem, type SourcePos } from "../core/model/problems.ts";
import type { LoadedResources, ResourceEntry } from "../core/model/resources.ts";
import { validateResourceSet } from "../core/model/resource-set.ts";
import { parseYamlDocuments, type SourceDocument } from "../core/model/yaml-source.ts";
import { checkTopology } from "./check.ts";
import { expandGenerator } from "./generate.ts";
import { ENCAP_OVERHEAD, type ClusterSettings, type Origin, type Router, type Segment, type Topology, type TopologyNode, type TopologyOrigins } from "./model.ts";
import { topologyFileSchema, TOPOLOGY_API_VERSION, type TopologyFile } from "./schema.ts";

/** How the loader reads the files a topology refers to (the CLI passes node:fs; tests a map). */
export interface TopologyReader {
  /** The text of `path`; throws (any error) when it cannot be read. */
  readFile(path: string): string;
}

export interface TopologyParseResult {
  topology?: Topology;
  origins?: TopologyOrigins;
  /** Every problem, sorted; empty when the topology is valid. */
  problems: Problem[];
}

/** `rel` relative to the directory of `from` (POSIX paths; absolute `rel` as is). */
export function resolveRelative(from: string, rel: string): string {
  if (rel.startsWith("/")) return rel;
  const dir = from.includes("/") ? from.slice(0, from.lastIndexOf("/")) : ".";
  const parts: string[] = [];
  for (const seg of `${dir}/${rel}`.split("/")) {
    if (seg === "." || seg === "") {
      if (parts.length === 0 && dir.startsWith("/")) parts.push("");
      continue;
    }
    if (seg === ".." && parts.length > 0 && parts[parts.length - 1] !== ".." && parts[parts.length - 1] !== "") parts.pop();
    else parts.push(seg);
  }
  return parts.join("/") || ".";
}

/** True when the first document is `apiVersion: birdcage/v1, kind: Topology`. */
export function looksLikeTopology(value: unknown): boolean {
  return value !== null && typeof value === "object" && (value as Record<string, unknown>).apiVersion === TOPOLOGY_API_VERSION && (value as Record<string, unknown>).kind === "Topology";
}

export function parseTopology(text: string, file: string, reader: TopologyReader): TopologyParseResult {
  const parsed = parseYamlDocuments(text, file);
  const problems = [...parsed.problems];
  if (problems.length > 0) return { problems: sortProblems(problems) };
  const doc = parsed.documents[0];
  if (!doc) return { problems: [{ file, line: 1, column: 1, message: "empty file: expected a Topology (apiVersion: birdcage/v1, kind: Topology)" }] };
  if (parsed.documents.length > 1) problems.push({ ...parsed.documents[1]!.pos, message: "a topology file holds one document (put Calico resources under cluster.resources)" });
  return parseTopologyDocument(doc, file, reader, problems);
}

/**
 * A topology from an already parsed document, e.g. one written inline in a scenario file (`file` is
 * the file relative paths are resolved from; problems point into the document's own file).
 */
export function parseTopologyDocument(doc: SourceDocument, file: string, reader: TopologyReader, earlier: readonly Problem[] = []): TopologyParseResult {
  const problems = [...earlier];
  const result = topologyFileSchema.safeParse(doc.value);
  if (!result.success) return { problems: sortProblems([...problems, ...result.error.issues.flatMap((i) => issueToProblems(i, doc))]) };
  const spec = result.data;

  const origin = (path: (string | number)[]): Origin => ({ pos: doc.locate(path), at: (p, o) => doc.locate([...path, ...p], o), generated: false });
  const genPos = doc.locate(["generate"], { key: true });
  const genOrigin: Origin = { pos: genPos, at: () => genPos, generated: true };

  const cluster = resolveCluster(spec, doc, file, reader, problems);
  const clusterAS = cluster.settings.asNumber;

  const segments: Segment[] = spec.segments.map((s) => stripUndefined({ ...s }) as Segment);
  const routers: Router[] = spec.routers.map((r) => stripUndefined({ ...r, bgp: r.bgp ? { ...r.bgp, peers: r.bgp.peers.map(stripUndefined) } : undefined }) as Router);
  const nodes: TopologyNode[] = spec.nodes.map((n) => {
    const { asNumber, ...rest } = n;
    return stripUndefined({ ...rest, asNumber: asNumber ?? clusterAS, ...(asNumber !== undefined ? { asNumberOverride: asNumber } : {}) }) as TopologyNode;
  });
  const origins: TopologyOrigins = {
    segments: new Map(),
    routers: new Map(),
    nodes: new Map(),
    links: spec.links.map((_, i) => origin(["links", i])),
    segmentAt: [],
    routerAt: [],
    nodeAt: [],
  };
  const firstWins = (m: Map<string, Origin>, k: string, o: Origin) => {
    if (!m.has(k)) m.set(k, o);
  };

  let generatedPeers: BGPPeer[] = [];
  let usesRR = false;
  if (spec.generate) {
    const g = expandGenerator(spec.generate, clusterAS, (field) => doc.locate(["generate", field]));
    problems.push(...g.problems);
    if (g.generated) {
      segments.unshift(...g.generated.segments);
      routers.unshift(...g.generated.routers);
      nodes.unshift(...g.generated.nodes);
      generatedPeers = g.generated.bgpPeers;
      usesRR = g.generated.usesRouteReflectors;
      for (const s of g.generated.segments) firstWins(origins.segments, s.name, genOrigin);
      for (const r of g.generated.routers) firstWins(origins.routers, r.name, genOrigin);
      for (const n of g.generated.nodes) firstWins(origins.nodes, n.name, genOrigin);
    }
  }
  const genCount = { s: segments.length - spec.segments.length, r: routers.length - spec.routers.length, n: nodes.length - spec.nodes.length };
  origins.segmentAt.push(...Array.from({ length: genCount.s }, () => genOrigin), ...spec.segments.map((_, i) => origin(["segments", i])));
  origins.routerAt.push(...Array.from({ length: genCount.r }, () => genOrigin), ...spec.routers.map((_, i) => origin(["routers", i])));
  origins.nodeAt.push(...Array.from({ length: genCount.n }, () => genOrigin), ...spec.nodes.map((_, i) => origin(["nodes", i])));
  spec.segments.forEach((s, i) => firstWins(origins.segments, s.name, origin(["segments", i])));
  spec.routers.forEach((r, i) => firstWins(origins.routers, r.name, origin(["routers", i])));
  spec.nodes.forEach((n, i) => firstWins(origins.nodes, n.name, origin(["nodes", i])));

  // The mesh: as given, else off when route reflectors are generated (as Calico's RR guide says).
  if (usesRR && !cluster.meshGiven) {
    cluster.settings.nodeToNodeMesh = false;
    cluster.settings.bgpConfiguration = { ...cluster.settings.bgpConfiguration, spec: { ...cluster.settings.bgpConfiguration.spec, nodeToNodeMeshEnabled: false } } as BGPConfiguration;
  }
  cluster.settings.bgpPeers.push(...generatedPeers);
  if (cluster.settings.tunnelMTUFrom === "auto") {
    const minMTU = Math.min(...segments.map((s) => s.mtu), 65535);
    const encap = encapOf(cluster.settings.ipPools);
    cluster.settings.tunnelMTU = minMTU - ENCAP_OVERHEAD[encap];
  }

  const topology: Topology = {
    name: spec.metadata.name,
    ...(spec.metadata.description !== undefined ? { description: spec.metadata.description } : {}),
    file,
    segments,
    routers,
    nodes,
    links: spec.links.map(stripUndefined),
    cluster: cluster.settings,
  };
  // Semantic checks only on a structurally complete topology, or they would echo earlier problems.
  if (problems.length === 0) problems.push(...checkTopology(topology, origins, cluster.peerEntries, genOrigin, cluster.poolPositions));
  return problems.length > 0 ? { problems: sortProblems(problems) } : { topology, origins, problems: [] };
}

/** Loads a topology; throws InputError with every problem. */
export function loadTopology(text: string, file: string, reader: TopologyReader): { topology: Topology; origins: TopologyOrigins } {
  const r = parseTopology(text, file, reader);
  if (!r.topology || !r.origins) throw new InputError(r.problems);
  return { topology: r.topology, origins: r.origins };
}

/** The encapsulation the pools use (the first enabled one; "none" when all are Never). */
export function encapOf(pools: readonly IPPool[]): "ipip" | "vxlan" | "none" {
  for (const p of pools) {
    if (p.spec.ipipMode !== "Never") return "ipip";
    if (p.spec.vxlanMode !== "Never") return "vxlan";
  }
  return "none";
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

interface ResolvedCluster {
  settings: ClusterSettings;
  meshGiven: boolean;
  /** BGPPeer resources from files or inline, with positions (for reference checks). */
  peerEntries: ResourceEntry<"BGPPeer">[];
  /** Where each of settings.ipPools was written. */
  poolPositions: SourcePos[];
}

function resolveCluster(spec: TopologyFile, doc: SourceDocument, file: string, reader: TopologyReader, problems: Problem[]): ResolvedCluster {
  const c = spec.cluster;
  const at = (...path: (string | number)[]): SourcePos => doc.locate(["cluster", ...path]);
  const sets: LoadedResources[] = [];
  c.resources.forEach((r, i) => {
    if (typeof r === "string") {
      const path = resolveRelative(file, r);
      let text: string;
      try {
        text = reader.readFile(path);
      } catch (e) {
        problems.push({ ...at("resources", i), message: `cluster.resources[${i}]: cannot read ${path}: ${(e as Error).message}` });
        return;
      }
      const res = parseResources(text, path);
      problems.push(...res.problems);
      sets.push(res.resources);
    } else {
      const res = parseResourceDocuments([doc.sub(["cluster", "resources", i])]);
      problems.push(...res.problems);
      sets.push(res.resources);
    }
  });
  // cluster.ipPools / bgpConfiguration / bgpPeers: inline resources of a known kind.
  const typed: SourceDocument[] = [];
  const withKind = (path: (string | number)[], kind: string, defaultName?: string) => {
    const sub = doc.sub(path);
    const v = sub.value as Record<string, unknown>;
    const value = {
      apiVersion: "projectcalico.org/v3",
      kind,
      ...(defaultName !== undefined && v.metadata === undefined ? { metadata: { name: defaultName } } : {}),
      ...v,
    };
    typed.push({ ...sub, value });
  };
  c.ipPools.forEach((_, i) => withKind(["cluster", "ipPools", i], "IPPool"));
  if (c.bgpConfiguration !== undefined) withKind(["cluster", "bgpConfiguration"], "BGPConfiguration", "default");
  c.bgpPeers.forEach((_, i) => withKind(["cluster", "bgpPeers", i], "BGPPeer"));
  if (typed.length > 0) {
    const res = parseResourceDocuments(typed);
    problems.push(...res.problems);
    sets.push(res.resources);
  }
  if (sets.length > 1) {
    const key = (p: Problem) => `${p.file}:${p.line}:${p.column}:${p.message}`;
    const known = new Set(problems.map(key));
    problems.push(...validateResourceSet(sets).filter((p) => !known.has(key(p))));
  }
  const entries = sets.flatMap((s) => [...s.entries]);
  let icp: IcpConfig | undefined;
  if (c.icpConfig !== undefined) {
    const path = resolveRelative(file, c.icpConfig);
    try {
      const res = parseIcpConfig(reader.readFile(path), path);
      problems.push(...res.problems);
      icp = res.config;
    } catch (e) {
      problems.push({ ...at("icpConfig"), message: `cluster.icpConfig: cannot read ${path}: ${(e as Error).message}` });
    }
  }

  const poolEntries = entries.filter((e) => e.key === "IPPool");
  const pools: IPPool[] = poolEntries.map((e) => e.resource as IPPool);
  const poolPositions: SourcePos[] = poolEntries.map((e) => e.at(["spec", "cidr"]));
  if (icp) {
    pools.push(icp.pool);
    poolPositions.push(icp.source);
  }
  if (pools.length > 0) {
    for (const f of ["podCIDR", "blockSize", "encapsulation"] as const) {
      if (c[f] !== undefined) problems.push({ ...at(f), message: `cluster.${f}: describes the default pool, but IP pools are given (set it on the IPPool instead)` });
    }
  } else {
    const encap = c.encapsulation ?? { type: "ipip" as const, mode: "Always" as const };
    const raw = {
      apiVersion: "projectcalico.org/v3",
      kind: "IPPool",
      metadata: { name: "default-ipv4-ippool" },
      spec: {
        cidr: c.podCIDR ?? "192.168.0.0/16",
        ...(c.blockSize !== undefined ? { blockSize: c.blockSize } : {}),
        ipipMode: encap.type === "ipip" ? encap.mode : "Never",
        vxlanMode: encap.type === "vxlan" ? encap.mode : "Never",
        natOutgoing: true,
      },
    };
    const r = ipPoolSchema.safeParse(raw);
    if (r.success) {
      pools.push(r.data);
      poolPositions.push(c.podCIDR !== undefined ? at("podCIDR") : doc.locate(["cluster"], { key: true }));
    }
    else for (const issue of r.error.issues) problems.push({ ...at(issue.path.includes("blockSize") ? "blockSize" : "podCIDR"), message: `cluster (default pool): ${issue.path.join(".")}: ${issue.message}` });
  }

  const givenConfig = entries.find((e) => e.key === "BGPConfiguration" && (e.resource as BGPConfiguration).metadata.name === "default")?.resource as BGPConfiguration | undefined;
  for (const f of ["asNumber", "nodeToNodeMesh"] as const) {
    if (givenConfig && c[f] !== undefined) problems.push({ ...at(f), message: `cluster.${f}: a BGPConfiguration "default" is given too; set it there` });
  }
  const bgpConfiguration: BGPConfiguration =
    givenConfig ??
    bgpConfigurationSchema.parse({
      apiVersion: "projectcalico.org/v3",
      kind: "BGPConfiguration",
      metadata: { name: "default" },
      spec: { ...(c.asNumber !== undefined ? { asNumber: c.asNumber } : {}), ...(c.nodeToNodeMesh !== undefined ? { nodeToNodeMeshEnabled: c.nodeToNodeMesh } : {}) },
    });

  const methodText = c.ipAutodetectionMethod ?? icp?.autodetectionMethod ?? "first-found";
  const method = parseAutodetectionMethod(methodText);
  if (typeof method === "string") problems.push({ ...at("ipAutodetectionMethod"), message: `cluster.ipAutodetectionMethod: ${method}` });

  const peerEntries = entries.filter((e): e is ResourceEntry<"BGPPeer"> => e.key === "BGPPeer");
  return {
    settings: {
      ipPools: pools,
      bgpConfiguration,
      bgpPeers: peerEntries.map((e) => e.resource),
      asNumber: bgpConfiguration.spec.asNumber ?? 64512,
      nodeToNodeMesh: bgpConfiguration.spec.nodeToNodeMeshEnabled ?? true,
      tunnelMTU: c.tunnelMTU ?? icp?.tunnelMTU ?? 0,
      tunnelMTUFrom: c.tunnelMTU !== undefined ? "given" : icp ? "icp" : "auto",
      ipAutodetectionMethod: methodText,
      autodetection: typeof method === "string" ? { kind: "first-found" } : method,
    },
    meshGiven: c.nodeToNodeMesh !== undefined || givenConfig?.spec.nodeToNodeMeshEnabled !== undefined,
    peerEntries,
    poolPositions,
  };
}
