// The plan as `ipset restore` input plus an `iptables-restore --noflush` (IPv4) or
// `ip6tables-restore --noflush` (IPv6) file, felix-style:
// chains prefixed `bc-`, Allow/Pass as a mark then a RETURN on the mark (policy.go), CIDR lists of
// more than one entry and selector/named-port sets as ipsets. Declaring a chain in a --noflush
// restore empties it, so the file replaces birdcage's chains and leaves every other chain alone.
import type { Family } from "../../net/ip.ts";
import { makeUniqueId } from "../unique-id.ts";
import { ALL_MARKS, MARKS, NDP_ICMPV6_TYPES, PORT_PROTOCOLS, setName, type Plan, type PlannedEndpoint, type PlannedFailsafe, type PlannedRule, type PlannedSet, type Term } from "./plan.ts";

/** The rule that hooks birdcage's chains into FORWARD (install once; not part of the restore file). */
export const IPTABLES_HOOK = ["-I", "FORWARD", "1", "-j", "bc-FORWARD"] as const;
/** The rules that hook host-endpoint chains into INPUT and OUTPUT (when the plan has host endpoints). */
export const IPTABLES_HOST_HOOKS = [
  ["-I", "INPUT", "1", "-j", "bc-INPUT"],
  ["-I", "OUTPUT", "1", "-j", "bc-OUTPUT"],
] as const;

const HOOKED_CHAINS: ReadonlySet<string> = new Set<string>([IPTABLES_HOOK[4], ...IPTABLES_HOST_HOOKS.map((h) => h[4])]);

const hex = (n: number): string => `0x${n.toString(16)}`;
const quote = (s: string): string => `"${s.replace(/["\\]/g, "").slice(0, 200)}"`;
const MULTIPORT_MAX = 15;

export interface IptablesOutput {
  /** `ipset restore` input (creates sets if missing, then refills them). */
  readonly ipset: string;
  /** `iptables-restore --noflush` input. */
  readonly iptables: string;
}

class Writer {
  readonly cidrSets = new Map<string, readonly string[]>();
  constructor(readonly family: Family) {}

  /** Every term as iptables arguments; rules that need an OR are split into several (variants). */
  variants(terms: readonly Term[]): string[][] {
    let out: string[][] = [[]];
    const add = (...parts: string[]): void => {
      out = out.map((v) => [...v, ...parts]);
    };
    for (const t of terms) {
      switch (t.t) {
        case "family":
          break; // the file is of one family; rules of the other are left out before
        case "proto":
          add(...(t.neg ? ["!", "-p", String(t.proto)] : ["-p", String(t.proto)]));
          break;
        case "portProtos":
          out = out.flatMap((v) => PORT_PROTOCOLS.map((p) => [...v, "-p", String(p)]));
          break;
        case "nets": {
          const flag = t.dir === "src" ? "-s" : "-d";
          // Negated lists go through an ipset: iptables takes one -s/-d per rule.
          if (t.cidrs.length === 1 && !t.neg) add(flag, t.cidrs[0]!);
          else add("-m", "set", ...(t.neg ? ["!"] : []), "--match-set", this.cidrSet(t.cidrs), t.dir);
          break;
        }
        case "set":
          add("-m", "set", ...(t.neg ? ["!"] : []), "--match-set", t.set, t.dir);
          break;
        case "ports": {
          const chunks = multiportChunks(t.ranges);
          const opt = t.dir === "src" ? "--sports" : "--dports";
          // Positive chunks are alternatives (OR); negated chunks must all hold (AND).
          if (t.neg) add(...chunks.flatMap((c) => ["-m", "multiport", "!", opt, c]));
          else out = out.flatMap((v) => chunks.map((c) => [...v, "-m", "multiport", opt, c]));
          break;
        }
        case "namedPorts":
          add("-m", "set", ...(t.neg ? ["!"] : []), "--match-set", t.set, `${t.dir},${t.dir}`);
          break;
        case "icmp":
          if (t.family === 6) add("-m", "icmp6", ...(t.neg ? ["!"] : []), "--icmpv6-type", t.code === undefined ? String(t.type) : `${t.type}/${t.code}`);
          else add("-m", "icmp", ...(t.neg ? ["!"] : []), "--icmp-type", t.code === undefined ? String(t.type) : `${t.type}/${t.code}`);
          break;
      }
    }
    return out;
  }

  cidrSet(cidrs: readonly string[]): string {
    const name = setName(makeUniqueId("c", [...cidrs].sort().join(",")), this.family);
    this.cidrSets.set(name, cidrs);
    return name;
  }

  rule(chain: string, r: PlannedRule): string[] {
    if (r.terms.some((t) => "family" in t && t.family !== this.family)) return [];
    const lines: string[] = [];
    const c = `-m comment --comment ${quote(r.comment)}`;
    for (const v of this.variants(r.terms)) {
      const match = v.length > 0 ? `${v.join(" ")} ` : "";
      switch (r.verdict) {
        case "allow":
          lines.push(`-A ${chain} ${match}${c} -j MARK --set-xmark ${hex(MARKS.accept)}/${hex(MARKS.accept)}`);
          break;
        case "pass":
          lines.push(`-A ${chain} ${match}${c} -j MARK --set-xmark ${hex(MARKS.pass)}/${hex(MARKS.pass)}`);
          break;
        case "deny":
          lines.push(`-A ${chain} ${match}${c} -j DROP`);
          break;
        case "log":
          lines.push(`-A ${chain} ${match}${c} -j LOG --log-prefix "calico-packet: "`);
          break;
      }
    }
    if (r.verdict === "allow" || r.verdict === "pass") {
      const bit = r.verdict === "allow" ? MARKS.accept : MARKS.pass;
      lines.push(`-A ${chain} -m mark --mark ${hex(bit)}/${hex(bit)} -j RETURN`);
    }
    return lines;
  }
}

function multiportChunks(ranges: readonly (readonly [number, number])[]): string[] {
  const chunks: string[] = [];
  let cur: string[] = [];
  let used = 0;
  for (const [a, b] of ranges) {
    const cost = a === b ? 1 : 2; // a range takes two of multiport's 15 slots
    if (used + cost > MULTIPORT_MAX) {
      chunks.push(cur.join(","));
      cur = [];
      used = 0;
    }
    cur.push(a === b ? `${a}` : `${a}:${b}`);
    used += cost;
  }
  if (cur.length > 0) chunks.push(cur.join(","));
  return chunks;
}

function endpointRules(ep: PlannedEndpoint, dir: "ingress" | "egress"): string[] {
  const chain = dir === "ingress" ? ep.toChain : ep.fromChain;
  const A = `-A ${chain}`;
  const acceptBit = `${hex(MARKS.accept)}/${hex(MARKS.accept)}`;
  const passBit = `0x0/${hex(MARKS.pass)}`;
  const lines = [
    `${A} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `${A} -m conntrack --ctstate INVALID -j DROP`,
    `${A} -j MARK --set-xmark 0x0/${hex(MARKS.accept | MARKS.pass)}`,
  ];
  if (dir === "egress" && ep.kind === "workload") {
    lines.push(`${A} -p udp -m udp --dport 4789 -m comment --comment "Drop VXLAN encapped packets originating in workloads" -j DROP`);
    lines.push(`${A} -p 4 -m comment --comment "Drop IPinIP encapped packets originating in workloads" -j DROP`);
  }
  for (const tier of dir === "ingress" ? ep.ingress : ep.egress) {
    lines.push(`${A} -m comment --comment ${quote(`Start of tier ${tier.tier}`)} -j MARK --set-xmark 0x0/${hex(MARKS.pass)}`);
    for (const p of tier.policyChains) {
      lines.push(`${A} -m mark --mark ${passBit} -j ${p}`);
      lines.push(`${A} -m mark --mark ${acceptBit} -m comment --comment "Return if policy accepted" -j RETURN`);
    }
    if (tier.endDrop) lines.push(`${A} -m mark --mark ${passBit} -m comment --comment ${quote(`End of tier ${tier.tier}. Drop if no policies passed packet`)} -j DROP`);
  }
  for (const p of dir === "ingress" ? ep.ingressProfiles : ep.egressProfiles) {
    lines.push(`${A} -j ${p}`);
    lines.push(`${A} -m mark --mark ${acceptBit} -m comment --comment "Return if profile accepted" -j RETURN`);
  }
  lines.push(`${A} -m comment --comment "Drop if no profiles matched" -j DROP`);
  return lines;
}

/** One family's rules and ipsets, chain by chain: what the full file and the updates are made of. */
export interface IptablesRuleset {
  readonly family: Family;
  /** Every `bc-` chain, in file order, with its `-A …` lines. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Every ipset the rules use: `hash:net` or `hash:ip,port`, with its elements as ipset prints them. */
  readonly sets: ReadonlyMap<string, { readonly type: "hash:net" | "hash:ip,port"; readonly members: readonly string[] }>;
}

// Plans from NodePlanner share unchanged chains and endpoints with the previous plan: their lines
// are made once per object and family, and compared by identity in renderIptablesUpdate.
const chainCache: Record<Family, WeakMap<object, { readonly lines: readonly string[]; readonly cidrSets: ReadonlyMap<string, readonly string[]> }>> = { 4: new WeakMap(), 6: new WeakMap() };
const rulesets: Record<Family, WeakMap<Plan, IptablesRuleset>> = { 4: new WeakMap(), 6: new WeakMap() };

/** The structured iptables ruleset of a plan for one family (kept per plan object). */
export function iptablesRuleset(plan: Plan, family: Family = 4): IptablesRuleset {
  let rs = rulesets[family].get(plan);
  if (rs === undefined) rulesets[family].set(plan, (rs = buildRuleset(plan, family)));
  return rs;
}

function buildRuleset(plan: Plan, family: Family): IptablesRuleset {
  const chains = new Map<string, readonly string[]>();
  const cidrSets = new Map<string, readonly string[]>();
  const cached = (key: object, make: (w: Writer) => string[]): readonly string[] => {
    let c = chainCache[family].get(key);
    if (c === undefined) {
      const w = new Writer(family);
      chainCache[family].set(key, (c = { lines: make(w), cidrSets: w.cidrSets }));
    }
    for (const [name, cidrs] of c.cidrSets) cidrSets.set(name, cidrs);
    return c.lines;
  };
  chains.set("bc-FORWARD", [
    `-A bc-FORWARD -j MARK --set-xmark 0x0/${hex(ALL_MARKS)}`,
    `-A bc-FORWARD -i ${plan.ifacePrefix}+ -j bc-from-wl-dispatch`,
    `-A bc-FORWARD -o ${plan.ifacePrefix}+ -j bc-to-wl-dispatch`,
    `-A bc-FORWARD -m mark --mark ${hex(MARKS.accept)}/${hex(MARKS.accept)} -m comment --comment "Policy explicitly accepted packet." -j ACCEPT`,
  ]);
  chains.set("bc-from-wl-dispatch", [...plan.endpoints.map((ep) => `-A bc-from-wl-dispatch -i ${ep.iface} -g ${ep.fromChain}`), `-A bc-from-wl-dispatch -m comment --comment "Unknown interface" -j DROP`]);
  chains.set("bc-to-wl-dispatch", [...plan.endpoints.map((ep) => `-A bc-to-wl-dispatch -o ${ep.iface} -g ${ep.toChain}`), `-A bc-to-wl-dispatch -m comment --comment "Unknown interface" -j DROP`]);
  if (plan.hostEndpoints.length > 0) {
    // felix/rules/static.go: INPUT and OUTPUT go through the failsafe chains, then dispatch by interface.
    const fs = plan.failsafe;
    const failsafe = (chain: string, list: readonly PlannedFailsafe[]): string[] => list.map((f) => `-A ${chain} -p ${f.protocol} -m ${f.protocol === 17 ? "udp" : "tcp"} --dport ${f.port} -j ACCEPT`);
    for (const [base, fsChain, dispatch] of [["bc-INPUT", "bc-failsafe-in", "bc-from-host-endpoint"], ["bc-OUTPUT", "bc-failsafe-out", "bc-to-host-endpoint"]] as const) {
      // IPv6 needs neighbour discovery and MLD whatever the policy (felix/rules/static.go).
      const ndp = family === 6 ? NDP_ICMPV6_TYPES.map((type) => `-A ${base} -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`) : [];
      chains.set(base, [
        ...ndp,
        `-A ${base} -j MARK --set-xmark 0x0/${hex(ALL_MARKS)}`,
        `-A ${base} -j ${fsChain}`,
        `-A ${base} -j ${dispatch}`,
        `-A ${base} -m mark --mark ${hex(MARKS.accept)}/${hex(MARKS.accept)} -m comment --comment "Policy explicitly accepted packet." -j ACCEPT`,
      ]);
    }
    chains.set("bc-failsafe-in", fs === false ? [] : failsafe("bc-failsafe-in", fs.inbound));
    chains.set("bc-failsafe-out", fs === false ? [] : failsafe("bc-failsafe-out", fs.outbound));
    chains.set("bc-from-host-endpoint", plan.hostEndpoints.map((ep) => `-A bc-from-host-endpoint -i ${ep.iface} -g ${ep.toChain}`));
    chains.set("bc-to-host-endpoint", plan.hostEndpoints.map((ep) => `-A bc-to-host-endpoint -o ${ep.iface} -g ${ep.fromChain}`));
  }
  for (const ep of [...plan.endpoints, ...plan.hostEndpoints]) {
    const lines = endpointLines(ep);
    chains.set(ep.toChain, lines.to);
    chains.set(ep.fromChain, lines.from);
  }
  for (const [name, members] of plan.groups) chains.set(name, members.map((m) => `-A ${name} -m mark --mark 0x0/${hex(MARKS.accept | MARKS.pass)} -j ${m}`));
  for (const c of plan.chains.values()) chains.set(c.name, cached(c, (w) => c.rules.flatMap((r) => w.rule(c.name, r))));

  const sets = new Map<string, { type: "hash:net" | "hash:ip,port"; members: readonly string[] }>();
  for (const s of plan.sets.values()) {
    if (s.family !== family) continue;
    sets.set(s.name, s.kind === "net" ? { type: "hash:net", members: s.members } : { type: "hash:ip,port", members: portElements(s) });
  }
  for (const [name, cidrs] of cidrSets) sets.set(name, { type: "hash:net", members: cidrs });
  return { family, chains, sets };
}

// Endpoint chains do not depend on the family.
const endpointCache = new WeakMap<PlannedEndpoint, { readonly to: readonly string[]; readonly from: readonly string[] }>();
function endpointLines(ep: PlannedEndpoint): { readonly to: readonly string[]; readonly from: readonly string[] } {
  let l = endpointCache.get(ep);
  if (l === undefined) endpointCache.set(ep, (l = { to: endpointRules(ep, "ingress"), from: endpointRules(ep, "egress") }));
  return l;
}

const portCache = new WeakMap<PlannedSet, readonly string[]>();
function portElements(s: PlannedSet): readonly string[] {
  let m = portCache.get(s);
  if (m === undefined) portCache.set(s, (m = s.members.map((x) => portElement(s, x))));
  return m;
}

const ipsetFamily = (f: Family): string => (f === 4 ? "inet" : "inet6");

/**
 * The iptables/ipset rendering of a plan for one address family: IPv4 for `iptables-restore`, or
 * IPv6 for `ip6tables-restore` (sets `bc6-…` of `family inet6`, ICMPv6 matches). A rule that
 * matches no address is in both; one that matches addresses only in its family's file.
 */
export function renderIptables(plan: Plan, family: Family = 4): IptablesOutput {
  const rs = iptablesRuleset(plan, family);
  const lines = ["*filter"];
  for (const name of rs.chains.keys()) lines.push(`:${name} - [0:0]`);
  for (const rules of rs.chains.values()) for (const r of rules) lines.push(r);
  lines.push("COMMIT", "");
  const ipset: string[] = [];
  for (const [name, s] of rs.sets) ipset.push(`create ${name} ${s.type} family ${ipsetFamily(family)} -exist`, `flush ${name}`, ...s.members.map((m) => `add ${name} ${m}`));
  return { ipset: ipset.length > 0 ? ipset.join("\n") + "\n" : "", iptables: lines.join("\n") };
}

/** What moves a loaded family from one plan's ruleset to the next's. */
export interface IptablesUpdate extends IptablesOutput {
  /** `ipset restore` input to run after the iptables file: sets no rule uses any more, destroyed. */
  readonly ipsetAfter: string;
  /** Chains declared (emptied) and refilled, and chains deleted. */
  readonly changedChains: readonly string[];
  readonly deletedChains: readonly string[];
}

/**
 * The minimal update from the ruleset of `prev` to that of `next` for one family: new ipsets
 * created and filled, changed ones given the added elements and rid of the removed ones (no
 * flush), then an `iptables-restore --noflush` file that declares (so empties) and refills only
 * the new and changed chains and deletes the chains gone (emptied first, unreferenced by then),
 * then the ipsets gone destroyed. Every part is empty when nothing changed.
 */
export function renderIptablesUpdate(prev: Plan, next: Plan, family: Family = 4): IptablesUpdate {
  const a = iptablesRuleset(prev, family);
  const b = iptablesRuleset(next, family);
  const ipset: string[] = [];
  for (const [name, s] of b.sets) {
    const old = a.sets.get(name);
    if (old === s || (old !== undefined && old.members === s.members)) continue;
    if (old === undefined || old.type !== s.type) {
      // A set of the same name but another type cannot be here: names hash the selector and kind.
      ipset.push(`create ${name} ${s.type} family ${ipsetFamily(family)} -exist`, `flush ${name}`, ...s.members.map((m) => `add ${name} ${m}`));
      continue;
    }
    const before = new Set(old.members);
    const after = new Set(s.members);
    for (const m of old.members) if (!after.has(m)) ipset.push(`del ${name} ${m} -exist`);
    for (const m of s.members) if (!before.has(m)) ipset.push(`add ${name} ${m} -exist`);
  }
  const changed: string[] = [];
  for (const [name, rules] of b.chains) {
    const old = a.chains.get(name);
    if (old === undefined || !sameLines(old, rules)) changed.push(name);
  }
  const deleted = [...a.chains.keys()].filter((n) => !b.chains.has(n));
  // The hooks from FORWARD/INPUT/OUTPUT are installed outside the file: their chains cannot go here.
  for (const name of deleted) if (HOOKED_CHAINS.has(name)) throw new Error(`chain ${name} is hooked from a built-in chain; render a full ruleset`);
  let iptables = "";
  if (changed.length > 0 || deleted.length > 0) {
    const lines = ["*filter"];
    for (const name of [...changed, ...deleted]) lines.push(`:${name} - [0:0]`);
    for (const name of changed) for (const r of b.chains.get(name)!) lines.push(r);
    for (const name of deleted) lines.push(`-X ${name}`);
    lines.push("COMMIT", "");
    iptables = lines.join("\n");
  }
  const gone = [...a.sets.keys()].filter((n) => !b.sets.has(n));
  return {
    ipset: ipset.length > 0 ? ipset.join("\n") + "\n" : "",
    iptables,
    ipsetAfter: gone.length > 0 ? gone.map((n) => `destroy ${n}`).join("\n") + "\n" : "",
    changedChains: changed,
    deletedChains: deleted,
  };
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((l, i) => l === b[i]));
}

/**
 * One rendering per address family the plan has: `4` for iptables-restore, and `6` for
 * ip6tables-restore when the ruleset has IPv6 endpoints or CIDRs.
 */
export function renderIptablesFamilies(plan: Plan): Map<Family, IptablesOutput> {
  return new Map(plan.families.map((f) => [f, renderIptables(plan, f)]));
}

function portElement(_s: PlannedSet, m: string): string {
  const [ip, proto, port] = m.split(" ");
  const name = proto === "6" ? "tcp" : proto === "17" ? "udp" : proto === "132" ? "sctp" : `${proto}`;
  return `${ip},${name}:${port}`;
}
