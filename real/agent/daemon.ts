// `birdcage agent`: one node's agent for real, run inside the node's network namespace
// (`ip netns exec bc-…-node-1 birdcage agent …`). The same NodeAgent the simulator runs, on real
// ports: TCP (BGP), the wall clock, etcd (IPAM and the cluster's policy) and the kernel (routes,
// tunnels, nftables). Pods are created by the CNI plugin, which allocates in etcd; the agent sees
// its new blocks through the IPAM watch and originates them.
//
// Policy input lives in the datastore beside IPAM, written by whoever manages the cluster (the
// real backend, or an operator):
//   policy/resources/<anything>   one Calico/Kubernetes resource as YAML or JSON text
//   policy/pods/<namespace>/<name> a pod as JSON: { name, namespace, node, labels, ips, ports? }
// Every change rebuilds the PolicySet (all pods of the cluster as endpoints; resource keys parsed
// once per value, unchanged policies keep their compiled form) and re-renders.
// IP pools, BGPPeers and the BGPConfiguration come from cluster/ (real/agent/cluster-store.ts) once
// the datastore is seeded, else from the topology file: every change there is an updateCluster().
import { NodeAgent } from "../../src/core/agent/index.ts";
import { policySetFor } from "../../src/core/agent/policy.ts";
import type { ClusterView } from "../../src/core/agent/cluster.ts";
import { isDatastoreError, type Datastore, type Watch } from "../../src/core/datastore/port.ts";
import { loadResources, LoadedResources } from "../../src/core/model/index.ts";
import type { PolicySet } from "../../src/core/policy/policy-set.ts";
import type { K8sPod } from "../../src/core/policy/k8s-conversion.ts";
import { WallClock } from "../bgp/clock.ts";
import { TcpTransport } from "../bgp/tcp-transport.ts";
import { ControlServer } from "../control-socket.ts";
import { CLUSTER_PREFIX, readClusterView } from "./cluster-store.ts";
import { KernelDataplane } from "./kernel-dataplane.ts";

export const POLICY_PREFIX = "policy/";
export const POLICY_RESOURCES_PREFIX = "policy/resources/";
export const POLICY_PODS_PREFIX = "policy/pods/";
/** Policy changes closer together than this are rendered once. */
const POLICY_DEBOUNCE_MS = 200;
/** How long a start that fails on an unavailable datastore is retried. */
const START_RETRY_MS = 60_000;

export interface AgentDaemonOptions {
  node: string;
  cluster: ClusterView;
  datastore: Datastore;
  /** Unix control socket (status, sessions, routes, pods as JSON lines). */
  control?: string;
  policy?: "nft" | "iptables";
  /** Session timers for every peer (seconds), e.g. short hold times in tests. */
  holdTime?: number;
  connectRetryTime?: number;
  log?: (line: string) => void;
}

export class AgentDaemon {
  readonly agent: NodeAgent;
  readonly dataplane: KernelDataplane;
  private control: ControlServer | undefined;
  private watch: Watch | undefined;
  private clusterWatch: Watch | undefined;
  private clusterTimer: NodeJS.Timeout | undefined;
  /** The cluster view last handed to the agent, as JSON (a change that changes nothing is skipped). */
  private clusterText = "";
  /** Serializes updateCluster calls (a watch burst must not interleave two reconfigurations). */
  private clusterQueue: Promise<void> = Promise.resolve();
  private readonly log: (line: string) => void;
  private policyTimer: NodeJS.Timeout | undefined;
  /** The policy/ keys: listed once, then kept current from the watch (no etcd round trip per change). */
  private policyKeys = new Map<string, string>();
  /** Resource keys as last parsed (value text and entries), and the last PolicySet built. */
  private parsedResources = new Map<string, { text: string; entries: LoadedResources["entries"] }>();
  private lastPolicySet: PolicySet | undefined;
  private stopped = false;

  constructor(private readonly opts: AgentDaemonOptions) {
    const self = opts.cluster.nodes.find((n) => n.name === opts.node);
    if (!self) throw new Error(`node ${opts.node} is not in the cluster (known: ${opts.cluster.nodes.map((n) => n.name).join(", ")})`);
    if (self.address === undefined) throw new Error(`node ${opts.node} has no IPv4 address`);
    this.log = opts.log ?? ((l) => process.stderr.write(`${new Date().toISOString()} ${opts.node}: ${l}\n`));
    this.dataplane = new KernelDataplane({
      node: opts.node,
      nodeAddress: self.address.split("/")[0]!,
      ...(opts.policy ? { policy: opts.policy } : {}),
      onError: (e) => this.log(`dataplane ${e.what}: ${e.message}`),
    });
    const timers = {
      ...(opts.holdTime !== undefined ? { holdTime: opts.holdTime } : {}),
      ...(opts.connectRetryTime !== undefined ? { connectRetryTime: opts.connectRetryTime } : {}),
    };
    this.agent = new NodeAgent(
      {
        name: self.name,
        address: self.address,
        ...(self.addressV6 !== undefined ? { addressV6: self.addressV6 } : {}),
        ...(self.routeReflectorClusterID !== undefined ? { routeReflectorClusterID: self.routeReflectorClusterID } : {}),
        ...(self.labels !== undefined ? { labels: self.labels } : {}),
        cluster: opts.cluster,
        ...(Object.keys(timers).length ? { peerTimers: timers } : {}),
      },
      { clock: new WallClock(), transport: new TcpTransport(), datastore: opts.datastore, dataplane: this.dataplane, log: (e) => this.log(e), wallClock: () => Date.now() },
    );
  }

  async start(): Promise<void> {
    if (this.opts.control) {
      this.control = new ControlServer(this.opts.control, (command) => this.answer(command), this.log);
      await this.control.start();
    }
    // The datastore's pools and BGP resources, when seeded, replace the file's before the first session.
    this.clusterText = JSON.stringify(this.opts.cluster);
    this.clusterWatch = this.opts.datastore.watch(CLUSTER_PREFIX, undefined, () => this.scheduleCluster(), (e) => this.log(`cluster watch ended: ${e.message}`));
    await this.refreshCluster();
    await this.startAgent();
    await this.watchPolicy();
    this.log(`agent up: ${this.agent.configuredPeers().length} BGP peers configured`);
  }

  /**
   * agent.start() claims tunnel addresses and lists block affinities in etcd: on a loaded machine
   * (twenty agents and a hundred CNI runs on two cores) a request can time out or find etcd's
   * client circuit open. Such a start is retried (it undoes itself on failure) for up to a minute
   * rather than taking the node down; anything else fails the start at once.
   */
  private async startAgent(): Promise<void> {
    const end = Date.now() + START_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.agent.start();
        return;
      } catch (e) {
        if (this.stopped || Date.now() > end || !(isDatastoreError(e, "Unavailable") || isDatastoreError(e, "Conflict"))) throw e;
        const wait = Math.min(5_000, 250 * 2 ** attempt);
        this.log(`start attempt ${attempt} failed (${e.message}); again in ${wait} ms`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Cease to every peer, our routes/tunnels/ruleset removed, the control socket closed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.policyTimer);
    clearTimeout(this.clusterTimer);
    this.watch?.cancel();
    this.clusterWatch?.cancel();
    await this.clusterQueue;
    this.agent.stop();
    await this.control?.stop();
    // Let the Cease NOTIFICATIONs leave before the routes go.
    await new Promise((r) => setTimeout(r, 200));
    await this.dataplane.close();
  }

  answer(command: string): unknown {
    switch (command) {
      case "status":
        return this.agent.status();
      case "sessions":
        return { sessions: this.agent.sessions() };
      case "routes":
        return { routes: this.agent.routes() };
      case "pods":
        return { pods: this.agent.pods() };
      case "counters":
        // BGP messages this node's speaker sent and received, over all peers (removed ones included).
        return { counters: this.agent.speaker.counters() };
      case "cluster": {
        const v = this.agent.cluster;
        return { ipPools: v.ipPools, bgpPeers: v.bgpPeers ?? [], ...(v.bgpConfiguration ? { bgpConfiguration: v.bgpConfiguration } : {}), peers: this.agent.configuredPeers().map((p) => p.address) };
      }
      default:
        return { error: `unknown command ${JSON.stringify(command)} (expected status, sessions, routes, pods, counters or cluster)` };
    }
  }

  /**
   * Lists policy/ and watches it from that revision. If the list or, later, the watch fails (etcd
   * unavailable, history compacted), lists again a second later: the keys are then complete again.
   */
  private async watchPolicy(): Promise<void> {
    if (this.stopped) return;
    const again = (why: string): void => {
      this.log(`policy watch: ${why}; listing again in 1 s`);
      this.watch?.cancel();
      this.watch = undefined;
      clearTimeout(this.policyTimer);
      if (!this.stopped) this.policyTimer = setTimeout(() => void this.watchPolicy(), 1_000);
    };
    let list;
    try {
      list = await this.opts.datastore.list(POLICY_PREFIX);
    } catch (e) {
      return again(`list failed (${e instanceof Error ? e.message : String(e)})`);
    }
    if (this.stopped) return;
    this.policyKeys = new Map(list.items.map((kv) => [kv.key, kv.value]));
    this.watch = this.opts.datastore.watch(
      POLICY_PREFIX,
      list.revision + 1,
      (ev) => {
        if (ev.type === "put" && ev.value !== undefined) this.policyKeys.set(ev.key, ev.value);
        else this.policyKeys.delete(ev.key);
        this.schedulePolicy();
      },
      (e) => again(`ended (${e.message})`),
    );
    this.refreshPolicy();
  }

  /** Bursts of changes (a scenario applying ten policies, a hundred pods created) become one re-render. */
  private schedulePolicy(): void {
    clearTimeout(this.policyTimer);
    this.policyTimer = setTimeout(() => this.refreshPolicy(), POLICY_DEBOUNCE_MS);
  }

  private scheduleCluster(): void {
    clearTimeout(this.clusterTimer);
    this.clusterTimer = setTimeout(() => void this.refreshCluster(), 50);
  }

  /** Reads cluster/ and reconfigures the agent when the view changed; a datastore error keeps the current view. */
  refreshCluster(): Promise<void> {
    this.clusterQueue = this.clusterQueue.then(async () => {
      if (this.stopped) return;
      try {
        const view = await readClusterView(this.opts.datastore, this.opts.cluster, (p) => this.log(`cluster resource ignored: ${p}`));
        if (view === undefined) return;
        const text = JSON.stringify(view);
        if (text === this.clusterText) return;
        this.clusterText = text;
        const before = new Set(this.agent.configuredPeers().map((p) => p.address));
        await this.agent.updateCluster(view);
        const after = this.agent.configuredPeers().map((p) => p.address);
        const added = after.filter((a) => !before.has(a));
        const removed = [...before].filter((a) => !after.includes(a));
        this.log(`cluster resources changed: ${view.ipPools.length} pool(s), ${view.bgpPeers?.length ?? 0} BGPPeer(s); peers${added.length ? ` +${added.join(" +")}` : ""}${removed.length ? ` -${removed.join(" -")}` : ""}${added.length + removed.length === 0 ? " unchanged" : ""}`);
      } catch (e) {
        this.log(`cluster view not updated: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    return this.clusterQueue;
  }

  /** Rebuilds the PolicySet from the keys as the watch has them. */
  refreshPolicy(): void {
    try {
      const keys = [...this.policyKeys.keys()].sort();
      // Each resource key is parsed once per value, not the whole policy/ tree per event.
      const parsed = new Map<string, { text: string; entries: LoadedResources["entries"] }>();
      for (const k of keys.filter((k) => k.startsWith(POLICY_RESOURCES_PREFIX))) {
        const text = this.policyKeys.get(k)!;
        const known = this.parsedResources.get(k);
        parsed.set(k, known !== undefined && known.text === text ? known : { text, entries: loadResources(text, `datastore:${k}`).entries });
      }
      const resources = new LoadedResources([...parsed.values()].flatMap((p) => p.entries));
      const podList = keys.filter((k) => k.startsWith(POLICY_PODS_PREFIX)).map((k) => parsePod(k, this.policyKeys.get(k)!));
      // Policies whose content did not change keep their compiled form from the last set.
      const set = policySetFor(resources, podList, this.lastPolicySet !== undefined ? { reuse: this.lastPolicySet } : {});
      this.parsedResources = parsed;
      this.lastPolicySet = set;
      this.agent.setPolicy(set);
    } catch (e) {
      // A bad resource must not take the node down: keep the previous ruleset and say why.
      this.log(`policy not updated: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

function parsePod(key: string, value: string): K8sPod {
  const v = JSON.parse(value) as Partial<K8sPod>;
  if (typeof v.name !== "string" || !Array.isArray(v.ips)) throw new Error(`${key}: a pod needs name and ips`);
  return v as K8sPod;
}
