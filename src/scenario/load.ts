// Loading a scenario file: YAML with positions, the header schema, the topology (a file relative to
// the scenario, or inline), then every step and assertion — each parsed by the schema of its kind
// and checked against the topology and the pods that exist at that point of the run. Every problem
// is collected before failing, each as file:line:col.
import type * as z from "zod";
import { issueToProblems } from "../core/model/issues.ts";
import { parseResourceDocuments, parseResources } from "../core/model/load.ts";
import { InputError, sortProblems, type Problem, type SourcePos } from "../core/model/problems.ts";
import type { AnyResource } from "../core/model/resources.ts";
import { parseYamlDocuments, type Path, type SourceDocument } from "../core/model/yaml-source.ts";
import { parseIP, parsePrefix } from "../core/net/ip.ts";
import { parseTopology, parseTopologyDocument, resolveRelative, type TopologyReader } from "../topology/load.ts";
import type { Topology } from "../topology/model.ts";
import { TOPOLOGY_API_VERSION } from "../topology/schema.ts";
import type { Endpoint, PodSpec, Target } from "./backend.ts";
import { formatDuration } from "./duration.ts";
import { flowToProbe, targetText, type AssertionBody, type AssertionSpec, type Flow, type MessageField, type Scenario, type Step } from "./model.ts";
import { defaultAssertionName, flowText, listText } from "./names.ts";
import { ASSERTION_SCHEMAS, SCENARIO_API_VERSION, STEP_SCHEMAS, scenarioHeaderSchema, type AssertionKind, type FlowFile } from "./schema.ts";

export interface ScenarioParseResult {
  scenario?: Scenario;
  /** Every problem, sorted; empty when the scenario is valid. */
  problems: Problem[];
}

/** True when the value is `apiVersion: birdcage/v1, kind: Scenario`. */
export function looksLikeScenario(value: unknown): boolean {
  return value !== null && typeof value === "object" && (value as Record<string, unknown>).apiVersion === SCENARIO_API_VERSION && (value as Record<string, unknown>).kind === "Scenario";
}

export function loadScenario(text: string, file: string, reader: TopologyReader): Scenario {
  const r = parseScenario(text, file, reader);
  if (!r.scenario) throw new InputError(r.problems);
  return r.scenario;
}

/** A pods generator may make at most this many pods in one step (the whole list is built in memory). */
export const MAX_PODS_PER_STEP = 200_000;

const STEP_KINDS = [...Object.keys(STEP_SCHEMAS), "assert"];
const ASSERTION_KINDS = Object.keys(ASSERTION_SCHEMAS) as AssertionKind[];
const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export function parseScenario(text: string, file: string, reader: TopologyReader): ScenarioParseResult {
  const parsed = parseYamlDocuments(text, file);
  const problems = [...parsed.problems];
  if (problems.length > 0) return { problems: sortProblems(problems) };
  const doc = parsed.documents[0];
  if (!doc) return { problems: [{ file, line: 1, column: 1, message: "empty file: expected a Scenario (apiVersion: birdcage/v1, kind: Scenario)" }] };
  if (parsed.documents.length > 1) problems.push({ ...parsed.documents[1]!.pos, message: "a scenario file holds one document" });
  const head = scenarioHeaderSchema.safeParse(doc.value);
  if (!head.success) return { problems: sortProblems([...problems, ...head.error.issues.flatMap((i) => issueToProblems(i, doc))]) };
  const spec = head.data;

  const topo = loadScenarioTopology(spec.topology, doc, file, reader, problems);
  const ctx = new StepContext(doc, file, reader, problems, topo);
  const steps: Step[] = [];
  spec.steps.forEach((_, i) => {
    const step = ctx.step(i);
    if (step) steps.push(step);
  });
  if (topo) {
    // A routes/ or sessions/ entry names a node or router (a typo would only ever show up as stale).
    const elements = new Set([...topo.nodes.map((n) => n.name), ...topo.routers.map((r) => r.name)]);
    (spec.knownDifferences ?? []).forEach((k, i) => {
      const [head, element] = k.observation.split("/");
      if ((head === "routes" || head === "sessions") && element !== undefined && !element.includes("*") && !elements.has(element)) {
        problems.push({ ...doc.locate(["knownDifferences", i, "observation"]), message: `knownDifferences[${i}].observation: ${head}/${element}: no node or router named "${element}" in topology ${topo.name}` });
      }
    });
  }
  if (problems.length > 0 || !topo) return { problems: sortProblems(problems) };
  return {
    scenario: {
      name: spec.metadata.name,
      ...(spec.metadata.description !== undefined ? { description: spec.metadata.description } : {}),
      file,
      topologyFile: topo.file,
      topology: topo,
      ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
      steps,
      ...(spec.knownDifferences !== undefined
        ? {
            knownDifferences: spec.knownDifferences.map((k, i) => {
              const pos = doc.locate(["knownDifferences", i]);
              return { observation: k.observation, reason: k.reason, source: `${pos.file}:${pos.line}` };
            }),
          }
        : {}),
    },
    problems: [],
  };
}

function loadScenarioTopology(ref: string | Record<string, unknown>, doc: SourceDocument, file: string, reader: TopologyReader, problems: Problem[]): Topology | undefined {
  if (typeof ref === "string") {
    const path = resolveRelative(file, ref);
    let text: string;
    try {
      text = reader.readFile(path);
    } catch (e) {
      problems.push({ ...doc.locate(["topology"]), message: `topology: cannot read ${path}: ${(e as Error).message}` });
      return undefined;
    }
    const r = parseTopology(text, path, reader);
    problems.push(...r.problems);
    return r.topology;
  }
  // Inline: apiVersion and kind may be left out.
  const sub = doc.sub(["topology"]);
  const value = { apiVersion: TOPOLOGY_API_VERSION, kind: "Topology", ...ref };
  const inline: SourceDocument = { ...sub, value, locate: (p, o) => sub.locate(p, o), scalarAt: (p) => sub.scalarAt(p), plainText: (p) => sub.plainText(p), sub: (p) => sub.sub(p) };
  const r = parseTopologyDocument(inline, file, reader);
  // The topology's own messages name its fields from its root; say they are under `topology`.
  problems.push(...r.problems.map((p) => (p.file === file ? { ...p, message: `topology.${p.message}` } : p)));
  return r.topology;
}

/** Walks the steps in order, knowing which pods exist at each point. */
class StepContext {
  private readonly pods = new Map<string, { spec: PodSpec; createdAt: string }>();
  private readonly deleted = new Map<string, string>();
  /** Pods created by a later step, by key: for "created later" messages. */
  private readonly future = new Map<string, number>();
  private waits = 0;
  private readonly names: Set<string>;
  private readonly attachments = new Set<string>();
  private readonly nodes = new Set<string>();
  private readonly routers = new Set<string>();

  constructor(
    private readonly doc: SourceDocument,
    private readonly file: string,
    private readonly reader: TopologyReader,
    private readonly problems: Problem[],
    private readonly topo: Topology | undefined,
  ) {
    for (const n of topo?.nodes ?? []) {
      this.nodes.add(n.name);
      this.attachments.add(`${n.name}@${n.segment}`);
    }
    for (const r of topo?.routers ?? []) {
      this.routers.add(r.name);
      for (const i of r.interfaces) this.attachments.add(`${r.name}@${i.segment}`);
    }
    this.names = new Set([...this.nodes, ...this.routers]);
    this.scanFuturePods();
  }

  private at(path: Path, key = false): SourcePos {
    return this.doc.locate(path, { key });
  }
  private problem(path: Path, message: string, key = false): void {
    this.problems.push({ ...this.at(path, key), message });
  }
  private line(path: Path): string {
    const p = this.at(path);
    return `${p.file}:${p.line}`;
  }
  private schemaProblems(issues: readonly z.core.$ZodIssue[], prefix: Path): void {
    for (const i of issues) this.problems.push(...issueToProblems({ ...i, path: [...prefix, ...i.path] } as z.core.$ZodIssue, this.doc));
  }

  /** Pods written in list form anywhere, so a reference to a pod made later can say so. */
  private scanFuturePods(): void {
    const steps = (this.doc.value as { steps?: unknown[] }).steps ?? [];
    steps.forEach((s, i) => {
      const pods = isMapping(s) ? s.pods : undefined;
      if (Array.isArray(pods)) for (const p of pods) if (isMapping(p) && typeof p.name === "string") this.future.set(`${typeof p.namespace === "string" ? p.namespace : "default"}/${p.name}`, i);
    });
  }

  /** The single kind key of a step or assertion item, or undefined after reporting why not. */
  private kindOf(item: unknown, path: Path, kinds: readonly string[], what: string, extra: readonly string[] = []): string | undefined {
    const where = this.pathText(path);
    if (!isMapping(item)) {
      this.problem(path, `${where}: expected a mapping with one ${what}, e.g. ${what === "step" ? "- wait: { timeout: 60s }" : "- sessions: { established: all }"}`);
      return undefined;
    }
    const keys = Object.keys(item).filter((k) => !extra.includes(k));
    for (const k of keys) if (!kinds.includes(k)) this.problem([...path, k], `${where}.${k}: unknown ${what}; expected one of: ${[...kinds, ...extra].join(", ")}`, true);
    const known = keys.filter((k) => kinds.includes(k));
    if (known.length === 0) {
      if (keys.length === 0) this.problem(path, `${where}: expected one ${what} (one of: ${kinds.join(", ")})`);
      return undefined;
    }
    if (known.length > 1) {
      this.problem([...path, known[1]!], `${where}: one ${what} per list item, found ${known.join(" and ")}`, true);
      return undefined;
    }
    return keys.length === known.length ? known[0] : undefined;
  }

  step(i: number): Step | undefined {
    const path = ["steps", i];
    const item = (this.doc.value as { steps: unknown[] }).steps[i];
    const kind = this.kindOf(item, path, STEP_KINDS, "step");
    if (!kind) return undefined;
    const vpath = [...path, kind];
    const base = { index: i, source: this.line(path) };
    const value = (item as Record<string, unknown>)[kind];
    if (kind === "assert") {
      const assertions = this.assertions(value, vpath);
      return assertions ? { ...base, kind, description: `assert ${assertions.length === 1 ? assertions[0]!.name : `${assertions.length} facts`}`, assertions } : undefined;
    }
    const schema = STEP_SCHEMAS[kind as keyof typeof STEP_SCHEMAS];
    const r = (schema as z.ZodType).safeParse(value);
    if (!r.success) {
      this.schemaProblems(r.error.issues, vpath);
      return undefined;
    }
    const data = r.data as never;
    switch (kind) {
      case "wait": {
        const w = data as z.infer<typeof STEP_SCHEMAS.wait>;
        this.waits++;
        return { ...base, kind, description: `wait until converged (timeout ${formatDuration(w.timeout)})`, timeoutMs: w.timeout };
      }
      case "advance": {
        const ms = data as number;
        return { ...base, kind, description: `advance ${formatDuration(ms)}`, ms };
      }
      case "pods":
        return this.podsStep(data as z.infer<typeof STEP_SCHEMAS.pods>, vpath, base);
      case "deletePods": {
        const refs = data as string[];
        const pods: { namespace: string; name: string }[] = [];
        refs.forEach((ref, j) => {
          if (!this.pods.has(ref)) this.problem([...vpath, j], `${this.pathText([...vpath, j])}: ${this.unknownPodText(ref, i)}`);
          else {
            this.pods.delete(ref);
            this.deleted.set(ref, this.line([...vpath, j]));
          }
          const [namespace = "", name = ""] = ref.split("/");
          pods.push({ namespace, name });
        });
        return { ...base, kind, description: `delete pod${refs.length === 1 ? "" : "s"} ${listText(refs)}`, pods };
      }
      case "apply":
      case "delete": {
        const resources = this.resources(data as (string | Record<string, unknown>)[], vpath, value);
        if (!resources) return undefined;
        return { ...base, kind, description: `${kind} ${resources.length} resource${resources.length === 1 ? "" : "s"}${resources.length > 0 && resources.length <= 3 ? ` (${resources.map(describeResource).join(", ")})` : ""}`, resources };
      }
      case "fail":
      case "restore": {
        const f = data as { link?: string; node?: string; router?: string; how?: "crash" | "stop" };
        const target = this.target(f, vpath);
        if (!target) return undefined;
        if (kind === "restore") return { ...base, kind, description: `restore ${targetText(target)}`, target };
        return { ...base, kind, description: `fail ${targetText(target)}${f.how ? ` (${f.how})` : ""}`, target, options: f.how ? { how: f.how } : {} };
      }
      case "probe": {
        const p = data as FlowFile & { name?: string };
        const flow = this.flow(p, vpath, i);
        if (!flow) return undefined;
        const name = p.name ?? flowText(flow);
        return { ...base, kind, description: `probe ${name}`, name, spec: flowToProbe(flow) };
      }
    }
    return undefined;
  }

  private pathText(path: Path): string {
    return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");
  }

  private unknownPodText(ref: string, stepIndex: number): string {
    const later = this.future.get(ref);
    if (this.deleted.has(ref)) return `pod ${ref} was deleted at ${this.deleted.get(ref)}`;
    if (later !== undefined && later >= stepIndex) return `pod ${ref} is created later (step ${later + 1}), not before this step`;
    return `unknown pod ${ref} (pods are made by an earlier pods step)`;
  }

  private podsStep(data: z.infer<typeof STEP_SCHEMAS.pods>, vpath: Path, base: { index: number; source: string }): Step | undefined {
    const specs: PodSpec[] = [];
    let ok = true;
    const add = (spec: PodSpec, path: Path) => {
      const key = `${spec.namespace}/${spec.name}`;
      const existing = this.pods.get(key);
      if (existing) {
        this.problem(path, `${this.pathText(path)}: pod ${key} already exists (made at ${existing.createdAt})`);
        ok = false;
        return;
      }
      this.pods.set(key, { spec, createdAt: this.line(path) });
      this.deleted.delete(key);
      specs.push(spec);
    };
    if (Array.isArray(data)) {
      data.forEach((p, j) => {
        if (this.topo && !this.nodes.has(p.node)) {
          this.problem([...vpath, j, "node"], `${this.pathText([...vpath, j, "node"])}: unknown node "${p.node}"${this.routers.has(p.node) ? " (a router; pods run on nodes)" : ""}`);
          ok = false;
        }
        if (p.ip !== undefined) {
          try {
            parseIP(p.ip);
          } catch (e) {
            this.problem([...vpath, j, "ip"], `${this.pathText([...vpath, j, "ip"])}: ${(e as Error).message}`);
            ok = false;
          }
        }
        add({ name: p.name, namespace: p.namespace, node: p.node, labels: p.labels, ...(p.ip !== undefined ? { ip: p.ip } : {}) }, [...vpath, j]);
      });
      const nodes = [...new Set(data.map((p) => p.node))];
      return ok ? { ...base, kind: "pods", description: `create ${specs.length} pod${specs.length === 1 ? "" : "s"} on ${listText(nodes)}`, pods: specs } : undefined;
    }
    const g = data;
    const nodes = g.nodes ?? [...this.nodes];
    (g.nodes ?? []).forEach((n, j) => {
      if (this.topo && !this.nodes.has(n)) {
        this.problem([...vpath, "nodes", j], `${this.pathText([...vpath, "nodes", j])}: unknown node "${n}"`);
        ok = false;
      }
    });
    if (nodes.length * g.perNode > MAX_PODS_PER_STEP) {
      this.problem([...vpath, "perNode"], `${this.pathText([...vpath, "perNode"])}: ${g.perNode} pods on each of ${nodes.length} nodes is ${(nodes.length * g.perNode).toLocaleString("en-US")} pods; at most ${MAX_PODS_PER_STEP.toLocaleString("en-US")} per step`);
      return undefined;
    }
    for (const node of nodes) {
      for (let k = 1; k <= g.perNode; k++) {
        const name = `${g.namePrefix}-${node}-${k}`;
        if (name.length > 253) {
          this.problem([...vpath, "namePrefix"], `${this.pathText([...vpath, "namePrefix"])}: pod name ${name.slice(0, 40)}... is longer than 253 characters`);
          return undefined;
        }
        add({ name, namespace: g.namespace, node, labels: g.labels }, vpath);
      }
    }
    return ok ? { ...base, kind: "pods", description: `create ${g.perNode} pod${g.perNode === 1 ? "" : "s"} per node on ${g.nodes ? listText(g.nodes) : `all ${nodes.length} nodes`} (${specs.length} in ${g.namespace})`, pods: specs } : undefined;
  }

  private resources(items: (string | Record<string, unknown>)[], vpath: Path, raw: unknown): AnyResource[] | undefined {
    const out: AnyResource[] = [];
    let ok = true;
    items.forEach((item, j) => {
      const path = Array.isArray(raw) ? [...vpath, j] : vpath;
      if (typeof item === "string") {
        const file = resolveRelative(this.file, item);
        let text: string;
        try {
          text = this.reader.readFile(file);
        } catch (e) {
          this.problem(path, `${this.pathText(path)}: cannot read ${file}: ${(e as Error).message}`);
          ok = false;
          return;
        }
        const r = parseResources(text, file);
        if (r.problems.length > 0) ok = false;
        this.problems.push(...r.problems);
        out.push(...r.resources.entries.map((e) => e.resource));
      } else {
        const r = parseResourceDocuments([this.doc.sub(path)]);
        if (r.problems.length > 0) ok = false;
        this.problems.push(...r.problems);
        out.push(...r.resources.entries.map((e) => e.resource));
      }
    });
    return ok ? out : undefined;
  }

  private target(f: { link?: string; node?: string; router?: string }, vpath: Path): Target | undefined {
    if (f.link !== undefined) {
      const [element = "", segment = ""] = f.link.split("@");
      if (this.topo && !this.attachments.has(f.link)) {
        const why = !this.names.has(element)
          ? `unknown node or router "${element}"`
          : !this.topo.segments.some((s) => s.name === segment)
            ? `unknown segment "${segment}"`
            : `${element} is not attached to ${segment} (its links: ${[...this.attachments].filter((a) => a.startsWith(`${element}@`)).join(", ")})`;
        this.problem([...vpath, "link"], `${this.pathText([...vpath, "link"])}: ${why}`);
        return undefined;
      }
      return { kind: "link", element, segment };
    }
    if (f.node !== undefined) {
      if (this.topo && !this.nodes.has(f.node)) {
        this.problem([...vpath, "node"], `${this.pathText([...vpath, "node"])}: unknown node "${f.node}"${this.routers.has(f.node) ? " (a router: use router:)" : ""}`);
        return undefined;
      }
      return { kind: "node", name: f.node };
    }
    if (this.topo && !this.routers.has(f.router!)) {
      this.problem([...vpath, "router"], `${this.pathText([...vpath, "router"])}: unknown router "${f.router}"${this.nodes.has(f.router!) ? " (a node: use node:)" : ""}`);
      return undefined;
    }
    return { kind: "router", name: f.router! };
  }

  private endpoint(text: string, path: Path, stepIndex: number): Endpoint | undefined {
    if (text.includes("/")) {
      if (!this.pods.has(text)) {
        this.problem(path, `${this.pathText(path)}: ${this.unknownPodText(text, stepIndex)}`);
        return undefined;
      }
      return { pod: text };
    }
    if (this.names.has(text) || !this.topo) return { node: text };
    try {
      parseIP(text);
      return { address: text };
    } catch {
      this.problem(path, `${this.pathText(path)}: unknown endpoint "${text}": expected a pod "namespace/name", a node or router of the topology, or an IP address`);
      return undefined;
    }
  }

  private flow(f: FlowFile, path: Path, stepIndex: number): Flow | undefined {
    const from = this.endpoint(f.from, [...path, "from"], stepIndex);
    const to = this.endpoint(f.to, [...path, "to"], stepIndex);
    if (!from || !to) return undefined;
    return { from, to, protocol: f.protocol, ...(f.port !== undefined ? { port: f.port } : {}), ...(f.size !== undefined ? { size: f.size } : {}), ...(f.df !== undefined ? { df: f.df } : {}) };
  }

  private knownName(name: string, path: Path, what = "node or router"): boolean {
    if (!this.topo || this.names.has(name)) return true;
    this.problem(path, `${this.pathText(path)}: unknown ${what} "${name}"`);
    return false;
  }

  private prefixesOk(list: string[], path: Path): boolean {
    let ok = true;
    list.forEach((p, j) => {
      try {
        parsePrefix(p, { strict: true });
      } catch (e) {
        this.problem([...path, j], `${this.pathText([...path, j])}: ${(e as Error).message}`);
        ok = false;
      }
    });
    return ok;
  }

  private assertions(value: unknown, vpath: Path): AssertionSpec[] | undefined {
    const stepIndex = vpath[1] as number;
    const single = isMapping(value);
    if (!single && !Array.isArray(value)) {
      this.problem(vpath, `${this.pathText(vpath)}: expected a list of assertions, e.g. - sessions: { established: all }`);
      return undefined;
    }
    const items = single ? [value] : (value as unknown[]);
    if (items.length === 0) {
      this.problem(vpath, `${this.pathText(vpath)}: expected at least one assertion`);
      return undefined;
    }
    const out: AssertionSpec[] = [];
    let ok = true;
    items.forEach((item, j) => {
      const path = single ? vpath : [...vpath, j];
      const a = this.assertion(item, path, stepIndex);
      if (a) out.push(a);
      else ok = false;
    });
    return ok ? out : undefined;
  }

  private assertion(item: unknown, path: Path, stepIndex: number): AssertionSpec | undefined {
    const kind = this.kindOf(item, path, ASSERTION_KINDS, "assertion", ["name"]) as AssertionKind | undefined;
    if (!kind) return undefined;
    const rec = item as Record<string, unknown>;
    if (rec.name !== undefined && (typeof rec.name !== "string" || rec.name.trim() === "")) {
      this.problem([...path, "name"], `${this.pathText([...path, "name"])}: expected a non-empty string`);
      return undefined;
    }
    const vpath = [...path, kind];
    const r = (ASSERTION_SCHEMAS[kind] as z.ZodType).safeParse(rec[kind]);
    if (!r.success) {
      this.schemaProblems(r.error.issues, vpath);
      return undefined;
    }
    const spec = this.assertionSpec(kind, r.data, vpath, stepIndex);
    if (!spec) return undefined;
    return { ...spec, name: (rec.name as string | undefined) ?? defaultAssertionName(spec), source: this.line(path) } as AssertionSpec;
  }

  private assertionSpec(kind: AssertionKind, data: unknown, vpath: Path, stepIndex: number): AssertionBody | undefined {
    switch (kind) {
      case "sessions": {
        const s = data as z.infer<typeof ASSERTION_SCHEMAS.sessions>;
        if (s.node !== undefined && !this.knownName(s.node, [...vpath, "node"])) return undefined;
        return { kind, ...(s.node !== undefined ? { node: s.node } : {}), established: s.established };
      }
      case "routes": {
        const s = data as z.infer<typeof ASSERTION_SCHEMAS.routes>;
        let ok = s.node === "all" || this.knownName(s.node, [...vpath, "node"]);
        ok = this.prefixesOk(s.present, [...vpath, "present"]) && ok;
        ok = this.prefixesOk(s.absent, [...vpath, "absent"]) && ok;
        if (Array.isArray(s.podBlocksOf)) s.podBlocksOf.forEach((n, j) => (ok = this.knownName(n, [...vpath, "podBlocksOf", j], "node") && ok));
        if (!ok) return undefined;
        return { kind, node: s.node, present: s.present, absent: s.absent, ...(s.podBlocksOf !== undefined ? { podBlocksOf: s.podBlocksOf } : {}) };
      }
      case "reachable":
      case "unreachable": {
        const flow = this.flow(data as FlowFile, vpath, stepIndex);
        return flow ? { kind, flow } : undefined;
      }
      case "mtu": {
        const s = data as z.infer<typeof ASSERTION_SCHEMAS.mtu>;
        const flow = this.flow(s, vpath, stepIndex);
        return flow ? { kind, flow, expect: s.expect } : undefined;
      }
      case "matrix": {
        const s = data as z.infer<typeof ASSERTION_SCHEMAS.matrix>;
        let ok = true;
        const inMatrix = (ref: string) => ref === "*" || ref.endsWith("/*") || this.pods.has(ref);
        if (Array.isArray(s.pods)) {
          s.pods.forEach((p, j) => {
            if (!/^[^/\s]+\/[^/\s]+$/.test(p) && p !== "*") {
              this.problem([...vpath, "pods", j], `${this.pathText([...vpath, "pods", j])}: expected a pod "namespace/name" or a pattern "namespace/*"`);
              ok = false;
            } else if (!inMatrix(p)) {
              this.problem([...vpath, "pods", j], `${this.pathText([...vpath, "pods", j])}: ${this.unknownPodText(p, stepIndex)}`);
              ok = false;
            }
          });
        }
        const expect: { from: string; to: string; verdict: "allow" | "deny" }[] = [];
        let dflt: "allow" | "deny" = "allow";
        for (const [key, verdict] of Object.entries(s.expect)) {
          if (key === "default") {
            dflt = verdict;
            continue;
          }
          const m = /^\s*(\S+)\s*->\s*(\S+)\s*$/.exec(key);
          const kpath = [...vpath, "expect", key];
          if (!m) {
            this.problem(kpath, `${this.pathText([...vpath, "expect"])}: expected "FROM -> TO" (pods "namespace/name", patterns "namespace/*" or "*") or "default", got ${JSON.stringify(key)}`, true);
            ok = false;
            continue;
          }
          for (const side of [m[1]!, m[2]!]) {
            if (!inMatrix(side)) {
              this.problem(kpath, `${this.pathText([...vpath, "expect"])}: ${this.unknownPodText(side, stepIndex)}`, true);
              ok = false;
            }
          }
          expect.push({ from: m[1]!, to: m[2]!, verdict });
        }
        if (!ok) return undefined;
        return { kind, pods: s.pods, protocol: s.protocol, ...(s.port !== undefined ? { port: s.port } : {}), expect, default: dflt };
      }
      case "ipam": {
        const s = data as z.infer<typeof ASSERTION_SCHEMAS.ipam>;
        if (s.blocks?.node !== undefined && !this.knownName(s.blocks.node, [...vpath, "blocks", "node"], "node")) return undefined;
        const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
        return { kind, ...(s.blocks ? { blocks: strip(s.blocks) } : {}), ...(s.problems ? { problems: s.problems } : {}), ...(s.inUse ? { inUse: s.inUse } : {}) };
      }
      case "convergence": {
        const s = data as z.infer<typeof ASSERTION_SCHEMAS.convergence>;
        if (this.waits === 0) {
          this.problem(vpath, `${this.pathText(vpath)}: there is no wait step before this assertion (convergence is measured by wait)`, true);
          return undefined;
        }
        return { kind, converged: s.converged, ...(s.under !== undefined ? { under: s.under } : {}) };
      }
      case "messages": {
        const s = data as z.infer<typeof ASSERTION_SCHEMAS.messages>;
        if (s.since === "last-wait" && this.waits === 0) {
          this.problem([...vpath, "since"], `${this.pathText([...vpath, "since"])}: there is no wait step before this assertion`);
          return undefined;
        }
        const fields: MessageField[] = ["total", "updates", "keepalives", "notifications", "opens", "bytes"];
        return { kind, since: s.since, counts: fields.flatMap((field) => (s[field] ? [{ field, count: s[field] }] : [])) };
      }
    }
  }
}

function describeResource(r: AnyResource): string {
  const m = r.metadata as { name: string; namespace?: string };
  return `${r.kind} ${m.namespace !== undefined ? `${m.namespace}/` : ""}${m.name}`;
}
