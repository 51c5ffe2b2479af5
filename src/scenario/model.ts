// A loaded scenario: the topology resolved, every reference checked, defaults applied, each step
// and assertion carrying its readable description and its place in the file. Plain data except the
// topology (which is plain too); the runner needs nothing else.
import type { AnyResource } from "../core/model/resources.ts";
import type { Topology } from "../topology/model.ts";
import type { Endpoint, FailOptions, PodSpec, ProbeOutcome, ProbeSpec, Target } from "./backend.ts";
import type { KnownDifference } from "./compare.ts";
import type { Count } from "./schema.ts";

export type { Count } from "./schema.ts";

/** A flow as assertions and probes describe it: endpoints resolved, defaults applied. */
export interface Flow {
  from: Endpoint;
  to: Endpoint;
  protocol: "tcp" | "udp" | "icmp";
  port?: number;
  size?: number;
  df?: boolean;
}

interface AssertionBase {
  /** Given in the file, or generated ("no unestablished BGP sessions"). */
  name: string;
  /** "file:line" of the assertion. */
  source: string;
}

export type AssertionSpec = AssertionBase &
  (
    | { kind: "sessions"; node?: string; established: "all" | Count }
    | { kind: "routes"; node: string; present: string[]; absent: string[]; podBlocksOf?: "all" | string[] }
    | { kind: "reachable" | "unreachable"; flow: Flow }
    | { kind: "matrix"; pods: "all" | string[]; protocol: "tcp" | "udp" | "icmp"; port?: number; expect: { from: string; to: string; verdict: "allow" | "deny" }[]; default: "allow" | "deny" }
    | { kind: "mtu"; flow: Flow; expect: ProbeOutcome }
    | { kind: "ipam"; blocks?: { node?: string } & Count; problems?: Count; inUse?: Count }
    | { kind: "convergence"; under?: number; converged: boolean }
    | { kind: "messages"; since: "start" | "last-wait"; counts: { field: MessageField; count: Count }[] }
  );

/** An assertion without its name and source (distributes over the kinds). */
export type AssertionBody = AssertionSpec extends infer A ? (A extends AssertionSpec ? Omit<A, "name" | "source"> : never) : never;

export type MessageField = "total" | "updates" | "keepalives" | "notifications" | "opens" | "bytes";

interface StepBase {
  /** 0-based position in `steps`. */
  index: number;
  /** "fail link node-3@seg-b", "wait until converged (timeout 60s)". */
  description: string;
  /** "file:line" of the step. */
  source: string;
}

export type Step = StepBase &
  (
    | { kind: "wait"; timeoutMs: number }
    | { kind: "pods"; pods: PodSpec[] }
    | { kind: "deletePods"; pods: { namespace: string; name: string }[] }
    | { kind: "apply" | "delete"; resources: AnyResource[] }
    | { kind: "fail"; target: Target; options: FailOptions }
    | { kind: "restore"; target: Target }
    | { kind: "advance"; ms: number }
    | { kind: "probe"; name: string; spec: ProbeSpec }
    | { kind: "assert"; assertions: AssertionSpec[] }
  );

export interface Scenario {
  name: string;
  description?: string;
  /** The scenario file (as given). */
  file: string;
  /** The topology file, or the scenario file for an inline topology. */
  topologyFile: string;
  topology: Topology;
  seed?: number;
  steps: Step[];
  /** `--mode both`: expected sim/real differences, each with its reason and file:line. */
  knownDifferences?: KnownDifference[];
}

/** The flow as the Backend's probe takes it. */
export function flowToProbe(f: Flow): ProbeSpec {
  return { from: f.from, to: f.to, protocol: f.protocol, ...(f.port !== undefined ? { port: f.port } : {}), ...(f.size !== undefined ? { size: f.size } : {}), ...(f.df !== undefined ? { df: f.df } : {}) };
}

/** "shop/web-1", "node-2", "10.1.0.5". */
export function endpointText(e: Endpoint): string {
  return "pod" in e ? e.pod : "node" in e ? e.node : e.address;
}

export function targetText(t: Target): string {
  return t.kind === "link" ? `link ${t.element}@${t.segment}` : `${t.kind} ${t.name}`;
}
