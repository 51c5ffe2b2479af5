// A compiled, immutable snapshot of tiers, policies, profiles, endpoints and network sets, which
// answers "is this flow allowed, and what decided it?" the way Felix's filter chains would:
// egress policy of the source endpoint, then ingress policy of the destination endpoint; per
// direction, tiers in order, policies in order, first Allow/Deny wins, Pass skips to the next tier,
// end of tier drops (or passes, if the tier's defaultAction is Pass), then profiles, then drop.
import { comparePrefixes, formatIP, parseIP, parsePrefix, prefixContainsAddress, type Family, type IPAddress, type Prefix } from "../net/ip.ts";
import type { Labels, Selector } from "./selector/index.ts";
import {
  compilePolicy,
  compileRules,
  Problems,
  type CompiledPolicy,
  type CompiledRule,
} from "./compile.ts";
import {
  DEFAULT_TIER,
  DEFAULT_TIER_ORDER,
  KUBE_ADMIN_TIER_ORDER,
  KUBE_BASELINE_TIER_ORDER,
  LABEL_NAMESPACE,
  NAMESPACE_LABEL_PREFIX,
  NAMESPACE_PROFILE_PREFIX,
  SERVICE_ACCOUNT_LABEL_PREFIX,
  type Endpoint,
  type NetworkSet,
  type Policy,
  type Profile,
  type ProtocolValue,
  type Tier,
} from "./model.ts";
import { protocolNumber, type PortMatch } from "./protocols.ts";
import { PolicyIndex } from "./policy-index.ts";

export type Direction = "ingress" | "egress";

export interface PolicySetInput {
  readonly tiers?: readonly Tier[];
  readonly policies?: readonly Policy[];
  readonly profiles?: readonly Profile[];
  readonly endpoints?: readonly Endpoint[];
  readonly networkSets?: readonly NetworkSet[];
  /**
   * Host-endpoint failsafe ports (always allowed before any policy). Defaults to Felix's
   * FailsafeInboundHostPorts / FailsafeOutboundHostPorts; `false` disables them.
   */
  readonly failsafe?: { readonly inbound: readonly FailsafePort[]; readonly outbound: readonly FailsafePort[] } | false;
}

export interface FailsafePort {
  readonly protocol: "tcp" | "udp";
  readonly port: number;
}

/** Felix defaults (config_params.go). */
export const DEFAULT_FAILSAFE = {
  inbound: [
    { protocol: "tcp", port: 22 },
    { protocol: "udp", port: 68 },
    { protocol: "tcp", port: 179 },
    { protocol: "tcp", port: 2379 },
    { protocol: "tcp", port: 2380 },
    { protocol: "tcp", port: 5473 },
    { protocol: "tcp", port: 6443 },
    { protocol: "tcp", port: 6666 },
    { protocol: "tcp", port: 6667 },
  ],
  outbound: [
    { protocol: "udp", port: 53 },
    { protocol: "udp", port: 67 },
    { protocol: "tcp", port: 179 },
    { protocol: "tcp", port: 2379 },
    { protocol: "tcp", port: 2380 },
    { protocol: "tcp", port: 5473 },
    { protocol: "tcp", port: 6443 },
    { protocol: "tcp", port: 6666 },
    { protocol: "tcp", port: 6667 },
  ],
} as const satisfies { inbound: readonly FailsafePort[]; outbound: readonly FailsafePort[] };

export interface Flow {
  /** Source and destination addresses (IPv4 or IPv6, same family). */
  readonly src: string;
  readonly dst: string;
  readonly protocol: ProtocolValue;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export interface EndpointRef {
  readonly kind: "workload" | "host";
  readonly name: string;
  readonly namespace?: string;
}

/** What settled one direction. Rule indexes are 0-based positions in the ingress/egress list. */
export type Decision =
  | { readonly kind: "rule"; readonly tier: string; readonly policy: string; readonly ruleIndex: number; readonly action: "Allow" | "Deny" }
  | { readonly kind: "end-of-tier"; readonly tier: string }
  | { readonly kind: "profile-rule"; readonly profile: string; readonly ruleIndex: number; readonly action: "Allow" | "Deny" }
  | { readonly kind: "no-profile-match"; readonly profiles: readonly string[] }
  | { readonly kind: "failsafe"; readonly protocol: string; readonly port: number }
  | { readonly kind: "not-an-endpoint" }
  | { readonly kind: "same-endpoint" };

export type TraceStep =
  | { readonly kind: "tier"; readonly tier: string; readonly policies: readonly string[] }
  | { readonly kind: "rule"; readonly tier: string; readonly policy: string; readonly ruleIndex: number; readonly action: "Allow" | "Deny" | "Log" | "Pass" }
  | { readonly kind: "policy-no-match"; readonly tier: string; readonly policy: string }
  /** Only with `evaluate(flow, { explain: true })`: the first field of a rule that did not match. */
  | { readonly kind: "rule-no-match"; readonly tier?: string; readonly policy?: string; readonly profile?: string; readonly ruleIndex: number; readonly failed: RuleField }
  | { readonly kind: "end-of-tier"; readonly tier: string; readonly defaultAction: "Deny" | "Pass"; readonly passed: boolean }
  | { readonly kind: "profile-rule"; readonly profile: string; readonly ruleIndex: number; readonly action: "Allow" | "Deny" | "Log" | "Pass" }
  | { readonly kind: "profile-no-match"; readonly profile: string };

/** The part of a rule that failed to match a flow. */
export type RuleField =
  | "ipVersion"
  | "ipFamily"
  | "protocol"
  | "notProtocol"
  | "icmp"
  | "notICMP"
  | `${"source" | "destination"}.${"nets" | "notNets" | "selector" | "notSelector" | "ports" | "notPorts"}`;

export interface EvaluateOptions {
  /** Record, for every rule that did not match, the first field that failed (slower). */
  readonly explain?: boolean;
}

export interface DirectionResult {
  readonly direction: Direction;
  /** The endpoint whose policy was applied; absent when the address is not a Calico endpoint. */
  readonly endpoint?: EndpointRef;
  readonly allowed: boolean;
  readonly decision: Decision;
  readonly trace: readonly TraceStep[];
}

export interface EndpointSummary {
  readonly endpoint: EndpointRef;
  /** The node the endpoint runs on, when known. */
  readonly node?: string;
  readonly ips: readonly string[];
  readonly profiles: readonly string[];
  /** Host endpoints: their interface. */
  readonly interfaceName?: string;
  /** Effective labels: the endpoint's own plus those its profiles apply. */
  readonly labels: Labels;
  /** Policies that apply, in evaluation order. */
  readonly ingress: readonly { readonly tier: string; readonly policy: string }[];
  readonly egress: readonly { readonly tier: string; readonly policy: string }[];
}

export interface FlowResult {
  readonly allowed: boolean;
  readonly egress: DirectionResult;
  readonly ingress: DirectionResult;
}

export class FlowError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "FlowError";
  }
}

/** Anything selectors can match by IP: endpoints and network sets, with their effective labels. */
interface Entity {
  readonly kind: "workload" | "host" | "networkset";
  readonly name: string;
  readonly namespace?: string;
  readonly labels: Labels;
  /** The same labels as a Map: what selectors are evaluated against (see Selector.matchesMap). */
  readonly labelMap: ReadonlyMap<string, string>;
  readonly ports: readonly { readonly name: string; readonly protocol: number; readonly port: number }[];
}

interface EndpointState {
  readonly endpoint: Endpoint;
  readonly entity: Entity;
  readonly ref: EndpointRef;
  readonly profiles: readonly string[];
  /** The endpoint's addresses, parsed (invalid ones are reported and left out). */
  readonly addrs: IPAddress[];
  /** Policies that apply, per direction, once looked up. */
  applicable?: Record<Direction, readonly CompiledPolicy[]>;
}

interface CompiledProfile {
  readonly profile: Profile;
  readonly ingress: readonly CompiledRule[];
  readonly egress: readonly CompiledRule[];
}

export interface TierInfo {
  readonly name: string;
  readonly order: number;
  readonly defaultAction: "Deny" | "Pass";
}

/** Tiers Calico creates itself. */
const BUILTIN_TIERS: readonly TierInfo[] = [
  { name: DEFAULT_TIER, order: DEFAULT_TIER_ORDER, defaultAction: "Deny" },
  { name: "kube-admin", order: KUBE_ADMIN_TIER_ORDER, defaultAction: "Pass" },
  { name: "kube-baseline", order: KUBE_BASELINE_TIER_ORDER, defaultAction: "Pass" },
];

const ipKey = (a: IPAddress): string => `${a.family}:${a.value.toString(16)}`;

/** An address with its map key computed once per flow. */
interface KeyedAddress extends IPAddress {
  readonly key: string;
  /** Set for addresses from PolicySet.address(): enables per-address caches. */
  readonly idx?: number;
}
type AddressField = "nets" | "notNets" | "selector" | "notSelector";
const ADDRESS_FIELDS: readonly AddressField[] = ["nets", "notNets", "selector", "notSelector"];
/** Per compiled rule side, per indexed address: 0 = the address part matches, n = ADDRESS_FIELDS[n-1] failed. */
const SIDE_CACHE = Symbol("birdcage.sideCache");
const keyed = (a: IPAddress): KeyedAddress => ({ family: a.family, value: a.value, key: ipKey(a) });
/** An address parsed once (see PolicySet.address). */
export type FlowAddress = KeyedAddress & { readonly __flowAddress: true };
const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const policySortKey = (p: CompiledPolicy): string => `${p.policy.name}/${p.policy.namespace ?? ""}/${p.policy.kind}`;

interface FlowContext {
  readonly family: Family;
  readonly src: KeyedAddress;
  readonly dst: KeyedAddress;
  readonly proto: number;
  readonly srcPort: number | undefined;
  readonly dstPort: number | undefined;
  readonly icmpType: number | undefined;
  readonly icmpCode: number | undefined;
}

export class PolicySet {
  readonly tiers: readonly TierInfo[];
  /** Every policy, in evaluation order (tier order, tier name, policy order, policy key). */
  readonly policies: readonly CompiledPolicy[];
  /** Policies skipped by filter-path evaluation (preDNAT, doNotTrack), by id. */
  readonly skippedPolicies: readonly string[];
  /** The input this set was built from (lets a consumer tell a policy-only change from others). */
  readonly input: PolicySetInput;
  readonly #profiles = new Map<string, CompiledProfile>();
  readonly #endpoints: EndpointState[] = [];
  readonly #byIp = new Map<string, Entity[]>();
  readonly #endpointByIp = new Map<string, EndpointState>();
  readonly #netSets: { prefix: Prefix; entity: Entity }[] = [];
  readonly #tierByName = new Map<string, TierInfo>();
  readonly #index: PolicyIndex<CompiledPolicy>;
  readonly #failsafe: { inbound: readonly FailsafePort[]; outbound: readonly FailsafePort[] } | false;
  readonly #entityCache = new Map<string, readonly Entity[]>();
  /** canonical selector -> address key -> does some entity at the address match. */
  readonly #selectorAt = new Map<string, Map<string, boolean>>();
  /** Addresses handed out by address(), numbered for #sideCache. */
  readonly #addrIndex = new Map<string, number>();
  /** Endpoint owning each indexed address (see address()). */
  readonly #epByIdx: (EndpointState | undefined)[] = [];
  readonly #scratch: { -readonly [K in keyof FlowContext]: FlowContext[K] } = {
    family: 4,
    src: { family: 4, value: 0n, key: "" },
    dst: { family: 4, value: 0n, key: "" },
    proto: 0,
    srcPort: undefined,
    dstPort: undefined,
    icmpType: undefined,
    icmpCode: undefined,
  };

  /**
   * `reuse`: an earlier set whose compiled policies are taken over for the policies of identical
   * content (same kind, namespace, name and JSON), so a watch event that changes one policy compiles
   * one policy, not all of them (selector parsing is most of building a set).
   */
  constructor(input: PolicySetInput, options: { readonly reuse?: PolicySet } = {}) {
    this.input = input;
    const problems = new Problems();
    this.#failsafe = input.failsafe ?? DEFAULT_FAILSAFE;

    for (const t of BUILTIN_TIERS) this.#tierByName.set(t.name, t);
    for (const t of input.tiers ?? []) {
      if (t.defaultAction !== undefined && t.defaultAction !== "Deny" && t.defaultAction !== "Pass") {
        problems.add(`tier ${t.name}: defaultAction`, "must be Deny or Pass");
      }
      const builtin = BUILTIN_TIERS.find((b) => b.name === t.name);
      this.#tierByName.set(t.name, {
        name: t.name,
        order: t.order ?? builtin?.order ?? Number.POSITIVE_INFINITY,
        defaultAction: t.defaultAction ?? builtin?.defaultAction ?? "Deny",
      });
    }

    const earlier = options.reuse === undefined ? undefined : options.reuse.#compiledByKey();
    const compiled = (input.policies ?? []).map((p) => {
      const old = earlier?.get(policyRefKey(p));
      return old !== undefined && (old.policy === p || policyJson(old.policy) === policyJson(p)) ? old : compilePolicy(p, problems);
    });
    this.#compiled = compiled;
    const seen = new Set<string>();
    for (const p of compiled) {
      if (!this.#tierByName.has(p.tier)) problems.add(`policy ${p.id}: spec.tier`, `tier "${p.tier}" does not exist`);
      const key = `${p.policy.kind}/${p.id}`;
      if (seen.has(key)) problems.add(`policy ${p.id}`, `duplicate ${p.policy.kind}`);
      seen.add(key);
    }

    for (const prof of input.profiles ?? []) {
      const path = `profile ${prof.name}`;
      this.#profiles.set(prof.name, {
        profile: prof,
        ingress: compileRules(prof.ingress, "", `${path}: ingress`, problems),
        egress: compileRules(prof.egress, "", `${path}: egress`, problems),
      });
    }

    for (const ep of input.endpoints ?? []) this.#addEndpoint(ep, problems);
    for (const ns of input.networkSets ?? []) this.#addNetworkSet(ns, problems);
    problems.throwIfAny();

    const enforced = compiled.filter((p) => p.filterPath);
    this.skippedPolicies = compiled.filter((p) => !p.filterPath).map((p) => p.id);
    this.policies = enforced.sort(this.comparePolicies);
    this.tiers = [...this.#tierByName.values()].sort((a, b) => cmpOrder(a.order, b.order) || byteOrder(a.name, b.name));
    this.#index = new PolicyIndex(this.policies, (p) => p.selector);
  }

  /** Evaluation order of two policies: tier order, tier name, policy order, then name/namespace/kind. */
  readonly comparePolicies = (a: CompiledPolicy, b: CompiledPolicy): number => {
    const ta = this.#tierByName.get(a.tier)!;
    const tb = this.#tierByName.get(b.tier)!;
    return cmpOrder(ta.order, tb.order) || byteOrder(ta.name, tb.name) || cmpOrder(a.order, b.order) || byteOrder(policySortKey(a), policySortKey(b));
  };

  /**
   * One policy compiled and checked against this set's tiers, as the constructor does, for
   * incremental users that change policies without building a new set. Throws PolicyInputError.
   */
  /** Every compiled policy (skipped ones too), for a later set to reuse. */
  readonly #compiled: readonly CompiledPolicy[];

  #compiledByKey(): Map<string, CompiledPolicy> {
    return new Map(this.#compiled.map((p) => [policyRefKey(p.policy), p]));
  }

  compilePolicy(policy: Policy): CompiledPolicy {
    const problems = new Problems();
    const p = compilePolicy(policy, problems);
    if (!this.#tierByName.has(p.tier)) problems.add(`policy ${p.id}: spec.tier`, `tier "${p.tier}" does not exist`);
    problems.throwIfAny();
    return p;
  }

  #addEndpoint(ep: Endpoint, problems: Problems): void {
    const path = `endpoint ${ep.namespace !== undefined ? `${ep.namespace}/` : ""}${ep.name}`;
    const profiles = ep.profiles ?? [];
    // A Map, not assignments into an object: a label may be called "__proto__".
    const labelMap = new Map<string, string>();
    // Earlier profiles win over later ones, and the endpoint's own labels win over all profiles.
    for (const name of [...profiles].reverse()) setAll(labelMap, this.#profiles.get(name)?.profile.labelsToApply);
    for (const [k, v] of Object.entries(ep.labels ?? {})) {
      // Felix never takes pcns./pcsa. labels from a workload itself, so it cannot pose as being in
      // another namespace (workloadendpointprocessor.go).
      if (ep.kind === "workload" && (k.startsWith(NAMESPACE_LABEL_PREFIX) || k.startsWith(SERVICE_ACCOUNT_LABEL_PREFIX))) continue;
      labelMap.set(k, v);
    }
    const ports = (ep.ports ?? []).flatMap((p, i) => {
      const proto = protocolNumber(p.protocol);
      if (proto === undefined || !Number.isInteger(p.port) || p.port < 0 || p.port > 65535) {
        problems.add(`${path}: ports[${i}]`, "needs a known protocol and a port 0-65535");
        return [];
      }
      return [{ name: p.name, protocol: proto, port: p.port }];
    });
    const entity: Entity = {
      kind: ep.kind,
      name: ep.name,
      ...(ep.namespace !== undefined ? { namespace: ep.namespace } : {}),
      labels: Object.fromEntries(labelMap),
      labelMap,
      ports,
    };
    const ref: EndpointRef = { kind: ep.kind, name: ep.name, ...(ep.namespace !== undefined ? { namespace: ep.namespace } : {}) };
    const state: EndpointState = { endpoint: ep, entity, ref, profiles, addrs: [] };
    this.#endpoints.push(state);
    ep.ips.forEach((text, i) => {
      let addr: IPAddress;
      try {
        const p = parsePrefix(text, { strict: false });
        addr = { family: p.family, value: p.addr };
      } catch (e) {
        problems.add(`${path}: ips[${i}]`, e instanceof Error ? e.message : String(e));
        return;
      }
      state.addrs.push(addr);
      const key = ipKey(addr);
      const list = this.#byIp.get(key) ?? [];
      list.push(entity);
      this.#byIp.set(key, list);
      // Workloads take precedence over a host endpoint sharing the address.
      const prev = this.#endpointByIp.get(key);
      if (prev === undefined || (prev.endpoint.kind === "host" && ep.kind === "workload")) this.#endpointByIp.set(key, state);
    });
  }

  #addNetworkSet(ns: NetworkSet, problems: Problems): void {
    const labelMap = new Map<string, string>();
    if (ns.namespace !== undefined && ns.namespace !== "") {
      setAll(labelMap, this.#profiles.get(NAMESPACE_PROFILE_PREFIX + ns.namespace)?.profile.labelsToApply);
      setAll(labelMap, ns.labels);
      labelMap.set(LABEL_NAMESPACE, ns.namespace);
    } else {
      setAll(labelMap, ns.labels);
    }
    const entity: Entity = {
      kind: "networkset",
      name: ns.name,
      ...(ns.namespace !== undefined ? { namespace: ns.namespace } : {}),
      labels: Object.fromEntries(labelMap),
      labelMap,
      ports: [],
    };
    ns.nets.forEach((n, i) => {
      try {
        this.#netSets.push({ prefix: parsePrefix(n, { strict: false }), entity });
      } catch (e) {
        problems.add(`networkset ${ns.name}: nets[${i}]`, e instanceof Error ? e.message : String(e));
      }
    });
  }

  /**
   * An endpoint by `name` or `namespace/name`, with its first address (of `family` when given).
   * Undefined when no endpoint has that name; ambiguous bare names resolve to the first one.
   */
  findEndpoint(ref: string, family?: Family): { endpoint: EndpointRef; ip: string } | undefined {
    const slash = ref.indexOf("/");
    const ns = slash >= 0 ? ref.slice(0, slash) : undefined;
    const name = slash >= 0 ? ref.slice(slash + 1) : ref;
    for (const ep of this.#endpoints) {
      if (ep.endpoint.name !== name || (ns !== undefined && ep.endpoint.namespace !== ns)) continue;
      for (const text of ep.endpoint.ips) {
        const p = parsePrefix(text, { strict: false });
        if (family === undefined || p.family === family) return { endpoint: ep.ref, ip: formatIP(p.family, p.addr) };
      }
    }
    return undefined;
  }

  /** Host-endpoint failsafe ports (false when turned off). */
  get failsafe(): { readonly inbound: readonly FailsafePort[]; readonly outbound: readonly FailsafePort[] } | false {
    return this.#failsafe;
  }

  /** The address families of the endpoints' addresses. */
  endpointFamilies(): Set<Family> {
    const out = new Set<Family>();
    for (const ep of this.#endpoints) for (const a of ep.addrs) out.add(a.family);
    return out;
  }

  /**
   * Every endpoint (or only those on `node`) with its effective labels (profile labels merged) and
   * the policies that apply.
   */
  describeEndpoints(node?: string): EndpointSummary[] {
    const eps = node === undefined ? this.#endpoints : this.#endpoints.filter((ep) => ep.endpoint.node === node);
    return eps.map((ep) => {
      const applied = this.#policiesFor(ep);
      return {
        endpoint: ep.ref,
        ...(ep.endpoint.node !== undefined ? { node: ep.endpoint.node } : {}),
        ips: ep.endpoint.ips,
        profiles: ep.profiles,
        ...(ep.endpoint.interfaceName !== undefined ? { interfaceName: ep.endpoint.interfaceName } : {}),
        labels: ep.entity.labels,
        ingress: applied.ingress.map((p) => ({ tier: p.tier, policy: p.id })),
        egress: applied.egress.map((p) => ({ tier: p.tier, policy: p.id })),
      };
    });
  }

  /**
   * The members of the IP set Felix builds for a rule selector: the addresses of every endpoint and
   * the CIDRs of every network set whose labels match, sorted and without duplicates.
   */
  ipSetMembers(selector: Selector): Prefix[] {
    // Keyed by the address itself (a bigint; Maps compare them by value), per family and length:
    // no text per member. The host prefixes are made once per address and shared between sets.
    const hosts: Record<Family, Map<bigint, Prefix>> = { 4: new Map(), 6: new Map() };
    for (const ep of this.#endpoints) {
      if (!selector.matchesMap(ep.entity.labelMap)) continue;
      for (const a of ep.addrs) hosts[a.family].set(a.value, hostPrefix(a));
    }
    const out = [...hosts[4].values(), ...hosts[6].values()];
    const nets = new Set<string>();
    for (const n of this.#netSets) {
      if (!selector.matchesMap(n.entity.labelMap)) continue;
      const p = n.prefix;
      if (p.len === (p.family === 4 ? 32 : 128)) {
        if (hosts[p.family].has(p.addr)) continue;
        hosts[p.family].set(p.addr, p);
      } else {
        const key = `${p.family}:${p.addr}/${p.len}`;
        if (nets.has(key)) continue;
        nets.add(key);
      }
      out.push(p);
    }
    return out.sort(comparePrefixes);
  }

  /**
   * The members of a named-port IP set: (address, protocol, port) of every endpoint that matches
   * `selector` (all endpoints when undefined) and declares the named port (for `protocol` only when given).
   */
  namedPortMembers(selector: Selector | undefined, name: string, protocol?: number): { ip: IPAddress; protocol: number; port: number }[] {
    const out: { ip: IPAddress; protocol: number; port: number }[] = [];
    const seen = new Set<string>();
    for (const ep of this.#endpoints) {
      if (selector !== undefined && !selector.matchesMap(ep.entity.labelMap)) continue;
      for (const np of ep.entity.ports) {
        if (np.name !== name || (protocol !== undefined && np.protocol !== protocol)) continue;
        for (const ip of ep.addrs) {
          const key = `${ip.family}:${ip.value}:${np.protocol}:${np.port}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ ip, protocol: np.protocol, port: np.port });
        }
      }
    }
    return out;
  }

  /** A profile's compiled rules for one direction; undefined when no such profile exists. */
  profileRules(name: string, direction: Direction): readonly CompiledRule[] | undefined {
    const prof = this.#profiles.get(name);
    return prof === undefined ? undefined : direction === "ingress" ? prof.ingress : prof.egress;
  }

  /** Tier order and default action (built-in tiers included). */
  tier(name: string): TierInfo | undefined {
    return this.#tierByName.get(name);
  }

  /** The endpoint at an address, if any. */
  endpointAt(ip: string): EndpointRef | undefined {
    return this.#endpointByIp.get(ipKey(parseIP(ip)))?.ref;
  }

  /** Policies that apply to the endpoint at `ip` for a direction, in evaluation order. */
  policiesFor(ip: string, direction: Direction): readonly CompiledPolicy[] {
    const ep = this.#endpointByIp.get(ipKey(parseIP(ip)));
    return ep ? this.#policiesFor(ep)[direction] : [];
  }

  #policiesFor(ep: EndpointState): Record<Direction, readonly CompiledPolicy[]> {
    let cached = ep.applicable;
    if (cached === undefined) {
      const labels = ep.entity.labelMap;
      const selected = this.#index.candidates(labels).filter((p) => p.selector.matchesMap(labels));
      cached = {
        ingress: selected.filter((p) => p.types.has("Ingress")),
        egress: selected.filter((p) => p.types.has("Egress")),
      };
      ep.applicable = cached;
    }
    return cached;
  }

  evaluate(flow: Flow, options: EvaluateOptions = {}): FlowResult {
    const ctx = this.#context(flow);
    const explain = options.explain === true;
    const srcEp = this.#endpointByIp.get(ctx.src.key);
    const dstEp = this.#endpointByIp.get(ctx.dst.key);
    if (srcEp !== undefined && srcEp === dstEp) {
      // Traffic to the endpoint's own address never leaves its network namespace (or the host's lo).
      const local = (direction: Direction): DirectionResult => ({ direction, endpoint: srcEp.ref, allowed: true, decision: { kind: "same-endpoint" }, trace: [] });
      return { allowed: true, egress: local("egress"), ingress: local("ingress") };
    }
    const egress = srcEp ? this.#evaluateDirection(srcEp, "egress", ctx, explain) : notAnEndpoint("egress");
    const ingress = dstEp ? this.#evaluateDirection(dstEp, "ingress", ctx, explain) : notAnEndpoint("ingress");
    return { allowed: egress.allowed && ingress.allowed, egress, ingress };
  }

  /** An address parsed once, for `allowed()` over many flows (truth tables). */
  address(ip: string): FlowAddress {
    try {
      const k = keyed(parseIP(ip));
      let idx = this.#addrIndex.get(k.key);
      if (idx === undefined) {
        this.#addrIndex.set(k.key, (idx = this.#addrIndex.size));
        this.#epByIdx[idx] = this.#endpointByIp.get(k.key);
      }
      return { ...k, idx } as FlowAddress;
    } catch (e) {
      throw new FlowError(e instanceof Error ? e.message : String(e));
    }
  }

  /**
   * The verdict alone, without a trace: what `evaluate(...).allowed` says, for addresses from
   * `address()`, a protocol number and a destination port.
   */
  allowed(src: FlowAddress, dst: FlowAddress, protocol: number, dstPort?: number): boolean {
    if (src.family !== dst.family) throw new FlowError("source and destination are different IP families");
    const srcEp = src.idx !== undefined ? this.#epByIdx[src.idx] : this.#endpointByIp.get(src.key);
    const dstEp = dst.idx !== undefined ? this.#epByIdx[dst.idx] : this.#endpointByIp.get(dst.key);
    if (srcEp !== undefined && srcEp === dstEp) return true;
    // One context object reused for every call: evaluation is synchronous and does not keep it.
    const ctx = this.#scratch;
    ctx.family = src.family;
    ctx.src = src;
    ctx.dst = dst;
    ctx.proto = protocol;
    ctx.dstPort = dstPort;
    if (srcEp !== undefined && !this.#verdict(srcEp, "egress", ctx)) return false;
    return dstEp === undefined || this.#verdict(dstEp, "ingress", ctx);
  }

  /**
   * The verdicts of one direction of one endpoint against many peers at once (a truth-table row or
   * column): for `egress`, flows from `self` to each peer; for `ingress`, from each peer to `self`;
   * destination port `port`, no source port. Whatever does not depend on the peer (protocol, the
   * endpoint's own side, which rules exist) is settled once; each peer then only checks the peer
   * side of the remaining rules. 1 = this direction allows it. Peers of another family get 0.
   */
  directionVerdicts(self: FlowAddress, direction: Direction, peers: readonly FlowAddress[], protocol: number, port: number | undefined): Uint8Array {
    const out = new Uint8Array(peers.length);
    const ep = self.idx !== undefined ? this.#epByIdx[self.idx] : this.#endpointByIp.get(self.key);
    if (ep === undefined) return out.fill(1); // not an endpoint: nothing enforced here
    if (ep.endpoint.kind === "host" && this.#failsafe !== false) {
      const list = direction === "ingress" ? this.#failsafe.inbound : this.#failsafe.outbound;
      if (list.some((f) => protocolNumber(f.protocol) === protocol && f.port === port)) return out.fill(1);
    }
    const ctx: FlowContext = {
      family: self.family,
      src: self,
      dst: self,
      proto: protocol,
      srcPort: undefined,
      dstPort: port,
      icmpType: undefined,
      icmpCode: undefined,
    };
    const ingress = direction === "ingress";
    const own = (r: CompiledRule): CompiledRule["source"] => (ingress ? r.destination : r.source);
    const peerSide = (r: CompiledRule): CompiledRule["source"] => (ingress ? r.source : r.destination);
    // A step: a rule that survives the peer-independent checks (side = its peer side), or a tier end.
    type Step = { readonly side: CompiledRule["source"]; readonly action: CompiledRule["action"] } | { readonly endOfTier: boolean } | { readonly profileEnd: true };
    const steps: Step[] = [];
    const survives = (r: CompiledRule): boolean => {
      if (r.ipVersion !== undefined && r.ipVersion !== ctx.family) return false;
      for (const side of [r.source, r.destination]) if (!hasFamily(side.nets, ctx.family) || !hasFamily(side.notNets, ctx.family)) return false;
      if (r.protocol !== undefined && r.protocol !== protocol) return false;
      if (r.notProtocol !== undefined && r.notProtocol === protocol) return false;
      if (r.icmp !== undefined && !icmpMatches(r.icmp, ctx)) return false;
      if (r.notIcmp !== undefined && icmpMatches(r.notIcmp, ctx)) return false;
      return this.#sideMismatch(own(r), self, ingress ? port : undefined, ctx) === undefined;
    };
    const policies = this.#policiesFor(ep)[direction];
    let i = 0;
    while (i < policies.length) {
      const tierName = policies[i]!.tier;
      let end = i;
      while (end < policies.length && policies[end]!.tier === tierName) end++;
      for (let j = i; j < end; j++) {
        for (const r of ingress ? policies[j]!.ingress : policies[j]!.egress) if (r.action !== "Log" && survives(r)) steps.push({ side: peerSide(r), action: r.action });
      }
      steps.push({ endOfTier: this.#tierByName.get(tierName)!.defaultAction === "Deny" });
      i = end;
    }
    for (const name of ep.profiles) {
      const prof = this.#profiles.get(name);
      if (prof === undefined) continue;
      for (const r of ingress ? prof.ingress : prof.egress) if (r.action !== "Log" && survives(r)) steps.push({ side: peerSide(r), action: r.action });
      steps.push({ profileEnd: true });
    }
    const peerPort = ingress ? undefined : port;
    for (let k = 0; k < peers.length; k++) {
      const peer = peers[k]!;
      if (peer.family !== self.family) continue;
      const peerEp = peer.idx !== undefined ? this.#epByIdx[peer.idx] : this.#endpointByIp.get(peer.key);
      if (peerEp === ep) {
        out[k] = 1; // the endpoint's own address
        continue;
      }
      out[k] = this.#runSteps(steps, peer, peerPort, ctx) ? 1 : 0;
    }
    return out;
  }

  #runSteps(
    steps: readonly ({ readonly side: CompiledRule["source"]; readonly action: CompiledRule["action"] } | { readonly endOfTier: boolean } | { readonly profileEnd: true })[],
    peer: KeyedAddress,
    peerPort: number | undefined,
    ctx: FlowContext,
  ): boolean {
    let skipping = false; // a Pass skips the rest of the tier (or of the profile)
    for (const st of steps) {
      if ("endOfTier" in st) {
        if (!skipping && st.endOfTier) return false;
        skipping = false;
        continue;
      }
      if ("profileEnd" in st) {
        skipping = false;
        continue;
      }
      if (skipping || this.#sideMismatch(st.side, peer, peerPort, ctx) !== undefined) continue;
      if (st.action === "Allow") return true;
      if (st.action === "Deny") return false;
      skipping = true; // Pass
    }
    return false;
  }

  /** #evaluateDirection's verdict without building a result or trace (the truth-table hot path). */
  #verdict(ep: EndpointState, direction: Direction, ctx: FlowContext): boolean {
    if (ep.endpoint.kind === "host" && this.#failsafe !== false) {
      const list = direction === "ingress" ? this.#failsafe.inbound : this.#failsafe.outbound;
      for (const f of list) if (protocolNumber(f.protocol) === ctx.proto && f.port === ctx.dstPort) return true;
    }
    const policies = this.#policiesFor(ep)[direction];
    let i = 0;
    while (i < policies.length) {
      const tierName = policies[i]!.tier;
      let end = i;
      while (end < policies.length && policies[end]!.tier === tierName) end++;
      let passed = false;
      for (let j = i; j < end && !passed; j++) {
        const policy = policies[j]!;
        for (const rule of direction === "ingress" ? policy.ingress : policy.egress) {
          if (this.#mismatch(rule, ctx) !== undefined) continue;
          if (rule.action === "Allow") return true;
          if (rule.action === "Deny") return false;
          if (rule.action === "Pass") {
            passed = true;
            break;
          }
        }
      }
      if (!passed && this.#tierByName.get(tierName)!.defaultAction === "Deny") return false;
      i = end;
    }
    for (const name of ep.profiles) {
      const prof = this.#profiles.get(name);
      if (prof === undefined) continue;
      for (const rule of direction === "ingress" ? prof.ingress : prof.egress) {
        if (this.#mismatch(rule, ctx) !== undefined) continue;
        if (rule.action === "Allow") return true;
        if (rule.action === "Deny") return false;
        if (rule.action === "Pass") break;
      }
    }
    return false;
  }

  #context(flow: Flow): FlowContext {
    let src: IPAddress;
    let dst: IPAddress;
    try {
      src = parseIP(flow.src);
      dst = parseIP(flow.dst);
    } catch (e) {
      throw new FlowError(e instanceof Error ? e.message : String(e));
    }
    if (src.family !== dst.family) throw new FlowError(`source ${flow.src} and destination ${flow.dst} are different IP families`);
    const proto = protocolNumber(flow.protocol);
    if (proto === undefined) throw new FlowError(`unknown protocol ${JSON.stringify(flow.protocol)}`);
    for (const [name, v, max] of [
      ["srcPort", flow.srcPort, 65535],
      ["dstPort", flow.dstPort, 65535],
      ["icmpType", flow.icmpType, 255],
      ["icmpCode", flow.icmpCode, 255],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > max)) throw new FlowError(`${name} must be an integer 0-${max}`);
    }
    return {
      family: src.family,
      src: keyed(src),
      dst: keyed(dst),
      proto,
      srcPort: flow.srcPort,
      dstPort: flow.dstPort,
      icmpType: flow.icmpType,
      icmpCode: flow.icmpCode,
    };
  }

  #evaluateDirection(ep: EndpointState, direction: Direction, ctx: FlowContext, explain: boolean, record = true): DirectionResult {
    const trace: TraceStep[] = [];
    const done = (allowed: boolean, decision: Decision): DirectionResult => ({ direction, endpoint: ep.ref, allowed, decision, trace });

    if (ep.endpoint.kind === "host" && this.#failsafe !== false) {
      const list = direction === "ingress" ? this.#failsafe.inbound : this.#failsafe.outbound;
      const hit = list.find((f) => protocolNumber(f.protocol) === ctx.proto && f.port === ctx.dstPort);
      if (hit) return done(true, { kind: "failsafe", protocol: hit.protocol, port: hit.port });
    }

    const policies = this.#policiesFor(ep)[direction];
    let i = 0;
    while (i < policies.length) {
      const tierName = policies[i]!.tier;
      const tier = this.#tierByName.get(tierName)!;
      let end = i;
      while (end < policies.length && policies[end]!.tier === tierName) end++;
      if (record) trace.push({ kind: "tier", tier: tierName, policies: policies.slice(i, end).map((p) => p.id) });
      let passed = false;
      for (let j = i; j < end && !passed; j++) {
        const policy = policies[j]!;
        const rules = direction === "ingress" ? policy.ingress : policy.egress;
        let matchedAny = false;
        for (const rule of rules) {
          const failed = this.#mismatch(rule, ctx);
          if (failed !== undefined) {
            if (explain && record) trace.push({ kind: "rule-no-match", tier: tierName, policy: policy.id, ruleIndex: rule.index, failed });
            continue;
          }
          matchedAny = true;
          if (record) trace.push({ kind: "rule", tier: tierName, policy: policy.id, ruleIndex: rule.index, action: rule.action });
          if (rule.action === "Allow" || rule.action === "Deny") {
            return done(rule.action === "Allow", { kind: "rule", tier: tierName, policy: policy.id, ruleIndex: rule.index, action: rule.action });
          }
          if (rule.action === "Pass") {
            passed = true;
            break;
          }
          // Log: record and carry on with the next rule.
        }
        if (!matchedAny && record) trace.push({ kind: "policy-no-match", tier: tierName, policy: policy.id });
      }
      if (record) trace.push({ kind: "end-of-tier", tier: tierName, defaultAction: tier.defaultAction, passed });
      if (!passed && tier.defaultAction === "Deny") return done(false, { kind: "end-of-tier", tier: tierName });
      i = end;
    }

    for (const name of ep.profiles) {
      const prof = this.#profiles.get(name);
      const rules = prof ? (direction === "ingress" ? prof.ingress : prof.egress) : [];
      let decided = false;
      for (const rule of rules) {
        const failed = this.#mismatch(rule, ctx);
        if (failed !== undefined) {
          if (explain && record) trace.push({ kind: "rule-no-match", profile: name, ruleIndex: rule.index, failed });
          continue;
        }
        if (record) trace.push({ kind: "profile-rule", profile: name, ruleIndex: rule.index, action: rule.action });
        if (rule.action === "Allow" || rule.action === "Deny") {
          return done(rule.action === "Allow", { kind: "profile-rule", profile: name, ruleIndex: rule.index, action: rule.action });
        }
        if (rule.action === "Pass") {
          decided = true; // a Pass in a profile ends that profile; the next profile is tried
          break;
        }
      }
      if (!decided && record) trace.push({ kind: "profile-no-match", profile: name });
    }
    return done(false, { kind: "no-profile-match", profiles: ep.profiles });
  }

  /** The first field of the rule that the flow fails, or undefined when the rule matches. */
  #mismatch(rule: CompiledRule, ctx: FlowContext): RuleField | undefined {
    if (rule.ipVersion !== undefined && rule.ipVersion !== ctx.family) return "ipVersion";
    const s = rule.source;
    const d = rule.destination;
    // Felix renders a rule per IP version; CIDR lists with nothing of this family drop the rule.
    if (!hasFamily(s.nets, ctx.family) || !hasFamily(s.notNets, ctx.family)) return "ipFamily";
    if (!hasFamily(d.nets, ctx.family) || !hasFamily(d.notNets, ctx.family)) return "ipFamily";
    if (rule.protocol !== undefined && rule.protocol !== ctx.proto) return "protocol";
    if (rule.notProtocol !== undefined && rule.notProtocol === ctx.proto) return "notProtocol";
    if (rule.icmp !== undefined && !icmpMatches(rule.icmp, ctx)) return "icmp";
    if (rule.notIcmp !== undefined && icmpMatches(rule.notIcmp, ctx)) return "notICMP";
    const side = this.#sideMismatch(s, ctx.src, ctx.srcPort, ctx);
    if (side !== undefined) return SOURCE_FIELD[side];
    const dside = this.#sideMismatch(d, ctx.dst, ctx.dstPort, ctx);
    return dside !== undefined ? DESTINATION_FIELD[dside] : undefined;
  }

  #addressMismatch(side: CompiledRule["source"], ip: KeyedAddress): AddressField | undefined {
    if (side.nets !== undefined && !side.nets.some((n) => prefixContainsAddress(n, ip))) return "nets";
    if (side.notNets !== undefined && side.notNets.some((n) => prefixContainsAddress(n, ip))) return "notNets";
    if (side.selector !== undefined && !this.#selectorMatchesIp(side.selector, ip)) return "selector";
    if (side.notSelector !== undefined && this.#selectorMatchesIp(side.notSelector, ip)) return "notSelector";
    return undefined;
  }

  /** The address part of a side's match, remembered per (side, indexed address): truth tables repeat it. */
  #cachedAddressMismatch(side: CompiledRule["source"], ip: KeyedAddress, idx: number): AddressField | undefined {
    const holder = side as { [SIDE_CACHE]?: Int8Array };
    let cache = holder[SIDE_CACHE];
    if (cache === undefined || cache.length <= idx) {
      const grown = new Int8Array(Math.max(this.#addrIndex.size, idx + 1)).fill(-1);
      if (cache !== undefined) grown.set(cache);
      holder[SIDE_CACHE] = cache = grown;
    }
    let code = cache[idx]!;
    if (code < 0) {
      const f = this.#addressMismatch(side, ip);
      code = f === undefined ? 0 : ADDRESS_FIELDS.indexOf(f) + 1;
      cache[idx] = code;
    }
    return code === 0 ? undefined : ADDRESS_FIELDS[code - 1];
  }

  #sideMismatch(
    side: CompiledRule["source"],
    ip: KeyedAddress,
    port: number | undefined,
    ctx: FlowContext,
  ): "nets" | "notNets" | "selector" | "notSelector" | "ports" | "notPorts" | undefined {
    const failed = ip.idx === undefined ? this.#addressMismatch(side, ip) : this.#cachedAddressMismatch(side, ip, ip.idx);
    if (failed !== undefined) return failed;
    if (side.ports !== undefined && (port === undefined || !this.#portsMatch(side.ports, side.selector, ip, port, ctx.proto))) return "ports";
    if (side.notPorts !== undefined && (port === undefined || this.#portsMatch(side.notPorts, side.selector, ip, port, ctx.proto))) return "notPorts";
    return undefined;
  }

  #portsMatch(ports: readonly PortMatch[], selector: Selector | undefined, ip: KeyedAddress, port: number, proto: number): boolean {
    for (const p of ports) {
      if (p.kind === "range") {
        if (port >= p.min && port <= p.max) return true;
      } else {
        // Named port: (ip, protocol, port) of an endpoint selected by the rule's selector (all() if none).
        for (const e of this.#entitiesAt(ip)) {
          if (selector !== undefined && !selector.matchesMap(e.labelMap)) continue;
          if (e.ports.some((np) => np.name === p.name && np.protocol === proto && np.port === port)) return true;
        }
      }
    }
    return false;
  }

  /** Endpoints with this address and network sets containing it: the members of Felix's IP sets. */
  #entitiesAt(ip: KeyedAddress): readonly Entity[] {
    const key = ip.key;
    let list = this.#entityCache.get(key);
    if (list === undefined) {
      list = [...(this.#byIp.get(key) ?? []), ...this.#netSets.filter((n) => prefixContainsAddress(n.prefix, ip)).map((n) => n.entity)];
      this.#entityCache.set(key, list);
    }
    return list;
  }

  #selectorMatchesIp(selector: Selector, ip: KeyedAddress): boolean {
    let byIp = this.#selectorAt.get(selector.canonical);
    if (byIp === undefined) this.#selectorAt.set(selector.canonical, (byIp = new Map()));
    let hit = byIp.get(ip.key);
    if (hit === undefined) {
      hit = this.#entitiesAt(ip).some((e) => selector.matchesMap(e.labelMap));
      byIp.set(ip.key, hit);
    }
    return hit;
  }

}

function setAll(map: Map<string, string>, labels: Readonly<Record<string, string>> | undefined): void {
  if (labels !== undefined) for (const [k, v] of Object.entries(labels)) map.set(k, v);
}

function cmpOrder(a: number, b: number): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function hasFamily(nets: readonly Prefix[] | undefined, family: Family): boolean {
  if (nets === undefined) return true;
  for (const n of nets) if (n.family === family) return true;
  return false;
}

type SideField = "nets" | "notNets" | "selector" | "notSelector" | "ports" | "notPorts";
// Constant field names, so a failed match allocates no string on the hot path.
const SOURCE_FIELD: Readonly<Record<SideField, RuleField>> = {
  nets: "source.nets",
  notNets: "source.notNets",
  selector: "source.selector",
  notSelector: "source.notSelector",
  ports: "source.ports",
  notPorts: "source.notPorts",
};
const DESTINATION_FIELD: Readonly<Record<SideField, RuleField>> = {
  nets: "destination.nets",
  notNets: "destination.notNets",
  selector: "destination.selector",
  notSelector: "destination.notSelector",
  ports: "destination.ports",
  notPorts: "destination.notPorts",
};

function icmpMatches(m: { type: number; code?: number }, ctx: FlowContext): boolean {
  if (ctx.icmpType !== m.type) return false;
  return m.code === undefined || ctx.icmpCode === m.code;
}

function notAnEndpoint(direction: Direction): DirectionResult {
  return { direction, allowed: true, decision: { kind: "not-an-endpoint" }, trace: [] };
}

// The /32 (or /128) of an endpoint address, made once per (immutable, shared) address object.
const hostPrefixes = new WeakMap<IPAddress, Prefix>();
function hostPrefix(a: IPAddress): Prefix {
  let p = hostPrefixes.get(a);
  if (p === undefined) hostPrefixes.set(a, (p = { family: a.family, addr: a.value, len: a.family === 4 ? 32 : 128 }));
  return p;
}

const policyRefKey = (p: Policy): string => `${p.kind}/${p.namespace ?? ""}/${p.name}`;

// Policies are immutable inputs: each one's JSON is made once.
const policyJsonCache = new WeakMap<Policy, string>();
function policyJson(p: Policy): string {
  let j = policyJsonCache.get(p);
  if (j === undefined) policyJsonCache.set(p, (j = JSON.stringify(p)));
  return j;
}
