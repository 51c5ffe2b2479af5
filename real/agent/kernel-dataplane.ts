// The Dataplane port for real: routes into the node's kernel (birdcage's route protocol, batched
// through `ip -batch`), Calico's tunnel devices (tunl0 for IPIP, vxlan.calico for VXLAN) and the
// node's policy as an nftables ruleset (or iptables-restore), inside one network namespace.
//
// Calico's kernel conventions, followed here:
// - an IPIP route is `<block> via <node> dev tunl0 onlink`; the tunl0 device comes with the ipip
//   module, which this machine's kernel lacks: setTunnel reports that clearly and routes stay native.
// - a VXLAN route is `<block> via <node> dev vxlan.calico onlink`, with a permanent neighbour entry
//   and an FDB entry naming the node as the VTEP. Calico uses the remote tunnel address as the
//   gateway and the VTEP MAC from the datastore; birdcage derives the MAC from the node address
//   (02:bc + IPv4 bytes), so both ends agree without a lookup.
// - workload routes are `<pod>/32 dev cali… scope link` (the CNI plugin adds the same).
import { execa } from "execa";
import { formatAddress, formatPrefix, parseIP, type IPAddress } from "../../src/core/net/ip.ts";
import type { Dataplane, DataplaneRoute, DataplaneRouteChanges, TunnelDevice, WorkloadInterface } from "../../src/core/agent/dataplane.ts";
import type { PolicySet, PolicySetInput } from "../../src/core/policy/policy-set.ts";
import type { Policy } from "../../src/core/policy/model.ts";
import { NodePlanner, diffPolicies, type Plan } from "../../src/core/policy/render/plan.ts";
import { renderNft, renderNftUpdate, NFT_TABLE } from "../../src/core/policy/render/nft.ts";
import { IPTABLES_HOOK, IPTABLES_HOST_HOOKS, renderIptablesFamilies, renderIptablesUpdate, type IptablesOutput } from "../../src/core/policy/render/iptables.ts";
import type { Family } from "../../src/core/net/ip.ts";
import { KernelRouteWriter, type KernelRoute, type RouteWriteError } from "../bgp/kernel-routes.ts";
import { NftSession } from "./nft-session.ts";

export const IPIP_DEVICE = "tunl0";
export const VXLAN_DEVICE = "vxlan.calico";
export const VXLAN_VNI = 4096;
export const VXLAN_PORT = 4789;

export interface KernelDataplaneOptions {
  /** The node's name (policy is rendered for workloads on this node). */
  node: string;
  /** The node's underlay IPv4 address: VXLAN source and VTEP identity. */
  nodeAddress: string;
  /** Named namespace the node lives in (`ip -n`); the process's own when omitted. */
  netns?: string;
  /** Route protocol number (default 201). */
  protocol?: number;
  /** Policy renderer: nftables (default) or iptables-restore. */
  policy?: "nft" | "iptables";
  /** Every failure (route commands, tunnel setup, ruleset load) ends up here; the dataplane carries on. */
  onError?: (e: DataplaneError) => void;
}

export interface DataplaneError {
  what: "route" | "tunnel" | "policy" | "neighbour";
  message: string;
}

/** The VTEP MAC birdcage gives a node's vxlan.calico device: 02:bc followed by the node's IPv4 bytes. */
export function vtepMac(nodeAddress: string): string {
  const a = parseIP(nodeAddress);
  if (a.family !== 4) throw new Error(`VXLAN needs an IPv4 node address (got ${nodeAddress})`);
  const bytes = [0x02, 0xbc, Number((a.value >> 24n) & 255n), Number((a.value >> 16n) & 255n), Number((a.value >> 8n) & 255n), Number(a.value & 255n)];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The kernel route for a dataplane route (exported for tests: this is the whole translation). */
export function kernelRouteFor(r: DataplaneRoute, tunnels: ReadonlySet<"ipip" | "vxlan">): KernelRoute {
  if (r.kind === "blackhole") return { prefix: r.prefix, kind: "blackhole", nextHops: [] };
  if (r.kind === "local") {
    if (r.device === undefined) throw new Error(`local route ${formatPrefix(r.prefix)} without a device`);
    return { prefix: r.prefix, kind: "unicast", nextHops: [], dev: r.device };
  }
  if (r.encap === "ipip" && tunnels.has("ipip")) return { prefix: r.prefix, kind: "unicast", nextHops: r.nextHops, dev: IPIP_DEVICE, onlink: true };
  if (r.encap === "vxlan" && tunnels.has("vxlan")) return { prefix: r.prefix, kind: "unicast", nextHops: r.nextHops, dev: VXLAN_DEVICE, onlink: true };
  // No tunnel device (or none asked for): route natively via the next hop.
  return { prefix: r.prefix, kind: "unicast", nextHops: r.nextHops };
}

export class KernelDataplane implements Dataplane {
  private readonly routes: KernelRouteWriter;
  private readonly tunnels = new Set<"ipip" | "vxlan">();
  private readonly workloads = new Map<string, WorkloadInterface>();
  /** VXLAN next hops we wrote neighbour/FDB entries for, with the number of routes using each. */
  private readonly vteps = new Map<string, number>();
  private readonly vxlanRoutes = new Map<string, string[]>();
  /** The routes asked for, by prefix text (to rewrite them when a tunnel comes or goes). */
  private readonly current = new Map<string, DataplaneRoute>();
  private policySet: PolicySet | undefined;
  private lastPlan: Plan | undefined;
  /**
   * Kept across policy-only changes (same endpoints, profiles, tiers, network sets, failsafe):
   * `planner` was built from `plannerSet` and has had the policies `plannedPolicies` applied.
   */
  private planner: NodePlanner | undefined;
  private plannerSet: PolicySet | undefined;
  private plannedPolicies: readonly Policy[] = [];
  /**
   * How policy reached the kernel (for tests and logs): whole-table loads, deltas, renders that
   * changed nothing, and plans made incrementally by the kept planner.
   */
  readonly policyLoads = { full: 0, delta: 0, unchanged: 0, incremental: 0 };
  /** nft mode: one long-lived `nft -i` in the namespace that every policy load goes through. */
  private nftSession: NftSession | undefined;
  /** iptables mode: the families whose hooks are installed. */
  private readonly hookedFamilies = new Set<Family>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: KernelDataplaneOptions) {
    if (opts.netns !== undefined && !/^[A-Za-z0-9_.-]+$/.test(opts.netns)) throw new Error(`bad namespace name "${opts.netns}"`);
    this.routes = new KernelRouteWriter({
      ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      ...(opts.protocol !== undefined ? { protocol: opts.protocol } : {}),
      onError: (e: RouteWriteError) => this.report("route", `${e.command ?? e.prefix ?? e.op}: ${e.message}`),
    });
  }

  applyRoutes(changes: DataplaneRouteChanges): void {
    for (const r of changes.add) this.current.set(formatPrefix(r.prefix), r);
    for (const p of changes.remove) this.current.delete(formatPrefix(p));
    // Queued behind tunnel set-up, so a route names its tunnel device only once the device exists.
    this.enqueue(() => this.writeRoutes(changes.add, changes.remove));
  }

  private async writeRoutes(routes: readonly DataplaneRoute[], remove: DataplaneRouteChanges["remove"]): Promise<void> {
    const add: KernelRoute[] = [];
    for (const r of routes) {
      try {
        add.push(kernelRouteFor(r, this.tunnels));
      } catch (e) {
        this.report("route", (e as Error).message);
        continue;
      }
      this.trackVteps(formatPrefix(r.prefix), r.encap === "vxlan" && r.kind === "unicast" && this.tunnels.has("vxlan") ? r.nextHops : []);
    }
    for (const p of remove) this.trackVteps(formatPrefix(p), []);
    await this.resolveRecursive(add);
    // Neighbour and FDB entries first, so the first packet of a new VXLAN route finds its VTEP.
    await this.syncVteps();
    this.routes.apply({ add, remove });
    await this.routes.settled();
  }

  /**
   * A BGP next hop that is not on a connected subnet (a node behind a router, learned over the mesh
   * or from a route reflector) is refused by the kernel ("Nexthop has invalid gateway"). BIRD's
   * `gateway recursive` installs the route via the next hop's own gateway instead; so do we, asking
   * the kernel (`ip route get`) how it reaches each such next hop, once per batch.
   */
  private async resolveRecursive(add: KernelRoute[]): Promise<void> {
    const native = add.filter((r) => r.kind === "unicast" && r.dev === undefined && r.nextHops.length > 0);
    if (native.length === 0) return;
    const hops = [...new Set(native.flatMap((r) => r.nextHops.map((h) => formatAddress(h))))];
    const ns = this.opts.netns !== undefined ? ["-n", this.opts.netns] : [];
    const r = await execa("ip", [...ns, "-j", "-force", "-batch", "-"], { input: hops.map((h) => `route get ${h}`).join("\n") + "\n", reject: false });
    const via = new Map<string, string>();
    for (const line of String(r.stdout).split("\n")) {
      let rows: { dst?: string; gateway?: string }[];
      try {
        rows = JSON.parse(line) as typeof rows;
      } catch {
        continue;
      }
      for (const row of rows) if (row.dst && row.gateway && row.gateway !== row.dst) via.set(row.dst, row.gateway);
    }
    if (via.size === 0) return;
    for (const route of native) {
      const seen = new Set<string>();
      route.nextHops = route.nextHops
        .map((h) => {
          const g = via.get(formatAddress(h));
          return g === undefined ? h : parseIP(g);
        })
        .filter((h) => !seen.has(formatAddress(h)) && seen.add(formatAddress(h)) !== undefined);
    }
  }

  /** After a tunnel device appears (or goes), routes that asked for it are written again. */
  private async rewriteEncap(type: "ipip" | "vxlan"): Promise<void> {
    const affected = [...this.current.values()].filter((r) => r.kind === "unicast" && r.encap === type);
    if (affected.length) await this.writeRoutes(affected, []);
  }

  setTunnel(t: TunnelDevice): void {
    this.enqueue(async () => {
      const had = this.tunnels.has(t.type);
      if (t.type === "ipip") await this.setIpip(t);
      else await this.setVxlan(t);
      if (!had && this.tunnels.has(t.type)) await this.rewriteEncap(t.type);
    });
  }

  removeTunnel(type: "ipip" | "vxlan"): void {
    // tunl0 belongs to the kernel module (it cannot be deleted); only its address is ours.
    this.enqueue(async () => {
      if (!this.tunnels.delete(type)) return;
      await this.rewriteEncap(type); // native again, before the device goes
      if (type === "vxlan") await this.ip(["link", "del", VXLAN_DEVICE], true);
      else await this.ip(["addr", "flush", "dev", IPIP_DEVICE], true);
    });
  }

  addWorkload(w: WorkloadInterface): void {
    this.workloads.set(w.key, w);
    this.renderPolicy();
  }

  removeWorkload(key: string): void {
    if (this.workloads.delete(key)) this.renderPolicy();
  }

  setPolicy(policy: PolicySet): void {
    this.policySet = policy;
    // nft starts (process, libraries) while the plan is made.
    if ((this.opts.policy ?? "nft") === "nft") this.session().start();
    this.renderPolicy();
  }

  /** Resolves when every change so far is in the kernel (or reported as failed). */
  async settled(): Promise<void> {
    await this.queue;
    await this.routes.settled();
    await this.queue;
  }

  /** Removes everything this dataplane wrote: our routes, the VXLAN device, the policy table. */
  async close(): Promise<void> {
    await this.settled();
    await this.routes.flush();
    if (this.tunnels.has("vxlan")) await this.ip(["link", "del", VXLAN_DEVICE], true);
    if (this.tunnels.has("ipip")) await this.ip(["addr", "flush", "dev", IPIP_DEVICE], true);
    if (this.lastPlan) {
      if ((this.opts.policy ?? "nft") === "nft") await this.nft(`delete table inet ${NFT_TABLE}\n`);
      else await this.exec("sh", ["-c", iptablesCleanup([...this.hookedFamilies])], true);
    }
    await this.nftSession?.close();
    this.nftSession = undefined;
    this.hookedFamilies.clear();
    this.planner = undefined;
    this.tunnels.clear();
  }

  // -----------------------------------------------------------------------------------------------

  private async setIpip(t: TunnelDevice): Promise<void> {
    // The ipip module creates tunl0 when it loads; without it there is no IPIP on this kernel.
    const exists = await this.ip(["link", "show", IPIP_DEVICE], true);
    if (!exists.ok) {
      const probe = await this.ip(["link", "add", "bc-ipip-probe", "type", "ipip"], true);
      if (probe.ok) await this.ip(["link", "del", "bc-ipip-probe"], true);
      if (!probe.ok || !(await this.ip(["link", "show", IPIP_DEVICE], true)).ok) {
        this.report("tunnel", `IPIP is not available: this kernel has no ipip module (${probe.stderr || "tunl0 missing"}); IPIP routes are installed natively`);
        return;
      }
    }
    await this.ip(["link", "set", IPIP_DEVICE, "mtu", String(t.mtu), "up"]);
    await this.ip(["addr", "replace", `${t.address}/32`, "dev", IPIP_DEVICE]);
    this.tunnels.add("ipip");
  }

  private async setVxlan(t: TunnelDevice): Promise<void> {
    const vni = String(t.vni ?? VXLAN_VNI);
    const port = String(t.port ?? VXLAN_PORT);
    const have = await this.ip(["link", "show", VXLAN_DEVICE], true);
    if (!have.ok) {
      const r = await this.ip(["link", "add", VXLAN_DEVICE, "type", "vxlan", "id", vni, "dstport", port, "local", this.opts.nodeAddress, "nolearning"], true);
      if (!r.ok) {
        this.report("tunnel", `cannot create ${VXLAN_DEVICE}: ${r.stderr}`);
        return;
      }
    }
    await this.ip(["link", "set", VXLAN_DEVICE, "address", vtepMac(this.opts.nodeAddress), "mtu", String(t.mtu), "up"]);
    await this.ip(["addr", "replace", `${t.address}/32`, "dev", VXLAN_DEVICE]);
    this.tunnels.add("vxlan");
  }

  private trackVteps(prefix: string, hops: IPAddress[]): void {
    const old = this.vxlanRoutes.get(prefix) ?? [];
    for (const h of old) this.vteps.set(h, (this.vteps.get(h) ?? 1) - 1);
    const next = hops.map((h) => formatAddress(h));
    for (const h of next) this.vteps.set(h, (this.vteps.get(h) ?? 0) + 1);
    if (next.length) this.vxlanRoutes.set(prefix, next);
    else this.vxlanRoutes.delete(prefix);
  }

  private readonly written = new Set<string>();

  private async syncVteps(): Promise<void> {
    const ipLines: string[] = [];
    const fdbLines: string[] = [];
    for (const [hop, uses] of this.vteps) {
      const mac = vtepMac(hop);
      if (uses > 0 && !this.written.has(hop)) {
        ipLines.push(`neigh replace ${hop} lladdr ${mac} dev ${VXLAN_DEVICE} nud permanent`);
        fdbLines.push(`fdb replace ${mac} dev ${VXLAN_DEVICE} dst ${hop} self permanent`);
        this.written.add(hop);
      } else if (uses <= 0) {
        if (this.written.delete(hop)) {
          ipLines.push(`neigh del ${hop} dev ${VXLAN_DEVICE}`);
          fdbLines.push(`fdb del ${mac} dev ${VXLAN_DEVICE} dst ${hop} self`);
        }
        this.vteps.delete(hop);
      }
    }
    if (fdbLines.length) await this.batch("bridge", fdbLines);
    if (ipLines.length) await this.batch("ip", ipLines);
  }

  /** A render is queued and not started: later changes ride on it (it reads the newest PolicySet and workloads). */
  private policyQueued = false;

  private renderPolicy(): void {
    if (!this.policySet || this.policyQueued) return;
    this.policyQueued = true;
    this.enqueue(async () => {
      this.policyQueued = false;
      const set = this.policySet;
      if (!set) return;
      let plan: Plan;
      let incremental = false;
      try {
        ({ plan, incremental } = this.planFor(set));
      } catch (e) {
        this.planner = undefined;
        this.report("policy", `cannot render policy: ${(e as Error).message}`);
        return;
      }
      const ok = (this.opts.policy ?? "nft") === "nft" ? await this.loadNft(plan, incremental) : await this.loadIptables(plan);
      if (ok) this.lastPlan = plan;
      // The kernel may not hold what the planner has: plan from scratch next time.
      else this.planner = undefined;
    });
  }

  /**
   * The node's plan for `set`: through the kept NodePlanner when only policies differ from the
   * set it was built from (the plan then shares unchanged chains and sets with the last one),
   * otherwise from a new planner.
   */
  private planFor(set: PolicySet): { plan: Plan; incremental: boolean } {
    const policies = set.input.policies ?? [];
    if (this.planner && this.plannerSet && this.lastPlan && samePolicyContext(this.plannerSet.input, set.input)) {
      const change = diffPolicies(this.plannedPolicies, policies);
      try {
        const plan = (change.upsert?.length ?? 0) + (change.remove?.length ?? 0) === 0 ? this.planner.plan : this.planner.update(change);
        this.plannedPolicies = policies;
        this.policyLoads.incremental++;
        return { plan, incremental: true };
      } catch {
        // e.g. a policy this planner refuses: a new planner reports it (or copes) below
      }
    }
    this.planner = new NodePlanner(set, { node: this.opts.node });
    this.plannerSet = set;
    this.plannedPolicies = policies;
    return { plan: this.planner.plan, incremental: false };
  }

  private async loadNft(plan: Plan, incremental: boolean): Promise<boolean> {
    let script: string;
    try {
      script = this.lastPlan ? renderNftUpdate(this.lastPlan, plan) : renderNft(plan);
    } catch {
      script = renderNft(plan); // a change the update cannot express: replace the table atomically
    }
    if (script.trim() === "") {
      this.policyLoads.unchanged++;
      return true;
    }
    const r = await this.nft(script);
    if (r.ok) {
      if (this.lastPlan) this.policyLoads.delta++;
      else this.policyLoads.full++;
      return true;
    }
    if (this.lastPlan) {
      // The kernel differs from the last plan (someone touched the table?): load the whole table.
      const full = await this.nft(renderNft(plan));
      if (full.ok) {
        this.report("policy", `nft -f of the ${incremental ? "incremental" : "planned"} update failed (${r.stderr}); the whole table was reloaded`);
        this.policyLoads.full++;
        return true;
      }
    }
    this.report("policy", `nft -f failed: ${r.stderr}`);
    return false;
  }

  /**
   * Only what changed since the last plan loaded (ipset elements added and deleted, changed
   * chains emptied and refilled with `iptables-restore --noflush`) when the families and the host
   * endpoints' presence are the same; otherwise (or when that fails) every family's ipsets and
   * chains, then the FORWARD (and, with host endpoints, INPUT/OUTPUT) hooks.
   */
  private async loadIptables(plan: Plan): Promise<boolean> {
    const prev = this.lastPlan;
    if (prev !== undefined && (prev.hostEndpoints.length > 0) === (plan.hostEndpoints.length > 0) && prev.families.join() === plan.families.join()) {
      let script: string | undefined;
      try {
        script = iptablesUpdateLoader(prev, plan);
      } catch {
        script = undefined; // a change the update cannot express: load everything below
      }
      if (script === "") {
        this.policyLoads.unchanged++;
        return true;
      }
      if (script !== undefined) {
        const r = await this.exec("sh", ["-s"], true, script);
        if (r.ok) {
          this.policyLoads.delta++;
          return true;
        }
        this.report("policy", `the iptables update failed (${r.stderr}); every chain is loaded again`);
      }
    }
    const families = renderIptablesFamilies(plan);
    // A family the ruleset no longer has (its last IPv6 address gone): unhook and drop its chains.
    const gone = [...this.hookedFamilies].filter((f) => !families.has(f));
    if (gone.length > 0) await this.exec("sh", ["-c", iptablesCleanup(gone, false)], true);
    for (const f of gone) this.hookedFamilies.delete(f);
    const r = await this.exec("sh", ["-s"], true, iptablesLoader(families, plan.hostEndpoints.length > 0));
    for (const f of families.keys()) this.hookedFamilies.add(f);
    if (!r.ok) {
      this.report("policy", `iptables-restore failed: ${r.stderr}`);
      return false;
    }
    this.policyLoads.full++;
    return true;
  }

  /** One nft transaction through the dataplane's nft session. */
  private session(): NftSession {
    return (this.nftSession ??= new NftSession(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}));
  }

  private async nft(script: string): Promise<{ ok: boolean; stderr: string }> {
    try {
      return await this.session().run(script);
    } catch (e) {
      return { ok: false, stderr: (e as Error).message };
    }
  }

  private enqueue(fn: () => Promise<void>): void {
    this.queue = this.queue.then(fn).catch((e: unknown) => this.report("tunnel", (e as Error).message));
  }

  private async ip(args: string[], allowFail = false): Promise<{ ok: boolean; stderr: string }> {
    const ns = this.opts.netns !== undefined ? ["-n", this.opts.netns] : [];
    const r = await execa("ip", [...ns, ...args], { reject: false });
    const stderr = String(r.stderr).trim();
    if (r.exitCode !== 0 && !allowFail) this.report("tunnel", `ip ${args.join(" ")}: ${stderr || `exit ${r.exitCode}`}`);
    return { ok: r.exitCode === 0, stderr };
  }

  private async batch(tool: "ip" | "bridge", lines: string[]): Promise<void> {
    const ns = this.opts.netns !== undefined ? ["-n", this.opts.netns] : [];
    const r = await execa(tool, [...ns, "-force", "-batch", "-"], { input: lines.join("\n") + "\n", reject: false });
    if (r.exitCode !== 0) this.report("neighbour", `${tool} -batch: ${String(r.stderr).trim()}`);
  }

  /** Runs a command inside the node's namespace (nft and iptables have no `-n`). */
  private async exec(cmd: string, args: string[], allowFail = false, input?: string): Promise<{ ok: boolean; stderr: string }> {
    const argv = this.opts.netns !== undefined ? ["ip", "netns", "exec", this.opts.netns, cmd, ...args] : [cmd, ...args];
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, ...(input !== undefined ? { input } : {}) });
    const stderr = String(r.stderr).trim();
    if (r.exitCode !== 0 && !allowFail) this.report("policy", `${cmd}: ${stderr}`);
    return { ok: r.exitCode === 0, stderr };
  }

  private report(what: DataplaneError["what"], message: string): void {
    try {
      this.opts.onError?.({ what, message });
    } catch {
      // a failing error callback must not stop the dataplane
    }
  }
}

/** Endpoints, profiles, tiers, network sets and failsafe ports equal: only policies may differ. */
function samePolicyContext(a: PolicySetInput, b: PolicySetInput): boolean {
  const same = <T>(x: T, y: T): boolean => x === y || JSON.stringify(x ?? null) === JSON.stringify(y ?? null);
  return same(a.tiers, b.tiers) && same(a.profiles, b.profiles) && same(a.networkSets, b.networkSets) && same(a.failsafe, b.failsafe) && same(a.endpoints, b.endpoints);
}

// Restore inputs reach the tools as here-documents of a script read from standard input (`sh -s`):
// as command-line arguments they hit the kernel's 128 KB limit per argument (E2BIG) from a few
// hundred policies on (3 MB of iptables-restore input for 1,000 policies).
const HEREDOC_END = "__BC_END_OF_INPUT__";
const fed = (command: string, input: string): string => `${command} <<'${HEREDOC_END}'\n${input}${input.endsWith("\n") ? "" : "\n"}${HEREDOC_END}`;
const TOOL: Record<Family, string> = { 4: "iptables", 6: "ip6tables" };

/**
 * A shell script (run it with `sh -s`, the script on standard input) feeding each family's ipsets
 * and rules to ipset and iptables-restore / ip6tables-restore, then installing the hooks once:
 * FORWARD always, INPUT and OUTPUT with host endpoints (removed again when the host endpoints go, so
 * no hook jumps to an emptied chain). It stops at the first step that fails.
 */
export function iptablesLoader(families: ReadonlyMap<Family, IptablesOutput>, hostEndpoints: boolean): string {
  const steps: string[] = ["set -e"];
  for (const [family, out] of families) {
    const tool = TOOL[family];
    if (out.ipset) steps.push(fed("ipset restore -exist", out.ipset));
    steps.push(fed(`${tool}-restore --noflush`, out.iptables));
    const hooks = [IPTABLES_HOOK, ...(hostEndpoints ? IPTABLES_HOST_HOOKS : [])];
    for (const h of hooks) steps.push(`${tool} -C ${h[1]} -j ${h[4]} 2>/dev/null || ${tool} ${h.join(" ")}`);
    if (!hostEndpoints) for (const h of IPTABLES_HOST_HOOKS) steps.push(`while ${tool} -D ${h[1]} -j ${h[4]} 2>/dev/null; do :; done`);
  }
  return steps.join("\n") + "\n";
}

/**
 * A shell script that moves every family of the loaded ruleset from `prev`'s plan to `next`'s:
 * ipset changes, then `iptables-restore --noflush` / `ip6tables-restore --noflush` of the changed
 * chains only, then the ipsets no rule uses destroyed. Empty when nothing changed.
 */
export function iptablesUpdateLoader(prev: Plan, next: Plan): string {
  const steps: string[] = [];
  for (const family of next.families) {
    const u = renderIptablesUpdate(prev, next, family);
    if (u.ipset) steps.push(fed("ipset restore", u.ipset));
    if (u.iptables) steps.push(fed(`${TOOL[family]}-restore --noflush`, u.iptables));
    if (u.ipsetAfter) steps.push(fed("ipset restore", u.ipsetAfter));
  }
  return steps.length === 0 ? "" : ["set -e", ...steps].join("\n") + "\n";
}

/** Removes the families' hooks and `bc-` chains, and (with `ipsets`) every `bc4-`/`bc6-` ipset (best effort). */
export function iptablesCleanup(families: readonly Family[], ipsets = true): string {
  const steps: string[] = [];
  for (const f of families) {
    const tool = TOOL[f];
    for (const h of [IPTABLES_HOOK, ...IPTABLES_HOST_HOOKS]) steps.push(`while ${tool} -D ${h[1]} -j ${h[4]} 2>/dev/null; do :; done`);
    const chains = `$(${tool} -S | awk '$1 == "-N" && $2 ~ /^bc-/ { print $2 }')`;
    steps.push(`for c in ${chains}; do ${tool} -F "$c"; done`, `for c in ${chains}; do ${tool} -X "$c"; done`);
  }
  if (ipsets) steps.push(`for s in $(ipset list -n 2>/dev/null | grep -E '^bc[46]-'); do ipset destroy "$s"; done`);
  return steps.join("; ");
}
