// The BGP speaker: peers (Sessions), Adj-RIB-In per peer, the Loc-RIB with the decision process, and
// Adj-RIB-Out per peer, on the Clock / Transport / RouteSink ports. Received best paths go to the
// RouteSink with their next hop; locally originated prefixes marked `blackhole` go there as blackholes.
import { dottedQuad, formatIP, formatPrefix, type IPAddress, parseIP, parsePrefix, type Prefix } from "../net/ip.ts";
import { bestPath, type DecisionOptions, DEFAULT_LOCAL_PREF, type Path, type PathSource } from "./decision.ts";
import type { Clock, Listener, RouteEntry, RouteSink, Transport } from "./ports.ts";
import { addCounters, copyCounters, newPeerCounters, type PeerCounters } from "./counters.ts";
import { PrefixMap, type PrefixKey, v4Key } from "./prefix-map.ts";
import { type DownInfo, type Negotiated, Session, type SessionConfig, type SessionEvents, type SessionState } from "./session.ts";
import {
  type AddressFamily,
  Afi,
  allPrefixes,
  asPathAsns,
  type Capability,
  CeaseSubcode,
  encodeMessage,
  endOfRib,
  endOfRibFamily,
  ErrorCode,
  formatAsPath,
  formatRouterId,
  fromOldSpeaker,
  MessageType,
  type NlriPrefix,
  packUpdates,
  parseRouterId,
  type PathAttributes,
  type RouteRefreshMessage,
  RouteRefreshSubtype,
  Safi,
  toOldSpeaker,
  type UpdateMessage,
  updateErrorAction,
  WellKnownCommunity,
} from "./wire/index.ts";

export interface RouteView {
  prefix: Prefix;
  attrs: PathAttributes;
  nextHops: IPAddress[];
  source: PathSource;
  blackhole: boolean;
}

/** Accept (true), reject (false), or accept with these attributes. */
export type PolicyResult = boolean | PathAttributes;
export type ImportPolicy = (route: RouteView, peer: PeerConfig) => PolicyResult;
export type ExportPolicy = ((route: RouteView, peer: PeerConfig) => PolicyResult) & {
  /**
   * The verdict depends on the route alone, never on the peer: the speaker then asks once per route
   * and path (when it sends a route to each of its peers in a row, as a full mesh does) and reuses it.
   */
  readonly peerIndependent?: boolean;
};

export interface PeerConfig {
  address: string;
  asNumber: number;
  port?: number;
  /** Source address for our connections, and the next hop we advertise when different from the socket's. */
  localAddress?: string;
  passive?: boolean;
  routeReflectorClient?: boolean;
  holdTime?: number;
  minHoldTime?: number;
  connectRetryTime?: number;
  connectDelay?: number;
  errorWaitTime?: number;
  /** Graceful restart towards this peer; false turns it off. Default: the speaker's setting. */
  gracefulRestart?: { restartTime: number } | false;
  nextHopSelf?: boolean;
  /** Close with Cease/1 when the peer sends more prefixes than this. */
  maxPrefixes?: number;
  /** Address families to negotiate. Default: the family of `address`. */
  families?: (4 | 6)[];
  importPolicy?: ImportPolicy;
  exportPolicy?: ExportPolicy;
}

export interface SpeakerConfig {
  asNumber: number;
  routerId: number | string;
  /** Route-reflector cluster ID. Default: the router ID. */
  clusterId?: number | string;
  /** Listen for peers; omit to only connect out. */
  listen?: { address: string; port?: number };
  /**
   * Graceful restart (RFC 4724), default { restartTime: 120 }; false disables it. `restarting` sets the
   * R bit in the first OPEN to each peer, `forwarding` the F bit per family.
   *
   * `selectionDeferral` (seconds, with `restarting`): RFC 4724 §4.1's Selection_Deferral_Timer. The
   * restarted speaker then selects no best paths — installs nothing in the RouteSink (the forwarding
   * state kept through the restart stays as it is) and advertises nothing — until every peer with
   * graceful restart enabled is Established and has sent End-of-RIB for each family (peers that do
   * not advertise the capability, or that are restarting themselves, are not waited for), or the timer
   * runs out. Then it selects, installs and advertises everything at once, followed by End-of-RIB.
   * Off unless set.
   */
  gracefulRestart?: { restartTime: number; restarting?: boolean; forwarding?: boolean; selectionDeferral?: number } | false;
  /**
   * Hold back End-of-RIB until ready() is called, so helpers keep our stale routes until the
   * originated set is complete (e.g. read back from IPAM after a restart). Default: true when
   * gracefulRestart.restarting is set.
   */
  deferEndOfRib?: boolean;
  /** Applies to peers without their own policy. A policy (either level) lifts RFC 8212's eBGP default deny. */
  importPolicy?: ImportPolicy;
  exportPolicy?: ExportPolicy;
  igpCost?: DecisionOptions["igpCost"];
  peers?: PeerConfig[];
  log?: (event: string) => void;
  /**
   * Whether `log` gets a line per peer state change ("peer A: Connect -> OpenSent"). Default true;
   * false when onPeerState reports them anyway (a full mesh has millions of them).
   */
  logStates?: boolean;
  /** Peer FSM state changes, for the agent and show commands. */
  onPeerState?: (address: string, from: SessionState, to: SessionState) => void;
}

export interface SpeakerPorts {
  clock: Clock;
  transport: Transport;
  sink?: RouteSink;
}

export interface PeerStatus {
  address: string;
  asNumber: number;
  state: SessionState;
  /** Seconds in Established (0 otherwise). */
  uptime: number;
  prefixesReceived: number;
  prefixesAccepted: number;
  prefixesSent: number;
  routerId: string | null;
  lastError: string | null;
  gracefulRestart: "none" | "helping";
  /** Messages, octets and prefixes sent to and received from this peer since it was added (a copy). */
  counters: PeerCounters;
}

export interface RouteStatus {
  prefix: string;
  nextHop: string;
  asPath: string;
  best: boolean;
  /** Neighbour address, or "local". */
  peer: string;
  communities: string[];
  originatorId: string | null;
  clusterList: string[];
  localPref: number | null;
  med: number | null;
  origin: "igp" | "egp" | "incomplete";
  stale: boolean;
}

/** Map key of a prefix: a number for IPv4 (no string per route), a string for IPv6. */
type Key = PrefixKey;
const key = (p: Prefix): Key => (p.family === 4 ? Number(p.addr) * 64 + p.len : `${p.addr.toString(16)}/${p.len}`);
const familyAfi = (f: 4 | 6): number => (f === 4 ? Afi.IPV4 : Afi.IPV6);

/**
 * One prefix of the table: every path received for it (the Adj-RIBs-In, rejected ones included,
 * as BIRD keeps them) and the local one, with the selected best path.
 *
 * A full table is a million of these, so they are small: no Prefix object (its bigint alone costs
 * more than the rest), one Path held directly rather than in an array, and flags in one number.
 * Received paths carry no prefix and are shared by every prefix of their UPDATE.
 */
interface LocEntry {
  /** IPv4: the address as int32 (a small integer, stored unboxed); IPv6: the prefix. */
  a: number | Prefix;
  /** Prefix length | M_DIRTY | M_WIDE. */
  m: number;
  /** The paths: none, one, or several (an array of two or more). */
  paths: Path | Path[] | undefined;
  /**
   * The best path as of the last flush. What the RouteSink holds for the prefix is what this one
   * asks for (see installedFor): flush installs exactly that whenever it changes.
   */
  best: Path | undefined;
}
/** NOT_INSTALLED, BLACKHOLE, or the next hop (compared by value: see sameInstalled). */
type Installed = 0 | 1 | IPAddress;
const NOT_INSTALLED = 0;
const BLACKHOLE = 1;
/** By next-hop value: every UPDATE brings its own IPAddress objects, and only the address matters. */
const sameInstalled = (a: Installed, b: Installed): boolean =>
  a === b || (typeof a === "object" && typeof b === "object" && a.family === b.family && a.value === b.value);
/** The forwarding entry a best path asks for: local ones a blackhole if marked, received ones their next hop. */
const installedFor = (best: Path | undefined): Installed =>
  best === undefined ? NOT_INSTALLED : best.source.kind === "local" ? (best.blackhole ? BLACKHOLE : NOT_INSTALLED) : (best.nextHops[0] ?? NOT_INSTALLED);
const M_LEN = 0xff;
const M_DIRTY = 0x100;
/**
 * Set (for good) once the best path could go to an iBGP peer that is not a route-reflector client:
 * a local path, an eBGP one, or one from a client. Until then no such peer has the prefix in its
 * Adj-RIB-Out nor may get it (split horizon), so a change to it concerns those peers not at all.
 */
const M_WIDE = 0x200;

const newEntry = (p: Prefix, paths: Path | undefined): LocEntry =>
  p.family === 4 ? { a: Number(p.addr) | 0, m: p.len, paths, best: undefined } : { a: p, m: p.len, paths, best: undefined };
const entryFamily = (e: LocEntry): 4 | 6 => (typeof e.a === "number" ? 4 : 6);
const entryKey = (e: LocEntry): Key => (typeof e.a === "number" ? v4Key(e.a, e.m & M_LEN) : key(e.a));
/** The entry's prefix as a Prefix (a new object for IPv4: the entries keep none). */
const entryPrefix = (e: LocEntry): Prefix => (typeof e.a === "number" ? { family: 4, addr: BigInt(e.a >>> 0), len: e.m & M_LEN } : e.a);
const peerOf = (s: Session): PeerState => s.owner as PeerState;

const NO_COMMUNITIES: readonly number[] = Object.freeze([]);

/** Whether the negotiated families include unicast of this AFI. */
function hasUnicast(families: readonly AddressFamily[], afi: number): boolean {
  for (let i = 0; i < families.length; i++) if (families[i]!.afi === afi && families[i]!.safi === Safi.UNICAST) return true;
  return false;
}

/** The text that identifies a set of attributes (the intern key). */
function attrsKey(attrs: PathAttributes): string {
  try {
    return JSON.stringify(attrs);
  } catch {
    return JSON.stringify(attrs, bigintSafe); // bigints (none in the usual attributes): slower
  }
}

/** Announced prefixes of a received UPDATE that share a next hop (one-element list, read-only). */
interface ImportGroup {
  nlri: readonly Prefix[];
  nextHops: IPAddress[];
}

/** A received UPDATE as onUpdate uses it (shared by every receiver: read-only). */
interface ReceivedUpdate {
  fourOctetAs: boolean;
  /** The path attributes without the per-UPDATE ones (NEXT_HOP, MP_REACH/UNREACH), 4-octet AS form, frozen. */
  attrs: PathAttributes;
  /** Their intern key. */
  key: string;
  /** IPv4 NLRI with NEXT_HOP, MP_REACH unicast NLRI with its first next hop. */
  groups: readonly ImportGroup[];
}

/**
 * Decoded UPDATEs are shared by every receiver of the same octets (see session.ts decodeShared), so
 * what onUpdate derives from one is kept with it: the attribute copy, its key and the next-hop lists
 * are made once per UPDATE, not once per receiver (in a mesh, a node's UPDATE reaches its peers
 * interleaved with everyone else's).
 */
const receivedUpdates = new WeakMap<UpdateMessage, ReceivedUpdate>();
function receivedUpdate(u: UpdateMessage, fourOctetAs: boolean): ReceivedUpdate {
  const known = receivedUpdates.get(u);
  if (known !== undefined && known.fourOctetAs === fourOctetAs) return known;
  // A rest copy, not `delete`: deleting properties turns an object into a slow dictionary (~0.4 KB).
  const { mpReach: _r, mpUnreach: _u, nextHop: _h, ...rest } = u.attrs;
  const attrs = Object.freeze(fourOctetAs ? rest : fromOldSpeaker(rest));
  const groups: ImportGroup[] = [];
  if (u.nlri.length && u.attrs.nextHop) groups.push({ nlri: u.nlri, nextHops: [u.attrs.nextHop] });
  const mp = u.attrs.mpReach;
  if (mp && mp.safi === Safi.UNICAST && mp.nlri.length) groups.push({ nlri: mp.nlri, nextHops: mp.nextHops.slice(0, 1) });
  const r: ReceivedUpdate = { fourOctetAs, attrs, key: attrsKey(attrs), groups };
  receivedUpdates.set(u, r);
  return r;
}

/** Whether the negotiated families include this AFI. */
function hasAfi(families: readonly AddressFamily[], afi: number): boolean {
  for (let i = 0; i < families.length; i++) if (families[i]!.afi === afi) return true;
  return false;
}
/** An iBGP peer that is not a route-reflector client: it may only ever be sent wide entries. */
const isNarrow = (st: PeerState): boolean => st.kind === "ibgp" && !st.rrClient;
const pathList = (e: LocEntry): readonly Path[] => (e.paths === undefined ? [] : Array.isArray(e.paths) ? e.paths : [e.paths]);

/** Prefixes exportTo sends with the same outgoing attributes and next hops. */
interface ExportGroup {
  attrs: PathAttributes;
  nextHops: IPAddress[];
  family: 4 | 6;
  /**
   * The entries (their Prefix objects are made only when the UPDATEs are encoded: see bytesCache)
   * and their keys: one alone (a mesh session start sends one prefix), a list from the second on.
   */
  entries: LocEntry | LocEntry[];
  keys: Key | Key[];
}

/** A peer's received paths by attributes, once it sent a second set in a session (see sharedPath). */
interface SharedPaths {
  map: Map<PathAttributes, Path[]>;
  count: number;
}

/**
 * What only some peers need: graceful-restart helper state (made the first time the peer restarts)
 * and the index of received paths (from the second attribute set of a session).
 */
interface PeerExtra {
  helping: boolean;
  /** Paths of this peer kept stale (counted by route). */
  stale: number;
  staleTimer: unknown;
  paths: SharedPaths | undefined;
}

const F_OPENED_ONCE = 1;
const F_EOR_PENDING = 2;
/** End-of-RIB received in this session: IPv4 (F_EOR_4), IPv6 (F_EOR_4 << 1). */
const F_EOR_4 = 4;
const F_EOR_6 = 8;
/** An eBGP peer (else iBGP). */
const F_EBGP = 16;

/**
 * A configured peer. It is also the PathSource of the paths received from it (the object identifies
 * them) and its Session's config (read through to the PeerConfig and the speaker's shared part): a
 * full mesh has a million of these, so there is no separate source or config object, and what few
 * peers need (graceful restart, a second received attribute set, a second prefix in the Adj-RIB-Out)
 * lives in side objects made when needed.
 */
class PeerState implements PathSource, SessionConfig {
  readonly address: string;
  /** The peer's BGP identifier, set when a session comes up (in place: its paths share this object). */
  bgpId = 0;
  readonly config: PeerConfig;
  private readonly base: SessionBase;
  /** Set right after construction (the Session takes this object as its config). */
  session!: Session;
  /** Prefixes in this peer's Adj-RIB-In (before policy), and of those, accepted ones. */
  received = 0;
  accepted = 0;
  /** F_EBGP, F_OPENED_ONCE (we sent the R bit already: a restarting speaker sends it only in its first OPEN), F_EOR_*. */
  flags: number;
  /**
   * Paths received in this session, to share them across UPDATEs (see sharedPath): the first one
   * alone (a mesh peer sends one), then by attributes + next hop once a second one comes.
   */
  path1: Path | undefined = undefined;
  private extra: PeerExtra | undefined = undefined;
  /**
   * Adj-RIB-Out: the signature of what the peer was sent, per prefix. A mesh peer is sent one IPv4
   * prefix: it is kept here (the Loc-RIB entry, whose address and length never change, gives its key)
   * until a second one comes, then every prefix goes to the map.
   */
  private out1: LocEntry | undefined = undefined;
  private outSig: string | undefined = undefined;
  private adjOut: PrefixMap<string> | undefined = undefined;

  constructor(config: PeerConfig, address: string, ibgp: boolean, base: SessionBase) {
    this.flags = ibgp ? 0 : F_EBGP;
    this.address = address;
    this.config = config;
    this.base = base;
  }

  // SessionConfig: ours from the speaker's shared part, the peer's from its PeerConfig.
  get localAs(): number {
    return this.base.localAs;
  }
  /** Our BGP identifier (SessionConfig's); the peer's is bgpId. */
  get routerId(): number {
    return this.base.routerId;
  }
  get capabilities(): (s: Session) => Capability[] {
    return this.base.capabilities;
  }
  get peerAddress(): string {
    return this.address;
  }
  get peerPort(): number | undefined {
    return this.config.port;
  }
  get localAddress(): string | undefined {
    return this.config.localAddress;
  }
  get passive(): boolean | undefined {
    return this.config.passive;
  }
  get holdTime(): number | undefined {
    return this.config.holdTime;
  }
  get minHoldTime(): number | undefined {
    return this.config.minHoldTime;
  }
  get connectRetryTime(): number | undefined {
    return this.config.connectRetryTime;
  }
  get connectDelay(): number | undefined {
    return this.config.connectDelay;
  }
  get errorWaitTime(): number | undefined {
    return this.config.errorWaitTime;
  }

  // PathSource (bgpId is a field).
  /** Read only by the decision's last tie-break: looked up, not kept per peer. */
  get addressValue(): bigint {
    return peerAddressValue(this.address);
  }
  get kind(): "ibgp" | "ebgp" {
    return this.flags & F_EBGP ? "ebgp" : "ibgp";
  }
  get peerAs(): number {
    return this.config.asNumber;
  }
  get rrClient(): boolean {
    return !!this.config.routeReflectorClient;
  }

  // The rare parts, read through to the side object (made when first set to something).
  get helping(): boolean {
    return this.extra !== undefined && this.extra.helping;
  }
  set helping(v: boolean) {
    if (v || this.extra !== undefined) this.more().helping = v;
  }
  get stale(): number {
    return this.extra === undefined ? 0 : this.extra.stale;
  }
  set stale(v: number) {
    if (v !== 0 || this.extra !== undefined) this.more().stale = v;
  }
  get staleTimer(): unknown {
    return this.extra?.staleTimer;
  }
  set staleTimer(v: unknown) {
    if (v !== undefined || this.extra !== undefined) this.more().staleTimer = v;
  }
  get paths(): SharedPaths | undefined {
    return this.extra?.paths;
  }
  set paths(v: SharedPaths | undefined) {
    if (v !== undefined || this.extra !== undefined) this.more().paths = v;
  }
  private more(): PeerExtra {
    return (this.extra ??= { helping: false, stale: 0, staleTimer: undefined, paths: undefined });
  }

  get outSize(): number {
    return this.out1 !== undefined ? 1 : (this.adjOut?.size ?? 0);
  }
  outGet(k: Key): string | undefined {
    if (this.out1 !== undefined) return k === entryKey(this.out1) ? this.outSig : undefined;
    return this.adjOut?.get(k);
  }
  /** `k` is entryKey(e). */
  outSet(e: LocEntry, k: Key, sig: string): void {
    if (this.adjOut === undefined) {
      if (typeof k === "number") {
        // (IPv4 only: an IPv6 entry's key is a text, made per call.)
        if (this.out1 === undefined || k === entryKey(this.out1)) {
          this.out1 = e;
          this.outSig = sig;
          return;
        }
      }
      this.adjOut = new PrefixMap();
      if (this.out1 !== undefined) {
        this.adjOut.set(entryKey(this.out1), this.outSig!);
        this.out1 = undefined;
        this.outSig = undefined;
      }
    }
    this.adjOut.set(k, sig);
  }
  outDelete(k: Key): void {
    if (this.out1 !== undefined) {
      if (k !== entryKey(this.out1)) return;
      this.out1 = undefined;
      this.outSig = undefined;
    } else this.adjOut?.delete(k);
  }
  outClear(): void {
    this.out1 = undefined;
    this.outSig = undefined;
    this.adjOut = undefined;
  }
}

interface ExportOut {
  attrs: PathAttributes;
  nextHops: IPAddress[];
  /** Signature for Adj-RIB-Out comparison, when computed once for many prefixes. */
  sig?: string;
}
/**
 * Outgoing forms already computed, by the best path's attributes object. Shared by every peer in one
 * flush, so besides the path it is keyed by what depends on the peer: eBGP or not, reflecting or not,
 * and the next-hop-self address when one is used (interned, so peers with the same one share).
 */
type ExportCache = WeakMap<
  PathAttributes,
  { nextHops: IPAddress[]; source: PathSource; bgpId: number; family: 4 | 6; ebgp: boolean; reflecting: boolean; usesSelf: boolean; self: IPAddress | undefined; out: ExportOut | null }[]
>;
/** Encoded UPDATEs by what they carry (signature, 4-octet AS, prefixes): the same bytes for every peer that gets them. */
/**
 * By signature (or "w4"/"w6"), then by 4-octet AS (index 1) or not (0), then by the prefix key alone
 * for a single prefix (no key text made per lookup), else by the keys joined with commas.
 */
type BytesCache = Map<string, [Map<Key, Uint8Array[]> | undefined, Map<Key, Uint8Array[]> | undefined]>;
/** Encoded UPDATE groups remembered before the cache starts over. */
const BYTES_CACHE_MAX = 4096;
/** Distinct received attribute sets remembered per session before the memory starts over. */
const SHARED_PATHS_MAX = 4096;
/** Distinct received attribute sets interned per speaker before the table starts over. */
const ATTR_SETS_MAX = 4096;
/** Groups of up to this many prefixes have their UPDATEs shared across peers. */
const SHARED_GROUP_MAX = 64;

const bigintSafe = (_k: string, v: unknown): unknown => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v);

/** Encoded End-of-RIB markers by family (read-only bytes shared by every session). */
const eorBytes = new Map<number, Uint8Array>();
function endOfRibBytes(afi: number, safi: number, fourOctetAs: boolean): Uint8Array {
  // AFI (16 bits), SAFI (8 bits) and the option in one number: no key text per session.
  const k = (afi * 256 + safi) * 2 + (fourOctetAs ? 1 : 0);
  let b = eorBytes.get(k);
  if (b === undefined) {
    b = encodeMessage(endOfRib(afi, safi), { fourOctetAs });
    eorBytes.set(k, b);
  }
  return b;
}

/** IPv6 keys hold no comma, so a joined list never equals a single key. */
const bytesKey = (keys: Key | Key[]): Key => (!Array.isArray(keys) ? keys : keys.length === 1 ? keys[0]! : keys.join(","));
const keyCount = (keys: Key | Key[]): number => (Array.isArray(keys) ? keys.length : 1);

/** Whether `p` is the path these would make (attributes interned: compared by identity). */
const samePath = (p: Path, attrs: PathAttributes, nextHops: IPAddress[], rejected: boolean): boolean => {
  if (p.attrs !== attrs || !!p.rejected !== rejected) return false;
  const a = p.nextHops[0];
  const b = nextHops[0];
  return a === b || (a !== undefined && b !== undefined && a.family === b.family && a.value === b.value);
};
const newPath = (attrs: PathAttributes, nextHops: IPAddress[], source: PathSource, rejected: boolean): Path =>
  rejected ? { attrs, nextHops, source, rejected: true } : { attrs, nextHops, source };

export class Speaker {
  readonly asNumber: number;
  readonly routerId: number;
  readonly clusterId: number;
  private readonly config: SpeakerConfig;
  private readonly clock: Clock;
  private readonly transport: Transport;
  private readonly sink: RouteSink | undefined;
  private readonly peerStates = new Map<string, PeerState>();
  private allChangesCache: PeerState[] | undefined;
  private readonly loc = new PrefixMap<LocEntry>();
  /**
   * The entries marked wide, once some peer needs them (an iBGP non-client: it can only ever be sent
   * those), so its session start does not walk the whole table. Undefined until then.
   */
  private wideEntries: Set<LocEntry> | undefined;
  private readonly local = new Map<Key, Path>();
  private readonly sigs = new Map<string, string>();
  /** Received attribute sets by content (see internAttrs). */
  private readonly attrSets = new Map<string, PathAttributes>();
  /** Entries changed since the last flush: the first alone (a mesh peer's UPDATE changes one), the rest in a list. */
  private dirty1: LocEntry | undefined = undefined;
  private dirty: LocEntry[] | undefined = undefined;
  /**
   * dirty1's prefix as the UPDATE that changed it carried it (decoded once, shared by every receiver),
   * for the RouteSink: the entries keep no Prefix and would make one (+ a bigint) per route installed.
   */
  private dirtyPrefix1: Prefix | undefined = undefined;
  private listener: Listener | undefined;
  private running = false;
  private deferring: boolean;
  /** RFC 4724 §4.1: best-path selection is deferred (see gracefulRestart.selectionDeferral). */
  private deferSelection: boolean;
  private deferralTimer: unknown;
  private readonly decision: DecisionOptions;
  /** What peers removed since start had counted (so counters() never goes down). */
  private readonly removedCounters: PeerCounters = newPeerCounters();

  constructor(config: SpeakerConfig, ports: SpeakerPorts) {
    if (!Number.isInteger(config.asNumber) || config.asNumber < 1 || config.asNumber > 0xffffffff) throw new RangeError(`AS number ${config.asNumber} out of range`);
    this.config = { ...config };
    this.sessionEvents = {
      established: (s) => this.onEstablished(peerOf(s)),
      message: (s, m) => this.onMessage(peerOf(s), m),
      down: (s, info) => this.onDown(peerOf(s), info),
      // Without a log sink the sessions build no log lines at all.
      ...(config.log ? { log: (s: Session, e: string) => this.log(`peer ${s.config.peerAddress}: ${e}`) } : {}),
      logStates: config.logStates !== false,
      stateChange: (s, from, to) => this.config.onPeerState?.(s.config.peerAddress, from, to),
    };
    this.asNumber = config.asNumber;
    this.routerId = typeof config.routerId === "string" ? parseRouterId(config.routerId) : config.routerId;
    this.sessionBase.localAs = this.asNumber;
    this.sessionBase.routerId = this.routerId;
    if (!this.routerId) throw new RangeError("router ID must not be 0");
    this.clusterId = config.clusterId === undefined ? this.routerId : typeof config.clusterId === "string" ? parseRouterId(config.clusterId) : config.clusterId;
    this.clock = ports.clock;
    this.transport = ports.transport;
    this.sink = ports.sink;
    this.deferring = config.deferEndOfRib ?? (config.gracefulRestart ? !!config.gracefulRestart.restarting : false);
    const gr = config.gracefulRestart;
    this.deferSelection = !!gr && !!gr.restarting && (gr.selectionDeferral ?? 0) > 0;
    this.decision = { localAs: this.asNumber, ...(config.igpCost ? { igpCost: config.igpCost } : {}) };
    for (const p of config.peers ?? []) this.addPeer(p);
  }

  private log(event: string): void {
    this.config.log?.(event);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.deferSelection && this.deferralTimer === undefined) {
      const gr = this.config.gracefulRestart || undefined;
      this.deferralTimer = this.clock.setTimer((gr?.selectionDeferral ?? 0) * 1000, () => {
        this.deferralTimer = undefined;
        this.endDeferral("the selection deferral timer ran out");
      });
    }
    if (this.config.listen) {
      this.listener = this.transport.listen(this.config.listen.address, this.config.listen.port ?? 179, (conn) => {
        const st = this.peerStates.get(canonical(conn.remoteAddress));
        if (!st) {
          this.log(`connection from unknown peer ${conn.remoteAddress} closed`);
          conn.close();
          return;
        }
        st.session.accept(conn);
      });
    }
    for (const st of this.peerStates.values()) st.session.start();
  }

  /** Stops every session with Cease/2 and stops listening. */
  stop(): void {
    this.running = false;
    if (this.deferralTimer !== undefined) this.clock.clearTimer(this.deferralTimer);
    this.deferralTimer = undefined;
    this.listener?.close();
    this.listener = undefined;
    for (const st of this.peerStates.values()) st.session.stop();
  }

  addPeer(config: PeerConfig): void {
    const address = canonical(config.address);
    if (this.peerStates.has(address)) throw new RangeError(`peer ${address} already configured`);
    // The PeerState is the Session's config (read through to the PeerConfig): a full mesh has a Session per peer pair.
    const st = new PeerState(config, address, config.asNumber === this.asNumber, this.sessionBase);
    st.session = new Session(st, this.clock, this.transport, this.sessionEvents);
    st.session.owner = st;
    this.peerStates.set(address, st);
    this.allChangesCache = undefined;
    if (this.running) st.session.start();
  }

  /** Removes a peer: Cease/3 (Peer De-configured), its routes withdrawn at once. */
  removePeer(address: string): void {
    const st = this.peerStates.get(canonical(address));
    if (!st) return;
    st.session.stop({ code: ErrorCode.CEASE, subcode: CeaseSubcode.PEER_DECONFIGURED }, "peer removed");
    this.clearStaleTimer(st);
    this.removePeerPaths(st, () => true);
    addCounters(this.removedCounters.sent, st.session.counters.sent);
    addCounters(this.removedCounters.received, st.session.counters.received);
    this.peerStates.delete(canonical(address));
    this.allChangesCache = undefined;
    this.flush();
    this.checkDeferral(); // one peer fewer to wait for
  }

  /**
   * Replaces the speaker-wide export policy (e.g. a new Calico block set) and re-evaluates what every
   * Established peer has been sent.
   */
  setExportPolicy(policy: ExportPolicy | undefined): void {
    if (policy) this.config.exportPolicy = policy;
    else delete this.config.exportPolicy;
    for (const st of this.peerStates.values()) if (st.session.state === "Established") this.exportTo(st, this.exportable(st));
  }

  /**
   * Replaces the speaker-wide import policy and asks every Established peer that supports route
   * refresh to send its routes again (RFC 2918), so the new policy applies to all of them.
   */
  setImportPolicy(policy: ImportPolicy | undefined): void {
    if (policy) this.config.importPolicy = policy;
    else delete this.config.importPolicy;
    for (const st of this.peerStates.values()) this.refresh(st.address);
  }

  /** Sends ROUTE-REFRESH for each negotiated family; false when the peer is down or cannot refresh. */
  refresh(address: string): boolean {
    const st = this.peerStates.get(canonical(address));
    const n = st?.session.negotiated;
    if (!st || !n || !n.routeRefresh) return false;
    for (const f of n.families) st.session.send(encodeMessage({ type: MessageType.ROUTE_REFRESH, afi: f.afi, safi: f.safi, subtype: RouteRefreshSubtype.NORMAL }));
    return true;
  }

  /** The Session of a peer, for tests and diagnostics. */
  session(address: string): Session | undefined {
    return this.peerStates.get(canonical(address))?.session;
  }

  private families(st: PeerState, fallback: 4 | 6): (4 | 6)[] {
    return st.config.families ?? [fallback];
  }

  private readonly sessionCapabilities = (s: Session): Capability[] => this.capabilitiesFor(peerOf(s));
  /** What every session's config takes from the speaker, shared by all of them. */
  private readonly sessionBase: SessionBase = { localAs: 0, routerId: 0, capabilities: this.sessionCapabilities };

  private readonly sessionEvents: SessionEvents;

  /** Capability lists by content, shared by the peers that advertise the same (every peer of a mesh). */
  private readonly capLists = new Map<string, Capability[]>();

  /** The lists for peers without their own families or graceful restart, by [IPv6][restarting]. */
  private readonly defaultCaps: (Capability[] | undefined)[] = [undefined, undefined, undefined, undefined];

  private capabilitiesFor(st: PeerState): Capability[] {
    const family = st.address.includes(":") ? 6 : 4;
    const speaker = this.config.gracefulRestart || undefined;
    const restarting = !!speaker?.restarting && !(st.flags & F_OPENED_ONCE);
    // Asked for every OPEN sent and received: the usual peer needs no key text.
    const plain = st.config.families === undefined && st.config.gracefulRestart === undefined;
    const slot = (family === 6 ? 2 : 0) + (restarting ? 1 : 0);
    if (plain && this.defaultCaps[slot] !== undefined) return this.defaultCaps[slot];
    const gr = this.gracefulRestartFor(st);
    const k = `${this.families(st, family).join(",")}|${gr ? `${gr.restartTime}|${restarting}|${!!speaker?.forwarding}` : "-"}`;
    let caps = this.capLists.get(k);
    if (!caps) {
      caps = this.buildCapabilities(st, family, gr, restarting);
      this.capLists.set(k, caps);
    }
    if (plain) this.defaultCaps[slot] = caps;
    return caps;
  }

  private buildCapabilities(st: PeerState, family: 4 | 6, gr: { restartTime: number } | undefined, restarting: boolean): Capability[] {
    const caps: Capability[] = this.families(st, family).map((f) => ({ kind: "multiprotocol", afi: familyAfi(f), safi: Safi.UNICAST }));
    caps.push({ kind: "route-refresh" }, { kind: "four-octet-as", asn: this.asNumber });
    if (gr) {
      const speaker = this.config.gracefulRestart || undefined;
      caps.push({
        kind: "graceful-restart",
        restarting,
        notification: false,
        restartTime: Math.min(4095, gr.restartTime),
        families: this.families(st, family).map((f) => ({ afi: familyAfi(f), safi: Safi.UNICAST, forwarding: !!speaker?.forwarding })),
      });
    }
    return caps;
  }

  private gracefulRestartFor(st: PeerState): { restartTime: number } | undefined {
    if (st.config.gracefulRestart === false || this.config.gracefulRestart === false) return undefined;
    return st.config.gracefulRestart ?? this.config.gracefulRestart ?? { restartTime: 120 };
  }

  // ---------------------------------------------------------------------------------------------
  // Origination

  /** Originates a prefix from this speaker (optionally with a local blackhole in the RouteSink). */
  originate(prefix: Prefix | string, opts: { attrs?: PathAttributes; blackhole?: boolean } = {}): void {
    const p = typeof prefix === "string" ? parsePrefix(prefix) : prefix;
    const k = key(p);
    const path: Path = {
      prefix: p,
      attrs: { origin: 0, asPath: [], ...(opts.attrs ?? {}) },
      nextHops: [],
      source: { kind: "local", address: "", addressValue: 0n, peerAs: this.asNumber, bgpId: this.routerId, rrClient: false },
      stale: false,
      ...(opts.blackhole ? { blackhole: true } : {}),
    };
    const old = this.local.get(k);
    if (old) this.removePathObject(k, old);
    this.local.set(k, path);
    this.addPath(k, path);
    this.flush();
  }

  withdraw(prefix: Prefix | string): void {
    const p = typeof prefix === "string" ? parsePrefix(prefix) : prefix;
    const k = key(p);
    const old = this.local.get(k);
    if (!old) return;
    this.local.delete(k);
    this.removePathObject(k, old);
    this.flush();
  }

  /** Makes the originated set exactly `routes` (changes only what differs). */
  setOriginated(routes: readonly { prefix: Prefix | string; blackhole?: boolean; attrs?: PathAttributes }[]): void {
    const want = new Map<Key, { prefix: Prefix; blackhole: boolean; attrs: PathAttributes }>();
    for (const r of routes) {
      const p = typeof r.prefix === "string" ? parsePrefix(r.prefix) : r.prefix;
      want.set(key(p), { prefix: p, blackhole: !!r.blackhole, attrs: r.attrs ?? {} });
    }
    for (const [k, old] of [...this.local]) {
      if (!want.has(k)) {
        this.local.delete(k);
        this.removePathObject(k, old);
      }
    }
    for (const [k, w] of want) {
      const old = this.local.get(k);
      const attrs = { origin: 0, asPath: [], ...w.attrs };
      if (old && !!old.blackhole === w.blackhole && JSON.stringify(old.attrs, bigintSafe) === JSON.stringify(attrs, bigintSafe)) continue;
      if (old) this.removePathObject(k, old);
      const path: Path = {
        prefix: w.prefix,
        attrs,
        nextHops: [],
        source: { kind: "local", address: "", addressValue: 0n, peerAs: this.asNumber, bgpId: this.routerId, rrClient: false },
        stale: false,
        ...(w.blackhole ? { blackhole: true } : {}),
      };
      this.local.set(k, path);
      this.addPath(k, path);
    }
    this.flush();
  }

  // ---------------------------------------------------------------------------------------------
  // Loc-RIB

  private entry(k: Key, prefix: Prefix): LocEntry {
    let e = this.loc.get(k);
    if (!e) {
      e = newEntry(prefix, undefined);
      this.loc.set(k, e);
    }
    return e;
  }

  /** `prefix`: the entry's prefix as received, if at hand (see dirtyPrefix1). */
  private markDirty(e: LocEntry, prefix?: Prefix): void {
    if (e.m & M_DIRTY) return;
    e.m |= M_DIRTY;
    if (this.dirty1 === undefined) {
      this.dirty1 = e;
      this.dirtyPrefix1 = prefix;
    } else if (this.dirty === undefined) this.dirty = [e];
    else this.dirty.push(e);
  }

  private addPath(k: Key, path: Path): void {
    const e = this.entry(k, path.prefix!);
    const ps = e.paths;
    e.paths = ps === undefined ? path : Array.isArray(ps) ? [...ps, path] : [ps, path];
    this.markDirty(e);
  }

  private removePathObject(k: Key, path: Path): void {
    const e = this.loc.get(k);
    if (!e) return;
    this.removeAt(e, (p) => p === path);
    this.markDirty(e);
  }

  /** Drops the paths that match from the entry (keeping a lone survivor out of an array); how many. */
  private removeAt(e: LocEntry, match: (p: Path) => boolean, each?: (p: Path) => void): number {
    const ps = e.paths;
    if (ps === undefined) return 0;
    if (!Array.isArray(ps)) {
      if (!match(ps)) return 0;
      each?.(ps);
      e.paths = undefined;
      return 1;
    }
    let removed = 0;
    const keep: Path[] = [];
    for (const p of ps) {
      if (match(p)) {
        each?.(p);
        removed++;
      } else keep.push(p);
    }
    if (removed) e.paths = keep.length === 0 ? undefined : keep.length === 1 ? keep[0] : keep;
    return removed;
  }

  private count(st: PeerState, p: Path, delta: 1 | -1): void {
    st.received += delta;
    if (!p.rejected) st.accepted += delta;
    if (p.stale) st.stale += delta;
  }

  /** Puts (or replaces) this peer's path for the prefix. */
  private setPeerPath(st: PeerState, k: Key, prefix: Prefix, path: Path): void {
    let e = this.loc.get(k);
    if (!e) {
      e = newEntry(prefix, path);
      this.loc.set(k, e);
      this.count(st, path, 1);
      this.markDirty(e, prefix);
      return;
    }
    const ps = e.paths;
    if (ps === undefined) e.paths = path;
    else if (!Array.isArray(ps)) {
      if (ps.source === st) {
        this.count(st, ps, -1);
        e.paths = path;
      } else e.paths = [ps, path];
    } else {
      const i = ps.findIndex((p) => p.source === st);
      if (i >= 0) {
        this.count(st, ps[i]!, -1);
        ps[i] = path;
      } else ps.push(path);
    }
    this.count(st, path, 1);
    this.markDirty(e, prefix);
  }

  /** Removes this peer's path for the prefix, if any. */
  private withdrawFrom(st: PeerState, p: Prefix): void {
    const e = this.loc.get(key(p));
    if (!e) return;
    if (this.removeAt(e, (x) => x.source === st, (x) => this.count(st, x, -1))) this.markDirty(e, p);
  }

  /** Removes every path of this peer that matches (a full table walk, as on a session loss). */
  private removePeerPaths(st: PeerState, match: (p: Path, e: LocEntry) => boolean): void {
    if (st.received === 0) return;
    for (const e of this.loc.values()) {
      if (this.removeAt(e, (p) => p.source === st && match(p, e), (p) => this.count(st, p, -1))) this.markDirty(e);
    }
  }

  private forPeerPaths(st: PeerState, fn: (p: Path) => void): void {
    if (st.received === 0) return;
    for (const e of this.loc.values()) {
      const ps = e.paths;
      if (ps === undefined) continue;
      if (!Array.isArray(ps)) {
        if (ps.source === st) fn(ps);
      } else for (const p of ps) if (p.source === st) fn(p);
    }
  }

  /** Recomputes best paths of changed prefixes, updates the RouteSink and every peer's Adj-RIB-Out. */
  private flush(): void {
    const first = this.dirty1;
    if (first === undefined || this.deferSelection) return;
    const rest = this.dirty;
    // (Not a decoded prefix carrying a path ID: the sink gets exactly what entryPrefix makes.)
    const firstPrefix = this.dirtyPrefix1 !== undefined && (this.dirtyPrefix1 as NlriPrefix).pathId === undefined ? this.dirtyPrefix1 : undefined;
    this.dirty1 = undefined;
    this.dirty = undefined;
    this.dirtyPrefix1 = undefined;
    // Lists made only when used, at their size: this runs once per UPDATE received.
    let add: RouteEntry[] | undefined;
    let remove: Prefix[] | undefined;
    // Every change, for the peers that may need any (none in a full mesh).
    const changed: LocEntry[] | undefined = this.allChangesPeers().length > 0 ? [] : undefined;
    let wide: LocEntry[] | undefined;
    const sink = this.sink;
    for (let i = -1, n = rest === undefined ? 0 : rest.length; i < n; i++) {
      const e = i < 0 ? first : rest![i]!;
      e.m &= ~M_DIRTY;
      const ps = e.paths;
      const best = ps === undefined ? undefined : Array.isArray(ps) ? bestPath(ps, this.decision) : ps.rejected ? undefined : ps;
      const had = installedFor(e.best);
      e.best = best;
      if (best && !(e.m & M_WIDE) && (best.source.kind !== "ibgp" || best.source.rrClient)) {
        e.m |= M_WIDE;
        this.wideEntries?.add(e);
      }
      changed?.push(e);
      if (e.m & M_WIDE) (wide ??= []).push(e);
      // Forwarding entry.
      const want = installedFor(best);
      if (sink && !sameInstalled(want, had)) {
        const p = i < 0 && firstPrefix !== undefined ? firstPrefix : entryPrefix(e);
        if (want === NOT_INSTALLED) {
          if (remove === undefined) remove = [p];
          else remove.push(p);
        } else {
          const r: RouteEntry =
            want === BLACKHOLE
              ? { prefix: p, kind: "blackhole", nextHops: [] }
              : // Received next hops are one-element arrays shared by the paths of an UPDATE.
                { prefix: p, kind: "unicast", nextHops: best!.nextHops.length === 1 ? best!.nextHops : [want] };
          if (add === undefined) add = [r];
          else add.push(r);
        }
      }
      if (ps === undefined) {
        const k = entryKey(e);
        if (this.loc.get(k) === e) {
          this.loc.delete(k);
          this.wideEntries?.delete(e);
        }
      }
    }
    if (sink && (add || remove)) sink.apply({ add: add ?? [], remove: remove ?? [] });
    // In a full mesh every change is a route from an iBGP non-client: checking it against every other
    // peer (all split-horizon rejections) would cost N per change and N³ for the mesh. Such peers only
    // see the "wide" entries; clients and eBGP peers see every change.
    // Two loops, not one over either iterable: for-of over two kinds of iterable allocates per step.
    if (wide) {
      for (const st of this.peerStates.values()) {
        // A peer that is not narrow is one of allChangesPeers(), so `changed` was made.
        if (st.session.state === "Established") this.exportTo(st, isNarrow(st) ? wide : changed!);
      }
    } else {
      for (const st of this.allChangesPeers()) if (st.session.state === "Established") this.exportTo(st, changed!);
    }
  }

  /** What a peer may be sent: only wide entries for an iBGP non-client, else the whole table. */
  private exportable(st: PeerState): Iterable<LocEntry> {
    if (!isNarrow(st)) return this.loc.values();
    if (!this.wideEntries) {
      this.wideEntries = new Set();
      for (const e of this.loc.values()) if (e.m & M_WIDE) this.wideEntries.add(e);
    }
    return this.wideEntries;
  }
  /** eBGP peers and route-reflector clients: the peers that may need any change (cached per peer set). */
  private allChangesPeers(): PeerState[] {
    if (this.allChangesCache === undefined) this.allChangesCache = [...this.peerStates.values()].filter((st) => st.kind !== "ibgp" || st.rrClient);
    return this.allChangesCache;
  }

  // ---------------------------------------------------------------------------------------------
  // Export

  /**
   * The export work shared by all peers and kept between flushes (see ExportCache, BytesCache): in a
   * mesh every session start sends the same local routes, to every peer alike. Both are keyed by
   * everything the result depends on (the path objects, compared by identity, are never modified;
   * the source's router ID, which is, is part of the key), so nothing in them goes stale.
   */
  private readonly exportCache: ExportCache = new WeakMap();
  private readonly bytesCache: BytesCache = new Map();
  private bytesCount = 0;
  private intern(sig: string): string {
    let s = this.sigs.get(sig);
    if (s === undefined) {
      s = sig;
      this.sigs.set(sig, s);
    }
    return s;
  }

  private policyFor(st: PeerState, kind: "import" | "export"): ImportPolicy | undefined {
    return kind === "import" ? (st.config.importPolicy ?? this.config.importPolicy) : (st.config.exportPolicy ?? this.config.exportPolicy);
  }

  /** The last verdict of a peer-independent export policy, and what it was asked about. */
  private readonly lastVerdict: { policy?: ExportPolicy; entry?: LocEntry; best?: Path; input?: PathAttributes; result: PolicyResult } = { result: false };

  /** The attributes and next hops `best` goes out to `st` with, or null when it must not. */
  private exportAttrs(e: LocEntry, best: Path, st: PeerState, n: Negotiated, cache?: ExportCache): ExportOut | null {
    const src = best.source;
    if (src.kind !== "local" && src.address === st.address) return null;
    const family = entryFamily(e);
    if (!hasUnicast(n.families, familyAfi(family))) return null;
    const comms = best.attrs.communities ?? NO_COMMUNITIES;
    const ebgp = st.kind === "ebgp";
    if (comms.includes(WellKnownCommunity.NO_ADVERTISE)) return null;
    if (ebgp && (comms.includes(WellKnownCommunity.NO_EXPORT) || comms.includes(WellKnownCommunity.NO_EXPORT_SUBCONFED))) return null;
    // iBGP split horizon, relaxed by route reflection (RFC 4456 §6).
    const reflecting = src.kind === "ibgp" && !ebgp;
    if (reflecting && !src.rrClient && !st.rrClient) return null;
    if (reflecting && (best.attrs.originatorId ?? src.bgpId) === n.peerRouterId) return null;
    const policy: ExportPolicy | undefined = st.config.exportPolicy ?? this.config.exportPolicy;
    if (ebgp && !policy) return null; // RFC 8212
    let attrs: PathAttributes = best.attrs;
    let custom = false;
    if (policy) {
      // RFC 4271 §5.1.4: a MED received from another AS is not passed on to an eBGP peer, so the
      // policy sees the route without it and may set its own.
      const input = ebgp && src.kind !== "local" && attrs.med !== undefined ? this.withoutMed(attrs) : attrs;
      const m = this.lastVerdict;
      let r: PolicyResult;
      if (policy.peerIndependent && m.policy === policy && m.entry === e && m.best === best && m.input === input) r = m.result;
      else {
        r = policy({ prefix: entryPrefix(e), attrs: input, nextHops: best.nextHops, source: src, blackhole: !!best.blackhole }, st.config);
        if (policy.peerIndependent) {
          m.policy = policy;
          m.entry = e;
          m.best = best;
          m.input = input;
          m.result = r;
        }
      }
      if (r === false) return null;
      if (r !== true) {
        attrs = r;
        custom = true;
      }
    }
    const usesSelf = ebgp || src.kind === "local" || !!st.config.nextHopSelf || best.nextHops.length === 0;
    const self = usesSelf ? this.selfFor(st, n, family) : undefined;
    // Paths of one UPDATE share attributes and next hops, and reflected routes go out alike to every
    // client, so their outgoing form is computed once (see exportCache).
    if (!custom && cache) {
      // A loop, not find() with a closure: this runs for every route to every peer.
      const list = cache.get(attrs);
      if (list !== undefined) {
        for (const c of list) {
          if (c.nextHops === best.nextHops && c.source === src && c.bgpId === src.bgpId && c.family === family && c.ebgp === ebgp && c.reflecting === reflecting && c.usesSelf === usesSelf && c.self === self) return c.out;
        }
      }
    }
    const out = this.transformOut(best, attrs, self, st, reflecting, ebgp, custom);
    if (out && !custom && cache) {
      out.sig = this.intern(JSON.stringify([out.attrs, out.nextHops], bigintSafe));
      const list = cache.get(best.attrs) ?? [];
      list.push({ nextHops: best.nextHops, source: src, bgpId: src.bgpId, family, ebgp, reflecting, usesSelf, self, out });
      cache.set(best.attrs, list);
    }
    return out;
  }

  /** The attributes without their MED, one copy per attributes object (an UPDATE's paths share it). */
  private readonly medless = new WeakMap<PathAttributes, PathAttributes>();
  private withoutMed(attrs: PathAttributes): PathAttributes {
    let out = this.medless.get(attrs);
    if (out === undefined) {
      out = { ...attrs };
      delete out.med;
      this.medless.set(attrs, out);
    }
    return out;
  }

  /** `fromPolicy`: the attributes are an export policy's, whose MED (if any) is its own to send. */
  private transformOut(best: Path, from: PathAttributes, self: IPAddress | undefined, st: PeerState, reflecting: boolean, ebgp: boolean, fromPolicy: boolean): ExportOut | null {
    const src = best.source;
    const attrs: PathAttributes = { ...from };
    delete attrs.mpReach;
    delete attrs.mpUnreach;
    let nextHops = best.nextHops;
    if (ebgp) {
      const path = (attrs.asPath ?? []).map((s) => ({ type: s.type, asns: [...s.asns] }));
      const first = path[0];
      if (first && first.type === 2 && first.asns.length < 255) first.asns.unshift(this.asNumber);
      else path.unshift({ type: 2, asns: [this.asNumber] });
      attrs.asPath = path;
      delete attrs.localPref;
      delete attrs.originatorId;
      delete attrs.clusterList;
      // RFC 4271 §5.1.4: a MED learned from one AS is not passed on to another.
      if (src.kind !== "local" && !fromPolicy) delete attrs.med;
      if (!self) return null;
      nextHops = [self];
    } else {
      attrs.localPref = attrs.localPref ?? DEFAULT_LOCAL_PREF;
      if (reflecting) {
        attrs.originatorId = best.attrs.originatorId ?? src.bgpId;
        attrs.clusterList = [this.clusterId, ...(best.attrs.clusterList ?? [])];
      }
      if (src.kind === "local" || st.config.nextHopSelf || nextHops.length === 0) {
        if (!self) return null;
        nextHops = [self];
      }
    }
    return { attrs, nextHops };
  }

  private readonly selfAddresses = new Map<string, IPAddress>();

  /**
   * The last answer of selfAddress and what it was asked: it depends only on the peer's configured
   * local address, the session's and the family, and a node uses the same ones towards every peer.
   */
  private readonly selfMemo: { config: string | undefined; session: string; family: 4 | 6; self: IPAddress | undefined } = { config: undefined, session: "", family: 4, self: undefined };

  /** Our address towards `st` in `family` (interned by value: see parsedLocal). */
  private selfFor(st: PeerState, n: Negotiated, family: 4 | 6): IPAddress | undefined {
    const m = this.selfMemo;
    const config = st.config.localAddress;
    const session = n.localAddress;
    if (m.config === config && m.session === session && m.family === family) return m.self;
    const self = this.selfAddress(st, n, family);
    m.config = config;
    m.session = session;
    m.family = family;
    m.self = self;
    return self;
  }

  private selfAddress(st: PeerState, n: Negotiated, family: 4 | 6): IPAddress | undefined {
    const a = this.parsedLocal(st.config.localAddress);
    if (a !== null && a.family === family) return a;
    const b = this.parsedLocal(n.localAddress);
    return b !== null && b.family === family ? b : undefined;
  }

  /** Our local address texts parsed (null: none, or not an address); a node uses one or two for all peers. */
  private readonly localAddresses = new Map<string, IPAddress | null>();
  private parsedLocal(text: string | undefined): IPAddress | null {
    if (!text) return null;
    let ip = this.localAddresses.get(text);
    if (ip === undefined) {
      try {
        const parsed = unmapped(text);
        // Interned by value: another text for the same address (e.g. IPv4-mapped) gives the same object.
        const k = `${parsed.family}|${parsed.value}`;
        ip = this.selfAddresses.get(k) ?? (this.selfAddresses.set(k, parsed), parsed);
      } catch {
        ip = null; // not an address: ignore
      }
      if (this.localAddresses.size >= 1024) this.localAddresses.clear();
      this.localAddresses.set(text, ip);
    }
    return ip;
  }

  /** Sends `st` what changed for the given prefixes (announce, replace or withdraw). */
  private exportTo(st: PeerState, entries: Iterable<LocEntry>): void {
    const n = st.session.negotiated;
    if (!n) return;
    // By outgoing signature; most exports have one group, kept outside a Map until a second one comes.
    let sig0 = "";
    let g0: ExportGroup | undefined;
    let groups: Map<string, ExportGroup> | undefined;
    // Made on the first withdrawal only (most exports have none).
    let withdraw: { 4: Prefix[]; 6: Prefix[] } | undefined;
    let withdrawKeys: { 4: Key[]; 6: Key[] } | undefined;
    const cache = this.exportCache;
    for (const e of entries) {
      const out = e.best ? this.exportAttrs(e, e.best, st, n, cache) : null;
      if (!out && st.outSize === 0) continue;
      const k = entryKey(e);
      const prev = st.outGet(k);
      if (!out) {
        if (prev !== undefined) {
          st.outDelete(k);
          withdraw ??= { 4: [], 6: [] };
          withdrawKeys ??= { 4: [], 6: [] };
          withdraw[entryFamily(e)].push(entryPrefix(e));
          withdrawKeys[entryFamily(e)].push(k);
        }
        continue;
      }
      const sig = out.sig ?? this.intern(JSON.stringify([out.attrs, out.nextHops], bigintSafe));
      if (prev === sig) continue;
      st.outSet(e, k, sig);
      let g = sig === sig0 ? g0 : groups?.get(sig);
      if (!g) {
        g = { attrs: out.attrs, nextHops: out.nextHops, family: entryFamily(e), entries: e, keys: k };
        if (g0 === undefined) {
          g0 = g;
          sig0 = sig;
        } else (groups ??= new Map([[sig0, g0]])).set(sig, g);
      } else if (Array.isArray(g.entries)) {
        g.entries.push(e);
        (g.keys as Key[]).push(k);
      } else {
        g.entries = [g.entries, e];
        g.keys = [g.keys as Key, k];
      }
    }
    if (withdraw) for (const f of [4, 6] as const) {
      const w = withdraw[f];
      if (!w?.length) continue;
      const what = f === 4 ? "w4" : "w6";
      const keys = withdrawKeys![f];
      let bytes = this.cachedBytes(what, n.fourOctetAs, keys);
      if (!bytes) {
        bytes = packUpdates({ withdraw: w, ...(f === 6 ? { attrs: { mpReach: { afi: Afi.IPV6, safi: Safi.UNICAST, nextHops: [], nlri: [] } } } : {}) }, { fourOctetAs: n.fourOctetAs });
        this.cacheBytes(what, n.fourOctetAs, keys, bytes);
      }
      this.sendAll(st, bytes, 0, w.length);
    }
    if (groups) for (const [sig, g] of groups) this.sendGroup(st, n, sig, g);
    else if (g0) this.sendGroup(st, n, sig0, g0);
  }

  /** Sends one group of exportTo: prefixes that go out with the same attributes and next hops. */
  private sendGroup(st: PeerState, n: Negotiated, sig: string, g: ExportGroup): void {
    let announced = keyCount(g.keys);
    // The same UPDATEs (e.g. one reflected route to every client) are encoded once (see bytesCache).
    let bytes = this.cachedBytes(sig, n.fourOctetAs, g.keys);
    if (!bytes) {
      let attrs: PathAttributes = { ...g.attrs };
      if (g.family === 4) attrs.nextHop = g.nextHops[0];
      else {
        delete attrs.nextHop;
        attrs.mpReach = { afi: Afi.IPV6, safi: Safi.UNICAST, nextHops: g.nextHops, nlri: [] };
      }
      if (!n.fourOctetAs) attrs = toOldSpeaker(attrs);
      const opts = { fourOctetAs: n.fourOctetAs };
      const prefixes: NlriPrefix[] = Array.isArray(g.entries) ? g.entries.map(entryPrefix) : [entryPrefix(g.entries)];
      try {
        bytes = packUpdates({ attrs, announce: prefixes }, opts);
        this.cacheBytes(sig, n.fourOctetAs, g.keys, bytes);
      } catch (e) {
        // Attributes too big for one message (e.g. a huge path from some peer): this peer gets
        // nothing for these prefixes, and any older version it has is withdrawn.
        this.log(`peer ${st.address}: cannot send ${prefixes.length} prefixes: ${e instanceof Error ? e.message : String(e)}`);
        for (const p of prefixes) st.outDelete(key(p));
        bytes = packUpdates({ withdraw: prefixes }, opts);
        announced = 0;
      }
    }
    this.sendAll(st, bytes, announced, announced === 0 ? keyCount(g.keys) : 0);
  }

  /** Sends encoded UPDATEs; counts the prefixes only when the session took them. */
  private sendAll(st: PeerState, bytes: Uint8Array[], announced: number, withdrawn: number): void {
    let ok = false;
    for (const b of bytes) ok = st.session.send(b) || ok;
    if (!ok) return;
    const sent = st.session.counters.sent;
    sent.prefixesAnnounced += announced;
    sent.prefixesWithdrawn += withdrawn;
  }

  /** The encoded UPDATEs for a signature (or "w4"/"w6" withdrawals), 4-octet AS and prefix keys, if made before. */
  private cachedBytes(what: string, fourOctetAs: boolean, keys: Key | Key[]): Uint8Array[] | undefined {
    if (keyCount(keys) > SHARED_GROUP_MAX) return undefined;
    // By signature first: no key text made of the (long) signature per lookup.
    return this.bytesCache.get(what)?.[fourOctetAs ? 1 : 0]?.get(bytesKey(keys));
  }

  private cacheBytes(what: string, fourOctetAs: boolean, keys: Key | Key[], bytes: Uint8Array[]): void {
    if (keyCount(keys) > SHARED_GROUP_MAX) return;
    if (this.bytesCount >= BYTES_CACHE_MAX) {
      this.bytesCache.clear();
      this.bytesCount = 0;
    }
    let byAs = this.bytesCache.get(what);
    if (byAs === undefined) this.bytesCache.set(what, (byAs = [undefined, undefined]));
    (byAs[fourOctetAs ? 1 : 0] ??= new Map()).set(bytesKey(keys), bytes);
    this.bytesCount++;
  }

  // ---------------------------------------------------------------------------------------------
  // Session events

  private onEstablished(st: PeerState): void {
    const n = st.session.negotiated;
    if (!n) return;
    st.flags |= F_OPENED_ONCE;
    // The peer is the source of all of its paths (it identifies them): updated in place.
    st.bgpId = n.peerRouterId;
    if (st.helping) {
      // RFC 4724 §4.2: families the peer no longer preserves are flushed now; the rest wait for EoR.
      const gr = n.peerGracefulRestart;
      for (const f of [4, 6] as const) {
        const kept = gr?.families.some((x) => x.afi === familyAfi(f) && x.safi === Safi.UNICAST && x.forwarding) && n.families.some((x) => x.afi === familyAfi(f));
        if (!kept) this.purgeStale(st, f);
      }
      // Whatever is still stale waits for End-of-RIB, at most one more restart time.
      if (st.helping) this.armStaleTimer(st, Math.max(1, n.peerGracefulRestart?.restartTime ?? 120));
      this.flush();
    }
    st.outClear();
    st.flags = (st.flags & ~(F_EOR_4 | F_EOR_6)) | F_EOR_PENDING;
    st.path1 = undefined;
    st.paths = undefined;
    if (this.deferSelection) {
      // Nothing selected yet: this peer gets everything, then End-of-RIB, when selection is done.
      this.checkDeferral();
      return;
    }
    this.exportTo(st, this.exportable(st));
    if (!this.deferring) this.sendEndOfRib(st);
  }

  /** Whether best-path selection still waits (RFC 4724 §4.1) after a restart. */
  get selectionDeferred(): boolean {
    return this.deferSelection;
  }

  /** Ends selection deferral once every peer we wait for has sent End-of-RIB. */
  private checkDeferral(): void {
    if (!this.deferSelection) return;
    for (const st of this.peerStates.values()) {
      if (!this.gracefulRestartFor(st)) continue; // no graceful restart with this peer
      const n = st.session.negotiated;
      if (!n) return; // not up (yet): wait, at most for the timer
      const peerGr = n.peerGracefulRestart;
      if (!peerGr || peerGr.restarting) continue; // RFC 4724 §4.1: not waited for
      for (const f of n.families) {
        const fam = f.afi === Afi.IPV4 ? 4 : f.afi === Afi.IPV6 ? 6 : undefined;
        if (fam && !(st.flags & (fam === 4 ? F_EOR_4 : F_EOR_6))) return;
      }
    }
    this.endDeferral("End-of-RIB from every peer");
  }

  private endDeferral(why: string): void {
    if (!this.deferSelection) return;
    this.deferSelection = false;
    if (this.deferralTimer !== undefined) this.clock.clearTimer(this.deferralTimer);
    this.deferralTimer = undefined;
    this.log(`graceful restart: best-path selection after ${why}`);
    // Every entry is dirty since the start: this selects, installs and advertises the whole table.
    this.flush();
    if (!this.deferring) for (const st of this.peerStates.values()) this.sendEndOfRib(st);
  }

  private sendEndOfRib(st: PeerState): void {
    const n = st.session.negotiated;
    if (!n || !(st.flags & F_EOR_PENDING)) return;
    st.flags &= ~F_EOR_PENDING;
    const families = n.families; // frozen (shared): indexed, so no iterator object per session
    for (let i = 0; i < families.length; i++) st.session.send(endOfRibBytes(families[i]!.afi, families[i]!.safi, n.fourOctetAs));
  }

  /** The originated set is complete: send the End-of-RIB held back by deferEndOfRib. */
  ready(): void {
    this.deferring = false;
    if (this.deferSelection) return; // End-of-RIB follows the selection
    for (const st of this.peerStates.values()) this.sendEndOfRib(st);
  }

  private onDown(st: PeerState, info: DownInfo): void {
    if (info.from !== "Established") return;
    st.outClear();
    // The old session's Paths may go stale: new UPDATEs get new ones.
    st.path1 = undefined;
    st.paths = undefined;
    const gr = this.gracefulRestartFor(st) && info.graceful ? st.session.lastPeerRestartTime : 0;
    if (gr && gr > 0) {
      st.helping = true;
      // Received paths are shared by the prefixes of an UPDATE, so count routes, not path objects:
      // every path of this peer is stale now.
      this.forPeerPaths(st, (p) => {
        p.stale = true;
      });
      st.stale = st.received;
      this.log(`peer ${st.address}: graceful restart, keeping ${st.accepted} routes for ${gr} s`);
      this.armStaleTimer(st, gr);
      return;
    }
    this.clearStaleTimer(st);
    st.helping = false;
    this.removePeerPaths(st, () => true);
    this.flush();
  }

  private armStaleTimer(st: PeerState, seconds: number): void {
    this.clearStaleTimer(st);
    st.staleTimer = this.clock.setTimer(seconds * 1000, () => {
      st.staleTimer = undefined;
      this.log(`peer ${st.address}: restart timer expired, purging stale routes`);
      this.purgeStale(st, 4);
      this.purgeStale(st, 6);
      st.helping = false;
      this.flush();
    });
  }

  private clearStaleTimer(st: PeerState): void {
    if (st.staleTimer !== undefined) this.clock.clearTimer(st.staleTimer);
    st.staleTimer = undefined;
  }

  private purgeStale(st: PeerState, family: 4 | 6): void {
    if (st.stale > 0) this.removePeerPaths(st, (p, e) => !!p.stale && entryFamily(e) === family);
    if (st.stale === 0) {
      st.helping = false;
      this.clearStaleTimer(st);
    }
  }

  private onMessage(st: PeerState, m: UpdateMessage | RouteRefreshMessage): void {
    if (m.type === MessageType.ROUTE_REFRESH) {
      // While selection is deferred the peer has been sent nothing; it gets everything after it.
      if (m.subtype !== RouteRefreshSubtype.NORMAL || this.deferSelection) return;
      const fam = m.afi === Afi.IPV4 ? 4 : m.afi === Afi.IPV6 ? 6 : undefined;
      const n = st.session.negotiated;
      if (!fam || !n) return;
      const entries = [...this.exportable(st)].filter((e) => entryFamily(e) === fam);
      for (const e of entries) st.outDelete(entryKey(e));
      this.exportTo(st, entries);
      st.session.send(encodeMessage(endOfRib(m.afi, m.safi), { fourOctetAs: n.fourOctetAs }));
      return;
    }
    this.onUpdate(st, m);
    this.flush();
  }

  private onUpdate(st: PeerState, u: UpdateMessage): void {
    const n = st.session.negotiated;
    if (!n) return;
    const eor = endOfRibFamily(u);
    if (eor) {
      if (eor.safi === Safi.UNICAST && (eor.afi === Afi.IPV4 || eor.afi === Afi.IPV6)) {
        const fam = eor.afi === Afi.IPV4 ? 4 : 6;
        if (st.helping) this.purgeStale(st, fam);
        st.flags |= fam === 4 ? F_EOR_4 : F_EOR_6;
        this.checkDeferral();
      }
      return;
    }
    const action = updateErrorAction(u);
    if (action === "treat-as-withdraw") {
      for (const issue of u.issues ?? []) this.log(`peer ${st.address}: treat-as-withdraw: ${issue.detail}`);
      for (const p of allPrefixes(u)) this.withdrawFrom(st, p);
      return;
    }
    // Indexed loops: every UPDATE received by every peer comes through here (no iterator per list).
    const withdrawn = u.withdrawn;
    for (let i = 0; i < withdrawn.length; i++) this.withdrawFrom(st, withdrawn[i]!);
    const unreach = u.attrs.mpUnreach;
    if (unreach) for (let i = 0; i < unreach.withdrawn.length; i++) this.withdrawFrom(st, unreach.withdrawn[i]!);
    const received = receivedUpdate(u, n.fourOctetAs);
    const groups = received.groups;
    if (groups.length === 0) return;
    let attrs = received.attrs;
    let attrsKey: string | undefined = received.key;
    const reject = this.rejectReason(st, attrs);
    if (st.kind === "ebgp" && attrs.localPref !== undefined) {
      const { localPref: _l, ...noPref } = attrs; // RFC 7606 §7.5: LOCAL_PREF from eBGP is discarded
      attrs = noPref;
      attrsKey = undefined;
    }
    attrs = this.internAttrs(attrs, attrsKey);
    const policy = this.policyFor(st, "import");
    const limit = st.config.maxPrefixes;
    const refuse = !!reject || (st.kind === "ebgp" && !policy); // loops; RFC 8212
    let total = 0;
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi]!;
      const family = g.nlri[0]!.family;
      if (!hasAfi(n.families, familyAfi(family))) continue;
      // One Path for all the prefixes of the UPDATE (and one for those refused): its attributes, next
      // hop and source are the same for each — and for other UPDATEs of this peer's session with the
      // same ones (a reflector sends one prefix per UPDATE). No `stale` field until graceful restart.
      let accepted: Path | undefined;
      let refused: Path | undefined;
      for (let pi = 0; pi < g.nlri.length; pi++) {
        const prefix = g.nlri[pi]!;
        let path: Path;
        if (refuse) path = refused ??= this.sharedPath(st, attrs, g.nextHops, true);
        else {
          const r = policy ? policy({ prefix, attrs, nextHops: g.nextHops, source: st, blackhole: false }, st.config) : true;
          if (r === true) path = accepted ??= this.sharedPath(st, attrs, g.nextHops, false);
          else if (r === false) path = refused ??= this.sharedPath(st, attrs, g.nextHops, true);
          else path = { attrs: r, nextHops: g.nextHops, source: st };
        }
        this.setPeerPath(st, key(prefix), prefix, path);
        if (limit !== undefined && st.received > limit) {
          this.log(`peer ${st.address}: ${st.received} prefixes exceed the limit ${limit}`);
          const data = new Uint8Array(7);
          new DataView(data.buffer).setUint16(0, familyAfi(family));
          data[2] = Safi.UNICAST;
          new DataView(data.buffer).setUint32(3, limit);
          st.session.stop({ code: ErrorCode.CEASE, subcode: CeaseSubcode.MAX_PREFIXES_REACHED, data }, `maximum prefixes ${limit} exceeded`);
          return;
        }
      }
      total += g.nlri.length;
    }
    if (reject) this.log(`peer ${st.address}: ${total} prefixes rejected: ${reject}`);
  }

  /**
   * The Path for these attributes and next hop from this peer: the same object as for an earlier
   * UPDATE of the session with equal ones. Forgotten when the session goes up or down (graceful
   * restart marks the old objects stale), and when the peer has sent too many distinct sets.
   */
  private sharedPath(st: PeerState, attrs: PathAttributes, nextHops: IPAddress[], rejected: boolean): Path {
    const first = st.path1;
    if (first === undefined) {
      // The session's first set: no index yet (a mesh peer never sends a second one).
      const path = newPath(attrs, nextHops, st, rejected);
      st.path1 = path;
      return path;
    }
    if (samePath(first, attrs, nextHops, rejected)) return first;
    if (st.paths === undefined || st.paths.count >= SHARED_PATHS_MAX) st.paths = { map: new Map([[first.attrs, [first]]]), count: 1 };
    // Attributes are interned by the speaker (internAttrs), so the object identifies the set.
    let list = st.paths.map.get(attrs);
    if (list === undefined) st.paths.map.set(attrs, (list = []));
    for (const p of list) if (samePath(p, attrs, nextHops, rejected)) return p;
    const path = newPath(attrs, nextHops, st, rejected);
    list.push(path);
    st.paths.count++;
    return path;
  }

  /**
   * The one attributes object per distinct received set (frozen: paths of many peers share it; a
   * mesh node gets the same set from every peer). Starts over past ATTR_SETS_MAX distinct sets.
   */
  private internAttrs(attrs: PathAttributes, key?: string): PathAttributes {
    const k = key ?? attrsKey(attrs);
    const known = this.attrSets.get(k);
    if (known !== undefined) return known;
    if (this.attrSets.size >= ATTR_SETS_MAX) this.attrSets.clear();
    Object.freeze(attrs);
    this.attrSets.set(k, attrs);
    return attrs;
  }

  /** Loop and sanity checks that make received paths unusable (treated as withdrawn). */
  private rejectReason(st: PeerState, attrs: PathAttributes): string | undefined {
    if (st.kind === "ebgp") {
      const first = attrs.asPath?.[0];
      if (!first || first.type !== 2 || first.asns[0] !== st.peerAs) return "first AS of the path is not the peer's";
      if (asPathAsns(attrs.asPath ?? []).includes(this.asNumber)) return "AS path loop";
    } else {
      if (attrs.originatorId === this.routerId) return "ORIGINATOR_ID is our router ID";
      if (attrs.clusterList?.includes(this.clusterId)) return "CLUSTER_LIST contains our cluster ID";
    }
    return undefined;
  }


  // ---------------------------------------------------------------------------------------------
  // Show

  peers(): PeerStatus[] {
    const now = this.clock.now();
    return [...this.peerStates.values()].map((st) => {
      const s = st.session;
      const last = s.lastError;
      const err = last.reason ?? null;
      return {
        address: st.address,
        asNumber: st.config.asNumber,
        state: s.state,
        uptime: s.establishedAt === undefined ? 0 : Math.floor((now - s.establishedAt) / 1000),
        prefixesReceived: st.received,
        prefixesAccepted: st.accepted,
        prefixesSent: st.outSize,
        routerId: s.negotiated ? formatRouterId(s.negotiated.peerRouterId) : null,
        lastError: err,
        gracefulRestart: st.helping ? "helping" : "none",
        counters: copyCounters(s.counters),
      };
    });
  }

  /** BGP messages, octets and prefixes over all peers, removed ones included, since the speaker was made. */
  counters(): PeerCounters {
    const total = copyCounters(this.removedCounters);
    for (const st of this.peerStates.values()) {
      addCounters(total.sent, st.session.counters.sent);
      addCounters(total.received, st.session.counters.received);
    }
    return total;
  }

  /** Every path in the Loc-RIB, best first per prefix, prefixes in address order. */
  routes(): RouteStatus[] {
    const entries = [...this.loc.values()]
      .map((e) => ({ e, prefix: entryPrefix(e) }))
      .sort((a, b) => a.prefix.family - b.prefix.family || (a.prefix.addr < b.prefix.addr ? -1 : a.prefix.addr > b.prefix.addr ? 1 : a.prefix.len - b.prefix.len));
    const out: RouteStatus[] = [];
    for (const { e, prefix } of entries) {
      const usable = pathList(e).filter((p) => !p.rejected);
      const paths = e.best ? [e.best, ...usable.filter((p) => p !== e.best)] : usable;
      for (const p of paths) {
        const hop = p.nextHops[0];
        out.push({
          prefix: formatPrefix(prefix),
          nextHop: hop ? formatIP(hop.family, hop.value) : "",
          asPath: formatAsPath(p.attrs.asPath ?? []),
          best: p === e.best,
          peer: p.source.kind === "local" ? "local" : p.source.address,
          communities: (p.attrs.communities ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`),
          originatorId: p.attrs.originatorId === undefined ? null : formatRouterId(p.attrs.originatorId),
          clusterList: (p.attrs.clusterList ?? []).map(formatRouterId),
          localPref: p.attrs.localPref ?? null,
          med: p.attrs.med ?? null,
          origin: p.attrs.origin === 1 ? "egp" : p.attrs.origin === 2 ? "incomplete" : "igp",
          stale: !!p.stale,
        });
      }
    }
    return out;
  }

  /** The best path per prefix (prefix text → path), for assertions. */
  bestRoutes(): Map<string, RouteStatus> {
    const m = new Map<string, RouteStatus>();
    for (const r of this.routes()) if (r.best) m.set(r.prefix, r);
    return m;
  }
}

/**
 * An address as parsed, with IPv4-mapped IPv6 (::ffff:a.b.c.d, what a dual-stack socket listening
 * on "::" reports for IPv4 peers) turned back into IPv4.
 */
function unmapped(address: string): IPAddress {
  const v = dottedQuad(address);
  if (v !== undefined) return { family: 4, value: BigInt(v) };
  const ip = parseIP(address.replace(/%.*$/, ""));
  if (ip.family === 6 && ip.value >> 32n === 0xffffn) return { family: 4, value: ip.value & 0xffffffffn };
  return ip;
}

interface SessionBase {
  localAs: number;
  routerId: number;
  capabilities: (s: Session) => Capability[];
}

/**
 * A peer address's value, one bigint per address text for all speakers of the process (a simulated
 * mesh configures each address on every other node: N² bigints otherwise).
 */
const addressValues = new Map<string, bigint>();
function peerAddressValue(address: string): bigint {
  let v = addressValues.get(address);
  if (v === undefined) {
    v = parseIP(address).value;
    if (addressValues.size >= 65536) addressValues.clear();
    addressValues.set(address, v);
  }
  return v;
}

function canonical(address: string): string {
  if (dottedQuad(address) !== undefined) return address; // already canonical
  const ip = unmapped(address);
  return formatIP(ip.family, ip.value);
}
