// The dataplane-neutral plan of one node's filter rules, felix-style (felix/rules): for each local
// workload (and host endpoint with an interface) a chain for traffic to it (ingress policy) and one
// for traffic from it (egress policy), jumping per tier to one chain per policy and then to profile
// chains; rules turned into match terms over selector-derived address sets. The nftables and
// iptables renderers print this plan. NodePlanner keeps it and re-plans a policy change incrementally.
import { formatIP, formatPrefix, parsePrefix, type Family, type Prefix } from "../../net/ip.ts";
import { sha1 } from "../../net/sha1.ts";
import { toHex } from "../../net/sha2.ts";
import type { CompiledPolicy, CompiledRule, CompiledSide } from "../compile.ts";
import type { Direction, PolicySet } from "../policy-set.ts";
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP, type PortMatch } from "../protocols.ts";
import type { Policy } from "../model.ts";
import type { Selector } from "../selector/index.ts";
import { lengthLimitedId, makeUniqueId, MAX_IPSET_NAME_LENGTH } from "../unique-id.ts";

/** Felix's default mark bits (IptablesMarkMask 0xffff0000, lowest bits first). */
export const MARKS = { accept: 0x10000, pass: 0x20000, drop: 0x40000, scratch0: 0x80000, scratch1: 0x100000 } as const;
/** Every mark bit birdcage uses; cleared when a packet enters the forward chain. */
export const ALL_MARKS = MARKS.accept | MARKS.pass | MARKS.drop | MARKS.scratch0 | MARKS.scratch1;

/** iptables' chain-name limit; birdcage uses it for nftables too so both renderers agree. */
export const MAX_CHAIN_NAME_LENGTH = 28;
/** Linux interface names are at most 15 bytes. */
const IFNAMSIZ = 15;

export interface RenderOptions {
  /** Render the chains of workloads whose node is this one. */
  readonly node: string;
  /** Host-side interface name prefix of workload veths (Calico: `cali`). */
  readonly ifacePrefix?: string;
  /** Host-side interface name of a workload; defaults to workloadInterfaceName. */
  readonly ifaceName?: (namespace: string, name: string) => string;
}

/**
 * The host-side interface name of a workload as Calico's CNI plugin names it (VethNameForWorkload):
 * prefix + the first 11 hex digits of SHA-1(`<namespace>.<name>`), e.g. `cali` + 11 = 15 bytes.
 */
export function workloadInterfaceName(namespace: string, name: string, prefix = "cali"): string {
  const ifname = prefix + toHex(sha1(`${namespace}.${name}`)).slice(0, 11);
  if (ifname.length > IFNAMSIZ) throw new RangeError(`interface prefix "${prefix}" is too long (at most ${IFNAMSIZ - 11} characters)`);
  return ifname;
}

/** An address set: named after the selector (or named-port) unique id, with `bc<family>-` in front. */
export const setName = (id: string, family: Family): string => `bc${family}-${id.replace(":", "_")}`.slice(0, MAX_IPSET_NAME_LENGTH);

export type Term =
  /** Only packets of this family (a rule with no address match needs none). */
  | { readonly t: "family"; readonly family: Family }
  | { readonly t: "proto"; readonly neg: boolean; readonly proto: number }
  /** Port matches without a protocol: only protocols that have ports. */
  | { readonly t: "portProtos" }
  | { readonly t: "nets"; readonly dir: "src" | "dst"; readonly neg: boolean; readonly family: Family; readonly cidrs: readonly string[] }
  | { readonly t: "set"; readonly dir: "src" | "dst"; readonly neg: boolean; readonly family: Family; readonly set: string }
  | { readonly t: "ports"; readonly dir: "src" | "dst"; readonly neg: boolean; readonly ranges: readonly (readonly [number, number])[] }
  | { readonly t: "namedPorts"; readonly dir: "src" | "dst"; readonly neg: boolean; readonly family: Family; readonly set: string }
  | { readonly t: "icmp"; readonly neg: boolean; readonly family: Family; readonly type: number; readonly code?: number };

export type Verdict = "allow" | "deny" | "pass" | "log";

export interface PlannedRule {
  readonly terms: readonly Term[];
  readonly verdict: Verdict;
  /** Where it came from, e.g. `shop/knp.default.db rule 0`. */
  readonly comment: string;
}

export interface PlannedChain {
  readonly name: string;
  readonly rules: readonly PlannedRule[];
}

export interface PlannedSet {
  readonly name: string;
  readonly family: Family;
  /** `net`: addresses and CIDRs; `port`: address . protocol . port triples. */
  readonly kind: "net" | "port";
  /** Sorted, normalised element texts (`10.0.0.1/32`, or `10.0.0.1 6 80` for port sets). */
  readonly members: readonly string[];
}

export interface PlannedTier {
  readonly tier: string;
  /** End-of-tier drop unless the tier's default action is Pass. */
  readonly endDrop: boolean;
  /** Policy chains, or policy-group chains, to jump to in order. */
  readonly policyChains: readonly string[];
}

export interface PlannedEndpoint {
  readonly kind: "workload" | "host";
  /** `namespace/name` (workloads) or the host endpoint's name. */
  readonly id: string;
  readonly iface: string;
  readonly ips: readonly string[];
  /** Chain for traffic to the workload (its ingress policy) and from it (egress). */
  readonly toChain: string;
  readonly fromChain: string;
  readonly ingress: readonly PlannedTier[];
  readonly egress: readonly PlannedTier[];
  readonly ingressProfiles: readonly string[];
  readonly egressProfiles: readonly string[];
}

/** A failsafe port: always allowed to (inbound) or from (outbound) a host endpoint, before policy. */
export interface PlannedFailsafe {
  readonly protocol: number;
  readonly port: number;
}

export interface Plan {
  readonly node: string;
  readonly ifacePrefix: string;
  readonly families: readonly Family[];
  /** The node's workloads. */
  readonly endpoints: readonly PlannedEndpoint[];
  /**
   * The node's host endpoints with an interface name, felix-style: `iface` is the interface,
   * `toChain` (`bc-fh-<iface>`, from the host endpoint into the host) holds the ingress policy and
   * `fromChain` (`bc-th-<iface>`, out of the host) the egress policy.
   */
  readonly hostEndpoints: readonly PlannedEndpoint[];
  /** Failsafe ports of host endpoints; false when turned off. */
  readonly failsafe: { readonly inbound: readonly PlannedFailsafe[]; readonly outbound: readonly PlannedFailsafe[] } | false;
  /** Policy and profile chains, by name. */
  readonly chains: ReadonlyMap<string, PlannedChain>;
  /** Policy-group chains (`bc-gi-…`/`bc-go-…`): the policy chains each one runs, in order. */
  readonly groups: ReadonlyMap<string, readonly string[]>;
  readonly sets: ReadonlyMap<string, PlannedSet>;
}

const SHORT_KIND = { NetworkPolicy: "np", GlobalNetworkPolicy: "gnp", KubernetesNetworkPolicy: "knp" } as const;

/** Felix's policy id `<shortkind>/<namespace>/<name>` (or `<shortkind>/<name>`). */
export function policyChainId(p: CompiledPolicy): string {
  const ns = p.policy.namespace;
  return `${SHORT_KIND[p.policy.kind]}/${ns !== undefined && ns !== "" ? `${ns}/` : ""}${p.policy.name}`;
}

export const policyChainName = (p: CompiledPolicy, dir: Direction): string =>
  lengthLimitedId(dir === "ingress" ? "bc-pi-" : "bc-po-", policyChainId(p), MAX_CHAIN_NAME_LENGTH);
export const profileChainName = (profile: string, dir: Direction): string =>
  lengthLimitedId(dir === "ingress" ? "bc-pri-" : "bc-pro-", profile, MAX_CHAIN_NAME_LENGTH);

class Planner {
  readonly chains = new Map<string, PlannedChain>();
  readonly sets = new Map<string, PlannedSet>();
  constructor(
    readonly set: PolicySet,
    readonly families: readonly Family[],
  ) {}

  // Rules parse their own Selector objects; names are cached by canonical text so each distinct
  // selector is hashed (SHA-224 for its unique id) once, not once per rule.
  // Set names by family and canonical selector (the canonical string is the key: its hash is
  // kept by the string, which each parsed Selector holds once).
  readonly #selectorNames: Record<Family, Map<string, string>> = { 4: new Map(), 6: new Map() };

  selectorSet(sel: Selector, family: Family): string {
    const names = this.#selectorNames[family];
    let name = names.get(sel.canonical);
    if (name === undefined) names.set(sel.canonical, (name = setName(sel.uniqueId, family)));
    // A set dropped from an earlier plan (no rule used it) is filled again.
    if (!this.sets.has(name)) {
      const members = this.set
        .ipSetMembers(sel)
        .filter((p) => p.family === family);
      this.sets.set(name, { name, family, kind: "net", members: normalise(members).map(cidr) });
    }
    return name;
  }

  readonly #names = new Map<string, string>();

  namedPortSet(sel: Selector | undefined, port: string, protocol: number | undefined, family: Family): string {
    const key = `${family} ${sel?.canonical ?? ""} ${protocol ?? "any"} ${port}`;
    let name = this.#names.get(key);
    if (name === undefined) this.#names.set(key, (name = setName(makeUniqueId("n", `${sel?.uniqueId ?? "all"},${protocol ?? "any"},${port}`), family)));
    if (!this.sets.has(name)) {
      const members = this.set
        .namedPortMembers(sel, port, protocol)
        .filter((m) => m.ip.family === family)
        .map((m) => `${formatIP(m.ip.family, m.ip.value)} ${m.protocol} ${m.port}`)
        .sort();
      this.sets.set(name, { name, family, kind: "port", members });
    }
    return name;
  }

  readonly groups = new Map<string, readonly string[]>();

  /** A chain that runs several policy chains in turn, stopping once one accepts or passes. */
  group(policyChains: readonly string[], dir: Direction): string {
    const key = `${dir} ${policyChains.join(",")}`;
    let name = this.#groupNames.get(key);
    if (name === undefined) {
      name = lengthLimitedId(dir === "ingress" ? "bc-gi-" : "bc-go-", `_${makeUniqueId("g", policyChains.join(","))}`, MAX_CHAIN_NAME_LENGTH);
      this.#groupNames.set(key, name);
    }
    // Endpoints with the same run share the member list (and so its rendered chain).
    if (!this.groups.has(name)) this.groups.set(name, policyChains);
    return name;
  }

  /** Group names by direction and members: hashed once, not once per endpoint. */
  readonly #groupNames = new Map<string, string>();

  readonly #chainOf = { ingress: new Map<CompiledPolicy, string>(), egress: new Map<CompiledPolicy, string>() };

  policyChain(p: CompiledPolicy, dir: Direction): string {
    const known = this.#chainOf[dir].get(p);
    if (known !== undefined && this.chains.has(known)) return known;
    const name = policyChainName(p, dir);
    this.#chainOf[dir].set(p, name);
    if (!this.chains.has(name)) this.chains.set(name, chainOf(name, (dir === "ingress" ? p.ingress : p.egress).flatMap((r) => this.rule(r, `${p.id} ${dir} rule ${r.index}`))));
    return name;
  }

  /** Drops a policy's chains, so that a changed policy of the same name is planned anew. */
  forget(p: CompiledPolicy): void {
    for (const dir of ["ingress", "egress"] as const) {
      const name = this.#chainOf[dir].get(p);
      if (name === undefined) continue;
      this.#chainOf[dir].delete(p);
      this.chains.delete(name);
    }
  }

  profileChain(profile: string, dir: Direction): string | undefined {
    const rules = this.set.profileRules(profile, dir);
    if (rules === undefined) return undefined;
    const name = profileChainName(profile, dir);
    if (!this.chains.has(name)) this.chains.set(name, chainOf(name, rules.flatMap((r) => this.rule(r, `profile ${profile} ${dir} rule ${r.index}`))));
    return name;
  }

  /** One compiled rule as the rendered rules it takes: one per family and per port alternative. */
  rule(r: CompiledRule, comment: string): PlannedRule[] {
    const verdict: Verdict = r.action === "Allow" ? "allow" : r.action === "Deny" ? "deny" : r.action === "Pass" ? "pass" : "log";
    const out: PlannedRule[] = [];
    const addressed = needsFamily(r);
    // A rule that matches no address is family-independent: rendered once, without a family match.
    const families = addressed || r.ipVersion !== undefined ? this.families : this.families.slice(0, 1);
    for (const family of families) {
      if (r.ipVersion !== undefined && r.ipVersion !== family) continue;
      if (!sideHasFamily(r.source, family) || !sideHasFamily(r.destination, family)) continue;
      // ICMP is IPv4's and ICMPv6 IPv6's (the validator ties them to ipVersion the same way).
      if ((r.protocol === PROTO_ICMP && family === 6) || (r.protocol === PROTO_ICMPV6 && family === 4)) continue;
      const base: Term[] = [];
      if (addressed || r.ipVersion !== undefined) base.push({ t: "family", family });
      if (r.protocol !== undefined) base.push({ t: "proto", neg: false, proto: r.protocol });
      if (r.notProtocol !== undefined) base.push({ t: "proto", neg: true, proto: r.notProtocol });
      const hasPorts = r.source.ports !== undefined || r.source.notPorts !== undefined || r.destination.ports !== undefined || r.destination.notPorts !== undefined;
      if (hasPorts && r.protocol === undefined) base.push({ t: "portProtos" });
      if (r.icmp !== undefined) base.push({ t: "icmp", neg: false, family, ...r.icmp });
      if (r.notIcmp !== undefined) base.push({ t: "icmp", neg: true, family, ...r.notIcmp });
      const src = this.side(r.source, "src", family, r.protocol);
      const dst = this.side(r.destination, "dst", family, r.protocol);
      // Positive port lists are OR-ed: numeric ranges together, each named port on its own.
      for (const sp of src.alternatives) {
        for (const dp of dst.alternatives) {
          out.push({ terms: [...base, ...src.terms, ...sp, ...dst.terms, ...dp], verdict, comment });
        }
      }
    }
    return out;
  }

  side(s: CompiledSide, dir: "src" | "dst", family: Family, protocol: number | undefined): { terms: Term[]; alternatives: Term[][] } {
    const terms: Term[] = [];
    const nets = s.nets?.filter((n) => n.family === family);
    if (nets !== undefined) terms.push({ t: "nets", dir, neg: false, family, cidrs: nets.map(cidr) });
    const notNets = s.notNets?.filter((n) => n.family === family);
    if (notNets !== undefined && notNets.length > 0) terms.push({ t: "nets", dir, neg: true, family, cidrs: notNets.map(cidr) });
    if (s.selector !== undefined) terms.push({ t: "set", dir, neg: false, family, set: this.selectorSet(s.selector, family) });
    if (s.notSelector !== undefined) terms.push({ t: "set", dir, neg: true, family, set: this.selectorSet(s.notSelector, family) });
    if (s.notPorts !== undefined) {
      const ranges = numeric(s.notPorts);
      if (ranges.length > 0) terms.push({ t: "ports", dir, neg: true, ranges });
      for (const p of s.notPorts) {
        if (p.kind === "named") terms.push({ t: "namedPorts", dir, neg: true, family, set: this.namedPortSet(s.selector, p.name, protocol, family) });
      }
    }
    let alternatives: Term[][] = [[]];
    if (s.ports !== undefined) {
      alternatives = [];
      const ranges = numeric(s.ports);
      if (ranges.length > 0) alternatives.push([{ t: "ports", dir, neg: false, ranges }]);
      for (const p of s.ports) {
        if (p.kind === "named") alternatives.push([{ t: "namedPorts", dir, neg: false, family, set: this.namedPortSet(s.selector, p.name, protocol, family) }]);
      }
    }
    return { terms, alternatives };
  }
}

/**
 * A chain without the rules that can never fire: a rule whose match is the same as an earlier
 * rule's that ends the chain (Allow, Deny, Pass) sees no packet. Each kernel rule costs load time.
 */
function chainOf(name: string, rules: readonly PlannedRule[]): PlannedChain {
  const seen = new Set<string>();
  const kept: PlannedRule[] = [];
  for (const r of rules) {
    const key = termsKey(r.terms);
    if (seen.has(key)) continue;
    if (r.verdict !== "log") seen.add(key);
    kept.push(r);
  }
  return { name, rules: kept };
}

function termsKey(terms: readonly Term[]): string {
  let k = "";
  for (const t of terms) {
    switch (t.t) {
      case "family":
        k += `f${t.family};`;
        break;
      case "proto":
        k += `p${t.neg ? "!" : ""}${t.proto};`;
        break;
      case "portProtos":
        k += "pp;";
        break;
      case "nets":
        k += `n${t.dir}${t.neg ? "!" : ""}${t.family}${t.cidrs.join(",")};`;
        break;
      case "set":
      case "namedPorts":
        k += `${t.t[0]}${t.dir}${t.neg ? "!" : ""}${t.set};`;
        break;
      case "ports":
        k += `o${t.dir}${t.neg ? "!" : ""}${t.ranges.map(([a, b]) => `${a}-${b}`).join(",")};`;
        break;
      case "icmp":
        k += `i${t.neg ? "!" : ""}${t.family}.${t.type}.${t.code ?? ""};`;
        break;
    }
  }
  return k;
}

// Formatting a prefix goes through bigints: remember the text per (shared, immutable) Prefix object.
const prefixText = new WeakMap<Prefix, string>();
function cidr(p: Prefix): string {
  let t = prefixText.get(p);
  if (t === undefined) prefixText.set(p, (t = formatPrefix(p)));
  return t;
}

function numeric(ports: readonly PortMatch[]): [number, number][] {
  return ports.flatMap((p) => (p.kind === "range" ? [[p.min, p.max] as [number, number]] : []));
}

/** Does the rule match on addresses (so it must be rendered per IP family)? */
function needsFamily(r: CompiledRule): boolean {
  return sideAddressed(r.source) || sideAddressed(r.destination) || r.icmp !== undefined || r.notIcmp !== undefined || r.protocol === PROTO_ICMP || r.protocol === PROTO_ICMPV6;
}

// Module-level helpers rather than closures: this runs once per rule of every policy.
function sideAddressed(s: CompiledSide): boolean {
  return s.nets !== undefined || s.notNets !== undefined || s.selector !== undefined || s.notSelector !== undefined || hasNamed(s.ports) || hasNamed(s.notPorts);
}

function hasNamed(ports: readonly PortMatch[] | undefined): boolean {
  if (ports !== undefined) for (const p of ports) if (p.kind === "named") return true;
  return false;
}

// As in the evaluator: a nets/notNets list with nothing of the packet's family drops the rule.
function sideHasFamily(s: CompiledSide, family: Family): boolean {
  return hasFamily(s.nets, family) && hasFamily(s.notNets, family);
}

function hasFamily(nets: readonly Prefix[] | undefined, family: Family): boolean {
  if (nets === undefined) return true;
  for (const n of nets) if (n.family === family) return true;
  return false;
}

/** Sorted prefixes with those inside another dropped, so nft interval sets have no overlaps. */
export function normalise(prefixes: readonly Prefix[]): Prefix[] {
  // PolicySet.ipSetMembers gives them sorted already: check (one pass) before sorting.
  const sorted = isSorted(prefixes) ? prefixes : [...prefixes].sort(comparePrefixes);
  const out: Prefix[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.family === p.family && covers(last, p)) continue;
    out.push(p);
  }
  return out;
}

function comparePrefixes(a: Prefix, b: Prefix): number {
  return a.family !== b.family ? a.family - b.family : a.addr !== b.addr ? (a.addr < b.addr ? -1 : 1) : a.len - b.len;
}

function isSorted(prefixes: readonly Prefix[]): boolean {
  for (let i = 1; i < prefixes.length; i++) if (comparePrefixes(prefixes[i - 1]!, prefixes[i]!) > 0) return false;
  return true;
}

function covers(outer: Prefix, inner: Prefix): boolean {
  if (outer.len > inner.len) return false;
  // A host covers only itself (most members): no bigint shifts.
  if (outer.len === (outer.family === 4 ? 32 : 128)) return outer.addr === inner.addr;
  const bits = BigInt((outer.family === 4 ? 32 : 128) - outer.len);
  return outer.addr >> bits === inner.addr >> bits;
}

/** Address families present in the endpoints and the rules' CIDRs (policies counted by how many name each). */
function familiesFrom(endpointFamilies: ReadonlySet<Family>, counts: ReadonlyMap<Family, number>): Family[] {
  const found = new Set<Family>(endpointFamilies);
  for (const [f, n] of counts) if (n > 0) found.add(f);
  if (found.size === 0) found.add(4);
  return [...found].sort();
}

function countFamilies(counts: Map<Family, number>, p: CompiledPolicy, by: 1 | -1): void {
  let fams = policyFamilies.get(p);
  if (fams === undefined) {
    const own = new Set<Family>();
    for (const r of p.ingress) ruleFamilies(r, own);
    for (const r of p.egress) ruleFamilies(r, own);
    policyFamilies.set(p, (fams = [...own]));
  }
  for (const f of fams) counts.set(f, (counts.get(f) ?? 0) + by);
}

// Compiled policies are immutable: what each needs is worked out once.
const policyFamilies = new WeakMap<CompiledPolicy, readonly Family[]>();
const chainSets = new WeakMap<PlannedChain, readonly string[]>();

/** The sets a chain's rules refer to. */
function setsOf(c: PlannedChain): readonly string[] {
  let names = chainSets.get(c);
  if (names === undefined) {
    const found = new Set<string>();
    for (const r of c.rules) for (const t of r.terms) if (t.t === "set" || t.t === "namedPorts") found.add(t.set);
    chainSets.set(c, (names = [...found]));
  }
  return names;
}

function ruleFamilies(r: CompiledRule, found: Set<Family>): void {
  for (const s of [r.source, r.destination]) {
    for (const n of s.nets ?? []) found.add(n.family);
    for (const n of s.notNets ?? []) found.add(n.family);
  }
  if (r.ipVersion !== undefined) found.add(r.ipVersion);
}

/** A policy's identity in a set: kind, namespace and name. */
export interface PolicyRef {
  readonly kind: Policy["kind"];
  readonly namespace?: string;
  readonly name: string;
}

/** Policies added or replaced (`upsert`, matched by kind/namespace/name) and removed. */
export interface PolicyChange {
  readonly upsert?: readonly Policy[];
  readonly remove?: readonly PolicyRef[];
}

const policyKey = (p: PolicyRef): string => `${p.kind}/${p.namespace ?? ""}/${p.name}`;

/**
 * The change that turns one list of policies into another: those whose content differs (compared
 * as JSON) are upserted, those gone are removed. For callers that get whole lists (a datastore
 * watch) and want NodePlanner's incremental path.
 */
export function diffPolicies(prev: readonly Policy[], next: readonly Policy[]): PolicyChange {
  const before = new Map(prev.map((p) => [policyKey(p), p]));
  const upsert: Policy[] = [];
  const seen = new Set<string>();
  for (const p of next) {
    const key = policyKey(p);
    seen.add(key);
    const old = before.get(key);
    if (old !== p && (old === undefined || jsonOf(old) !== jsonOf(p))) upsert.push(p);
  }
  const remove = prev.filter((p) => !seen.has(policyKey(p))).map((p) => ({ kind: p.kind, ...(p.namespace !== undefined ? { namespace: p.namespace } : {}), name: p.name }));
  return { upsert, remove };
}

// Policies are immutable inputs: each one's JSON is made once (a kept list is compared again next time).
const policyJson = new WeakMap<Policy, string>();
function jsonOf(p: Policy): string {
  let j = policyJson.get(p);
  if (j === undefined) policyJson.set(p, (j = JSON.stringify(p)));
  return j;
}

interface LocalEndpoint {
  readonly kind: "workload" | "host";
  readonly id: string;
  readonly iface: string;
  readonly ips: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly profiles: readonly string[];
  applicable: Record<Direction, readonly CompiledPolicy[]>;
  planned?: PlannedEndpoint;
}

/**
 * The plan of one node, kept so that a policy change is planned incrementally: only the changed
 * policies' chains are rebuilt, only the node's endpoints that an old or new selector matches are
 * re-planned, and the new plan shares every other chain, set and endpoint object with the previous
 * one (so renderNftUpdate compares them by identity). `planNode` is the one-shot form.
 *
 * The PolicySet given stays the source of endpoints, profiles, tiers and network sets; policy
 * changes are applied here only (the set itself is immutable and does not see them).
 */
export class NodePlanner {
  readonly #options: RenderOptions;
  readonly #ifacePrefix: string;
  readonly #endpointFamilies: ReadonlySet<Family>;
  readonly #local: LocalEndpoint[] = [];
  readonly #failsafe: Plan["failsafe"];
  /** Enforced policies by kind/namespace/name. */
  readonly #policies = new Map<string, CompiledPolicy>();
  /** How many of the enforced policies name each family in their rules (kept per change, not recounted). */
  readonly #familyCounts = new Map<Family, number>();
  #planner: Planner;
  #plan: Plan;

  constructor(
    readonly set: PolicySet,
    options: RenderOptions,
  ) {
    this.#options = options;
    this.#ifacePrefix = options.ifacePrefix ?? "cali";
    const ifaceName = options.ifaceName ?? ((ns: string, name: string) => workloadInterfaceName(ns, name, this.#ifacePrefix));
    for (const p of set.policies) this.#policies.set(policyKey(p.policy), p);
    this.#endpointFamilies = set.endpointFamilies();
    const fs = set.failsafe;
    const ports = (list: readonly { protocol: string; port: number }[]): PlannedFailsafe[] => list.map((f) => ({ protocol: f.protocol === "udp" ? PROTO_UDP : PROTO_TCP, port: f.port }));
    this.#failsafe = fs === false ? false : { inbound: ports(fs.inbound), outbound: ports(fs.outbound) };
    for (const e of set.describeEndpoints(options.node)) {
      if (e.endpoint.kind === "host") {
        // Host endpoints are policed by interface; one known by its addresses only is not rendered.
        const iface = e.interfaceName;
        if (iface === undefined || iface === "*" || e.node !== options.node) continue;
        const applies = (dir: Direction): CompiledPolicy[] => set.policies.filter((p) => p.types.has(dir === "ingress" ? "Ingress" : "Egress") && p.selector.matches(e.labels));
        this.#local.push({
          kind: "host",
          id: e.endpoint.name,
          iface,
          ips: e.ips,
          labels: e.labels,
          profiles: e.profiles,
          applicable: { ingress: applies("ingress"), egress: applies("egress") },
        });
        continue;
      }
      if (e.node !== options.node || e.ips.length === 0) continue;
      const ns = e.endpoint.namespace ?? "";
      const first = parsePrefix(e.ips[0]!, { strict: false });
      const ip = formatIP(first.family, first.addr);
      this.#local.push({
        kind: "workload",
        id: `${ns}/${e.endpoint.name}`,
        iface: ifaceName(ns, e.endpoint.name),
        ips: e.ips,
        labels: e.labels,
        profiles: e.profiles,
        applicable: { ingress: set.policiesFor(ip, "ingress"), egress: set.policiesFor(ip, "egress") },
      });
    }
    this.#local.sort((a, b) => (a.iface < b.iface ? -1 : a.iface > b.iface ? 1 : 0));
    for (const p of this.#policies.values()) countFamilies(this.#familyCounts, p, 1);
    this.#planner = new Planner(set, familiesFrom(this.#endpointFamilies, this.#familyCounts));
    this.#plan = this.#build();
  }

  get plan(): Plan {
    return this.#plan;
  }

  /** Enforced policies, in evaluation order. */
  policies(): CompiledPolicy[] {
    return [...this.#policies.values()].sort(this.set.comparePolicies);
  }

  /**
   * Applies a policy change and returns the new plan. Throws PolicyInputError (and changes
   * nothing) when an upserted policy is invalid.
   */
  update(change: PolicyChange): Plan {
    const upserts = (change.upsert ?? []).map((p) => this.set.compilePolicy(p));
    const changedSelectors: Selector[] = [];
    const changedKeys = new Set<string>();
    const touch = (key: string): void => {
      changedKeys.add(key);
      const old = this.#policies.get(key);
      if (old === undefined) return;
      changedSelectors.push(old.selector);
      this.#planner.forget(old);
      this.#policies.delete(key);
      countFamilies(this.#familyCounts, old, -1);
    };
    for (const r of change.remove ?? []) touch(policyKey(r));
    for (const p of upserts) {
      const key = policyKey(p.policy);
      touch(key);
      if (!p.filterPath) continue;
      this.#policies.set(key, p);
      countFamilies(this.#familyCounts, p, 1);
      changedSelectors.push(p.selector);
    }
    if (changedKeys.size === 0) return this.#plan;

    const families = familiesFrom(this.#endpointFamilies, this.#familyCounts);
    const sameFamilies = families.length === this.#planner.families.length && families.every((f, i) => f === this.#planner.families[i]);
    if (!sameFamilies) this.#planner = new Planner(this.set, families);
    const added = upserts.filter((p) => p.filterPath);
    for (const ep of this.#local) {
      if (sameFamilies && !changedSelectors.some((sel) => sel.matches(ep.labels))) continue;
      const applicable = (dir: Direction): CompiledPolicy[] => {
        const type = dir === "ingress" ? "Ingress" : "Egress";
        const kept = ep.applicable[dir].filter((p) => !changedKeys.has(policyKey(p.policy)));
        const fresh = added.filter((p) => p.types.has(type) && p.selector.matches(ep.labels));
        return fresh.length === 0 ? kept : [...kept, ...fresh].sort(this.set.comparePolicies);
      };
      ep.applicable = { ingress: applicable("ingress"), egress: applicable("egress") };
      delete ep.planned;
    }
    this.#plan = this.#build();
    return this.#plan;
  }

  /** The plan from the endpoints' current state, keeping only the chains, groups and sets in use. */
  #build(): Plan {
    const planner = this.#planner;
    const all = this.#local.map((ep) => (ep.planned ??= this.#planEndpoint(ep)));
    const endpoints = all.filter((_, i) => this.#local[i]!.kind === "workload");
    const hostEndpoints = all.filter((_, i) => this.#local[i]!.kind === "host");
    const chains = new Set<string>();
    const groups = new Map<string, readonly string[]>();
    for (const ep of all) {
      const used = chainsUsed(ep, planner.groups);
      for (const c of used.chains) chains.add(c);
      for (const [name, members] of used.groups) groups.set(name, members);
    }
    const keptChains = new Map<string, PlannedChain>();
    const setNames = new Set<string>();
    for (const [name, c] of planner.chains) {
      if (!chains.has(name)) {
        planner.chains.delete(name);
        continue;
      }
      keptChains.set(name, c);
      for (const n of setsOf(c)) setNames.add(n);
    }
    for (const name of planner.groups.keys()) if (!groups.has(name)) planner.groups.delete(name);
    const sets = new Map<string, PlannedSet>();
    for (const [name, s] of planner.sets) {
      if (setNames.has(name)) sets.set(name, s);
      else planner.sets.delete(name);
    }
    return { node: this.#options.node, ifacePrefix: this.#ifacePrefix, families: planner.families, endpoints, hostEndpoints, failsafe: this.#failsafe, chains: keptChains, groups, sets };
  }

  #planEndpoint(ep: LocalEndpoint): PlannedEndpoint {
    const planner = this.#planner;
    const tiers = (dir: Direction): PlannedTier[] => {
      const out: { tier: string; endDrop: boolean; runs: CompiledPolicy[][] }[] = [];
      for (const p of ep.applicable[dir]) {
        let t = out[out.length - 1];
        if (t === undefined || t.tier !== p.tier) {
          t = { tier: p.tier, endDrop: this.set.tier(p.tier)?.defaultAction !== "Pass", runs: [] };
          out.push(t);
        }
        // Consecutive policies with the same selector form a group, as Felix's policy groups.
        const run = t.runs[t.runs.length - 1];
        if (run !== undefined && run[0]!.selector.canonical === p.selector.canonical) run.push(p);
        else t.runs.push([p]);
      }
      return out.map((t) => ({
        tier: t.tier,
        endDrop: t.endDrop,
        policyChains: t.runs.map((run) => (run.length === 1 ? planner.policyChain(run[0]!, dir) : planner.group(run.map((p) => planner.policyChain(p, dir)), dir))),
      }));
    };
    const profiles = (dir: Direction): string[] => ep.profiles.flatMap((name) => planner.profileChain(name, dir) ?? []);
    return {
      kind: ep.kind,
      id: ep.id,
      iface: ep.iface,
      ips: ep.ips,
      toChain: lengthLimitedId(ep.kind === "host" ? "bc-fh-" : "bc-tw-", ep.iface, MAX_CHAIN_NAME_LENGTH),
      fromChain: lengthLimitedId(ep.kind === "host" ? "bc-th-" : "bc-fw-", ep.iface, MAX_CHAIN_NAME_LENGTH),
      ingress: tiers("ingress"),
      egress: tiers("egress"),
      ingressProfiles: profiles("ingress"),
      egressProfiles: profiles("egress"),
    };
  }
}

// What a planned endpoint's chains jump to: worked out once per (immutable) endpoint object, as
// most endpoints are the same object from one plan to the next.
const endpointUses = new WeakMap<PlannedEndpoint, { readonly chains: readonly string[]; readonly groups: readonly (readonly [string, readonly string[]])[] }>();
function chainsUsed(ep: PlannedEndpoint, groupsByName: ReadonlyMap<string, readonly string[]>): { readonly chains: readonly string[]; readonly groups: readonly (readonly [string, readonly string[]])[] } {
  let u = endpointUses.get(ep);
  if (u === undefined) {
    const chains: string[] = [];
    const groups: [string, readonly string[]][] = [];
    for (const tiers of [ep.ingress, ep.egress]) {
      for (const tier of tiers) {
        for (const c of tier.policyChains) {
          const members = groupsByName.get(c);
          if (members === undefined) chains.push(c);
          else {
            groups.push([c, members]);
            chains.push(...members);
          }
        }
      }
    }
    chains.push(...ep.ingressProfiles, ...ep.egressProfiles);
    endpointUses.set(ep, (u = { chains, groups }));
  }
  return u;
}

/** The plan for the workloads of one node. */
export function planNode(set: PolicySet, options: RenderOptions): Plan {
  return new NodePlanner(set, options).plan;
}

export const PORT_PROTOCOLS = [PROTO_TCP, PROTO_UDP, PROTO_SCTP] as const;

/**
 * ICMPv6 types a host must send and receive whatever its host endpoint's policy: MLD (130-132),
 * router solicitation (133), neighbour solicitation and advertisement (135, 136) — felix/rules/static.go.
 */
export const NDP_ICMPV6_TYPES = [130, 131, 132, 133, 135, 136] as const;
