// Which BGP sessions a Calico node has, as confd computes them (bgp_processor.go, client.go
// updatePeersV1; calico-semantics.md §4.3):
// - the node-to-node mesh (when enabled) between every two nodes, except route reflectors (a node with
//   routeReflectorClusterID skips the mesh and the others drop it);
// - BGPPeer resources: local nodes by `node`, `nodeSelector` or all (a global peer), remote by
//   `peerIP` (+ `asNumber`) or `peerSelector` (Calico nodes, AS from the remote node); a peering
//   towards a Calico node is mirrored on that node unless reversePeering is Manual;
// - on a route reflector, an iBGP peer whose cluster ID is empty or different is a route-reflector
//   client; reflectors of the same cluster peer as plain iBGP;
// - towards Calico nodes the lexical passive rule (calicoPassive) makes exactly one side connect.
// `peerRelations` is the cluster-wide list (src/topology draws and counts it); `nodePeers` is one
// node's list of speaker peers, per address family.
import { calicoPassive } from "../bgp/session.ts";
import { splitPeerIP } from "../model/calico.ts";
import { parseSelector, type Selector } from "../policy/selector/index.ts";
import { DEFAULT_BGP_PORT, durationSeconds, hostAddress, listenPort, meshEnabled, nodeAs, type BgpPeerResource, type ClusterNode, type ClusterView } from "./cluster.ts";

/** One directed "local peers with remote" fact, before addresses are chosen. */
export interface PeerRelation {
  local: ClusterNode;
  /** The remote Calico node, when the peer is one. */
  remote?: ClusterNode;
  /** The explicit peer address (BGPPeer peerIP, without port); the remote node's addresses otherwise. */
  address?: string;
  port?: number;
  /** The explicit peer AS (BGPPeer asNumber); the remote node's AS otherwise. */
  asNumber?: number;
  /** "mesh" or "bgppeer/<name>". */
  source: string;
  /** Session settings from the BGPPeer (or BGPConfiguration for the mesh), in seconds. */
  options?: PeerOptions;
}

export interface PeerOptions {
  restartTime?: number;
  keepaliveTime?: number;
  nextHopSelf?: boolean;
}

/** One peer of one node, ready for the speaker. */
export interface AgentPeer {
  address: string;
  asNumber: number;
  port?: number;
  /** Our address of the same family (the speaker's source address and next hop). */
  localAddress: string;
  passive: boolean;
  routeReflectorClient: boolean;
  type: "iBGP" | "eBGP";
  source: string;
  /** The peer's node name, when it is a Calico node. */
  peerNode?: string;
  /** Graceful-restart time (maxRestartTime / nodeMeshMaxRestartTime), keepalive time, next hop self. */
  options?: PeerOptions;
}

/** What many peers of one node have in common (NodePeer's fields other than the peer's address and name). */
class PeerTerms {
  constructor(
    readonly asNumber: number,
    readonly localAddress: string,
    readonly passive: boolean,
    readonly routeReflectorClient: boolean,
    readonly type: "iBGP" | "eBGP",
    readonly source: string,
  ) {}
}

const MAX_SHARED_TERMS = 16;

/** A Calico node as a peer of one family: its address and name, shared by every node's peer of it (NodeIndex). */
class RemoteRef {
  constructor(
    readonly address: string,
    readonly peerNode: string,
  ) {}
}

function remoteRef(idx: NodeIndex, remote: ClusterNode, family: 4 | 6, address: string): RemoteRef {
  const refs = family === 4 ? idx.refs4 : idx.refs6;
  let r = refs.get(remote);
  if (r === undefined) refs.set(remote, (r = new RemoteRef(address, remote.name)));
  // (A BGPPeer's peerIP may name the node by another spelling of an address: then its own.)
  return r.address === address ? r : new RemoteRef(address, remote.name);
}

/**
 * An AgentPeer that is a Calico node on the default port with no options: the speaker keeps it as its
 * PeerConfig for the whole session (a full mesh has N² of them), so it holds only what is its own.
 * The other fields are getters: read it, do not spread it.
 */
class NodePeer implements AgentPeer {
  constructor(
    readonly remote: RemoteRef,
    readonly terms: PeerTerms,
  ) {}
  get address(): string {
    return this.remote.address;
  }
  get peerNode(): string {
    return this.remote.peerNode;
  }
  get asNumber(): number {
    return this.terms.asNumber;
  }
  get localAddress(): string {
    return this.terms.localAddress;
  }
  get passive(): boolean {
    return this.terms.passive;
  }
  get routeReflectorClient(): boolean {
    return this.terms.routeReflectorClient;
  }
  get type(): "iBGP" | "eBGP" {
    return this.terms.type;
  }
  get source(): string {
    return this.terms.source;
  }
}

const selectorCache = new Map<string, Selector>();
function selector(text: string): Selector {
  let s = selectorCache.get(text);
  if (!s) {
    s = parseSelector(text);
    if (selectorCache.size > 1000) selectorCache.clear();
    selectorCache.set(text, s);
  }
  return s;
}

const isRR = (n: ClusterNode): boolean => n.routeReflectorClusterID !== undefined && n.routeReflectorClusterID !== "";
const labelsOf = (n: ClusterNode): Readonly<Record<string, string>> => n.labels ?? {};

/**
 * Every peering relation of the cluster in Calico's order (mesh first, then BGPPeers as given), or
 * only those whose local side is `only`. Each session between two Calico nodes appears in both
 * directions (both nodes configure it), unless `oneWay`: then a mesh pair appears once (earlier node
 * as local) and mirrored BGPPeer relations are left out (for listing sessions, not configuring them).
 */
export function peerRelations(view: ClusterView, only?: string, options: { oneWay?: boolean } = {}): PeerRelation[] {
  const oneWay = options.oneWay === true;
  const out: PeerRelation[] = [];
  const nodes = view.nodes;
  const wanted = (n: ClusterNode): boolean => only === undefined || n.name === only;
  if (meshEnabled(view)) {
    const restart = durationSeconds(view.bgpConfiguration?.spec.nodeMeshMaxRestartTime);
    const meshOptions = restart !== undefined ? { restartTime: restart } : undefined;
    for (let i = 0; i < nodes.length; i++) {
      const x = nodes[i]!;
      if (!wanted(x) || isRR(x)) continue;
      for (let j = oneWay ? i + 1 : 0; j < nodes.length; j++) {
        const y = nodes[j]!;
        if (y === x || isRR(y)) continue;
        out.push(meshOptions ? { local: x, remote: y, source: "mesh", options: meshOptions } : { local: x, remote: y, source: "mesh" });
      }
    }
  }
  const idx = indexOf(nodes);
  for (const p of view.bgpPeers ?? []) bgpPeerRelations(out, p, nodes, idx, wanted, !oneWay);
  return out;
}

function bgpPeerRelations(
  out: PeerRelation[],
  p: BgpPeerResource,
  nodes: readonly ClusterNode[],
  idx: NodeIndex,
  wanted: (n: ClusterNode) => boolean,
  mirrors: boolean,
): void {
  const s = p.spec;
  const opts = peerOptions(p);
  const source = `bgppeer/${p.metadata.name}`;
  const extra = opts ? { options: opts } : {};
  const locals =
    s.node !== undefined && s.node !== ""
      ? [idx.byName.get(s.node)].filter((n): n is ClusterNode => n !== undefined)
      : s.nodeSelector !== undefined && s.nodeSelector !== ""
        ? selected(nodes, idx, s.nodeSelector)
        : nodes;
  const mirror = mirrors && s.reversePeering !== "Manual";
  if (s.peerIP !== undefined && s.peerIP !== "") {
    const split = splitPeerIP(s.peerIP);
    if (!split) return;
    const address = safeHost(split.ip);
    if (address === undefined) return;
    const remote = idx.byAddress.get(address);
    for (const n of locals) {
      if (n === remote) continue;
      if (wanted(n)) out.push({ local: n, ...(remote ? { remote } : {}), address, ...(split.port !== undefined ? { port: split.port } : {}), ...(s.asNumber !== undefined ? { asNumber: s.asNumber } : {}), source, ...extra });
      // The reverse session on the remote Calico node, towards n's address of the same family.
      if (remote && mirror && wanted(remote)) {
        const back = address.includes(":") ? idx.v6.get(n) : idx.v4.get(n);
        if (back !== undefined) out.push({ local: remote, remote: n, address: back, source, ...extra });
      }
    }
  } else if (s.peerSelector !== undefined && s.peerSelector !== "") {
    const remotes = selected(nodes, idx, s.peerSelector);
    for (const n of locals) {
      for (const r of remotes) {
        if (r === n) continue;
        if (wanted(n)) out.push({ local: n, remote: r, source, ...extra });
        if (mirror && wanted(r)) out.push({ local: r, remote: n, source, ...extra });
      }
    }
  }
}

/**
 * The speaker peers of node `self`: one per peer address (IPv4 and IPv6 sessions are separate, as
 * Calico's), the first rule naming an address wins (confd skips duplicates).
 */
export function nodePeers(view: ClusterView, self: ClusterNode): AgentPeer[] {
  return [...nodePeerMap(view, self).values()];
}

/** nodePeers keyed by peer address, in the same order (what an agent keeps). */
export function nodePeerMap(view: ClusterView, self: ClusterNode): Map<string, AgentPeer> {
  const myAs = nodeAs(view, self);
  const mine4 = safeHost(self.address);
  const mine6 = safeHost(self.addressV6);
  const port = listenPort(view);
  const out = new Map<string, AgentPeer>();
  // The view's own entry is used as it is when it says the same as `self` (the usual case: one shared
  // view and its index for every agent); otherwise `self` replaces it in a copy.
  const entry = indexOf(view.nodes).byName.get(self.name);
  const same = entry !== undefined && sameNode(view, entry, self);
  const nodes = same ? view.nodes : entry ? view.nodes.map((n) => (n.name === self.name ? self : n)) : [...view.nodes, self];
  // Remote addresses come from the nodes' index (parsed once per view), not parsed again per agent.
  const idx = indexOf(nodes);
  const selfRR = isRR(self);
  const add = (r: PeerRelation | undefined, remote: ClusterNode | undefined, source: string, options: PeerOptions | undefined, family: 4 | 6, localAddress: string): void => {
    let address: string | undefined;
    if (r !== undefined && r.address !== undefined) address = r.address.includes(":") === (family === 6) ? r.address : undefined;
    else if (remote) address = family === 4 ? (idx.v4.get(remote) ?? safeHost(remote.address)) : (idx.v6.get(remote) ?? safeHost(remote.addressV6));
    if (address === undefined || address === localAddress || out.has(address)) return;
    const asNumber = r?.asNumber ?? (remote ? nodeAs(view, remote) : myAs);
    const ibgp = asNumber === myAs;
    const peerPort = r?.port ?? (remote ? port : undefined);
    const passive = remote !== undefined && calicoPassive(localAddress, address);
    const routeReflectorClient = ibgp && selfRR && (remote?.routeReflectorClusterID ?? "") !== self.routeReflectorClusterID;
    const type = ibgp ? "iBGP" : "eBGP";
    // (The usual case, a Calico node on the default port with no options: its address and name, the rest shared.)
    const p: AgentPeer =
      remote && options === undefined && (peerPort === undefined || peerPort === DEFAULT_BGP_PORT)
        ? new NodePeer(remoteRef(idx, remote, family, address), termsOf(asNumber, localAddress, passive, routeReflectorClient, type, source))
        : {
            address,
            asNumber,
            ...(peerPort !== undefined && peerPort !== DEFAULT_BGP_PORT ? { port: peerPort } : {}),
            localAddress,
            passive,
            routeReflectorClient,
            type,
            source,
            ...(remote ? { peerNode: remote.name } : {}),
            ...(options ? { options } : {}),
          };
    out.set(address, p);
  };
  // The few different sets of the rest among this node's peers (a mesh: one per family and passive side).
  const shared: PeerTerms[] = [];
  const termsOf = (asNumber: number, localAddress: string, passive: boolean, rrClient: boolean, type: "iBGP" | "eBGP", source: string): PeerTerms => {
    for (let k = 0; k < shared.length; k++) {
      const t = shared[k]!;
      if (t.asNumber === asNumber && t.localAddress === localAddress && t.passive === passive && t.routeReflectorClient === rrClient && t.type === type && t.source === source) return t;
    }
    const t = new PeerTerms(asNumber, localAddress, passive, rrClient, type, source);
    if (shared.length < MAX_SHARED_TERMS) shared.push(t);
    return t;
  };
  const relate = (r: PeerRelation | undefined, remote: ClusterNode | undefined, source: string, options: PeerOptions | undefined): void => {
    if (mine4 !== undefined) add(r, remote, source, options, 4, mine4);
    if (mine6 !== undefined) add(r, remote, source, options, 6, mine6);
  };
  // peerRelations(view, self.name) without a relation object per mesh pair: the mesh in node order, then BGPPeers.
  if (meshEnabled(view)) {
    const restart = durationSeconds(view.bgpConfiguration?.spec.nodeMeshMaxRestartTime);
    const meshOptions = restart !== undefined ? { restartTime: restart } : undefined;
    for (const x of nodes) {
      if (x.name !== self.name || isRR(x)) continue;
      for (const y of nodes) if (y !== x && !isRR(y)) relate(undefined, y, "mesh", meshOptions);
    }
  }
  if (view.bgpPeers !== undefined && view.bgpPeers.length > 0) {
    const rels: PeerRelation[] = [];
    const wanted = (n: ClusterNode): boolean => n.name === self.name;
    for (const p of view.bgpPeers) bgpPeerRelations(rels, p, nodes, idx, wanted, true);
    for (const r of rels) relate(r, r.remote, r.source, r.options);
  }
  return out;
}

/**
 * Per node list: names, parsed addresses and selector results, so the agents of one cluster (which
 * share the view) compute their peers in time proportional to their own relations. Views are treated
 * as immutable: a changed cluster is a new view (or at least a new nodes array).
 */
interface NodeIndex {
  byName: Map<string, ClusterNode>;
  byAddress: Map<string, ClusterNode>;
  v4: Map<ClusterNode, string>;
  v6: Map<ClusterNode, string>;
  selected: Map<string, ClusterNode[]>;
  /** Made as nodes are first peered with (nodePeerMap). */
  refs4: Map<ClusterNode, RemoteRef>;
  refs6: Map<ClusterNode, RemoteRef>;
}

const indexes = new WeakMap<readonly ClusterNode[], NodeIndex>();

function indexOf(nodes: readonly ClusterNode[]): NodeIndex {
  let idx = indexes.get(nodes);
  if (idx) return idx;
  idx = { byName: new Map(), byAddress: new Map(), v4: new Map(), v6: new Map(), selected: new Map(), refs4: new Map(), refs6: new Map() };
  for (const n of nodes) {
    idx.byName.set(n.name, n);
    const a4 = safeHost(n.address);
    const a6 = safeHost(n.addressV6);
    if (a4 !== undefined) {
      idx.v4.set(n, a4);
      if (!idx.byAddress.has(a4)) idx.byAddress.set(a4, n);
    }
    if (a6 !== undefined) {
      idx.v6.set(n, a6);
      if (!idx.byAddress.has(a6)) idx.byAddress.set(a6, n);
    }
  }
  indexes.set(nodes, idx);
  return idx;
}

function selected(nodes: readonly ClusterNode[], idx: NodeIndex, text: string): ClusterNode[] {
  let list = idx.selected.get(text);
  if (!list) {
    const sel = selector(text);
    list = nodes.filter((n) => sel.matches(labelsOf(n)));
    idx.selected.set(text, list);
  }
  return list;
}

function peerOptions(p: BgpPeerResource): PeerOptions | undefined {
  const s = p.spec;
  const restartTime = durationSeconds(s.maxRestartTime);
  const keepaliveTime = durationSeconds(s.keepaliveTime);
  const o: PeerOptions = {
    ...(restartTime !== undefined ? { restartTime } : {}),
    ...(keepaliveTime !== undefined ? { keepaliveTime } : {}),
    ...(s.nextHopMode === "Self" ? { nextHopSelf: true } : {}),
  };
  return Object.keys(o).length > 0 ? o : undefined;
}

function sameNode(view: ClusterView, a: ClusterNode, b: ClusterNode): boolean {
  const la = labelsOf(a);
  const lb = labelsOf(b);
  const ka = Object.keys(la);
  return (
    safeHost(a.address) === safeHost(b.address) &&
    safeHost(a.addressV6) === safeHost(b.addressV6) &&
    nodeAs(view, a) === nodeAs(view, b) &&
    (a.routeReflectorClusterID ?? "") === (b.routeReflectorClusterID ?? "") &&
    ka.length === Object.keys(lb).length &&
    ka.every((k) => la[k] === lb[k])
  );
}

function safeHost(a: string | undefined): string | undefined {
  try {
    return hostAddress(a);
  } catch {
    return undefined;
  }
}
