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

/**
 * The iptables/ipset rendering of a plan for one address family: IPv4 for `iptables-restore`, or
 * IPv6 for `ip6tables-restore` (sets `bc6-…` of `family inet6`, ICMPv6 matches). A rule that
 * matches no address is in both; one that matches addresses only in its family's file.
 */
export function renderIptables(plan: Plan, family: Family = 4): IptablesOutput {
  const w = new Writer(family);
  const chains: string[] = ["bc-FORWARD", "bc-from-wl-dispatch", "bc-to-wl-dispatch"];
  const rules: string[] = [
    `-A bc-FORWARD -j MARK --set-xmark 0x0/${hex(ALL_MARKS)}`,
    `-A bc-FORWARD -i ${plan.ifacePrefix}+ -j bc-from-wl-dispatch`,
    `-A bc-FORWARD -o ${plan.ifacePrefix}+ -j bc-to-wl-dispatch`,
    `-A bc-FORWARD -m mark --mark ${hex(MARKS.accept)}/${hex(MARKS.accept)} -m comment --comment "Policy explicitly accepted packet." -j ACCEPT`,
  ];
  for (const ep of plan.endpoints) rules.push(`-A bc-from-wl-dispatch -i ${ep.iface} -g ${ep.fromChain}`);
  rules.push(`-A bc-from-wl-dispatch -m comment --comment "Unknown interface" -j DROP`);
  for (const ep of plan.endpoints) rules.push(`-A bc-to-wl-dispatch -o ${ep.iface} -g ${ep.toChain}`);
  rules.push(`-A bc-to-wl-dispatch -m comment --comment "Unknown interface" -j DROP`);
  if (plan.hostEndpoints.length > 0) {
    // felix/rules/static.go: INPUT and OUTPUT go through the failsafe chains, then dispatch by interface.
    const fs = plan.failsafe;
    const failsafe = (chain: string, list: readonly PlannedFailsafe[]): string[] => list.map((f) => `-A ${chain} -p ${f.protocol} -m ${f.protocol === 17 ? "udp" : "tcp"} --dport ${f.port} -j ACCEPT`);
    chains.push("bc-INPUT", "bc-OUTPUT", "bc-failsafe-in", "bc-failsafe-out", "bc-from-host-endpoint", "bc-to-host-endpoint");
    for (const [base, fsChain, dispatch] of [["bc-INPUT", "bc-failsafe-in", "bc-from-host-endpoint"], ["bc-OUTPUT", "bc-failsafe-out", "bc-to-host-endpoint"]] as const) {
      // IPv6 needs neighbour discovery and MLD whatever the policy (felix/rules/static.go).
      if (family === 6) for (const type of NDP_ICMPV6_TYPES) rules.push(`-A ${base} -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`);
      rules.push(
        `-A ${base} -j MARK --set-xmark 0x0/${hex(ALL_MARKS)}`,
        `-A ${base} -j ${fsChain}`,
        `-A ${base} -j ${dispatch}`,
        `-A ${base} -m mark --mark ${hex(MARKS.accept)}/${hex(MARKS.accept)} -m comment --comment "Policy explicitly accepted packet." -j ACCEPT`,
      );
    }
    if (fs !== false) rules.push(...failsafe("bc-failsafe-in", fs.inbound), ...failsafe("bc-failsafe-out", fs.outbound));
    for (const ep of plan.hostEndpoints) rules.push(`-A bc-from-host-endpoint -i ${ep.iface} -g ${ep.toChain}`);
    for (const ep of plan.hostEndpoints) rules.push(`-A bc-to-host-endpoint -o ${ep.iface} -g ${ep.fromChain}`);
  }
  for (const ep of [...plan.endpoints, ...plan.hostEndpoints]) {
    chains.push(ep.toChain, ep.fromChain);
    rules.push(...endpointRules(ep, "ingress"), ...endpointRules(ep, "egress"));
  }
  for (const [name, members] of plan.groups) {
    chains.push(name);
    for (const m of members) rules.push(`-A ${name} -m mark --mark 0x0/${hex(MARKS.accept | MARKS.pass)} -j ${m}`);
  }
  for (const c of plan.chains.values()) {
    chains.push(c.name);
    for (const r of c.rules) rules.push(...w.rule(c.name, r));
  }
  const iptables = ["*filter", ...chains.map((c) => `:${c} - [0:0]`), ...rules, "COMMIT", ""].join("\n");

  const ipset: string[] = [];
  const emit = (name: string, type: string, members: readonly string[]): void => {
    ipset.push(`create ${name} ${type} family ${family === 4 ? "inet" : "inet6"} -exist`, `flush ${name}`, ...members.map((m) => `add ${name} ${m}`));
  };
  for (const s of plan.sets.values()) {
    if (s.family !== family) continue;
    if (s.kind === "net") emit(s.name, "hash:net", s.members);
    else emit(s.name, "hash:ip,port", s.members.map((m) => portElement(s, m)));
  }
  for (const [name, cidrs] of w.cidrSets) emit(name, "hash:net", cidrs);
  return { ipset: ipset.length > 0 ? ipset.join("\n") + "\n" : "", iptables };
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
