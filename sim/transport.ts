// Simulated TCP for the BGP Transport port (src/core/bgp/ports.ts): the real encoded BGP bytes travel
// between hosts of the simulated topology in SimEngine virtual time, over the paths the underlay
// (sim/net's SimNetwork) computes, with its latency, loss, MTU and link failures.
//
// The model, kept deliberately small so a 1,000-node full mesh (499,500 sessions) fits in memory:
// - Handshake: SYN along the path; RST when nobody listens ("connection refused"); SYN retries after
//   1, 2, 4, 8, 16, 32 s and "connect timeout" 64 s later (Linux tcp_syn_retries = 6).
// - Data: bytes sent in the same tick by one side are one *flight* (one delivery event per connection
//   direction), cut into MSS-sized segments (MTU - 40/60). A congestion window (10 segments initially,
//   slow start, halved on loss) limits what is in flight, so a big UPDATE burst takes several RTTs.
// - ACKs need no events: the arrival of a flight records when its cumulative ACK reaches the sender,
//   and the sender applies it the next time it looks (or wakes then if it is window-blocked).
// - Loss (per segment, rng stream "tcp-loss") or a path that is down loses segments; the receiver keeps
//   only in-order bytes (go-back-N, no SACK) and the sender retransmits after the RTO (srtt + max(4 ×
//   rttvar, 200 ms), doubling up to 120 s). After 15 RTOs without progress the connection fails with
//   { error: "timeout" } (Linux tcp_retries2 = 15); BGP's hold timer usually decides much earlier.
// - crashHost() is kill -9: with reset the peers get an RST, without it their ends stay half-open until
//   they send and time out, or reach the revived host, which answers with an RST.
// - Deterministic: no wall clock, no Math.random; the same seed and inputs replay the same events.
import type { CloseReason, ConnectOptions, Connection, ConnectionReceiver, Listener, Transport } from "../src/core/bgp/ports.ts";
import type { MessageCounters } from "../src/core/bgp/counters.ts";
import type { EventType, SimEngine, SimEvent } from "./engine.ts";
import type { RandomStream } from "./random.ts";

export interface UnderlayLink {
  element: string;
  segment: string;
}

export type UnderlayPath =
  | {
      ok: true;
      /** One-way latency of the whole path in ms. */
      latencyMs: number;
      /** Probability that one packet is lost somewhere on the path (0..1). */
      loss?: number;
      /** Attachments crossed, in order (where captures are taken). */
      links: UnderlayLink[];
      /** Path MTU (default 1500): the MSS is this minus 40 (IPv4) or 60 (IPv6) octets. */
      mtu?: number;
      /** Bottleneck bandwidth: a flight's octets take this long to leave (no sharing between connections). */
      bandwidthMbps?: number;
    }
  | { ok: false; at: string; reason: string };

/** What the transport needs from the simulated network (sim/net's SimNetwork provides it). */
export interface Underlay {
  /** The path a packet of `sizeBytes` from `src` to `dst`, sent by `fromHost`, takes right now. */
  underlayPath(fromHost: string, src: string, dst: string, sizeBytes: number): UnderlayPath;
  /** The host owning an address, if any. */
  hostOf(address: string): string | undefined;
  /** The source address `host` uses towards `dst` when the caller binds none. */
  sourceAddress?(host: string, dst: string): string | undefined;
  /** A number that changes whenever paths may have changed; when present, paths are cached per connection. */
  version?(): number;
}

/** One TCP segment as it crossed one link, for captures (sim/pcap.ts's PcapWriter implements this). */
export interface CapturedTcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TCP flags: FIN 1, SYN 2, RST 4, PSH 8, ACK 16. */
  flags: number;
  window: number;
  /** MSS option (SYN and SYN-ACK only). */
  mss?: number;
  payload?: Uint8Array;
}

export interface TcpCapture {
  /** Called for each segment on each link it crosses; timeMs may be later than now (the link further on). */
  tcp(link: string, timeMs: number, seg: CapturedTcpSegment): void;
}

/**
 * Counted on the wire (what the speakers hand to TCP, "other" also for a stream that stopped framing),
 * in the core's field names so sim and speaker figures compare one to one. Bytes are payload octets.
 */
export type BgpCounters = Pick<MessageCounters, "open" | "update" | "notification" | "keepalive" | "routeRefresh" | "other" | "messages" | "bytes">;

export interface TcpCounters {
  connectAttempts: number;
  /** SYNs sent, retries included. */
  syns: number;
  established: number;
  refused: number;
  connectTimeouts: number;
  /** Connections that failed after tcp_retries2 retransmissions. */
  timeouts: number;
  /** RSTs that ended an established connection. */
  resets: number;
  /** Data flights (delivery events) and the segments in them. */
  flights: number;
  segments: number;
  lostSegments: number;
  retransmissions: number;
  retransmittedBytes: number;
}

export interface TransportStats {
  sent: BgpCounters;
  /** Per sending host, sorted by host name. */
  perHost: Record<string, BgpCounters>;
  tcp: TcpCounters;
  openConnections: number;
}

export interface SimTransportOptions {
  /** Receives every segment on every link (e.g. a PcapWriter). */
  capture?: TcpCapture;
  /** Default path MTU when the underlay gives none (1500). */
  mtu?: number;
  /** Initial congestion window in segments (10, RFC 6928). */
  initialWindow?: number;
  /** RTOs without progress before a connection fails (15, Linux tcp_retries2). */
  maxRetries?: number;
}

const BGP_PORT = 179;
const FIN = 1;
const SYN = 2;
const RST = 4;
const PSH = 8;
const ACK = 16;
const WINDOW = 65535;
const RTO_MIN = 200;
const RTO_MAX = 120_000;
/** The largest window (Linux autotunes the receive buffer up to about 6 MB; half of it is window). */
const MAX_WINDOW = 3 * 1024 * 1024;
/** Delays before each SYN retransmission, then the final wait before giving up (Linux, 6 retries). */
const SYN_BACKOFF = [1000, 2000, 4000, 8000, 16000, 32000, 64000];

// An endpoint's fractional numbers in the network's slab: slot i's at D * i + SRTT ... (see Endpoint.slot).
const D = 4;
const SRTT = 0;
const RTTVAR = 1;
const RTO = 2;
/** When the ACK in Endpoint.pendTo reaches the sender; -1: none pending. */
const PEND_AT = 3;

// Endpoint states.
const SYN_SENT = 0;
const OPEN = 1;
/** The application closed; the FIN (and bytes before it) may still be on their way. */
const CLOSING = 2;
const DEAD = 3;

const newCounters = (): BgpCounters => ({ open: 0, update: 0, notification: 0, keepalive: 0, routeRefresh: 0, other: 0, messages: 0, bytes: 0 });

/**
 * Bytes [start, end) of one direction sent together; fin: the FIN follows `end`. Flights are linked
 * (unacknowledged ones by `next`, those still on the wire by `nextTr`) and recycled once acknowledged,
 * so a steady session allocates nothing per message but the engine's event.
 */
class Flight {
  start = 0;
  end = 0;
  fin = false;
  sentAt = 0;
  /** One-way latency and per-segment loss of the path it took. */
  latency = 0;
  loss = 0;
  links: UnderlayLink[] | undefined = undefined;
  /** When the cumulative ACK for it reaches the sender (Infinity: never; -1: not arrived yet). */
  ackAt = -1;
  ackTo = 0;
  ackFin = false;
  retransmit = false;
  /** Where the first lost segment starts (Infinity: none lost); whether the FIN's segment was lost. */
  okEnd = Infinity;
  finLost = false;
  /** Serialisation: bits per ms of the bottleneck (0: instant), when the first octet leaves. */
  bitsPerMs = 0;
  txStart = 0;
  /** When it reaches the receiver (no flight sent after it arrives earlier). */
  arriveAt = 0;
  /** The arrival event (rescheduled when a bandwidth-limited flight grows). */
  ev: SimEvent | undefined = undefined;
  next: Flight | undefined = undefined;
  nextTr: Flight | undefined = undefined;
}

/** One SYN on its way, then the handshake it started: the argument of its events (no closure each). */
class Syn {
  /** Filled in when the SYN reaches a listener. */
  s: Endpoint | undefined = undefined;
  l: SimListener | undefined = undefined;
  mss = 0;
  constructor(
    readonly e: Endpoint,
    /** The path the SYN took, and when it left. */
    readonly fwd: PathOk,
    readonly sentAt: number,
  ) {}
}

interface SimListener extends Listener {
  host: string;
  onConnection: (c: Connection) => void;
  closed: boolean;
}

interface Extra {
  synEv: SimEvent | undefined;
  synTries: number;
  /** The application's callback while connecting. */
  onConnected: ((c: Connection) => void) | undefined;
  hdr: Uint8Array | undefined;
  hdrHave: number;
  inbox: Uint8Array[] | undefined;
  capAck: number;
  /** Initial sequence number, kept only when segments are captured (nothing else shows it). */
  isn: number;
  /** Why the connection ended, once it has. */
  reason: CloseReason | undefined;
  /** When the bottleneck is free of this direction's earlier flights (bandwidth-limited paths). */
  txFreeAt: number;
  /** RTOs in a row without progress. */
  retries: number;
  /** Slow-start threshold in segments (SSTHRESH_INIT until a loss). */
  ssthresh: number;
  /** sndNxt when the last RTO sent it back (maxSent is the larger of this and sndNxt). */
  rtxEnd: number;
}

interface HostState {
  name: string;
  net: SimTransportNetwork;
  counters: BgpCounters;
  /** The host's connections in the order they opened (a list through the endpoints: no set entry each). */
  connHead: Endpoint | undefined;
  connTail: Endpoint | undefined;
  /** Listeners by port. */
  listeners: Map<number, SimListener[]>;
  nextPort: number;
  /** Crashed: undefined when up; else whether the kernel answers with RSTs. */
  down: { reset: boolean } | undefined;
}

type PathOk = Extract<UnderlayPath, { ok: true }>;

/** Callbacks registered one by one with onData/onClose (a receiver object needs neither). */
class CallbackReceiver implements ConnectionReceiver {
  data: ((b: Uint8Array) => void) | undefined;
  close: ((r: CloseReason) => void) | undefined;
  connData(b: Uint8Array): void {
    this.data?.(b);
  }
  connClosed(r: CloseReason): void {
    this.close?.(r);
  }
}

// Endpoint.bits
const FIN_QUEUED = 1;
const FIN_SENT = 2;
const FIN_ACKED = 4;
const PEND_FIN = 8;
const CRASHED = 16;
const REPORTED = 32;
const FIN_RCVD = 64;
const V6 = 128;
/** In its host's connection list. */
const LISTED = 256;
/** Where the state (SYN_SENT ... DEAD) is. */
const STATE_SHIFT = 9;
const STATE_MASK = 3 << STATE_SHIFT;
/** Slow-start threshold before any loss (a large small integer, not Infinity: it stays unboxed). */
const SSTHRESH_INIT = 1 << 30;

/**
 * One end of a connection. Live for as long as the session: a 1,000-node mesh holds a million,
 * so what only some need (handshake, captures, close reason, bandwidth) is in the side state.
 */
class Endpoint implements Connection {
  localAddress: string;
  localPort = 0;
  peer: Endpoint | undefined;
  mss = 1460;
  // Application side.
  /** One receiver object (Session's Attempt), or callbacks registered one by one (CallbackReceiver). */
  private rcv: ConnectionReceiver | undefined;
  // Send direction. Offsets count stream octets from 0; chunks hold [bufBase, sndEnd): one chunk
  // by itself (the common case: a message sent into an empty buffer, no array for it), or several.
  chunks: Uint8Array | Uint8Array[] | undefined;
  bufBase = 0;
  sndUna = 0;
  sndNxt = 0;
  sndEnd = 0;
  /** Unacknowledged flights, oldest first; flights on the wire (not arrived yet), oldest first. */
  inHead: Flight | undefined;
  inTail: Flight | undefined;
  trHead: Flight | undefined;
  trTail: Flight | undefined;
  /**
   * The ACK of an arrived flight that was the only one outstanding, kept here instead of in the
   * flight (which is recycled at once): an idle session then holds no Flight. Its time is in the
   * slot (PEND_AT, -1: none).
   */
  pendTo = 0;
  /**
   * Where the network keeps this end's fractional numbers (srtt, rttvar, rto, pendAt: see D), from
   * the handshake until it is killed; -1 before and after. As fields they would be a heap number each.
   */
  slot = -1;
  cwnd: number;
  rtoEv: SimEvent | undefined;
  wakeEv: SimEvent | undefined;
  // Receive direction.
  rcvNxt = 0;
  // BGP framer over the outgoing stream: octets left of the current message, a split header.
  private skip = 0;
  // Cached outgoing path (when the underlay has version()).
  path: UnderlayPath | undefined;
  pathVersion = -1;
  /** The packet size the cached path was asked for. */
  pathSize = 0;
  /** Flags and the state (see the accessors below): one small integer instead of ten fields. */
  private bits = 0;
  /** State only some connections need, for a while (handshake, split headers, early data, captures). */
  private x: Extra | undefined;
  /** Neighbours in the host's connection list. */
  prevConn: Endpoint | undefined;
  nextConn: Endpoint | undefined;

  get net(): SimTransportNetwork {
    return this.hs.net;
  }
  /** SYN_SENT, OPEN, CLOSING or DEAD. */
  get state(): number {
    return (this.bits & STATE_MASK) >> STATE_SHIFT;
  }
  set state(v: number) {
    this.bits = (this.bits & ~STATE_MASK) | (v << STATE_SHIFT);
  }
  // What only a connection that lost segments needs is in the side state.
  get retries(): number {
    return this.x?.retries ?? 0;
  }
  set retries(v: number) {
    if (v !== 0 || this.x) this.extra.retries = v;
  }
  get ssthresh(): number {
    return this.x?.ssthresh ?? SSTHRESH_INIT;
  }
  set ssthresh(v: number) {
    this.extra.ssthresh = v;
  }
  /** Highest sndNxt reached: flights starting below it are retransmissions. */
  get maxSent(): number {
    const r = this.x?.rtxEnd ?? 0;
    return r > this.sndNxt ? r : this.sndNxt;
  }
  /** Go back N: sndNxt back to sndUna, remembering how far it had got. */
  goBack(): void {
    this.extra.rtxEnd = this.maxSent;
    this.sndNxt = this.sndUna;
  }
  get family(): 4 | 6 {
    return (this.bits & V6) !== 0 ? 6 : 4;
  }
  get listed(): boolean {
    return (this.bits & LISTED) !== 0;
  }
  set listed(v: boolean) {
    this.bits = v ? this.bits | LISTED : this.bits & ~LISTED;
  }
  get isn(): number {
    return this.x?.isn ?? 0;
  }
  private get reason(): CloseReason | undefined {
    return this.x?.reason;
  }
  private set reason(v: CloseReason | undefined) {
    if (v !== undefined || this.x) this.extra.reason = v;
  }
  get txFreeAt(): number {
    return this.x?.txFreeAt ?? 0;
  }
  set txFreeAt(v: number) {
    if (v !== 0 || this.x) this.extra.txFreeAt = v;
  }

  get finQueued(): boolean {
    return (this.bits & 1) !== 0;
  }
  set finQueued(v: boolean) {
    this.bits = v ? this.bits | 1 : this.bits & ~1;
  }
  get finSent(): boolean {
    return (this.bits & 2) !== 0;
  }
  set finSent(v: boolean) {
    this.bits = v ? this.bits | 2 : this.bits & ~2;
  }
  get finAcked(): boolean {
    return (this.bits & 4) !== 0;
  }
  set finAcked(v: boolean) {
    this.bits = v ? this.bits | 4 : this.bits & ~4;
  }
  get pendFin(): boolean {
    return (this.bits & 8) !== 0;
  }
  set pendFin(v: boolean) {
    this.bits = v ? this.bits | 8 : this.bits & ~8;
  }
  /** Killed by crashHost (not a clean close). */
  get crashed(): boolean {
    return (this.bits & 16) !== 0;
  }
  set crashed(v: boolean) {
    this.bits = v ? this.bits | 16 : this.bits & ~16;
  }
  private get reported(): boolean {
    return (this.bits & 32) !== 0;
  }
  private set reported(v: boolean) {
    this.bits = v ? this.bits | 32 : this.bits & ~32;
  }
  get finRcvd(): boolean {
    return (this.bits & 64) !== 0;
  }
  set finRcvd(v: boolean) {
    this.bits = v ? this.bits | 64 : this.bits & ~64;
  }

  private get extra(): Extra {
    return (this.x ??= { synEv: undefined, synTries: 0, onConnected: undefined, hdr: undefined, hdrHave: 0, inbox: undefined, capAck: -1, isn: -1, reason: undefined, txFreeAt: 0, retries: 0, ssthresh: SSTHRESH_INIT, rtxEnd: 0 });
  }
  /** Drops the side state when nothing in it matters any more. */
  compact(): void {
    const x = this.x;
    if (x && x.synEv === undefined && x.onConnected === undefined && x.hdrHave === 0 && x.inbox === undefined && x.capAck === -1 && x.isn === -1 && x.reason === undefined && x.txFreeAt === 0 && x.retries === 0 && x.ssthresh === SSTHRESH_INIT && x.rtxEnd <= this.sndNxt) {
      this.x = undefined;
    }
  }
  get synEv(): SimEvent | undefined {
    return this.x?.synEv;
  }
  set synEv(v: SimEvent | undefined) {
    if (v !== undefined || this.x) this.extra.synEv = v;
  }
  get onConnected(): ((c: Connection) => void) | undefined {
    return this.x?.onConnected;
  }
  set onConnected(v: ((c: Connection) => void) | undefined) {
    if (v !== undefined || this.x) this.extra.onConnected = v;
  }
  get synTries(): number {
    return this.x?.synTries ?? 0;
  }
  set synTries(v: number) {
    this.extra.synTries = v;
  }
  /** The ACK number of the last segment captured from this side (so no duplicate pure ACKs). */
  get capAck(): number {
    return this.x?.capAck ?? -1;
  }
  set capAck(v: number) {
    this.extra.capAck = v;
  }
  private get hdrHave(): number {
    return this.x?.hdrHave ?? 0;
  }
  private set hdrHave(v: number) {
    if (v !== 0 || this.x) this.extra.hdrHave = v;
  }
  private get inbox(): Uint8Array[] | undefined {
    return this.x?.inbox;
  }
  private set inbox(v: Uint8Array[] | undefined) {
    if (v !== undefined || this.x) this.extra.inbox = v;
  }

  constructor(
    readonly hs: HostState,
    localAddress: string,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    this.localAddress = localAddress;
    if (remoteAddress.includes(":")) this.bits = V6;
    const net = hs.net;
    // Drawn whether or not anything captures, so captures do not change the random streams.
    const isn = net.isnRng.uint32() & 0x3fffffff; // 30 bits: a small integer, no heap box
    if (net.capturing) this.extra.isn = isn;
    this.cwnd = net.initialWindow;
  }

  get host(): string {
    return this.hs.name;
  }


  // ---- Connection

  send(bytes: Uint8Array): void {
    if (this.state >= CLOSING || bytes.length === 0) return;
    this.frame(bytes);
    const c = this.chunks;
    if (c === undefined) this.chunks = bytes;
    else if (c instanceof Uint8Array) this.chunks = [c, bytes];
    else c.push(bytes);
    this.sndEnd += bytes.length;
    if (this.state === OPEN) this.net.pump(this);
  }

  close(): void {
    if (this.state >= CLOSING) return;
    if (this.state === SYN_SENT) {
      this.net.kill(this);
    } else {
      this.state = CLOSING;
      this.finQueued = true;
      this.net.pump(this);
    }
    this.reason = "closed";
    this.net.engine.schedule(0, "tcp-close", () => this.report());
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    const r = this.rcv instanceof CallbackReceiver ? this.rcv : (this.rcv = new CallbackReceiver());
    r.data = cb;
    this.drainInbox(r, cb);
  }

  onClose(cb: (reason: CloseReason) => void): void {
    const r = this.rcv instanceof CallbackReceiver ? this.rcv : (this.rcv = new CallbackReceiver());
    r.close = cb;
    this.closeRegistered();
  }

  receive(r: ConnectionReceiver): void {
    this.rcv = r;
    this.drainInbox(r);
    this.closeRegistered();
  }

  /** Bytes that arrived before a data receiver was registered. */
  private drainInbox(r: ConnectionReceiver, cb?: (b: Uint8Array) => void): void {
    const backlog = this.inbox;
    if (backlog === undefined) return this.compact();
    this.inbox = undefined;
    // Stop if a receiver (or data callback) registered meanwhile took over.
    for (const b of backlog) {
      if (this.rcv !== r || (cb !== undefined && (r as CallbackReceiver).data !== cb) || this.state !== OPEN) break;
      r.connData(b);
    }
    this.compact();
  }

  private closeRegistered(): void {
    if (this.reason !== undefined && !this.reported) this.net.engine.schedule(0, "tcp-close", () => this.report());
  }

  // ---- inside the network

  deliver(bytes: Uint8Array): void {
    const r = this.rcv;
    if (r !== undefined && (!(r instanceof CallbackReceiver) || r.data !== undefined)) r.connData(bytes);
    else (this.inbox ??= []).push(bytes);
  }

  /** Ends the connection for the application with `reason` (now: we are inside an event). */
  fail(reason: CloseReason): void {
    if (this.state === DEAD) return;
    const appOpen = this.state !== CLOSING;
    this.net.kill(this);
    if (appOpen) {
      this.reason = reason;
      this.report();
    }
  }

  private report(): void {
    const r = this.rcv;
    if (this.reported || this.reason === undefined || r === undefined) return;
    if (r instanceof CallbackReceiver && r.close === undefined) return;
    this.reported = true;
    r.connClosed(this.reason);
  }

  /** Silences the application callbacks (the process died). */
  silence(): void {
    this.rcv = undefined;
    this.inbox = undefined;
    this.reported = true;
  }

  /** Bytes [from, to) of the send buffer as one array (no copy when one chunk holds them). */
  extract(from: number, to: number): Uint8Array {
    const pieces = this.pieces(from, to);
    if (pieces instanceof Uint8Array) return pieces;
    const out = new Uint8Array(to - from);
    let o = 0;
    for (const p of pieces) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /**
   * Bytes [from, to) of the send buffer without copying: one array when one chunk holds them, else
   * the pieces of each chunk in order (the receiver's framer takes a stream in any pieces).
   */
  pieces(from: number, to: number): Uint8Array | Uint8Array[] {
    const c = this.chunks;
    let base = this.bufBase;
    if (c instanceof Uint8Array && base + c.length > from && to <= base + c.length) {
      // One chunk holds them (as below, without an array around it).
      return from === base && to === base + c.length ? c : c.subarray(from - base, to - base);
    }
    const chunks = c === undefined ? [] : c instanceof Uint8Array ? [c] : c;
    let i = 0;
    for (; i < chunks.length; i++) {
      const c = chunks[i] as Uint8Array;
      if (base + c.length > from) break;
      base += c.length;
    }
    const first = chunks[i];
    if (first !== undefined && to <= base + first.length) return from === base && to === base + first.length ? first : first.subarray(from - base, to - base);
    const out: Uint8Array[] = [];
    for (; i < chunks.length && base < to; i++) {
      const c = chunks[i] as Uint8Array;
      const a = Math.max(from, base) - base;
      const b = Math.min(to, base + c.length) - base;
      if (b > a) out.push(a === 0 && b === c.length ? c : c.subarray(a, b));
      base += c.length;
    }
    return out;
  }

  /** The whole send buffer, emptied: what pieces(bufBase, sndEnd) and then trim(sndEnd) would give and leave. */
  takeAll(): Uint8Array | Uint8Array[] {
    const c = this.chunks as Uint8Array | Uint8Array[];
    this.chunks = undefined;
    this.bufBase = this.sndEnd;
    return c;
  }

  /**
   * Drops the chunks that lie wholly before `upTo` (default: what was acknowledged). An idle
   * connection then holds no buffer at all (not even an empty array).
   */
  trim(upTo = this.sndUna): void {
    const chunks = this.chunks;
    if (!chunks) return;
    if (chunks instanceof Uint8Array) {
      if (this.bufBase + chunks.length <= upTo) {
        this.bufBase += chunks.length;
        this.chunks = undefined;
      }
      return;
    }
    let n = 0;
    while (n < chunks.length && this.bufBase + (chunks[n] as Uint8Array).length <= upTo) {
      this.bufBase += (chunks[n] as Uint8Array).length;
      n++;
    }
    if (n === chunks.length) this.chunks = undefined;
    else if (n > 0) chunks.splice(0, n);
  }

  /** Counts BGP messages by reading headers (marker 16, length 2, type 1) from the outgoing stream. */
  private frame(bytes: Uint8Array): void {
    const c = this.hs.counters;
    const t = this.net.totals;
    c.bytes += bytes.length;
    t.bytes += bytes.length;
    let i = 0;
    const n = bytes.length;
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        this.skip -= take;
        i += take;
        continue;
      }
      let len: number;
      let type: number;
      if (this.hdrHave === 0 && n - i >= 19) {
        len = ((bytes[i + 16] as number) << 8) | (bytes[i + 17] as number);
        type = bytes[i + 18] as number;
      } else {
        const x = this.extra;
        const h = (x.hdr ??= new Uint8Array(19));
        const take = Math.min(19 - this.hdrHave, n - i);
        h.set(bytes.subarray(i, i + take), this.hdrHave);
        this.hdrHave += take;
        i += take;
        if (this.hdrHave < 19) return;
        this.hdrHave = 0;
        this.compact();
        len = ((h[16] as number) << 8) | (h[17] as number);
        type = h[18] as number;
        i -= 19; // the header's octets are counted in the message below
      }
      countType(c, type);
      countType(t, type);
      if (len < 19) {
        this.skip = Infinity; // not BGP framing any more: stop counting messages on this stream
        return;
      }
      this.skip = len;
    }
  }
}

function countType(c: BgpCounters, type: number): void {
  c.messages++;
  switch (type) {
    case 1:
      c.open++;
      break;
    case 2:
      c.update++;
      break;
    case 3:
      c.notification++;
      break;
    case 4:
      c.keepalive++;
      break;
    case 5:
      c.routeRefresh++;
      break;
    default:
      c.other++;
  }
}

export class SimTransportNetwork {
  readonly totals = newCounters();
  readonly tcpCounters: TcpCounters = {
    connectAttempts: 0,
    syns: 0,
    established: 0,
    refused: 0,
    connectTimeouts: 0,
    timeouts: 0,
    resets: 0,
    flights: 0,
    segments: 0,
    lostSegments: 0,
    retransmissions: 0,
    retransmittedBytes: 0,
  };
  readonly isnRng: RandomStream;
  readonly initialWindow: number;
  private readonly lossRng: RandomStream;
  /** Acknowledged flights for reuse. */
  private readonly free: Flight[] = [];
  /**
   * The endpoints' fractional numbers (see D), a slot per established endpoint: as fields, V8 keeps
   * each in a heap number of its own (a million endpoints in a 1,000-node mesh). A slot is given
   * back when its endpoint is killed (nothing reads or writes a dead endpoint's slot) or never opens.
   */
  private d = new Float64Array(D * 1024);
  private slots = 0;
  private readonly freeSlots: number[] = [];
  private readonly hosts = new Map<string, HostState>();
  private readonly capture: TcpCapture | undefined;
  private readonly defaultMtu: number;
  private readonly maxRetries: number;
  private open = 0;
  // Events that are never cancelled, posted without an entry each.
  private readonly arriveEv: EventType<Endpoint>;
  private readonly synArriveEv: EventType<Syn>;
  private readonly synAckEv: EventType<Syn>;
  private readonly acceptEv: EventType<Syn>;

  constructor(
    readonly engine: SimEngine,
    readonly underlay: Underlay,
    options: SimTransportOptions = {},
  ) {
    this.lossRng = engine.rng("tcp-loss");
    this.isnRng = engine.rng("tcp-isn");
    this.capture = options.capture;
    this.defaultMtu = options.mtu ?? 1500;
    this.initialWindow = options.initialWindow ?? 10;
    this.maxRetries = options.maxRetries ?? 15;
    this.arriveEv = engine.eventType("tcp-data", arriveOf);
    this.synArriveEv = engine.eventType("tcp-syn", synArriveOf);
    this.synAckEv = engine.eventType("tcp-syn", synAckOf);
    this.acceptEv = engine.eventType("tcp-accept", acceptOf);
  }

  /**
   * The Transport of `host`. Connections without a localAddress bind `defaultAddress`, else the
   * underlay's sourceAddress(host, dst).
   */
  transport(host: string, defaultAddress?: string): Transport {
    this.hostState(host);
    return {
      connect: (opts, onConnected) => this.connect(host, defaultAddress, opts, onConnected),
      listen: (address, port, onConnection) => this.listen(host, address, port, onConnection),
    };
  }

  /**
   * kill -9 of the host's BGP process: its connections and listeners vanish and its callbacks never
   * fire again. With reset (default) the peers get an RST after the path latency; without, their ends
   * stay half-open, and SYNs to the host go unanswered until reviveHost().
   */
  crashHost(host: string, opts: { reset?: boolean } = {}): void {
    const hs = this.hostState(host);
    const reset = opts.reset !== false;
    hs.down = { reset };
    const conns: Endpoint[] = [];
    for (let c = hs.connHead; c !== undefined; c = c.nextConn) conns.push(c);
    for (const e of conns) {
      e.silence();
      e.crashed = true;
      const peer = e.peer;
      const wasOpen = e.state === OPEN || e.state === CLOSING;
      this.kill(e);
      if (reset && wasOpen && peer && peer.state !== DEAD) this.sendRst(e, peer, e.host, e.localAddress, e.remoteAddress);
    }
    for (const ls of hs.listeners.values()) for (const l of ls) l.closed = true;
    hs.listeners.clear();
  }

  /** The host is back (a new process): it may listen and connect again; old connections stay gone. */
  reviveHost(host: string): void {
    this.hostState(host).down = undefined;
  }

  isDown(host: string): boolean {
    return this.hosts.get(host)?.down !== undefined;
  }

  stats(): TransportStats {
    const perHost: Record<string, BgpCounters> = {};
    for (const h of [...this.hosts.keys()].sort()) perHost[h] = { ...(this.hosts.get(h) as HostState).counters };
    return { sent: { ...this.totals }, perHost, tcp: { ...this.tcpCounters }, openConnections: this.open };
  }

  get connectionCount(): number {
    return this.open;
  }

  // ---- connection setup

  /** Whether segments are captured (endpoints then keep their initial sequence numbers). */
  get capturing(): boolean {
    return this.capture !== undefined;
  }

  /** Appends to its host's connection list. */
  private listConn(e: Endpoint): void {
    const hs = e.hs;
    e.listed = true;
    e.prevConn = hs.connTail;
    e.nextConn = undefined;
    if (hs.connTail) hs.connTail.nextConn = e;
    else hs.connHead = e;
    hs.connTail = e;
  }

  private unlistConn(e: Endpoint): void {
    const hs = e.hs;
    e.listed = false;
    if (e.prevConn) e.prevConn.nextConn = e.nextConn;
    else hs.connHead = e.nextConn;
    if (e.nextConn) e.nextConn.prevConn = e.prevConn;
    else hs.connTail = e.prevConn;
    e.prevConn = e.nextConn = undefined;
  }

  private hostState(host: string): HostState {
    let hs = this.hosts.get(host);
    if (!hs) {
      hs = { name: host, net: this, counters: newCounters(), connHead: undefined, connTail: undefined, listeners: new Map(), nextPort: 32768, down: undefined };
      this.hosts.set(host, hs);
    }
    return hs;
  }

  private connect(host: string, defaultAddress: string | undefined, opts: ConnectOptions, onConnected: (c: Connection) => void): Connection {
    const hs = this.hostState(host);
    const remote = opts.remoteAddress;
    const local = opts.localAddress ?? defaultAddress ?? this.underlay.sourceAddress?.(host, remote) ?? "";
    const e = new Endpoint(hs, local, remote, opts.remotePort || BGP_PORT);
    this.tcpCounters.connectAttempts++;
    if (hs.down) {
      this.engine.schedule(0, "tcp-syn", () => e.fail({ error: `connect ${remote}:${e.remotePort}: host ${host} is down` }));
      return e;
    }
    if (local === "" || this.underlay.hostOf(local) !== host) {
      this.engine.schedule(0, "tcp-syn", () => e.fail({ error: `connect ${remote}:${e.remotePort}: cannot assign requested address${local ? ` ${local}` : ""}` }));
      return e;
    }
    e.localPort = hs.nextPort;
    hs.nextPort = hs.nextPort >= 60999 ? 32768 : hs.nextPort + 1;
    this.listConn(e);
    this.open++;
    e.onConnected = onConnected;
    this.sendSyn(e);
    return e;
  }

  private sendSyn(e: Endpoint): void {
    const delay = SYN_BACKOFF[e.synTries] as number;
    e.synEv = this.engine.scheduleWith(this.at(delay), "tcp-syn-retry", synRetryOf, e);
    this.tcpCounters.syns++;
    const p = this.pathOut(e, e.family === 4 ? 44 : 64);
    if (!p.ok || this.lost(p)) return; // silence: the retry timer above tries again
    const now = this.engine.now();
    this.captureSeg(p, now, e, SYN, e.isn, 0, undefined, this.mssOf(p, e.family));
    this.engine.post(this.at(p.latencyMs), this.synArriveEv, new Syn(e, p, now));
  }

  /** The SYN retransmission timer of a connecting endpoint. */
  synRetry(e: Endpoint): void {
    e.synEv = undefined;
    if (e.state !== SYN_SENT) return;
    e.synTries++;
    if (e.synTries >= SYN_BACKOFF.length) {
      this.tcpCounters.connectTimeouts++;
      e.fail({ error: "connect timeout" });
    } else this.sendSyn(e);
  }

  synArrive(syn: Syn): void {
    const e = syn.e;
    if (e.state !== SYN_SENT) return;
    const dstHost = this.underlay.hostOf(e.remoteAddress);
    if (dstHost === undefined) return;
    const hs = this.hostState(dstHost);
    if (hs.down && !hs.down.reset) return; // nobody answers
    const back = this.underlay.underlayPath(dstHost, e.remoteAddress, e.localAddress, e.family === 4 ? 44 : 64);
    if (!back.ok || this.lost(back)) return;
    const l = hs.down ? undefined : this.findListener(hs, e.remoteAddress, e.remotePort);
    const now = this.engine.now();
    if (!l) {
      this.captureSegFrom(back, now, e.remoteAddress, e.localAddress, e.remotePort, e.localPort, RST | ACK, 0, (e.isn + 1) >>> 0, e.family);
      this.engine.schedule(back.latencyMs, "tcp-rst", () => {
        if (e.state !== SYN_SENT) return;
        this.tcpCounters.refused++;
        e.fail({ error: `connect ${e.remoteAddress}:${e.remotePort}: connection refused` });
      });
      return;
    }
    const s = new Endpoint(hs, e.remoteAddress, e.localAddress, e.localPort);
    s.localPort = e.remotePort;
    const v = this.underlay.version?.();
    if (v !== undefined) {
      s.path = back;
      s.pathVersion = v;
      s.pathSize = e.family === 4 ? 44 : 64;
    }
    const mss = Math.min(this.mssOf(syn.fwd, e.family), this.mssOf(back, e.family));
    this.captureSeg(back, now, s, SYN | ACK, s.isn, (e.isn + 1) >>> 0, undefined, mss);
    // This SYN's record carries the rest of the handshake (each SYN its own: retries may cross).
    syn.s = s;
    syn.l = l;
    syn.mss = mss;
    this.engine.post(this.at(back.latencyMs), this.synAckEv, syn);
  }

  /** The SYN-ACK reaches the connecting side: established there. */
  synAck(syn: Syn): void {
    const e = syn.e;
    if (e.state !== SYN_SENT) return;
    const s = syn.s as Endpoint;
    if (e.synEv) this.engine.cancel(e.synEv);
    e.synEv = undefined;
    const onConnected = e.onConnected as (c: Connection) => void;
    e.onConnected = undefined;
    e.compact();
    const t = this.engine.now();
    e.state = OPEN;
    const mss = syn.mss;
    e.mss = s.mss = mss;
    e.peer = s;
    s.peer = e;
    const rtt = t - syn.sentAt;
    this.openSlot(e, rtt);
    this.openSlot(s, rtt);
    // The handshake's ACK reaches the server one latency later: only then is the connection accepted.
    const p = this.pathOut(e, 40);
    if (p.ok) this.captureSeg(p, t, e, ACK, (e.isn + 1) >>> 0, (s.isn + 1) >>> 0);
    this.engine.post(this.at(p.ok ? p.latencyMs : syn.fwd.latencyMs), this.acceptEv, syn);
    this.tcpCounters.established++;
    onConnected(e);
    this.pump(e);
  }

  /** Gives an endpoint its slot, with the RTT estimate of its handshake. */
  private openSlot(e: Endpoint, rtt: number): void {
    let i = this.freeSlots.pop();
    if (i === undefined) {
      i = this.slots++;
      if (D * this.slots > this.d.length) {
        const d = new Float64Array(2 * this.d.length);
        d.set(this.d);
        this.d = d;
      }
    }
    e.slot = i;
    const d = this.d;
    const k = D * i;
    d[k + SRTT] = rtt;
    d[k + RTTVAR] = rtt / 2;
    d[k + RTO] = rtt + Math.max(RTO_MIN, 2 * rtt);
    d[k + PEND_AT] = -1;
  }

  private closeSlot(e: Endpoint): void {
    if (e.slot === -1) return;
    this.freeSlots.push(e.slot);
    e.slot = -1;
  }

  /** Virtual time `delayMs` from now, as SimEngine.schedule computes it. */
  private at(delayMs: number): number {
    return this.engine.now() + (delayMs > 0 ? delayMs : 0);
  }

  accept(syn: Syn): void {
    const e = syn.e;
    const s = syn.s as Endpoint;
    const l = syn.l as SimListener;
    if (s.hs.down || l.closed) {
      // s never opens (it stays in SYN_SENT, which nothing sends from): its slot goes back now.
      this.closeSlot(s);
      if (e.state !== DEAD) this.sendRst(s, e, s.host, s.localAddress, s.remoteAddress);
      return;
    }
    if (s.state === DEAD) return;
    s.state = OPEN;
    this.listConn(s);
    this.open++;
    l.onConnection(s);
  }

  private listen(host: string, address: string, port: number, onConnection: (c: Connection) => void): Listener {
    const hs = this.hostState(host);
    if (hs.down) throw new Error(`listen ${address}:${port}: host ${host} is down`);
    const p = port || BGP_PORT;
    const wild = address === "0.0.0.0" || address === "::";
    if (!wild && this.underlay.hostOf(address) !== host) throw new Error(`listen ${address}:${p}: cannot assign requested address`);
    const ls = hs.listeners.get(p) ?? [];
    if (ls.some((x) => x.address === address || wild || x.address === "0.0.0.0" || x.address === "::")) {
      throw new Error(`listen ${address}:${p}: address already in use`);
    }
    const l: SimListener = {
      address,
      port: p,
      host,
      onConnection,
      closed: false,
      close: () => {
        if (l.closed) return;
        l.closed = true;
        const now = hs.listeners.get(p)?.filter((x) => x !== l) ?? [];
        if (now.length === 0) hs.listeners.delete(p);
        else hs.listeners.set(p, now);
      },
    };
    ls.push(l);
    hs.listeners.set(p, ls);
    return l;
  }

  /** The listener for a SYN to address:port of the host: bound to the address, else a wildcard one. */
  private findListener(hs: HostState, address: string, port: number): SimListener | undefined {
    const ls = hs.listeners.get(port);
    if (!ls) return undefined;
    for (const l of ls) if (l.address === address) return l;
    const v6 = address.includes(":");
    for (const l of ls) if (l.address === "::" || (!v6 && l.address === "0.0.0.0")) return l;
    return undefined;
  }

  // ---- data

  /** Sends what the window allows: bytes sent in the same tick join the flight already leaving. */
  pump(e: Endpoint): void {
    if (e.state === DEAD || e.state === SYN_SENT || !e.peer) return;
    this.advance(e);
    const now = this.engine.now();
    for (;;) {
      const unsent = e.sndEnd - e.sndNxt;
      const finPending = e.finQueued && !e.finSent;
      if (unsent === 0 && !finPending) return;
      const room = Math.max(0, Math.floor(Math.min(e.cwnd, MAX_WINDOW / e.mss)) * e.mss - (e.sndNxt - e.sndUna));
      if (room === 0 && unsent > 0) {
        this.wakeAtHeadAck(e); // or the next arrival does (see arrive)
        return;
      }
      const n = Math.min(room, unsent);
      const last = e.inTail;
      let f: Flight;
      if (last && last.sentAt === now && last.end === e.sndNxt && !last.fin && last.ackAt === -1 && !last.retransmit) {
        f = last;
        f.end += n;
        if (f.bitsPerMs > 0) {
          // More octets to serialise: the flight arrives later.
          e.txFreeAt += this.txTime(e, n, f.bitsPerMs);
          // f is the last flight put on the wire (see below): nothing after it to wait for.
          const at = Math.max(e.txFreeAt + f.latency, f.arriveAt);
          f.arriveAt = at;
          this.engine.cancel(f.ev);
          f.ev = this.engine.scheduleWith(at, "tcp-data", arriveOf, e);
        }
      } else {
        this.tcpCounters.flights++;
        const size = Math.min(n, e.mss) + (e.family === 4 ? 40 : 60);
        let p = this.pathOut(e, size);
        if (!p.ok && size > 576) p = this.discoverMtu(e, size) ?? p;
        f = this.free.pop() ?? new Flight();
        f.start = e.sndNxt;
        f.end = e.sndNxt + n;
        f.fin = false;
        f.sentAt = now;
        f.latency = p.ok ? p.latencyMs : 0;
        f.loss = p.ok ? (p.loss ?? 0) : 1;
        f.links = p.ok ? p.links : undefined;
        f.ackAt = -1;
        f.ackTo = e.sndUna;
        f.ackFin = false;
        f.retransmit = e.sndNxt < e.maxSent;
        f.okEnd = p.ok ? Infinity : e.sndNxt;
        f.finLost = !p.ok;
        f.next = f.nextTr = undefined;
        f.bitsPerMs = p.ok && p.bandwidthMbps ? p.bandwidthMbps * 1000 : 0;
        f.txStart = now;
        f.ev = undefined;
        if (e.inTail) e.inTail.next = f;
        else e.inHead = f;
        e.inTail = f;
        if (p.ok) {
          let done = now;
          if (f.bitsPerMs > 0) {
            f.txStart = Math.max(now, e.txFreeAt);
            done = e.txFreeAt = f.txStart + this.txTime(e, n, f.bitsPerMs);
          }
          // Not before the flights still on the wire (none: all arrived by now, so none later).
          const tail = e.trTail;
          const arrive = done + p.latencyMs;
          const at = tail !== undefined ? Math.max(arrive, tail.arriveAt) : arrive;
          f.arriveAt = at;
          if (tail) tail.nextTr = f;
          else e.trHead = f;
          e.trTail = f;
          // Only a bandwidth-limited flight's arrival may move (see above): the others need no handle.
          if (f.bitsPerMs > 0) f.ev = this.engine.scheduleWith(at, "tcp-data", arriveOf, e);
          else this.engine.post(at, this.arriveEv, e);
        } else {
          f.ackAt = Infinity;
          this.armRto(e, now + (this.d[D * e.slot + RTO] as number));
        }
      }
      const from = e.sndNxt;
      const maxSent = e.maxSent;
      e.sndNxt += n;
      const fin = e.sndNxt === e.sndEnd && e.finQueued;
      if (fin) {
        f.fin = true;
        e.finSent = true;
      }
      this.emit(e, f, from, e.sndNxt, fin, maxSent);
      if (f.fin || e.sndNxt === e.sndEnd) return;
    }
  }

  /** Applies the ACKs that have reached the sender by now. */
  private advance(e: Endpoint): void {
    let f = e.inHead;
    const now = this.engine.now();
    let popped = false;
    const pendAt = D * e.slot + PEND_AT;
    const pa = this.d[pendAt] as number;
    if (pa !== -1 && pa <= now) {
      // Older than any flight in the list.
      this.acked(e, e.pendTo, e.pendFin);
      this.d[pendAt] = -1;
      popped = true;
    }
    while (f && f.ackAt !== -1 && f.ackAt <= now) {
      popped = true;
      this.acked(e, f.ackTo, f.ackFin);
      const next: Flight | undefined = f.next;
      // Acknowledged means arrived: nothing refers to it any more.
      f.links = undefined;
      f.next = undefined;
      f.ev = undefined;
      if (this.free.length < 4096) this.free.push(f);
      f = next;
    }
    if (popped) {
      e.inHead = f;
      if (!f) e.inTail = undefined;
      e.trim();
    } else if (!f) return;
    if (e.state === CLOSING) {
      if (e.finAcked) this.kill(e);
      else this.wakeAtHeadAck(e);
    }
  }

  /** A cumulative ACK up to `to` (and the FIN when `fin`) reached the sender. */
  private acked(e: Endpoint, to: number, fin: boolean): void {
    if (to > e.sndUna) {
      const segs = Math.ceil((to - e.sndUna) / e.mss);
      e.sndUna = to;
      e.retries = 0;
      e.cwnd = e.cwnd < e.ssthresh ? e.cwnd + segs : e.cwnd + segs / e.cwnd;
    }
    if (fin) e.finAcked = true;
  }

  /** Wakes the sender when the first outstanding ACK arrives (unknown yet: the flight's arrival will). */
  private wakeAtHeadAck(e: Endpoint): void {
    const pa = this.d[D * e.slot + PEND_AT] as number;
    const at = pa !== -1 ? pa : e.inHead?.ackAt;
    if (e.wakeEv === undefined && at !== undefined && at !== -1 && at !== Infinity && at > this.engine.now()) this.wake(e, at);
  }

  private wake(e: Endpoint, at: number): void {
    e.wakeEv = this.engine.scheduleWith(at, "tcp-ack", wakeOf, e);
  }

  /** The flight at the head of e's transit queue reaches the peer. */
  arrive(s: Endpoint): void {
    const f = s.trHead;
    if (!f) return;
    s.trHead = f.nextTr;
    if (!s.trHead) s.trTail = undefined;
    f.nextTr = undefined;
    if (s.state === DEAD) return; // crashed, reset or done: what it still had on the wire is moot
    const r = s.peer;
    if (!r) return;
    const now = this.engine.now();
    // The receiver keeps the in-order prefix before the first lost segment (no SACK).
    const okEnd = Math.min(f.end, f.okEnd);
    const someLost = f.okEnd !== Infinity || f.finLost;
    const finOk = f.fin && !someLost;
    if (r.state === DEAD && r.finAcked && !r.crashed) {
      // Our side closed cleanly earlier (FIN_WAIT/TIME_WAIT): the peer's last bytes and FIN are acknowledged.
      const back = this.pathOut(r, 40);
      if (!back.ok) return;
      f.ackTo = f.end;
      f.ackFin = f.fin;
      f.ackAt = now + back.latencyMs;
      if (this.capture) this.captureSeg(back, now, r, ACK, this.seqOf(r), (s.isn + 1 + f.end + (f.fin ? 1 : 0)) >>> 0);
      return;
    }
    if (r.state === DEAD || r.state === SYN_SENT) {
      // Nobody home: a crashed process whose kernel resets, or a revived host, answers with an RST;
      // a host that is down without reset stays silent and the sender retransmits until it gives up.
      const down = r.hs.down;
      if (r.state === DEAD && (down === undefined || down.reset)) this.sendRst(r, s, r.host, r.localAddress, r.remoteAddress);
      else {
        f.ackAt = Infinity;
        this.armRto(s, f.sentAt + (this.d[D * s.slot + RTO] as number));
      }
      return;
    }
    let delivered: Uint8Array | Uint8Array[] | undefined;
    if (f.start <= r.rcvNxt && okEnd > r.rcvNxt) {
      if (r.state === OPEN) {
        // The whole send buffer, which (without captures) the sender drops at once below: its
        // chunks are handed over as they are (no array of pieces for a flight of several messages).
        delivered = !this.capture && r.rcvNxt === s.bufBase && okEnd === s.sndEnd ? s.takeAll() : s.pieces(r.rcvNxt, okEnd);
      }
      r.rcvNxt = okEnd;
      // What the receiver has will never be delivered again: a retransmission only re-reads it for
      // captures. Without one the sender lets go of it now rather than when the ACK reaches it.
      if (!this.capture) s.trim(r.rcvNxt);
    }
    const finNow = finOk && r.rcvNxt === f.end && !r.finRcvd;
    if (finNow) r.finRcvd = true;
    // The cumulative ACK goes back along the receiver's path.
    const back = this.pathOut(r, 40);
    const lostAck = !back.ok || this.lost(back);
    if (lostAck || someLost) this.armRto(s, f.sentAt + (this.d[D * s.slot + RTO] as number));
    f.ackTo = r.rcvNxt;
    f.ackFin = r.finRcvd;
    if (lostAck) f.ackAt = Infinity;
    else {
      f.ackAt = now + back.latencyMs;
      this.sampleRtt(s, f.ackAt - f.sentAt, f);
      if (s.wakeEv === undefined && (s.sndNxt < s.sndEnd || (s.finQueued && !s.finSent) || s.state === CLOSING)) {
        this.wake(s, f.ackAt);
      }
      const pendAt = D * s.slot + PEND_AT;
      if (!someLost && s.inHead === f && f.next === undefined && this.d[pendAt] === -1) {
        // The common case (one flight, all delivered): keep its ACK on the sender, recycle the flight.
        this.d[pendAt] = f.ackAt;
        s.pendTo = f.ackTo;
        s.pendFin = f.ackFin;
        s.inHead = s.inTail = undefined;
        f.links = undefined;
        f.ev = undefined;
        if (this.free.length < 4096) this.free.push(f);
      }
    }
    if (delivered instanceof Uint8Array) r.deliver(delivered);
    else if (delivered) for (const d of delivered) if (r.state === OPEN) r.deliver(d);
    if (this.capture && !lostAck) {
      // After the delivery, so what the receiver sent in reaction (its own FIN too) comes first.
      // A FIN not answered yet by the application is answered by the kernel (EOF closes BGP).
      const finBack = finNow && r.state === OPEN;
      const ackNo = this.ackOf(r);
      if (finBack || ackNo !== r.capAck) this.captureSeg(back, now, r, finBack ? FIN | ACK : ACK, this.seqOf(r), ackNo);
    }
    if (finNow && r.state === OPEN) r.fail("peer-closed");
  }

  private sampleRtt(e: Endpoint, rtt: number, f: Flight): void {
    if (f.retransmit) return; // Karn: no samples from retransmissions
    const d = this.d;
    const k = D * e.slot;
    const err = rtt - (d[k + SRTT] as number);
    const srtt = (d[k + SRTT] = (d[k + SRTT] as number) + err / 8);
    const rttvar = (d[k + RTTVAR] = (d[k + RTTVAR] as number) + (Math.abs(err) - (d[k + RTTVAR] as number)) / 4);
    if (e.retries === 0) d[k + RTO] = Math.min(RTO_MAX, srtt + Math.max(RTO_MIN, 4 * rttvar));
  }

  private armRto(e: Endpoint, at: number): void {
    if (e.rtoEv !== undefined || e.state === DEAD) return;
    e.rtoEv = this.engine.scheduleWith(at, "tcp-rto", rtoOf, e);
  }

  onRto(e: Endpoint): void {
    e.rtoEv = undefined;
    if (e.state === DEAD) return;
    this.advance(e);
    if (e.state === DEAD) return;
    if (e.sndUna >= e.sndNxt && (!e.finSent || e.finAcked)) return; // everything acknowledged
    const head = e.inHead;
    const now = this.engine.now();
    const k = D * e.slot;
    const pendAt = this.d[k + PEND_AT] as number;
    if (pendAt !== -1 && pendAt > now) {
      this.armRto(e, pendAt);
      return;
    }
    if (head && (head.ackAt === -1 || (head.ackAt !== Infinity && head.ackAt > now))) {
      // Progress is on its way: look again when it has arrived.
      this.armRto(e, Math.max(head.ackAt === -1 ? now + (this.d[k + RTO] as number) : head.ackAt, now + 1));
      return;
    }
    e.retries++;
    if (e.retries > this.maxRetries) {
      this.tcpCounters.timeouts++;
      e.fail({ error: "timeout" });
      return;
    }
    const rto = (this.d[k + RTO] = Math.min(RTO_MAX, (this.d[k + RTO] as number) * 2));
    e.ssthresh = Math.max(2, Math.floor((e.sndNxt - e.sndUna) / e.mss / 2));
    e.cwnd = 1;
    // Go back N: everything unacknowledged is sent again (later ACKs of old flights are ignored).
    e.inHead = e.inTail = undefined;
    e.goBack();
    e.finSent = false;
    this.pump(e);
    if (e.rtoEv === undefined && e.inHead) this.armRto(e, now + rto);
  }

  private sendRst(from: Endpoint, to: Endpoint, fromHost: string, src: string, dst: string): void {
    const p = this.underlay.underlayPath(fromHost, src, dst, 40);
    if (!p.ok) return;
    this.captureSeg(p, this.engine.now(), from, RST | ACK, this.seqOf(from), this.ackOf(from));
    this.engine.schedule(p.latencyMs, "tcp-rst", () => {
      if (to.state === DEAD) return;
      if (to.state === OPEN) this.tcpCounters.resets++;
      to.fail({ error: "connection reset by peer" });
    });
  }

  /** Forgets an endpoint: no more events of its own. */
  kill(e: Endpoint): void {
    if (e.state === DEAD) return;
    if (e.listed) {
      this.unlistConn(e);
      this.open--;
    }
    e.state = DEAD;
    if (e.rtoEv) this.engine.cancel(e.rtoEv);
    if (e.wakeEv) this.engine.cancel(e.wakeEv);
    if (e.synEv) this.engine.cancel(e.synEv);
    e.rtoEv = e.wakeEv = e.synEv = undefined;
    e.onConnected = undefined;
    e.inHead = e.inTail = undefined;
    this.closeSlot(e);
    e.chunks = undefined;
  }

  // ---- paths

  pathOut(e: Endpoint, size: number): UnderlayPath {
    const v = this.underlay.version?.();
    const c = e.path;
    if (v !== undefined && c !== undefined && e.pathVersion === v) {
      // A path that carried a packet carries smaller ones (and any up to its MTU); one that did not
      // carry a packet will not carry a bigger one.
      if (c.ok ? size <= e.pathSize || (c.mtu !== undefined && size <= c.mtu) : size >= e.pathSize) return c;
    }
    const p = this.underlay.underlayPath(e.host, e.localAddress, e.remoteAddress, size);
    if (v !== undefined) {
      e.path = p;
      e.pathVersion = v;
      e.pathSize = size;
    }
    return p;
  }

  /**
   * Path MTU discovery, as the kernel does on ICMP "fragmentation needed": when a full-size segment
   * has no path but a smaller packet has, the MSS shrinks to fit (at once: the ICMP round trip is
   * not modelled). Common tunnel MTUs are tried first.
   */
  private discoverMtu(e: Endpoint, size: number): UnderlayPath | undefined {
    const hdr = e.family === 4 ? 40 : 60;
    for (const mtu of [1480, 1450, 1430, 1400, 1280, 1024, 576]) {
      if (mtu >= size) continue;
      const p = this.underlay.underlayPath(e.host, e.localAddress, e.remoteAddress, mtu);
      if (!p.ok) continue;
      e.mss = Math.min(e.mss, Math.max(536, (p.mtu ?? mtu) - hdr));
      if (this.underlay.version) {
        e.path = p;
        e.pathVersion = this.underlay.version();
        e.pathSize = mtu;
      }
      return p;
    }
    return undefined;
  }

  /** Time to serialise `octets` of payload (with their segments' TCP/IP headers) at `bitsPerMs`. */
  private txTime(e: Endpoint, octets: number, bitsPerMs: number): number {
    const segs = Math.max(1, Math.ceil(octets / e.mss));
    return ((octets + segs * (e.family === 4 ? 40 : 60)) * 8) / bitsPerMs;
  }

  private lost(p: PathOk): boolean {
    return p.loss !== undefined && p.loss > 0 && this.lossRng.chance(p.loss);
  }

  private mssOf(p: PathOk, family: 4 | 6): number {
    return Math.max(536, (p.mtu ?? this.defaultMtu) - (family === 4 ? 40 : 60));
  }

  // ---- capture

  private seqOf(e: Endpoint): number {
    return (e.isn + 1 + e.sndNxt + (e.finSent ? 1 : 0)) >>> 0;
  }

  private ackOf(e: Endpoint): number {
    const peer = e.peer;
    return peer ? (peer.isn + 1 + e.rcvNxt + (e.finRcvd ? 1 : 0)) >>> 0 : 0;
  }

  /**
   * Puts stream octets [from, to) (and the FIN after them) on the wire as MSS-sized segments of flight
   * f: draws each segment's loss and captures it on the links it crosses (only the first one if lost).
   */
  private emit(e: Endpoint, f: Flight, from: number, to: number, fin: boolean, maxSent: number): void {
    const t = this.tcpCounters;
    const links = f.links;
    const cap = this.capture;
    const ack = cap ? this.ackOf(e) : 0;
    if (cap) e.capAck = ack;
    let a = from;
    do {
      const b = Math.min(to, a + e.mss);
      const last = b === to;
      t.segments++;
      if (a < maxSent) {
        t.retransmissions++;
        t.retransmittedBytes += Math.min(b, maxSent) - a;
      }
      let lost = links === undefined;
      if (lost) t.lostSegments++;
      else if ( f.loss > 0 && this.lossRng.chance(f.loss)) {
        lost = true;
        t.lostSegments++;
        if (f.okEnd === Infinity) f.okEnd = a;
        if (last && fin) f.finLost = true;
      }
      if (cap && links) {
        const seg: CapturedTcpSegment = {
          src: e.localAddress,
          dst: e.remoteAddress,
          srcPort: e.localPort,
          dstPort: e.remotePort,
          seq: (e.isn + 1 + a) >>> 0,
          ack,
          flags: ACK | (b > a ? PSH : 0) | (last && fin ? FIN : 0),
          window: WINDOW,
          ...(b > a ? { payload: e.extract(a, b) } : {}),
        };
        const n = lost ? Math.min(1, links.length) : links.length;
        // On a bandwidth-limited path each segment leaves after the octets before it.
        const leaves = f.bitsPerMs > 0 ? f.txStart + this.txTime(e, b - f.start, f.bitsPerMs) : f.sentAt;
        for (let k = 0; k < n; k++) {
          const l = links[k] as UnderlayLink;
          cap.tcp(`${l.element}@${l.segment}`, leaves + hopDelay(f.latency, k, links.length), seg);
        }
      }
      a = b;
    } while (a < to);
  }

  private captureSeg(p: UnderlayPath, t: number, e: Endpoint, flags: number, seq: number, ack: number, payload?: Uint8Array, mss?: number): void {
    if (this.capture && flags & ACK) e.capAck = ack; // (the side state exists only for captures)
    this.captureSegFrom(p, t, e.localAddress, e.remoteAddress, e.localPort, e.remotePort, flags, seq, ack, e.family, payload, mss);
  }

  private captureSegFrom(
    p: UnderlayPath,
    t: number,
    src: string,
    dst: string,
    srcPort: number,
    dstPort: number,
    flags: number,
    seq: number,
    ack: number,
    _family: 4 | 6,
    payload?: Uint8Array,
    mss?: number,
  ): void {
    const cap = this.capture;
    if (!cap || !p.ok) return;
    const seg: CapturedTcpSegment = { src, dst, srcPort, dstPort, seq, ack, flags, window: WINDOW, ...(mss !== undefined ? { mss } : {}), ...(payload ? { payload } : {}) };
    const n = p.links.length;
    p.links.forEach((l, k) => cap.tcp(`${l.element}@${l.segment}`, t + hopDelay(p.latencyMs, k, n), seg));
  }
}

/** The shared "flight arrives" event function (SimEngine.scheduleWith passes the sending endpoint). */
const arriveOf = (e: Endpoint): void => e.net.arrive(e);
const wakeOf = (e: Endpoint): void => {
  e.wakeEv = undefined;
  e.net.pump(e);
};
const rtoOf = (e: Endpoint): void => e.net.onRto(e);
const synRetryOf = (e: Endpoint): void => e.net.synRetry(e);
const synArriveOf = (syn: Syn): void => syn.e.net.synArrive(syn);
const synAckOf = (syn: Syn): void => syn.e.net.synAck(syn);
const acceptOf = (syn: Syn): void => syn.e.net.accept(syn);

/** When a packet sent at 0 is seen at link k of n: the first at once, the last on arrival. */
const hopDelay = (latency: number, k: number, n: number): number => (n > 1 ? (latency * k) / (n - 1) : 0);
