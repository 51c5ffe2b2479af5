// One BGP peering: the RFC 4271 §8 finite state machine on the Clock and Transport ports. It owns the
// TCP connections to one neighbour (two during a collision, §6.8), checks OPENs, negotiates
// capabilities and timers, and hands UPDATE / ROUTE-REFRESH messages of an Established session to its
// owner (the Speaker). Every way out of a connection sends the NOTIFICATION that explains it.
import {
  AS_TRANS,
  type Capability,
  CeaseSubcode,
  ErrorCode,
  findCapability,
  FsmErrorSubcode,
  isBgpWireError,
  MessageFramer,
  MessageType,
  multiprotocolFamilies,
  notificationFor,
  OpenErrorSubcode,
  peerAsn,
  decodeMessage,
  encodeMessage,
  type Message,
  type NotificationMessage,
  type OpenMessage,
  type RouteRefreshMessage,
  type UpdateMessage,
  Afi,
  Safi,
  type AddressFamily,
  BGP_VERSION,
} from "./wire/index.ts";
import type { Clock, CloseReason, ConnectOptions, Connection, ConnectionReceiver, TimerHandle, Transport } from "./ports.ts";
import { countEncoded, DirectionCounters, type PeerCounters } from "./counters.ts";

export type SessionState = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";

export const BGP_PORT = 179;
/** RFC 4271 §8.2.2: the hold timer while waiting for the peer's OPEN ("large value", 4 minutes). */
export const OPEN_HOLD_TIME_S = 240;

export interface SessionConfig {
  localAs: number;
  /** BGP identifier as uint32. */
  routerId: number;
  peerAddress: string;
  peerAs: number;
  peerPort?: number;
  /** Source address for outgoing connections. */
  localAddress?: string;
  /** Never connect; wait for the peer (Calico's `passive on`). */
  passive?: boolean;
  /** Seconds, 0 or >= 3. Default 90. */
  holdTime?: number;
  /** Seconds between connection attempts. Default 5 (Calico's `connect retry time`). */
  connectRetryTime?: number;
  /** Seconds before the first connection attempt. Default 0. */
  connectDelay?: number;
  /** Seconds in Idle after an error before starting again. Default 5 (Calico's `error wait time`). */
  errorWaitTime?: number;
  /** Reject peers whose hold time is below this (besides 1 and 2, which the codec rejects). Default 3. */
  minHoldTime?: number;
  /** The capabilities to advertise; asked each time an OPEN is sent (the GR R bit can change). */
  capabilities: (s: Session) => Capability[];
}

/** What the two OPENs settled on. */
export interface Negotiated {
  /** The My Autonomous System field of the peer's OPEN (AS_TRANS for a 4-octet AS). */
  peerOpenAs: number;
  peerRouterId: number;
  peerAs: number;
  holdTime: number;
  keepaliveTime: number;
  fourOctetAs: boolean;
  /** Families both sides announced (IPv4 unicast when neither sent MP capabilities). Shared between sessions: do not modify. */
  families: readonly AddressFamily[];
  routeRefresh: boolean;
  /** The peer's graceful restart capability, if any. */
  peerGracefulRestart: Extract<Capability, { kind: "graceful-restart" }> | undefined;
  localGracefulRestart: Extract<Capability, { kind: "graceful-restart" }> | undefined;
  localAddress: string;
  /** This side opened the TCP connection (after a collision: the one that survived). */
  initiatedLocally: boolean;
}

export interface DownInfo {
  /** The state the session was in. */
  from: SessionState;
  reason: string;
  sent?: { code: number; subcode: number };
  received?: { code: number; subcode: number };
  /** RFC 4724/8538: the peer's routes should be kept (stale) rather than removed. */
  graceful: boolean;
}

export interface SessionEvents {
  established(s: Session): void;
  message(s: Session, m: UpdateMessage | RouteRefreshMessage): void;
  /** The session left Established (or a connection died before it got there: `from` tells). */
  down(s: Session, info: DownInfo): void;
  /** Anything worth logging: rejected connections, NOTIFICATIONs, state changes. */
  log?(s: Session, event: string): void;
  /** False: no log line per state change (stateChange tells them). Default true. */
  logStates?: boolean;
  /** Every FSM state change. */
  stateChange?(s: Session, from: SessionState, to: SessionState): void;
}

type ConnState = "Connect" | "OpenSent" | "OpenConfirm" | "Established";
const CONN_STATES: readonly ConnState[] = ["Connect", "OpenSent", "OpenConfirm", "Established"];
const OUTGOING = 1;
const OPEN_RECEIVED = 2;
const CLOSED = 4;

/**
 * One connection being tried; it frames its own stream (one object per connection, not two) and, from
 * OpenConfirm on, is its own Negotiated: the shared OpenTerms plus the peer's identifier and the
 * connection's ends (no Negotiated object per session).
 */
class Attempt extends MessageFramer implements ConnectionReceiver, Negotiated {
  /** What this connection's OPEN exchange settled on (from OpenConfirm on). */
  private terms: OpenTerms | undefined = undefined;
  /** The peer's BGP identifier as int32 (a Smi: as uint32 it can be a heap number). */
  private peerId = 0;
  /** The local address when the OPENs settled (a real socket forgets it once closed). */
  localAddress = "";
  /**
   * Timers are re-armed lazily: a message only moves a deadline (no timer cancelled and created per
   * message); when a timer fires before its deadline it sleeps again for the rest. The expiry times
   * are exactly those of restarting the timer on every message.
   */
  holdTimer: TimerHandle | undefined;
  keepaliveTimer: TimerHandle | undefined;
  /** Where this attempt's times are in `times` (NO_SLOT once dropped). */
  slot: number;
  /** OUTGOING, OPEN_RECEIVED, CLOSED and the state (CONN_STATES index, bits 3-4): one Smi field instead of four. */
  private flags: number;
  constructor(
    readonly session: Session,
    readonly conn: Connection,
    outgoing: boolean,
  ) {
    super();
    this.slot = takeSlot();
    this.flags = outgoing ? OUTGOING : 8 * CONN_STATES.indexOf("OpenSent");
  }

  get state(): ConnState {
    return CONN_STATES[this.flags >> 3]!;
  }
  set state(s: ConnState) {
    this.flags = (this.flags & 7) | (CONN_STATES.indexOf(s) << 3);
  }

  /** This side opened the connection. */
  get outgoing(): boolean {
    return (this.flags & OUTGOING) !== 0;
  }
  /** The peer's OPEN arrived on this connection (it passed the checks). */
  get openReceived(): boolean {
    return (this.flags & OPEN_RECEIVED) !== 0;
  }
  set openReceived(v: boolean) {
    this.flags = v ? this.flags | OPEN_RECEIVED : this.flags & ~OPEN_RECEIVED;
  }
  get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  set closed(v: boolean) {
    this.flags = v ? this.flags | CLOSED : this.flags & ~CLOSED;
  }

  /** When the running hold timer fires, and when the hold time really runs out (ms on the Clock). */
  get holdFiresAt(): number {
    return times[this.slot + HOLD_FIRES_AT] as number;
  }
  set holdFiresAt(t: number) {
    times[this.slot + HOLD_FIRES_AT] = t;
  }
  get holdDeadline(): number {
    return times[this.slot + HOLD_DEADLINE] as number;
  }
  set holdDeadline(t: number) {
    times[this.slot + HOLD_DEADLINE] = t;
  }
  /** When we last sent something on this connection (ms). */
  get lastSent(): number {
    return times[this.slot + LAST_SENT] as number;
  }
  set lastSent(t: number) {
    times[this.slot + LAST_SENT] = t;
  }
  /** When this connection reached Established (ms). */
  get establishedAt(): number {
    return times[this.slot + ESTABLISHED_AT] as number;
  }
  set establishedAt(t: number) {
    times[this.slot + ESTABLISHED_AT] = t;
  }

  /** What this connection's OPEN exchange settled on (from OpenConfirm on): the attempt itself. */
  get negotiated(): Negotiated | undefined {
    return this.terms === undefined ? undefined : this;
  }
  settle(terms: OpenTerms, peerRouterId: number): void {
    this.terms = terms;
    this.peerId = peerRouterId | 0;
    this.localAddress = this.conn.localAddress;
  }
  get peerRouterId(): number {
    return this.peerId >>> 0;
  }
  get initiatedLocally(): boolean {
    return this.outgoing;
  }
  get peerOpenAs(): number {
    return this.terms!.peerOpenAs;
  }
  get peerAs(): number {
    return this.terms!.peerAs;
  }
  get holdTime(): number {
    return this.terms!.holdTime;
  }
  get keepaliveTime(): number {
    return this.terms!.keepaliveTime;
  }
  get fourOctetAs(): boolean {
    return this.terms!.fourOctetAs;
  }
  get families(): readonly AddressFamily[] {
    return this.terms!.families;
  }
  get routeRefresh(): boolean {
    return this.terms!.routeRefresh;
  }
  get peerGracefulRestart(): GrCapability | undefined {
    return this.terms!.peerGracefulRestart;
  }
  get localGracefulRestart(): GrCapability | undefined {
    return this.terms!.localGracefulRestart;
  }

  connData(bytes: Uint8Array): void {
    this.session.attemptData(this, bytes);
  }

  connClosed(reason: CloseReason): void {
    this.session.attemptClosed(this, reason);
  }
}

const RANK: Record<SessionState, number> = { Idle: 0, Connect: 1, Active: 1, OpenSent: 2, OpenConfirm: 3, Established: 4 };

export class Session {
  readonly config: SessionConfig;
  /** The clock, the transport and the events: one object per speaker (interned). */
  private readonly ports: SessionPorts;
  /** The connections being tried: the first (undefined: none) and the others (see `others`). */
  private attempt: Attempt | undefined = undefined;
  private connectRetryTimer: TimerHandle | undefined;
  /** enabled (bit 0), the last state reported (STATES index, bits 1-3) and the timer waits so far (the jitter counter, bits / 16). */
  private bits = 0;
  /** What most sessions never need (collisions, errors): made the first time one is set. */
  private extras: SessionExtras | undefined = undefined;
  /** The restart time (s) the peer advertised in the OPEN of the last Established session (0: none). */
  lastPeerRestartTime = 0;
  /** The owner's handle (the Speaker's per-peer state), so one SessionEvents object can serve every session. */
  owner: unknown;
  /** Messages, octets and prefixes sent to this peer, over every connection since creation. */
  readonly sent = new DirectionCounters();
  /** The same received from this peer. */
  readonly received = new DirectionCounters();

  constructor(config: SessionConfig, clock: Clock, transport: Transport, events: SessionEvents) {
    const hold = config.holdTime ?? 90;
    if (!Number.isInteger(hold) || hold < 0 || hold > 65535 || hold === 1 || hold === 2) {
      throw new RangeError(`hold time ${hold} must be 0 or 3..65535 seconds`);
    }
    this.config = config;
    this.ports = sessionPorts(clock, transport, events);
  }

  /** Most recent NOTIFICATIONs, for show commands. */
  get lastError(): LastError {
    return this.extras === undefined ? NO_ERROR : this.extras.lastError;
  }
  set lastError(e: LastError) {
    if (e !== NO_ERROR || this.extras !== undefined) this.extrasFor().lastError = e;
  }

  /** The connections after the first (during a collision; usually the shared empty list). Replaced, never modified. */
  private get others(): readonly Attempt[] {
    return this.extras === undefined ? NO_ATTEMPTS : this.extras.others;
  }
  private set others(list: readonly Attempt[]) {
    if (list !== NO_ATTEMPTS || this.extras !== undefined) this.extrasFor().others = list;
  }

  private get restartTimer(): TimerHandle | undefined {
    return this.extras === undefined ? undefined : this.extras.restartTimer;
  }
  private set restartTimer(t: TimerHandle | undefined) {
    if (t !== undefined || this.extras !== undefined) this.extrasFor().restartTimer = t;
  }

  private extrasFor(): SessionExtras {
    return (this.extras ??= new SessionExtras());
  }

  private get enabled(): boolean {
    return this.bits % 2 === 1;
  }
  private set enabled(v: boolean) {
    if (v !== this.enabled) this.bits += v ? 1 : -1;
  }

  private get lastState(): SessionState {
    return STATES[Math.floor(this.bits / 2) % 8]!;
  }
  private set lastState(s: SessionState) {
    this.bits += 2 * (STATES.indexOf(s) - (Math.floor(this.bits / 2) % 8));
  }

  /** The Established connection, if any. */
  private get established(): Attempt | undefined {
    const first = this.attempt;
    if (first === undefined) return undefined;
    if (first.state === "Established") return first;
    const others = this.others;
    for (let i = 0; i < others.length; i++) if (others[i]!.state === "Established") return others[i];
    return undefined;
  }

  /** Messages and octets sent to and received from this peer: the session itself (no wrapper object per session). */
  get counters(): PeerCounters {
    return this;
  }

  get holdTime(): number {
    return this.config.holdTime ?? 90;
  }

  /** What the OPENs settled on; set while Established. */
  get negotiated(): Negotiated | undefined {
    return this.established?.negotiated;
  }

  /** When the session reached Established (ms on the Clock); set while Established. */
  get establishedAt(): number | undefined {
    const a = this.established;
    return a === undefined ? undefined : a.establishedAt;
  }

  /** The FSM state: the most advanced connection's, else Connect/Active/Idle. */
  get state(): SessionState {
    const first = this.attempt;
    if (first !== undefined) {
      let best: SessionState = first.state;
      // Indexed loop: the list is sometimes the frozen empty one, and for-of over lists of two
      // kinds allocates an iterator result per step (noteState reads this per event).
      const others = this.others;
      for (let i = 0; i < others.length; i++) {
        const s: SessionState = others[i]!.state;
        if (RANK[s] > RANK[best]) best = s;
      }
      return best;
    }
    if (!this.enabled) return "Idle";
    if (this.restartTimer !== undefined) return "Idle";
    return this.config.passive ? "Active" : this.connectRetryTimer !== undefined ? "Active" : "Connect";
  }

  private log(event: string): void {
    this.ports.events.log?.(this, event);
  }

  private noteState(): void {
    const s = this.state;
    if (s !== this.lastState) {
      const from = this.lastState;
      if (this.ports.events.log && this.ports.events.logStates !== false) this.log(`${from} -> ${s}`);
      this.lastState = s;
      this.ports.events.stateChange?.(this, from, s);
    }
  }

  /** ManualStart (or ManualStart_with_PassiveTcpEstablishment when passive). */
  start(): void {
    if (this.enabled) return;
    this.enabled = true;
    this.begin(this.config.connectDelay ?? 0);
  }

  private begin(delayS: number): void {
    if (!this.enabled) return;
    if (this.config.passive) {
      this.noteState();
      return;
    }
    this.clearRetry();
    this.connectRetryTimer = this.timer(delayS * 1000, startFired, this);
    this.noteState();
  }

  /** @internal The delay before the first connection attempt is over. */
  startTimerFired(): void {
    this.connectRetryTimer = undefined;
    this.connect();
  }

  private connect(): void {
    if (!this.enabled || this.attempt !== undefined) return;
    const opts: ConnectOptions = { remoteAddress: this.config.peerAddress, remotePort: this.config.peerPort ?? BGP_PORT };
    const localAddress = this.config.localAddress;
    if (localAddress) opts.localAddress = localAddress;
    const conn = this.ports.transport.connect(opts, () => this.onConnected(a));
    const a = new Attempt(this, conn, true);
    this.add(a);
    this.wire(a);
    // ConnectRetry: if nothing came of this attempt by then, try again.
    this.clearRetry();
    this.connectRetryTimer = this.timer(this.jittered(this.config.connectRetryTime ?? 5), connectRetryFired, a);
    this.noteState();
  }

  /** @internal ConnectRetry expired while `a` (our outgoing connection) was being tried. */
  connectRetryExpired(a: Attempt): void {
    this.connectRetryTimer = undefined;
    if (a.state === "Connect" && !a.closed) this.drop(a, "connect retry timer expired", undefined);
    if (this.attempt === undefined) this.connect();
    else this.armRetryWhileBusy();
  }

  /** Keeps retrying later while an incoming connection is being tried. */
  private armRetryWhileBusy(): void {
    if (this.config.passive || !this.enabled) return;
    this.clearRetry();
    this.connectRetryTimer = this.ports.clock.setTimer(this.jittered(this.config.connectRetryTime ?? 5), () => {
      this.connectRetryTimer = undefined;
      if (this.attempt === undefined) this.connect();
      else this.armRetryWhileBusy();
    });
  }

  private onConnected(a: Attempt): void {
    if (a.closed) return;
    a.state = "OpenSent";
    this.sendOpen(a);
    this.noteState();
  }

  /** An incoming TCP connection from this peer's address. */
  accept(conn: Connection): void {
    if (!this.enabled || this.restartTimer !== undefined) {
      this.log(`rejecting connection from ${conn.remoteAddress}: session is idle`);
      // RFC 4486: Connection Rejected.
      this.sendNotification(conn, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_REJECTED });
      conn.close();
      return;
    }
    const a = new Attempt(this, conn, false);
    this.add(a);
    this.wire(a);
    this.sendOpen(a);
    this.noteState();
  }

  private add(a: Attempt): void {
    if (this.attempt === undefined) this.attempt = a;
    else this.others = [...this.others, a];
  }

  private remove(a: Attempt): void {
    const others = this.others;
    if (this.attempt === a) {
      this.attempt = others[0];
      this.others = others.length <= 1 ? NO_ATTEMPTS : others.slice(1);
    } else {
      const rest = others.filter((x) => x !== a);
      this.others = rest.length === 0 ? NO_ATTEMPTS : rest;
    }
  }

  private wire(a: Attempt): void {
    // The Attempt itself receives when the transport allows: no two closures per connection.
    if (a.conn.receive) a.conn.receive(a);
    else {
      a.conn.onData((bytes) => this.attemptData(a, bytes));
      a.conn.onClose((reason) => this.attemptClosed(a, reason));
    }
  }

  private sendOpen(a: Attempt): void {
    this.out(a.conn, openBytes(this.config.capabilities(this), this.config.localAs, this.holdTime, this.config.routerId));
    this.armHold(a, OPEN_HOLD_TIME_S);
  }

  /** (Re)starts the hold timer: it now runs out `seconds` from now (0: no hold timer). */
  private armHold(a: Attempt, seconds: number): void {
    if (seconds === 0) {
      if (a.holdTimer !== undefined) this.ports.clock.clearTimer(a.holdTimer);
      a.holdTimer = undefined;
      return;
    }
    const now = this.ports.clock.now();
    a.holdDeadline = now + seconds * 1000;
    // A running timer that fires no later than the new deadline just sleeps again when it fires.
    if (a.holdTimer !== undefined) {
      if (a.holdFiresAt <= a.holdDeadline) return;
      this.ports.clock.clearTimer(a.holdTimer);
    }
    this.setHoldTimer(a, now, a.holdDeadline - now);
  }

  private setHoldTimer(a: Attempt, now: number, ms: number): void {
    a.holdFiresAt = now + ms;
    a.holdTimer = this.timer(ms, holdFired, a);
  }

  /** The hold timer went off: sleep again if a message moved the deadline, else expire. */
  onHoldTimer(a: Attempt): void {
    a.holdTimer = undefined;
    if (a.closed) return;
    const t = this.ports.clock.now();
    if (a.holdDeadline > t) this.setHoldTimer(a, t, a.holdDeadline - t);
    else this.fail(a, { code: ErrorCode.HOLD_TIMER_EXPIRED, subcode: 0 }, "hold timer expired");
  }

  /** Starts the keepalive timer: a KEEPALIVE goes out whenever nothing was sent for the keepalive time. */
  private armKeepalive(a: Attempt, ms?: number): void {
    const n = this.negotiatedFor(a);
    if (!n || n.keepaliveTime === 0) return;
    a.keepaliveTimer = this.timer(ms ?? n.keepaliveTime * 1000, keepaliveFired, a);
  }

  onKeepaliveTimer(a: Attempt): void {
    a.keepaliveTimer = undefined;
    if (a.closed) return;
    const n = this.negotiatedFor(a);
    if (!n) return;
    const every = n.keepaliveTime * 1000;
    // Any message counts as a keepalive (RFC 4271 §4.4): wait out the rest after the last one.
    const left = a.lastSent + every - this.ports.clock.now();
    if (left > 0) {
      this.armKeepalive(a, left);
      return;
    }
    this.out(a.conn, keepaliveBytes());
    a.lastSent = this.ports.clock.now();
    this.armKeepalive(a);
  }

  /** A per-connection timer without a closure per timer when the Clock can pass an argument. */
  private timer<T>(ms: number, fn: (arg: T) => void, arg: T): TimerHandle {
    const c = this.ports.clock;
    return c.setTimerWith ? c.setTimerWith(ms, fn, arg) : c.setTimer(ms, () => fn(arg));
  }

  private negotiatedFor(a: Attempt): Negotiated | undefined {
    return a.negotiated;
  }

  /** @internal A connection's bytes (Attempt.connData). */
  attemptData(a: Attempt, bytes: Uint8Array): void {
    if (a.closed) return;
    try {
      a.each(bytes, visitMessage, a);
    } catch (e) {
      this.onWireError(a, e);
    }
  }

  /** @internal One whole message of a connection (octets [offset, offset + length) of data); false: stop. */
  messageAt(a: Attempt, data: Uint8Array, offset: number, length: number): boolean {
    if (a.closed) return false;
    this.received.count(data[offset + 18] as number, length);
    let msg: Message;
    try {
      const n = this.negotiatedFor(a);
      msg = decodeShared(data, offset, length, n ? n.fourOctetAs : true);
    } catch (e) {
      this.onWireError(a, e);
      return false;
    }
    if (msg.type === MessageType.UPDATE) {
      const r = this.received;
      r.prefixesAnnounced += msg.nlri.length + (msg.attrs.mpReach?.nlri.length ?? 0);
      r.prefixesWithdrawn += msg.withdrawn.length + (msg.attrs.mpUnreach?.withdrawn.length ?? 0);
    }
    try {
      this.onMessage(a, msg);
    } catch (e) {
      // A bug of ours triggered by peer input: drop this session only, and say why.
      this.fail(a, { code: ErrorCode.CEASE, subcode: CeaseSubcode.OUT_OF_RESOURCES }, `internal error: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
    return true;
  }

  private onWireError(a: Attempt, e: unknown): void {
    if (isBgpWireError(e)) {
      this.fail(a, notificationFor(e), `malformed message: ${e.message}`);
    } else {
      this.fail(a, { code: ErrorCode.CEASE, subcode: CeaseSubcode.OUT_OF_RESOURCES }, `internal error: ${String(e)}`);
    }
  }

  private onMessage(a: Attempt, m: Message): void {
    if (m.type === MessageType.NOTIFICATION) {
      this.lastError = { ...this.lastError, received: m };
      this.drop(a, `NOTIFICATION received: ${m.code}/${m.subcode}`, { code: m.code, subcode: m.subcode });
      return;
    }
    switch (a.state) {
      case "OpenSent":
        if (m.type !== MessageType.OPEN) {
          this.fail(a, { code: ErrorCode.FSM, subcode: FsmErrorSubcode.UNEXPECTED_IN_OPENSENT }, `message type ${m.type} in OpenSent`);
          return;
        }
        this.onOpen(a, m);
        return;
      case "OpenConfirm":
        if (m.type === MessageType.KEEPALIVE) {
          this.establish(a);
          return;
        }
        this.fail(a, { code: ErrorCode.FSM, subcode: FsmErrorSubcode.UNEXPECTED_IN_OPENCONFIRM }, `message type ${m.type} in OpenConfirm`);
        return;
      case "Established": {
        if (m.type === MessageType.OPEN) {
          this.fail(a, { code: ErrorCode.FSM, subcode: FsmErrorSubcode.UNEXPECTED_IN_ESTABLISHED }, "OPEN in Established");
          return;
        }
        const n = this.negotiatedFor(a);
        if (n) this.armHold(a, n.holdTime);
        if (m.type === MessageType.UPDATE || m.type === MessageType.ROUTE_REFRESH) this.ports.events.message(this, m);
        return;
      }
      default:
        this.fail(a, { code: ErrorCode.FSM, subcode: FsmErrorSubcode.UNSPECIFIED }, `message type ${m.type} before the connection was open`);
    }
  }

  private onOpen(a: Attempt, open: OpenMessage): void {
    const asn = peerAsn(open);
    if (asn !== this.config.peerAs) {
      const data = Uint8Array.of(open.myAs >>> 8, open.myAs & 255);
      this.fail(a, { code: ErrorCode.OPEN_MESSAGE, subcode: OpenErrorSubcode.BAD_PEER_AS, data }, `peer AS ${asn}, expected ${this.config.peerAs}`);
      return;
    }
    // RFC 6286 §2.1: within an AS the identifiers must differ.
    if (asn === this.config.localAs && open.bgpId === this.config.routerId) {
      this.fail(a, { code: ErrorCode.OPEN_MESSAGE, subcode: OpenErrorSubcode.BAD_BGP_IDENTIFIER, data: u32(open.bgpId) }, "peer has our BGP identifier");
      return;
    }
    const minHold = this.config.minHoldTime ?? 3;
    if (open.holdTime !== 0 && open.holdTime < minHold) {
      this.fail(a, { code: ErrorCode.OPEN_MESSAGE, subcode: OpenErrorSubcode.UNACCEPTABLE_HOLD_TIME }, `hold time ${open.holdTime} < ${minHold}`);
      return;
    }
    a.openReceived = true;
    // Collision detection (§6.8) against the other connection, now that the peer's identifier is known.
    // Over the connections as they are now (drop/fail replace the lists, never modify them).
    const first = this.attempt;
    const others = this.others;
    for (let i = -1; i < others.length; i++) {
      const other = i < 0 ? first : others[i];
      if (other === undefined || other === a || other.closed) continue;
      if (other.state === "Established") {
        const gr = findCapability(open.capabilities, "graceful-restart");
        if (gr) {
          // RFC 4724 §4.2: a new OPEN from a peer we still think is up means it restarted.
          this.drop(other, "peer reconnected (graceful restart)", undefined, true);
          continue;
        }
        this.fail(a, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION }, "collision with an established connection");
        return;
      }
      if (other.state === "OpenConfirm" || (other.state === "OpenSent" && other.openReceived)) {
        // Keep the connection opened by the side with the higher BGP identifier.
        const keepOutgoing = this.config.routerId > open.bgpId;
        const loser = a.outgoing === keepOutgoing ? other : a;
        this.fail(loser, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION }, "connection collision");
        if (loser === a) return;
      }
    }
    const local = this.config.capabilities(this);
    const families = negotiatedFamilies(local, open.capabilities);
    const holdTime = Math.min(this.holdTime, open.holdTime);
    const terms = openTerms(
      local,
      open.myAs,
      asn,
      holdTime,
      !!findCapability(local, "four-octet-as") && !!findCapability(open.capabilities, "four-octet-as"),
      families,
      !!findCapability(open.capabilities, "route-refresh"),
      internGr(findCapability(open.capabilities, "graceful-restart")),
      findCapability(local, "graceful-restart"),
    );
    a.settle(terms, open.bgpId);
    a.state = "OpenConfirm";
    this.out(a.conn, keepaliveBytes());
    a.lastSent = this.ports.clock.now();
    this.armHold(a, holdTime);
    this.armKeepalive(a);
    this.noteState();
  }

  private establish(a: Attempt): void {
    const n = this.negotiatedFor(a);
    if (!n) return;
    a.state = "Established";
    a.establishedAt = this.ports.clock.now();
    this.lastPeerRestartTime = n.peerGracefulRestart?.restartTime ?? 0;
    this.clearRetry();
    this.armHold(a, n.holdTime);
    this.noteState();
    this.ports.events.established(this);
  }

  /**
   * Sends an UPDATE or ROUTE-REFRESH (already encoded; several may be back to back) on the
   * Established connection. False when there is none (nothing sent, nothing counted).
   */
  send(bytes: Uint8Array): boolean {
    const a = this.established;
    if (a === undefined || a.closed) return false;
    this.out(a.conn, bytes);
    // Pushes the next KEEPALIVE back (the keepalive timer looks at this when it fires).
    a.lastSent = this.ports.clock.now();
    return true;
  }

  /** Every message leaves through here, so the sent counters are exact. */
  private out(conn: Connection, bytes: Uint8Array): void {
    countEncoded(this.sent, bytes);
    conn.send(bytes);
  }

  /**
   * Closes the session with a NOTIFICATION (Cease/2 Administrative Shutdown unless told otherwise).
   * With `restart`, the session starts again after the error wait time; otherwise it stays Idle
   * until start().
   */
  stop(notification: { code: number; subcode: number; data?: Uint8Array } = { code: ErrorCode.CEASE, subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN }, reason = "stopped", restart = false): void {
    if (!restart) this.enabled = false;
    this.clearRetry();
    const first = this.attempt;
    const others = this.others;
    if (first !== undefined) this.fail(first, notification, reason);
    for (const a of others) this.fail(a, notification, reason);
    if (!restart) {
      if (this.restartTimer !== undefined) this.ports.clock.clearTimer(this.restartTimer);
      this.restartTimer = undefined;
    }
    this.noteState();
  }

  private sendNotification(conn: Connection, n: { code: number; subcode: number; data?: Uint8Array }): NotificationMessage {
    const m: NotificationMessage = { type: MessageType.NOTIFICATION, code: n.code, subcode: n.subcode, data: n.data ?? new Uint8Array(0) };
    this.out(conn, encodeMessage(m));
    return m;
  }

  /** Sends a NOTIFICATION, closes the connection, and goes down. */
  private fail(a: Attempt, n: { code: number; subcode: number; data?: Uint8Array }, reason: string): void {
    if (a.closed) return;
    // No NOTIFICATION before the TCP connection is up.
    if (a.state !== "Connect") this.lastError = { ...this.lastError, sent: this.sendNotification(a.conn, n) };
    this.log(`NOTIFICATION ${n.code}/${n.subcode} sent: ${reason}`);
    this.drop(a, reason, undefined, false, { code: n.code, subcode: n.subcode });
  }

  /** @internal A connection's close (Attempt.connClosed). */
  attemptClosed(a: Attempt, reason: CloseReason): void {
    if (a.closed) return;
    const why = reason === "closed" ? "closed" : reason === "peer-closed" ? "peer closed the connection" : reason.error;
    this.drop(a, why, undefined);
  }

  /** Tears one connection down (no NOTIFICATION here) and reports the session down if it was up. */
  private drop(
    a: Attempt,
    reason: string,
    received: { code: number; subcode: number } | undefined,
    forceGraceful = false,
    sent?: { code: number; subcode: number },
  ): void {
    if (a.closed) return;
    a.closed = true;
    if (!sent) this.log(`connection closed: ${reason}`);
    const from: SessionState = a.state === "Connect" ? "Connect" : a.state;
    if (a.holdTimer !== undefined) this.ports.clock.clearTimer(a.holdTimer);
    if (a.keepaliveTimer !== undefined) this.ports.clock.clearTimer(a.keepaliveTimer);
    a.conn.close();
    this.remove(a);
    const n = a.negotiated;
    this.lastError = { ...this.lastError, reason };
    giveBackSlot(a);
    if (from === "Established") {
      this.ports.events.down(this, { from, reason, graceful: forceGraceful || gracefulEnd(n, sent, received), ...(sent ? { sent } : {}), ...(received ? { received } : {}) });
    } else if (from !== "Connect") {
      this.ports.events.down(this, { from, reason, graceful: false, ...(sent ? { sent } : {}), ...(received ? { received } : {}) });
    }
    // The peer refused us with Cease/5 (RFC 4486) because it sits in its own error wait: not an error
    // of ours. Waiting out an error wait of our own here would let two speakers refuse each other in
    // turn forever; staying Active (accepting) lets the peer's next attempt in, as when TCP failed.
    const rejected = received?.code === ErrorCode.CEASE && received.subcode === CeaseSubcode.CONNECTION_REJECTED && from !== "Established";
    if (this.attempt === undefined && this.enabled) {
      if (from === "Connect" || rejected) {
        // TCP attempt failed: Active until the ConnectRetry timer fires.
        if (this.connectRetryTimer === undefined && !this.config.passive) this.armRetryWhileBusy();
      } else if (!forceGraceful) {
        this.idleThenRestart();
      }
    }
    this.noteState();
  }

  private idleThenRestart(): void {
    this.clearRetry();
    if (this.restartTimer !== undefined) return;
    this.restartTimer = this.ports.clock.setTimer(this.jittered(this.config.errorWaitTime ?? 5), () => {
      this.restartTimer = undefined;
      this.begin(0);
    });
  }

  /**
   * RFC 4271 §10: ConnectRetry (and our error wait) times a factor in [0.75, 1], so two speakers that
   * failed together do not retry in lockstep forever (each refusing the other while it sits in Idle).
   * The factor is a hash of the router ID, the peer and a counter: deterministic, as the simulator
   * needs, yet different on the two sides of a session and from one wait to the next.
   */
  private jittered(seconds: number): number {
    // FNV-1a of the text `${routerId}|${peerAddress}|${waits}`, without making the text.
    let h = fnvDecimal(0x811c9dc5, this.config.routerId);
    h = fnvText(h, "|");
    h = fnvText(h, this.config.peerAddress);
    h = fnvText(h, "|");
    const waits = Math.floor(this.bits / 16);
    this.bits += 16;
    h = fnvDecimal(h, waits);
    return seconds * 1000 * (0.75 + (0.25 * h) / 0x1_0000_0000);
  }

  private clearRetry(): void {
    if (this.connectRetryTimer !== undefined) this.ports.clock.clearTimer(this.connectRetryTimer);
    this.connectRetryTimer = undefined;
  }
}

type LastError = { readonly sent?: NotificationMessage; readonly received?: NotificationMessage; readonly reason?: string };
const NO_ERROR: LastError = Object.freeze({});
const STATES: readonly SessionState[] = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"];

class SessionExtras {
  others: readonly Attempt[] = NO_ATTEMPTS;
  lastError: LastError = NO_ERROR;
  restartTimer: TimerHandle | undefined = undefined;
}

interface SessionPorts {
  readonly clock: Clock;
  readonly transport: Transport;
  readonly events: SessionEvents;
}
/** By the events object: a speaker gives every session the same clock, transport and events. */
const portsByEvents = new WeakMap<SessionEvents, SessionPorts>();
function sessionPorts(clock: Clock, transport: Transport, events: SessionEvents): SessionPorts {
  const p = portsByEvents.get(events);
  if (p !== undefined && p.clock === clock && p.transport === transport) return p;
  const made: SessionPorts = { clock, transport, events };
  portsByEvents.set(events, made);
  return made;
}

/**
 * The encoded OPEN, shared by the sessions that send the same one: by the capability list object
 * (a speaker hands every peer the same list while nothing differs) and the header fields. Read-only.
 */
const openCache = new WeakMap<Capability[], OpenCache>();
interface OpenCache {
  /** The last OPEN made for the list: a speaker sends every peer the same, so no key text per send. */
  localAs: number;
  holdTime: number;
  routerId: number;
  bytes: Uint8Array;
  /** The others, by `${localAs}|${holdTime}|${routerId}`. */
  byKey: Map<string, Uint8Array> | undefined;
}
function openBytes(caps: Capability[], localAs: number, holdTime: number, routerId: number): Uint8Array {
  const c = openCache.get(caps);
  if (c !== undefined && c.localAs === localAs && c.holdTime === holdTime && c.routerId === routerId) return c.bytes;
  const k = `${localAs}|${holdTime}|${routerId}`;
  let b = c?.byKey?.get(k);
  if (b === undefined) {
    const four = findCapability(caps, "four-octet-as");
    const open: OpenMessage = {
      type: MessageType.OPEN,
      version: BGP_VERSION,
      myAs: localAs > 0xffff ? AS_TRANS : localAs,
      holdTime,
      bgpId: routerId,
      capabilities: four || localAs <= 0xffff ? caps : [...caps, { kind: "four-octet-as", asn: localAs }],
    };
    b = encodeMessage(open);
  }
  if (c === undefined) {
    openCache.set(caps, { localAs, holdTime, routerId, bytes: b, byKey: undefined });
    return b;
  }
  // The one it replaces as the last stays findable by key.
  const m = (c.byKey ??= new Map());
  if (m.size >= 64) m.clear();
  m.set(`${c.localAs}|${c.holdTime}|${c.routerId}`, c.bytes);
  c.localAs = localAs;
  c.holdTime = holdTime;
  c.routerId = routerId;
  c.bytes = b;
  return b;
}

const startFired = (s: Session): void => s.startTimerFired();
const connectRetryFired = (a: Attempt): void => a.session.connectRetryExpired(a);
const visitMessage = (a: Attempt, data: Uint8Array, offset: number, length: number): boolean => a.session.messageAt(a, data, offset, length);

/**
 * Decoded small OPENs, UPDATEs and KEEPALIVEs by their octets: a speaker sends the same OPEN to all
 * its peers and, in a mesh, the same UPDATE, so each distinct message is decoded once for every
 * receiver (treat the result as read-only). Anything else, or a message the decoder rejects, is
 * decoded each time. Found by a hash of the octets, then compared octet by octet: no key is built.
 */
interface SharedDecode {
  octets: Uint8Array;
  fourOctetAs: boolean;
  message: Message;
  next: SharedDecode | undefined;
}
const decodedMessages = new Map<number, SharedDecode>();
let decodedCount = 0;
const SHARED_DECODE_MAX_OCTETS = 160;
const SHARED_DECODE_MAX = 4096;
function decodeShared(data: Uint8Array, offset: number, length: number, fourOctetAs: boolean): Message {
  const type = data[offset + 18];
  if ((type !== MessageType.OPEN && type !== MessageType.UPDATE && type !== MessageType.KEEPALIVE) || length > SHARED_DECODE_MAX_OCTETS) {
    return decodeMessage(data.subarray(offset, offset + length), { fourOctetAs });
  }
  // A chunk that is exactly one message, seen before: in the simulator every receiver gets the
  // sender's own (cached, never modified) message arrays. Received octets are read-only here too.
  const whole = offset === 0 && length === data.length;
  if (whole) {
    const seen = (fourOctetAs ? decodedByArray4 : decodedByArray2).get(data);
    if (seen !== undefined) return seen;
  }
  const message = decodeByOctets(data, offset, length, fourOctetAs);
  if (whole) (fourOctetAs ? decodedByArray4 : decodedByArray2).set(data, message);
  return message;
}

/** decodeShared's answers by the array object, per 4-octet AS option. */
const decodedByArray4 = new WeakMap<Uint8Array, Message>();
const decodedByArray2 = new WeakMap<Uint8Array, Message>();

function decodeByOctets(data: Uint8Array, offset: number, length: number, fourOctetAs: boolean): Message {
  // FNV-1a over the octets after the marker.
  let h = 0x811c9dc5;
  for (let i = offset + 16, end = offset + length; i < end; i++) h = Math.imul(h ^ (data[i] as number), 0x01000193);
  const first = decodedMessages.get(h);
  for (let d = first; d !== undefined; d = d.next) {
    if (d.fourOctetAs === fourOctetAs && sameOctets(d.octets, data, offset, length)) return d.message;
  }
  const octets = data.slice(offset, offset + length);
  const message = decodeMessage(octets, { fourOctetAs });
  if (decodedCount >= SHARED_DECODE_MAX) {
    decodedMessages.clear();
    decodedCount = 0;
  }
  decodedMessages.set(h, { octets, fourOctetAs, message, next: decodedCount === 0 ? undefined : first });
  decodedCount++;
  return message;
}

function sameOctets(a: Uint8Array, data: Uint8Array, offset: number, length: number): boolean {
  if (a.length !== length) return false;
  for (let i = 16; i < length; i++) if (a[i] !== data[offset + i]) return false;
  return true;
}
const holdFired = (a: Attempt): void => a.session.onHoldTimer(a);
const keepaliveFired = (a: Attempt): void => a.session.onKeepaliveTimer(a);
/** The one KEEPALIVE (19 octets, read-only), shared by every session instead of encoded per send. */
let keepalive: Uint8Array | undefined;
const keepaliveBytes = (): Uint8Array => (keepalive ??= encodeMessage({ type: MessageType.KEEPALIVE }));
const NO_ATTEMPTS: readonly Attempt[] = Object.freeze([]);

/**
 * Families both capability lists announce. Each list's families are memoised by the list object
 * (speaker lists and decoded OPENs are shared), the intersection by the two interned family lists.
 */
const familiesOfList = new WeakMap<Capability[], readonly AddressFamily[]>();
const commonFamilies = new WeakMap<readonly AddressFamily[], WeakMap<readonly AddressFamily[], readonly AddressFamily[]>>();
const IPV4_ONLY = [{ afi: Afi.IPV4, safi: Safi.UNICAST }];
function familiesOf(caps: Capability[]): readonly AddressFamily[] {
  let f = familiesOfList.get(caps);
  if (f === undefined) {
    const mp = multiprotocolFamilies(caps);
    f = internFamilies(mp.length ? mp : IPV4_ONLY);
    familiesOfList.set(caps, f);
  }
  return f;
}
function negotiatedFamilies(local: Capability[], peer: Capability[]): readonly AddressFamily[] {
  const l = familiesOf(local);
  const p = familiesOf(peer);
  let m = commonFamilies.get(l);
  let both = m?.get(p);
  if (both === undefined) {
    both = internFamilies(l.filter((f) => p.some((g) => g.afi === f.afi && g.safi === f.safi)));
    if (m === undefined) commonFamilies.set(l, (m = new WeakMap()));
    m.set(p, both);
  }
  return both;
}

/** One array per distinct family list, shared by every session that negotiated it (a mesh has thousands). */
const familyLists = new Map<string, readonly AddressFamily[]>();
function internFamilies(fs: readonly AddressFamily[]): readonly AddressFamily[] {
  const k = fs.map((f) => `${f.afi}/${f.safi}`).join(",");
  let v = familyLists.get(k);
  if (!v) {
    v = Object.freeze(fs.map((f) => Object.freeze({ afi: f.afi, safi: f.safi })));
    familyLists.set(k, v);
  }
  return v;
}

type GrCapability = Extract<Capability, { kind: "graceful-restart" }>;

/**
 * What the two OPENs settled on apart from the peer's identifier and the connection: the same for
 * most sessions of a speaker (all of a mesh node's), so shared (see openTerms). Read-only.
 */
class OpenTerms {
  constructor(
    readonly peerOpenAs: number,
    readonly peerAs: number,
    readonly holdTime: number,
    readonly keepaliveTime: number,
    readonly fourOctetAs: boolean,
    readonly families: readonly AddressFamily[],
    readonly routeRefresh: boolean,
    readonly peerGracefulRestart: GrCapability | undefined,
    readonly localGracefulRestart: GrCapability | undefined,
  ) {}
}

/**
 * OpenTerms by the local capability list (one per speaker and kind of peer), then by value: the
 * families and the peer's GR capability are interned, so identity compares them.
 */
const termsByLocalList = new WeakMap<Capability[], OpenTerms[]>();
const TERMS_PER_LIST = 8;
function openTerms(
  local: Capability[],
  peerOpenAs: number,
  peerAs: number,
  holdTime: number,
  fourOctetAs: boolean,
  families: readonly AddressFamily[],
  routeRefresh: boolean,
  peerGr: GrCapability | undefined,
  localGr: GrCapability | undefined,
): OpenTerms {
  let list = termsByLocalList.get(local);
  if (list !== undefined) {
    for (let i = 0; i < list.length; i++) {
      const t = list[i]!;
      if (
        t.peerOpenAs === peerOpenAs &&
        t.peerAs === peerAs &&
        t.holdTime === holdTime &&
        t.fourOctetAs === fourOctetAs &&
        t.families === families &&
        t.routeRefresh === routeRefresh &&
        t.peerGracefulRestart === peerGr &&
        t.localGracefulRestart === localGr
      ) {
        return t;
      }
    }
  }
  const t = new OpenTerms(peerOpenAs, peerAs, holdTime, Math.floor(holdTime / 3), fourOctetAs, families, routeRefresh, peerGr, localGr);
  if (list === undefined) termsByLocalList.set(local, (list = []));
  if (list.length >= TERMS_PER_LIST) list.shift();
  list.push(t);
  return t;
}
/** One object per distinct graceful-restart capability, shared by the sessions that got it (frozen). */
const grCaps = new Map<string, GrCapability>();
/** internGr's answers by the capability object (a decoded OPEN is shared by its receivers). */
const grByObject = new WeakMap<GrCapability, GrCapability>();
function internGr(c: GrCapability | undefined): GrCapability | undefined {
  if (c === undefined) return undefined;
  const seen = grByObject.get(c);
  if (seen !== undefined) return seen;
  const v = internGrByValue(c);
  grByObject.set(c, v);
  return v;
}

function internGrByValue(c: GrCapability): GrCapability {
  let k = `${c.restarting ? 1 : 0}${c.notification ? 1 : 0}${c.restartTime}`;
  for (const f of c.families) k += `|${f.afi}/${f.safi}/${f.forwarding ? 1 : 0}`;
  let v = grCaps.get(k);
  if (v === undefined) {
    v = Object.freeze({ ...c, families: Object.freeze(c.families.map((f) => Object.freeze({ ...f }))) as GrCapability["families"] });
    if (grCaps.size >= 1024) grCaps.clear();
    grCaps.set(k, v);
  }
  return v;
}

/**
 * The attempts' times (ms on the Clock; fractional in the simulator), TIMES per attempt in one
 * process-wide array: as fields V8 would box each in a heap number of its own (a 1,000-node mesh has
 * a million attempts). An attempt takes its slot when made and gives it back when dropped; nothing
 * reads or writes a dropped attempt's times (NO_SLOT makes any stray access a no-op).
 */
const HOLD_FIRES_AT = 0;
const HOLD_DEADLINE = 1;
const LAST_SENT = 2;
const ESTABLISHED_AT = 3;
const TIMES = 4;
const NO_SLOT = -2 * TIMES;
let times = new Float64Array(TIMES * 256);
let slotsMade = 0;
const freeSlots: number[] = [];

function takeSlot(): number {
  let i = freeSlots.pop();
  if (i === undefined) {
    i = TIMES * slotsMade++;
    if (i + TIMES > times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
  }
  const t = times;
  t[i] = 0;
  t[i + 1] = 0;
  t[i + 2] = 0;
  t[i + 3] = 0;
  return i;
}

function giveBackSlot(a: Attempt): void {
  if (a.slot === NO_SLOT) return;
  freeSlots.push(a.slot);
  a.slot = NO_SLOT;
}

const u32 = (v: number): Uint8Array => Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);

/**
 * RFC 4724 §4.2 / RFC 8538 §3: keep the peer's routes when the session ended without a NOTIFICATION
 * (TCP failure), or, when both sides set the N bit, with one other than Hard Reset received from it.
 * A NOTIFICATION we sent ourselves (hold expiry, errors, shutdown) ends the session for real.
 */
function gracefulEnd(n: Negotiated | undefined, sent: { code: number; subcode: number } | undefined, received: { code: number; subcode: number } | undefined): boolean {
  const peer = n?.peerGracefulRestart;
  if (!peer || !n?.localGracefulRestart) return false;
  if (!sent && !received) return true;
  if (sent) return false;
  const hardReset = received?.code === ErrorCode.CEASE && received.subcode === CeaseSubcode.HARD_RESET;
  return !!(peer.notification && n.localGracefulRestart.notification && !hardReset);
}

/**
 * The mesh's passive rule, as issue 3 states it: in each pair of Calico nodes the side with the
 * higher address waits and the lower one connects, so only one TCP connection is ever opened and
 * collisions (and the graceful-restart race they cause) cannot happen. Like Calico it compares the
 * address text (Go string order), not the number: "10.0.0.10" < "10.0.0.9". confd's template words
 * it the other way round (`passive on` when the peer's text sorts after the node's); see docs/bgp.md.
 */
export function calicoPassive(localAddress: string, peerAddress: string): boolean {
  return localAddress > peerAddress;
}

/** FNV-1a (32 bit) of `h` continued over the UTF-16 code units of `text`. */
function fnvText(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** FNV-1a continued over the decimal digits of a non-negative integer (as String(n) would write them). */
function fnvDecimal(h: number, n: number): number {
  let p = 1;
  while (p * 10 <= n) p *= 10;
  for (; p >= 1; p /= 10) {
    h ^= 48 + (Math.floor(n / p) % 10);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
