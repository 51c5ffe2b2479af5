// RealBackend: the scenario runner's Backend on Linux network namespaces. One namespace per node and
// router (real/netns), a private etcd reached over its unix socket (127.0.0.1 is per namespace), a
// `birdcage agent` per node (TCP BGP, kernel routes, VXLAN, policy), pods wired by the birdcage CNI
// plugin, policy written to the etcd keys the agents watch. Observations have the simulator's shapes
// (sim/backend.ts) so `--mode both` can compare them. Everything the run creates is recorded in the
// run's owner before it exists, so stop(), the exit handler or `birdcage real gc` removes it.
import { ipamObservation } from "../src/scenario/ipam-observation.ts";
import { execa, type ResultPromise } from "execa";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { Ipam } from "../src/core/ipam/index.ts";
import type { AnyResource, IPPool } from "../src/core/model/index.ts";
import type {
  Backend,
  BackendOptions,
  ConvergenceResult,
  Counters,
  Endpoint,
  FailOptions,
  Hop,
  IpamObservation,
  PodInfo,
  PodSpec,
  ProbeResult,
  ProbeSpec,
  RouteObservation,
  SampleCounts,
  SessionObservation,
  Target,
  TimelineEvent,
} from "../src/scenario/backend.ts";
import type { Topology } from "../src/topology/model.ts";
import { ClusterResources } from "../sim/backend/resources.ts";
import { routerSpeakerConfig } from "../sim/backend/routers.ts";
import { POLICY_PODS_PREFIX, POLICY_RESOURCES_PREFIX } from "./agent/daemon.ts";
import { deleteClusterResources, isClusterResource, putClusterResources, seedCluster } from "./agent/cluster-store.ts";
import { launcher } from "./agent/launch.ts";
import { routeObservation, RunCounters, sortRoutes, type IpRoute } from "./backend-observe.ts";
import { exchange, pingOnce, type ReachResult } from "./backend-probe.ts";
import { IP_ADDRS_ANNOTATION } from "./cni/plugin.ts";
import { queryControl } from "./control-socket.ts";
import { EtcdDatastore } from "./datastore/etcd.ts";
import { ramDir, startEtcd, type EtcdServer } from "./etcd-server.ts";
import { NetnsBuilder, type World } from "./netns/index.ts";
import { processStartTime } from "./netns/state.ts";

/** The scenario cannot run in real mode on this machine (reported as skipped, with the reason). */
export class BackendUnavailable extends Error {
  override name = "BackendUnavailable";
  readonly skipped = true;
}

const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));
/** The CNI plugin's node routes use another protocol than the agent's (201), which it flushes on exit. */
const CNI_ROUTE_PROTOCOL = 202;
const POLL_MS = 500;
/** An agent starts in about 1 s of CPU from the bundle (2.5 s through tsx); a loaded machine needs far longer. */
const AGENT_START_MS = 120_000;
const CNI_PARALLEL = Math.max(2, 2 * availableParallelism());
/** ...and per daemon started at once, when that is longer (about 1 s of CPU each, on a shared machine). */
const AGENT_START_EACH_MS = 12_000;
/** The agents' BGP hold time (--hold-time 9) plus a margin: how long a failure may take to show. */
const HOLD_TIME_MS = 9_000;
const FAILURE_QUIET_MS = HOLD_TIME_MS + 3_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const bare = (cidr: string): string => cidr.split("/")[0]!;

/** A daemon of the run: a node's `birdcage agent`, or a BGP router's `birdcage bgp speaker`. */
interface Agent {
  node: string;
  socket: string;
  /** The CLI arguments after bin/birdcage.js. */
  args: string[];
  /** The control command that answers once it runs ("status" for agents, "peers" for speakers). */
  ready: string;
  proc: ResultPromise | undefined;
  /** Why it is not running: "crash" / "stop" by the scenario, or undefined. */
  down?: "crash" | "stop";
}

interface RealPod {
  spec: PodSpec;
  info: PodInfo;
  netns: string;
  containerId: string;
}

/** True when the kernel can make IPIP tunnels (the module is loaded or loadable). */
export async function ipipAvailable(): Promise<boolean> {
  if (existsSync("/sys/module/ipip")) return true;
  await execa("modprobe", ["-q", "ipip"], { reject: false, timeout: 5_000 }).catch(() => undefined);
  return existsSync("/sys/module/ipip");
}

export class RealBackend implements Backend {
  readonly mode = "real" as const;
  #topology: Topology | undefined;
  #log: (line: string) => void = () => undefined;
  #t0 = 0;
  #world: World | undefined;
  #etcd: EtcdServer | undefined;
  #store: EtcdDatastore | undefined;
  #ipam: Ipam | undefined;
  readonly #agents = new Map<string, Agent>();
  readonly #routers = new Map<string, Agent>();
  readonly #pods = new Map<string, RealPod>();
  readonly #events: TimelineEvent[] = [];
  /** Pools and BGP resources as applied (seeded from the topology); the agents read them from etcd. */
  readonly #resources = new ClusterResources();
  readonly #counters = new RunCounters();
  readonly #cniSlots = new Slots(CNI_PARALLEL);
  /** Address -> node or router name. */
  readonly #owners = new Map<string, string>();
  readonly #failures = new Set<string>();
  #podSeq = 0;
  #stopping: Promise<void> | undefined;
  // Convergence: the state seen at the last poll, and when it last changed (scenario ms).
  #lastPrint = "";
  #lastChange = 0;
  #stableSince = 0;
  #sessionStates = new Map<string, string>();
  /** Set by fail/restore until a routing change is seen: nothing may change before the hold timer runs out. */
  #pendingSince: number | undefined;
  #changedSincePending = false;
  /** The last convergence poll, reused by sample() while fresh (each poll runs `ip` in every namespace). */
  #lastPoll: { at: number; sessions: SessionObservation[]; routes: RouteObservation[] } | undefined;

  /** The run id (namespaces bc-<runId>-…), once started. */
  get runId(): string | undefined {
    return this.#world?.runId;
  }

  /** The pids of the processes the backend runs now: etcd and the agents (tests check they are gone after stop()). */
  processIds(): number[] {
    return [...(this.#etcd ? [this.#etcd.pid] : []), ...[...this.#agents.values(), ...this.#routers.values()].flatMap((a) => (a.proc?.pid !== undefined ? [a.proc.pid] : []))];
  }

  now(): number {
    return this.#t0 === 0 ? 0 : Math.round(performance.now() - this.#t0);
  }

  #w(): World {
    if (this.#world === undefined) throw new Error("the real backend is not started");
    return this.#world;
  }

  #event(e: Omit<TimelineEvent, "t">): void {
    this.#events.push({ t: this.now(), ...e });
  }

  // ------------------------------------------------------------------------------------------- life cycle

  async start(topology: Topology, options: BackendOptions): Promise<void> {
    this.#log = options.log ?? (() => undefined);
    this.#topology = topology;
    const pools = topology.cluster.ipPools.filter((p) => !p.spec.disabled);
    if (pools.some((p) => p.spec.ipipMode === "Always" || p.spec.ipipMode === "CrossSubnet") && !(await ipipAvailable())) {
      throw new BackendUnavailable("IPIP is not available on this kernel (no ipip module): scenario skipped");
    }
    const file = resolve(topology.file);
    if (!existsSync(file) || !/^kind:\s*["']?Topology["']?\s*$/m.test(readFileSync(file, "utf8"))) {
      throw new Error(`real mode needs a topology file (the agents read it): ${topology.file} is not one (an inline topology?)`);
    }
    this.#t0 = performance.now();
    try {
      const world = await new NetnsBuilder().build(topology, { signals: false, log: this.#log });
      this.#world = world;
      for (const n of world.notes) this.#event({ kind: "note", text: n });
      for (const n of topology.nodes) for (const a of [n.address, n.addressV6]) if (a) this.#owners.set(bare(a), n.name);
      for (const r of topology.routers) for (const i of r.interfaces) for (const a of [i.address, i.addressV6]) if (a) this.#owners.set(bare(a), r.name);
      this.#log(`namespaces built in ${world.timings.total} ms`);

      // etcd's data dir and process go into the run's state file before they exist / right after the
      // spawn, so that `birdcage real gc` after a kill -9 of this process finds both.
      const dataDir = join(ramDir() ?? tmpdir(), `bc-${world.runId}-etcd`);
      await world.owner.intend([{ kind: "dir", path: dataDir }]);
      await mkdir(dataDir, { mode: 0o700 });
      const recorded: Promise<void>[] = [];
      const etcd = await startEtcd({
        dataDir,
        removeDataDir: true,
        unixSocket: true,
        onSpawn: (pid) => {
          const st = processStartTime(pid);
          if (st !== undefined) recorded.push(world.owner.intend([{ kind: "process", pid, startTime: st, command: "etcd (birdcage real backend)" }]));
        },
      });
      this.#etcd = etcd;
      await Promise.all(recorded);
      this.#store = new EtcdDatastore({ endpoints: etcd.endpoint, namespace: world.runId });
      this.#ipam = new Ipam(this.#store, { pools: () => this.#resources.clusterView(topology).ipPools, clock: () => Date.now() });
      // The agents take pools and BGP resources from etcd's cluster/ keys (and watch them), as the simulator's from its resources.
      this.#resources.apply([...topology.cluster.ipPools, topology.cluster.bgpConfiguration, ...topology.cluster.bgpPeers] as AnyResource[]);
      await seedCluster(this.#store, topology);

      // Nodes route pod traffic (Calico turns forwarding on); proxy ARP answers 169.254.1.1 only when
      // the node routes that address out another interface: a node without a gateway gets a route.
      await Promise.all(
        topology.nodes.map(async (n) => {
          await world.exec(n.name, "sysctl", ["-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
          if (!n.gateway) await world.exec(n.name, "ip", ["route", "replace", "169.254.1.1/32", "dev", "lo"]);
        }),
      );
      for (const n of topology.nodes) {
        const socket = join(tmpdir(), `bc-${world.runId}-${n.name}.sock`);
        await world.owner.intend([{ kind: "file", path: socket }]);
        const args = ["agent", "-t", file, "-n", n.name, "--etcd", etcd.unixEndpoint!, "--etcd-namespace", world.runId, "-s", socket, "--hold-time", String(HOLD_TIME_MS / 1000)];
        this.#agents.set(n.name, { node: n.name, socket, args, ready: "status", proc: undefined });
      }
      // A router that speaks BGP runs the standalone speaker (kernel routes) with the peers the
      // simulator gives it (sim/backend/routers.ts), passive towards nodes. Like the simulated
      // router it accepts and passes on every route: `import: all` / `export: all`, which RFC 8212
      // needs on its eBGP sessions.
      for (const r of topology.routers) {
        if (r.bgp === undefined) continue;
        const socket = join(tmpdir(), `bc-${world.runId}-${r.name}.sock`);
        const config = join(tmpdir(), `bc-${world.runId}-${r.name}.yaml`);
        await world.owner.intend([{ kind: "file", path: socket }, { kind: "file", path: config }]);
        const sc = routerSpeakerConfig(topology, r);
        const peers = (sc.peers ?? []).map((p) => ({
          address: p.address,
          asNumber: p.asNumber,
          ...(p.localAddress !== undefined ? { localAddress: p.localAddress } : {}),
          ...(p.passive ? { passive: true } : {}),
          ...(p.routeReflectorClient ? { routeReflectorClient: true } : {}),
          holdTime: HOLD_TIME_MS / 1000,
        }));
        const routerId = r.bgp.routerId ?? sc.routerId;
        await writeFile(config, stringify({ asNumber: r.bgp.asNumber, routerId, listen: { address: "0.0.0.0" }, import: "all", export: "all", peers, kernel: { install: true }, control: { socket } }));
        this.#routers.set(r.name, { node: r.name, socket, args: ["bgp", "speaker", "-c", config], ready: "peers", proc: undefined });
      }
      // Agents and plugin runs start from a precompiled bundle (real/agent/launch.ts), not through tsx.
      const cli = await launcher("cli");
      if (!cli.bundled) this.#event({ kind: "note", text: `agents start through tsx (slow): ${cli.reason}` });
      // Started together they share the CPU: 20 agents on 2 loaded cores took over 120 s to answer.
      const daemons = [...this.#agents.values(), ...this.#routers.values()];
      const within = Math.max(AGENT_START_MS, AGENT_START_EACH_MS * daemons.length);
      await Promise.all(daemons.map((a) => this.#startAgent(a, within)));
      this.#event({ kind: "step", text: `${topology.nodes.length} agents${this.#routers.size > 0 ? ` and ${this.#routers.size} BGP router(s)` : ""} running (run ${world.runId})` });
    } catch (e) {
      await this.stop().catch((x: unknown) => this.#log(`cleanup after a failed start: ${errText(x)}`));
      throw e;
    }
  }

  async #startAgent(a: Agent, within = AGENT_START_MS): Promise<void> {
    const w = this.#w();
    await rm(a.socket, { force: true });
    const proc = w.spawn(a.node, process.execPath, [(await launcher("cli")).script, ...a.args], {
      reject: false,
      all: true,
      buffer: { all: true },
    });
    a.proc = proc;
    delete a.down;
    let exited = false;
    void proc.then(() => (exited = true));
    const end = Date.now() + within;
    for (;;) {
      if (exited) {
        const r = await proc;
        throw new Error(`the agent of ${a.node} exited (${r.exitCode ?? r.signal}): ${String(r.all ?? "").trim().split("\n").slice(-5).join(" | ")}`);
      }
      try {
        await queryControl(a.socket, a.ready, 2_000);
        return;
      } catch {
        if (Date.now() > end) {
          proc.kill("SIGKILL");
          const r = await proc;
          throw new Error(`the agent of ${a.node} did not answer on ${a.socket} within ${within / 1000} s: ${String(r.all ?? "").trim().split("\n").slice(-5).join(" | ")}`);
        }
        await sleep(200);
      }
    }
  }

  async #stopAgent(a: Agent, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const p = a.proc;
    if (p === undefined) return;
    a.proc = undefined;
    p.kill(signal);
    const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    await p.catch(() => undefined);
    clearTimeout(timer);
  }

  stop(): Promise<void> {
    return (this.#stopping ??= (async () => {
      const problems: string[] = [];
      await Promise.all([...this.#agents.values(), ...this.#routers.values()].map((a) => this.#stopAgent(a, "SIGTERM")));
      await this.#store?.close().catch((e: unknown) => problems.push(`etcd client: ${errText(e)}`));
      await this.#etcd?.stop().catch((e: unknown) => problems.push(`etcd: ${errText(e)}`));
      if (this.#world !== undefined) {
        const r = await this.#world.teardown();
        for (const f of r.failed) problems.push(`could not remove ${JSON.stringify(f.object)}: ${f.error}`);
      }
      if (problems.length > 0) throw new Error(`stopping the real backend: ${problems.join("; ")}`);
    })());
  }

  // ------------------------------------------------------------------------------------------- pods

  #cniConfig(node: string, pod?: PodSpec): string {
    const t = this.#topology!;
    // A fixed address travels as the pod's Calico annotation (the plugin would read it from the API server).
    const args = pod?.ip !== undefined ? { args: { annotations: { [IP_ADDRS_ANNOTATION]: JSON.stringify([pod.ip]) } } } : {};
    return JSON.stringify({
      cniVersion: "1.0.0",
      name: "k8s-pod-network",
      type: "birdcage",
      mtu: t.cluster.tunnelMTU,
      nodename: node,
      routeProtocol: CNI_ROUTE_PROTOCOL,
      datastore: { type: "etcd", endpoints: [this.#etcd!.unixEndpoint!], namespace: this.#w().runId },
      ipam: { type: "birdcage-ipam", pools: (this.#resources.list("IPPool") as IPPool[]).map((p) => ({ name: p.metadata.name, ...p.spec })) },
      ...args,
    });
  }

  async #cni(command: "ADD" | "DEL", pod: RealPod): Promise<Record<string, unknown>> {
    const w = this.#w();
    const r = await execa("ip", ["netns", "exec", w.ns(pod.spec.node), process.execPath, (await launcher("cni")).script], {
      reject: false,
      timeout: 60_000,
      input: this.#cniConfig(pod.spec.node, command === "ADD" ? pod.spec : undefined),
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: pod.containerId,
        CNI_NETNS: `/run/netns/${pod.netns}`,
        CNI_IFNAME: "eth0",
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.spec.namespace};K8S_POD_NAME=${pod.spec.name}`,
        CNI_PATH: join(REPO, "bin"),
      },
    });
    const out = String(r.stdout ?? "").trim();
    if (r.exitCode !== 0) throw new Error(`CNI ${command} of pod ${pod.spec.namespace}/${pod.spec.name}: ${out || String(r.stderr ?? "").trim() || `exit ${r.exitCode}`}`);
    return out === "" ? {} : (JSON.parse(out) as Record<string, unknown>);
  }

  async createPods(pods: PodSpec[]): Promise<PodInfo[]> {
    const w = this.#w();
    const t = this.#topology!;
    const made: RealPod[] = [];
    for (const spec of pods) {
      const key = `${spec.namespace}/${spec.name}`;
      if (this.#pods.has(key) || made.some((p) => p.spec.namespace === spec.namespace && p.spec.name === spec.name)) throw new Error(`pod ${key} exists already`);
      if (!t.nodes.some((n) => n.name === spec.node)) throw new Error(`pod ${key}: no node named ${spec.node}`);
      const seq = ++this.#podSeq;
      made.push({ spec, netns: `bc-${w.runId}_pod${seq}`, containerId: `${w.runId}-${seq}`, info: { name: spec.name, namespace: spec.namespace, node: spec.node, ips: [], mtu: t.cluster.tunnelMTU } });
    }
    await w.owner.intend(made.map((p) => ({ kind: "netns", name: p.netns })));
    // One plugin run at a time per node (as a kubelet does), the nodes in parallel, at most
    // CNI_PARALLEL plugin processes at once: twenty starting together on two loaded cores each took
    // over the 60 s timeout (each costs about 1 s of CPU before it touches etcd).
    const byNode = new Map<string, RealPod[]>();
    for (const p of made) byNode.set(p.spec.node, [...(byNode.get(p.spec.node) ?? []), p]);
    await Promise.all(
      [...byNode.values()].map(async (list) => {
        for (const pod of list) {
          const key = `${pod.spec.namespace}/${pod.spec.name}`;
          await execa("ip", ["netns", "add", pod.netns]);
          await execa("ip", ["-n", pod.netns, "link", "set", "lo", "up"]);
          this.#pods.set(key, pod);
          let res: Record<string, unknown>;
          try {
            res = await this.#cniSlots.run(() => this.#cni("ADD", pod));
          } catch (e) {
            // The plugin rolled its part back; the pod does not exist (e.g. its fixed address is taken).
            this.#pods.delete(key);
            await execa("ip", ["netns", "del", pod.netns], { reject: false });
            throw e;
          }
          pod.info.ips = ((res["ips"] as { address: string }[] | undefined) ?? []).map((i) => bare(i.address));
          await this.#put(`${POLICY_PODS_PREFIX}${key}`, JSON.stringify({ name: pod.spec.name, namespace: pod.spec.namespace, node: pod.spec.node, labels: pod.spec.labels, ips: pod.info.ips }));
          this.#event({ node: pod.spec.node, kind: "step", text: `pod ${key} created (${pod.info.ips.join(", ")})` });
        }
      }),
    );
    return made.map((p) => ({ ...p.info, ips: [...p.info.ips] }));
  }

  async deletePods(pods: { name: string; namespace: string }[]): Promise<void> {
    for (const p of pods) {
      const key = `${p.namespace}/${p.name}`;
      const pod = this.#pods.get(key);
      if (pod === undefined) throw new Error(`no pod ${key}`);
      await this.#cni("DEL", pod);
      await this.#store!.delete(`${POLICY_PODS_PREFIX}${key}`).catch(() => undefined);
      await execa("ip", ["netns", "del", pod.netns], { reject: false });
      this.#pods.delete(key);
      this.#event({ node: pod.spec.node, kind: "step", text: `pod ${key} deleted` });
    }
  }

  async pods(): Promise<PodInfo[]> {
    return [...this.#pods.values()].map((p) => ({ ...p.info, ips: [...p.info.ips] })).sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
  }

  // ------------------------------------------------------------------------------------------- resources

  #resourceKey(r: AnyResource): string {
    const m = r.metadata as { name: string; namespace?: string };
    return `${POLICY_RESOURCES_PREFIX}${r.kind}/${m.namespace ?? "_"}/${m.name}`;
  }

  /** Create or replace a key (the port has no plain put). */
  async #put(key: string, value: string): Promise<void> {
    const store = this.#store!;
    for (let i = 0; i < 5; i++) {
      const cur = await store.get(key);
      try {
        if (cur === undefined) await store.create(key, value);
        else await store.update(key, value, cur.modRevision);
        return;
      } catch (e) {
        if (i === 4) throw e;
      }
    }
  }

  /**
   * Policy-side resources go to policy/resources/, pools and BGP resources to cluster/resources/
   * (real/agent/cluster-store.ts), which every agent watches and reconfigures from. A cluster change
   * is treated as a failure or restore for convergence: nothing may be judged stable before a change
   * is seen or the hold time has passed.
   */
  async #changeResources(resources: AnyResource[], how: "apply" | "delete"): Promise<void> {
    if (this.#store === undefined) throw new Error("the real backend is not started");
    const cluster = resources.filter(isClusterResource);
    for (const r of resources) {
      if (isClusterResource(r)) continue;
      if (how === "apply") await this.#put(this.#resourceKey(r), stringify(r));
      else await this.#store!.delete(this.#resourceKey(r)).catch(() => undefined);
    }
    if (cluster.length > 0) {
      if (how === "apply") {
        await putClusterResources(this.#store!, cluster);
        this.#resources.apply(cluster);
      } else {
        await deleteClusterResources(this.#store!, cluster);
        this.#resources.delete(cluster);
      }
      this.#pendingSince = this.now();
      this.#changedSincePending = false;
    }
    this.#event({ kind: "step", text: how === "apply" ? `applied ${resources.length} resource(s) through etcd` : `deleted ${resources.length} resource(s) from etcd` });
  }

  async applyResources(resources: AnyResource[]): Promise<void> {
    await this.#changeResources(resources, "apply");
  }

  async deleteResources(resources: AnyResource[]): Promise<void> {
    await this.#changeResources(resources, "delete");
  }

  // ------------------------------------------------------------------------------------------- failures

  #agent(name: string): Agent {
    const a = this.#agents.get(name);
    if (a === undefined) throw new Error(`no node named ${name}`);
    return a;
  }

  async fail(target: Target, options: FailOptions = {}): Promise<void> {
    const w = this.#w();
    switch (target.kind) {
      case "link":
        await w.setLinkDown(target.element, target.segment, true);
        this.#failures.add(`link:${target.element}@${target.segment}`);
        this.#event({ node: target.element, kind: "failure", text: `link ${target.element}@${target.segment} down` });
        break;
      case "node": {
        const a = this.#agent(target.name);
        const how = options.how ?? "crash";
        // A crash (kill -9) leaves the node's routes in the kernel, as a crashed calico-node does.
        await this.#stopAgent(a, how === "crash" ? "SIGKILL" : "SIGTERM");
        a.down = how;
        this.#failures.add(`node:${target.name}`);
        this.#event({ node: target.name, kind: "failure", text: how === "crash" ? `node ${target.name}: agent killed (kill -9)` : `node ${target.name}: agent stopped` });
        break;
      }
      case "router":
        await w.setHostDown(target.name, true);
        this.#failures.add(`router:${target.name}`);
        this.#event({ node: target.name, kind: "failure", text: `router ${target.name} down` });
        break;
    }
    this.#pendingSince = this.now();
    this.#changedSincePending = false;
  }

  async restore(target: Target): Promise<void> {
    const w = this.#w();
    switch (target.kind) {
      case "link":
        await w.setLinkDown(target.element, target.segment, false);
        this.#failures.delete(`link:${target.element}@${target.segment}`);
        this.#event({ node: target.element, kind: "restore", text: `link ${target.element}@${target.segment} up` });
        break;
      case "node": {
        const a = this.#agent(target.name);
        if (a.proc !== undefined) throw new Error(`node ${target.name} is running`);
        const crashed = a.down === "crash";
        await this.#startAgent(a);
        this.#failures.delete(`node:${target.name}`);
        this.#event({ node: target.name, kind: "restore", text: `node ${target.name}: agent started${crashed ? " (after a crash)" : ""}` });
        break;
      }
      case "router":
        await w.setHostDown(target.name, false);
        this.#failures.delete(`router:${target.name}`);
        this.#event({ node: target.name, kind: "restore", text: `router ${target.name} up` });
        break;
    }
    this.#pendingSince = this.now();
    this.#changedSincePending = false;
  }

  async advance(ms: number): Promise<void> {
    await sleep(Math.max(0, Math.min(ms, 3_600_000)));
  }

  // ------------------------------------------------------------------------------------------- observations

  async sessions(): Promise<SessionObservation[]> {
    const out: SessionObservation[] = [];
    for (const a of this.#agents.values()) {
      if (a.proc === undefined) continue;
      const r = await queryControl(a.socket, "sessions", 5_000);
      const list = (r["sessions"] ?? []) as { peer: string; peerNode?: string; state: SessionObservation["state"]; type: SessionObservation["type"]; prefixesReceived: number; prefixesSent: number }[];
      for (const s of list) {
        const peerName = s.peerNode ?? this.#owners.get(s.peer);
        out.push({ node: a.node, peer: s.peer, ...(peerName !== undefined ? { peerName } : {}), state: s.state, type: s.type, prefixesReceived: s.prefixesReceived, prefixesSent: s.prefixesSent });
      }
    }
    for (const r of this.#routers.values()) {
      if (r.proc === undefined) continue;
      const as = this.#topology!.routers.find((x) => x.name === r.node)?.bgp?.asNumber;
      const list = ((await queryControl(r.socket, "peers", 5_000))["peers"] ?? []) as { address: string; asNumber: number; state: SessionObservation["state"]; prefixesReceived: number; prefixesSent: number }[];
      for (const p of list) {
        const peerName = this.#owners.get(p.address);
        out.push({ node: r.node, peer: p.address, ...(peerName !== undefined ? { peerName } : {}), state: p.state, type: p.asNumber === as ? "iBGP" : "eBGP", prefixesReceived: p.prefixesReceived, prefixesSent: p.prefixesSent });
      }
    }
    return out.sort((x, y) => cmp(x.node, y.node) || cmp(x.peer, y.peer));
  }

  async #kernelRoutes(element: string): Promise<RouteObservation[]> {
    const w = this.#w();
    const out: RouteObservation[] = [];
    for (const v6 of [false, true]) {
      const r = await w.exec(element, "ip", ["-j", ...(v6 ? ["-6"] : []), "route", "show", "table", "main"], { timeoutMs: 10_000 });
      const list = JSON.parse(r.stdout || "[]") as IpRoute[];
      for (const x of list) {
        // Link-local and multicast housekeeping routes are not part of the routing picture.
        if (x.dst === undefined || /^fe80:|^ff00:|^169\.254\.1\.1$/.test(x.dst)) continue;
        const o = routeObservation(element, x, v6);
        if (o !== undefined) out.push(o);
      }
    }
    return out;
  }

  async routes(node?: string): Promise<RouteObservation[]> {
    const t = this.#topology;
    if (t === undefined) throw new Error("the real backend is not started");
    const names = [...t.nodes.map((n) => n.name), ...t.routers.map((r) => r.name)];
    if (node !== undefined && !names.includes(node)) throw new Error(`routes: no node or router named ${node}`);
    const lists = await Promise.all((node !== undefined ? [node] : names).map((n) => this.#kernelRoutes(n)));
    return sortRoutes(lists.flat());
  }

  async ipam(): Promise<IpamObservation> {
    return ipamObservation(this.#ipam!, this.#store!, { pods: [...this.#pods.values()].map((p) => p.spec), nodes: this.#topology!.nodes.map((n) => n.name) });
  }

  /** BGP messages sent by every agent and BGP router since the start (their control sockets' counters). */
  async counters(): Promise<Counters> {
    return this.#counters.read([...this.#agents.values(), ...this.#routers.values()].map((a) => ({ name: a.node, socket: a.socket, running: a.proc !== undefined })));
  }

  timeline(): TimelineEvent[] {
    return [...this.#events].sort((a, b) => a.t - b.t);
  }

  // ------------------------------------------------------------------------------------------- convergence

  /**
   * Polls every 500 ms: converged when two polls in a row saw the same sessions and kernel routes and
   * every session is Established (or, while a failure is in place, merely unchanged). After a
   * failure or restore it waits at least the hold time plus 3 s (a link failure or a crash shows at
   * the peers only when their hold timer runs out), unless every failure is restored and every session
   * is Established again after a change. `at` is the scenario time of the last change seen.
   */
  async waitConverged(timeoutMs: number, since: number): Promise<ConvergenceResult> {
    const end = performance.now() + Math.max(0, timeoutMs);
    for (;;) {
      const sessions = await this.sessions().catch(() => undefined);
      const routes = await this.routes().catch(() => undefined);
      const now = this.now();
      if (sessions !== undefined && routes !== undefined) {
        this.#lastPoll = { at: now, sessions, routes };
        for (const s of sessions) {
          const k = `${s.node} ${s.peer}`;
          const before = this.#sessionStates.get(k);
          if (before !== s.state) {
            this.#sessionStates.set(k, s.state);
            if (s.state === "Established" || before === "Established") this.#event({ t: now, node: s.node, kind: "session", text: s.state === "Established" ? `session with ${s.peerName ?? s.peer} Established` : `session with ${s.peerName ?? s.peer} down (${before} -> ${s.state})` } as TimelineEvent);
          }
        }
        const print = JSON.stringify([sessions.map((s) => [s.node, s.peer, s.state]), routes]);
        if (print !== this.#lastPrint) {
          if (this.#lastPrint !== "") this.#event({ kind: "route", text: "routing changed" });
          this.#lastPrint = print;
          this.#lastChange = now;
          this.#stableSince = now;
          if (this.#pendingSince !== undefined) this.#changedSincePending = true;
        } else {
          // After a failure or restore with no change seen yet, wait out the hold time before calling it stable.
          const allUp = sessions.every((s) => s.state === "Established");
          const waited = this.#pendingSince === undefined || now - this.#pendingSince >= FAILURE_QUIET_MS || (this.#failures.size === 0 && allUp && this.#changedSincePending);
          const settled = waited && (this.#failures.size > 0 || allUp);
          const expected = [...this.#agents.values()].every((a) => a.proc === undefined) || sessions.length > 0;
          if (settled && expected && now - this.#stableSince >= POLL_MS) return { converged: true, at: this.#lastChange, took: Math.max(0, this.#lastChange - since) };
        }
      }
      if (performance.now() >= end) return { converged: false, at: now, took: Math.max(0, now - since) };
      await sleep(Math.min(POLL_MS, Math.max(0, end - performance.now())));
    }
  }

  /** Counts for the charts, from the last convergence poll when it is at most 600 ms old. */
  async sample(): Promise<SampleCounts> {
    const fresh = this.#lastPoll !== undefined && this.now() - this.#lastPoll.at <= 600 ? this.#lastPoll : undefined;
    const sessions = fresh?.sessions ?? (await this.sessions());
    const routes = fresh?.routes ?? (await this.routes());
    const perNode: Record<string, { sessions: number; routes: number }> = {};
    for (const n of [...this.#topology!.nodes.map((x) => x.name), ...this.#topology!.routers.map((x) => x.name)]) perNode[n] = { sessions: 0, routes: 0 };
    const pairs = new Set<string>();
    for (const x of sessions) {
      if (x.state !== "Established") continue;
      (perNode[x.node] ??= { sessions: 0, routes: 0 }).sessions++;
      const other = x.peerName ?? x.peer;
      pairs.add(x.node < other ? `${x.node} ${other}` : `${other} ${x.node}`);
    }
    for (const r of routes) (perNode[r.node] ??= { sessions: 0, routes: 0 }).routes++;
    return { sessionsEstablished: pairs.size, routes: routes.length, perNode };
  }

  // ------------------------------------------------------------------------------------------- probes

  /** A probe end: the namespace it runs in, its host (node/router), and its address. */
  #end(e: Endpoint, side: "from" | "to"): { ns: string | undefined; host: string; address: string; pod?: RealPod } {
    const w = this.#w();
    if ("pod" in e) {
      const key = e.pod.includes("/") ? e.pod : `default/${e.pod}`;
      const p = this.#pods.get(key);
      if (p === undefined) throw new Error(`probe ${side}: no pod ${key}`);
      const ip = p.info.ips[0];
      if (ip === undefined) throw new Error(`probe ${side}: pod ${key} has no address`);
      return { ns: p.netns, host: p.spec.node, address: ip, pod: p };
    }
    if ("node" in e) {
      const t = this.#topology!;
      const n = t.nodes.find((x) => x.name === e.node);
      const r = t.routers.find((x) => x.name === e.node);
      const a = n?.address ?? n?.addressV6 ?? r?.interfaces.map((i) => i.address ?? i.addressV6).find((x) => x !== undefined);
      if (n === undefined && r === undefined) throw new Error(`probe ${side}: no node or router named ${e.node}`);
      if (a === undefined) throw new Error(`probe ${side}: ${e.node} has no address`);
      return { ns: w.ns(e.node), host: e.node, address: bare(a) };
    }
    const owner = this.#owners.get(e.address);
    if (owner !== undefined) return { ns: w.ns(owner), host: owner, address: e.address };
    const pod = [...this.#pods.values()].find((p) => p.info.ips.includes(e.address));
    if (pod !== undefined) return { ns: pod.netns, host: pod.spec.node, address: e.address, pod };
    if (side === "from") throw new Error(`probe from ${e.address}: no node, router or pod has that address`);
    return { ns: undefined, host: "", address: e.address };
  }

  /** The element or pod that owns an address, as a place to continue a trace from. */
  #where(address: string): { ns: string; at: string; pod?: RealPod } | undefined {
    const owner = this.#owners.get(address);
    if (owner !== undefined) return { ns: this.#w().ns(owner), at: owner };
    const pod = [...this.#pods.values()].find((p) => p.info.ips.includes(address));
    return pod !== undefined ? { ns: pod.netns, at: `pod ${pod.spec.namespace}/${pod.spec.name}`, pod } : undefined;
  }

  /**
   * The path as the kernels would route it: `ip route get` in each namespace in turn, following the
   * gateway (or the destination on a connected route) to the namespace that owns it. Best effort:
   * policy is not evaluated here and hops stop at an address no namespace of the run owns.
   */
  async #trace(from: { ns: string; at: string; pod?: RealPod }, dst: string, size: number): Promise<{ hops: Hop[]; pathMtu?: number; encap: ProbeResult["encap"] }> {
    const hops: Hop[] = [];
    let encap: ProbeResult["encap"] = "none";
    let pathMtu: number | undefined;
    let here: { ns: string; at: string; pod?: RealPod } | undefined = from;
    for (let i = 0; i < 16 && here !== undefined; i++) {
      const r = await execa("ip", ["-n", here.ns, "-j", "route", "get", dst], { reject: false, timeout: 5_000 });
      if (r.exitCode !== 0) {
        hops.push({ at: here.at, action: `no route to ${dst}: ${String(r.stderr).trim()}` });
        break;
      }
      const route = (JSON.parse(String(r.stdout) || "[]") as { type?: string; gateway?: string; dev?: string }[])[0];
      if (route === undefined) break;
      if (route.type === "local") {
        hops.push({ at: here.at, action: `delivered to ${dst}` });
        break;
      }
      const dev = route.dev ?? "";
      const link = await execa("ip", ["-n", here.ns, "-j", "link", "show", "dev", dev], { reject: false, timeout: 5_000 });
      const mtu = (JSON.parse(String(link.stdout) || "[]") as { mtu?: number }[])[0]?.mtu;
      if (mtu !== undefined) pathMtu = Math.min(pathMtu ?? mtu, mtu);
      const tunnel = dev === "vxlan.calico" ? "vxlan" : dev === "tunl0" ? "ipip" : undefined;
      if (tunnel !== undefined) encap = tunnel;
      const overhead = tunnel === "vxlan" ? 50 : tunnel === "ipip" ? 20 : 0;
      hops.push({
        at: here.at,
        action: `route to ${dst}${route.gateway ? ` via ${route.gateway}` : ""} dev ${dev}${tunnel ? ` (${tunnel}, +${overhead} bytes)` : ""}${mtu !== undefined ? ` mtu ${mtu}` : ""}`,
        out: dev,
        size: size + overhead,
      });
      const nextAddr = route.gateway === "169.254.1.1" ? undefined : (route.gateway ?? dst);
      let next: { ns: string; at: string; pod?: RealPod } | undefined;
      if (route.gateway === "169.254.1.1" && here.pod !== undefined) next = { ns: this.#w().ns(here.pod.spec.node), at: here.pod.spec.node };
      else if (dev.startsWith("cali")) next = this.#where(dst);
      else if (nextAddr !== undefined) next = this.#where(nextAddr);
      if (next !== undefined && next.ns === here.ns) break;
      here = next;
    }
    return { hops, ...(pathMtu !== undefined ? { pathMtu } : {}), encap };
  }

  async probe(spec: ProbeSpec): Promise<ProbeResult> {
    const src = this.#end(spec.from, "from");
    const dst = this.#end(spec.to, "to");
    const size = spec.size ?? (spec.protocol === "icmp" ? 64 : 100);
    const df = spec.df ?? spec.protocol === "tcp";
    const start = { ns: src.ns!, at: src.pod ? `pod ${src.pod.spec.namespace}/${src.pod.spec.name}` : src.host, ...(src.pod ? { pod: src.pod } : {}) };
    const trace = await this.#trace(start, dst.address, size);
    let reach: ReachResult;
    if (spec.protocol === "icmp") reach = await pingOnce(src.ns!, dst.address, size, df);
    else {
      if (dst.ns === undefined) throw new Error(`probe to ${dst.address}: real mode runs ${spec.protocol} probes only to a pod, node or router (it starts the server there)`);
      // UDP without df is sent without DF, as the simulator assumes; TCP keeps the kernel's PMTU discovery unless df is set.
      reach = await exchange(spec.protocol, src.ns!, dst.ns, dst.address, spec.port ?? 80, size, spec.protocol === "udp" ? df : spec.df);
    }
    let result: ProbeResult;
    if (reach.delivered) {
      // TCP segments to the path MTU instead of fragmenting; ICMP and UDP without DF are fragmented.
      const fragmented = spec.protocol !== "tcp" && !df && trace.pathMtu !== undefined && size > trace.pathMtu;
      result = { outcome: fragmented ? "fragmented" : "delivered", hops: trace.hops, ...(trace.pathMtu !== undefined ? { pathMtu: trace.pathMtu } : {}), encap: trace.encap };
    } else {
      const dropKind = reach.mtu ? "mtu" : reach.unreachable ? "no-route" : undefined;
      const reason = reach.mtu
        ? `too big for the path (${reach.detail})`
        : reach.unreachable
          ? reach.detail
          : `no answer within 2 s${reach.detail ? ` (${reach.detail})` : ""}: policy, a down link or a missing route (real mode cannot tell which)`;
      result = { outcome: "dropped", reason, ...(dropKind !== undefined ? { dropKind } : {}), hops: trace.hops, ...(trace.pathMtu !== undefined ? { pathMtu: trace.pathMtu } : {}), encap: trace.encap };
    }
    const what = `${spec.protocol}${spec.port !== undefined ? `/${spec.port}` : ""} ${endText(spec.from)} -> ${endText(spec.to)}`;
    this.#event({ node: src.host, kind: "probe", text: `probe ${what}: ${result.outcome}${result.reason ? ` (${result.reason})` : ""}` });
    return result;
  }
}

/** At most `n` tasks at a time, the others wait their turn in order. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    }
  }
}

const endText = (e: Endpoint): string => ("pod" in e ? e.pod : "node" in e ? e.node : e.address);
