// The standalone speaker's import/export policy language (the `import` / `export` keys of its config,
// see docs/bgp-real.md), compiled to the core Speaker's ImportPolicy / ExportPolicy.
//
// A policy is `all`, `none`, one filter rule or a list of them. Rules are tried in order; the first
// whose conditions all hold decides: `action: reject` refuses the route, otherwise it is accepted with
// the rule's `set` applied. A route no rule matches is rejected, as in a BIRD filter ending in
// `reject`. Without any policy the speaker's default applies: iBGP accepts, eBGP denies (RFC 8212).
import type { ExportPolicy, ImportPolicy, PeerConfig, PolicyResult, RouteView } from "../../src/core/bgp/index.ts";
import type { PathAttributes } from "../../src/core/bgp/wire/index.ts";
import { familyBits, maskOf, parsePrefix, type Family } from "../../src/core/net/ip.ts";
import type { DaemonConfig, DaemonPeerConfig, FilterRule, PolicySpec, PrefixEntry } from "./daemon-config.ts";

/** RFC 1997 / IANA well-known communities by the names BIRD, FRR and GoBGP print. */
export const COMMUNITY_NAMES: Readonly<Record<string, number>> = {
  "no-export": 0xffffff01,
  "no-advertise": 0xffffff02,
  "no-export-subconfed": 0xffffff03,
  "local-as": 0xffffff03,
  "no-peer": 0xffffff04,
  blackhole: 0xffff029a,
  "graceful-shutdown": 0xffff0000,
};

/** "65000:100" (each half 0-65535) or a well-known name → the uint32 community; undefined if neither. */
export function parseCommunity(text: string): number | undefined {
  const named = COMMUNITY_NAMES[text.toLowerCase()];
  if (named !== undefined) return named;
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const hi = Number(m[1]);
  const lo = Number(m[2]);
  if (hi > 0xffff || lo > 0xffff) return undefined;
  return ((hi << 16) | lo) >>> 0;
}

/** One compiled prefix-list entry: routes inside `addr/len` with a length in [ge, le]. */
interface PrefixRange {
  family: Family;
  addr: bigint;
  mask: bigint;
  ge: number;
  le: number;
}

/**
 * The lengths an entry matches, as in BIRD's `prefix{ge,le}` and Cisco/FRR prefix lists: neither
 * bound → exactly `len`; only `ge` → ge..max; only `le` → len..le.
 */
export function prefixRange(entry: PrefixEntry): PrefixRange {
  const e = typeof entry === "string" ? { prefix: entry } : entry;
  const p = parsePrefix(e.prefix, { strict: true });
  const max = familyBits(p.family);
  const ge = e.ge ?? p.len;
  const le = e.le ?? (e.ge !== undefined ? max : p.len);
  return { family: p.family, addr: p.addr, mask: maskOf(p.family, p.len), ge, le };
}

interface CompiledRule {
  prefixes: PrefixRange[] | undefined;
  communities: Set<number> | undefined;
  reject: boolean;
  set: ((attrs: PathAttributes) => PathAttributes) | undefined;
}

function compileSet(set: NonNullable<FilterRule["set"]>): ((attrs: PathAttributes) => PathAttributes) | undefined {
  const add = (set.communities?.add ?? []).map((c) => parseCommunity(c)!);
  const remove = new Set((set.communities?.remove ?? []).map((c) => parseCommunity(c)!));
  const { localPref, med } = set;
  if (localPref === undefined && med === undefined && add.length === 0 && remove.size === 0) return undefined;
  // The speaker hands every prefix of an UPDATE the same attributes object: they all get one result.
  const done = new WeakMap<PathAttributes, PathAttributes>();
  return (attrs) => {
    const known = done.get(attrs);
    if (known) return known;
    // A new object: the received one is shared with other prefixes and other peers' views.
    const out: PathAttributes = { ...attrs };
    if (localPref !== undefined) out.localPref = localPref;
    if (med !== undefined) out.med = med;
    if (add.length > 0 || remove.size > 0) {
      const comms = (attrs.communities ?? []).filter((c) => !remove.has(c));
      for (const c of add) if (!comms.includes(c)) comms.push(c);
      if (comms.length > 0) out.communities = comms;
      else delete out.communities;
    }
    done.set(attrs, out);
    return out;
  };
}

function compileRule(rule: FilterRule): CompiledRule {
  return {
    prefixes: rule.prefixes?.map(prefixRange),
    communities: rule.communities ? new Set(rule.communities.map((c) => parseCommunity(c)!)) : undefined,
    reject: rule.action === "reject",
    set: rule.set ? compileSet(rule.set) : undefined,
  };
}

function ruleMatches(r: CompiledRule, route: RouteView): boolean {
  if (r.prefixes) {
    const p = route.prefix;
    if (!r.prefixes.some((e) => e.family === p.family && p.len >= e.ge && p.len <= e.le && (p.addr & e.mask) === e.addr)) return false;
  }
  if (r.communities) {
    const have = route.attrs.communities;
    if (!have || !have.some((c) => r.communities!.has(c))) return false;
  }
  return true;
}

const acceptAll = (): PolicyResult => true;
const rejectAll = (): PolicyResult => false;

/** The core policy function for a spec (import and export take the same form). */
export function compilePolicy(spec: PolicySpec): ImportPolicy & ExportPolicy {
  if (spec === "all") return acceptAll;
  if (spec === "none") return rejectAll;
  const rules = (Array.isArray(spec) ? spec : [spec]).map(compileRule);
  return (route: RouteView, _peer: PeerConfig): PolicyResult => {
    for (const r of rules) {
      if (!ruleMatches(r, route)) continue;
      if (r.reject) return false;
      return r.set ? r.set(route.attrs) : true;
    }
    return false;
  };
}

/** A config level's (speaker's or peer's) `import` / `export` as the core's importPolicy / exportPolicy; unset stays unset. */
export function corePolicies(level: { import?: PolicySpec | undefined; export?: PolicySpec | undefined }): { importPolicy?: ImportPolicy; exportPolicy?: ExportPolicy } {
  return {
    ...(level.import !== undefined ? { importPolicy: compilePolicy(level.import) } : {}),
    ...(level.export !== undefined ? { exportPolicy: compilePolicy(level.export) } : {}),
  };
}

/**
 * What applies to a peer, as `birdcage bgp show peers` reports it: the peer's own policy, else the
 * speaker-wide one, else the default (`all` for iBGP, `rfc8212-deny` for eBGP).
 */
export type EffectivePolicy = "all" | "none" | "filter" | "rfc8212-deny";

export function effectivePolicy(config: DaemonConfig, peer: DaemonPeerConfig, kind: "import" | "export"): EffectivePolicy {
  const spec = peer[kind] ?? config[kind];
  if (spec === undefined) return peer.asNumber === config.asNumber ? "all" : "rfc8212-deny";
  return spec === "all" || spec === "none" ? spec : "filter";
}

/** One warning line per eBGP peer and direction left to RFC 8212's default deny. */
export function rfc8212Warnings(config: DaemonConfig): string[] {
  const out: string[] = [];
  for (const p of config.peers) {
    for (const kind of ["import", "export"] as const) {
      if (effectivePolicy(config, p, kind) !== "rfc8212-deny") continue;
      const what = kind === "import" ? "denies all routes from it" : "sends it no routes";
      out.push(`warning: eBGP peer ${p.address} (AS ${p.asNumber}) has no ${kind} policy: RFC 8212 ${what}; set ${kind}: all (or a filter) to ${kind === "import" ? "accept" : "announce"}`);
    }
  }
  return out;
}
